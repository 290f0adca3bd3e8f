"""`Dropout`: inverted dropout as a layer, active only in training mode (torch.nn.Dropout)."""

from __future__ import annotations

import numpy as np

from ..autograd.random import default_generator
from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` in training mode, scaling the rest by 1/(1-p).

    ``y = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)`` drawn afresh at every call, so that
    E[y] = x; in evaluation mode (``.eval()``) ``y = x``.

    Parameters
    ----------
    p : float in [0, 1]
        Probability of zeroing an element.
    rng : numpy.random.Generator, optional
        Source of the masks. By default the library's generator at call time,
        ``minitorch_ser.autograd.random.default_generator()``, so ``manual_seed`` makes runs repeatable.

    Shapes
    ------
    x : any shape -> y : same shape
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p={p} must be in [0, 1]")
        self.p = float(p)
        self.rng = rng

    def forward(self, x):
        rng = self.rng if self.rng is not None else default_generator()
        return F.dropout(x, self.p, self.training, rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"
