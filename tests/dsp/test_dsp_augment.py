"""awgn (achieved SNR), peak_noise, gain, time_stretch / pitch_shift (frequencies), spec_augment."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp


def measured_snr_db(clean, noisy):
    return 10 * np.log10(np.mean(clean.astype(np.float64) ** 2, axis=-1)
                         / np.mean((noisy.astype(np.float64) - clean) ** 2, axis=-1))


@settings(max_examples=20, deadline=None)
@given(snr_db=st.floats(-10, 40), seed=st.integers(0, 2**31 - 1))
def test_awgn_achieves_snr(snr_db, seed, speech_like):
    y = speech_like(2, 160000, seed=seed % 1000)  # 10 s clips
    noisy = dsp.awgn(y, snr_db, np.random.default_rng(seed))
    assert noisy.dtype == np.float32
    np.testing.assert_allclose(measured_snr_db(y, noisy), snr_db, atol=0.2)


def test_awgn_per_clip_snr_noise_is_white_gaussian_and_reproducible(speech_like):
    y = speech_like(3, 200000, seed=1)
    snr = np.array([0.0, 10.0, 25.0])
    noisy = dsp.awgn(y, snr, np.random.default_rng(5))
    np.testing.assert_allclose(measured_snr_db(y, noisy), snr, atol=0.2)
    np.testing.assert_array_equal(noisy, dsp.awgn(y, snr, np.random.default_rng(5)))
    noise = (noisy[0] - y[0]).astype(np.float64)
    noise /= noise.std()
    # Gaussian: kurtosis 3. White: lag-1 autocorrelation ~ 0.
    assert np.mean(noise ** 4) == pytest.approx(3.0, abs=0.1)
    assert abs(np.mean(noise[1:] * noise[:-1])) < 0.01
    # A silent clip stays silent (the SNR is relative to the signal).
    np.testing.assert_array_equal(dsp.awgn(np.zeros(100, np.float32), 10.0, np.random.default_rng(0)), 0.0)


def test_peak_noise_amplitude_is_relative_to_peak(speech_like):
    y = speech_like(2, 100000, seed=2)
    noisy = dsp.peak_noise(y, 0.035, np.random.default_rng(0), random_scale=False)
    noise_std = (noisy - y).std(axis=-1)
    np.testing.assert_allclose(noise_std, 0.035 * np.abs(y).max(axis=-1), rtol=0.02)
    # The paper's form scales by u ~ U[0, 1) per clip: never more than the fixed amplitude.
    scaled = dsp.peak_noise(y, 0.035, np.random.default_rng(1))
    assert np.all((scaled - y).std(axis=-1) < 0.035 * np.abs(y).max(axis=-1) * 1.02)
    assert not np.allclose((scaled - y).std(axis=-1), noise_std, rtol=0.05)


@settings(max_examples=20, deadline=None)
@given(db=st.floats(-30, 30))
def test_gain_in_decibels(db, speech_like):
    y = speech_like(2, 1000)
    out = dsp.gain(y, db)
    assert out.dtype == np.float32
    np.testing.assert_allclose(20 * np.log10(np.abs(out).max(axis=-1) / np.abs(y).max(axis=-1)), db, atol=1e-4)


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_time_stretch_changes_length_not_pitch(rate, make_tone, peak_frequency):
    y = make_tone(440.0, 16000, 16000)
    out = dsp.time_stretch(y, rate)
    assert out.shape == (round(16000 / rate),)
    assert peak_frequency(out[2048:-2048], 16000) == pytest.approx(440.0, rel=3e-3)


@settings(max_examples=8, deadline=None)
@given(n_steps=st.sampled_from([-4, -2, -1, 1, 2, 3, 5]), freq=st.floats(200.0, 900.0))
def test_pitch_shift_moves_a_sinusoid_by_2_pow_n_over_12(n_steps, freq, make_tone, peak_frequency):
    y = make_tone(freq, 16000, 16000)
    out = dsp.pitch_shift(y, 16000, n_steps)
    assert out.shape == y.shape and out.dtype == np.float32
    expected = freq * 2.0 ** (n_steps / 12)
    assert peak_frequency(out[2048:-2048], 16000) == pytest.approx(expected, rel=3e-3)


def test_pitch_shift_batch_equals_per_clip(speech_like):
    Y = speech_like(3, 8000)
    batch = dsp.pitch_shift(Y, 16000, 2, n_fft=512)
    for i in range(3):
        np.testing.assert_allclose(batch[i], dsp.pitch_shift(Y[i], 16000, 2, n_fft=512), atol=1e-5)


def test_pitch_shift_by_zero_is_identity(speech_like):
    y = speech_like(1, 8000)[0].astype(np.float64)
    np.testing.assert_allclose(dsp.pitch_shift(y, 16000, 0), y, atol=1e-8)


def test_spec_augment_masks_whole_bands():
    S = np.random.default_rng(0).uniform(1, 2, size=(6, 64, 100)).astype(np.float32)
    out = dsp.spec_augment(S, np.random.default_rng(1), n_freq_masks=2, F=8, n_time_masks=2, T=8)
    assert out.shape == S.shape and out.dtype == np.float32
    assert np.all(S > 0)  # so zeros in out are exactly the masked cells
    for b in range(6):
        masked = out[b] == 0
        rows = masked.all(axis=1)   # fully masked mel bands
        cols = masked.all(axis=0)   # fully masked frames
        # Every masked cell lies in a masked band or frame; everything else is untouched.
        np.testing.assert_array_equal(masked, rows[:, None] | cols[None, :])
        np.testing.assert_array_equal(out[b][~masked], S[b][~masked])
        # At most two bands of width <= F - 1 = 7 each.
        assert rows.sum() <= 14 and cols.sum() <= 14
    # Masks differ between examples and are reproducible from the seed.
    assert not all(np.array_equal(out[0] == 0, out[b] == 0) for b in range(1, 6))
    np.testing.assert_array_equal(out, dsp.spec_augment(S, np.random.default_rng(1)))


def test_spec_augment_mask_statistics():
    """Widths are uniform on {0, .., F-1}: the mean masked width of one mask is (F - 1) / 2."""
    S = np.ones((4000, 64, 50), np.float32)
    out = dsp.spec_augment(S, np.random.default_rng(2), n_freq_masks=1, F=8, n_time_masks=0)
    widths = (out[:, :, 0] == 0).sum(axis=1)
    assert widths.max() == 7 and widths.min() == 0
    assert widths.mean() == pytest.approx(3.5, abs=0.15)
    assert not np.any(out[:, :, 1:] != out[:, :, :1])  # no time masks
