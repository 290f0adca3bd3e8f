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
    """

    __slots__ = ("fn", "saved_tensors", "needs_input_grad", "parents", "input_shapes",
                 "input_dtypes", "output_shapes", "output_dtypes", "released", "__dict__")

    def __init__(self, fn: type):
        self.fn = fn
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()
        self.parents: list = []
        self.input_shapes: list = []
        self.input_dtypes: list = []
        self.output_shapes: list = []
        self.output_dtypes: list = []
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
        from .tensor import Tensor, is_grad_enabled

        tensors = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
        needs = tuple(t.requires_grad for t in tensors)
        track = is_grad_enabled() and any(needs)
        ctx = Context(cls)
        ctx.needs_input_grad = needs
        out = cls.forward(ctx, *[t.data for t in tensors], **kwargs)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        results = tuple(Tensor(np.asarray(o), requires_grad=track and _is_float(o)) for o in outs)
        if track:
            ctx.parents = [(t._ctx, t._out_index) if t._ctx is not None else (t if t.requires_grad else None)
                           for t in tensors]
            ctx.input_shapes = [t.data.shape for t in tensors]
            ctx.input_dtypes = [t.data.dtype for t in tensors]
            ctx.output_shapes = [r.data.shape for r in results]
            ctx.output_dtypes = [r.data.dtype for r in results]
            for i, r in enumerate(results):
                if r.requires_grad:
                    r._ctx, r._out_index = ctx, i
        else:
            ctx.saved_tensors = ()  # nothing will call backward: free what forward saved
        return results if multi else results[0]


def _is_float(a) -> bool:
    return np.issubdtype(np.asarray(a).dtype, np.floating)
