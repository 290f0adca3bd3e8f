"""Input validation shared by the ``dsp`` modules.

Every public function validates its arguments with these helpers so that a bad value fails
early with a ``ValueError`` naming the parameter and the violated constraint, e.g.
``ValueError("n_fft=0 must be an integer >= 1")``, instead of a shape error deep inside NumPy.
"""
from __future__ import annotations

import numbers

import numpy as np


def check_int(name: str, value, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise if it is not an integer ``>= minimum``.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : int-like
        Python or NumPy integer (``bool`` is rejected; so are floats such as ``1024.0``).
    minimum : int or None
        Smallest allowed value.

    Returns
    -------
    value : int

    Raises
    ------
    ValueError
        ``"{name}={value} must be an integer >= {minimum}"``.
    """
    bound = f" >= {minimum}" if minimum is not None else ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} must be an integer{bound}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value} must be an integer{bound}")
    return value


def check_positive_number(name: str, value) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number ``> 0``.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : real number
        Python or NumPy real (``bool`` is rejected).

    Returns
    -------
    value : float

    Raises
    ------
    ValueError
        ``"{name}={value!r} must be a finite number > 0"`` (not a real, NaN or +-inf), or
        ``"{name}={value} must be > 0"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    if value <= 0:
        raise ValueError(f"{name}={value} must be > 0")
    return float(value)


def check_finite_number(name: str, value) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : real number
        Python or NumPy real (``bool`` is rejected).

    Returns
    -------
    value : float

    Raises
    ------
    ValueError
        ``"{name}={value!r} must be a finite number"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number")
    return float(value)


def float_dtype(dtype) -> np.dtype:
    """Real working precision for ``dtype``: float64 stays float64, every other float is float32.

    float16 is promoted to float32 because the FFT has no float16 kernel.

    Parameters
    ----------
    dtype : dtype-like
        Any NumPy dtype (integers and complex types map to float32 too, unless float64).

    Returns
    -------
    dtype : numpy.dtype
        ``float64`` or ``float32``.
    """
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def check_audio(y, name: str = "y") -> np.ndarray:
    """Validate an audio array ``y : (..., n_samples)`` and return it as a float array.

    Checks, in order: floating-point dtype (float16 is promoted to float32), at least one
    dimension, at least one sample along the last axis, and only finite values.

    Parameters
    ----------
    y : array_like, shape (..., n_samples), float
        Audio; leading dimensions are a batch.
    name : str
        Parameter name used in the error messages.

    Returns
    -------
    y : ndarray, shape (..., n_samples), same float dtype (float16 becomes float32)
        ``y`` itself (no copy) unless it was float16 or not an ndarray.

    Raises
    ------
    ValueError
        If any check fails; the message names ``name`` and the constraint.
    """
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.floating):
        raise ValueError(
            f"{name} must be a real floating-point array; got dtype={y.dtype} "
            "(convert integer PCM with e.g. y.astype(np.float32) / 32768)"
        )
    if y.dtype == np.float16:
        y = y.astype(np.float32)
    if y.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (..., n_samples); got a scalar")
    if y.shape[-1] == 0:
        raise ValueError(f"{name} must contain at least one sample along its last axis; got shape {y.shape}")
    check_finite(y, name)
    return y


def check_finite(x: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or +-inf.

    ``min`` and ``max`` propagate NaN and expose infinities, so two allocation-free reductions
    decide the common (all finite) case; the count in the message is computed only on failure.

    Parameters
    ----------
    x : ndarray, any shape, real
    name : str
        Name used in the error message.

    Raises
    ------
    ValueError
        ``"{name} must contain only finite values; found {count} NaN or infinite entries"``.
    """
    if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):
        n_bad = int(np.count_nonzero(~np.isfinite(x)))
        raise ValueError(f"{name} must contain only finite values; found {n_bad} NaN or infinite entries")


def check_rng(rng) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``; raise ``TypeError`` otherwise.

    Returns
    -------
    rng : numpy.random.Generator

    Raises
    ------
    TypeError
        ``rng`` is anything else (a seed, ``None``, a legacy ``RandomState``).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)); got {type(rng).__name__}"
        )
    return rng


def per_clip(value, y: np.ndarray, name: str) -> np.ndarray:
    """Broadcast a scalar or per-clip parameter against ``y : (..., n_samples)``.

    A scalar applies to every clip; an array of shape ``y.shape[:-1]`` gives one value per clip.
    The result has shape ``(..., 1)`` (or ``()`` for a scalar) so it broadcasts over samples.

    Parameters
    ----------
    value : float or array_like of shape y.shape[:-1]
        The parameter (e.g. an SNR in dB), one for all clips or one per clip.
    y : ndarray, shape (..., n_samples)
        The audio batch it applies to.
    name : str
        Parameter name used in the error messages.

    Returns
    -------
    value : ndarray, float64, shape () or (..., 1)

    Raises
    ------
    ValueError
        ``value`` non-finite, or an array whose shape is not ``y.shape[:-1]``.
    """
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 0:
        if not np.isfinite(value):
            raise ValueError(f"{name}={float(value)} must be finite")
        return value
    if value.shape != y.shape[:-1]:
        raise ValueError(
            f"{name} must be a scalar or have one value per clip, shape {y.shape[:-1]}; got shape {value.shape}"
        )
    check_finite(value, name)
    return value[..., np.newaxis]
