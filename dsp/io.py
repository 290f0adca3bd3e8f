"""Audio input and sample-level utilities: load, resample, fix_length, normalize.

``load`` reads any format libsndfile understands (WAV in all PCM / float widths, FLAC, OGG,
AIFF, ...) through ``soundfile``, averages the channels to mono and resamples with a polyphase
filter, following ``librosa.load``. Unreadable input raises :class:`AudioLoadError`, which
names the file.
"""
from __future__ import annotations

import math
import os
import struct

import numpy as np
import scipy.signal
import soundfile

from ._checks import check_audio, check_finite, check_int, check_positive_number, float_dtype

__all__ = ["AudioLoadError", "load", "resample", "fix_length", "normalize"]


class AudioLoadError(ValueError):
    """An audio file could not be turned into samples.

    Raised by :func:`load` when the file is missing, is not audio (libsndfile does not
    recognise it), is truncated (a WAV whose ``data`` chunk declares more bytes than the file
    holds, or a compressed stream that fails to decode), holds no samples, or holds NaN / inf
    samples. The message always starts with the file's path. It subclasses ``ValueError`` so
    ``except ValueError`` also catches it.
    """


def load(path, sr=None, mono=True, offset=0.0, duration=None, dtype=np.float32):
    """Load an audio file as floating-point samples in [-1, 1].

    Parameters
    ----------
    path : str or os.PathLike
        Audio file readable by libsndfile (WAV: 8-bit unsigned, 16/24/32-bit PCM, 32/64-bit
        float; FLAC; OGG; AIFF; ...).
    sr : int > 0 or None
        Target sampling rate. ``None`` keeps the file's own rate; otherwise the signal is
        resampled with :func:`resample` (polyphase). Note: the default is ``None``, not
        librosa's 22050, so nothing is resampled unless asked.
    mono : bool
        Average the channels into one: ``y[n] = (1/C) sum_c x_c[n]``.
    offset : float >= 0
        Start reading this many seconds into the file.
    duration : float > 0 or None
        Read at most this many seconds (``None``: to the end).
    dtype : float dtype
        Returned sample type (default float32, like librosa).

    Returns
    -------
    y : ndarray, shape (n_samples,) if mono or the file has one channel, else (C, n_samples)
    sr : int
        Sampling rate of ``y``.

    Raises
    ------
    AudioLoadError
        Missing, empty, truncated, non-audio or non-finite file (the message names the file).
    ValueError
        Invalid ``sr``, ``offset`` or ``duration``.
    """
    name = os.fspath(path)
    if sr is not None:
        sr = check_int("sr", sr, minimum=1)
    if not (np.isfinite(offset) and offset >= 0):
        raise ValueError(f"offset={offset} must be a finite number >= 0 (seconds)")
    if duration is not None:
        check_positive_number("duration", duration)
    if not os.path.isfile(name):
        raise AudioLoadError(f"{name}: no such file")

    try:
        with soundfile.SoundFile(name) as f:
            sr_native = f.samplerate
            if f.format == "WAV":
                _check_wav_not_truncated(name)
            start = int(round(offset * sr_native))
            n_frames = -1 if duration is None else int(round(duration * sr_native))
            if start > 0:
                f.seek(min(start, f.frames))
            data = f.read(frames=n_frames, dtype="float32" if float_dtype(dtype) == np.float32 else "float64",
                          always_2d=True)  # (n_samples, C)
    except AudioLoadError:
        raise
    except (RuntimeError, OSError, EOFError, struct.error) as err:
        raise AudioLoadError(f"{name}: cannot decode as audio ({err})") from err

    if data.shape[0] == 0:
        where = "" if start == 0 else f" after offset={offset} s"
        raise AudioLoadError(f"{name}: contains no samples{where}")
    try:
        check_finite(data, "samples")
    except ValueError as err:
        raise AudioLoadError(f"{name}: {err}") from err

    y = data.T  # (C, n_samples)
    if mono or y.shape[0] == 1:
        y = y.mean(axis=0, dtype=y.dtype) if y.shape[0] > 1 else y[0]
    if sr is not None and sr != sr_native:
        y = resample(y, sr_native, sr)
    else:
        sr = sr_native
    return np.ascontiguousarray(y, dtype=dtype), int(sr)


def _check_wav_not_truncated(name: str) -> None:
    """Raise :class:`AudioLoadError` if a RIFF/WAVE file ends before its ``data`` chunk does.

    libsndfile silently clamps a truncated WAV to the bytes present, so the header is checked
    here: walk the RIFF chunks (id, little-endian uint32 size, payload padded to an even size)
    to ``data`` and compare its declared size with the bytes that follow it. A declared size of
    0 or 0xFFFFFFFF marks a streamed file whose writer never patched the header; it is allowed.
    """
    file_size = os.path.getsize(name)
    with open(name, "rb") as fh:
        header = fh.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return  # RF64 / W64 / RIFX: left to libsndfile
        pos = 12
        while pos + 8 <= file_size:
            fh.seek(pos)
            chunk_id, size = struct.unpack("<4sI", fh.read(8))
            if chunk_id == b"data":
                available = file_size - (pos + 8)
                if size not in (0, 0xFFFFFFFF) and size > available:
                    raise AudioLoadError(
                        f"{name}: truncated WAV file: data chunk declares {size} bytes but only {available} are present"
                    )
                return
            pos += 8 + size + (size & 1)
    raise AudioLoadError(f"{name}: truncated WAV file: no data chunk before the end of the file")


def resample(y, orig_sr, target_sr):
    """Resample ``y`` from ``orig_sr`` to ``target_sr`` with a polyphase FIR filter.

    With ``g = gcd(orig_sr, target_sr)``, ``up = target_sr / g`` and ``down = orig_sr / g``,
    the signal is upsampled by ``up`` (zeros inserted), low-pass filtered by a Kaiser-windowed
    sinc FIR (cut-off ``1 / max(up, down)`` of the Nyquist rate) and downsampled by ``down``
    (``scipy.signal.resample_poly``, which only evaluates the kept outputs). This is librosa's
    ``res_type='polyphase'``.

    Parameters
    ----------
    y : ndarray, shape (..., n_samples), float
        Audio; leading dimensions are a batch, resampled in one call.
    orig_sr, target_sr : int > 0
        Integer sampling rates.

    Returns
    -------
    y_hat : ndarray, shape (..., ceil(n_samples * target_sr / orig_sr)), same float dtype as ``y``
        ``y`` itself (not a copy) when the rates are equal.
    """
    y = check_audio(y)
    orig_sr = check_int("orig_sr", orig_sr, minimum=1)
    target_sr = check_int("target_sr", target_sr, minimum=1)
    if orig_sr == target_sr:
        return y
    g = math.gcd(orig_sr, target_sr)
    return _resample_poly(y, target_sr // g, orig_sr // g)


def _resample_poly(y: np.ndarray, up: int, down: int) -> np.ndarray:
    """Polyphase resampling by the rational factor ``up / down`` along the last axis.

    Output length ``ceil(n * up / down)``, same dtype as ``y``.
    """
    n_out = -(-y.shape[-1] * up // down)  # ceil(n * up / down) in integers
    y_hat = scipy.signal.resample_poly(y, up, down, axis=-1)
    return fix_length(y_hat, n_out).astype(y.dtype, copy=False)


def fix_length(y, size, axis=-1, **kwargs):
    """Zero-pad at the end or trim ``y`` so that ``y.shape[axis] == size``.

    Parameters
    ----------
    y : ndarray, shape (..., n_samples)
    size : int >= 0
        Desired length along ``axis``.
    axis : int
        Axis to pad or trim (default: the last, time).
    **kwargs
        Passed to ``numpy.pad`` when padding (default ``mode='constant'``, i.e. zeros).

    Returns
    -------
    y_fixed : ndarray, same shape as ``y`` except ``size`` along ``axis``
        A view of ``y`` when trimming, a new array when padding, ``y`` when already ``size``.
    """
    y = np.asarray(y)
    size = check_int("size", size, minimum=0)
    if y.ndim == 0:
        raise ValueError("y must have at least one dimension; got a scalar")
    axis = axis % y.ndim
    n = y.shape[axis]
    if n > size:
        index = [slice(None)] * y.ndim
        index[axis] = slice(0, size)
        return y[tuple(index)]
    if n < size:
        kwargs.setdefault("mode", "constant")
        pad_width = [(0, 0)] * y.ndim
        pad_width[axis] = (0, size - n)
        return np.pad(y, pad_width, **kwargs)
    return y


def normalize(y, axis=-1, eps=1e-8):
    """Standardize each clip to zero mean and unit variance.

    ``y_hat = (y - mean(y)) / max(std(y), eps)``, statistics taken over ``axis`` (time), so each
    clip of a batch ``(..., n_samples)`` is standardized on its own. A silent (constant) clip
    has ``std = 0`` and becomes all zeros instead of NaN.

    Note: this is the z-normalization the papers use, *not* ``librosa.util.normalize`` (which
    scales by the maximum absolute value).

    Parameters
    ----------
    y : ndarray, shape (..., n_samples), float
    axis : int
        Axis holding the samples.
    eps : float > 0
        Floor on the standard deviation.

    Returns
    -------
    y_hat : ndarray, same shape and float dtype as ``y``
    """
    y = check_audio(y)
    eps = check_positive_number("eps", eps)
    # Statistics in float64: a float32 mean of a constant clip is off by ~1e-8 relative, which
    # would leave rounding noise above eps and blow it up to unit variance.
    mean = y.mean(axis=axis, keepdims=True, dtype=np.float64)
    centred = y - mean                                                     # float64
    std = np.sqrt(np.mean(np.square(centred), axis=axis, keepdims=True))
    return (centred / np.maximum(std, eps)).astype(y.dtype)
