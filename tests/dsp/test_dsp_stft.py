"""stft against a naive per-frame DFT loop, Parseval per frame, and the stft/istft round trip."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp

WINDOW_A = {"hann": 0.5, "hamming": 0.54}


def naive_stft(y, n_fft, hop_length, win_length, window, center):
    """The STFT definition evaluated literally: pad, window, and one DFT sum per frame."""
    a = WINDOW_A[window]
    w = np.array([a - (1 - a) * np.cos(2 * np.pi * n / win_length) for n in range(win_length)])
    if win_length == 1:
        w = np.ones(1)  # scipy's / librosa's convention for a one-sample window
    w_pad = np.zeros(n_fft)
    lpad = (n_fft - win_length) // 2
    w_pad[lpad:lpad + win_length] = w
    yp = np.concatenate([np.zeros(n_fft // 2), y, np.zeros(n_fft // 2)]) if center else y
    n_frames = 1 + (len(yp) - n_fft) // hop_length
    m = np.arange(n_fft)
    D = np.zeros((n_fft // 2 + 1, n_frames), dtype=complex)
    for t in range(n_frames):
        segment = yp[t * hop_length: t * hop_length + n_fft] * w_pad
        for k in range(n_fft // 2 + 1):
            D[k, t] = np.sum(segment * np.exp(-2j * np.pi * k * m / n_fft))
    return D


@st.composite
def stft_geometry(draw, max_n_fft=64):
    n_fft = draw(st.integers(2, max_n_fft))
    win_length = draw(st.integers(1, n_fft))
    hop_length = draw(st.integers(1, max(1, n_fft)))
    return n_fft, hop_length, win_length


@settings(max_examples=30, deadline=None)
@given(geometry=stft_geometry(), n=st.integers(1, 200), window=st.sampled_from(["hann", "hamming"]),
       center=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_stft_matches_naive_dft(geometry, n, window, center, seed):
    n_fft, hop_length, win_length = geometry
    if not center and n < n_fft:
        n = n_fft + n  # uncentred analysis needs one whole frame
    y = np.random.default_rng(seed).standard_normal(n)
    D = dsp.stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=center)
    expected = naive_stft(y, n_fft, hop_length, win_length, window, center)
    assert D.shape == expected.shape
    assert D.dtype == np.complex128
    np.testing.assert_allclose(D, expected, rtol=0, atol=1e-10 * max(1.0, np.abs(expected).max()))


@settings(max_examples=30, deadline=None)
@given(geometry=stft_geometry(max_n_fft=128), n=st.integers(1, 400), window=st.sampled_from(["hann", "hamming"]),
       seed=st.integers(0, 2**31 - 1))
def test_parseval_per_frame(geometry, n, window, seed):
    """sum_m |x_t[m]|^2 = (1 / n_fft) sum_{k=0}^{n_fft-1} |X_t[k]|^2 for every windowed frame."""
    n_fft, hop_length, win_length = geometry
    y = np.random.default_rng(seed).standard_normal(n)
    D = dsp.stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window)
    # Time-domain energy of each windowed frame, from dsp.frame on the centre-padded signal.
    w_pad = np.zeros(n_fft)
    lpad = (n_fft - win_length) // 2
    w_pad[lpad:lpad + win_length] = dsp.get_window(window, win_length)
    frames = dsp.frame(np.pad(y, n_fft // 2), n_fft, hop_length)  # (n_fft, n_frames)
    time_energy = np.sum((frames * w_pad[:, None]) ** 2, axis=0)
    # The rfft keeps bins 0 .. n_fft // 2; every other bin is a conjugate mirror, counted twice.
    power = np.abs(D) ** 2
    mirrored = power[1:(n_fft + 1) // 2]
    freq_energy = (power[0] + 2 * mirrored.sum(axis=0) + (power[-1] if n_fft % 2 == 0 else 0)) / n_fft
    np.testing.assert_allclose(freq_energy, time_energy, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(n_fft=st.integers(8, 256), win_frac=st.floats(0.5, 1.0), hop_div=st.integers(4, 8), n=st.integers(1, 700),
       window=st.sampled_from(["hann", "hamming"]), seed=st.integers(0, 2**31 - 1))
def test_istft_round_trip(n_fft, win_frac, hop_div, n, window, seed):
    win_length = max(4, int(n_fft * win_frac))
    hop_length = max(1, win_length // hop_div)
    y = np.random.default_rng(seed).standard_normal((2, n))
    kw = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window)
    y_hat = dsp.istft(dsp.stft(y, **kw), length=n, **kw)
    assert y_hat.shape == y.shape
    np.testing.assert_allclose(y_hat, y, rtol=0, atol=1e-9)


def test_round_trip_float32_and_default_length():
    y = np.random.default_rng(1).standard_normal(4000).astype(np.float32)
    D = dsp.stft(y, n_fft=512, hop_length=128)
    assert D.dtype == np.complex64
    y_hat = dsp.istft(D, hop_length=128)
    assert y_hat.dtype == np.float32
    # Without length: n_fft + hop * (n_frames - 1) - 2 * (n_fft // 2) samples.
    assert y_hat.shape == (128 * (D.shape[-1] - 1),)
    np.testing.assert_allclose(y_hat, y[: y_hat.shape[0]], atol=2e-5)


def test_stft_window_zero_padded_to_n_fft():
    """A Hamming window of 512 in n_fft=1024 behaves as the window centred in 1024 zeros."""
    y = np.random.default_rng(2).standard_normal(3000)
    w_pad = np.zeros(1024)
    w_pad[256:768] = dsp.get_window("hamming", 512)
    np.testing.assert_allclose(dsp.stft(y, n_fft=1024, hop_length=256, win_length=512, window="hamming"),
                               dsp.stft(y, n_fft=1024, hop_length=256, window=w_pad), atol=1e-10)


def test_default_hop_and_frame_count():
    y = np.zeros(22050, dtype=np.float32)
    D = dsp.stft(y)  # n_fft 2048, hop 2048 // 4 = 512
    assert D.shape == (1025, 1 + 22050 // 512)
    assert dsp.stft(y, center=False).shape == (1025, 1 + (22050 - 2048) // 512)


@pytest.mark.parametrize("n", [1, 5, 300])
def test_short_and_silent_clips_are_padded_and_finite(n):
    for y in (np.zeros(n, np.float32), np.full(n, 0.25, np.float32)):
        D = dsp.stft(y, n_fft=1024, hop_length=256, win_length=512, window="hamming")
        assert D.shape == (513, 1 + n // 256)
        assert np.all(np.isfinite(D))


def test_stft_batch_equals_per_clip(speech_like):
    Y = speech_like(5, 5000).reshape(5, 1, 5000)
    kw = dict(n_fft=1024, hop_length=256, win_length=512, window="hamming")
    D = dsp.stft(Y, **kw)
    assert D.shape == (5, 1, 513, 1 + 5000 // 256)
    for i in range(5):
        np.testing.assert_array_equal(D[i, 0], dsp.stft(Y[i, 0], **kw))


def test_istft_batch_equals_per_clip(speech_like):
    Y = speech_like(3, 2000).astype(np.float64)
    D = dsp.stft(Y, n_fft=256, hop_length=64)
    batch = dsp.istft(D, hop_length=64, length=2000)
    for i in range(3):
        np.testing.assert_allclose(batch[i], dsp.istft(D[i], hop_length=64, length=2000), atol=1e-12)


def test_fft_frequencies():
    np.testing.assert_allclose(dsp.fft_frequencies(sr=16000, n_fft=8), [0, 2000, 4000, 6000, 8000])
