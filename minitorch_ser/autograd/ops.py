"""The core differentiable ops, each a `Function` on plain ndarrays.

Notation: ``g`` is dL/d(output) and every backward returns dL/d(input) for each input, by the
chain rule written out per op. Broadcasting is undone by the engine (``function.unbroadcast``),
so binary ops return gradients of the output's shape.

The user-facing spellings are methods and operators of ``Tensor`` (``a + b``, ``x.sum(axis)``)
and the free functions at the end of this file (``concat``, ``stack``, ``split``, ``pad``,
``where``, ``dropout``).
"""

from __future__ import annotations

import numpy as np

from .function import Function


# ============================================================================ elementwise binary
class Add(Function):
    """``out = a + b`` (broadcasting); da = g, db = g."""

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("add", a, b)
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """``out = a - b``; da = g, db = -g."""

    @staticmethod
    def forward(ctx, a, b):
        _check_broadcast("sub", a, b)
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, -g


class Mul(Function):
    """``out = a * b``; da = g b, db = g a."""

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
    """``out = a / b``; da = g / b, db = -g a / b^2."""

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
    """``out = a ** b`` with both tensors; da = g b a^(b-1), db = g a^b log(a)."""

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


def _blas_ready(x: np.ndarray) -> np.ndarray:
    """``x`` itself, or a C-contiguous copy when it is a stack of matrices BLAS cannot read.

    np.matmul hands each matrix of a stack (ndim > 2) to BLAS only when its rows or columns are
    contiguous; a permuted view (e.g. attention heads split out of (N, T, h, d)) falls back to
    a loop several times slower than copying the operand once.
    """
    if x.ndim <= 2 or x.flags.c_contiguous or x.swapaxes(-1, -2).flags.c_contiguous:
        return x
    return np.ascontiguousarray(x)


class MatMul(Function):
    """``out = a @ b`` with NumPy's matmul rules (batched, batch dims broadcast).

    Shapes: a : (..., M, K), b : (..., K, P) -> (..., M, P). 1-D operands are treated as a row
    (a) or column (b) vector and that axis is removed from the output, as in np.matmul.
    da = g @ b^T, db = a^T @ g (batch dims summed back by the engine).
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
        a, b = _blas_ready(a), _blas_ready(b)
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        g = _blas_ready(g)
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
    """``out = a.astype(dtype)``; the gradient is cast back to a's dtype."""

    @staticmethod
    def forward(ctx, a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g


class Neg(Function):
    """``out = -a``; da = -g."""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """``out = a ** p`` for a constant p; da = g p a^(p-1)."""

    @staticmethod
    def forward(ctx, a, exponent):
        ctx.save_for_backward(a, exponent)
        return a ** exponent  # a Python float exponent keeps a's float dtype

    @staticmethod
    def backward(ctx, g):
        a, p = ctx.saved_tensors
        return g * p * a ** (p - 1)


class Exp(Function):
    """``out = e^a``; da = g out."""

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
    """``out = ln a``; da = g / a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sqrt(Function):
    """``out = sqrt(a)``; da = g / (2 out)."""

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
    """``out = |a|``; da = g sign(a) (0 at a = 0)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * np.sign(a)


class Tanh(Function):
    """``out = tanh(a)``; da = g (1 - out^2)."""

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
    """Numerically stable logistic ``1 / (1 + e^-a)``: never exponentiates a large positive."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


class Sigmoid(Function):
    """``out = 1 / (1 + e^-a)``; da = g out (1 - out)."""

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
    """``out = max(a, 0)``; da = g [a > 0]."""

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
    """``out = min(max(a, min), max)``; da = g where min <= a <= max, else 0."""

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
    """``out = where(mask, value, a)`` for a constant boolean mask; da = g [not mask]."""

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
    """``out = where(condition, a, b)``; da = g [condition], db = g [not condition]."""

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
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if np.isscalar(axis) else axis
    return int(np.prod([shape[ax] for ax in axes]))


class Sum(Function):
    """``out = sum over axis``; da = g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        ctx.save_for_backward(a.shape, axis, keepdims)
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        shape, axis, keepdims = ctx.saved_tensors
        return np.broadcast_to(_expand_reduced(g, shape, axis, keepdims), shape)


class Mean(Function):
    """``out = sum over axis / n``; da = g / n broadcast back."""

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
    """``out = max over axis``; da = g at the maximal elements (ties share it equally)."""

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
    """``out = sum((a - mean)^2) / (n - correction)`` over axis; da = 2 g (a - mean) / (n - c)."""

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
    """``out = a.reshape(shape)``; da = g.reshape(a.shape)."""

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
    """``out = a.transpose(axes)``; da = g transposed by the inverse permutation."""

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
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


class GetItem(Function):
    """``out = a[index]`` (slices, integers, integer or boolean arrays).

    da = zeros with g scattered to the indexed positions; repeated integer indices accumulate
    (np.add.at), plain slices are written directly.
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
    """``out = concatenate(tensors, axis)``; each input gets its slice of g."""

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
    """``out = stack(tensors, axis)``; each input gets g indexed at its position."""

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
    """``outs = split(a, sizes, axis)`` into pieces of the given sizes (a multi-output op)."""

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
    """Constant padding with NumPy's ``pad_width`` ((before, after) per axis); da = g cropped."""

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

    da = out * (g - sum(g * out, axis)).
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

    da = g - softmax(a) * sum(g, axis).
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


def concat(tensors, axis: int = 0):
    """Join tensors along an existing axis (torch.cat)."""
    return Concat.apply(*tensors, axis=axis)


cat = concat


def stack(tensors, axis: int = 0):
    """Join same-shaped tensors along a new axis (torch.stack)."""
    return Stack.apply(*tensors, axis=axis)


def split(tensor, split_size_or_sections, axis: int = 0):
    """Split into pieces of ``split_size`` (int) or of the listed sizes (torch.split)."""
    n = tensor.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step < 1:
            raise ValueError(f"split: split_size={step} must be >= 1")
        sizes = [min(step, n - s) for s in range(0, n, step)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
    return Split.apply(tensor, sizes=tuple(sizes), axis=axis)


def pad(tensor, pad_width, value: float = 0.0):
    """Constant-pad with NumPy's ``pad_width``: one (before, after) pair per axis."""
    return Pad.apply(tensor, pad_width=pad_width, value=value)


def where(condition, a, b):
    """Elementwise ``a`` where ``condition`` else ``b`` (condition is not differentiated)."""
    from .tensor import Tensor, _like
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else Tensor(a)
    return Where.apply(_like(a, ref), _like(b, ref), condition=cond.astype(bool))


def dropout(tensor, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None):
    """Inverted dropout with an explicit numpy Generator; the identity when not training or p=0."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability p={p} must be in [0, 1]")
    if not training or p == 0.0:
        return tensor
    if rng is None:
        raise ValueError("dropout in training mode needs an explicit rng (numpy Generator)")
    return Dropout.apply(tensor, p=p, rng=rng)
