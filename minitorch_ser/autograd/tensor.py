"""`Tensor`: an ndarray with a gradient, and the backward pass that walks the graph.

A Tensor wraps ``data`` (a NumPy array, float32 unless float64 is asked for) and, when it was
produced by an op on tensors that require gradients, the graph node (``_ctx``) of that op.
Calling ``loss.backward()``:

1. collects every node reachable from ``loss`` with an iterative depth-first search and orders
   them topologically (an LSTM unrolled over 300 steps makes graphs far deeper than Python's
   recursion limit, so no recursion);
2. visits the nodes from ``loss`` back to the leaves; each node's ``backward`` receives the sum
   of the gradients of its outputs, and returns one gradient per input;
3. sends each input gradient, summed back over broadcast axes, either to the node that produced
   that input or, for a leaf, adds it (``+=``) into ``leaf.grad``.

Afterwards every node frees what it saved and its links to its inputs (unless
``retain_graph=True``), so activations are released at once and a second backward through the
same graph raises a clear error instead of using freed arrays.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from .function import Context, unbroadcast


class _GradMode(threading.local):
    """Per-thread switch read by every op: record graph nodes or not."""

    enabled = True  # the class attribute is each thread's starting value


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether ops currently record a graph (False inside ``no_grad()``)."""
    return _grad_mode.enabled


@contextlib.contextmanager
def no_grad():
    """Context manager under which no op records a graph (evaluation, optimizer updates)."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


@contextlib.contextmanager
def enable_grad():
    """Context manager that turns graph recording back on inside ``no_grad()``."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = True
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def _to_array(data, dtype=None) -> np.ndarray:
    """Convert ``data`` to an ndarray; Python floats and lists of floats become float32."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        arr = data
    else:
        arr = np.asarray(data)
        if arr.dtype == np.float64:  # a Python float or list: default to float32 as torch does
            arr = arr.astype(np.float32)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


class Tensor:
    """A multi-dimensional array that records the ops applied to it for differentiation.

    Parameters
    ----------
    data : array_like
        The values. NumPy arrays keep their dtype; Python floats and lists default to float32,
        Python integers to int64.
    requires_grad : bool
        Whether ``backward`` should compute ``.grad`` for this tensor. Only floating tensors
        can require a gradient.
    dtype : numpy dtype, optional
        Convert ``data`` to this dtype.
    """

    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise ValueError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self._ctx: Context | None = None  # the node of the op that produced it (None: a leaf)
        self._out_index = 0               # which output of that op it is

    @classmethod
    def _wrap(cls, data: np.ndarray, ctx: Context | None, out_index: int) -> "Tensor":
        """The engine's constructor for op outputs: ``data`` is already a checked ndarray.

        The output requires grad exactly when it has a graph node ``ctx``.
        """
        t = object.__new__(cls)
        t.data = data
        t.requires_grad = ctx is not None
        t.grad = None
        t._ctx = ctx
        t._out_index = out_index
        return t

    # ----------------------------------------------------------------- basic properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        """The Function class that produced this tensor, or None for a leaf."""
        return None if self._ctx is None else self._ctx.fn

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        extra = f", grad_fn={self._ctx.name}" if self._ctx is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        return f"tensor({body}, dtype={self.data.dtype}{extra})"

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """A tensor sharing the data, cut from the graph (requires_grad=False)."""
        return Tensor(self.data)

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.data.dtype.kind != "f":
            raise ValueError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(flag)
        return self

    def astype(self, dtype) -> "Tensor":
        return _ops.Cast.apply(self, dtype=np.dtype(dtype))

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    # ----------------------------------------------------------------- backward
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Parameters
        ----------
        grad : array_like, optional
            dL/d(self), same shape as self. May be omitted only for a one-element tensor
            (then it is 1).
        retain_graph : bool
            Keep the saved arrays so that backward can run through this graph again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input of the computation had requires_grad=True)")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element (scalar) output, "
                    f"got shape {self.shape}; pass grad= of that shape")
            grad = np.ones_like(self.data)
        else:
            grad = _to_array(grad, self.data.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(grad=...) of shape {grad.shape} does not match "
                                 f"the tensor's shape {self.shape}")
        if self._ctx is None:  # a leaf: its gradient is the seed itself
            self._accumulate(grad)
            return
        _run_backward(self._ctx, self._out_index, grad, retain_graph)

    def _accumulate(self, grad: np.ndarray) -> None:
        if grad.dtype != self.data.dtype:
            grad = grad.astype(self.data.dtype)
        if self.grad is None:
            self.grad = np.array(grad, copy=True)
        else:
            self.grad += grad

    # ----------------------------------------------------------------- operators
    def __add__(self, other):
        return _ops.Add.apply(self, _like(other, self))

    def __radd__(self, other):
        return _ops.Add.apply(_like(other, self), self)

    def __sub__(self, other):
        return _ops.Sub.apply(self, _like(other, self))

    def __rsub__(self, other):
        return _ops.Sub.apply(_like(other, self), self)

    def __mul__(self, other):
        return _ops.Mul.apply(self, _like(other, self))

    def __rmul__(self, other):
        return _ops.Mul.apply(_like(other, self), self)

    def __truediv__(self, other):
        return _ops.Div.apply(self, _like(other, self))

    def __rtruediv__(self, other):
        return _ops.Div.apply(_like(other, self), self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            return _ops.PowTensor.apply(self, exponent)
        return _ops.Pow.apply(self, exponent=float(exponent))

    def __rpow__(self, base):
        return _ops.PowTensor.apply(_like(base, self), self)

    def __matmul__(self, other):
        return _ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(other, self)

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=_index_data(index))

    # comparisons give plain boolean tensors (never differentiable)
    def __lt__(self, other):
        return Tensor(self.data < _raw(other))

    def __le__(self, other):
        return Tensor(self.data <= _raw(other))

    def __gt__(self, other):
        return Tensor(self.data > _raw(other))

    def __ge__(self, other):
        return Tensor(self.data >= _raw(other))

    def eq(self, other):
        return Tensor(self.data == _raw(other))

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- methods (thin wrappers)
    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def sqrt(self):
        return _ops.Sqrt.apply(self)

    def abs(self):
        return _ops.Abs.apply(self)

    def tanh(self):
        return _ops.Tanh.apply(self)

    def sigmoid(self):
        return _ops.Sigmoid.apply(self)

    def relu(self):
        return _ops.ReLU.apply(self)

    def clamp(self, min=None, max=None):
        return _ops.Clamp.apply(self, min=min, max=max)

    def sum(self, axis=None, keepdims: bool = False):
        return _ops.Sum.apply(self, axis=_axis(axis), keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        return _ops.Mean.apply(self, axis=_axis(axis), keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False):
        return _ops.Max.apply(self, axis=_axis(axis), keepdims=keepdims)

    def var(self, axis=None, keepdims: bool = False, unbiased: bool = True):
        return _ops.Var.apply(self, axis=_axis(axis), keepdims=keepdims, unbiased=unbiased)

    def argmax(self, axis=None):
        return Tensor(self.data.argmax(axis=axis))

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _ops.Reshape.apply(self, shape=tuple(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        shape = self.shape
        start = start_dim % len(shape) if shape else 0
        end = end_dim % len(shape) if shape else 0
        middle = int(np.prod(shape[start:end + 1])) if shape else 1
        return self.reshape(shape[:start] + (middle,) + shape[end + 1:])

    def unsqueeze(self, dim: int):
        dim = dim if dim >= 0 else dim + self.ndim + 1
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dim = dim % self.ndim
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def permute(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return _ops.Permute.apply(self, axes=tuple(int(a) for a in axes))

    def transpose(self, dim0: int = -2, dim1: int = -1):
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(axes)

    @property
    def T(self):
        return self.permute(tuple(reversed(range(self.ndim))))

    def softmax(self, axis: int = -1):
        return _ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1):
        return _ops.LogSoftmax.apply(self, axis=axis)

    def masked_fill(self, mask, value: float):
        return _ops.MaskedFill.apply(self, mask=np.asarray(_raw(mask), dtype=bool), value=value)


# ------------------------------------------------------------------------- helpers
def as_tensor(x) -> "Tensor":
    """``x`` itself if it is a Tensor, else a constant Tensor of it (``torch.as_tensor``).

    Parameters
    ----------
    x : Tensor or array-like
        Any shape; NumPy's dtype rules (float64 input stays float64).
    """
    return x if isinstance(x, Tensor) else Tensor(x)


def as_array(x) -> np.ndarray:
    """The ndarray behind ``x``: ``x.data`` for a Tensor (no copy), else ``np.asarray(x)``.

    Parameters
    ----------
    x : Tensor or array-like
    """
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _like(other, ref: Tensor):
    """A scalar or array operand as a constant in ``ref``'s floating dtype (no float64 creep)."""
    if isinstance(other, Tensor):
        return other
    arr = np.asarray(other)
    if ref.data.dtype.kind == "f" and arr.dtype.kind in "biuf":
        arr = arr.astype(ref.data.dtype, copy=False)
    return Tensor(arr)


def _axis(axis):
    if isinstance(axis, list):
        return tuple(axis)
    return axis


def _index_data(index):
    """Replace Tensors inside an index by their arrays (integer or boolean indexing)."""
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    return _raw(index)


def _topological_order(root: Context) -> list:
    """Nodes reachable from ``root``, each placed after every node that consumes its outputs.

    Iterative post-order depth-first search: a node is appended once all its parents (the nodes
    that produced its inputs) have been appended, so reversing the list puts ``root`` first and
    every producer after all of its consumers. A node is marked visited when it is expanded,
    not when it is pushed: marking on push would let a node that is reachable along two paths
    be emitted before one of its consumers (its gradient would then be incomplete).
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:  # all parents are already in ``order``
            order.append(node)
            continue
        if id(node) in visited:  # pushed twice along different paths; already expanded
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in node.parents:
            if type(parent) is tuple and id(parent[0]) not in visited:
                stack.append((parent[0], False))
    order.reverse()
    return order


def _run_backward(root: Context, out_index: int, seed: np.ndarray, retain_graph: bool) -> None:
    """Propagate ``seed`` (dL/d root output ``out_index``) from ``root`` back to the leaves."""
    order = _topological_order(root)
    for node in order:  # check before touching any .grad, so a failure leaves no partial sums
        if node.released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (node {node.name}): its "
                "saved arrays were freed by the first backward. Pass retain_graph=True to the "
                "first backward() to keep them.")
    # pending[id(node)][k]: the summed gradient of the node's k-th output received so far
    pending: dict[int, list] = {id(root): [None] * len(root.output_shapes)}
    pending[id(root)][out_index] = seed
    for node in order:
        grads = pending.pop(id(node), None)
        if grads is None:  # no gradient reached it (e.g. a backward returned None for it)
            continue
        if not node.multi_output:
            grad_out = grads[0]
        else:  # a tuple-returning op: outputs that did not reach the loss get zeros
            grad_out = tuple(g if g is not None else np.zeros(s, dtype=d)
                             for g, s, d in zip(grads, node.output_shapes, node.output_dtypes))
        grads_in = node.fn.backward(node, grad_out)
        if type(grads_in) is not tuple:
            grads_in = tuple(grads_in) if isinstance(grads_in, list) else (grads_in,)
        if len(grads_in) != len(node.parents):
            raise ValueError(
                f"{node.name}.backward returned {len(grads_in)} gradient(s) for "
                f"{len(node.parents)} input(s): it must return exactly one per input "
                "(None for an input that needs no gradient)")
        for i, (parent, g) in enumerate(zip(node.parents, grads_in)):
            if parent is None or g is None:  # a constant input, or no gradient returned
                continue
            g = unbroadcast(np.asarray(g), node.input_shapes[i], node.name, i)
            if g.dtype != node.input_dtypes[i]:
                g = g.astype(node.input_dtypes[i])
            if type(parent) is tuple:  # produced by another op: add to its pending sum
                pnode, k = parent
                slot = pending.get(id(pnode))
                if slot is None:
                    slot = pending[id(pnode)] = [None] * len(pnode.output_shapes)
                slot[k] = g if slot[k] is None else slot[k] + g
            else:  # a leaf that requires grad
                parent._accumulate(g)
        if not retain_graph:  # free the saved arrays and the links to the inputs
            node.saved_tensors = ()
            node.parents = []
            node.released = True


# ops.py imports Function only, so importing it here (after Tensor exists) is cycle-free.
from . import ops as _ops  # noqa: E402
