"""`Tensor`: an ndarray with a gradient, the graph node (`Context`) and the backward pass.

A Tensor wraps ``data`` (a NumPy array, float32 unless float64 is asked for) and, when it was
produced by an op on tensors that require gradients, the graph node (``_ctx``, a ``Context``)
of that op. Calling ``loss.backward()``:

1. collects every node reachable from ``loss`` with an iterative depth-first search and orders
   them topologically (an LSTM unrolled over 300 steps makes graphs far deeper than Python's
   recursion limit, so no recursion);
2. visits the nodes from ``loss`` back to the leaves; each node's ``backward`` receives the sum
   of the gradients of its outputs, and returns one gradient per input;
3. sends each input gradient, summed back over broadcast axes (``unbroadcast``), either to the
   node that produced that input or, for a leaf, adds it (``+=``) into ``leaf.grad``.

Afterwards every node frees what it saved and its links to its inputs (unless
``retain_graph=True``), so activations are released at once and a second backward through the
same graph raises a clear error instead of using freed arrays.

This module knows no op. The operators and methods that apply one (``a + b``, ``a @ b``,
``a[i]``, ``x.sum()``, ``x.reshape()``, ...) are defined in ``ops.py`` and installed on
``Tensor`` when that module is imported (``minitorch_ser.autograd`` imports it right after this
one, so every import of the package sees a complete Tensor). What stays here needs no graph:
properties, ``backward``, and the comparisons, which give boolean tensors that are never
differentiated.

The import order of the core is a chain without cycles::

    grad_mode  <-  tensor  <-  function  <-  ops  (installs Tensor's op methods)
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

# re-exported: ``from minitorch_ser.autograd.tensor import Tensor, no_grad`` is the spelling
# used throughout the library
from .grad_mode import enable_grad, is_grad_enabled, no_grad

__all__ = ["Tensor", "Context", "unbroadcast", "as_tensor", "as_array", "no_grad", "enable_grad",
           "is_grad_enabled"]


# ============================================================================ the graph node
class Context:
    """What one application of a Function remembers for its backward pass (a graph node).

    ``Function.apply`` creates it and passes it to ``forward`` and ``backward`` as ``ctx``. Its
    attributes are fixed (``__slots__``, no ``__dict__``): keep what ``backward`` needs with
    ``ctx.save_for_backward(...)``; assigning any other attribute raises ``AttributeError``.

    Parameters
    ----------
    fn : type
        The Function subclass being applied.

    Attributes
    ----------
    fn : type
        The Function subclass that was applied.
    saved_tensors : tuple
        Whatever ``forward`` stored with ``save_for_backward`` (arrays, shapes, settings).
    needs_input_grad : tuple of bool
        For each positional input, whether a gradient must be computed for it.
    parents : list
        For each positional input, where its gradient goes: ``(Context, output_index)`` for an
        input produced by another op, the leaf ``Tensor`` itself for a leaf that requires grad,
        or ``None``. Only nodes are kept, never intermediate tensors, so activations are freed
        as soon as nothing (the user or a saved array) refers to them.
    input_shapes, input_dtypes, output_shapes, output_dtypes : list
        Recorded so the engine can check returned gradients and build zeros for unused outputs.
    multi_output : bool
        ``forward`` returned a tuple, so ``backward`` receives a tuple of output gradients.
    released : bool
        Set by a backward without ``retain_graph``: saved arrays and parents were freed.
    """

    __slots__ = ("fn", "saved_tensors", "needs_input_grad", "parents", "input_shapes",
                 "input_dtypes", "output_shapes", "output_dtypes", "multi_output", "released")

    def __init__(self, fn: type):
        self.fn = fn
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()
        self.parents: list = []
        self.input_shapes: list = []
        self.input_dtypes: list = []
        self.output_shapes: list = []
        self.output_dtypes: list = []
        self.multi_output = False   # forward returned a tuple: backward gets a tuple of grads
        self.released = False

    def save_for_backward(self, *values) -> None:
        """Keep ``values`` (ndarrays or any Python objects) for ``backward``, in order."""
        self.saved_tensors = values

    @property
    def name(self) -> str:
        """The applied Function's class name, for messages."""
        return self.fn.__name__


def unbroadcast(grad: np.ndarray, shape: tuple, fn_name: str = "?", index: int = 0) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``.

    Broadcasting maps an input of shape ``shape`` to the output shape by (1) prepending axes of
    size 1 and (2) repeating size-1 axes. The adjoint of a repetition is a sum, so the gradient
    of the input is the output gradient summed over (1) the leading extra axes and (2) every
    axis where the input had size 1 and the output did not.

    Parameters
    ----------
    grad : ndarray (*B)
        A gradient of the broadcast shape ``B`` (or of ``shape`` itself).
    shape : tuple of int (*S)
        The input's shape; ``S`` must broadcast to ``B``.
    fn_name : str
        Name of the Function whose backward returned ``grad``, for the error message.
    index : int >= 0
        Position of that input among the Function's inputs, for the error message.

    Returns
    -------
    ndarray (*S)
        ``grad`` itself when it already has ``shape``, else its sums over broadcast axes.

    Raises
    ------
    ValueError
        If ``grad`` is not a broadcast of ``shape`` (a bug in the Function's backward).
    """
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise ValueError(
            f"{fn_name}.backward returned a gradient of shape {grad.shape} for input {index} "
            f"of shape {shape}: the gradient must have the input's shape or a broadcast of it")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(ax for ax, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != shape:
        raise ValueError(
            f"{fn_name}.backward returned a gradient of shape {grad.shape} (after summing "
            f"broadcast axes) for input {index} of shape {shape}")
    return grad


# ============================================================================ the Tensor
def _to_array(data, dtype=None) -> np.ndarray:
    """Convert ``data`` to an ndarray; Python floats and lists of floats become float32."""
    if isinstance(data, (Tensor, np.ndarray)):
        arr = as_array(data)
    else:
        arr = np.asarray(data)
        if arr.dtype == np.float64:  # a Python float or list: default to float32 as torch does
            arr = arr.astype(np.float32)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr


#: operand types the comparisons accept; anything else gets NotImplemented (so ``t == None``
#: is False and ``t < "a"`` a TypeError, as in torch)
_COMPARABLE = (np.ndarray, np.generic, numbers.Number, list, tuple)


class Tensor:
    """A multi-dimensional array that records the ops applied to it for differentiation.

    Comparisons (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``) are elementwise, with NumPy's
    broadcasting, and give a boolean Tensor that does not require grad, as in torch and NumPy.
    ``bool(t)`` is defined only for a one-element tensor. Hashing is by identity
    (``object.__hash__``), so tensors and parameters can be dict keys and set members: a dict
    lookup finds the very object it was given, whatever the values.

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

    Raises
    ------
    ValueError
        If ``requires_grad`` is True for a tensor whose dtype is not floating.
    """

    __array_priority__ = 1000  # so ndarray + Tensor (and ndarray == Tensor) call Tensor's method

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
        """Set ``requires_grad`` in place (only floating tensors may require grad); returns self."""
        if flag and self.data.dtype.kind != "f":
            raise ValueError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(flag)
        return self

    # ----------------------------------------------------------------- backward
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        Parameters
        ----------
        grad : array_like, optional
            dL/d(self), of self's shape. May be omitted only for a one-element tensor
            (then it is 1).
        retain_graph : bool
            Keep the saved arrays so that backward can run through this graph again.

        Raises
        ------
        RuntimeError
            If self does not require grad, if ``grad`` is omitted for a tensor of more than one
            element, or if the graph was already released by an earlier backward.
        ValueError
            If ``grad`` does not have self's shape.
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

    # ----------------------------------------------------------------- comparisons
    # Elementwise, never differentiable: a plain boolean Tensor of the broadcast shape.
    def _compare(self, other, compare) -> "Tensor":
        if not isinstance(other, (Tensor,) + _COMPARABLE):
            return NotImplemented
        return Tensor(compare(self.data, _unwrap(other)))

    def __eq__(self, other):
        return self._compare(other, operator.eq)

    def __ne__(self, other):
        return self._compare(other, operator.ne)

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)

    # defining __eq__ would otherwise make Tensor unhashable: keep identity hashing (as torch)
    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        """The truth of a one-element tensor (``if (loss > 0): ...``), as in torch and NumPy.

        Raises
        ------
        ValueError
            For any other number of elements: reduce first with ``.all()`` or ``.any()``.
        """
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a Tensor of shape {self.shape} ({self.data.size} elements) "
                "is ambiguous: bool() needs exactly one element; use .any() or .all()")
        return bool(self.data.reshape(-1)[0])

    # ----------------------------------------------------------------- reductions without a graph
    def all(self, axis=None) -> "Tensor":
        """Whether every element (along ``axis``) is true: a boolean Tensor, not differentiable."""
        return Tensor(np.asarray(self.data.all(axis=axis)))

    def any(self, axis=None) -> "Tensor":
        """Whether some element (along ``axis``) is true: a boolean Tensor, not differentiable."""
        return Tensor(np.asarray(self.data.any(axis=axis)))

    def argmax(self, axis=None) -> "Tensor":
        """Index of the largest element (along ``axis``): an int64 Tensor, not differentiable."""
        return Tensor(self.data.argmax(axis=axis))


# ============================================================================ wrap and unwrap
def as_tensor(x) -> Tensor:
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


def _unwrap(x):
    """``x.data`` for a Tensor, anything else unchanged (not converted, unlike ``as_array``).

    For operands NumPy must see as they are: a Python scalar stays weakly typed (NEP 50), so
    float32 data compared with ``0.1`` is compared in float32; slices, ``None`` and ``...`` in
    an index stay index objects.
    """
    return x.data if isinstance(x, Tensor) else x


# ============================================================================ the backward walk
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
