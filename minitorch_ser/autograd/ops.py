"""The core differentiable ops, each a `Function` on plain ndarrays, and Tensor's op methods.

Notation: ``g`` is dL/d(output) and every backward returns dL/d(input) for each input, by the
chain rule written out per op. Broadcasting is undone by the engine (``tensor.unbroadcast``),
so binary ops return gradients of the output's shape. Shapes: ``(*S)`` is any shape, ``(*B)``
the broadcast shape of the operands.

The user-facing spellings are the free functions (``concat``, ``stack``, ``split``, ``pad``,
``where``, ``dropout``, ``contiguous``) and the operators and methods of ``Tensor`` (``a + b``,
``a @ b``, ``x[i]``, ``x.sum(axis)``, ``x.reshape(shape)``, ...). Those are defined at the end of
this file, in ``_TensorOpMethods``, and installed on ``Tensor`` by ``install_tensor_methods()``
when this module is imported: ``tensor.py`` knows no op, so the import graph of the core has no
cycle (grad_mode <- tensor <- function <- ops), the way DeZero's ``setup_variable`` does it.
"""

from __future__ import annotations

import types

import numpy as np

from .function import Function
from .tensor import Tensor, _unwrap, as_array, as_tensor


# ============================================================================ elementwise binary
class Add(Function):
    """``out = a + b`` (broadcasting); da = g, db = g.

    Parameters
    ----------
    a, b : ndarray (*S_a), (*S_b)
        Operands whose shapes broadcast together to ``(*B)``, the output's shape.
    """

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("add", a, b)
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """``out = a - b``; da = g, db = -g.

    Parameters
    ----------
    a, b : ndarray (*S_a), (*S_b)
        Operands whose shapes broadcast together to ``(*B)``, the output's shape.
    """

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("sub", a, b)
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, -g


class Mul(Function):
    """``out = a * b``; da = g b, db = g a.

    Parameters
    ----------
    a, b : ndarray (*S_a), (*S_b)
        Operands whose shapes broadcast together to ``(*B)``, the output's shape.
    """

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("mul", a, b)
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None,
                g * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    """``out = a / b``; da = g / b, db = -g a / b^2.

    Parameters
    ----------
    a, b : ndarray (*S_a), (*S_b)
        Dividend and divisor, broadcasting together to ``(*B)``; ``b`` nonzero for a finite
        result.
    """

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("div", a, b)
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g / b if ctx.needs_input_grad[0] else None,
                -g * a / (b * b) if ctx.needs_input_grad[1] else None)


class PowTensor(Function):
    """``out = a ** b`` with both tensors; da = g b a^(b-1), db = g a^b log(a).

    db uses ``log(a)`` only where ``a > 0`` (0 elsewhere, where the real power has no
    derivative in b).

    Parameters
    ----------
    a, b : ndarray (*S_a), (*S_b)
        Base and exponent, broadcasting together to ``(*B)``.
    """

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("pow", a, b)
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        da = g * b * a ** (b - 1) if ctx.needs_input_grad[0] else None
        db = g * out * np.log(np.where(a > 0, a, 1)) if ctx.needs_input_grad[1] else None
        return da, db


class Contiguous(Function):
    """``out = a`` laid out C-contiguously in memory; da = g, laid out so too.

    Values never change, only memory order: ``np.asarray(a, order="C")`` copies an array that
    is not C-contiguous and returns a C-contiguous one as it is (``np.ascontiguousarray`` does
    the same but turns a 0-D array into shape (1,)). ``np.matmul`` hands a stack of
    matrices to BLAS only when each matrix has a unit stride; on a permuted view it falls back
    to a loop about 20x slower. ``MatMul`` applies the same rule to its stacked operands.

    Parameters
    ----------
    a : ndarray (*S)
    """

    @staticmethod
    def forward(ctx, a):
        return np.asarray(a, order="C")

    @staticmethod
    def backward(ctx, g):
        return np.asarray(g, order="C")


class MatMul(Function):
    """``out = a @ b`` with NumPy's matmul rules (batched, batch dims broadcast).

    Shapes: a : (..., M, K), b : (..., K, P) -> (..., M, P). 1-D operands are treated as a row
    (a) or column (b) vector and that axis is removed from the output, as in np.matmul.
    da = g @ b^T, db = a^T @ g (batch dims summed back by the engine). Stacks of matrices
    (ndim > 2: operands, and the output gradient in backward) are made C-contiguous first, the
    rule of ``Contiguous``, so that np.matmul runs them on BLAS.

    Parameters
    ----------
    a : ndarray (..., M, K) or (K,)
        Left operand, at least 1-D.
    b : ndarray (..., K, P) or (K,)
        Right operand, at least 1-D; its batch dimensions broadcast with those of ``a``.

    Raises
    ------
    ValueError
        If an operand is 0-D, the inner dimensions K differ, or the batch dimensions do not
        broadcast.
    """

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs at least 1-D operands, got shapes {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                             f"(last axis of a must equal the second-to-last of b)")
        if a.ndim > 2 or b.ndim > 2:
            try:
                np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            except ValueError:
                raise ValueError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} "
                                 f"cannot be broadcast together") from None
        # a permuted view of a stack would send np.matmul to its slow loop: copy it once
        a = np.asarray(a, order="C") if a.ndim > 2 else a
        b = np.asarray(b, order="C") if b.ndim > 2 else b
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        g = np.asarray(g, order="C") if g.ndim > 2 else g
        a2 = a[None, :] if a.ndim == 1 else a            # (..., M, K)
        b2 = b[:, None] if b.ndim == 1 else b            # (..., K, P)
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            g2 = g2[..., None]
        da = db = None
        if ctx.needs_input_grad[0]:
            da = np.matmul(g2, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                da = da.reshape(-1, a.shape[0]).sum(axis=0)
        if ctx.needs_input_grad[1]:
            if b.ndim == 2 and a2.ndim > 2:
                # a shared weight (x @ W with x : (..., M, K)): one (K, N*M) @ (N*M, P) product
                # instead of a (..., K, P) stack summed afterwards
                db = a2.reshape(-1, a2.shape[-1]).T @ g2.reshape(-1, g2.shape[-1])
            else:
                db = np.matmul(np.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                db = db.reshape(-1, b.shape[0]).sum(axis=0)
        return da, db


# ============================================================================ elementwise unary
class Cast(Function):
    """``out = a.astype(dtype)``; the gradient is cast back to a's dtype (by the engine).

    Parameters
    ----------
    a : ndarray (*S)
    dtype : numpy dtype
        The output's dtype.
    """

    @staticmethod
    def forward(ctx, a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g


class Neg(Function):
    """``out = -a``; da = -g.

    Parameters
    ----------
    a : ndarray (*S)
    """

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """``out = a ** p`` for a constant p; da = g p a^(p-1).

    Parameters
    ----------
    a : ndarray (*S)
        The base; ``a > 0`` for a real result with a non-integer ``exponent``.
    exponent : float
        The constant p (a Python float, so the output keeps a's float dtype).
    """

    @staticmethod
    def forward(ctx, a, exponent):
        ctx.save_for_backward(a, exponent)
        return a ** exponent  # a Python float exponent keeps a's float dtype

    @staticmethod
    def backward(ctx, g):
        a, p = ctx.saved_tensors
        return g * p * a ** (p - 1)


class Exp(Function):
    """``out = e^a``; da = g out.

    Parameters
    ----------
    a : ndarray (*S)
    """

    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class Log(Function):
    """``out = ln a``; da = g / a.

    Parameters
    ----------
    a : ndarray (*S), > 0 for a finite result
    """

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sqrt(Function):
    """``out = sqrt(a)``; da = g / (2 out).

    Parameters
    ----------
    a : ndarray (*S), >= 0 (> 0 for a finite gradient)
    """

    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class Abs(Function):
    """``out = |a|``; da = g sign(a) (0 at a = 0).

    Parameters
    ----------
    a : ndarray (*S)
    """

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * np.sign(a)


class Tanh(Function):
    """``out = tanh(a)``; da = g (1 - out^2).

    Parameters
    ----------
    a : ndarray (*S)
    """

    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


def sigmoid_array(a: np.ndarray) -> np.ndarray:
    """Numerically stable logistic ``1 / (1 + e^-a)``: never exponentiates a large positive.

    With ``e = e^-|a|``: ``1 / (1 + e)`` for ``a >= 0`` and ``e / (1 + e)`` for ``a < 0``.
    """
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


class Sigmoid(Function):
    """``out = 1 / (1 + e^-a)``; da = g out (1 - out).

    Parameters
    ----------
    a : ndarray (*S)
    """

    @staticmethod
    def forward(ctx, a):
        out = sigmoid_array(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


class ReLU(Function):
    """``out = max(a, 0)``; da = g [a > 0].

    Parameters
    ----------
    a : ndarray (*S)
    """

    @staticmethod
    def forward(ctx, a):
        mask = a > 0
        ctx.save_for_backward(mask)
        return a * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


class Clamp(Function):
    """``out = min(max(a, min), max)``; da = g where min <= a <= max, else 0.

    Parameters
    ----------
    a : ndarray (*S)
    min, max : float or None
        Bounds (None: unbounded on that side); ``min <= max`` when both are given.

    Raises
    ------
    ValueError
        If ``min > max``.
    """

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        if min is not None and max is not None and min > max:
            raise ValueError(f"clamp: min={min} must be <= max={max}")
        mask = np.ones(a.shape, dtype=bool)
        if min is not None:
            mask &= a >= min
        if max is not None:
            mask &= a <= max
        ctx.save_for_backward(mask)
        return np.clip(a, min, max)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


class MaskedFill(Function):
    """``out = where(mask, value, a)`` for a constant boolean mask; da = g [not mask].

    Parameters
    ----------
    a : ndarray (*S)
    mask : bool ndarray, broadcastable to (*S)
        Where to write ``value``; not differentiated.
    value : float
        The fill value (cast to a's dtype).

    Raises
    ------
    ValueError
        If ``mask`` cannot be broadcast to a's shape.
    """

    @staticmethod
    def forward(ctx, a, mask, value):
        if mask.shape != a.shape:
            try:
                mask = np.broadcast_to(mask, a.shape)
            except ValueError:
                raise ValueError(f"masked_fill: mask of shape {mask.shape} cannot be broadcast "
                                 f"to the tensor's shape {a.shape}") from None
        ctx.save_for_backward(mask)
        return np.where(mask, np.asarray(value, dtype=a.dtype), a)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * ~mask


class Where(Function):
    """``out = where(condition, a, b)``; da = g [condition], db = g [not condition].

    Parameters
    ----------
    a, b : ndarray (*S_a), (*S_b)
        The values taken where ``condition`` is true and false.
    condition : bool ndarray (*S_c)
        Not differentiated; the three shapes broadcast together to ``(*B)``.

    Raises
    ------
    ValueError
        If the three shapes cannot be broadcast together.
    """

    @staticmethod
    def forward(ctx, a, b, condition):
        try:
            np.broadcast_shapes(condition.shape, a.shape, b.shape)
        except ValueError:
            raise ValueError(f"where: condition {condition.shape}, a {a.shape} and b {b.shape} "
                             f"cannot be broadcast together") from None
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        return g * cond, g * ~cond


# ============================================================================ reductions
def _expand_reduced(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Re-insert the reduced axes of ``g`` (size 1) so it broadcasts against ``shape``."""
    if axis is None:
        return g.reshape((1,) * len(shape))
    if not keepdims:
        axes = (axis,) if np.isscalar(axis) else axis
        g = np.expand_dims(g, tuple(ax % len(shape) for ax in axes))
    return g


def _count(shape: tuple, axis) -> int:
    """Number of elements reduced over ``axis`` (None: all) of an array of ``shape``."""
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if np.isscalar(axis) else axis
    return int(np.prod([shape[ax] for ax in axes]))


class Sum(Function):
    """``out = sum over axis``; da = g broadcast back over the summed axes.

    Parameters
    ----------
    a : ndarray (*S)
    axis : int, tuple of int or None
        Axes to sum over (None: all).
    keepdims : bool
        Keep the summed axes with size 1.
    """

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.save_for_backward(a.shape, axis, keepdims)
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        shape, axis, keepdims = ctx.saved_tensors
        return np.broadcast_to(_expand_reduced(g, shape, axis, keepdims), shape)


class Mean(Function):
    """``out = sum over axis / n``; da = g / n broadcast back (n: number of reduced elements).

    Parameters
    ----------
    a : ndarray (*S)
    axis : int, tuple of int or None
        Axes to average over (None: all).
    keepdims : bool
        Keep the reduced axes with size 1.
    """

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.save_for_backward(a.shape, axis, keepdims)
        return np.asarray(a.mean(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        shape, axis, keepdims = ctx.saved_tensors
        g = _expand_reduced(g, shape, axis, keepdims) / _count(shape, axis)
        return np.broadcast_to(g, shape)


class Max(Function):
    """``out = max over axis``; da = g at the maximal elements (ties share it equally).

    da_i = g [a_i = out] / #{j : a_j = out} within each reduced slice.

    Parameters
    ----------
    a : ndarray (*S)
    axis : int, tuple of int or None
        Axes to take the maximum over (None: all).
    keepdims : bool
        Keep the reduced axes with size 1.
    """

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        out = np.asarray(a.max(axis=axis, keepdims=True))
        ctx.save_for_backward(a, out, axis, keepdims)
        return out if keepdims else np.asarray(out.squeeze(axis=axis) if axis is not None else out.reshape(()))

    @staticmethod
    def backward(ctx, g):
        a, out, axis, keepdims = ctx.saved_tensors
        mask = (a == out)
        counts = mask.sum(axis=axis, keepdims=True)
        return mask * (_expand_reduced(g, a.shape, axis, keepdims) / counts)


class Var(Function):
    """``out = sum((a - mean)^2) / (n - c)`` over axis; da = 2 g (a - mean) / (n - c).

    c = 1 when ``unbiased`` (Bessel's correction), else 0. The mean's own dependence on ``a``
    adds nothing to da, because the centred values sum to zero.

    Parameters
    ----------
    a : ndarray (*S)
    axis : int, tuple of int or None
        Axes to reduce over (None: all); n is the number of reduced elements.
    keepdims : bool
        Keep the reduced axes with size 1.
    unbiased : bool
        Divide by n - 1 instead of n.

    Raises
    ------
    ValueError
        If ``n - c <= 0``.
    """

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, unbiased=True):
        n = _count(a.shape, axis)
        denom = n - 1 if unbiased else n
        if denom <= 0:
            raise ValueError(f"var: {n} element(s) over axis={axis} is too few "
                             f"(unbiased={unbiased} needs n > {1 if unbiased else 0})")
        centred = a - a.mean(axis=axis, keepdims=True)
        ctx.save_for_backward(centred, denom, axis, keepdims)
        return np.asarray((centred * centred).sum(axis=axis, keepdims=keepdims) / denom)

    @staticmethod
    def backward(ctx, g):
        centred, denom, axis, keepdims = ctx.saved_tensors
        return 2 * centred * (_expand_reduced(g, centred.shape, axis, keepdims) / denom)


# ============================================================================ shape ops
class Reshape(Function):
    """``out = a.reshape(shape)``; da = g.reshape(a.shape).

    Parameters
    ----------
    a : ndarray (*S)
    shape : tuple of int
        The new shape, with as many elements as ``a`` (one entry may be -1).

    Raises
    ------
    ValueError
        If the element counts differ.
    """

    @staticmethod
    def forward(ctx, a, shape):
        ctx.save_for_backward(a.shape)
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                             f"({a.size} elements) into {shape}") from None

    @staticmethod
    def backward(ctx, g):
        (shape,) = ctx.saved_tensors
        return g.reshape(shape)


class Permute(Function):
    """``out = a.transpose(axes)``; da = g transposed by the inverse permutation.

    Parameters
    ----------
    a : ndarray (*S)
    axes : tuple of int
        A permutation of ``range(a.ndim)`` (negative axes allowed).

    Raises
    ------
    ValueError
        If ``axes`` is not a permutation of a's axes.
    """

    @staticmethod
    def forward(ctx, a, axes):
        if sorted(ax % max(a.ndim, 1) for ax in axes) != list(range(a.ndim)):
            raise ValueError(f"permute: axes {axes} are not a permutation of the {a.ndim} "
                             f"axes of a tensor of shape {a.shape}")
        ctx.save_for_backward(axes)
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        (axes,) = ctx.saved_tensors
        return g.transpose(np.argsort([ax % g.ndim for ax in axes]))


def _has_advanced(index) -> bool:
    """Whether ``index`` holds an integer or boolean array (NumPy's advanced indexing)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


class GetItem(Function):
    """``out = a[index]`` (slices, integers, integer or boolean arrays).

    da = zeros with g scattered to the indexed positions; repeated integer indices accumulate
    (np.add.at), plain slices are written directly.

    Parameters
    ----------
    a : ndarray (*S)
    index : int, slice, None, Ellipsis, int or bool ndarray, or a tuple of them
        A NumPy index (Tensors already replaced by their arrays).
    """

    @staticmethod
    def forward(ctx, a, index):
        ctx.save_for_backward(a.shape, a.dtype, index)
        return np.asarray(a[index])

    @staticmethod
    def backward(ctx, g):
        shape, dtype, index = ctx.saved_tensors
        da = np.zeros(shape, dtype=g.dtype)
        if _has_advanced(index):
            np.add.at(da, index, g)
        else:
            da[index] = g
        return da


class Concat(Function):
    """``out = concatenate(arrays, axis)``; each input gets its slice of g.

    Parameters
    ----------
    *arrays : ndarray (..., n_i, ...)
        At least one, all of the same rank >= 1 and equal sizes except along ``axis``.
    axis : int
        The axis to join along (negative allowed).

    Raises
    ------
    ValueError
        If no array is given, they are 0-D, or their shapes differ off ``axis``.
    """

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        if not arrays:
            raise ValueError("concat needs at least one tensor")
        ref = arrays[0].shape
        if not ref:
            raise ValueError("concat: zero-dimensional tensors cannot be concatenated; use stack")
        ax = axis % len(ref)
        for i, arr in enumerate(arrays):
            if arr.ndim != len(ref) or any(s != r for d, (s, r) in enumerate(zip(arr.shape, ref)) if d != ax):
                raise ValueError(f"concat along axis {axis}: tensor {i} has shape {arr.shape}, "
                                 f"incompatible with tensor 0 of shape {ref}")
        ctx.save_for_backward(ax, np.cumsum([arr.shape[ax] for arr in arrays])[:-1])
        return np.concatenate(arrays, axis=ax)

    @staticmethod
    def backward(ctx, g):
        ax, bounds = ctx.saved_tensors
        return tuple(np.split(g, bounds, axis=ax))


class Stack(Function):
    """``out = stack(arrays, axis)``; each input gets g indexed at its position.

    Parameters
    ----------
    *arrays : ndarray (*S)
        At least one, all of the same shape.
    axis : int
        Position of the new axis in the output (negative allowed).

    Raises
    ------
    ValueError
        If no array is given or the shapes differ.
    """

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        if not arrays:
            raise ValueError("stack needs at least one tensor")
        for i, arr in enumerate(arrays):
            if arr.shape != arrays[0].shape:
                raise ValueError(f"stack: tensor {i} has shape {arr.shape}, tensor 0 has "
                                 f"{arrays[0].shape}; all must match")
        out = np.stack(arrays, axis=axis)
        ctx.save_for_backward(axis % out.ndim, len(arrays))
        return out

    @staticmethod
    def backward(ctx, g):
        ax, n = ctx.saved_tensors
        return tuple(np.take(g, i, axis=ax) for i in range(n))


class Split(Function):
    """``outs = split(a, sizes, axis)`` into pieces of the given sizes (a multi-output op).

    da = concatenate(g_1, ..., g_k) along axis (zeros for pieces that did not reach the loss).

    Parameters
    ----------
    a : ndarray (*S)
    sizes : tuple of int >= 0
        Length of each piece along ``axis``; they must sum to ``a.shape[axis]``.
    axis : int
        The axis to cut (negative allowed).

    Raises
    ------
    ValueError
        If the sizes do not sum to the axis length.
    """

    @staticmethod
    def forward(ctx, a, sizes, axis=0):
        ax = axis % a.ndim
        if sum(sizes) != a.shape[ax]:
            raise ValueError(f"split: sizes {list(sizes)} sum to {sum(sizes)}, but axis {axis} "
                             f"of shape {a.shape} has {a.shape[ax]}")
        ctx.save_for_backward(ax)
        return tuple(np.split(a, np.cumsum(sizes)[:-1], axis=ax))

    @staticmethod
    def backward(ctx, grads):
        (ax,) = ctx.saved_tensors
        return np.concatenate(grads, axis=ax)


class Pad(Function):
    """Constant padding with NumPy's ``pad_width`` ((before, after) per axis); da = g cropped.

    Parameters
    ----------
    a : ndarray (*S)
    pad_width : sequence of (int >= 0, int >= 0)
        One (before, after) pair per axis of ``a``.
    value : float
        The constant written into the padding.

    Raises
    ------
    ValueError
        If ``pad_width`` does not hold one non-negative pair per axis.
    """

    @staticmethod
    def forward(ctx, a, pad_width, value=0.0):
        pad_width = tuple(tuple(int(v) for v in p) for p in pad_width)
        if len(pad_width) != a.ndim or any(v < 0 for p in pad_width for v in p):
            raise ValueError(f"pad: pad_width={pad_width} needs one non-negative (before, after) "
                             f"pair per axis of a tensor of shape {a.shape}")
        ctx.save_for_backward(pad_width)
        return np.pad(a, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        (pad_width,) = ctx.saved_tensors
        return g[tuple(slice(b, g.shape[i] - e) for i, (b, e) in enumerate(pad_width))]


# ============================================================================ softmax family
class Softmax(Function):
    """``out_i = e^(a_i - max a) / sum_j e^(a_j - max a)`` along axis (shift for stability).

    From the Jacobian d out_j / d a_i = out_j (delta_ij - out_i):
    da_i = sum_j g_j out_j (delta_ij - out_i) = out_i (g_i - sum_j g_j out_j).

    Parameters
    ----------
    a : ndarray (*S)
        Scores (logits).
    axis : int
        The axis along which the output sums to 1.
    """

    @staticmethod
    def forward(ctx, a, axis=-1):
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out, axis)
        return out

    @staticmethod
    def backward(ctx, g):
        out, axis = ctx.saved_tensors
        return out * (g - (g * out).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    """``out_i = a_i - max a - log sum_j e^(a_j - max a)`` along axis.

    From the Jacobian d out_j / d a_i = delta_ij - softmax(a)_i:
    da_i = sum_j g_j (delta_ij - softmax(a)_i) = g_i - e^(out_i) sum_j g_j.

    Parameters
    ----------
    a : ndarray (*S)
        Scores (logits).
    axis : int
        The axis along which ``e^out`` sums to 1.
    """

    @staticmethod
    def forward(ctx, a, axis=-1):
        shifted = a - a.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out, axis)
        return out

    @staticmethod
    def backward(ctx, g):
        out, axis = ctx.saved_tensors
        return g - np.exp(out) * g.sum(axis=axis, keepdims=True)


class Dropout(Function):
    """Inverted dropout: ``out = a * m / (1 - p)`` with m ~ Bernoulli(1 - p); da = g m / (1 - p).

    Dividing by the keep probability 1 - p during training keeps E[out] = a, so evaluation
    needs no rescaling. p = 1 drops everything (out = 0).

    Parameters
    ----------
    a : ndarray (*S)
    p : float in [0, 1]
        Probability of zeroing each element.
    rng : numpy.random.Generator
        Draws the mask, ``rng.random(S) >= p``.
    """

    @staticmethod
    def forward(ctx, a, p, rng):
        scale = np.asarray(1.0 / (1.0 - p) if p < 1.0 else 0.0, dtype=a.dtype)
        mask = (rng.random(a.shape) >= p).astype(a.dtype) * scale
        ctx.save_for_backward(mask)
        return a * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


# ============================================================================ free functions
def _check_broadcast(op: str, a: np.ndarray, b: np.ndarray) -> None:
    """Raise a ValueError naming ``op`` and both shapes when they do not broadcast."""
    if a.shape == b.shape:  # the common case, checked first because it is cheap
        return
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None


def _like(other, ref: Tensor) -> Tensor:
    """A scalar or array operand as a constant in ``ref``'s floating dtype (no float64 creep).

    A Tensor is returned as it is; a Python number or an integer, boolean or floating array
    becomes a constant Tensor cast to ``ref``'s dtype when ``ref`` is floating, so that
    ``x32 * 0.5`` and ``x32 + np.ones(3)`` stay float32.
    """
    if isinstance(other, Tensor):
        return other
    arr = np.asarray(other)
    if ref.data.dtype.kind == "f" and arr.dtype.kind in "biuf":
        arr = arr.astype(ref.data.dtype, copy=False)
    return as_tensor(arr)


def _axis(axis):
    """A list of axes as a tuple (NumPy's reductions take int, tuple or None)."""
    if isinstance(axis, list):
        return tuple(axis)
    return axis


def _reduction(axis, keepdims, dim, keepdim, default=None):
    """``(axis, keepdims)`` of a reduction called with NumPy's names or torch's (``dim``,
    ``keepdim``); giving both spellings of one argument is an error.

    Raises
    ------
    TypeError
        ``axis`` and ``dim`` (or ``keepdims`` and ``keepdim``) both given.
    """
    if dim is not None:
        if axis is not None and axis != default:
            raise TypeError(f"give axis={axis!r} or dim={dim!r}, not both")
        axis = dim
    if keepdim is not None:
        if keepdims:
            raise TypeError("give keepdims or keepdim, not both")
        keepdims = bool(keepdim)
    return _axis(axis), keepdims


def _index_data(index):
    """Replace Tensors inside an index by their arrays (integer or boolean indexing)."""
    if isinstance(index, tuple):
        return tuple(_unwrap(i) for i in index)
    return _unwrap(index)


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``torch.cat``).

    Parameters
    ----------
    tensors : sequence of Tensor (..., n_i, ...)
        At least one, of equal rank >= 1 and equal sizes except along ``axis``.
    axis : int
        The axis to join along (negative allowed).

    Returns
    -------
    Tensor (..., sum_i n_i, ...)

    Raises
    ------
    ValueError
        If ``tensors`` is empty, holds 0-D tensors, or their shapes differ off ``axis``.
    """
    return Concat.apply(*tensors, axis=axis)


cat = concat


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis (``torch.stack``).

    Parameters
    ----------
    tensors : sequence of Tensor (*S)
        At least one, all of the same shape.
    axis : int
        Position of the new axis in the output, in ``[-ndim - 1, ndim]``.

    Returns
    -------
    Tensor
        ``(*S)`` with a new axis of size ``len(tensors)`` at ``axis``.

    Raises
    ------
    ValueError
        If ``tensors`` is empty or the shapes differ.
    """
    return Stack.apply(*tensors, axis=axis)


def split(tensor, split_size_or_sections, axis: int = 0) -> tuple:
    """Split into pieces of ``split_size`` or of the listed sizes (``torch.split``).

    Parameters
    ----------
    tensor : Tensor (*S)
    split_size_or_sections : int >= 1, or sequence of int >= 0
        An int: pieces of that length along ``axis`` (the last one shorter when the length is
        not a multiple). A sequence: the length of each piece; they must sum to
        ``tensor.shape[axis]``.
    axis : int
        The axis to cut (negative allowed).

    Returns
    -------
    tuple of Tensor
        The pieces, views of consecutive ranges along ``axis``.

    Raises
    ------
    ValueError
        If ``split_size < 1`` or the sections do not sum to the axis length.
    """
    n = tensor.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step < 1:
            raise ValueError(f"split: split_size={step} must be >= 1")
        sizes = [min(step, n - s) for s in range(0, n, step)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
    return Split.apply(tensor, sizes=tuple(sizes), axis=axis)


def pad(tensor, pad_width, value: float = 0.0) -> Tensor:
    """Constant-pad with NumPy's ``pad_width``: one (before, after) pair per axis.

    Parameters
    ----------
    tensor : Tensor (*S)
    pad_width : sequence of (int >= 0, int >= 0)
        One (before, after) pair per axis; axis d grows by ``before + after``.
    value : float
        The constant written into the padding.

    Returns
    -------
    Tensor (S_0 + b_0 + a_0, S_1 + b_1 + a_1, ...)

    Raises
    ------
    ValueError
        If ``pad_width`` does not hold one non-negative pair per axis.
    """
    return Pad.apply(tensor, pad_width=pad_width, value=value)


def where(condition, a, b) -> Tensor:
    """Elementwise ``a`` where ``condition`` else ``b`` (``torch.where``).

    Parameters
    ----------
    condition : bool Tensor or array_like (*S_c)
        Not differentiated; nonzero values count as true.
    a, b : Tensor, array_like or scalar (*S_a), (*S_b)
        The values; a non-Tensor operand becomes a constant in the dtype of the Tensor one.

    Returns
    -------
    Tensor (*B)
        ``B`` is the broadcast shape of ``S_c``, ``S_a`` and ``S_b``.

    Raises
    ------
    ValueError
        If the three shapes cannot be broadcast together.
    """
    cond = as_array(condition)
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else as_tensor(a)
    return Where.apply(_like(a, ref), _like(b, ref), condition=cond.astype(bool))


def dropout(tensor, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout with an explicit numpy Generator; the identity when not training or p=0.

    ``out = tensor * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)`` per element (see ``Dropout``).

    Parameters
    ----------
    tensor : Tensor (*S)
    p : float in [0, 1]
        Probability of zeroing each element.
    training : bool
        Apply dropout (False: return ``tensor`` itself).
    rng : numpy.random.Generator
        Draws the mask; required when dropout is applied.

    Returns
    -------
    Tensor (*S)

    Raises
    ------
    ValueError
        If ``p`` is outside [0, 1], or ``rng`` is None while dropout is applied.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability p={p} must be in [0, 1]")
    if not training or p == 0.0:
        return tensor
    if rng is None:
        raise ValueError("dropout in training mode needs an explicit rng (numpy Generator)")
    return Dropout.apply(tensor, p=p, rng=rng)


def contiguous(x) -> Tensor:
    """``x`` laid out C-contiguously in memory, and its gradient too (``torch.Tensor.contiguous``).

    ``np.matmul`` on a stack of matrices (ndim > 2) runs on BLAS only when each matrix has a
    unit stride; on a permuted view, such as attention heads split out of ``(N, T, h, d)`` into
    ``(N, h, T, d)``, it falls back to a loop about 20x slower. This copies such a tensor once
    into C order (``x``'s array itself when it already is C-contiguous: values never change),
    and does the same to the gradient flowing back through it, so the forward products and the
    backward ones run on BLAS. ``MatMul`` makes its own stacked operands C-contiguous by the
    same rule; call this where a layer wants the copy made once and shared by several products,
    or the gradient laid out before it reaches them. Also spelled ``x.contiguous()``.

    Parameters
    ----------
    x : Tensor (*S)

    Returns
    -------
    Tensor (*S)
        Equal to ``x``, with a C-contiguous array.
    """
    return Contiguous.apply(x)


# ============================================================================ Tensor's op methods
class _TensorOpMethods:
    """The operators and methods of ``Tensor`` that apply an op (installed on Tensor below).

    Written as a class body so each reads as the Tensor method it becomes; never instantiated.
    A Python number or array operand of an arithmetic operator becomes a constant in the
    tensor's floating dtype (``_like``), so float32 stays float32.
    """

    # ------------------------------------------------------------- arithmetic (see the ops)
    def __add__(self, other):
        return Add.apply(self, _like(other, self))

    def __radd__(self, other):
        return Add.apply(_like(other, self), self)

    def __sub__(self, other):
        return Sub.apply(self, _like(other, self))

    def __rsub__(self, other):
        return Sub.apply(_like(other, self), self)

    def __mul__(self, other):
        return Mul.apply(self, _like(other, self))

    def __rmul__(self, other):
        return Mul.apply(_like(other, self), self)

    def __truediv__(self, other):
        return Div.apply(self, _like(other, self))

    def __rtruediv__(self, other):
        return Div.apply(_like(other, self), self)

    def __neg__(self):
        return Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            return PowTensor.apply(self, exponent)
        return Pow.apply(self, exponent=float(exponent))

    def __rpow__(self, base):
        return PowTensor.apply(_like(base, self), self)

    def __matmul__(self, other):
        return MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return MatMul.apply(other, self)

    def __getitem__(self, index):
        return GetItem.apply(self, index=_index_data(index))

    # ------------------------------------------------------------- dtype and layout
    def contiguous(self):
        """This tensor laid out C-contiguously, and its gradient too (``ops.contiguous``)."""
        return Contiguous.apply(self)

    def astype(self, dtype):
        """A copy in ``dtype``; the gradient flows back cast to this tensor's dtype."""
        return Cast.apply(self, dtype=np.dtype(dtype))

    def float(self):
        """``astype(float32)``."""
        return self.astype(np.float32)

    def double(self):
        """``astype(float64)``."""
        return self.astype(np.float64)

    # ------------------------------------------------------------- elementwise
    def exp(self):
        return Exp.apply(self)

    def log(self):
        return Log.apply(self)

    def sqrt(self):
        return Sqrt.apply(self)

    def abs(self):
        return Abs.apply(self)

    def tanh(self):
        return Tanh.apply(self)

    def sigmoid(self):
        return Sigmoid.apply(self)

    def relu(self):
        return ReLU.apply(self)

    def clamp(self, min=None, max=None):
        """Elementwise ``min(max(x, min), max)`` (``Clamp``).

        Parameters
        ----------
        min, max : float or None
            Bounds, None for no bound on that side; ``min <= max`` when both are given.
        """
        return Clamp.apply(self, min=min, max=max)

    def masked_fill(self, mask, value: float):
        """``value`` where ``mask`` is true, this tensor elsewhere (``MaskedFill``).

        Parameters
        ----------
        mask : bool Tensor or array_like, broadcastable to self's shape
            Not differentiated.
        value : float
            The fill value, in this tensor's dtype (e.g. ``-inf`` before a softmax).
        """
        return MaskedFill.apply(self, mask=np.asarray(as_array(mask), dtype=bool), value=value)

    # ------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        """Sum over ``axis`` (``Sum``).

        Parameters
        ----------
        axis : int, tuple or list of int, or None
            Axes to reduce (None: all). ``dim`` is torch's name for it.
        keepdims : bool
            Keep the reduced axes with size 1. ``keepdim`` is torch's name for it.
        """
        axis, keepdims = _reduction(axis, keepdims, dim, keepdim)
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        """Mean over ``axis`` (``Mean``).

        Parameters
        ----------
        axis : int, tuple or list of int, or None
            Axes to reduce (None: all). ``dim`` is torch's name for it.
        keepdims : bool
            Keep the reduced axes with size 1. ``keepdim`` is torch's name for it.
        """
        axis, keepdims = _reduction(axis, keepdims, dim, keepdim)
        return Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        """Maximum over ``axis``; ties share the gradient equally (``Max``).

        Parameters
        ----------
        axis : int, tuple or list of int, or None
            Axes to reduce (None: all). ``dim`` is torch's name for it.
        keepdims : bool
            Keep the reduced axes with size 1. ``keepdim`` is torch's name for it.
        """
        axis, keepdims = _reduction(axis, keepdims, dim, keepdim)
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, keepdims: bool = False, unbiased: bool = True, *, dim=None,
            keepdim=None):
        """Variance over ``axis`` (``Var``).

        Parameters
        ----------
        axis : int, tuple or list of int, or None
            Axes to reduce (None: all); n is the number of reduced elements. ``dim`` is
            torch's name for it.
        keepdims : bool
            Keep the reduced axes with size 1. ``keepdim`` is torch's name for it.
        unbiased : bool
            Divide by n - 1 (Bessel's correction, torch's default) instead of n.
        """
        axis, keepdims = _reduction(axis, keepdims, dim, keepdim)
        return Var.apply(self, axis=axis, keepdims=keepdims, unbiased=unbiased)

    def softmax(self, axis: int = -1, *, dim=None):
        """``exp(x - max) / sum exp(x - max)`` along ``axis`` (torch's ``dim``)."""
        axis, _ = _reduction(axis, False, dim, None, default=-1)
        return Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1, *, dim=None):
        """``x - logsumexp(x)`` along ``axis`` (torch's ``dim``)."""
        axis, _ = _reduction(axis, False, dim, None, default=-1)
        return LogSoftmax.apply(self, axis=axis)

    # ------------------------------------------------------------- shape
    def reshape(self, *shape):
        """The same elements in a new shape (``Reshape``); ``view`` is the same method.

        Parameters
        ----------
        *shape : int, or one tuple or list of int
            The new shape, with as many elements (one entry may be -1):
            ``x.reshape(2, 3)`` or ``x.reshape((2, 3))``.
        """
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return Reshape.apply(self, shape=tuple(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """Merge the axes ``start_dim .. end_dim`` (inclusive) into one.

        Parameters
        ----------
        start_dim, end_dim : int
            First and last axis merged (negative allowed): ``(N, C, H, W).flatten(1)`` is
            ``(N, C*H*W)``.
        """
        shape = self.shape
        start = start_dim % len(shape) if shape else 0
        end = end_dim % len(shape) if shape else 0
        middle = int(np.prod(shape[start:end + 1])) if shape else 1
        return self.reshape(shape[:start] + (middle,) + shape[end + 1:])

    def unsqueeze(self, dim: int):
        """A new axis of size 1 at ``dim`` (in ``[-ndim - 1, ndim]``)."""
        dim = dim if dim >= 0 else dim + self.ndim + 1
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None):
        """Remove axis ``dim`` if its size is 1 (every size-1 axis when ``dim`` is None)."""
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dim = dim % self.ndim
        if self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def permute(self, *axes):
        """Reorder the axes (``Permute``).

        Parameters
        ----------
        *axes : int, or one tuple or list of int
            A permutation of ``range(ndim)``: ``x.permute(0, 2, 1)`` or ``x.permute((0, 2, 1))``.
        """
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return Permute.apply(self, axes=tuple(int(a) for a in axes))

    def transpose(self, dim0: int = -2, dim1: int = -1):
        """Swap two axes.

        Parameters
        ----------
        dim0, dim1 : int
            The axes swapped (negative allowed); by default the last two.
        """
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(axes)

    @property
    def T(self):
        """All axes reversed (the transpose of a matrix)."""
        return self.permute(tuple(reversed(range(self.ndim))))


def install_tensor_methods() -> None:
    """Attach every method and property of ``_TensorOpMethods`` to ``Tensor``.

    Called once, at the end of this module's import; ``minitorch_ser.autograd`` imports this
    module right after ``tensor.py``, so no code ever sees a Tensor without its operators.
    Each function gets the qualified name ``Tensor.<name>``, as if defined in the class.
    """
    for name, member in vars(_TensorOpMethods).items():
        if not isinstance(member, (types.FunctionType, property)):
            continue  # the class's own __module__, __doc__, __dict__, ...
        function = member.fget if isinstance(member, property) else member
        if function.__name__ == name:  # not an alias such as ``view = reshape``
            function.__qualname__ = f"Tensor.{name}"
        setattr(Tensor, name, member)


install_tensor_methods()
