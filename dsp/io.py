"""Audio input and sample-level utilities: load, info, resample, fix_length.

``load`` reads any format libsndfile understands (WAV in all PCM / float widths, FLAC, OGG,
MP3, AIFF, ...) through ``soundfile``, averages the channels to mono and resamples with a
polyphase filter, following ``librosa.load``.

**What decodes is what counts.** A header's length is a promise the file may not keep: a WAV
written to a pipe keeps a placeholder ``data`` size (``0xFFFFFFFF``, ``0x7FFFFFFF``, sox's
``0x7FFFF000``, ``2_000_000_000``, or 0), a streaming FLAC encoder leaves STREAMINFO's total
samples at 0 ("unknown"), and a file cut short declares more than it holds. So ``load`` never
sizes anything from the header: it decodes block by block until the decoder stops, and
returns the samples that decoded. A WAV whose ``data`` size libsndfile does not accept (0) is
decoded from its RIFF chunks with NumPy. When a compressed stream ends before its header said
it would, or the decoder loses sync part-way, the samples before that point are returned and
an :class:`AudioTruncatedWarning` names the file and both lengths. (A WAV gets no warning: a
pipe-written one and a cut one cannot be told apart, and libsndfile already bounds its
length by the bytes present.) ``info`` reports the decoded length the same way.

Where soundfile cannot be loaded (not installed, or no libsndfile on the system), RIFF/WAVE
files are still read, by the same NumPy reader, and any other format raises
:class:`AudioLoadError` saying why. Unreadable input raises :class:`AudioLoadError`, which
names the file.
"""
from __future__ import annotations

import math
import os
import struct
import warnings
from typing import NamedTuple

import numpy as np

try:
    import soundfile
except (ImportError, OSError) as _err:   # not installed, or its libsndfile cannot be loaded
    soundfile, _SOUNDFILE_ERROR = None, _err

from ._checks import check_audio, check_finite, check_int, check_positive_number, float_dtype

__all__ = ["AudioLoadError", "AudioTruncatedWarning", "AudioInfo", "load", "info", "resample",
           "fix_length"]

_BLOCK = 16384                    # frames decoded per read
_UNKNOWN_LENGTH = 2 ** 62         # libsndfile reports SF_COUNT_MAX frames for an unknown length
_WAVE_FORMAT_PCM, _WAVE_FORMAT_IEEE_FLOAT, _WAVE_FORMAT_EXTENSIBLE = 0x0001, 0x0003, 0xFFFE


# Largest |sample| accepted: squared and summed over a frame it stays far below float32's
# largest number (3.4e38), so every power spectrogram of the clip is finite.
MAX_SAMPLE = 1e15


class AudioLoadError(ValueError):
    """An audio file could not be turned into samples.

    Raised by :func:`load` and :func:`info` when the file is missing, is not audio (libsndfile
    does not recognise it and it is no RIFF/WAVE file NumPy can decode), nothing in it decodes,
    it holds no samples, or (``load``) it holds NaN / inf samples. The message always starts
    with the file's path. It subclasses ``ValueError`` so ``except ValueError`` also catches it.
    """


class AudioTruncatedWarning(UserWarning):
    """A compressed stream ended before its header said it would; what decoded was kept.

    Issued by :func:`load` when a FLAC / MP3 / ... decodes to fewer samples than its header
    declares, when the decoder loses sync part-way (a cut FLAC), or when an Ogg stream has no
    end-of-stream page. The message names the file, the declared and the decoded lengths.
    """


class AudioInfo(NamedTuple):
    """What :func:`info` found by decoding a file.

    Attributes
    ----------
    samplerate : int
        Samples per second of each channel.
    channels : int
    frames : int
        Samples per channel that decode (not the header's claim).
    declared_frames : int or None
        Samples per channel the header declares; ``None`` when it declares none (a streamed
        FLAC with 0 total samples, a RIFF ``data`` size of 0).
    format, subtype : str
        libsndfile's names (``"WAV"``, ``"PCM_16"``, ...).
    """

    samplerate: int
    channels: int
    frames: int
    declared_frames: int | None
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Decoded length in seconds, ``frames / samplerate``."""
        return self.frames / self.samplerate


def load(path, sr=None, mono=True, offset=0.0, duration=None, dtype=np.float32):
    """Load an audio file as floating-point samples in [-1, 1].

    The file is decoded block by block until the decoder stops (module docstring), so the
    length of ``y`` is what decodes, whatever the header declares.

    Parameters
    ----------
    path : str or os.PathLike
        Audio file readable by libsndfile (WAV: 8-bit unsigned, 16/24/32-bit PCM, 32/64-bit
        float; FLAC; OGG; MP3; AIFF; ...).
    sr : int > 0 or None
        Target sampling rate (Hz). ``None`` keeps the file's own rate; otherwise the signal is
        resampled with :func:`resample` (polyphase). Note: the default is ``None``, not
        librosa's 22050, so nothing is resampled unless asked; and the resampler is always
        the polyphase one, not librosa's default ``res_type='soxr_hq'``.
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
        Missing, empty, non-audio, undecodable or non-finite file, or samples beyond
        ``MAX_SAMPLE`` (the message names the file).
    ValueError
        Invalid ``sr``, ``offset`` or ``duration``.

    Warns
    -----
    AudioTruncatedWarning
        A compressed stream ended before its declared length; ``y`` holds what decoded.
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

    decoded = _decode(name, offset, duration, float_dtype(dtype))
    data, sr_native = decoded.data, decoded.samplerate                    # (n_samples, C)
    if data.shape[0] == 0:
        where = "" if offset == 0 else f" after offset={offset} s"
        why = "" if decoded.error is None else f" ({decoded.error})"
        raise AudioLoadError(f"{name}: contains no samples{where}{why}")
    _warn_if_cut(name, decoded)
    try:
        check_finite(data, "samples")
    except ValueError as err:
        raise AudioLoadError(f"{name}: {err}") from err
    peak = float(np.abs(data).max())
    if peak > MAX_SAMPLE:       # a float file far outside [-1, 1]: its power overflows float32
        raise AudioLoadError(f"{name}: samples reach {peak:.3g}, far outside [-1, 1] (at most "
                             f"{MAX_SAMPLE:.0e} is read): a spectrogram of them overflows")

    y = data.T  # (C, n_samples)
    if mono or y.shape[0] == 1:
        y = y.mean(axis=0, dtype=y.dtype) if y.shape[0] > 1 else y[0]
    if sr is not None and sr != sr_native:
        y = resample(y, sr_native, sr)
    else:
        sr = sr_native
    return np.ascontiguousarray(y, dtype=dtype), int(sr)


def info(path) -> AudioInfo:
    """Rate, channels and the *decoded* length of an audio file.

    Unlike ``soundfile.info``, whose ``frames`` and ``duration`` repeat the header (a streamed
    FLAC claims ~2^63 samples, a cut MP3 its full length), the file is decoded to the end and
    its samples counted, as :func:`load` would read them. No warning is issued: compare
    ``frames`` with ``declared_frames``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    AudioInfo
        ``duration`` is ``frames / samplerate`` seconds.

    Raises
    ------
    AudioLoadError
        Missing, non-audio or undecodable file (the message names the file).
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise AudioLoadError(f"{name}: no such file")
    d = _decode(name, 0.0, None, np.dtype(np.float32), keep=False)
    return AudioInfo(d.samplerate, d.channels, d.frames, d.declared, d.format, d.subtype)


# ================================================================================== decoding
class _Decoded(NamedTuple):
    """What ``_decode`` read: ``data : (n, C)`` from the requested span, and how it ended."""

    data: np.ndarray
    samplerate: int
    channels: int
    frames: int               # frames decoded from the file's start to where decoding stopped
    declared: int | None      # frames the header declares (None: unknown)
    ended: bool               # decoding reached the end of what decodes (not a duration limit)
    error: str | None         # the decoder's complaint when it stopped early
    format: str
    subtype: str


if soundfile is not None:
    class _ForwardReader(soundfile.SoundFile):
        """A ``soundfile.SoundFile`` that only reads forward.

        After every read soundfile seeks to its own count of the position; libsndfile fails that
        seek on a stream of unknown length (a FLAC with 0 total samples) or one cut short, and the
        samples just decoded are lost with a "psf_fseek() failed" error. Declaring the file not
        seekable skips that seek; the reads are sequential anyway.
        """

        def seekable(self) -> bool:
            return False


def _open_forward(name: str):
    """``_ForwardReader(name)``; without a usable soundfile an OSError, so that a RIFF/WAVE
    file is decoded with NumPy (``_decode_riff``) and any other format is refused by name."""
    if soundfile is None:
        raise OSError(f"soundfile cannot be loaded ({_SOUNDFILE_ERROR}); only RIFF/WAVE "
                      f"files are read without it")
    return _ForwardReader(name)


def _decode(name: str, offset: float, duration: float | None, dtype: np.dtype,
            keep: bool = True) -> _Decoded:
    """Decode ``[offset, offset + duration)`` seconds of ``name`` in blocks; see ``load``.

    libsndfile first; a RIFF/WAVE file it refuses, or in which it finds no samples (a ``data``
    size of 0), is decoded with NumPy from the bytes present (``_read_riff_wave``). With
    ``keep=False`` the samples are only counted (``data`` is empty).
    """
    try:
        f = _open_forward(name)
    except (RuntimeError, OSError, EOFError) as err:     # soundfile.LibsndfileError: a RuntimeError
        if not _is_riff_wave(name):
            raise AudioLoadError(f"{name}: cannot decode as audio ({err})") from err
        return _decode_riff(name, offset, duration, dtype, keep, libsndfile_error=str(err))
    with f:
        sr, channels, fmt, subtype = f.samplerate, f.channels, f.format, f.subtype
        declared = f.frames if 0 < f.frames < _UNKNOWN_LENGTH else None
        start = int(round(offset * sr))
        stop = None if duration is None else start + int(round(duration * sr))
        pieces = [] if keep else None
        pos, error, ended = _read_span(f, pieces, 0, start, stop, _BLOCK, dtype)
    if error is not None:
        # The failing read may have decoded frames before the decoder stopped; their count is
        # lost with the exception, so decode again to that block and then frame by frame.
        with _open_forward(name) as f:
            _read_span(f, None, 0, pos, pos, _BLOCK, dtype)
            limit = pos + _BLOCK if stop is None else min(stop, pos + _BLOCK)
            pos = _read_span(f, pieces, pos, start, limit, 1, dtype)[0]
    if pos == 0 and _is_riff_wave(name):            # e.g. a data size of 0: libsndfile reads none
        return _decode_riff(name, offset, duration, dtype, keep, libsndfile_error=error)
    if pos == 0 and error is not None:
        raise AudioLoadError(f"{name}: cannot decode as audio ({error})")
    if ended and error is None and fmt == "OGG" and not _ogg_has_end_page(name):
        error = "the Ogg stream ends without its complete end-of-stream page"
    data = (np.concatenate(pieces) if pieces else np.zeros((0, channels), dtype)).astype(
        dtype, copy=False)
    return _Decoded(data, sr, channels, pos, declared, ended, error, fmt, subtype)


def _read_span(f, pieces, pos: int, start: int, stop: int | None, block: int, dtype):
    """Read ``f`` forward from frame ``pos`` in reads of ``block`` frames.

    Frames in ``[start, stop)`` are appended to ``pieces`` (unless it is None) as ``(n, C)``
    arrays. Returns ``(pos, error, ended)``: the frame where reading stopped, the decoder's
    message if a read failed, and whether the stream ended (a short read or a failure) rather
    than ``stop`` being reached.
    """
    while stop is None or pos < stop:
        want = block if stop is None else min(block, stop - pos)
        try:
            chunk = f.read(want, dtype=dtype.name, always_2d=True)            # (n <= want, C)
        except RuntimeError as err:          # e.g. "flac decoder lost sync": the file is cut
            return pos, str(err), True
        if pieces is not None and pos + len(chunk) > start:
            pieces.append(chunk[max(0, start - pos):])
        pos += len(chunk)
        if len(chunk) < want:
            return pos, None, True
    return pos, None, False


def _warn_if_cut(name: str, d: _Decoded) -> None:
    """Issue an ``AudioTruncatedWarning`` if decoding stopped before the stream's end."""
    if not d.ended:
        return
    sr = d.samplerate
    if d.error is not None:
        warnings.warn(f"{name}: decoding stopped at {d.frames / sr:.3f} s ({d.error}); the file "
                      f"is cut or damaged there, the {d.frames} samples before it are used",
                      AudioTruncatedWarning, stacklevel=3)
    elif d.declared is not None and d.frames < d.declared:
        warnings.warn(f"{name}: the header declares {d.declared} samples "
                      f"({d.declared / sr:.3f} s) but only {d.frames} ({d.frames / sr:.3f} s) "
                      f"decode: the file is truncated; using what decodes",
                      AudioTruncatedWarning, stacklevel=3)


def _ogg_has_end_page(name: str) -> bool:
    """Whether ``name`` ends with a complete Ogg page carrying the end-of-stream flag.

    An Ogg page (RFC 3533, section 6) is a 27-byte header (``b"OggS"``, version, header type
    whose bit 0x04 marks the last page of a stream, ..., and at byte 26 the number of
    segments), a lacing table of one byte per segment, and the segments, as long as the lacing
    values add up to. A file cut short ends inside a page, or after one without the flag.
    """
    size = os.path.getsize(name)
    with open(name, "rb") as fh:
        fh.seek(max(0, size - 65536))   # an Ogg page is at most 27 + 255 + 255 * 255 bytes
        tail = fh.read()
    at = tail.rfind(b"OggS")
    if at < 0 or at + 27 > len(tail):
        return False
    n_segments = tail[at + 26]
    lacing = tail[at + 27:at + 27 + n_segments]
    complete = len(lacing) == n_segments and at + 27 + n_segments + sum(lacing) <= len(tail)
    return complete and bool(tail[at + 5] & 0x04)


# ================================================================= RIFF/WAVE decoded by NumPy
def _is_riff_wave(name: str) -> bool:
    with open(name, "rb") as fh:
        header = fh.read(12)
    return len(header) == 12 and header[:4] == b"RIFF" and header[8:12] == b"WAVE"


def _decode_riff(name, offset, duration, dtype, keep, libsndfile_error=None) -> _Decoded:
    """``_decode`` for a RIFF/WAVE file libsndfile refused or found no samples in, by NumPy.

    ``libsndfile_error`` (its message, if it failed) is added to an ``AudioLoadError``.
    """
    try:
        x, sr, subtype = _read_riff_wave(name)                                   # (n, C)
    except ValueError as err:
        said = "" if libsndfile_error is None else f"libsndfile: {libsndfile_error}; "
        raise AudioLoadError(f"{name}: cannot decode as audio ({said}RIFF chunks: {err})") from err
    start = int(round(offset * sr))
    stop = len(x) if duration is None else min(len(x), start + int(round(duration * sr)))
    data = x[start:stop].astype(dtype) if keep else np.zeros((0, x.shape[1]), dtype)
    return _Decoded(data, sr, x.shape[1], stop, None, stop == len(x), None, "WAV", subtype)


def _read_riff_wave(name: str) -> tuple[np.ndarray, int, str]:
    """Decode a RIFF/WAVE file's samples from the bytes present, with NumPy.

    Walks the chunks (4-byte id, little-endian uint32 size, payload padded to an even size)
    to ``fmt `` and ``data``. The ``data`` payload runs for its declared size, or to the end of
    the file when the size is 0 or larger than what is there (a pipe-written placeholder);
    a trailing partial frame is dropped. Decoding follows libsndfile's scaling so both paths
    give the same floats: 8-bit unsigned ``(u - 128) / 128``, signed 16/24/32-bit
    ``s / 2^(bits-1)``, IEEE float 32/64 as is, all little-endian.

    Returns
    -------
    x : (n_frames, C) float64
    sr : int
    subtype : str
        libsndfile's name of the sample format (``"PCM_16"``, ``"FLOAT"``, ...).

    Raises
    ------
    ValueError
        No ``fmt `` chunk before ``data``, no ``data`` chunk, an invalid ``fmt `` chunk, or a
        format other than PCM and IEEE float (``_decode_riff`` adds the file's name).
    """
    with open(name, "rb") as fh:
        raw = fh.read()
    fmt = None
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id, size = struct.unpack_from("<4sI", raw, pos)
        body = pos + 8
        if chunk_id == b"fmt " and size >= 16 and body + 16 <= len(raw):
            tag, channels, sr, _, block_align, bits = struct.unpack_from("<HHIIHH", raw, body)
            if tag == _WAVE_FORMAT_EXTENSIBLE and size >= 40 and body + 26 <= len(raw):
                tag = struct.unpack_from("<H", raw, body + 24)[0]    # first 2 bytes of SubFormat
            fmt = (tag, channels, sr, block_align, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError("no 'fmt ' chunk before the 'data' chunk, so the sample "
                                 "format is unknown")
            available = len(raw) - body
            n_bytes = available if size == 0 or size > available else size
            return _pcm_to_float(raw[body:body + n_bytes], *fmt)
        pos = body + size + (size & 1)
    raise ValueError(f"no 'data' chunk before the end of the file (byte {len(raw)})")


def _pcm_to_float(data: bytes, tag, channels, sr, block_align, bits):
    """Interleaved little-endian samples -> ``(n_frames, channels)`` float64, and the subtype."""
    if channels < 1 or sr < 1 or block_align < channels or block_align % channels:
        raise ValueError(f"the 'fmt ' chunk is invalid: channels={channels}, rate={sr}, "
                         f"block_align={block_align} (needs channels >= 1, rate >= 1 and "
                         f"block_align a positive multiple of channels)")
    width = block_align // channels                                 # bytes per sample
    n_frames = len(data) // block_align
    data = data[:n_frames * block_align]                            # drop a partial last frame
    if tag == _WAVE_FORMAT_PCM and width == 1:
        x = (np.frombuffer(data, np.uint8).astype(np.float64) - 128.0) / 128.0
        subtype = "PCM_U8"
    elif tag == _WAVE_FORMAT_PCM and width in (2, 4):
        x = np.frombuffer(data, f"<i{width}").astype(np.float64) / 2.0 ** (8 * width - 1)
        subtype = f"PCM_{8 * width}"
    elif tag == _WAVE_FORMAT_PCM and width == 3:
        b = np.frombuffer(data, np.uint8).reshape(-1, 3)           # three little-endian bytes
        top = b[:, 2].view(np.int8).astype(np.int32)               # read as signed: the sign
        s24 = b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (top << 16)
        x = s24.astype(np.float64) / 2.0 ** 23
        subtype = "PCM_24"
    elif tag == _WAVE_FORMAT_IEEE_FLOAT and width in (4, 8):
        x = np.frombuffer(data, f"<f{width}").astype(np.float64)
        subtype = "FLOAT" if width == 4 else "DOUBLE"
    else:
        raise ValueError(f"format tag {tag:#06x} with {bits}-bit samples ({width}-byte "
                         f"containers) is neither PCM (8/16/24/32-bit) nor IEEE float "
                         f"(32/64-bit)")
    return x.reshape(n_frames, channels), int(sr), subtype


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
        Integer sampling rates (Hz).

    Returns
    -------
    y_hat : ndarray, shape (..., ceil(n_samples * target_sr / orig_sr)), same float dtype as ``y``
        ``y`` itself (not a copy) when the rates are equal.

    Raises
    ------
    ValueError
        ``y`` not float, empty or non-finite; a rate that is not an integer >= 1 (a float,
        even ``16000.0``, is refused).

    Notes
    -----
    librosa's default is ``res_type='soxr_hq'`` (the SoX resampler), which this module does
    not implement: ``dsp.resample(y, a, b)`` equals ``librosa.resample(y, orig_sr=a,
    target_sr=b, res_type='polyphase')``, not the default call. There is no ``res_type``,
    ``fix``, ``scale`` or ``axis`` argument: the output always has librosa's ``fix=True``
    length and ``scale=False`` amplitude, along the last axis.
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
    # scipy.signal takes about half a second to import: loaded here, on the first resampling,
    # so that ``import dsp`` (and a command line that never resamples) starts at once
    import scipy.signal

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

    Raises
    ------
    ValueError
        ``size`` not an integer >= 0, or ``y`` a scalar.
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
