"""Pooling: max and average over 2-D windows, adaptive average pooling, global average over time.

Window geometry (as in ``torch.nn.MaxPool2d`` with ``ceil_mode=False``): a kernel (kh, kw)
moved with stride (sh, sw) over the input padded by (ph, pw) on each side,

    out[n, c, r, s] = pool_{i < kh, j < kw} xp[n, c, r*sh + i, s*sw + j]
    Ho = (H + 2 ph - kh) // sh + 1,   Wo = (W + 2 pw - kw) // sw + 1   (floor: leftover rows unused)

Both pools loop over the kh*kw kernel offsets (i, j), never over pixels: offset (i, j) sees the
strided slab ``xp[:, :, i::sh, j::sw]`` cut to (Ho, Wo), one value of every window at once.
Max pooling keeps, per window, the running maximum and the offset where it was found (the
first one on ties, as PyTorch); backward sends each output gradient to that offset, which for
non-overlapping windows (stride == kernel) is an assignment into disjoint slabs and for
overlapping ones an accumulation.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor, as_array, as_tensor
from .conv import _pair
from .module import Module


# ============================================================================ geometry
def _pool_args(kernel_size, stride, padding, layer: str):
    """Validate and normalise (kernel, stride, padding) to pairs; stride None means kernel."""
    kernel = _pair(kernel_size, "kernel_size", layer, minimum=1)
    stride = kernel if stride is None else _pair(stride, "stride", layer, minimum=1)
    padding = _pair(padding, "padding", layer, minimum=0)
    for p, k in zip(padding, kernel):
        if 2 * p > k:
            raise ValueError(f"{layer}: padding={padding} must be at most half of "
                             f"kernel_size={kernel}")
    return kernel, stride, padding


def _pool_output_size(shape: tuple, kernel, stride, padding, layer: str) -> tuple[int, int]:
    if len(shape) != 4:
        raise ValueError(f"{layer}: expected input of shape (N, C, H, W) with 4 dimensions, "
                         f"got shape {tuple(shape)}")
    hp, wp = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    if kernel[0] > hp or kernel[1] > wp:
        raise ValueError(f"{layer}: kernel_size={kernel} is larger than the padded input "
                         f"(Hp, Wp)=({hp}, {wp}) (input shape {tuple(shape)}, "
                         f"padding={padding})")
    return (hp - kernel[0]) // stride[0] + 1, (wp - kernel[1]) // stride[1] + 1


def _offset_slab(ho: int, wo: int, stride, i: int, j: int) -> tuple:
    """Index of the (Ho, Wo) slab that kernel offset (i, j) sees in the padded input."""
    sh, sw = stride
    return (slice(None), slice(None), slice(i, i + (ho - 1) * sh + 1, sh),
            slice(j, j + (wo - 1) * sw + 1, sw))


def _pad(x: np.ndarray, padding, value) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _crop(dxp: np.ndarray, padding) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return dxp
    return dxp[:, :, ph:dxp.shape[2] - ph, pw:dxp.shape[3] - pw]


# ============================================================================ max pooling
class MaxPool2dFunction(Function):
    """``out[n, c, r, s] = max_{i, j} xp[n, c, r*sh + i, s*sw + j]`` (xp padded with -inf).

    Saves, per output, the flat kernel offset ``t = i*kw + j`` of the maximum (uint8 when
    kh*kw <= 256), the first one on ties. Backward: ``dxp[n, c, r*sh + i, s*sw + j] +=
    g[n, c, r, s]`` for the saved (i, j) only. A NaN in a window makes its maximum NaN.

    Two forward paths give identical maxima and codes (tested element by element): small
    windows that tile the input (stride == kernel, no padding, kh*kw <= 8, e.g. the 2x2 pool
    on the first paper's largest map) go through ``_max_pool_tiled``, everything else through
    ``_max_pool_offsets``. On (32, 16, 128, 188) float32 with a 2x2 window the first takes
    about half the time of the second; for 4x4 windows the second is the faster one.

    Parameters (of ``forward``)
    ---------------------------
    x : ndarray (N, C, H, W)
    kernel_size, stride, padding : (int, int)
        (kh, kw), (sh, sw) and (ph, pw), validated by ``max_pool2d``.

    Returns
    -------
    out : ndarray (N, C, Ho, Wo); backward returns dx (N, C, H, W).
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        ho, wo = _pool_output_size(x.shape, kernel_size, stride, padding, "MaxPool2d")
        track = any(ctx.needs_input_grad)  # the winner codes are needed only for backward
        if _tiles(kernel_size, stride, padding) and kernel_size[0] * kernel_size[1] <= 8:
            best, code = _max_pool_tiled(x, kernel_size, ho, wo, track)
        else:
            best, code = _max_pool_offsets(x, kernel_size, stride, padding, ho, wo, track)
        ctx.save_for_backward(code, x.shape, kernel_size, stride, padding)
        return best

    @staticmethod
    def backward(ctx, grad):
        code, shape, kernel_size, stride, padding = ctx.saved_tensors
        return _max_pool_backward(grad, code, shape, kernel_size, stride, padding)


def _code_dtype(kh: int, kw: int):
    return np.uint8 if kh * kw <= 256 else np.int32


def _tiles(kernel_size, stride, padding) -> bool:
    """Windows side by side without overlap or padding (stride == kernel, padding 0)."""
    return tuple(stride) == tuple(kernel_size) and tuple(padding) == (0, 0)


def _max_pool_offsets(x, kernel_size, stride, padding, ho, wo, track):
    """Any geometry: one pass per kernel offset over the strided (Ho, Wo) slab it sees.

    Returns ``best`` (N, C, Ho, Wo) and, when ``track``, ``code`` (N, C, Ho, Wo): the flat
    offset ``i * kw + j`` of the first maximum in row-major order (strictly greater wins).
    """
    kh, kw = kernel_size
    lowest = -np.inf if np.issubdtype(x.dtype, np.floating) else np.iinfo(x.dtype).min
    xp = _pad(x, padding, lowest)
    best = np.array(xp[_offset_slab(ho, wo, stride, 0, 0)])  # (N, C, Ho, Wo), a copy
    code = better = None
    if track:
        code = np.zeros(best.shape, dtype=_code_dtype(kh, kw))
        better = np.empty(best.shape, dtype=bool)
    for t in range(1, kh * kw):
        slab = xp[_offset_slab(ho, wo, stride, t // kw, t % kw)]
        if track:
            _take_better(slab, best, code, better, t)
        np.maximum(best, slab, out=best)  # propagates NaN
    return best, code


def _take_better(slab, best, code, better, t):
    """``code = t`` where ``slab > best``: offsets come in increasing order, so that is
    ``code = max(code, t * [slab > best])`` (a bool array read as uint8 is 0/1, no copy)."""
    np.greater(slab, best, out=better)
    flags = better.view(np.uint8) if code.dtype == np.uint8 else better
    np.maximum(code, flags * code.dtype.type(t), out=code)


def _max_pool_tiled(x, kernel_size, ho, wo, track):
    """Windows that tile the input: the same maxima and codes as ``_max_pool_offsets``.

    Strided slabs (every kw-th element of a row) make each pass slow. So the input's columns
    are first de-interleaved once: ``xv[n, c, r, i, j, s] = x[n, c, r*kh + i, s*kw + j]``
    (one copy, (N, C, Ho, kh, kw, Wo)), after which the slab of offset (i, j) is
    ``xv[:, :, :, i, j, :]``, whose rows are contiguous; the per-offset passes then run at
    memory speed. Rows and columns past ``Ho * kh``, ``Wo * kw`` are in no window.
    """
    kh, kw = kernel_size
    n, c = x.shape[:2]
    xv = np.empty((n, c, ho, kh, kw, wo), dtype=x.dtype)
    blocks = x[:, :, :ho * kh, :wo * kw].reshape(n, c, ho, kh, wo, kw)
    np.copyto(xv, blocks.transpose(0, 1, 2, 3, 5, 4))
    best = np.array(xv[:, :, :, 0, 0, :])  # (N, C, Ho, Wo)
    code = better = None
    if track:
        code = np.zeros(best.shape, dtype=_code_dtype(kh, kw))
        better = np.empty(best.shape, dtype=bool)
    for t in range(1, kh * kw):
        slab = xv[:, :, :, t // kw, t % kw, :]
        if track:
            _take_better(slab, best, code, better, t)
        np.maximum(best, slab, out=best)  # propagates NaN
    return best, code


def _max_pool_backward(grad, code, shape, kernel_size, stride, padding):
    """``dxp[n, c, r*sh + i, s*sw + j] += g[n, c, r, s]`` where ``code == i * kw + j``.

    One pass per offset, writing into its strided slab (de-interleaving here would cost a
    full-size copy more than the strided writes do: measured slower).
    """
    kh, kw = kernel_size
    n, c, h, w = shape
    ho, wo = code.shape[2:]
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    # non-overlapping windows: every input element is in at most one window, so the slabs of
    # different offsets are disjoint and the gradient is simply written there
    disjoint = stride[0] >= kh and stride[1] >= kw
    # when the windows also tile the input (stride == kernel, no leftover rows or columns),
    # those writes cover every element and nothing needs zeroing first
    tiled = tuple(stride) == (kh, kw) and ho * kh == hp and wo * kw == wp
    dxp = (np.empty if tiled else np.zeros)((n, c, hp, wp), dtype=grad.dtype)
    for t in range(kh * kw):
        target = dxp[_offset_slab(ho, wo, stride, t // kw, t % kw)]
        hit = code == t  # where offset t was the maximum
        if disjoint:
            np.multiply(grad, hit, out=target)  # g there, 0 elsewhere
        else:
            target += grad * hit
    return _crop(dxp, padding)


# ============================================================================ average pooling
class AvgPool2dFunction(Function):
    """``out[n, c, r, s] = (1 / (kh kw)) sum_{i, j} xp[n, c, r*sh + i, s*sw + j]`` (zero padding,
    counted in the divisor as PyTorch's default ``count_include_pad=True``).

    Backward: every element of a window receives ``g[n, c, r, s] / (kh kw)``.

    Parameters (of ``forward``)
    ---------------------------
    x : ndarray (N, C, H, W)
    kernel_size, stride, padding : (int, int)
        (kh, kw), (sh, sw) and (ph, pw), validated by ``avg_pool2d``.

    Returns
    -------
    out : ndarray (N, C, Ho, Wo); backward returns dx (N, C, H, W).
    """

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        ho, wo = _pool_output_size(x.shape, kernel_size, stride, padding, "AvgPool2d")
        kh, kw = kernel_size
        xp = _pad(x, padding, 0)
        out = np.array(xp[_offset_slab(ho, wo, stride, 0, 0)], dtype=np.result_type(x, np.float32))
        for t in range(1, kh * kw):
            out += xp[_offset_slab(ho, wo, stride, t // kw, t % kw)]
        out *= np.asarray(1.0 / (kh * kw), dtype=out.dtype)
        ctx.save_for_backward(x.shape, kernel_size, stride, padding)
        return out

    @staticmethod
    def backward(ctx, grad):
        shape, (kh, kw), stride, padding = ctx.saved_tensors
        n, c, h, w = shape
        ho, wo = grad.shape[2:]
        share = grad * np.asarray(1.0 / (kh * kw), dtype=grad.dtype)
        dxp = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=grad.dtype)
        disjoint = stride[0] >= kh and stride[1] >= kw
        for t in range(kh * kw):
            target = dxp[_offset_slab(ho, wo, stride, t // kw, t % kw)]
            if disjoint:
                target[...] = share
            else:
                target += share
        return _crop(dxp, padding)


# ============================================================================ adaptive average
def adaptive_pool_matrix(in_size: int, out_size: int, dtype=np.float64) -> np.ndarray:
    """Averaging matrix A : (out_size, in_size) of adaptive average pooling along one axis.

    Bin i covers ``[floor(i * in / out), ceil((i + 1) * in / out))`` (PyTorch's bins), and
    ``A[i, start:end] = 1 / (end - start)``, so ``A @ v`` averages each bin of v.

    Parameters
    ----------
    in_size : int >= 1
        Length of the pooled axis.
    out_size : int >= 1
        Number of bins (may exceed ``in_size``: bins then overlap).
    dtype : numpy dtype

    Returns
    -------
    ndarray (out_size, in_size), rows summing to 1.
    """
    i = np.arange(out_size)
    start = (i * in_size) // out_size
    end = -((-(i + 1) * in_size) // out_size)  # ceil division
    cols = np.arange(in_size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2dFunction(Function):
    """``out[n, c] = A_h @ x[n, c] @ A_w^T`` with the averaging matrices of
    ``adaptive_pool_matrix`` (averaging over a rectangle is separable into rows and columns).

    Backward: ``dx[n, c] = A_h^T @ g[n, c] @ A_w``.

    Parameters (of ``forward``)
    ---------------------------
    x : ndarray (N, C, H, W)
    output_size : (int, int)
        (Ho, Wo), each >= 1.

    Returns
    -------
    out : ndarray (N, C, Ho, Wo); backward returns dx (N, C, H, W).
    """

    @staticmethod
    def forward(ctx, x, output_size):
        ho, wo = output_size
        a_h = adaptive_pool_matrix(x.shape[2], ho, x.dtype)  # (Ho, H)
        a_w = adaptive_pool_matrix(x.shape[3], wo, x.dtype)  # (Wo, W)
        ctx.save_for_backward(a_h, a_w)
        return np.matmul(np.matmul(a_h, x), a_w.T)  # (N, C, Ho, W) -> (N, C, Ho, Wo)

    @staticmethod
    def backward(ctx, grad):
        a_h, a_w = ctx.saved_tensors
        return np.matmul(np.matmul(a_h.T, grad), a_w)  # (N, C, H, Wo) -> (N, C, H, W)


# ============================================================================ global average over time
class GlobalAvgPoolFunction(Function):
    """Mean over one axis, optionally over the first ``lengths[n]`` entries of sample n only.

    ``out[n, ...] = (1 / len_n) sum_{t < len_n} x[n, ..., t, ...]``; backward spreads
    ``g[n, ...] / len_n`` over those t and gives zero to padded steps.

    Parameters (of ``forward``)
    ---------------------------
    x : ndarray (N, ..., T, ...)
    axis : int
        The (non-negative) time axis, not 0.
    lengths : ndarray of int (N,), optional
        Valid steps per sample, in [1, T]; all T when None.

    Returns
    -------
    out : ndarray, x's shape without ``axis``; backward returns dx (x's shape).
    """

    @staticmethod
    def forward(ctx, x, axis, lengths=None):
        if lengths is None:
            ctx.save_for_backward(x.shape, axis, None, None)
            return x.mean(axis=axis)
        steps = np.arange(x.shape[axis])
        shape = [1] * x.ndim
        shape[0], shape[axis] = x.shape[0], x.shape[axis]
        mask = (steps[None, :] < lengths[:, None]).reshape(shape)  # (N, 1.., T, 1..)
        count_shape = [x.shape[0]] + [1] * (x.ndim - 2)
        counts = lengths.reshape(count_shape).astype(x.dtype)  # broadcasts against out
        ctx.save_for_backward(x.shape, axis, mask, counts)
        return np.where(mask, x, 0).sum(axis=axis) / counts

    @staticmethod
    def backward(ctx, grad):
        shape, axis, mask, counts = ctx.saved_tensors
        if mask is None:
            return np.broadcast_to(np.expand_dims(grad / shape[axis], axis), shape)
        return np.expand_dims(grad / counts, axis) * mask


# ============================================================================ functional forms
def max_pool2d(input, kernel_size, stride=None, padding=0) -> Tensor:
    """Max over kh x kw windows, ``torch.nn.functional.max_pool2d`` (``ceil_mode=False``).

    ``out[n, c, r, s] = max_{i < kh, j < kw} xp[n, c, r*sh + i, s*sw + j]``, with ``xp`` the
    input padded with -inf.

    Parameters
    ----------
    input : Tensor or array-like (N, C, H, W)
    kernel_size : int > 0 or (int, int)
        (kh, kw), in input pixels.
    stride : int > 0 or (int, int), optional
        (sh, sw); ``kernel_size`` when None (non-overlapping windows).
    padding : int >= 0 or (int, int)
        (ph, pw) on each side, at most half the kernel.

    Returns
    -------
    Tensor (N, C, Ho, Wo), ``Ho = (H + 2 ph - kh) // sh + 1`` (likewise Wo).

    Raises
    ------
    ValueError
        If the input is not 4-D, an argument is malformed, the padding exceeds half the
        kernel, or the kernel is larger than the padded input.
    """
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, "max_pool2d")
    x = as_tensor(input)
    _pool_output_size(x.shape, kernel, stride, padding, "max_pool2d")
    return MaxPool2dFunction.apply(x, kernel_size=kernel, stride=stride, padding=padding)


def avg_pool2d(input, kernel_size, stride=None, padding=0) -> Tensor:
    """Mean over kh x kw windows, ``torch.nn.functional.avg_pool2d`` with its defaults.

    ``out[n, c, r, s] = (1 / (kh kw)) sum_{i < kh, j < kw} xp[n, c, r*sh + i, s*sw + j]``, with
    ``xp`` the zero-padded input; padded zeros count in the divisor (``count_include_pad=True``).

    Parameters
    ----------
    input : Tensor or array-like (N, C, H, W)
    kernel_size : int > 0 or (int, int)
        (kh, kw), in input pixels.
    stride : int > 0 or (int, int), optional
        (sh, sw); ``kernel_size`` when None.
    padding : int >= 0 or (int, int)
        (ph, pw) on each side, at most half the kernel.

    Returns
    -------
    Tensor (N, C, Ho, Wo), as ``max_pool2d``.

    Raises
    ------
    ValueError
        As ``max_pool2d``.
    """
    kernel, stride, padding = _pool_args(kernel_size, stride, padding, "avg_pool2d")
    x = as_tensor(input)
    _pool_output_size(x.shape, kernel, stride, padding, "avg_pool2d")
    return AvgPool2dFunction.apply(x, kernel_size=kernel, stride=stride, padding=padding)


def _adaptive_size(output_size, layer: str):
    """``output_size`` as a pair whose entries are ints >= 1 or None (keep the input's size)."""
    pair = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(pair) != 2 or not all(
            v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1)
            for v in pair):
        raise ValueError(f"{layer}: output_size={output_size!r} must be an int >= 1, None, "
                         f"or a pair of them")
    return tuple(None if v is None else int(v) for v in pair)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling to a fixed output size, ``torch.nn.functional.adaptive_avg_pool2d``.

    ``out[n, c] = A_h @ x[n, c] @ A_w^T`` with the bin-averaging matrices of
    ``adaptive_pool_matrix``: bin i along H covers rows ``[floor(i H / Ho), ceil((i + 1) H / Ho))``.

    Parameters
    ----------
    input : Tensor or array-like (N, C, H, W)
    output_size : int >= 1, None, or a pair of them
        (Ho, Wo); None keeps that axis' input size.

    Returns
    -------
    Tensor (N, C, Ho, Wo)

    Raises
    ------
    ValueError
        If the input is not 4-D or ``output_size`` is malformed.
    """
    size = _adaptive_size(output_size, "adaptive_avg_pool2d")
    x = as_tensor(input)
    if x.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected input of shape (N, C, H, W) with 4 "
                         f"dimensions, got shape {x.shape}")
    size = tuple(x.shape[2 + i] if v is None else v for i, v in enumerate(size))
    return AdaptiveAvgPool2dFunction.apply(x, output_size=size)


def global_avg_pool(input, axis: int = 1, lengths=None) -> Tensor:
    """Average over ``axis`` (time), dropping it: (N, T, F) -> (N, F) for ``axis=1``.

    Keras' ``GlobalAveragePooling1D`` (torch has no single function for it); with ``lengths``,
    ``out[n] = sum_{t < len_n} x[n, t] / len_n``.

    Parameters
    ----------
    input : Tensor or array-like (N, ..., T, ...)
        Batch first; ``axis`` indexes time (1 for batch-first sequences (N, T, F), -1 for
        (N, C, T) feature maps).
    axis : int
        The axis averaged over; not 0 (the batch).
    lengths : array_like of int (N,), optional
        Valid steps per sample, each in [1, T]: steps ``t >= lengths[n]`` are padding and are
        left out of the mean (``out[n] = sum_{t < len_n} x[n, t] / len_n``).

    Returns
    -------
    Tensor with ``axis`` removed.

    Raises
    ------
    ValueError
        If the input has fewer than 2 axes, ``axis`` is the batch axis or out of range, the
        time axis is empty, or ``lengths`` is not N integers in [1, T].
    """
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"global_avg_pool: expected input with a batch and a time axis, got "
                         f"shape {x.shape}")
    if not -x.ndim <= axis < x.ndim or axis % x.ndim == 0:
        raise ValueError(f"global_avg_pool: axis={axis} must name a non-batch axis of an input "
                         f"of shape {x.shape}")
    axis = axis % x.ndim
    if x.shape[axis] == 0:
        raise ValueError(f"global_avg_pool: axis {axis} of input shape {x.shape} is empty "
                         f"(sequence of length 0)")
    if lengths is not None:
        lengths = as_array(lengths)
        if (lengths.shape != (x.shape[0],) or not np.issubdtype(lengths.dtype, np.integer)
                or lengths.min() < 1 or lengths.max() > x.shape[axis]):
            raise ValueError(f"global_avg_pool: lengths must be {x.shape[0]} integers in "
                             f"[1, {x.shape[axis]}], got {lengths!r}")
    return GlobalAvgPoolFunction.apply(x, axis=axis, lengths=lengths)


# ============================================================================ modules
class MaxPool2d(Module):
    """Max over kh x kw windows (``torch.nn.MaxPool2d`` with ``ceil_mode=False``, no dilation).

    Parameters
    ----------
    kernel_size : int > 0 or (int, int)
        (kh, kw); rectangular windows such as (2, 4) or (1, 2) pool time and frequency
        differently.
    stride : int > 0 or (int, int), optional
        Default: ``kernel_size`` (non-overlapping windows).
    padding : int >= 0 or (int, int)
        Implicit -inf padding on each side, at most half the kernel.

    Shapes
    ------
    x : (N, C, H, W) -> (N, C, Ho, Wo), ``Ho = (H + 2 ph - kh) // sh + 1`` (likewise Wo).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding,
                                                                 "MaxPool2d")

    def forward(self, x) -> Tensor:
        """x : (N, C, H, W) -> (N, C, Ho, Wo): ``max_pool2d(x, kernel_size, stride, padding)``."""
        x = as_tensor(x)
        _pool_output_size(x.shape, self.kernel_size, self.stride, self.padding, "MaxPool2d")
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over kh x kw windows (``torch.nn.AvgPool2d`` with its defaults).

    Parameters
    ----------
    kernel_size : int > 0 or (int, int)
    stride : int > 0 or (int, int), optional
        Default: ``kernel_size``.
    padding : int >= 0 or (int, int)
        Implicit zero padding, at most half the kernel; padded zeros count in the divisor
        kh*kw (PyTorch's ``count_include_pad=True``).

    Shapes
    ------
    x : (N, C, H, W) -> (N, C, Ho, Wo), as ``MaxPool2d``.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding,
                                                                 "AvgPool2d")

    def forward(self, x) -> Tensor:
        """x : (N, C, H, W) -> (N, C, Ho, Wo): ``avg_pool2d(x, kernel_size, stride, padding)``."""
        x = as_tensor(x)
        _pool_output_size(x.shape, self.kernel_size, self.stride, self.padding, "AvgPool2d")
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (``torch.nn.AdaptiveAvgPool2d``).

    Parameters
    ----------
    output_size : int >= 1, None, or a pair of them
        (Ho, Wo); None keeps that axis' input size. ``AdaptiveAvgPool2d(1)`` is a global
        average pool over (H, W).

    Shapes
    ------
    x : (N, C, H, W) -> (N, C, Ho, Wo); bin i along H covers rows
    ``[floor(i H / Ho), ceil((i + 1) H / Ho))``.
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _adaptive_size(output_size, "AdaptiveAvgPool2d")

    def forward(self, x) -> Tensor:
        """x : (N, C, H, W) -> (N, C, Ho, Wo): ``adaptive_avg_pool2d(x, output_size)``."""
        x = as_tensor(x)
        if x.ndim != 4:
            raise ValueError(f"AdaptiveAvgPool2d: expected input of shape (N, C, H, W) with 4 "
                             f"dimensions, got shape {x.shape}")
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class GlobalAvgPool1d(Module):
    """Global average pooling over time (Keras' ``GlobalAveragePooling1D``).

    Parameters
    ----------
    axis : int
        The time axis: 1 for batch-first sequences (N, T, F) (default), -1 for (N, C, T).

    Shapes
    ------
    x : (N, T, F) -> (N, F) for ``axis=1``. ``forward(x, lengths=None)`` takes optional valid
    lengths (N,) so that padded steps do not dilute the mean (see ``global_avg_pool``).
    """

    def __init__(self, axis: int = 1):
        super().__init__()
        if not isinstance(axis, (int, np.integer)) or axis == 0:
            raise ValueError(f"GlobalAvgPool1d: axis={axis!r} must be a non-zero int "
                             f"(axis 0 is the batch)")
        self.axis = int(axis)

    def forward(self, x, lengths=None) -> Tensor:
        """Mean over the time axis: ``global_avg_pool(x, axis, lengths)``.

        Parameters
        ----------
        x : Tensor (N, T, F) for ``axis=1``, (N, C, T) for ``axis=-1``
        lengths : array_like of int (N,), optional
            Valid steps per sample, in [1, T]; padded steps are left out of the mean.

        Returns
        -------
        Tensor (N, F) (or (N, C)).
        """
        return global_avg_pool(x, self.axis, lengths)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"
