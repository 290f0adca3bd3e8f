"""One registry: every batch-aware function gives, on (N, ...) input, the stack of its per-clip results."""
import importlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp

PAPER = dict(n_fft=1024, hop_length=256, win_length=512, window="hamming")
MEL = dict(sr=16000, n_mels=128, fmax=8000, **PAPER)

# name -> (function of a batch or a clip, tolerance relative to the output's peak)
REGISTRY = {
    "stft": (lambda y: dsp.stft(y, **PAPER), 1e-6),
    "melspectrogram": (lambda y: dsp.melspectrogram(y=y, **MEL), 1e-6),
    "power_to_db(ref=max)": (lambda y: dsp.power_to_db(dsp.melspectrogram(y=y, **MEL), ref=np.max), 1e-5),
    "logmel_deltas": (lambda y: dsp.logmel_deltas(y=y, **MEL), 1e-5),
    "delta": (lambda y: dsp.delta(y, width=7), 1e-6),
    "resample": (lambda y: dsp.resample(y, 16000, 22050), 1e-6),
    "standardize": (lambda y: dsp.standardize(y), 1e-6),
    "normalize(axis=-1)": (lambda y: dsp.normalize(y, axis=-1), 0.0),
    "fix_length": (lambda y: dsp.fix_length(y, 3000), 0.0),
    "gain": (lambda y: dsp.gain(y, -6.0), 0.0),
    "time_stretch": (lambda y: dsp.time_stretch(y, 1.1, n_fft=512), 1e-5),
    "pitch_shift": (lambda y: dsp.pitch_shift(y, 16000, -2, n_fft=512), 1e-5),
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=3, deadline=None)
@given(n_clips=st.integers(2, 4), n_samples=st.integers(600, 6000), seed=st.integers(0, 1000))
def test_batch_equals_per_clip(name, n_clips, n_samples, seed, speech_like):
    fn, rtol = REGISTRY[name]
    Y = speech_like(n_clips, n_samples, seed=seed)
    batch = fn(Y)
    assert batch.shape[0] == n_clips
    assert batch.dtype in (np.float32, np.complex64), batch.dtype  # float32 in, float32 out
    for i in range(n_clips):
        single = fn(Y[i])
        assert single.shape == batch.shape[1:]
        scale = max(np.abs(single).max(), 1e-30)
        np.testing.assert_allclose(batch[i], single, rtol=0, atol=rtol * scale, err_msg=f"{name}, clip {i}")


def test_random_augmenters_draw_independently_per_clip(speech_like):
    """Batched random calls use independent draws per clip (rows are not copies of each other)."""
    Y = np.repeat(speech_like(1, 5000), 3, axis=0)  # three identical clips
    for fn in (lambda y: dsp.awgn(y, 10.0, np.random.default_rng(0)),
               lambda y: dsp.peak_noise(y, 0.05, np.random.default_rng(0))):
        out = fn(Y)
        assert not np.allclose(out[0], out[1]) and not np.allclose(out[1], out[2])


def test_blocks_on_threads_give_the_bits_of_one_thread(monkeypatch):
    """A batch spanning several blocks: the STFT and the mel spectrogram computed with the
    blocks spread over threads equal, bit for bit, the same on one thread; and every clip
    equals its own one-clip call."""
    stft_module = importlib.import_module("dsp.stft")  # dsp.stft is the function
    y = np.random.default_rng(0).standard_normal((12, 48000)).astype(np.float32)
    params = dict(n_fft=1024, hop_length=256, win_length=512, window="hamming")
    frames = 1 + 48000 // 256
    assert 12 > stft_module._BLOCK_SAMPLES // (frames * 1024) >= 1  # several blocks
    threaded = dsp.stft(y, **params), dsp.melspectrogram(y=y, sr=16000, n_mels=64, **params)
    monkeypatch.setattr(stft_module, "_threads", lambda n_tasks: 1)
    single = dsp.stft(y, **params), dsp.melspectrogram(y=y, sr=16000, n_mels=64, **params)
    for a, b in zip(threaded, single):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(threaded[1][7], dsp.melspectrogram(y=y[7], sr=16000, n_mels=64, **params))
