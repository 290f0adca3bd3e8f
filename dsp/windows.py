"""Analysis windows: the raised-cosine family (Hann, Hamming) and the rectangle."""
from __future__ import annotations

import numpy as np

from ._checks import check_int

__all__ = ["get_window"]

# Raised-cosine windows w[n] = a - (1 - a) cos(2 pi n / M): the value of a for each name.
_COSINE_A = {"hann": 0.5, "hamming": 0.54, "boxcar": 1.0}
_ALIASES = {"hanning": "hann", "rectangular": "boxcar", "rect": "boxcar", "ones": "boxcar"}


def get_window(window, Nx, fftbins=True):
    """Return a window of length ``Nx``.

    The named windows are raised cosines,

        w[n] = a - (1 - a) * cos(2 * pi * n / M),   n = 0, ..., Nx - 1,

    with ``a = 0.5`` for Hann, ``a = 0.54`` for Hamming and ``a = 1`` for the rectangle
    ('boxcar'). ``M = Nx`` gives the *periodic* window (``fftbins=True``, the default, used for
    spectral analysis: it is one period of a length-``Nx`` periodic sequence, so
    ``w[n] = w_sym[n]`` for the symmetric window of length ``Nx + 1``); ``M = Nx - 1`` gives
    the *symmetric* window (``fftbins=False``, for filter design: ``w[n] == w[Nx - 1 - n]``).
    ``Nx = 1`` gives ``[1.0]``. These are scipy's / librosa's definitions.

    Parameters
    ----------
    window : str, callable or array_like
        'hann' (alias 'hanning'), 'hamming' or 'boxcar' (aliases 'rectangular', 'rect',
        'ones'); a callable ``window(Nx) -> (Nx,)``; or the window samples themselves, of
        length ``Nx``.
    Nx : int > 0
        Window length.
    fftbins : bool
        Periodic (True) or symmetric (False) window.

    Returns
    -------
    w : ndarray, shape (Nx,), float64

    Raises
    ------
    ValueError
        Unknown window name, ``Nx < 1``, or an array of the wrong length.
    """
    Nx = check_int("Nx", Nx, minimum=1)
    if callable(window):
        w = np.asarray(window(Nx), dtype=np.float64)
        if w.shape != (Nx,):
            raise ValueError(f"window callable returned shape {w.shape}; expected ({Nx},)")
        return w
    if isinstance(window, str):
        name = _ALIASES.get(window.lower(), window.lower())
        if name not in _COSINE_A:
            known = sorted(set(_COSINE_A) | set(_ALIASES))
            raise ValueError(f"window={window!r} is not supported; use one of {known}, a callable or an array")
        a = _COSINE_A[name]
        if Nx == 1:
            return np.ones(1)
        M = Nx if fftbins else Nx - 1
        n = np.arange(Nx)
        return a - (1.0 - a) * np.cos(2.0 * np.pi * n / M)
    if isinstance(window, tuple):
        raise ValueError(f"window={window!r}: parametrised (tuple) windows are not supported; pass the samples")
    w = np.asarray(window, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != Nx:
        raise ValueError(f"window array must have shape ({Nx},); got {w.shape}")
    return w
