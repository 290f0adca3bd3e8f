"""frame (strided view, frame-count formula) and get_window (raised-cosine formula)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), frame_length=st.integers(1, 64), hop_length=st.integers(1, 40),
       batch=st.integers(1, 3))
def test_frame_count_and_content(n, frame_length, hop_length, batch):
    x = np.arange(batch * n, dtype=np.float64).reshape(batch, n)
    if n < frame_length:
        with pytest.raises(ValueError, match="frame_length"):
            dsp.frame(x, frame_length, hop_length)
        return
    frames = dsp.frame(x, frame_length, hop_length)
    n_frames = 1 + (n - frame_length) // hop_length  # the frame-count formula
    assert frames.shape == (batch, frame_length, n_frames)
    # Oracle: frame t is the slice starting at t * hop_length.
    for t in range(n_frames):
        np.testing.assert_array_equal(frames[:, :, t], x[:, t * hop_length: t * hop_length + frame_length])


def test_frame_is_a_readonly_view():
    x = np.random.default_rng(0).standard_normal(1000)
    frames = dsp.frame(x, 64, 16)
    assert np.shares_memory(frames, x)
    assert not frames.flags.writeable


def test_frame_axis0_layout():
    x = np.arange(20.0).reshape(10, 2)  # (n, channels)
    frames = dsp.frame(x, 4, 3, axis=0)
    assert frames.shape == (3, 4, 2)  # (n_frames, frame_length, channels)
    np.testing.assert_array_equal(frames[1], x[3:7])
    # A negative middle axis puts frame_length before the frame axis: (A, frame_length, n_frames, C).
    x3 = np.arange(60.0).reshape(2, 10, 3)
    frames = dsp.frame(x3, 4, 3, axis=-2)
    assert frames.shape == (2, 4, 3, 3)
    np.testing.assert_array_equal(frames[:, :, 2, :], x3[:, 6:10, :])
    assert dsp.frame(x3, 4, 3, axis=1).shape == (2, 3, 4, 3)


def cosine_window(a, Nx, periodic):
    """Reference formula w[n] = a - (1 - a) cos(2 pi n / M), by a Python loop."""
    if Nx == 1:
        return np.ones(1)
    M = Nx if periodic else Nx - 1
    return np.array([a - (1 - a) * np.cos(2 * np.pi * n / M) for n in range(Nx)])


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["hann", "hamming"]), Nx=st.integers(1, 600), fftbins=st.booleans())
def test_windows_match_cosine_formula(name, Nx, fftbins):
    a = {"hann": 0.5, "hamming": 0.54}[name]
    w = dsp.get_window(name, Nx, fftbins=fftbins)
    np.testing.assert_allclose(w, cosine_window(a, Nx, periodic=fftbins), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["hann", "hamming"])
def test_symmetric_and_periodic_relation(name):
    sym = dsp.get_window(name, 257, fftbins=False)
    np.testing.assert_allclose(sym, sym[::-1], atol=1e-15)
    # The periodic window is the symmetric window one sample longer, minus its last sample.
    np.testing.assert_allclose(dsp.get_window(name, 256, fftbins=True), sym[:-1], atol=1e-15)
    assert sym[128] == pytest.approx(1.0)
    assert sym[0] == pytest.approx({"hann": 0.0, "hamming": 0.08}[name])


def test_window_array_and_callable():
    w = np.linspace(0, 1, 8)
    np.testing.assert_array_equal(dsp.get_window(w, 8), w)
    np.testing.assert_array_equal(dsp.get_window(np.ones, 5), np.ones(5))
    with pytest.raises(ValueError, match=r"shape \(9,\)"):
        dsp.get_window(w, 9)


@pytest.mark.parametrize("window", ["kaiser", "blackman", ("kaiser", 4.0)])
def test_unknown_window(window):
    with pytest.raises(ValueError, match="window"):
        dsp.get_window(window, 16)
