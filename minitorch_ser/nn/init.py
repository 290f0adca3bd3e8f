"""Weight initializations with PyTorch's definitions (torch.nn.init), in place on Parameters.

Every random initialisation takes an optional ``rng`` (numpy Generator); without one it draws from
``minitorch_ser.autograd.random.default_generator()``, so ``manual_seed`` makes models repeatable.

Fan-in / fan-out of a weight of shape (out, in, *kernel): ``fan_in = in * prod(kernel)``,
``fan_out = out * prod(kernel)``.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.random import default_generator


def _fill(tensor, values: np.ndarray):
    tensor.data[...] = values.astype(tensor.data.dtype, copy=False)
    return tensor


def calculate_fan_in_and_fan_out(shape: tuple) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape (out, in, *kernel).

    ``fan_in = in * prod(kernel)``, ``fan_out = out * prod(kernel)``: the number of inputs and
    outputs each weight element is connected to (``torch.nn.init._calculate_fan_in_and_fan_out``).

    Raises
    ------
    ValueError
        If the shape has fewer than 2 dimensions.
    """
    if len(shape) < 2:
        raise ValueError(f"fan in/out needs a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain of an initialisation for a nonlinearity (``torch.nn.init.calculate_gain``).

    Parameters
    ----------
    nonlinearity : {'linear', 'conv1d', 'conv2d', 'sigmoid', 'tanh', 'relu', 'leaky_relu'}
    param : float, optional
        Negative slope ``a`` of 'leaky_relu' (0.01 when None).

    Returns
    -------
    float
        1 (linear, conv, sigmoid), 5/3 (tanh), sqrt(2) (relu), sqrt(2 / (1 + a^2)) (leaky_relu).

    Raises
    ------
    ValueError
        For another nonlinearity.
    """
    if nonlinearity in ("linear", "conv1d", "conv2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + a * a))
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


def uniform_(tensor, a: float = 0.0, b: float = 1.0, rng=None):
    """Fill ``tensor`` in place with draws from U(a, b).

    Parameters
    ----------
    tensor : Tensor or Parameter (any shape)
        Keeps its dtype (the draws are float64, cast on assignment).
    a, b : float, a <= b
        Bounds of the uniform distribution.
    rng : numpy.random.Generator, optional
        Default: ``minitorch_ser.autograd.random.default_generator()``.

    Returns
    -------
    ``tensor``.
    """
    rng = rng or default_generator()
    return _fill(tensor, rng.uniform(a, b, size=tensor.shape))


def zeros_(tensor):
    """Fill ``tensor`` with 0 in place (draws nothing); returns it."""
    return _fill(tensor, np.zeros(tensor.shape))


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", rng=None):
    """Fill with U(-bound, bound), ``bound = gain * sqrt(3 / fan)`` (He et al., 2015).

    PyTorch's default for Linear and Conv weights is ``a = sqrt(5)``, which gives
    ``bound = 1 / sqrt(fan_in)``.

    Parameters
    ----------
    tensor : Tensor or Parameter (out, in, *kernel)
    a : float
        Negative slope of the leaky ReLU the gain is computed for.
    mode : {'fan_in', 'fan_out'}
        Which fan the variance is preserved for (forward or backward pass).
    nonlinearity : str
        See ``calculate_gain``.
    rng : numpy.random.Generator, optional
        Default: ``minitorch_ser.autograd.random.default_generator()``.

    Returns
    -------
    ``tensor``.
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, rng)


def xavier_uniform_(tensor, gain: float = 1.0, rng=None):
    """Fill with U(-b, b), ``b = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010).

    Parameters
    ----------
    tensor : Tensor or Parameter (out, in, *kernel)
    gain : float > 0
        Scale of the bound.
    rng : numpy.random.Generator, optional
        Default: ``minitorch_ser.autograd.random.default_generator()``.

    Returns
    -------
    ``tensor``.
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor.shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def orthogonal_(tensor, gain: float = 1.0, rng=None):
    """Fill with a (semi-)orthogonal matrix, ``gain * Q`` from the QR decomposition of a
    Gaussian matrix (Saxe et al., 2014; ``torch.nn.init.orthogonal_``).

    The tensor is viewed as (rows, cols) = (shape[0], prod(shape[1:])); the result has
    orthonormal columns when rows >= cols (``W^T W = gain^2 I``), orthonormal rows otherwise.

    Parameters
    ----------
    tensor : Tensor or Parameter (rows, *), at least 2-D
    gain : float
        Scale of the matrix.
    rng : numpy.random.Generator, optional
        Default: ``minitorch_ser.autograd.random.default_generator()``.

    Returns
    -------
    ``tensor``.
    """
    rng = rng or default_generator()
    rows = tensor.shape[0]
    cols = int(np.prod(tensor.shape[1:]))
    flat = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
