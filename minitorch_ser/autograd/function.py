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
gradient and grad mode is on, records a graph node (the ``Context``, defined in ``tensor.py``
next to the walk that visits it) on the output tensor. ``Tensor.backward`` later walks those
nodes in reverse topological order and calls ``backward``.

Rules the engine enforces, so that a new op cannot fail silently:

- positional arguments of ``apply`` are the differentiable inputs (Tensors, or array-likes turned
  into constants); hyper-parameters are keyword arguments, passed to ``forward`` unchanged;
- ``backward`` returns one entry per positional input (``None`` is allowed for an input that
  needs no gradient, see ``ctx.needs_input_grad``); a wrong count raises naming the Function;
- a returned gradient may have the broadcast shape of the output: the engine sums it back to
  the input's shape in one place (``tensor.unbroadcast``); a shape that cannot be reduced
  raises;
- a ``forward`` returning a tuple of arrays makes one output tensor each; its ``backward`` then
  receives a tuple of output gradients, with zeros for outputs that did not reach the loss.
"""

from __future__ import annotations

import numpy as np

from .grad_mode import is_grad_enabled
from .tensor import Context, Tensor, as_tensor


class Function:
    """Base class of every differentiable operation. See the module docstring."""

    @staticmethod
    def forward(ctx: Context, *arrays, **kwargs):
        """Compute the output from the inputs' arrays (every subclass defines it).

        Parameters
        ----------
        ctx : Context
            The node of this application: ``ctx.save_for_backward(...)`` keeps what
            ``backward`` needs; ``ctx.needs_input_grad`` says which inputs want a gradient.
        *arrays : ndarray
            One array per positional input of ``apply``.
        **kwargs
            The keyword arguments of ``apply`` (hyper-parameters), unchanged.

        Returns
        -------
        ndarray, or tuple of ndarray
            The output (a tuple makes one output tensor each).
        """
        raise NotImplementedError(f"{ctx.name} must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: Context, grad):
        """Gradients of the loss with respect to each input (every subclass defines it).

        Parameters
        ----------
        ctx : Context
            The node ``forward`` filled.
        grad : ndarray, or tuple of ndarray
            dL/d(output), of the output's shape (a tuple for a tuple-returning ``forward``,
            with zeros for outputs that did not reach the loss).

        Returns
        -------
        ndarray or None, or a tuple of them
            Exactly one entry per positional input: its gradient (of the input's shape or of
            a broadcast of it), or None when no gradient is needed.
        """
        raise NotImplementedError(f"{ctx.name} must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run ``forward`` on the inputs' arrays; record a graph node when gradients are needed.

        A node is recorded when grad mode is on (``grad_mode.is_grad_enabled()``) and some
        input requires a gradient; otherwise whatever ``forward`` saved is dropped at once.

        Parameters
        ----------
        *inputs : Tensor or array_like
            The differentiable inputs; anything that is not a Tensor becomes a constant
            (``as_tensor``).
        **kwargs
            Hyper-parameters, passed to ``forward`` unchanged and never differentiated.

        Returns
        -------
        Tensor, or tuple of Tensor
            One tensor per output of ``forward``; floating outputs require grad exactly when a
            node was recorded, integer and boolean outputs never do.
        """
        tensors = [as_tensor(x) for x in inputs]
        ctx = Context(cls)
        needs = ctx.needs_input_grad = tuple([t.requires_grad for t in tensors])
        out = cls.forward(ctx, *[t.data for t in tensors], **kwargs)
        multi = type(out) is tuple
        outs = out if multi else (out,)
        track = any(needs) and is_grad_enabled()
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
