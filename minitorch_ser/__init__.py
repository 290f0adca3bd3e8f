"""minitorch-ser: speech emotion recognition from scratch on NumPy.

The engine (``Tensor``, ``Function``, ``no_grad``, ``gradcheck``), the layers (``nn``), the
optimizers (``optim``), data loading (``data``), the two papers' models (``models``) and the
training loop (``train``).
"""

from .autograd.function import Context, Function
from .autograd.gradcheck import gradcheck
from .autograd.ops import cat, concat, dropout, pad, split, stack, where
from .autograd.tensor import Tensor, as_array, as_tensor, enable_grad, is_grad_enabled, no_grad

__version__ = "0.1.0"


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Create a Tensor (``torch.tensor``'s spelling)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


__all__ = ["Tensor", "as_tensor", "as_array", "Function", "Context", "no_grad", "enable_grad", "is_grad_enabled",
           "gradcheck", "tensor", "concat", "cat", "stack", "split", "pad", "where", "dropout"]
