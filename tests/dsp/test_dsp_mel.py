"""Mel scale, mel filterbank (non-negative, peaks at band centres, Slaney area) and melspectrogram."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp


# ------------------------------------------------------------------------------ mel scale

@settings(max_examples=40, deadline=None)
@given(f=st.floats(0.0, 48000.0), htk=st.booleans())
def test_hz_mel_inverse(f, htk):
    assert dsp.mel_to_hz(dsp.hz_to_mel(f, htk=htk), htk=htk) == pytest.approx(f, rel=1e-12, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(m=st.floats(0.0, 4000.0), htk=st.booleans())
def test_mel_hz_inverse(m, htk):
    if not htk:
        m = m / 50.0  # the Slaney scale tops out near mel 80 at 48 kHz
    assert dsp.hz_to_mel(dsp.mel_to_hz(m, htk=htk), htk=htk) == pytest.approx(m, rel=1e-12, abs=1e-9)


def test_mel_scale_reference_values():
    # Slaney: linear at 200/3 Hz per mel below 1 kHz, 1 kHz = 15 mel, 27 mels per factor 6.4 above.
    np.testing.assert_allclose(dsp.hz_to_mel([0.0, 60.0, 200.0, 1000.0, 6400.0]), [0.0, 0.9, 3.0, 15.0, 42.0])
    np.testing.assert_allclose(dsp.mel_to_hz([3.0, 15.0, 42.0]), [200.0, 1000.0, 6400.0])
    # HTK: 2595 log10(1 + f / 700); 1000 Hz is ~1000 mel by design.
    assert dsp.hz_to_mel(700.0, htk=True) == pytest.approx(2595 * np.log10(2.0))
    assert dsp.hz_to_mel(1000.0, htk=True) == pytest.approx(999.99, abs=0.01)
    # Both are strictly increasing and the Slaney scale is continuous at 1 kHz.
    f = np.linspace(0, 20000, 5001)
    for htk in (False, True):
        assert np.all(np.diff(dsp.hz_to_mel(f, htk=htk)) > 0)
    assert dsp.hz_to_mel(1000 - 1e-9) == pytest.approx(dsp.hz_to_mel(1000.0), abs=1e-8)


def test_mel_frequencies_uniform_on_mel_scale():
    for htk in (False, True):
        f = dsp.mel_frequencies(40, fmin=50.0, fmax=7000.0, htk=htk)
        assert f[0] == pytest.approx(50.0) and f[-1] == pytest.approx(7000.0)
        np.testing.assert_allclose(np.diff(dsp.hz_to_mel(f, htk=htk), 2), 0, atol=1e-10)


# ------------------------------------------------------------------------------ filterbank

@st.composite
def filterbank_args(draw):
    sr = draw(st.sampled_from([8000, 16000, 22050, 44100]))
    n_fft = draw(st.sampled_from([256, 512, 1024, 2048, 4096]))
    n_mels = draw(st.integers(4, 128))
    fmax = draw(st.floats(0.3, 1.0)) * sr / 2
    fmin = draw(st.floats(0.0, 0.2)) * fmax
    htk = draw(st.booleans())
    return sr, n_fft, n_mels, fmin, fmax, htk


def filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # narrow bands may be empty; checked separately
        return dsp.mel_filterbank(sr, n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                                  dtype=np.float64)


@settings(max_examples=30, deadline=None)
@given(args=filterbank_args())
def test_filters_nonnegative_triangles_peaking_at_centres(args):
    sr, n_fft, n_mels, fmin, fmax, htk = args
    W = filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm=None)
    assert W.shape == (n_mels, 1 + n_fft // 2)
    assert np.all(W >= 0) and np.all(W <= 1 + 1e-12)
    edges = dsp.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    freqs = np.arange(1 + n_fft // 2) * sr / n_fft
    df = sr / n_fft
    for i in range(n_mels):
        lo, centre, hi = edges[i], edges[i + 1], edges[i + 2]
        # Zero outside (lo, hi).
        assert np.all(W[i, (freqs <= lo) | (freqs >= hi)] == 0)
        if W[i].max() == 0:
            continue  # a band narrower than a bin: no bin inside it
        # The peak sits on one of the two bins bracketing the centre frequency ...
        peak = freqs[np.argmax(W[i])]
        assert abs(peak - centre) < df + 1e-9
        # ... and the weights are the triangle's values at the bin frequencies.
        tri = np.minimum((freqs - lo) / (centre - lo), (hi - freqs) / (hi - centre))
        np.testing.assert_allclose(W[i], np.clip(tri, 0, None), atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(args=filterbank_args())
def test_slaney_area_normalization(args):
    sr, n_fft, n_mels, fmin, fmax, htk = args
    W = filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm="slaney")
    W_peak = filterbank(sr, n_fft, n_mels, fmin, fmax, htk, norm=None)
    edges = dsp.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    # Row i is the unit-peak triangle scaled by 2 / (f_{i+2} - f_i): a triangle of unit area.
    np.testing.assert_allclose(W, W_peak * (2.0 / (edges[2:] - edges[:-2]))[:, None], rtol=1e-12)
    # Riemann sum of each well-resolved filter (>= 8 bins on each slope) over Hz is ~1.
    df = sr / n_fft
    resolved = (np.diff(edges)[:-1] >= 8 * df) & (np.diff(edges)[1:] >= 8 * df)
    if resolved.any():
        np.testing.assert_allclose(W[resolved].sum(axis=1) * df, 1.0, rtol=0.03)


def test_filterbank_defaults_and_dtype():
    W = dsp.mel_filterbank(16000, 1024, n_mels=128, fmax=8000)
    assert W.shape == (128, 513) and W.dtype == np.float32
    np.testing.assert_array_equal(W, dsp.mel_filterbank(16000, 1024))  # fmax defaults to sr / 2


def test_empty_filters_warn():
    with pytest.warns(UserWarning, match="empty"):
        dsp.mel_filterbank(16000, 128, n_mels=128)


def test_lp_norm():
    W = dsp.mel_filterbank(16000, 512, n_mels=20, norm=1, dtype=np.float64)
    np.testing.assert_allclose(W.sum(axis=1), 1.0)


@pytest.mark.parametrize("norm", [np.inf, 2, 0.5], ids=str)
def test_numeric_norms_are_dsp_normalize_of_the_rows(norm):
    # librosa.filters.mel: util.normalize(weights, norm=norm, axis=-1) for any non-'slaney' norm.
    W_peak = dsp.mel_filterbank(16000, 512, n_mels=20, norm=None, dtype=np.float64)
    W = dsp.mel_filterbank(16000, 512, n_mels=20, norm=norm, dtype=np.float64)
    assert W_peak.max(axis=1).min() > 0                       # no empty band here
    if norm == np.inf:
        want = W_peak / W_peak.max(axis=1, keepdims=True)     # unit peak per band
        np.testing.assert_array_equal(W.max(axis=1), 1.0)
    else:
        want = W_peak / (np.sum(W_peak ** norm, axis=1, keepdims=True) ** (1 / norm))
        np.testing.assert_allclose(np.sum(W ** norm, axis=1) ** (1 / norm), 1.0, rtol=1e-12)
    np.testing.assert_allclose(W, want, rtol=1e-12)


# ------------------------------------------------------------------------------ melspectrogram

PAPER = dict(sr=16000, n_fft=1024, hop_length=256, win_length=512, window="hamming", n_mels=128, fmax=8000)


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_melspectrogram_is_filterbank_times_stft_power(speech_like, power):
    y = speech_like(1, 16000, seed=3)[0].astype(np.float64)
    M = dsp.melspectrogram(y=y, power=power, **PAPER)
    D = dsp.stft(y, n_fft=1024, hop_length=256, win_length=512, window="hamming")
    W = dsp.mel_filterbank(16000, 1024, n_mels=128, fmax=8000, dtype=np.float64)
    np.testing.assert_allclose(M, W @ np.abs(D) ** power, rtol=1e-10, atol=1e-12 * M.max())
    # The precomputed-spectrogram path gives the same numbers.
    np.testing.assert_allclose(dsp.melspectrogram(S=np.abs(D) ** power, sr=16000, n_mels=128, fmax=8000), M,
                               rtol=1e-10, atol=1e-12 * M.max())


def test_melspectrogram_float32_close_to_float64(speech_like):
    y = speech_like(2, 48000, seed=4)
    M32 = dsp.melspectrogram(y=y, **PAPER)
    M64 = dsp.melspectrogram(y=y.astype(np.float64), **PAPER)
    assert M32.dtype == np.float32 and M64.dtype == np.float64
    assert M32.shape == (2, 128, 188)
    np.testing.assert_allclose(M32, M64, rtol=1e-3, atol=1e-5 * M64.max())


def test_melspectrogram_batch_equals_per_clip(speech_like):
    Y = speech_like(7, 12000, seed=5)
    M = dsp.melspectrogram(y=Y, **PAPER)
    for i in range(7):
        np.testing.assert_allclose(M[i], dsp.melspectrogram(y=Y[i], **PAPER), rtol=1e-6, atol=1e-7 * M[i].max())


def test_sinusoid_energy_lands_in_its_mel_band(make_tone):
    y = make_tone(2000.0, 16000, 16000)
    M = dsp.melspectrogram(y=y, **PAPER).mean(axis=-1)
    centres = dsp.mel_frequencies(130, fmax=8000)[1:-1]
    assert abs(centres[np.argmax(M)] - 2000.0) < 60.0


@pytest.mark.parametrize("n", [1, 100, 511])
def test_silence_and_short_clips(n):
    for y in (np.zeros(n, np.float32), np.full(n, 0.3, np.float32)):
        S_db = dsp.power_to_db(dsp.melspectrogram(y=y, **PAPER), ref=np.max)
        assert S_db.shape == (128, 1 + n // 256)
        assert np.all(np.isfinite(S_db))
