"""Pooling: Python max / mean per window as the oracle of the forward and the backward pass,
float64 gradcheck over drawn windows, where max-pool sends its gradient (ties,
non-overlapping windows), adaptive and global average pooling (bin loops for both passes),
and the error messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser import Tensor, gradcheck, no_grad
from minitorch_ser.nn import pool as pool_module
from minitorch_ser.nn.pool import (AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool1d, MaxPool2d,
                                   adaptive_avg_pool2d, adaptive_pool_matrix, avg_pool2d,
                                   global_avg_pool, max_pool2d)


# ============================================================================ oracles
def pool_loops(x, kernel, stride, padding, reduce, fill):
    """Python ``reduce`` (max, or mean) over every window, one window at a time."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n_batch, channels, h, w = x.shape
    xp = np.full((n_batch, channels, h + 2 * ph, w + 2 * pw), fill)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.empty((n_batch, channels, ho, wo))
    for n in range(n_batch):
        for c in range(channels):
            for r in range(ho):
                for s in range(wo):
                    window = [xp[n, c, r * sh + i, s * sw + j] for i in range(kh) for j in range(kw)]
                    out[n, c, r, s] = reduce(window)
    return out


def mean(values):
    return sum(values) / len(values)


def pool_backward_loops(x, kernel, stride, padding, g, kind):
    """dL/dx of max or average pooling, one window at a time: max sends g[n, c, r, s] to the
    window's first maximum (row-major, as PyTorch), average spreads g / (kh kw) over the
    window's kh kw positions (padded zeros included in the count, then cropped off)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n_batch, channels, h, w = x.shape
    xp = np.full((n_batch, channels, h + 2 * ph, w + 2 * pw), -np.inf)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    dxp = np.zeros_like(xp)
    for n in range(n_batch):
        for c in range(channels):
            for r in range(g.shape[2]):
                for s in range(g.shape[3]):
                    window = [(r * sh + i, s * sw + j) for i in range(kh) for j in range(kw)]
                    if kind == "max":
                        best = max(window, key=lambda ij: xp[n, c, ij[0], ij[1]])  # first max
                        dxp[n, c, best[0], best[1]] += g[n, c, r, s]
                    else:
                        for a, b in window:
                            dxp[n, c, a, b] += g[n, c, r, s] / (kh * kw)
    return dxp[:, :, ph:ph + h, pw:pw + w]


@st.composite
def pool_cases(draw, max_side=9):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), max_side))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), max_side))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(shape)
    return x, kernel, stride, padding


def _pairs(kernel, stride):
    return kernel, kernel if stride is None else stride


# ============================================================================ values
@settings(max_examples=40, deadline=None)
@given(pool_cases())
def test_max_pool_matches_python_max_per_window(case):
    x, kernel, stride, padding = case
    got = max_pool2d(Tensor(x), kernel, stride, padding).data
    want = pool_loops(x, *_pairs(kernel, stride), padding, max, -np.inf)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(pool_cases())
def test_avg_pool_matches_python_mean_per_window(case):
    x, kernel, stride, padding = case
    got = avg_pool2d(Tensor(x), kernel, stride, padding).data
    want = pool_loops(x, *_pairs(kernel, stride), padding, mean, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kernel, out_hw", [((2, 4), (64, 47)), ((1, 2), (128, 94)),
                                            ((4, 4), (32, 47)), ((2, 2), (64, 94))])
def test_rectangular_floor_mode_shapes_in_float32(kernel, out_hw):
    x = np.random.default_rng(0).standard_normal((2, 3, 128, 188)).astype(np.float32)
    y = MaxPool2d(kernel)(Tensor(x))
    assert y.shape == (2, 3) + out_hw and y.dtype == np.float32
    kh, kw = kernel
    ho, wo = out_hw
    blocks = x[:, :, :ho * kh, :wo * kw].reshape(2, 3, ho, kh, wo, kw)
    np.testing.assert_array_equal(y.data, blocks.max(axis=(3, 5)))
    z = AvgPool2d(kernel)(Tensor(x))
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.data, blocks.mean(axis=(3, 5)), rtol=1e-5, atol=1e-6)


def test_max_pool_propagates_nan():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    x[0, 0, 1, 2] = np.nan
    y = max_pool2d(Tensor(x), 2).data
    assert np.isnan(y[0, 0, 0, 1]) and np.isfinite(y).sum() == 3


# ============================================================================ gradients
@settings(max_examples=30, deadline=None)
@given(pool_cases(max_side=7))
def test_gradcheck_max_and_avg_pool(case):
    x, kernel, stride, padding = case
    gradcheck(lambda t: max_pool2d(t, kernel, stride, padding), [x], name="max_pool2d")
    gradcheck(lambda t: avg_pool2d(t, kernel, stride, padding), [x], name="avg_pool2d")


@settings(max_examples=40, deadline=None)
@given(pool_cases(max_side=7))
def test_max_and_avg_pool_backward_match_loops_over_windows(case):
    """dx of both pools against the per-window loops, for a random upstream gradient."""
    x, kernel, stride, padding = case
    for kind, fn in (("max", max_pool2d), ("avg", avg_pool2d)):
        t = Tensor(x, requires_grad=True)
        y = fn(t, kernel, stride, padding)
        g = np.random.default_rng(y.size).standard_normal(y.shape)
        y.backward(g)
        want = pool_backward_loops(x, *_pairs(kernel, stride), padding, g, kind)
        np.testing.assert_allclose(t.grad, want, rtol=1e-10, atol=1e-12, err_msg=kind)


@pytest.mark.parametrize("kernel, stride", [((2, 2), None), ((2, 4), None), ((1, 2), None),
                                            ((3, 3), (2, 2)), ((3, 2), (1, 1))])
def test_max_pool_routes_each_gradient_to_the_first_maximum(kernel, stride):
    """Ties (an all-zero map, as after a ReLU) send each window's gradient to its first
    element in row-major order, as PyTorch; overlapping windows accumulate."""
    x = Tensor(np.zeros((1, 2, 6, 8)), requires_grad=True)
    y = max_pool2d(x, kernel, stride)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(g)
    (kh, kw), (sh, sw) = _pairs(kernel, stride)
    want = np.zeros(x.shape)
    for r in range(y.shape[2]):
        for s in range(y.shape[3]):
            want[:, :, r * sh, s * sw] += g[:, :, r, s]
    np.testing.assert_allclose(x.grad, want, atol=1e-15)


def test_max_pool_backward_puts_one_gradient_per_window():
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 12))
    t = Tensor(x, requires_grad=True)
    y = MaxPool2d((2, 4))(t)
    y.backward(np.ones(y.shape))
    blocks = t.grad.reshape(2, 3, 4, 2, 3, 4)
    assert np.array_equal((blocks != 0).sum(axis=(3, 5)), np.ones((2, 3, 4, 3)))
    winners = x.reshape(2, 3, 4, 2, 3, 4) == y.data[:, :, :, None, :, None]
    np.testing.assert_array_equal(blocks != 0, winners)


@settings(max_examples=60, deadline=None)
@given(kh=st.integers(1, 4), kw=st.integers(1, 4), extra_h=st.integers(0, 3),
       extra_w=st.integers(0, 3), ties=st.booleans(), nan=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_tiled_max_pool_path_equals_the_per_offset_path(kh, kw, extra_h, extra_w, ties, nan, seed):
    """The de-interleaving fast path and the per-offset path give the same maxima and the
    same winner codes in every element: float32, leftover rows/columns, ties (a ReLU'd map
    rounded to a few levels), NaN."""
    rng = np.random.default_rng(seed)
    ho, wo = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    x = rng.standard_normal((2, 3, ho * kh + extra_h, wo * kw + extra_w)).astype(np.float32)
    if ties:
        x = np.maximum(np.round(x), 0)
    if nan:
        x.flat[rng.integers(x.size)] = np.nan
    fast = pool_module._max_pool_tiled(x, (kh, kw), ho, wo, True)
    slow = pool_module._max_pool_offsets(x, (kh, kw), (kh, kw), (0, 0), ho, wo, True)
    np.testing.assert_array_equal(fast[0], slow[0])
    assert fast[1].dtype == slow[1].dtype
    np.testing.assert_array_equal(fast[1], slow[1])


def test_eval_max_pool_keeps_no_argmax():
    with no_grad():
        y = max_pool2d(Tensor(np.random.default_rng(3).standard_normal((1, 1, 4, 4))), 2)
    assert y.grad_fn is None


# ============================================================================ adaptive / global
def adaptive_loops(x, out_h, out_w):
    """PyTorch's bins: [floor(i H / Ho), ceil((i + 1) H / Ho)), averaged with Python sums."""
    n_batch, channels, h, w = x.shape
    out = np.empty((n_batch, channels, out_h, out_w))
    for i in range(out_h):
        r0, r1 = (i * h) // out_h, -(-((i + 1) * h) // out_h)
        for j in range(out_w):
            c0, c1 = (j * w) // out_w, -(-((j + 1) * w) // out_w)
            for n in range(n_batch):
                for c in range(channels):
                    out[n, c, i, j] = mean([x[n, c, a, b] for a in range(r0, r1) for b in range(c0, c1)])
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 5), st.integers(1, 5),
       st.integers(0, 2**32 - 1))
def test_adaptive_avg_pool_matches_bins_and_gradchecks(h, w, out_h, out_w, seed):
    x = np.random.default_rng(seed).standard_normal((2, 2, h, w))
    got = adaptive_avg_pool2d(Tensor(x), (out_h, out_w)).data
    np.testing.assert_allclose(got, adaptive_loops(x, out_h, out_w), rtol=1e-12, atol=1e-14)
    gradcheck(lambda t: adaptive_avg_pool2d(t, (out_h, out_w)), [x], name="adaptive_avg_pool2d")


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 5), st.integers(1, 5),
       st.integers(0, 2**32 - 1))
def test_adaptive_avg_pool_backward_matches_loop_over_bins(h, w, out_h, out_w, seed):
    """dx[n, c, a, b] = sum over the bins (i, j) that contain (a, b) of g[n, c, i, j] / |bin|."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((2, 2, h, w)), requires_grad=True)
    y = adaptive_avg_pool2d(x, (out_h, out_w))
    g = rng.standard_normal(y.shape)
    y.backward(g)
    want = np.zeros((2, 2, h, w))
    for i in range(out_h):
        r0, r1 = (i * h) // out_h, -(-((i + 1) * h) // out_h)
        for j in range(out_w):
            c0, c1 = (j * w) // out_w, -(-((j + 1) * w) // out_w)
            for a in range(r0, r1):
                for b in range(c0, c1):
                    want[:, :, a, b] += g[:, :, i, j] / ((r1 - r0) * (c1 - c0))
    np.testing.assert_allclose(x.grad, want, rtol=1e-10, atol=1e-12)


def test_global_avg_pool_backward_matches_loop_over_valid_steps():
    """dx[n, t] = g[n] / len_n for t < len_n, and 0 on padded steps."""
    rng = np.random.default_rng(6)
    lengths = np.array([5, 2, 1])
    for axis, shape in ((1, (3, 5, 4)), (-1, (3, 4, 5))):
        for lens in (None, lengths):
            x = Tensor(rng.standard_normal(shape), requires_grad=True)
            y = global_avg_pool(x, axis, lens)
            g = rng.standard_normal(y.shape)
            y.backward(g)
            want = np.zeros(shape)
            for n in range(3):
                steps = 5 if lens is None else lens[n]
                for t in range(steps):
                    if axis == 1:
                        want[n, t] = g[n] / steps
                    else:
                        want[n, :, t] = g[n] / steps
            np.testing.assert_allclose(x.grad, want, rtol=1e-10, atol=1e-12)


def test_adaptive_pool_one_is_the_global_mean_and_none_keeps_size():
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 7)).astype(np.float32)
    y = AdaptiveAvgPool2d(1)(Tensor(x))
    assert y.shape == (2, 3, 1, 1) and y.dtype == np.float32
    np.testing.assert_allclose(y.data[..., 0, 0], x.mean(axis=(2, 3)), rtol=1e-5)
    assert AdaptiveAvgPool2d((None, 2))(Tensor(x)).shape == (2, 3, 5, 2)
    np.testing.assert_array_equal(adaptive_pool_matrix(4, 2), [[.5, .5, 0, 0], [0, 0, .5, .5]])


def test_global_avg_pool_over_valid_steps_only():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 6, 4))
    lengths = np.array([6, 2, 1])
    got = GlobalAvgPool1d()(Tensor(x), lengths=lengths).data
    want = np.stack([x[n, :lengths[n]].mean(axis=0) for n in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(global_avg_pool(Tensor(x)).data, x.mean(axis=1), rtol=1e-12)
    channels_first = np.ascontiguousarray(x.transpose(0, 2, 1))  # (N, C, T)
    np.testing.assert_allclose(global_avg_pool(Tensor(channels_first), -1, lengths).data, want,
                               rtol=1e-12)
    gradcheck(lambda t: global_avg_pool(t, 1, lengths), [x], name="global_avg_pool lengths")
    gradcheck(lambda t: global_avg_pool(t, -1, lengths), [channels_first], name="gap (N,C,T)")
    gradcheck(lambda t: global_avg_pool(t, 1), [x], name="global_avg_pool")


# ============================================================================ bad input
@pytest.mark.parametrize("layer, shape, match", [
    (MaxPool2d(2), (2, 8, 8), r"MaxPool2d: expected input of shape \(N, C, H, W\).*got shape \(2, 8, 8\)"),
    (AvgPool2d(2), (1, 2, 3, 4, 5), r"AvgPool2d: expected input of shape \(N, C, H, W\)"),
    (MaxPool2d((2, 4)), (1, 1, 4, 3), r"MaxPool2d: kernel_size=\(2, 4\) is larger than the padded input"),
    (AvgPool2d(3, padding=1), (1, 1, 1, 0), r"AvgPool2d: kernel_size=\(3, 3\) is larger"),
    (AdaptiveAvgPool2d(2), (4, 4), r"AdaptiveAvgPool2d: expected input of shape \(N, C, H, W\)"),
])
def test_bad_input_raises_naming_layer_and_shapes(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        layer(Tensor(np.zeros(shape)))


@pytest.mark.parametrize("make, match", [
    (lambda: MaxPool2d(0), "MaxPool2d: kernel_size=0 must be >= 1"),
    (lambda: MaxPool2d(2, stride=(1, 0)), r"MaxPool2d: stride=\(1, 0\) must be >= 1"),
    (lambda: AvgPool2d(2, padding=2), r"AvgPool2d: padding=\(2, 2\) must be at most half"),
    (lambda: AvgPool2d((2, 2, 2)), "kernel_size=.* must be an int or a pair"),
    (lambda: AdaptiveAvgPool2d(0), "AdaptiveAvgPool2d: output_size=0 must be"),
    (lambda: GlobalAvgPool1d(axis=0), "GlobalAvgPool1d: axis=0 must be a non-zero int"),
])
def test_bad_arguments_raise_naming_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_global_avg_pool_rejects_empty_sequences_and_bad_lengths():
    with pytest.raises(ValueError, match="sequence of length 0"):
        global_avg_pool(Tensor(np.zeros((2, 0, 3))))
    with pytest.raises(ValueError, match=r"lengths must be 2 integers in \[1, 4\]"):
        global_avg_pool(Tensor(np.zeros((2, 4, 3))), 1, lengths=[4, 0])
    with pytest.raises(ValueError, match=r"lengths must be 2 integers in \[1, 4\]"):
        global_avg_pool(Tensor(np.zeros((2, 4, 3))), 1, lengths=[5, 1])
    with pytest.raises(ValueError, match="axis=0 must name a non-batch axis"):
        global_avg_pool(Tensor(np.zeros((2, 4, 3))), 0)
