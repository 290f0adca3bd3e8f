"""Short-time Fourier transform and its inverse, batched and vectorized.

The STFT of ``y : (..., n)`` is computed over blocks of a few clips: frame the padded
signal with a strided view, multiply by the window, one real FFT (``scipy.fft.rfft``, in
float32 for float32 input) per block. Nothing loops over clips or frames in Python; blocks
(a few MiB each, so that a block's FFT and what follows it stay in cache) run on as many
threads as there are usable CPUs (see ``_for_each_block``).

Definitions follow librosa 0.10 so a user moving between the two gets the same numbers.
"""
from __future__ import annotations

import os

import numpy as np

from ._checks import check_audio, check_int, float_dtype
from .windows import get_window

__all__ = ["fft_frequencies", "stft", "istft"]

# numpy.pad modes accepted for centre padding.
_PAD_MODES = ("constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum",
              "reflect", "symmetric", "wrap")
# Target number of real samples in one FFT input block (4 MiB of float32: 5 clips of 3 s at
# n_fft=1024, hop 256): large enough to amortize Python and FFT-call overhead, small enough
# for a block's passes to stay in cache. Measured on the README's 2-core machine, 256 clips of
# log-mel took about the same time at 2 to 5 clips per block and 20 % more at 1 or 8.
_BLOCK_SAMPLES = 1 << 20


def fft_frequencies(sr=22050, n_fft=2048):
    """Centre frequency of each STFT bin: ``f_k = k * sr / n_fft``, ``k = 0 .. n_fft // 2``.

    This is ``librosa.fft_frequencies`` (``numpy.fft.rfftfreq(n_fft, 1 / sr)``).

    Parameters
    ----------
    sr : float > 0
        Sampling rate (Hz).
    n_fft : int > 0
        FFT length.

    Returns
    -------
    freqs : ndarray, shape (1 + n_fft // 2,), float64, in Hz (0 to ``sr / 2`` for even n_fft)

    Raises
    ------
    ValueError
        ``n_fft`` not an integer >= 1.
    """
    n_fft = check_int("n_fft", n_fft, minimum=1)
    return np.arange(1 + n_fft // 2) * (float(sr) / n_fft)


def resolve_stft_params(n_fft, hop_length, win_length):
    """Apply librosa's defaults and check the STFT geometry.

    ``win_length`` defaults to ``n_fft`` and ``hop_length`` to ``win_length // 4``.

    Parameters
    ----------
    n_fft : int > 0
        FFT length (samples).
    hop_length : int > 0 or None
        Samples between frames; ``None`` gives ``win_length // 4``.
    win_length : int, 0 < win_length <= n_fft, or None
        Window length (samples); ``None`` gives ``n_fft``.

    Returns
    -------
    n_fft, hop_length, win_length : int

    Raises
    ------
    ValueError
        ``n_fft < 1``, ``hop_length < 1``, ``win_length < 1`` or ``win_length > n_fft``.
    """
    n_fft = check_int("n_fft", n_fft, minimum=1)
    win_length = n_fft if win_length is None else check_int("win_length", win_length, minimum=1)
    if win_length > n_fft:
        raise ValueError(f"win_length={win_length} must be <= n_fft={n_fft}")
    if hop_length is None:
        hop_length = win_length // 4
        if hop_length < 1:
            raise ValueError(
                f"hop_length={hop_length} must be >= 1: the default win_length // 4 is 0 for "
                f"win_length={win_length}; pass hop_length explicitly"
            )
    hop_length = check_int("hop_length", hop_length, minimum=1)
    return n_fft, hop_length, win_length


def stft_n_frames(n_samples, n_fft, hop_length, center=True):
    """Number of STFT frames: ``1 + (n_samples + 2 * (n_fft // 2) * center - n_fft) // hop_length``.

    Parameters
    ----------
    n_samples : int >= 0
        Signal length (samples); with ``center=False`` at least ``n_fft``.
    n_fft : int > 0
        Frame length (samples).
    hop_length : int > 0
        Samples between frames.
    center : bool
        Whether the signal is padded by ``n_fft // 2`` samples on each side (:func:`stft`).

    Returns
    -------
    n_frames : int
        No arguments are checked (callers have validated them).
    """
    padded = n_samples + 2 * (n_fft // 2) if center else n_samples
    return 1 + (padded - n_fft) // hop_length


def _threads(n_tasks: int) -> int:
    """Threads for ``n_tasks`` independent blocks: the usable CPUs, at most one per block."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(n_tasks, usable or 1))


def _for_each_block(y2, n_fft, hop_length, win_length, window, center, pad_mode, consume):
    """Call ``consume(start, stop, X)`` for every block of clips, blocks spread over threads.

    ``X : (stop - start, n_frames, 1 + n_fft // 2)`` complex is the STFT of clips
    ``y2[start:stop]`` (``y2 : (B, n)``, a validated float32/float64 batch), frame ``t`` of
    clip ``b`` being

        X[b, t, k] = sum_{m=0}^{n_fft-1} w_pad[m] * y_pad[b, t * hop_length + m] * exp(-2j pi k m / n_fft)

    where ``y_pad`` is ``y2`` padded by ``n_fft // 2`` on both sides when ``center`` and
    ``w_pad`` is the length-``win_length`` window zero-padded on both sides to ``n_fft``
    (``lpad = (n_fft - win_length) // 2`` zeros in front). Only the ``win_length`` non-zero
    products are computed: they are written into the middle of a zero buffer of frame length
    ``n_fft``, which is then transformed.

    Each block (a few clips, ``_BLOCK_SAMPLES`` FFT inputs) is padded, framed, windowed,
    transformed and consumed by one thread, start to finish, so that its few MiB stay in that
    core's cache; the blocks are spread over the usable CPUs. NumPy and SciPy's FFT release
    the GIL, so the threads run in parallel; the blocks are independent and every block is
    computed the same way whatever the number of threads, so the result does not depend on
    it. ``consume`` must write only its own rows ``start:stop`` of any output.
    """
    # scipy.fft (with scipy.special) takes a tenth of a second to import: loaded on the first
    # transform, so that ``import dsp`` and a command line's start stay quick
    import scipy.fft

    B, n = y2.shape
    real = y2.dtype
    n_frames = stft_n_frames(n, n_fft, hop_length, center)
    w = get_window(window, win_length, fftbins=True).astype(real)  # (win_length,)
    lpad = (n_fft - win_length) // 2
    block = max(1, _BLOCK_SAMPLES // (n_frames * n_fft))
    starts = range(0, B, block)

    def work(start):
        stop = min(start + block, B)
        yb = y2[start:stop]
        if center:
            # Pad so that frame t is centred on sample t * hop_length.
            yb = np.pad(yb, ((0, 0), (n_fft // 2, n_fft // 2)), mode=pad_mode)
        # Non-zero part of every frame: y_pad[t * hop + lpad : t * hop + lpad + win_length].
        frames = np.lib.stride_tricks.sliding_window_view(yb[:, lpad:], win_length, axis=-1)
        frames = frames[:, ::hop_length][:, :n_frames]  # (b, n_frames, win_length), a view
        buf = np.zeros((stop - start, n_frames, n_fft), dtype=real)  # zero outside the window
        np.multiply(frames, w, out=buf[:, :, lpad:lpad + win_length])
        consume(start, stop, scipy.fft.rfft(buf, axis=-1, workers=1))  # (b, n_frames, n_freq)

    threads = _threads(len(starts))
    if threads == 1:
        for start in starts:
            work(start)
    else:
        from concurrent.futures import ThreadPoolExecutor

        # a pool per call: nothing outlives the call (a process forked later inherits no
        # half-dead pool); starting two threads costs microseconds
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(work, starts):  # re-raises a block's exception here
                pass


def stft(y, n_fft=2048, hop_length=None, win_length=None, window="hann", center=True,
         pad_mode="constant", dtype=None):
    """Short-time Fourier transform.

    With the window ``w`` (length ``win_length``) zero-padded on both sides to ``n_fft``
    samples (``w_pad``, ``(n_fft - win_length) // 2`` zeros in front, as librosa does), and
    ``y_pad`` the signal padded by ``n_fft // 2`` samples on each side when ``center``:

        D[..., k, t] = sum_{m=0}^{n_fft-1} w_pad[m] * y_pad[..., t * hop_length + m] * exp(-2j pi k m / n_fft)

    for ``k = 0 .. n_fft // 2`` (the non-negative frequencies ``k * sr / n_fft``) and

        n_frames = 1 + (n + 2 * (n_fft // 2) - n_fft) // hop_length   (center=True)
        n_frames = 1 + (n - n_fft) // hop_length                        (center=False)

    Parameters
    ----------
    y : ndarray, shape (..., n), float
        Audio; leading dimensions are a batch, all transformed in one call.
    n_fft : int > 0
        FFT length (frame length after zero-padding the window).
    hop_length : int > 0 or None
        Samples between frames; default ``win_length // 4``.
    win_length : int, 0 < win_length <= n_fft, or None
        Window length; default ``n_fft``.
    window : str, callable or array_like
        See :func:`dsp.get_window` (periodic window). Default 'hann'.
    center : bool
        Pad so that frame ``t`` is centred on ``y[t * hop_length]``. A clip shorter than a
        frame still gives ``1 + n // hop_length`` frames (even ``n_fft``).
    pad_mode : str
        ``numpy.pad`` mode for the centre padding; default 'constant' (zeros), like librosa 0.10.
    dtype : complex dtype or None
        Output type; default complex64 for float32 input, complex128 for float64.

    Returns
    -------
    D : ndarray, shape (..., 1 + n_fft // 2, n_frames), complex

    Raises
    ------
    ValueError
        Bad geometry (see parameters), unknown window or pad mode, empty or non-finite ``y``,
        or ``center=False`` with ``n < n_fft``.
    """
    y = check_audio(y)
    n_fft, hop_length, win_length = resolve_stft_params(n_fft, hop_length, win_length)
    if pad_mode not in _PAD_MODES:
        raise ValueError(f"pad_mode={pad_mode!r} must be one of {_PAD_MODES}")
    real = float_dtype(y.dtype) if dtype is None else float_dtype(np.empty(0, dtype).real.dtype)
    out_dtype = np.result_type(real, np.complex64)
    n = y.shape[-1]
    if not center and n < n_fft:
        raise ValueError(f"n_fft={n_fft} must be <= the signal length {n} when center=False")

    lead = y.shape[:-1]
    y2 = y.reshape(-1, n).astype(real, copy=False)  # (B, n)
    n_frames = stft_n_frames(n, n_fft, hop_length, center)
    D = np.empty((y2.shape[0], 1 + n_fft // 2, n_frames), dtype=out_dtype)

    def consume(start, stop, X):
        D[start:stop] = X.transpose(0, 2, 1)  # (b, n_freq, n_frames)

    _for_each_block(y2, n_fft, hop_length, win_length, window, center, pad_mode, consume)
    return D.reshape(lead + D.shape[1:])


def overlap_add(frames, hop_length):
    """Overlap-add frames: ``y[..., t * hop_length + m] += frames[..., t, m]``.

    Parameters
    ----------
    frames : ndarray, shape (..., n_frames, frame_length)
    hop_length : int > 0

    Returns
    -------
    y : ndarray, shape (..., frame_length + hop_length * (n_frames - 1))

    Each frame is cut into ``K = ceil(frame_length / hop_length)`` hop-long pieces; piece ``k``
    of frame ``t`` lands on output block ``t + k``. So the sum is ``K`` vectorized slice
    additions over all frames at once (``K = 4`` for a 75 % overlap), never a loop over frames.
    """
    *lead, n_frames, frame_length = frames.shape
    K = -(-frame_length // hop_length)
    pieces = np.zeros((*lead, n_frames, K * hop_length), dtype=frames.dtype)
    pieces[..., :frame_length] = frames
    pieces = pieces.reshape(*lead, n_frames, K, hop_length)
    out = np.zeros((*lead, n_frames + K - 1, hop_length), dtype=frames.dtype)
    for k in range(K):
        out[..., k:k + n_frames, :] += pieces[..., :, k, :]
    return out.reshape(*lead, -1)[..., : frame_length + hop_length * (n_frames - 1)]


def istft(stft_matrix, hop_length=None, win_length=None, n_fft=None, window="hann", center=True,
          dtype=None, length=None):
    """Inverse STFT by weighted overlap-add with window-sum normalization.

    Each column is inverted with a real inverse FFT, multiplied by the synthesis window
    ``w_pad`` (the same zero-padded window as :func:`stft`) and overlap-added; the sum is then
    divided by the overlap-added squared window,

        y[n] = sum_t w_pad[n - t h] * x_t[n - t h] / sum_t w_pad[n - t h]^2,

    wherever that denominator exceeds the dtype's smallest normal number. This is the least
    squares inverse of the STFT (Griffin & Lim, 1984) and reconstructs ``y`` exactly (up to
    rounding) from ``stft(y)`` whenever the windows overlap everywhere (e.g. hop <= win/2).

    Parameters
    ----------
    stft_matrix : ndarray, shape (..., 1 + n_fft // 2, n_frames), complex
    hop_length : int > 0 or None
        Default ``win_length // 4``.
    win_length : int or None
        Default ``n_fft``.
    n_fft : int > 0 or None
        Default ``2 * (stft_matrix.shape[-2] - 1)``; pass it for an odd frame length.
    window : str, callable or array_like
        Must match the analysis window.
    center : bool
        The STFT was centred: drop the first ``n_fft // 2`` output samples.
    dtype : float dtype or None
        Default float32 for complex64 input, float64 for complex128.
    length : int > 0 or None
        Trim or zero-pad the output to exactly this many samples (use ``len(y)`` for a round
        trip); ``None`` gives ``n_fft + hop_length * (n_frames - 1)`` minus the centre padding.

    Returns
    -------
    y : ndarray, shape (..., n_samples), float

    Raises
    ------
    ValueError
        ``stft_matrix`` with fewer than 2 dimensions or no frame, ``stft_matrix.shape[-2]``
        other than ``1 + n_fft // 2``, bad geometry (see :func:`stft`), an unknown window, or
        ``length < 1``.
    """
    S = np.asarray(stft_matrix)
    if S.ndim < 2:
        raise ValueError(f"stft_matrix must have shape (..., n_freq, n_frames); got shape {S.shape}")
    if n_fft is None:
        n_fft = 2 * (S.shape[-2] - 1)
    n_fft, hop_length, win_length = resolve_stft_params(n_fft, hop_length, win_length)
    if S.shape[-2] != 1 + n_fft // 2:
        raise ValueError(f"stft_matrix.shape[-2]={S.shape[-2]} must equal 1 + n_fft // 2 = {1 + n_fft // 2}")
    if S.shape[-1] < 1:
        raise ValueError(f"stft_matrix must have at least one frame; got shape {S.shape}")
    if length is not None:
        length = check_int("length", length, minimum=1)
    real = float_dtype(S.real.dtype) if dtype is None else float_dtype(dtype)

    n_frames = S.shape[-1]
    start = n_fft // 2 if center else 0
    if length is not None:
        # Frames starting at or after start + length cannot reach the requested samples.
        n_frames = min(n_frames, -(-(start + length) // hop_length))
    S = S[..., :n_frames]

    w = get_window(window, win_length, fftbins=True)
    w_pad = np.zeros(n_fft)
    lpad = (n_fft - win_length) // 2
    w_pad[lpad:lpad + win_length] = w
    w_pad = w_pad.astype(real)

    import scipy.fft  # on first use, as in the forward transform

    frames = scipy.fft.irfft(np.swapaxes(S, -1, -2), n=n_fft, axis=-1, workers=-1)  # (..., n_frames, n_fft)
    frames = frames.astype(real, copy=False) * w_pad
    y = overlap_add(frames, hop_length)  # (..., n_fft + hop * (n_frames - 1))
    # Envelope of the squared synthesis windows, the same for every clip.
    window_sum = overlap_add(np.broadcast_to(w_pad ** 2, (n_frames, n_fft)), hop_length)
    nonzero = window_sum > np.finfo(real).tiny
    y[..., nonzero] /= window_sum[nonzero]

    if length is None:
        return y[..., start: y.shape[-1] - start] if center else y
    y = y[..., start:]
    if y.shape[-1] >= length:
        return y[..., :length]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])]
    return np.pad(y, pad)
