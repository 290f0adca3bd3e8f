"""Fixtures for the dsp tests: synthetic audio, audio files of many formats, oracles.

Everything is generated on the fly into ``tmp_path``; no real data is needed.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from audio_backend import soundfile_or_none


def tone(freq, sr, n_samples, amplitude=0.5, phase=0.0, dtype=np.float32):
    """``amplitude * sin(2 pi freq n / sr + phase)``, ``n = 0 .. n_samples - 1``."""
    n = np.arange(n_samples)
    return (amplitude * np.sin(2 * np.pi * freq * n / sr + phase)).astype(dtype)


@pytest.fixture(scope="session")
def make_tone():
    """The :func:`tone` generator."""
    return tone


@pytest.fixture(scope="session")
def peak_frequency():
    """Frequency (Hz) of the strongest spectral peak of a 1-D signal.

    Hann window, FFT zero-padded 8x, then a parabola through the log magnitudes of the peak
    bin and its neighbours (error well below 0.1 % of the frequency for a clean tone).
    """
    def estimate(x, sr):
        x = np.asarray(x, dtype=np.float64)
        n_fft = 8 * len(x)
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=n_fft))
        k = int(np.argmax(spectrum[1:-1])) + 1
        a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-300)
        shift = 0.5 * (a - c) / (a - 2 * b + c)
        return (k + shift) * sr / n_fft
    return estimate


@pytest.fixture(scope="session")
def speech_like():
    """Synthetic voiced 'speech': a glottal-like harmonic series with a vibrato and noise.

    Returns ``f(n_clips, n_samples, sr, seed) -> (n_clips, n_samples) float32``; clips differ
    in pitch, loudness and noise so batch tests cannot pass by symmetry.
    """
    def make(n_clips, n_samples, sr=16000, seed=0):
        rng = np.random.default_rng(seed)
        t = np.arange(n_samples) / sr
        f0 = rng.uniform(90, 260, size=(n_clips, 1))
        vibrato = 1 + 0.03 * np.sin(2 * np.pi * rng.uniform(3, 7, size=(n_clips, 1)) * t)
        phase = 2 * np.pi * np.cumsum(f0 * vibrato, axis=1) / sr
        harmonics = sum(np.sin(h * phase) / h for h in range(1, 12))
        envelope = np.clip(np.sin(np.pi * t / t[-1]) if n_samples > 1 else 1.0, 0, None)
        y = rng.uniform(0.05, 0.8, size=(n_clips, 1)) * envelope * harmonics
        y = y + 0.01 * rng.standard_normal((n_clips, n_samples))
        return y.astype(np.float32)
    return make


# ----------------------------------------------------------------------------- audio files

def _content(sr, channels, seconds=0.5):
    """Distinct tones per channel: 440 Hz (left) and 660 Hz at half amplitude (right)."""
    n = int(round(seconds * sr))
    left = tone(440.0, sr, n, amplitude=0.6, dtype=np.float64)
    right = tone(660.0, sr, n, amplitude=0.3, dtype=np.float64)
    return np.stack([left, right][:channels], axis=1)  # (n, channels), soundfile's layout


@pytest.fixture
def write_audio(tmp_path):
    """Write a two-tone test file: ``write_audio(name, sr, channels, format, subtype) -> (path, data)``.

    ``data : (n, channels)`` float64 is what was written (before the format's quantization):
    440 Hz at amplitude 0.6 on the first channel, 660 Hz at 0.3 on the second, 0.5 s long.
    """
    def write(name, sr, channels, fmt="WAV", subtype="PCM_16"):
        data = _content(sr, channels)
        path = tmp_path / name
        sf.write(path, data, sr, format=fmt, subtype=subtype)
        return path, data
    return write


@pytest.fixture
def bad_audio_files(tmp_path):
    """Files that must not load: ``name -> path`` (each a different failure)."""
    files = {"missing.wav": tmp_path / "missing.wav"}

    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    files["empty.wav"] = empty

    no_samples = tmp_path / "no_samples.wav"
    sf.write(no_samples, np.zeros((0, 1)), 16000, subtype="PCM_16")
    files["no_samples.wav"] = no_samples

    good = tmp_path / "good.wav"
    sf.write(good, _content(16000, 1), 16000, subtype="PCM_16")
    raw = good.read_bytes()
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(raw[: len(raw) // 2])  # header intact, half the data missing
    files["truncated.wav"] = truncated
    cut_header = tmp_path / "cut_header.wav"
    cut_header.write_bytes(raw[:30])
    files["cut_header.wav"] = cut_header

    text = tmp_path / "notes.wav"
    text.write_text("this is a text file, not audio\n" * 20)
    files["notes.wav"] = text

    nan_file = tmp_path / "nan.wav"
    data = _content(16000, 1).astype(np.float32)
    data[100, 0] = np.nan
    sf.write(nan_file, data, 16000, subtype="FLOAT")
    files["nan.wav"] = nan_file
    inf_file = tmp_path / "inf.wav"
    data[100, 0] = np.inf
    sf.write(inf_file, data, 16000, subtype="FLOAT")
    files["inf.wav"] = inf_file

    flac = tmp_path / "good.flac"
    sf.write(flac, _content(16000, 1, seconds=2.0), 16000, format="FLAC")
    raw = flac.read_bytes()
    truncated_flac = tmp_path / "truncated.flac"
    truncated_flac.write_bytes(raw[: len(raw) // 2])
    files["truncated.flac"] = truncated_flac
    return files


@pytest.fixture
def baved_dir():
    """Path of the real BAVED corpus from env BAVED_DIR; skips the test when unset or absent."""
    root = os.environ.get("BAVED_DIR")
    if not root or not Path(root).is_dir():
        pytest.skip("BAVED_DIR is not set (real-data test)")
    return Path(root)


sf = soundfile_or_none()
