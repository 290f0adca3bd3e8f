"""Activation layers: `ReLU`, `Tanh`, `Sigmoid`, `Softmax`, `LogSoftmax` (torch.nn names).

Each wraps the function of the same name in ``nn.functional``; they hold no parameters.
"""

from __future__ import annotations

from . import functional as F
from .module import Module


class ReLU(Module):
    """``y = max(x, 0)`` elementwise; any shape."""

    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    """``y = tanh(x)`` elementwise; any shape."""

    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    """``y = 1 / (1 + e^-x)`` elementwise; any shape."""

    def forward(self, x):
        return F.sigmoid(x)


class Softmax(Module):
    """``y_i = e^(x_i) / sum_j e^(x_j)`` along ``dim`` (computed stably, see F.softmax).

    Parameters
    ----------
    dim : int
        Axis that sums to 1 (default -1, the last).
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``y_i = x_i - log sum_j e^(x_j)`` along ``dim`` (computed stably, see F.log_softmax).

    Parameters
    ----------
    dim : int
        Axis over which the exponentials of the output sum to 1 (default -1).
    """

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
