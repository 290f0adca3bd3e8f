"""The `Function` base class: one differentiable operation on plain ndarrays.

Every op in minitorch_ser (``Add``, ``MatMul``, ``Conv2dFunction``, a whole LSTM layer, ...) is a
subclass with two static methods::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):              # a, b : ndarrays
            ctx.save_for_backward(a, b)
            return a * b                     # an ndarray (or a tuple of them)

        @staticmethod
        def backward(ctx, grad):             # grad : dL/d(output), same shape as the output
            a, b = ctx.saved_tensors
            return grad * b, grad * a        # exactly one gradient per input

``Mul.apply(x, y)`` runs ``forward`` on the inputs' arrays and, when any input requires a
gradient, records a graph node (the ``Context``) on the output tensor. ``Tensor.backward`` (in
``tensor.py``) later walks those nodes in reverse topological order and calls ``backward``.

Rules the engine enforces, so that a new op cannot fail silently:

- positional arguments of ``apply`` are the differentiable inputs (Tensors, or array-likes turned
  into constants); hyper-parameters are keyword arguments, passed to ``forward`` unchanged;
- ``backward`` returns one entry per positional input (``None`` is allowed for an input that
  needs no gradient, see ``ctx.needs_input_grad``); a wrong count raises naming the Function;
- a returned gradient may have the broadcast shape of the output: the engine sums it back to
  the input's shape in one place (``unbroadcast``); a shape that cannot be reduced raises;
- a ``forward`` returning a tuple of arrays makes one output tensor each; its ``backward`` then
  receives a tuple of output gradients, with zeros for outputs that did not reach the loss.
"""

from __future__ import annotations

import importlib

import numpy as np


class Context:
    """What one application of a Function remembers for its backward pass.

    Attributes
    ----------
    fn : type
        The Function subclass that was applied.
    saved_tensors : tuple of ndarray
        Whatever ``forward`` stored with ``save_for_backward``.
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
                 "input_dtypes", "output_shapes", "output_dtypes", "multi_output", "released",
                 "__dict__")

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

    def save_for_backward(self, *arrays) -> None:
        """Keep ``arrays`` (ndarrays or any Python objects) for ``backward``."""
        self.saved_tensors = arrays

    @property
    def name(self) -> str:
        return self.fn.__name__


def unbroadcast(grad: np.ndarray, shape: tuple, fn_name: str = "?", index: int = 0) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``.

    Broadcasting maps an input of shape ``shape`` to the output shape by (1) prepending axes of
    size 1 and (2) repeating size-1 axes. The adjoint of a repetition is a sum, so the gradient
    of the input is the output gradient summed over (1) the leading extra axes and (2) every
    axis where the input had size 1 and the output did not.

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


class Function:
    """Base class of every differentiable operation. See the module docstring."""

    @staticmethod
    def forward(ctx: Context, *arrays, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: Context, grad):
        raise NotImplementedError("a Function subclass must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run ``forward`` on the inputs' arrays; record a graph node when gradients are needed.

        Returns a Tensor, or a tuple of Tensors when ``forward`` returns a tuple.
        """
        Tensor = _tensor.Tensor
        tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
        ctx = Context(cls)
        needs = ctx.needs_input_grad = tuple([t.requires_grad for t in tensors])
        out = cls.forward(ctx, *[t.data for t in tensors], **kwargs)
        multi = type(out) is tuple
        outs = out if multi else (out,)
        track = any(needs) and _tensor.is_grad_enabled()
        if not track:  # no backward will run: free what forward saved, record nothing
            ctx.saved_tensors = ()
            results = tuple(Tensor._wrap(np.asarray(o), None, 0) for o in outs)
            return results if multi else results[0]
        # link the node to its inputs: the producing node for an op output, the tensor for a
        # leaf that requires grad, None for a constant
        ctx.parents = [None if not t.requires_grad else
                       (t if t._ctx is None else (t._ctx, t._out_index)) for t in tensors]
        ctx.input_shapes = [t.data.shape for t in tensors]
        ctx.input_dtypes = [t.data.dtype for t in tensors]
        outs = [np.asarray(o) for o in outs]
        ctx.output_shapes = [o.shape for o in outs]
        ctx.output_dtypes = [o.dtype for o in outs]
        ctx.multi_output = multi
        # only floating outputs are differentiable (argmax-like integer outputs are not)
        results = tuple(Tensor._wrap(o, ctx if o.dtype.kind == "f" else None, k)
                        for k, o in enumerate(outs))
        return results if multi else results[0]


# tensor.py imports Context and unbroadcast from this module, so the reverse import comes last
# and binds the module object (``_tensor.Tensor`` is looked up when ``apply`` runs). It goes
# through importlib because the package attribute ``minitorch_ser.autograd.tensor`` is the factory
# function of that name, not this submodule.
_tensor = importlib.import_module(f"{__package__}.tensor")
