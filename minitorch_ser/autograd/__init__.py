"""The autograd core: ``Tensor``, ``Function``, the differentiable ops, ``gradcheck``, seeding.

It knows no layer, dataset or model: ``nn``, ``optim``, ``data`` and ``models`` are built on it.
The modules, in the order they are imported here (each imports only those before it, at the
top of the file, so the import graph has no cycle):

- ``grad_mode.py``: ``no_grad``, ``enable_grad``, ``is_grad_enabled`` (the per-thread switch);
- ``tensor.py``: ``Tensor``, the graph node ``Context``, ``unbroadcast`` and the backward walk;
  ``as_tensor`` / ``as_array``, the one place that wraps or unwraps an operand;
- ``function.py``: ``Function``, the base class of every op (``forward``/``backward``/``apply``);
- ``ops.py``: the ops, the free functions (``concat``, ``where``, ``contiguous``, ...) and, when
  imported, the installation of Tensor's operators and op methods (``a + b``, ``x.sum()``);
- ``gradcheck.py``: float64 central-difference gradient checks;
- ``random.py``: the default generator (``manual_seed``) and ``as_rng``;
- ``allocator.py``: glibc's malloc settings for large temporaries (imported where used).

No name bound here shadows a submodule (``gradcheck`` the function lives in
``minitorch_ser.gradcheck``, not here), so ``minitorch_ser.autograd.tensor`` is always the module.
"""

from . import grad_mode, tensor, function, ops, gradcheck, random  # noqa: I001 (dependency order)
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .tensor import Context, Tensor, as_array, as_tensor

__all__ = ["grad_mode", "tensor", "function", "ops", "gradcheck", "random", "Tensor", "Context",
           "Function", "as_tensor", "as_array", "no_grad", "enable_grad", "is_grad_enabled"]
