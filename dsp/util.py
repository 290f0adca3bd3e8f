"""Scaling an array along an axis: ``normalize`` (librosa's) and ``standardize`` (z-score).

The two are easy to confuse, so they carry different names:

* :func:`normalize` is ``librosa.util.normalize``: every slice along ``axis`` is divided by its
  norm (by default its peak absolute value), so that the norm becomes 1. The sign and the
  shape of the signal are kept; only its scale changes.
* :func:`standardize` is the z-score the BAVED and CREMA-D papers apply to each clip:
  subtract the mean, divide by the standard deviation. It has no librosa counterpart.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import check_audio, check_positive_number

__all__ = ["normalize", "standardize"]


def _tiny(dtype: np.dtype) -> float:
    """Smallest positive normal number of ``dtype`` (float32's for non-float dtypes).

    This is ``librosa.util.tiny``: complex64 gives float32's ``tiny`` (1.18e-38), complex128
    and float64 give float64's (2.23e-308), float16 its own (6.10e-05), and integer or boolean
    arrays float32's.
    """
    if np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating):
        return float(np.finfo(dtype).tiny)
    return float(np.finfo(np.float32).tiny)


def _valid_norm(norm) -> bool:
    """Whether ``norm`` is one of librosa's norms: None, +-inf, 0 or a real number > 0."""
    return norm is None or (
        isinstance(norm, numbers.Real) and not isinstance(norm, (bool, np.bool_))
        and (norm == np.inf or norm == -np.inf or norm == 0 or (np.isfinite(norm) and norm > 0))
    )


def normalize(S, *, norm=np.inf, axis=0, threshold=None, fill=None):
    """Scale every slice of ``S`` along ``axis`` to unit norm (``librosa.util.normalize``).

    With ``||.||`` the chosen norm of one slice ``s = S[..., :, ...]`` taken along ``axis``
    (each column of a 2-D array for the default ``axis=0``)::

        norm=np.inf   ||s|| = max_i |s_i|             (peak absolute value, the default)
        norm=-np.inf  ||s|| = min_i |s_i|
        norm=0        ||s|| = #{i : s_i != 0}         (the support size)
        norm=p > 0    ||s|| = (sum_i |s_i|^p)^(1/p)    (p = 1: sum of magnitudes, 2: Euclidean)

    the output is ``s / ||s||``, so that ``||output slice|| == 1``. A slice whose norm is below
    ``threshold`` (silence, or a column of zeros) is not divided by it; ``fill`` says what it
    becomes instead:

    * ``fill=None``: left as it is;
    * ``fill=False``: set to 0;
    * ``fill=True``: every entry set to the constant ``c`` whose norm is 1, ``c = 1`` for
      ``norm=+-inf`` and ``c = n^(-1/p)`` for ``norm=p > 0`` with ``n`` entries in the slice
      (not possible for ``norm=0``: no constant vector has support size 1 unless ``n = 1``).

    Norms are computed in float64 from ``|S|`` (complex input is scaled by the norm of its
    magnitudes). This is ``librosa.util.normalize`` (librosa 0.10, ``librosa/util/utils.py``),
    with the same defaults. For audio, ``normalize(y)`` of a clip ``y : (n,)`` is peak
    normalization, ``y / max|y|``; for a batch ``Y : (N, n)`` pass ``axis=-1`` (the default
    ``axis=0`` would normalize each sample position across the clips). It is *not* the
    z-score of the papers: that is :func:`standardize`.

    Parameters
    ----------
    S : ndarray, shape (d_0, ..., d_{k-1}), real or complex
        The array to scale, e.g. a clip ``(n_samples,)``, a batch ``(N, n_samples)`` with
        ``axis=-1``, or a spectrogram ``(n_freq, n_frames)`` (columns are frames).
    norm : {np.inf, -np.inf, 0, float > 0, None}
        The norm, as listed above; ``None`` returns ``S`` unchanged (after the checks).
    axis : int or None
        Axis along which the norm is taken, ``-k <= axis < k``; ``None`` takes one norm over
        the whole array.
    threshold : float > 0 or None
        Slices with ``||s|| < threshold`` are not scaled (see ``fill``). Default: the smallest
        positive normal number of ``S.dtype`` (``np.finfo(S.dtype).tiny``: 1.18e-38 for
        float32 and complex64, 2.23e-308 for float64, 6.10e-05 for float16; float32's for
        integer input), which only catches all-zero (or denormal) slices.
    fill : None or bool
        What a slice below ``threshold`` becomes: ``None`` unchanged, ``False`` zeros,
        ``True`` the constant of unit norm.

    Returns
    -------
    S_norm : ndarray, same shape as ``S``
        Same dtype as ``S`` for float and complex input (float32 stays float32); float64 for
        integer or boolean input. ``S`` itself when ``norm=None``.

    Raises
    ------
    ValueError
        ``norm`` not one of the values above; ``threshold`` not a finite number > 0; ``fill``
        not None, True or False; ``fill=True`` with ``norm=0``; ``axis`` out of range or not an
        int; ``S`` not numeric, holding NaN or +-inf, or with no entry along ``axis``.

    Notes
    -----
    Deliberate differences from librosa, all on inputs librosa handles badly: integer input
    gives float64 (librosa writes the quotient back into an integer array, truncating it);
    ``fill`` must be a real bool (librosa also accepts 0 and 1); an empty slice raises
    ``ValueError`` (librosa raises NumPy's error for ``norm=+-inf`` and returns an empty array
    otherwise); librosa raises ``ParameterError`` where this raises ``ValueError``.

    Examples
    --------
    librosa's documented example (``np.vander(np.arange(-2.0, 2.0))``)::

        >>> S = np.array([[-8., 4., -2., 1.], [-1., 1., -1., 1.], [0., 0., 0., 1.], [1., 1., 1., 1.]])
        >>> normalize(S)                     # each column divided by its peak |value|
        array([[-1.   ,  1.   , -1.   ,  1.   ],
               [-0.125,  0.25 , -0.5  ,  1.   ],
               [ 0.   ,  0.   ,  0.   ,  1.   ],
               [ 0.125,  0.25 ,  0.5  ,  1.   ]])
        >>> normalize(S, norm=1)[:, 0]       # column 0 divided by 8 + 1 + 0 + 1 = 10
        array([-0.8, -0.1,  0. ,  0.1])
    """
    S = np.asarray(S)
    if not (np.issubdtype(S.dtype, np.number) or S.dtype == np.bool_):
        raise ValueError(f"S must be a numeric array; got dtype={S.dtype}")
    # Check the arguments in librosa's order: threshold, fill, finiteness, then the norm.
    if threshold is None:
        threshold = _tiny(S.dtype)
    else:
        threshold = check_positive_number("threshold", threshold)
    if fill is not None and not isinstance(fill, (bool, np.bool_)):
        raise ValueError(f"fill={fill!r} must be None, False or True")
    if S.size and not np.all(np.isfinite(S)):
        n_bad = int(np.count_nonzero(~np.isfinite(S)))
        raise ValueError(f"S must contain only finite values; found {n_bad} NaN or infinite entries")
    if not _valid_norm(norm):
        raise ValueError(f"norm={norm!r} must be np.inf, -np.inf, 0, a number > 0 or None")
    if norm == 0 and fill is True:
        raise ValueError("fill=True is not possible with norm=0: no constant vector of several "
                         "entries has exactly one non-zero entry; use fill=None or fill=False")
    if axis is None:
        n = S.size
    else:
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
            raise ValueError(f"axis={axis!r} must be an int or None")
        if not -S.ndim <= axis < S.ndim:
            raise ValueError(f"axis={axis} is out of range for S with {S.ndim} dimension(s), "
                             f"shape {S.shape}")
        n = S.shape[axis]
    if n == 0:
        raise ValueError(f"S must have at least one entry along axis={axis}; got shape {S.shape}")
    if norm is None:
        return S

    # Every norm depends only on the magnitudes; compute them in float64.
    mag = np.abs(S).astype(np.float64)
    # The constant of unit norm that fill=True writes: 1 for the max / min norms.
    fill_value = 1.0
    if norm == np.inf:
        length = np.max(mag, axis=axis, keepdims=True)                 # peak |S|
    elif norm == -np.inf:
        length = np.min(mag, axis=axis, keepdims=True)
    elif norm == 0:
        length = np.sum(mag > 0, axis=axis, keepdims=True, dtype=np.float64)  # support size
    else:
        length = np.sum(mag ** norm, axis=axis, keepdims=True) ** (1.0 / norm)
        fill_value = n ** (-1.0 / norm)                                # n c^p = 1
    # length : S.shape with 1 along axis (all ones for axis=None)

    length = np.array(length, dtype=np.float64)   # writable, even for a 0-d S

    # Slices whose norm is below the threshold are divided by 1 (kept), by inf (zeros, exact
    # by IEEE 754 since S is finite) or by NaN (marked, then filled).
    small = length < threshold
    length[small] = 1.0 if fill is None else (np.nan if fill else np.inf)
    # The quotient is computed in float64 (complex128) and rounded into S's dtype, as librosa
    # does by assigning it into np.empty_like(S).
    out_dtype = S.dtype if np.issubdtype(S.dtype, np.inexact) else np.dtype(np.float64)
    S_norm = np.empty(S.shape, dtype=out_dtype)
    np.divide(S, length, out=S_norm)
    if fill:
        S_norm[np.isnan(S_norm)] = fill_value
    return S_norm


def standardize(y, axis=-1, eps=1e-8):
    """Standardize each clip to zero mean and unit variance (the papers' z-normalization).

        y_hat = (y - mean(y)) / max(std(y), eps)

    with the mean and the (population, ``ddof=0``) standard deviation taken over ``axis``
    (time), so each clip of a batch ``(..., n_samples)`` is standardized on its own. The
    statistics are computed in float64. A silent (constant) clip has ``std = 0`` and becomes
    all zeros instead of NaN. The floor is ``max(std, eps)``, not ``std + eps``: a clip with
    ``std >= eps`` gets unit variance exactly (up to rounding).

    This is the per-clip z-score of the BAVED paper and of the CREMA-D paper (their
    ``(y - y.mean()) / y.std()``); it is *not* ``librosa.util.normalize``, which is
    :func:`normalize` (peak scaling, mean unchanged). Until this version it was called
    ``dsp.normalize``.

    Parameters
    ----------
    y : ndarray, shape (..., n_samples), float
        Audio; leading dimensions are a batch. float16 is computed as float32.
    axis : int
        Axis holding the samples (default the last).
    eps : float > 0
        Floor on the standard deviation (same units as ``y``).

    Returns
    -------
    y_hat : ndarray, same shape as ``y``, same float dtype (float32 for float16 input)
        Zero mean and unit standard deviation along ``axis`` (zeros for a constant clip).

    Raises
    ------
    ValueError
        ``y`` not floating-point, a scalar, empty along its last axis or holding NaN / inf;
        ``eps`` not a finite number > 0.
    """
    y = check_audio(y)
    eps = check_positive_number("eps", eps)
    # Statistics in float64: a float32 mean of a constant clip is off by ~1e-8 relative, which
    # would leave rounding noise above eps and blow it up to unit variance.
    mean = y.mean(axis=axis, keepdims=True, dtype=np.float64)
    centred = y - mean                                                     # float64
    std = np.sqrt(np.mean(np.square(centred), axis=axis, keepdims=True))
    return (centred / np.maximum(std, eps)).astype(y.dtype)
