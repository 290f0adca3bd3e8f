"""Delta (time-derivative) features and the stacked log-mel / delta / delta-delta input."""
from __future__ import annotations

from functools import lru_cache
from math import factorial

import numpy as np

from ._checks import check_int, float_dtype
from .convert import power_to_db
from .mel import melspectrogram

__all__ = ["delta", "logmel_deltas"]

# savgol edge modes other than 'interp', as numpy.pad modes.
_PAD_FOR_MODE = {"nearest": "edge", "mirror": "reflect", "wrap": "wrap", "constant": "constant"}


def savgol_matrix(width, order, polyorder):
    """Savitzky-Golay derivative operator for one window of ``width`` samples.

    Fit, by least squares, a polynomial ``p(x) = sum_q c_q x^q`` of degree ``polyorder`` to
    the samples at ``x = -h .. h`` (``h = width // 2``): ``c = pinv(A) v`` with the Vandermonde
    matrix ``A[j, q] = x_j^q``. Its ``order``-th derivative at ``x_i`` is

        p^(order)(x_i) = sum_{q >= order} c_q * q! / (q - order)! * x_i^(q - order)

    so ``G = E pinv(A)`` with ``E[i, q] = q! / (q - order)! * x_i^(q - order)`` maps the window
    to the derivative at each of its points.

    Parameters
    ----------
    width : int, odd, >= 3
        Window length (frames).
    order : int, 1 <= order <= polyorder
        Derivative order.
    polyorder : int, order <= polyorder < width
        Degree of the fitted polynomial. (Not checked here: :func:`delta` validates.)

    Returns
    -------
    G : ndarray, shape (width, width), float64
        Row ``h`` is the interior filter (derivative at the window centre); rows ``:h`` give the
        first ``h`` outputs from the first window and rows ``h + 1:`` the last ``h`` outputs from
        the last window (scipy's / librosa's ``mode='interp'`` edges).

    For ``order = polyorder = 1`` row ``h`` is the regression formula
    ``x / sum(x^2)``, i.e. ``d_t = sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n^2)``.
    """
    half = width // 2
    x = np.arange(-half, half + 1, dtype=np.float64)               # (width,)
    A = np.vander(x, polyorder + 1, increasing=True)               # (width, polyorder + 1)
    E = np.zeros((width, polyorder + 1))
    for q in range(order, polyorder + 1):
        E[:, q] = factorial(q) // factorial(q - order) * x ** (q - order)
    return E @ np.linalg.pinv(A)


#: up to this many frames, ``mode='interp'`` runs as one product with the dense operator (see
#: ``_interp_operator``); measured on the README's machine for (256, 128, n) float32 and
#: width 9: 12 ms instead of 23 at n = 188, 30 instead of 40 at n = 300, but 120 instead of
#: 80 at n = 600 (the dense operator's work grows as n^2, the window sums' as n)
DENSE_MAX_FRAMES = 320


@lru_cache(maxsize=16)
def _interp_operator(n, width, order, polyorder, dtype):
    """The (n, n) matrix ``T`` with ``delta(x, mode='interp') = x @ T`` along time.

    Column ``t`` holds the weights that frame ``t``'s derivative gives the input frames:
    the interior filter ``G[half]`` on frames ``t - half .. t + half``, and for the first
    (last) ``half`` frames row ``t`` of ``G`` (``G[half + 1 + i]``) on the first (last)
    ``width`` frames, exactly as the window sums of :func:`delta` weigh them. One matrix
    product then does all frames of all rows at once. Cached; read-only.
    """
    G = savgol_matrix(width, order, polyorder)  # float64 (width, width)
    half = width // 2
    T = np.zeros((n, n))
    columns = np.arange(half, n - half)
    for j in range(width):  # T[t - half + j, t] = G[half, j] for every interior frame t
        T[columns - half + j, columns] = G[half, j]
    T[:width, :half] = G[:half].T
    T[n - width:, n - half:] = G[half + 1:].T
    T = T.astype(dtype)
    T.flags.writeable = False
    return T


def delta(data, width=9, order=1, axis=-1, mode="interp", polyorder=None, cval=0.0):
    """Delta features: a local estimate of the ``order``-th derivative along ``axis``.

    Each output is the ``order``-th derivative, at that point, of the degree-``polyorder``
    polynomial least-squares fitted to the ``width`` samples centred on it (a Savitzky-Golay
    filter, ``scipy.signal.savgol_filter(data, width, polyorder, deriv=order)``; this is
    ``librosa.feature.delta``, where ``polyorder = order``). For ``order = 1`` that is the
    classic regression formula (HTK / Furui):

        d_t = sum_{n=1}^{N} n * (c_{t+n} - c_{t-n}) / (2 * sum_{n=1}^{N} n^2),   N = width // 2

    Edges (``mode='interp'``, the default): the polynomial fitted to the first (last) ``width``
    samples gives the derivative at the first (last) ``N`` positions, so no padding is
    invented. Other modes pad the signal first: 'nearest' repeats the edge value, 'mirror'
    reflects about it, 'wrap' is periodic and 'constant' pads with ``cval``.

    Parameters
    ----------
    data : ndarray, shape (..., n_frames) for ``axis=-1``
        Features, e.g. a log-mel spectrogram ``(..., n_mels, n_frames)``; every other axis is
        treated independently.
    width : int, odd, >= 3
        Window length in frames.
    order : int > 0
        Derivative order (1: delta, 2: delta-delta).
    axis : int
        Axis along which to differentiate (time).
    mode : {'interp', 'nearest', 'mirror', 'wrap', 'constant'}
    polyorder : int or None
        Degree of the fitted polynomial, ``order <= polyorder < width``; default ``order``.
    cval : float
        Padding value for ``mode='constant'``.

    Returns
    -------
    delta_data : ndarray, same shape as ``data``, float32 for float32 input

    Raises
    ------
    ValueError
        ``width`` even or < 3, ``order`` < 1, bad ``polyorder`` or ``mode``, or
        ``mode='interp'`` with ``width > data.shape[axis]``.
    """
    data = np.asarray(data)
    width = check_int("width", width, minimum=3)
    if width % 2 == 0:
        raise ValueError(f"width={width} must be an odd integer >= 3")
    order = check_int("order", order, minimum=1)
    polyorder = order if polyorder is None else check_int("polyorder", polyorder, minimum=order)
    if polyorder >= width:
        raise ValueError(f"polyorder={polyorder} must be < width={width}")
    if mode != "interp" and mode not in _PAD_FOR_MODE:
        raise ValueError(f"mode={mode!r} must be one of {['interp', *_PAD_FOR_MODE]}")
    if data.ndim == 0:
        raise ValueError("data must have at least one dimension; got a scalar")
    n = data.shape[axis]
    if n == 0:
        raise ValueError(f"data must have at least one sample along axis {axis}; got shape {data.shape}")
    if mode == "interp" and width > n:
        raise ValueError(f"width={width} must be <= data.shape[axis]={n} when mode='interp'")

    real = float_dtype(data.dtype) if np.issubdtype(data.dtype, np.floating) else np.dtype(np.float64)
    x = np.moveaxis(data, axis, -1).astype(real, copy=False)  # (..., n)
    G = savgol_matrix(width, order, polyorder).astype(real)    # (width, width)
    half = width // 2
    h = G[half]                                                # interior filter, (width,)

    if mode == "interp" and n <= DENSE_MAX_FRAMES:
        out = x @ _interp_operator(n, width, order, polyorder, real)  # (..., n)
    elif mode == "interp":
        out = np.empty_like(x)
        windows = np.lib.stride_tricks.sliding_window_view(x, width, axis=-1)  # (..., n - width + 1, width)
        out[..., half:n - half] = windows @ h
        out[..., :half] = x[..., :width] @ G[:half].T            # first window's fit, first N points
        out[..., n - half:] = x[..., n - width:] @ G[half + 1:].T  # last window's fit, last N points
    else:
        pad = [(0, 0)] * (x.ndim - 1) + [(half, half)]
        extra = {"constant_values": cval} if mode == "constant" else {}
        xp = np.pad(x, pad, mode=_PAD_FOR_MODE[mode], **extra)
        out = np.lib.stride_tricks.sliding_window_view(xp, width, axis=-1) @ h  # (..., n)
    return np.moveaxis(out, -1, axis)


def logmel_deltas(y=None, sr=16000, S=None, width=9, ref=np.max, amin=1e-10, top_db=80.0, **mel_kwargs):
    """Log-mel spectrogram with its delta and delta-delta, stacked as 3 channels.

        L = power_to_db(melspectrogram(y, sr, **mel_kwargs), ref, amin, top_db)
        out[..., 0, :, :] = L,  out[..., 1, :, :] = delta(L, width, order=1),
        out[..., 2, :, :] = delta(L, width, order=2)

    The deltas run along time (the last axis) with Savitzky-Golay ``mode='interp'`` edges.
    A clip with fewer than ``width`` frames cannot be fitted that way; ``mode='nearest'``
    (edge frames repeated) is used for it instead, so very short clips still give finite
    features.

    This function has no librosa counterpart; its defaults are this project's: ``sr=16000``
    and ``ref=np.max`` (each example's peak at 0 dB, per example in a batch). The spectrogram
    parameters default to :func:`dsp.melspectrogram`'s (librosa's), so pass the paper's ones,
    e.g. ``n_fft=1024, hop_length=256, win_length=512, window='hamming', n_mels=128, fmax=8000``.

    Parameters
    ----------
    y : ndarray, shape (..., n), float, or None
        Audio; leading dimensions are a batch.
    sr : float > 0
    S : ndarray, shape (..., n_mels, n_frames), or None
        A mel *power* spectrogram (the output of :func:`dsp.melspectrogram`) instead of ``y``.
    width : int, odd, >= 3
        Delta window (frames).
    ref, amin, top_db
        As in :func:`dsp.power_to_db`.
    **mel_kwargs
        Passed to :func:`dsp.melspectrogram` (``n_fft``, ``hop_length``, ``win_length``,
        ``window``, ``center``, ``pad_mode``, ``power``, ``n_mels``, ``fmin``, ``fmax``, ``htk``,
        ``norm``) when ``y`` is given.

    Returns
    -------
    features : ndarray, shape (..., 3, n_mels, n_frames), float32 for float32 input

    Raises
    ------
    ValueError
        Neither or both of ``y`` and ``S``; ``mel_kwargs`` given with ``S``; any error of
        :func:`dsp.melspectrogram`, :func:`dsp.power_to_db` or :func:`delta`.
    """
    if (y is None) == (S is None):
        raise ValueError("give exactly one of y (audio) or S (mel power spectrogram)")
    if S is None:
        S = melspectrogram(y=y, sr=sr, **mel_kwargs)
    elif mel_kwargs:
        raise ValueError(f"mel_kwargs {sorted(mel_kwargs)} only apply when y is given, not S")
    logmel = power_to_db(S, ref=ref, amin=amin, top_db=top_db)  # (..., n_mels, n_frames)
    n = logmel.shape[-1]
    mode = "interp" if n >= width else "nearest"
    width = check_int("width", width, minimum=3)
    if mode == "interp" and width % 2 == 1 and n <= DENSE_MAX_FRAMES:
        # the three channels written in place: no stacking copy
        out = np.empty(logmel.shape[:-2] + (3,) + logmel.shape[-2:], dtype=logmel.dtype)
        out[..., 0, :, :] = logmel
        for order in (1, 2):
            np.matmul(logmel, _interp_operator(n, width, order, order, logmel.dtype),
                      out=out[..., order, :, :])
        return out
    d1 = delta(logmel, width=width, order=1, axis=-1, mode=mode)
    d2 = delta(logmel, width=width, order=2, axis=-1, mode=mode)
    return np.stack([logmel, d1, d2], axis=-3)
