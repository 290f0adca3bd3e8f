"""Shared hypothesis strategies: shapes, broadcasting shapes, bounded and well-conditioned arrays.

Import from any test directory as ``from strategies import shapes, float_arrays, ...`` (the
``tests/support`` directory is on pytest's ``pythonpath``, see pyproject.toml).

Shapes never contain size-0 axes (``min_side=1``) but often contain size-1 axes, the ones that
broadcasting stretches. Values are bounded so that every op stays in a well-conditioned range;
``separated_arrays`` keeps values apart from each other and from 0, for ops with kinks or ties
(abs, relu, clamp, max) where a central difference straddling the kink would be meaningless.

Use with ``@settings(max_examples=20..40, deadline=None)`` (``FAST`` below): the machine is
shared and gradient checks are not cheap.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FAST = settings(max_examples=25, deadline=None)
"""The settings most property tests here use: few examples, no per-example deadline."""


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes with ``min_dims..max_dims`` axes of sizes ``min_side..max_side``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                            min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         min_side: int = 1, max_side: int = 4):
    """Tuples of ``num_shapes`` shapes that broadcast together (NumPy rules).

    The shapes differ in rank (missing leading axes) and have size-1 axes where the others do
    not, so every way broadcasting can stretch an operand is drawn.
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
        min_side=min_side, max_side=max_side).map(lambda b: b.input_shapes)


def matmul_shapes(max_dims: int = 2, max_side: int = 4):
    """Pairs of shapes valid for ``np.matmul``: 1-D operands, and batch axes that broadcast."""
    return hnp.mutually_broadcastable_shapes(
        signature=np.matmul.signature, max_dims=max_dims, max_side=max_side
    ).map(lambda b: b.input_shapes)


def reduction_axes(ndim: int):
    """An ``axis`` argument for a reduction over an ``ndim``-axis array.

    None (all axes), one axis (possibly negative) or a tuple of distinct axes.
    """
    if ndim == 0:
        return st.none()
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                       unique=True).map(tuple)
    return st.one_of(st.none(), one, several)


def float_arrays(shape, dtype=np.float64, min_value: float = -3.0, max_value: float = 3.0):
    """Arrays of ``shape`` with finite values in ``[min_value, max_value]``."""
    dtype = np.dtype(dtype)
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                         width=8 * dtype.itemsize)
    return hnp.arrays(dtype, shape, elements=elements)


def positive_arrays(shape, dtype=np.float64, min_value: float = 0.25, max_value: float = 3.0):
    """Arrays with values in ``[min_value, max_value]`` (inputs of log, sqrt, pow)."""
    if min_value <= 0:
        raise ValueError(f"positive_arrays: min_value={min_value} must be > 0")
    return float_arrays(shape, dtype, min_value, max_value)


@st.composite
def nonzero_arrays(draw, shape, dtype=np.float64, min_magnitude: float = 0.5,
                   max_magnitude: float = 3.0):
    """Arrays with ``min_magnitude <= |x| <= max_magnitude`` and either sign (divisors)."""
    magnitude = draw(float_arrays(shape, dtype, min_magnitude, max_magnitude))
    negative = draw(hnp.arrays(np.bool_, shape))
    return np.where(negative, -magnitude, magnitude).astype(dtype)


@st.composite
def separated_arrays(draw, shape, dtype=np.float64, bound: float = 3.0):
    """Arrays of distinct values in ``(-bound, bound)``, evenly spaced apart and away from 0.

    With ``n`` elements and ``m = max(n, 8)``, the values are ``(k + 1/2) * bound / m`` for
    distinct integers ``k`` in ``[-m, m)``: any two differ by at least ``bound / m`` and each is
    at least ``bound / (2m)`` from 0 (and from any other multiple of ``bound / m``).
    """
    n = math.prod(shape)
    m = max(n, 8)
    ks = draw(st.lists(st.integers(-m, m - 1), min_size=n, max_size=n, unique=True))
    values = (np.asarray(ks, dtype=np.float64) + 0.5) * (bound / m)
    return values.reshape(shape).astype(dtype)


def seeds():
    """Seeds for ``numpy.random.default_rng``."""
    return st.integers(0, 2**32 - 1)
