"""Shared helpers of the optimizer tests: parameter shapes, seeded gradients, parameters."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from minitorch_ser.nn import Parameter

# one to three parameter arrays, each of one to three dims of size 1..5
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)
shape_lists = st.lists(shapes, min_size=1, max_size=3)
seeds = st.integers(0, 2**32 - 1)


def initial_arrays(shape_list, seed, dtype=np.float64) -> list:
    """Starting parameter values, uniform in [-2, 2]."""
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2.0, 2.0, size=s).astype(dtype) for s in shape_list]


def make_params(arrays) -> list:
    """Fresh Parameters holding copies of ``arrays``."""
    return [Parameter(a.copy()) for a in arrays]


def gradient(theta: np.ndarray, step: int, index: int, seed: int) -> np.ndarray:
    """A gradient that depends on the parameter (0.5 * theta, the gradient of a quadratic)
    plus seeded noise, so that the sequence is the same for any run that reaches ``step``
    with the same ``theta``."""
    noise = np.random.default_rng([seed, step, index]).normal(0.0, 1.0, size=theta.shape)
    return (0.5 * theta + noise).astype(theta.dtype)


def set_gradients(params, step: int, seed: int) -> None:
    for i, p in enumerate(params):
        p.grad = gradient(p.data, step, i, seed)
