"""load (formats, channels, rates, failures), resample, fix_length, normalize."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp

# Unusual but valid files: name -> (sample rate, channels, format, subtype, quantization step).
VALID_FORMATS = {
    "pcm16_16k_mono.wav": (16000, 1, "WAV", "PCM_16", 2.0 ** -15),
    "pcm16_44k_stereo.wav": (44100, 2, "WAV", "PCM_16", 2.0 ** -15),
    "u8_8k_mono.wav": (8000, 1, "WAV", "PCM_U8", 2.0 ** -7),
    "float_48k_mono.wav": (48000, 1, "WAV", "FLOAT", 1e-7),
    "double_16k_stereo.wav": (16000, 2, "WAV", "DOUBLE", 1e-12),
    "pcm24_22k_mono.wav": (22050, 1, "WAV", "PCM_24", 2.0 ** -23),
    "pcm16_16k_mono.flac": (16000, 1, "FLAC", "PCM_16", 2.0 ** -15),
    "pcm24_48k_stereo.flac": (48000, 2, "FLAC", "PCM_24", 2.0 ** -23),
}


def write_valid(write_audio, name):
    sr, channels, fmt, subtype, step = VALID_FORMATS[name]
    path, data = write_audio(name, sr, channels, fmt, subtype)
    return path, sr, data, step


@pytest.mark.parametrize("name", sorted(VALID_FORMATS))
def test_valid_files_load_natively(write_audio, name):
    path, sr, data, step = write_valid(write_audio, name)
    y, sr_out = dsp.load(path)
    assert sr_out == sr
    assert y.dtype == np.float32 and y.ndim == 1 and y.shape[0] == data.shape[0]
    # Mono is the average of the channels, up to the format's quantization step.
    np.testing.assert_allclose(y, data.mean(axis=1), atol=1.5 * step + 1e-7)


@pytest.mark.parametrize("name", sorted(VALID_FORMATS))
def test_valid_files_load_resampled_to_16k(write_audio, name, peak_frequency):
    path, sr, data, _ = write_valid(write_audio, name)
    y, sr_out = dsp.load(path, sr=16000)
    assert sr_out == 16000
    assert y.shape == (math.ceil(data.shape[0] * 16000 / sr),)
    # The left channel's 440 Hz tone dominates the mix (the right one is 660 Hz at half amplitude).
    assert peak_frequency(y, 16000) == pytest.approx(440.0, rel=2e-3)


def test_stereo_kept_when_not_mono(write_audio):
    path, sr, data, step = write_valid(write_audio, "pcm16_44k_stereo.wav")
    y, _ = dsp.load(path, mono=False)
    assert y.shape == (2, data.shape[0])
    np.testing.assert_allclose(y, data.T, atol=1.5 * step)


def test_offset_and_duration(write_audio):
    path, sr, data, step = write_valid(write_audio, "pcm16_16k_mono.wav")
    y, _ = dsp.load(path, offset=0.1, duration=0.2)
    np.testing.assert_allclose(y, data[1600:4800, 0], atol=1.5 * step)
    with pytest.raises(dsp.AudioLoadError, match="no samples"):
        dsp.load(path, offset=10.0)


@pytest.mark.parametrize("name,message", [
    ("missing.wav", "no such file"),
    ("empty.wav", "cannot decode"),
    ("no_samples.wav", "no samples"),
    ("truncated.wav", "truncated"),
    ("cut_header.wav", "cannot decode|truncated"),
    ("notes.wav", "cannot decode"),
    ("nan.wav", "finite"),
    ("inf.wav", "finite"),
    ("truncated.flac", "cannot decode"),
])
def test_bad_files_raise_naming_the_file(bad_audio_files, name, message):
    path = bad_audio_files[name]
    with pytest.raises(dsp.AudioLoadError, match=message) as info:
        dsp.load(path, sr=16000)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


# ------------------------------------------------------------------------------ resample

@settings(max_examples=20, deadline=None)
@given(rates=st.sampled_from([(8000, 16000), (16000, 8000), (44100, 16000), (48000, 16000), (16000, 22050),
                              (22050, 44100)]),
       freq_frac=st.floats(0.02, 0.3), seconds=st.floats(0.25, 0.6))
def test_resample_keeps_frequency_and_length_ratio(rates, freq_frac, seconds, make_tone, peak_frequency):
    orig_sr, target_sr = rates
    freq = freq_frac * min(orig_sr, target_sr)  # below both Nyquist limits
    n = int(seconds * orig_sr)
    y = make_tone(freq, orig_sr, n)
    y_hat = dsp.resample(y, orig_sr, target_sr)
    assert y_hat.dtype == np.float32
    assert y_hat.shape == (math.ceil(n * target_sr / orig_sr),)
    assert peak_frequency(y_hat, target_sr) == pytest.approx(freq, rel=2e-3)
    # Amplitude (sqrt(2) * RMS of the middle half, away from filter transients) is preserved.
    m = len(y_hat) // 4
    assert np.sqrt(2 * np.mean(y_hat[m:-m].astype(np.float64) ** 2)) == pytest.approx(0.5, rel=0.02)


def test_resample_batch_and_identity(speech_like):
    Y = speech_like(3, 4410, sr=44100)
    batch = dsp.resample(Y, 44100, 16000)
    for i in range(3):
        np.testing.assert_allclose(batch[i], dsp.resample(Y[i], 44100, 16000), atol=1e-6)
    assert dsp.resample(Y, 16000, 16000) is Y


# ------------------------------------------------------------------------------ fix_length, normalize

def test_fix_length_pads_with_zeros_or_trims():
    y = np.arange(1.0, 6.0, dtype=np.float32)
    np.testing.assert_array_equal(dsp.fix_length(y, 8), [1, 2, 3, 4, 5, 0, 0, 0])
    np.testing.assert_array_equal(dsp.fix_length(y, 3), [1, 2, 3])
    Y = np.ones((2, 4), np.float32)
    assert dsp.fix_length(Y, 6).shape == (2, 6) and dsp.fix_length(Y, 6).dtype == np.float32
    assert dsp.fix_length(Y, 3, axis=0).shape == (3, 4)
    np.testing.assert_array_equal(dsp.fix_length(y, 7, mode="edge")[-2:], [5, 5])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 3000), scale=st.floats(1e-3, 1e3), shift=st.floats(-5, 5))
def test_normalize_zero_mean_unit_variance(seed, n, scale, shift):
    Y = (shift + scale * np.random.default_rng(seed).standard_normal((3, n)))
    Z = dsp.normalize(Y)
    np.testing.assert_allclose(Z.mean(axis=-1), 0.0, atol=1e-9)
    np.testing.assert_allclose(Z.std(axis=-1), 1.0, rtol=1e-9)
    for i in range(3):
        np.testing.assert_allclose(Z[i], dsp.normalize(Y[i]), atol=1e-12)


def test_normalize_silence_stays_finite():
    Z = dsp.normalize(np.full((2, 100), 0.7, np.float32))
    assert Z.dtype == np.float32
    np.testing.assert_array_equal(Z, 0.0)
