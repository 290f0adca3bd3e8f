"""`Linear`, `Identity` and `Flatten`: the affine layer and two shape helpers (torch.nn names)."""

from __future__ import annotations

import math

import numpy as np

from . import functional as F
from . import init
from .module import Module, Parameter


class Linear(Module):
    """Affine layer ``y = x W^T + b``.

    Parameters
    ----------
    in_features : int > 0
    out_features : int > 0
    bias : bool
        Whether to add the learnable bias ``b``.
    rng : numpy.random.Generator, optional
        Source of the initial weights; ``minitorch_ser.autograd.random.default_generator()`` by default.
    dtype : numpy dtype
        Parameter dtype (float32 by default; float64 for gradient checks).

    Attributes
    ----------
    weight : Parameter (out_features, in_features)
        Initialised as torch.nn.Linear does: ``kaiming_uniform_(a=sqrt(5))``, which is
        U(-1/sqrt(in_features), 1/sqrt(in_features)).
    bias : Parameter (out_features,) or None
        U(-1/sqrt(in_features), 1/sqrt(in_features)), drawn after the weight.

    Shapes
    ------
    x : (*, in_features) -> y : (*, out_features)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | None = None, dtype=np.float32):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: in_features={in_features} and out_features={out_features} "
                             f"must be > 0")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator | None = None) -> None:
        """Re-draw weight and bias with PyTorch's default initialisation."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)   # fan_in of the weight
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, x):
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear: input of shape {x.shape} must end in "
                             f"in_features={self.in_features}")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged, any shape (``torch.nn.Identity``: a placeholder layer).

    Parameters
    ----------
    *args, **kwargs
        Ignored, so that Identity can stand in for any layer's constructor call.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge the axes ``start_dim .. end_dim`` into one (torch.nn.Flatten).

    Parameters
    ----------
    start_dim : int
        First axis to merge (default 1: keep the batch axis).
    end_dim : int
        Last axis to merge (default -1).

    Shapes
    ------
    x : (N, C, H, W) -> (N, C * H * W) with the defaults.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        ndim = x.ndim
        in_range = -ndim <= self.start_dim < ndim and -ndim <= self.end_dim < ndim
        if not in_range or self.start_dim % ndim > self.end_dim % ndim:
            raise ValueError(f"Flatten: start_dim={self.start_dim}, end_dim={self.end_dim} do not "
                             f"select a range of axes of an input of shape {x.shape}")
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
