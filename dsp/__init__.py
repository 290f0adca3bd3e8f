"""dsp: the hand-written audio front end of minitorch-ser (NumPy + SciPy + soundfile).

The signal chain, one module per step::

    io.py         load (soundfile, mono, resample), resample, fix_length
    util.py       normalize (librosa.util.normalize: unit peak / Lp norm), standardize (z-score)
    framing.py    frame: overlapping frames as a strided view
    windows.py    get_window: Hann / Hamming (periodic or symmetric)
    stft.py       stft, istft, fft_frequencies
    mel.py        hz_to_mel, mel_to_hz, mel_frequencies, vtlp_warp, mel_filterbank, melspectrogram
    convert.py    power_to_db, db_to_power
    deltas.py     delta (Savitzky-Golay), logmel_deltas (3-channel log-mel + deltas)
    augment.py    awgn, peak_noise, gain, phase_vocoder, time_stretch, pitch_shift, speed_perturb,
                  spec_augment

Names, arguments, defaults and definitions follow librosa, so the same call gives the same
numbers; where they cannot, the function's docstring says so (``load``'s ``sr=None``, the
polyphase resampler of ``resample`` / ``load`` / ``pitch_shift`` where librosa defaults to
``soxr_hq``, ``power_to_db``'s per-example reference in a batch). ``standardize`` (the papers'
z-score), ``speed_perturb`` and VTLP (``vtlp_warp``, ``mel_filterbank(..., vtlp_alpha=...)``)
have no librosa counterpart; ``normalize`` is librosa's peak / Lp scaling. Every function is
batch-aware: leading dimensions are a batch, so ``melspectrogram(y=Y)`` with
``Y : (N, n_samples)`` returns ``(N, n_mels, n_frames)`` from one vectorized call. float32 in
gives float32 out. Bad arguments raise ``ValueError`` naming the parameter and the constraint;
unreadable files raise :class:`AudioLoadError`.

Example (the BAVED paper's features)::

    import numpy as np, dsp
    y, sr = dsp.load("clip.wav", sr=16000)
    y = dsp.fix_length(dsp.standardize(y), 3 * sr)   # z-score, then 3 s
    S = dsp.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=256, win_length=512,
                           window="hamming", n_mels=128, fmax=8000)
    S_db = dsp.power_to_db(S, ref=np.max)          # (128, 188)
"""
from .augment import (awgn, gain, peak_noise, phase_vocoder, pitch_shift, spec_augment, speed_perturb,
                      time_stretch)
from .convert import db_to_power, power_to_db
from .deltas import delta, logmel_deltas
from .framing import frame
from .io import AudioInfo, AudioLoadError, AudioTruncatedWarning, fix_length, info, load, resample
from .mel import hz_to_mel, mel_filterbank, mel_frequencies, mel_to_hz, melspectrogram, vtlp_warp
from .stft import fft_frequencies, istft, stft
from .util import normalize, standardize
from .windows import get_window

__all__ = [
    "AudioLoadError", "AudioTruncatedWarning", "AudioInfo", "info", "load", "resample",
    "fix_length", "normalize", "standardize",
    "frame", "get_window",
    "fft_frequencies", "stft", "istft",
    "hz_to_mel", "mel_to_hz", "mel_frequencies", "vtlp_warp", "mel_filterbank", "melspectrogram",
    "power_to_db", "db_to_power",
    "delta", "logmel_deltas",
    "awgn", "peak_noise", "gain", "phase_vocoder", "time_stretch", "pitch_shift", "speed_perturb",
    "spec_augment",
]
