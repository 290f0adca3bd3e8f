"""Power <-> decibel conversion, per example for batches."""
from __future__ import annotations

import warnings

import numpy as np

from ._checks import check_positive_number

__all__ = ["power_to_db", "db_to_power"]


def _example_axes(ndim):
    """Axes of one example: the last two (a spectrogram) or all of them for a 0-D / 1-D input."""
    return (-2, -1) if ndim >= 2 else None


def _reference(ref, S):
    """``ref(S)`` for a single spectrogram, one ``ref(S[b])`` per example for a batch.

    For ``S : (..., n_freq, n_frames)`` with batch dimensions the reduction is requested over
    the last two axes, ``ref(S, axis=(-2, -1), keepdims=True)``, which NumPy reductions
    (``np.max``, ``np.mean``, ``np.median``, ...) answer in one vectorized call. A callable that
    does not take ``axis`` / ``keepdims`` (it raises ``TypeError``) is applied to each example in
    turn instead: correct, but a Python loop over examples.
    """
    if S.ndim <= 2:
        return ref(S)
    try:
        value = np.asarray(ref(S, axis=(-2, -1), keepdims=True))
    except TypeError:
        flat = S.reshape((-1,) + S.shape[-2:])
        value = np.array([ref(example) for example in flat]).reshape(S.shape[:-2] + (1, 1))
    if value.shape != S.shape[:-2] + (1, 1):
        raise ValueError(
            f"ref(S, axis=(-2, -1), keepdims=True) returned shape {value.shape}; "
            f"expected {S.shape[:-2] + (1, 1)} (one reference per example)"
        )
    return value


def power_to_db(S, ref=1.0, amin=1e-10, top_db=80.0):
    """Convert a power spectrogram to decibels.

        S_db = 10 * log10(max(S, amin)) - 10 * log10(max(ref, amin))
        S_db = max(S_db, max(S_db) - top_db)          (if top_db is not None)

    **Batches.** For ``S : (..., n_freq, n_frames)`` with leading batch dimensions, each
    example ``S[b]`` (the last two axes) is converted on its own: a callable ``ref`` such as
    ``np.max`` is evaluated per example (``ref(S, axis=(-2, -1), keepdims=True)``), and the
    ``top_db`` floor is taken below each example's own peak. So converting a batch equals
    converting its clips one at a time. (librosa, given a batch, would use one reference and one
    peak for the whole array.) A 1-D or 2-D ``S`` is one example.

    Parameters
    ----------
    S : ndarray, shape (..., n_freq, n_frames), >= 0
        Power (squared magnitude). Complex input is replaced by its magnitude with a warning,
        as in librosa.
    ref : float or callable
        Reference power, 0 dB. A number (or an array broadcastable to ``S``, e.g. one value per
        example of shape ``(..., 1, 1)``) is used as ``|ref|``; a callable is evaluated on
        ``S`` per example, e.g. ``np.max`` puts each example's peak at 0 dB.
    amin : float > 0
        Floor applied to ``S`` and ``ref`` before the logarithm (1e-10 -> -100 dB).
    top_db : float >= 0 or None
        Clip each example to at most ``top_db`` below its peak; ``None`` disables it.

    Returns
    -------
    S_db : ndarray, same shape as ``S``; float32 for float32 input, float64 for float64 or
        integer input

    Raises
    ------
    ValueError
        ``amin <= 0``, ``top_db < 0``, or ``S`` holding negative or NaN values.

    Notes
    -----
    Differences from ``librosa.power_to_db`` (same defaults ``ref=1.0, amin=1e-10,
    top_db=80.0``): the per-example reference and floor of a batch (above); negative or NaN
    power raises here, where librosa floors a negative value at ``amin`` (-100 dB) and lets a
    NaN through; an empty ``S`` raises.
    """
    S = np.asarray(S)
    amin = check_positive_number("amin", amin)
    if top_db is not None and not (np.isfinite(top_db) and top_db >= 0):
        raise ValueError(f"top_db={top_db} must be a finite number >= 0 or None")
    if np.iscomplexobj(S):
        warnings.warn("power_to_db was given complex input; using its magnitude and discarding phase",
                      UserWarning, stacklevel=2)
        S = np.abs(S)
    elif not np.issubdtype(S.dtype, np.floating):
        S = S.astype(np.float64)
    elif S.dtype == np.float16:
        S = S.astype(np.float32)
    if S.size == 0:
        raise ValueError(f"S must contain at least one value; got shape {S.shape}")
    if not S.min() >= 0:  # False for a negative minimum and for NaN (min propagates NaN)
        bad = ~(S >= 0)
        raise ValueError(
            f"S must be a power spectrogram with values >= 0; found {int(bad.sum())} negative or NaN "
            f"entries (e.g. {S[bad].flat[0]})"
        )

    ref_value = _reference(ref, S) if callable(ref) else np.abs(ref)
    # 10 log10(max(S, amin)), computed in place in S's precision.
    S_db = np.maximum(S, amin)
    np.log10(S_db, out=S_db)
    S_db *= 10.0
    S_db -= (10.0 * np.log10(np.maximum(ref_value, amin))).astype(S_db.dtype)
    if top_db is not None:
        peak = S_db.max(axis=_example_axes(S.ndim), keepdims=True)
        np.maximum(S_db, peak - top_db, out=S_db)
    return S_db


def db_to_power(S_db, ref=1.0):
    """Invert :func:`power_to_db` (without the clipping): ``S = ref * 10^(S_db / 10)``.

    Parameters
    ----------
    S_db : ndarray, dB
    ref : float > 0
        Reference power that maps to 0 dB.

    Returns
    -------
    S : ndarray, same shape as ``S_db``
    """
    S_db = np.asarray(S_db)
    if not np.issubdtype(S_db.dtype, np.floating):
        S_db = S_db.astype(np.float64)
    return ref * np.power(10.0, S_db * 0.1).astype(S_db.dtype, copy=False)
