"""minitorch-ser: speech emotion recognition from scratch on NumPy.

``import minitorch_ser as mt`` gives, as ``import torch`` does:

- the engine: ``mt.Tensor``, ``mt.tensor``, ``mt.Function``, ``mt.no_grad``, ``mt.gradcheck``
  and the free ops (``mt.cat``, ``mt.stack``, ``mt.where``, ...), from ``minitorch_ser.autograd``;
- ``mt.nn`` (layers) and ``mt.optim`` (optimizers, schedulers), imported at once: like the
  engine they need only NumPy;
- ``mt.data`` (datasets, features, splits), ``mt.models`` (the two papers' models) and
  ``mt.app`` (training loop, checkpoints, command line), imported on first use (PEP 562
  ``__getattr__`` below), because they load pandas, scipy and soundfile. ``import minitorch_ser``
  alone loads none of those.
"""

from __future__ import annotations

import importlib

from .autograd.function import Function
from .autograd.gradcheck import gradcheck
from .autograd.grad_mode import enable_grad, is_grad_enabled, no_grad
from .autograd.ops import cat, concat, dropout, pad, split, stack, where
from .autograd.tensor import Context, Tensor, as_array, as_tensor
from . import nn, optim  # after the engine they are built on

__version__ = "0.1.0"

#: subpackages imported on first attribute access: ``mt.data`` runs ``import minitorch_ser.data``
_LAZY_SUBPACKAGES = ("data", "models", "app")


def __getattr__(name: str):
    """Import the lazy subpackage ``name`` on first access (PEP 562).

    Importing ``minitorch_ser.<name>`` binds it as an attribute of this package, so this runs
    once per subpackage; later accesses find the attribute directly.

    Raises
    ------
    AttributeError
        If ``name`` is neither an attribute nor a lazy subpackage.
    """
    if name in _LAZY_SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES))


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Create a Tensor (``torch.tensor``'s spelling of ``Tensor(...)``).

    Parameters
    ----------
    data : array_like
        The values; Python floats and lists default to float32, NumPy arrays keep their dtype.
    requires_grad : bool
        Whether ``backward`` computes ``.grad`` for it (floating dtypes only).
    dtype : numpy dtype, optional
        Convert ``data`` to this dtype.

    Raises
    ------
    ValueError
        If ``requires_grad`` is True for a non-floating dtype.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


__all__ = ["Tensor", "tensor", "as_tensor", "as_array", "Function", "Context", "no_grad",
           "enable_grad", "is_grad_enabled", "gradcheck", "concat", "cat", "stack", "split",
           "pad", "where", "dropout", "nn", "optim"]  # not the lazy ones: ``import *`` stays light
