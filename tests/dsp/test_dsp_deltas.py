"""delta: ramps, the regression formula, polynomial-fit edges; logmel_deltas stacking."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp

odd_widths = st.integers(1, 7).map(lambda h: 2 * h + 1)


@settings(max_examples=30, deadline=None)
@given(width=odd_widths, slope=st.floats(-10, 10), offset=st.floats(-100, 100), extra=st.integers(0, 40))
def test_delta_of_a_ramp_is_its_slope_everywhere(width, slope, offset, extra):
    n = width + extra
    ramp = offset + slope * np.arange(n, dtype=np.float64)
    data = np.stack([ramp, 2 * ramp])  # (2, n): two rows, two slopes
    np.testing.assert_allclose(dsp.delta(data, width=width), [[slope] * n, [2 * slope] * n], atol=1e-9)
    np.testing.assert_allclose(dsp.delta(data, width=width, order=2), 0.0, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(width=odd_widths, extra=st.integers(0, 30), seed=st.integers(0, 2**31 - 1))
def test_delta_interior_is_the_regression_formula(width, extra, seed):
    n = width + extra
    c = np.random.default_rng(seed).standard_normal((3, n))
    d = dsp.delta(c, width=width)
    N = width // 2
    denominator = 2 * sum(k * k for k in range(1, N + 1))
    for t in range(N, n - N):
        expected = sum(k * (c[:, t + k] - c[:, t - k]) for k in range(1, N + 1)) / denominator
        np.testing.assert_allclose(d[:, t], expected, rtol=1e-10, atol=1e-12)


def polyfit_delta(x, width, order, polyorder):
    """Savitzky-Golay 'interp' oracle, one output at a time with numpy.polyfit."""
    n, half = len(x), width // 2
    out = np.empty(n)
    for t in range(n):
        start = min(max(t - half, 0), n - width)  # centred window, or the first / last one
        pos = np.arange(start, start + width)
        poly = np.poly1d(np.polyfit(pos - t, x[start:start + width], polyorder))
        out[t] = poly.deriv(order)(0.0)
    return out


@settings(max_examples=25, deadline=None)
@given(width=odd_widths, order=st.integers(1, 2), bump=st.integers(0, 2), extra=st.integers(0, 12),
       seed=st.integers(0, 2**31 - 1))
def test_delta_matches_local_polynomial_fit_including_edges(width, order, bump, extra, seed):
    polyorder = min(order + bump, width - 1)
    x = np.random.default_rng(seed).standard_normal(width + extra)
    np.testing.assert_allclose(dsp.delta(x, width=width, order=order, polyorder=polyorder),
                               polyfit_delta(x, width, order, polyorder), rtol=1e-7, atol=1e-8)


def test_delta_delta_of_a_parabola():
    t = np.arange(30, dtype=np.float64)
    np.testing.assert_allclose(dsp.delta(3 * t ** 2 - t, width=5, order=2), 6.0, atol=1e-9)


def test_delta_axis_and_dtype():
    x = np.random.default_rng(0).standard_normal((20, 4)).astype(np.float32)
    d0 = dsp.delta(x, width=5, axis=0)
    assert d0.dtype == np.float32 and d0.shape == (20, 4)
    np.testing.assert_allclose(d0, dsp.delta(x.T, width=5).T, rtol=1e-6)


@pytest.mark.parametrize("mode,pad", [("nearest", "edge"), ("mirror", "reflect"), ("wrap", "wrap"),
                                      ("constant", "constant")])
def test_padding_modes(mode, pad):
    x = np.random.default_rng(1).standard_normal(12)
    width, half = 5, 2
    xp = np.pad(x, half, mode=pad)
    interior = dsp.delta(xp, width=width)[half:-half]  # interior outputs of the padded signal
    np.testing.assert_allclose(dsp.delta(x, width=width, mode=mode), interior, atol=1e-12)


def test_logmel_deltas_stacks_three_channels(speech_like):
    Y = speech_like(3, 48000, seed=7)
    kw = dict(n_fft=1024, hop_length=256, win_length=512, window="hamming", n_mels=128, fmax=8000)
    F = dsp.logmel_deltas(y=Y, sr=16000, **kw)
    assert F.shape == (3, 3, 128, 188) and F.dtype == np.float32
    logmel = dsp.power_to_db(dsp.melspectrogram(y=Y, sr=16000, **kw), ref=np.max)
    np.testing.assert_allclose(F[:, 0], logmel, atol=1e-5)
    np.testing.assert_allclose(F[:, 1], dsp.delta(logmel, width=9), atol=1e-4)
    np.testing.assert_allclose(F[:, 2], dsp.delta(logmel, width=9, order=2), atol=1e-4)
    # Same result from the mel power spectrogram, and per clip.
    S = dsp.melspectrogram(y=Y, sr=16000, **kw)
    np.testing.assert_allclose(dsp.logmel_deltas(S=S, sr=16000), F, atol=1e-5)
    np.testing.assert_allclose(dsp.logmel_deltas(y=Y[1], sr=16000, **kw), F[1], atol=1e-4)


def test_logmel_deltas_short_clip_is_finite():
    F = dsp.logmel_deltas(y=np.zeros(300, np.float32), sr=16000, n_fft=1024, hop_length=256, win_length=512,
                          window="hamming", n_mels=128, fmax=8000)
    assert F.shape == (3, 128, 2)
    assert np.all(np.isfinite(F))



@pytest.mark.parametrize("n", [9, 10, 188, dsp.deltas.DENSE_MAX_FRAMES])
@pytest.mark.parametrize("width, order", [(9, 1), (9, 2), (5, 2), (3, 1)])
def test_dense_operator_equals_the_window_sums(n, width, order, monkeypatch):
    """Up to DENSE_MAX_FRAMES frames 'interp' is one product with a dense (n, n) operator;
    it equals the window sums (the path for longer inputs) to float64 rounding, edges
    included."""
    if width > n:
        pytest.skip("interp needs width <= n")
    x = np.random.default_rng(n + width).standard_normal((3, 5, n))
    fast = dsp.delta(x, width=width, order=order)
    monkeypatch.setattr(dsp.deltas, "DENSE_MAX_FRAMES", 0)  # force the window sums
    slow = dsp.delta(x, width=width, order=order)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12 * np.abs(slow).max())


def test_logmel_deltas_channels_are_the_deltas_of_the_log_mel():
    """The in-place 3-channel path gives exactly log-mel, delta(order=1), delta(order=2)."""
    S = np.random.default_rng(0).uniform(1e-6, 1.0, (2, 16, 40)).astype(np.float32)
    out = dsp.logmel_deltas(S=S)
    L = dsp.power_to_db(S, ref=np.max)
    assert out.shape == (2, 3, 16, 40) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0], L)
    np.testing.assert_array_equal(out[:, 1], dsp.delta(L, width=9, order=1))
    np.testing.assert_array_equal(out[:, 2], dsp.delta(L, width=9, order=2))
