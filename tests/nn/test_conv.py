"""Conv2d: nested-loop oracles of the forward pass and of the backward pass (dx, dW, db),
float64 gradcheck over drawn geometries, chunked and rebuilt-column paths, PyTorch's
initialisation and state dict, and the error messages."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser import Tensor, gradcheck, no_grad
from minitorch_ser.nn import conv as conv_module
from minitorch_ser.nn.conv import Conv2d, Conv2dFunction, conv2d, conv_padding


# ============================================================================ oracle
def conv2d_loops(x, w, b, stride, pads):
    """The definition, one multiply-add at a time: six nested loops (plus batch and filter)."""
    (pt, pb), (pl, pr) = pads
    sh, sw = stride
    n_batch, c_in, h, width = x.shape
    c_out, _, kh, kw = w.shape
    xp = np.zeros((n_batch, c_in, h + pt + pb, width + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + width] = x
    ho = (xp.shape[2] - kh) // sh + 1
    wo = (xp.shape[3] - kw) // sw + 1
    out = np.zeros((n_batch, c_out, ho, wo))
    for n in range(n_batch):
        for o in range(c_out):
            for r in range(ho):
                for s in range(wo):
                    acc = 0.0 if b is None else b[o]
                    for c in range(c_in):
                        for i in range(kh):
                            for j in range(kw):
                                acc += w[o, c, i, j] * xp[n, c, r * sh + i, s * sw + j]
                    out[n, o, r, s] = acc
    return out


def conv2d_backward_loops(x, w, b, stride, pads, g):
    """dL/dx, dL/dw, dL/db from the definition, one product term at a time: the term
    ``w[o, c, i, j] * xp[n, c, r*sh + i, s*sw + j]`` of ``out[n, o, r, s]`` sends
    ``g[n, o, r, s] * xp[...]`` to ``dw[o, c, i, j]`` and ``g[n, o, r, s] * w[o, c, i, j]`` to
    ``dxp[n, c, r*sh + i, s*sw + j]``; ``b[o]`` receives ``g[n, o, r, s]``. Padding is cropped
    off ``dxp`` at the end (padded zeros are constants)."""
    (pt, pb), (pl, pr) = pads
    sh, sw = stride
    n_batch, c_in, h, width = x.shape
    c_out, _, kh, kw = w.shape
    xp = np.zeros((n_batch, c_in, h + pt + pb, width + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + width] = x
    _, _, ho, wo = g.shape
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(c_out)
    for n in range(n_batch):
        for o in range(c_out):
            for r in range(ho):
                for s in range(wo):
                    db[o] += g[n, o, r, s]
                    for c in range(c_in):
                        for i in range(kh):
                            for j in range(kw):
                                dw[o, c, i, j] += g[n, o, r, s] * xp[n, c, r * sh + i, s * sw + j]
                                dxp[n, c, r * sh + i, s * sw + j] += g[n, o, r, s] * w[o, c, i, j]
    dx = dxp[:, :, pt:pt + h, pl:pl + width]
    return dx, dw, (None if b is None else db)


@st.composite
def conv_cases(draw, max_side=7):
    """(x, w, b, stride, padding) with the kernel fitting in the padded input."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kind = draw(st.sampled_from(["int", "pair", "same", "valid"]))
    if kind == "same":
        stride = (1, 1)
        padding = "same"
    elif kind == "valid":
        padding = "valid"
    elif kind == "int":
        padding = draw(st.integers(0, 2))
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    pads = conv_padding(padding, (kh, kw), stride)
    h = draw(st.integers(max(1, kh - sum(pads[0])), max_side))
    w_in = draw(st.integers(max(1, kw - sum(pads[1])), max_side))
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w_in))
    w = rng.standard_normal((o, c, kh, kw))
    b = rng.standard_normal(o) if draw(st.booleans()) else None
    return x, w, b, stride, padding


def _conv(stride, padding, with_bias):
    if with_bias:
        return lambda x, w, b: conv2d(x, w, b, stride=stride, padding=padding)
    return lambda x, w: conv2d(x, w, None, stride=stride, padding=padding)


# ============================================================================ values
@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_forward_matches_nested_loops(case):
    x, w, b, stride, padding = case
    got = conv2d(Tensor(x), Tensor(w), None if b is None else Tensor(b), stride=stride,
                 padding=padding).data
    want = conv2d_loops(x, w, b, stride, conv_padding(padding, w.shape[2:], stride))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel, pads", [((3, 3), ((1, 1), (1, 1))), ((5, 3), ((2, 2), (1, 1))),
                                          ((4, 2), ((1, 2), (0, 1))), ((1, 1), ((0, 0), (0, 0)))])
def test_same_padding_keeps_size_and_puts_extra_at_the_end(kernel, pads):
    assert conv_padding("same", kernel, (1, 1)) == pads
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2) + kernel)
    out = conv2d(Tensor(x), Tensor(w), padding="same").data
    assert out.shape == (2, 3, 6, 5)
    np.testing.assert_allclose(out, conv2d_loops(x, w, None, (1, 1), pads), atol=1e-12)


def test_float32_stays_float32_in_both_passes():
    rng = np.random.default_rng(1)
    layer = Conv2d(2, 4, (5, 3), padding="same", rng=rng)
    x = Tensor(rng.standard_normal((3, 2, 9, 7)).astype(np.float32), requires_grad=True)
    y = layer(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32
    want = conv2d_loops(x.data.astype(np.float64), layer.weight.data.astype(np.float64),
                        layer.bias.data.astype(np.float64), (1, 1), ((2, 2), (1, 1)))
    np.testing.assert_allclose(y.data, want, rtol=1e-4, atol=1e-5)


# ============================================================================ gradients
@settings(max_examples=30, deadline=None)
@given(conv_cases(max_side=6))
def test_gradcheck_every_element(case):
    x, w, b, stride, padding = case
    inputs = [x, w] if b is None else [x, w, b]
    gradcheck(_conv(stride, padding, b is not None), inputs, name=f"conv2d {stride} {padding}")


@pytest.mark.parametrize("chunk_columns, saved_bytes", [(1, 256 * 2**20), (1, 0), (40, 0),
                                                        (40, 256 * 2**20), (10**6, 0)])
@pytest.mark.parametrize("stride, padding, kernel", [((1, 1), "same", (5, 3)),
                                                     ((2, 1), (1, 0), (3, 2))])
def test_chunked_and_rebuilt_columns(monkeypatch, chunk_columns, saved_bytes, stride, padding,
                                     kernel):
    """Batch chunks of 1 sample, of 2 or 4 samples (L = 30 or 12; a partial last chunk), all
    5 at once, with the columns kept for backward or rebuilt there: gradcheck, and the same
    values as the default."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 2, 6, 5))
    w = rng.standard_normal((3, 2) + kernel)
    b = rng.standard_normal(3)
    fn = _conv(stride, padding, True)
    reference = _values_and_grads(fn, x, w, b)
    monkeypatch.setattr(conv_module, "CHUNK_COLUMNS", chunk_columns)
    monkeypatch.setattr(conv_module, "SAVED_COLUMNS_BYTES", saved_bytes)
    for got, want in zip(_values_and_grads(fn, x, w, b), reference):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    gradcheck(fn, [x, w, b], name="conv2d chunked")


def _check_backward_against_loops(case):
    x, w, b, stride, padding = case
    inputs = [Tensor(a, requires_grad=True) for a in ([x, w] if b is None else [x, w, b])]
    out = conv2d(*inputs, stride=stride, padding=padding)
    g = np.random.default_rng(out.size).standard_normal(out.shape)
    out.backward(g)
    want = conv2d_backward_loops(x, w, b, stride, conv_padding(padding, w.shape[2:], stride), g)
    for t, expected, name in zip(inputs, want, ("dx", "dw", "db")):
        assert t.grad.shape == expected.shape
        np.testing.assert_allclose(t.grad, expected, rtol=1e-10, atol=1e-12, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(conv_cases(max_side=6))
def test_backward_matches_nested_loops(case):
    """dx, dW and db of the im2col / col2im backward against the loops of the definition,
    for a random upstream gradient, over drawn geometries (strides 1-3, all paddings)."""
    _check_backward_against_loops(case)


@pytest.mark.parametrize("chunk_columns, saved_bytes", [(1, 256 * 2**20), (1, 0), (40, 0),
                                                        (10**6, 0)])
@pytest.mark.parametrize("stride, padding, kernel", [((1, 1), "same", (5, 3)),
                                                     ((2, 3), (2, 1), (3, 2))])
def test_backward_matches_nested_loops_on_every_chunking_path(monkeypatch, chunk_columns,
                                                              saved_bytes, stride, padding,
                                                              kernel):
    """Batch chunks of one / several / all samples, columns kept or rebuilt in backward."""
    monkeypatch.setattr(conv_module, "CHUNK_COLUMNS", chunk_columns)
    monkeypatch.setattr(conv_module, "SAVED_COLUMNS_BYTES", saved_bytes)
    rng = np.random.default_rng(8)
    x, w, b = (rng.standard_normal((5, 2, 7, 6)), rng.standard_normal((3, 2) + kernel),
               rng.standard_normal(3))
    _check_backward_against_loops((x, w, b, stride, padding))


def _values_and_grads(fn, *arrays):
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    cotangent = np.random.default_rng(3).standard_normal(out.shape)
    out.backward(cotangent)
    return [out.data] + [t.grad for t in tensors]


def test_partial_requires_grad_gives_the_same_gradients():
    """A frozen input (first layer) or frozen weight skips that gradient, not the others."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    g = rng.standard_normal((2, 4, 5, 6))
    full = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    conv2d(*full, padding=1).backward(g)
    xs, ws, bs = Tensor(x), Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)
    conv2d(xs, ws, bs, padding=1).backward(g)
    assert xs.grad is None
    np.testing.assert_allclose(ws.grad, full[1].grad, atol=1e-12)
    np.testing.assert_allclose(bs.grad, full[2].grad, atol=1e-12)
    xs, ws = Tensor(x, requires_grad=True), Tensor(w)
    conv2d(xs, ws, Tensor(b), padding=1).backward(g)
    assert ws.grad is None
    np.testing.assert_allclose(xs.grad, full[0].grad, atol=1e-12)


def test_no_grad_saves_nothing():
    rng = np.random.default_rng(5)
    layer = Conv2d(1, 2, 3, rng=rng)
    with no_grad():
        y = layer(Tensor(rng.standard_normal((1, 1, 4, 4)).astype(np.float32)))
    assert y.grad_fn is None and not y.requires_grad


# ============================================================================ the module
def test_init_is_pytorch_default():
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias too."""
    layer = Conv2d(16, 64, (5, 3), rng=np.random.default_rng(6))
    bound = 1 / math.sqrt(16 * 5 * 3)
    w, b = layer.weight.data, layer.bias.data
    assert w.shape == (64, 16, 5, 3) and b.shape == (64,)
    assert w.dtype == b.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # 15360 uniform draws: the extremes reach the bound and the variance is bound^2 / 3
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.var() - bound**2 / 3) < 0.05 * bound**2 / 3
    same = Conv2d(16, 64, (5, 3), rng=np.random.default_rng(6))
    np.testing.assert_array_equal(same.weight.data, w)


def test_state_dict_matches_pytorch_layout():
    layer = Conv2d(3, 8, (5, 3), padding="same")
    sd = layer.state_dict()
    assert list(sd) == ["weight", "bias"]
    assert sd["weight"].shape == (8, 3, 5, 3) and sd["bias"].shape == (8,)
    rng = np.random.default_rng(7)
    torch_like = {"weight": rng.standard_normal((8, 3, 5, 3)).astype(np.float32),
                  "bias": rng.standard_normal(8).astype(np.float32)}
    layer.load_state_dict(torch_like, strict=True)
    np.testing.assert_array_equal(layer.weight.data, torch_like["weight"])
    np.testing.assert_array_equal(layer.bias.data, torch_like["bias"])
    no_bias = Conv2d(3, 8, 3, bias=False)
    assert list(no_bias.state_dict()) == ["weight"]
    with pytest.raises(ValueError, match="unexpected keys: bias"):
        no_bias.load_state_dict(torch_like, strict=True)


def test_output_shape_and_repr():
    layer = Conv2d(1, 16, 3, stride=(2, 1), padding=1)
    assert layer.output_shape((32, 1, 128, 188)) == (32, 16, 64, 188)
    y = layer(Tensor(np.zeros((2, 1, 128, 188), np.float32)))
    assert y.shape == (2, 16, 64, 188)
    assert repr(layer) == "Conv2d(1, 16, kernel_size=(3, 3), stride=(2, 1), padding=(1, 1))"


# ============================================================================ bad input
@pytest.mark.parametrize("shape, match", [
    ((2, 3, 8), r"Conv2d: expected input of shape \(N, C, H, W\).*got shape \(2, 3, 8\)"),
    ((2, 4, 8, 8), r"Conv2d: expected input of shape \(N, 3, H, W\), got shape \(2, 4, 8, 8\)"),
    ((2, 3, 2, 8), r"Conv2d: kernel_size=\(5, 3\) is larger than the padded input"),
])
def test_bad_input_raises_naming_layer_and_shapes(shape, match):
    layer = Conv2d(3, 4, (5, 3), padding=(1, 0))
    with pytest.raises(ValueError, match=match):
        layer(Tensor(np.zeros(shape, np.float32)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(kernel_size=0), "kernel_size=0 must be >= 1"),
    (dict(kernel_size=(3, 3, 3)), "kernel_size=.* must be an int or a pair"),
    (dict(kernel_size=3, stride=0), "stride=0 must be >= 1"),
    (dict(kernel_size=3, padding=-1), "padding=-1 must be >= 0"),
    (dict(kernel_size=3, padding="full"), "padding='full' must be"),
    (dict(kernel_size=3, stride=2, padding="same"), "padding='same' needs stride=1"),
    (dict(kernel_size=2.5), "kernel_size=2.5 must be an int"),
])
def test_bad_arguments_raise_naming_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2d(2, 3, **kwargs)


def test_bad_channel_counts_and_functional_shapes():
    with pytest.raises(ValueError, match="in_channels=0 must be an int >= 1"):
        Conv2d(0, 3, 3)
    x, w = Tensor(np.zeros((1, 2, 5, 5))), Tensor(np.zeros((3, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: expected bias of shape \(3,\)"):
        conv2d(x, w, Tensor(np.zeros(4)))
    with pytest.raises(ValueError, match=r"conv2d: expected input of shape \(N, 2, H, W\)"):
        conv2d(Tensor(np.zeros((1, 3, 5, 5))), w)
    assert Conv2dFunction.apply(x, w, stride=(1, 1), padding=((0, 0), (0, 0))).shape == (1, 3, 3, 3)
