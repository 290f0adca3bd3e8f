"""VTLP (``vtlp_warp``, ``mel_filterbank(vtlp_alpha=...)``) and ``speed_perturb``.

What is proved:

* ``vtlp_warp`` equals a scalar if/else oracle of Jaitly & Hinton's equation, is ``alpha * f``
  below the breakpoint, maps 0 to 0 and S to S, is continuous at the breakpoint and increasing.
* ``vtlp_alpha=1`` gives the unwarped filterbank bit for bit; any ``vtlp_alpha`` gives the
  triangles of a loop oracle evaluated at the warped bin frequencies; ``alpha > 1`` moves every
  band's peak to the same or a lower bin (``alpha < 1``: higher), to the bin where
  ``warp(f_k)`` meets the band centre.
* ``melspectrogram`` / ``logmel_deltas`` with ``vtlp_alpha`` are the warped filterbank applied to
  ``|stft|^2``; bad ``vtlp_alpha`` / ``vtlp_fhi`` / ``alpha`` / ``fhi`` raise naming the parameter.
* ``speed_perturb`` gives ``round(n / rate)`` samples, turns a sine of ``f`` into a sine of
  ``f * rate`` (spectral peak and samples), is undone by ``1 / rate`` on a band-limited signal,
  works on a batch exactly as clip by clip, keeps the float dtype, copies at ``rate = 1`` and
  rejects a bad ``rate``.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp


# ------------------------------------------------------------------------------ oracles

def warp_oracle(f, alpha, sr, fhi):
    """Jaitly & Hinton's warp of one frequency, written as the paper states it."""
    S = sr / 2
    lo = fhi * min(alpha, 1.0)
    if f <= lo / alpha:
        return alpha * f
    return S - (S - lo) / (S - lo / alpha) * (S - f)


def filterbank_oracle(sr, n_fft, n_mels, alpha, fhi):
    """Slaney-normalized triangles evaluated at the warped bin frequencies, one weight at a time."""
    edges = dsp.mel_frequencies(n_mels + 2, fmin=0.0, fmax=sr / 2)
    W = np.zeros((n_mels, 1 + n_fft // 2))
    for i in range(n_mels):
        lower, centre, upper = edges[i], edges[i + 1], edges[i + 2]
        for k in range(1 + n_fft // 2):
            g = warp_oracle(k * sr / n_fft, alpha, sr, fhi)
            rising = (g - lower) / (centre - lower)
            falling = (upper - g) / (upper - centre)
            W[i, k] = max(0.0, min(rising, falling)) * 2.0 / (upper - lower)
    return W


# ------------------------------------------------------------------------------ vtlp_warp

@pytest.mark.parametrize("alpha", [0.7, 0.9, 0.95, 1.0, 1.05, 1.1, 1.3])
@pytest.mark.parametrize("sr, fhi", [(16000, 4800.0), (16000, 3000.0), (22050, 4800.0)])
def test_vtlp_warp_matches_the_papers_equation(alpha, sr, fhi):
    S = sr / 2
    breakpoint = fhi * min(alpha, 1.0) / alpha
    freqs = [0.0, 1.0, 250.0, 1000.0, breakpoint, 0.5 * (breakpoint + S), S - 1.0, S]
    want = [warp_oracle(f, alpha, sr, fhi) for f in freqs]
    np.testing.assert_allclose(dsp.vtlp_warp(freqs, alpha, sr, fhi=fhi), want, rtol=1e-12, atol=1e-9)
    # Below the breakpoint the warp is a plain scaling by alpha.
    below = [f for f in freqs if f <= breakpoint]
    np.testing.assert_allclose(dsp.vtlp_warp(below, alpha, sr, fhi=fhi), [alpha * f for f in below], rtol=1e-15)
    # Scalar in, scalar out.
    assert np.ndim(dsp.vtlp_warp(1000.0, alpha, sr, fhi=fhi)) == 0


@settings(max_examples=60, deadline=None)
@given(alpha=st.floats(0.5, 2.0), sr=st.sampled_from([8000, 16000, 22050, 44100]),
       fhi_frac=st.floats(0.05, 0.95))
def test_vtlp_warp_fixes_0_and_nyquist_is_continuous_and_increasing(alpha, sr, fhi_frac):
    S = sr / 2
    fhi = fhi_frac * S
    assert dsp.vtlp_warp(0.0, alpha, sr, fhi=fhi) == 0.0
    assert dsp.vtlp_warp(S, alpha, sr, fhi=fhi) == pytest.approx(S, rel=1e-14)
    # Continuous at the breakpoint: the lower line's value there meets the upper line's limit.
    breakpoint = fhi * min(alpha, 1.0) / alpha
    left = dsp.vtlp_warp(breakpoint, alpha, sr, fhi=fhi)
    right = dsp.vtlp_warp(np.nextafter(breakpoint, np.inf), alpha, sr, fhi=fhi)
    assert left == pytest.approx(alpha * breakpoint, rel=1e-14)
    assert right == pytest.approx(left, abs=1e-9 * S)
    # Strictly increasing, and on the side of the identity that alpha says.
    f = np.linspace(0.0, S, 4001)
    g = dsp.vtlp_warp(f, alpha, sr, fhi=fhi)
    assert np.all(np.diff(g) > 0)
    if alpha >= 1:
        assert np.all(g >= f - 1e-9 * S)
    else:
        assert np.all(g <= f + 1e-9 * S)


# ------------------------------------------------------------------------------ filterbank

@pytest.mark.parametrize("sr, n_fft, kwargs", [
    (16000, 512, {}),
    (22050, 2048, {}),                                # bin spacing 22050 / 2048, not exact in binary
    (16000, 1000, dict(n_mels=40, fmin=50.0, fmax=7000.0, htk=True)),
    (16000, 1024, dict(n_mels=64, norm=None, dtype=np.float64)),
])
def test_vtlp_alpha_one_is_the_unwarped_filterbank(sr, n_fft, kwargs):
    W = dsp.mel_filterbank(sr, n_fft, **kwargs)
    np.testing.assert_array_equal(dsp.mel_filterbank(sr, n_fft, vtlp_alpha=1.0, **kwargs), W)
    np.testing.assert_array_equal(dsp.mel_filterbank(sr, n_fft, vtlp_alpha=1.0, vtlp_fhi=2000.0, **kwargs), W)
    np.testing.assert_array_equal(dsp.mel_filterbank(sr, n_fft, vtlp_alpha=None, **kwargs), W)


@pytest.mark.parametrize("alpha, fhi", [(0.9, 4800.0), (1.1, 4800.0), (1.07, 3000.0)])
def test_vtlp_filterbank_matches_loop_oracle(alpha, fhi):
    W = dsp.mel_filterbank(16000, 256, n_mels=24, dtype=np.float64, vtlp_alpha=alpha, vtlp_fhi=fhi)
    np.testing.assert_allclose(W, filterbank_oracle(16000, 256, 24, alpha, fhi), rtol=1e-12, atol=1e-18)
    assert W.dtype == np.float64
    assert dsp.mel_filterbank(16000, 256, n_mels=24, vtlp_alpha=alpha, vtlp_fhi=fhi).dtype == np.float32


@pytest.mark.parametrize("alpha", [0.9, 0.95, 1.05, 1.1])
def test_vtlp_moves_band_peaks(alpha):
    sr, n_fft, fhi = 16000, 1024, 4800.0
    df = sr / n_fft
    W0 = dsp.mel_filterbank(sr, n_fft, n_mels=64, dtype=np.float64)
    W = dsp.mel_filterbank(sr, n_fft, n_mels=64, dtype=np.float64, vtlp_alpha=alpha, vtlp_fhi=fhi)
    assert W0.max(axis=1).min() > 0 and W.max(axis=1).min() > 0  # no empty band: argmax is the peak
    peak0, peak = W0.argmax(axis=1), W.argmax(axis=1)
    # warp(f) >= f for alpha > 1, so each triangle peaks at the same or a lower bin; alpha < 1: higher.
    if alpha > 1:
        assert np.all(peak <= peak0) and np.sum(peak < peak0) >= 32
    else:
        assert np.all(peak >= peak0) and np.sum(peak > peak0) >= 32
    # The peak sits within one bin of where warp(f) equals the band centre (warp inverted on a fine grid).
    centres = dsp.mel_frequencies(66, fmax=sr / 2)[1:-1]
    grid = np.linspace(0.0, sr / 2, 200001)
    where = np.interp(centres, dsp.vtlp_warp(grid, alpha, sr, fhi=fhi), grid)   # warp^{-1}(centre), Hz
    assert np.max(np.abs(peak - where / df)) <= 1.0
    # Below F_hi min(alpha, 1) that point is simply centre / alpha.
    low = centres < fhi * min(alpha, 1.0)
    np.testing.assert_allclose(where[low], centres[low] / alpha, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------ melspectrogram

PAPER = dict(sr=16000, n_fft=1024, hop_length=256, win_length=512, window="hamming", n_mels=128, fmax=8000)


@pytest.mark.parametrize("alpha", [0.9, 1.1])
def test_melspectrogram_vtlp_is_warped_filterbank_times_stft_power(alpha, speech_like):
    Y = speech_like(3, 16000, seed=7)
    y = Y[0].astype(np.float64)
    M = dsp.melspectrogram(y=y, vtlp_alpha=alpha, **PAPER)
    D = dsp.stft(y, n_fft=1024, hop_length=256, win_length=512, window="hamming")
    W = dsp.mel_filterbank(16000, 1024, n_mels=128, fmax=8000, dtype=np.float64, vtlp_alpha=alpha)
    np.testing.assert_allclose(M, W @ np.abs(D) ** 2, rtol=1e-10, atol=1e-12 * M.max())
    # The spectrogram path warps too, and the warp changes the features.
    M_S = dsp.melspectrogram(S=np.abs(D) ** 2, sr=16000, n_mels=128, fmax=8000, vtlp_alpha=alpha)
    np.testing.assert_allclose(M_S, M, rtol=1e-10, atol=1e-12 * M.max())
    assert not np.allclose(M, dsp.melspectrogram(y=y, **PAPER), rtol=1e-2)
    # float32 and a batch go through the same warped filterbank.
    M32 = dsp.melspectrogram(y=Y, vtlp_alpha=alpha, **PAPER)
    assert M32.dtype == np.float32 and M32.shape == (3, 128, 63)
    np.testing.assert_allclose(M32[0], M, rtol=1e-3, atol=1e-5 * M.max())
    # logmel_deltas passes vtlp_alpha on through its **mel_kwargs.
    L = dsp.logmel_deltas(Y, vtlp_alpha=alpha, **PAPER)
    np.testing.assert_allclose(L, dsp.logmel_deltas(S=M32), rtol=1e-6, atol=1e-4)


# ------------------------------------------------------------------------------ VTLP errors

VTLP_ERRORS = [
    ("alpha=0", lambda: dsp.mel_filterbank(16000, 512, vtlp_alpha=0.0), r"vtlp_alpha=0.0 must be > 0"),
    ("alpha<0", lambda: dsp.mel_filterbank(16000, 512, vtlp_alpha=-1.1), r"vtlp_alpha=-1.1 must be > 0"),
    ("alpha nan", lambda: dsp.mel_filterbank(16000, 512, vtlp_alpha=np.nan), r"vtlp_alpha=nan must be a finite number > 0"),
    ("alpha inf", lambda: dsp.mel_filterbank(16000, 512, vtlp_alpha=np.inf), r"vtlp_alpha=inf must be a finite number > 0"),
    ("alpha bool", lambda: dsp.mel_filterbank(16000, 512, vtlp_alpha=True), r"vtlp_alpha=True must be a finite number > 0"),
    ("alpha str", lambda: dsp.mel_filterbank(16000, 512, vtlp_alpha="1.1"), r"vtlp_alpha='1.1' must be a finite number > 0"),
    ("fhi=0", lambda: dsp.mel_filterbank(16000, 512, vtlp_alpha=1.1, vtlp_fhi=0.0), r"vtlp_fhi=0.0 must be > 0"),
    ("fhi=S", lambda: dsp.mel_filterbank(16000, 512, vtlp_alpha=1.1, vtlp_fhi=8000.0), r"vtlp_fhi=8000.0 must be < sr/2=8000.0"),
    ("fhi>S", lambda: dsp.mel_filterbank(8000, 512, vtlp_alpha=0.9), r"vtlp_fhi=4800.0 must be < sr/2=4000.0"),
    ("fhi nan", lambda: dsp.mel_filterbank(16000, 512, vtlp_alpha=1.1, vtlp_fhi=np.nan), r"vtlp_fhi=nan must be a finite"),
    ("mel alpha", lambda: dsp.melspectrogram(y=np.zeros(4000), sr=16000, vtlp_alpha=-0.9), r"vtlp_alpha=-0.9 must be > 0"),
    ("mel fhi", lambda: dsp.melspectrogram(y=np.zeros(4000), sr=16000, vtlp_alpha=0.9, vtlp_fhi=9000.0),
     r"vtlp_fhi=9000.0 must be < sr/2=8000.0"),
    ("logmel alpha", lambda: dsp.logmel_deltas(np.zeros(4000), vtlp_alpha=0), r"vtlp_alpha=0 must be > 0"),
    ("warp alpha", lambda: dsp.vtlp_warp([100.0], 0.0, 16000), r"alpha=0.0 must be > 0"),
    ("warp alpha inf", lambda: dsp.vtlp_warp([100.0], np.inf, 16000), r"alpha=inf must be a finite number > 0"),
    ("warp fhi", lambda: dsp.vtlp_warp([100.0], 1.1, 16000, fhi=8000.0), r"fhi=8000.0 must be < sr/2=8000.0"),
    ("warp fhi<0", lambda: dsp.vtlp_warp([100.0], 1.1, 16000, fhi=-5.0), r"fhi=-5.0 must be > 0"),
    ("warp sr", lambda: dsp.vtlp_warp([100.0], 1.1, 0), r"sr=0 must be > 0"),
    ("warp freqs", lambda: dsp.vtlp_warp([100.0, np.nan], 1.1, 16000), r"freqs must contain only finite values"),
]


@pytest.mark.parametrize("call, message", [c[1:] for c in VTLP_ERRORS], ids=[c[0] for c in VTLP_ERRORS])
def test_vtlp_bad_arguments_name_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_vtlp_fhi_is_unchecked_without_alpha():
    # The default vtlp_fhi=4800 exceeds sr/2 at 8 kHz; it only matters once vtlp_alpha is given.
    np.testing.assert_array_equal(dsp.mel_filterbank(8000, 512, n_mels=40),
                                  dsp.mel_filterbank(8000, 512, n_mels=40, vtlp_fhi=4800.0))
    dsp.mel_filterbank(8000, 512, n_mels=40, vtlp_alpha=0.9, vtlp_fhi=3000.0)


# ------------------------------------------------------------------------------ speed_perturb

@pytest.mark.parametrize("rate", [0.9, 1.1, 0.95, 1.5, 1 / 3])
@pytest.mark.parametrize("n", [1, 7, 16000, 16001])
def test_speed_perturb_length_is_n_over_rate(rate, n, speech_like):
    y = speech_like(1, n, seed=1)[0]
    assert dsp.speed_perturb(y, rate).shape == (max(1, round(n / rate)),)


@pytest.mark.parametrize("rate", [0.9, 1.1])
@pytest.mark.parametrize("freq", [220.0, 440.0, 1234.5, 3000.0])
def test_speed_perturb_multiplies_frequency_by_rate(rate, freq, make_tone, peak_frequency):
    sr = 16000
    y = make_tone(freq, sr, sr, dtype=np.float64)
    out = dsp.speed_perturb(y, rate)
    assert peak_frequency(out[1000:-1000], sr) == pytest.approx(freq * rate, rel=1e-4)
    # Away from the edges (filter transients) the samples are the faster sine itself.
    m = np.arange(out.shape[-1])
    np.testing.assert_allclose(out[1000:-1000], (0.5 * np.sin(2 * np.pi * freq * rate * m / sr))[1000:-1000],
                               atol=2e-3)


@pytest.mark.parametrize("rate", [0.9, 1.1])
def test_speed_perturb_then_inverse_rate_restores_band_limited_signal(rate, make_tone):
    sr = 16000
    y = sum(make_tone(f, sr, 8000, amplitude=0.2, phase=p, dtype=np.float64)
            for f, p in [(150.0, 0.0), (700.0, 1.0), (2500.0, 2.0)])
    back = dsp.speed_perturb(dsp.speed_perturb(y, rate), 1 / rate)
    assert back.shape == y.shape
    np.testing.assert_allclose(back[500:-500], y[500:-500], atol=3e-3)


def test_speed_perturb_batch_equals_per_clip(speech_like):
    Y = speech_like(6, 4001, seed=3).reshape(2, 3, 4001)
    out = dsp.speed_perturb(Y, 0.9)
    assert out.shape == (2, 3, round(4001 / 0.9)) and out.dtype == np.float32
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(out[i, j], dsp.speed_perturb(Y[i, j], 0.9), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype, out_dtype", [(np.float32, np.float32), (np.float64, np.float64),
                                              (np.float16, np.float32)])
def test_speed_perturb_keeps_float_dtype(dtype, out_dtype, speech_like):
    y = speech_like(2, 3000, seed=4).astype(dtype)
    for rate in (0.9, 1.0, 1.1):
        assert dsp.speed_perturb(y, rate).dtype == out_dtype


def test_speed_perturb_rate_one_is_an_unchanged_copy(speech_like):
    y = speech_like(2, 3000, seed=5)
    out = dsp.speed_perturb(y, 1.0)
    np.testing.assert_array_equal(out, y)
    assert not np.shares_memory(out, y)


@pytest.mark.parametrize("rate, message", [
    (0.0, r"rate=0.0 must be > 0"), (-0.9, r"rate=-0.9 must be > 0"), (np.nan, r"rate=nan must be a finite number > 0"),
    (np.inf, r"rate=inf must be a finite number > 0"), (True, r"rate=True must be a finite number > 0"),
    ("1.1", r"rate='1.1' must be a finite number > 0"), (None, r"rate=None must be a finite number > 0"),
], ids=["zero", "negative", "nan", "inf", "bool", "str", "None"])
def test_speed_perturb_bad_rate_names_rate(rate, message, speech_like):
    with pytest.raises(ValueError, match=message):
        dsp.speed_perturb(speech_like(1, 1000)[0], rate)


def test_speed_perturb_bad_audio_raises():
    with pytest.raises(ValueError, match=r"y must be a real floating-point array"):
        dsp.speed_perturb(np.zeros(100, np.int16), 1.1)
    with pytest.raises(ValueError, match=r"y must contain at least one sample"):
        dsp.speed_perturb(np.zeros(0, np.float32), 1.1)
