"""2-D convolution: `Conv2dFunction` (im2col + one matmul, hand-written backward) and `Conv2d`.

Definition (cross-correlation, as in every deep-learning library). With the input zero-padded
to ``xp`` of shape (N, C, Hp, Wp), ``Hp = H + pad_top + pad_bottom``, ``Wp = W + pad_left +
pad_right``, stride (sh, sw) and a kernel of size (kh, kw)::

    out[n, o, r, s] = b[o] + sum_{c, i, j} w[o, c, i, j] * xp[n, c, r*sh + i, s*sw + j]

    Ho = (Hp - kh) // sh + 1,    Wo = (Wp - kw) // sw + 1          (floor: trailing rows unused)

im2col turns this into one matrix product. For each sample the *column matrix*

    cols[n, (c, i, j), (r, s)] = xp[n, c, r*sh + i, s*sw + j]       (K = C*kh*kw rows, L = Ho*Wo)

holds in column (r, s) every input value the kernel sees at output position (r, s); then
``out[n] = W2 @ cols[n] + b`` with ``W2 = w.reshape(O, K)``. The columns are a strided *view* of
``xp`` (``sliding_window_view``: no copy), copied once into a contiguous buffer for the matmul.
A constant row of ones is appended to the columns and the bias to W2 as an extra column,
``[W2 | b] @ [cols; 1]``, so the bias costs no extra pass over the output, and in backward
``g @ [cols; 1]^T = [dW2 | db]`` gives both gradients from one product.

Backward, from ``out[n] = W2 @ cols[n]`` and the chain rule (g = dL/d out, reshaped to (N, O, L)):

    dW2        = sum_n g[n] @ cols[n]^T                              (O, K)
    db         = sum_{n, r, s} g[n, :, r, s]                          (O,)
    dcols[n]   = W2^T @ g[n]                                          (K, L)
    dxp[n, c, r*sh + i, s*sw + j] += dcols[n, (c, i, j), (r, s)]      (col2im)

col2im is the adjoint of the im2col copy: each kernel offset (i, j) adds one (Ho, Wo) slab of
``dcols`` into a shifted, strided slice of ``dxp``; that is kh*kw vectorised slice-adds (9 for a
3x3 kernel), never a loop over pixels and no ``np.add.at``. For stride 1 the slabs are made
contiguous: ``dcols`` is computed on a grid as wide as the padded input (Ho rows of Wp, the Wp -
Wo extra columns fed with zero gradient), so that offset (i, j) becomes one contiguous run of the
flattened ``dxp`` starting at ``i*Wp + j``; NumPy adds long contiguous runs several times faster
than many short rows.

Memory and speed. The batch is processed in chunks: one sample when the feature map is large
(its product ``(O, K+1) @ (K+1, L)`` is written straight into the output), several side by
side when it is small (``cols : (K+1, m*L)``, so that a 4x5 map still makes one wide matmul
rather than m thin ones; see ``CHUNK_COLUMNS``). A chunk's columns are still in cache when the
matmul reads them. The full column matrix is kept for backward when it is at most
``SAVED_COLUMNS_BYTES``; a larger one (e.g. a (32, 128, 300, 64) input with a 5x3 kernel needs
4.7 GB of columns) is never materialised: backward rebuilds each chunk's columns instead, so
memory stays at a chunk's worth (147 MB there).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd.function import Function
from ..autograd.tensor import Tensor, as_tensor
from . import init
from .module import Module, Parameter

#: A batch chunk holds ceil(CHUNK_COLUMNS / L) samples (L = Ho*Wo, at least one sample): enough
#: columns for an efficient matmul on small feature maps, one sample on large ones.
CHUNK_COLUMNS = 4096

#: The full-batch column matrix is kept from forward to backward only up to this size in bytes;
#: above it backward rebuilds each chunk's columns from the input.
SAVED_COLUMNS_BYTES = 256 * 2**20


# ============================================================================ argument handling
def _pair(value, name: str, layer: str, minimum: int) -> tuple[int, int]:
    """``value`` as a pair of ints >= minimum (an int is repeated), else ValueError naming it."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{layer}: {name}={value!r} must be an int or a pair of ints")
    if min(pair) < minimum:
        raise ValueError(f"{layer}: {name}={value!r} must be >= {minimum}")
    return pair


def conv_padding(padding, kernel_size: tuple[int, int], stride: tuple[int, int],
                 layer: str = "Conv2d") -> tuple[tuple[int, int], tuple[int, int]]:
    """Resolve ``padding`` into ``((top, bottom), (left, right))``.

    Parameters
    ----------
    padding : int >= 0, (int, int), 'valid' or 'same'
        An int pads all four sides; a pair ``(ph, pw)`` pads ph rows above and below and pw
        columns left and right; ``'valid'`` is no padding; ``'same'`` (stride 1 only, as in
        PyTorch) pads a total of ``k - 1`` per axis so that the output has the input's size,
        ``(k - 1) // 2`` before and the rest after: an even kernel gets its extra row / column at
        the bottom / right, the convention of both PyTorch and TensorFlow.
    kernel_size, stride : (int, int)
    layer : str
        Name used in error messages.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{layer}: padding='same' needs stride=1, got stride={stride}")
            (kh, kw) = kernel_size
            return ((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2)
        raise ValueError(f"{layer}: padding={padding!r} must be an int, a pair of ints, "
                         f"'valid' or 'same'")
    ph, pw = _pair(padding, "padding", layer, minimum=0)
    return (ph, ph), (pw, pw)


def conv_output_size(size: tuple[int, int], kernel_size: tuple[int, int],
                     stride: tuple[int, int], padding, layer: str = "Conv2d") -> tuple[int, int]:
    """``(Ho, Wo) = ((H + pad_h - kh) // sh + 1, (W + pad_w - kw) // sw + 1)``.

    Parameters
    ----------
    size : (int, int)
        (H, W) of the input, in pixels.
    kernel_size, stride : (int, int)
        (kh, kw) and (sh, sw).
    padding : ((int, int), (int, int))
        ((top, bottom), (left, right)), as ``conv_padding`` returns it.
    layer : str
        Name used in error messages.

    Returns
    -------
    (int, int)
        (Ho, Wo), each >= 1.

    Raises
    ------
    ValueError
        When the kernel is larger than the padded input.
    """
    (pt, pb), (pl, pr) = padding
    hp, wp = size[0] + pt + pb, size[1] + pl + pr
    kh, kw = kernel_size
    if kh > hp or kw > wp:
        raise ValueError(f"{layer}: kernel_size={kernel_size} is larger than the padded input "
                         f"(Hp, Wp)=({hp}, {wp}) (input {tuple(size)} plus padding "
                         f"{((pt, pb), (pl, pr))})")
    return (hp - kh) // stride[0] + 1, (wp - kw) // stride[1] + 1


def _chunk_size(n: int, positions: int) -> int:
    """Samples per chunk: ``ceil(CHUNK_COLUMNS / positions)``, at least 1, at most n."""
    return int(min(n, max(1, -(-CHUNK_COLUMNS // max(positions, 1)))))


# ============================================================================ the Function
class Conv2dFunction(Function):
    """Cross-correlation of x : (N, C, H, W) with w : (O, C, kh, kw), plus b : (O,).

    ``Conv2dFunction.apply(x, weight[, bias], stride=(sh, sw), padding=((pt, pb), (pl, pr)))``
    returns out : (N, O, Ho, Wo). See the module docstring for the equations; use ``conv2d``
    or ``Conv2d`` for argument checking.

    Parameters (of ``forward``: arrays, then keywords)
    --------------------------------------------------
    x : ndarray (N, C, H, W)
    weight : ndarray (O, C, kh, kw)
    bias : ndarray (O,), optional
    stride : (int, int)
        (sh, sw) >= 1.
    padding : ((int, int), (int, int))
        ((top, bottom), (left, right)) zero padding, as ``conv_padding`` returns it.

    Returns
    -------
    out : ndarray (N, O, Ho, Wo); backward returns (dx, dw[, db]).

    Layout: the m samples of a chunk sit side by side in the columns, ``cols : (K + 1, m*L)``
    (row (c, i, j), column (n, r, s)), so each chunk costs one matmul however small L is. With
    m > 1 an in-cache transpose moves the (O, m, L) product to the (m, O, L) output and the
    gradient the other way; with m = 1 both are plain views.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0))):
        n, c, h, w_in = x.shape
        o, _, kh, kw = weight.shape
        ho, wo = conv_output_size((h, w_in), (kh, kw), stride, padding)
        dtype = np.result_type(x.dtype, weight.dtype)
        k, big_l = c * kh * kw, ho * wo
        rows = k + (bias is not None)  # K rows of input values, plus the row of ones

        # [W2 | b] : (O, K + 1), so that out = [W2 | b] @ [cols; 1]
        wb = np.empty((o, rows), dtype=dtype)
        wb[:, :k] = weight.reshape(o, k)
        if bias is not None:
            wb[:, k] = bias

        keep = n * rows * big_l * np.dtype(dtype).itemsize <= SAVED_COLUMNS_BYTES
        chunk = _chunk_size(n, big_l)
        starts = range(0, n, chunk)
        # the columns of every chunk (kept for backward), or one reused chunk buffer
        cols = np.empty((len(starts) if keep else 1, rows, chunk * big_l), dtype=dtype)
        if bias is not None:
            cols[:, k, :] = 1
        xpad = _PaddedChunk(x, padding, chunk, dtype)
        out = np.empty((n, o, big_l), dtype=dtype)  # (N, O, L)
        if chunk > 1:
            prod = np.empty((o, chunk * big_l), dtype=dtype)  # (O, m*L)
        for index, start in enumerate(starts):
            stop = min(n, start + chunk)
            m = stop - start
            block = cols[index if keep else 0, :, :m * big_l]  # (K+1, m*L)
            _im2col(xpad.fill(start, stop), (kh, kw), stride, (ho, wo), block[:k])
            if chunk == 1:  # (O, K+1) @ (K+1, L), straight into the output
                np.matmul(wb, block, out=out[start])
            else:           # (O, K+1) @ (K+1, m*L), then samples back to the front
                np.matmul(wb, block, out=prod[:, :m * big_l])
                out[start:stop] = prod[:, :m * big_l].reshape(o, m, big_l).transpose(1, 0, 2)

        ctx.save_for_backward(x, weight, wb, cols if keep else None, chunk, stride, padding,
                              (ho, wo))
        return out.reshape(n, o, ho, wo)

    @staticmethod
    def backward(ctx, grad):
        x, weight, wb, saved_cols, chunk, stride, padding, (ho, wo) = ctx.saved_tensors
        needs = ctx.needs_input_grad
        has_bias = len(needs) == 3
        n, c, h, w_in = x.shape
        o, _, kh, kw = weight.shape
        (pt, pb), (pl, pr) = padding
        hp, wp = h + pt + pb, w_in + pl + pr
        dtype = wb.dtype
        k, big_l = c * kh * kw, ho * wo
        rows = wb.shape[1]
        g = grad.reshape(n, o, big_l)  # (N, O, L)
        need_w = needs[1] or (has_bias and needs[2])
        need_x = needs[0]
        wide = stride == (1, 1)  # col2im on the Wp-wide grid (see the module docstring)
        if chunk > 1:  # a chunk's gradient with the samples side by side, like the columns
            g_side = np.empty((o, chunk * big_l), dtype=dtype)  # (O, m*L)

        if need_w:
            dwb = np.zeros((o, rows), dtype=dtype)  # [dW2 | db]
            if saved_cols is None:
                cols = np.empty((rows, chunk * big_l), dtype=dtype)
                if has_bias:
                    cols[k] = 1
                xpad = _PaddedChunk(x, padding, chunk, dtype)
        if need_x:
            w2t = np.ascontiguousarray(wb[:, :k].T)  # W2^T : (K, O)
            dx = np.empty((n, c, h, w_in), dtype=dtype)
            dxp = np.empty((chunk, c, hp, wp), dtype=dtype)
            if wide:  # the gradient on the Wp-wide grid, its extra columns kept at zero
                g_wide = np.zeros((o, chunk, ho, wp), dtype=dtype)
            dcols = np.empty((k, chunk * ho * (wp if wide else wo)), dtype=dtype)

        for index, start in enumerate(range(0, n, chunk)):
            stop = min(n, start + chunk)
            m = stop - start
            if chunk == 1:
                g_mat = g[start]  # (O, L), a view
            else:
                g_mat = g_side[:, :m * big_l]
                g_mat.reshape(o, m, big_l)[...] = g[start:stop].transpose(1, 0, 2)
            if need_w:
                if saved_cols is not None:
                    block = saved_cols[index, :, :m * big_l]
                else:
                    block = cols[:, :m * big_l]
                    _im2col(xpad.fill(start, stop), (kh, kw), stride, (ho, wo), block[:k])
                # [dW2 | db] += (O, m*L) @ (m*L, K+1): the sum over the chunk's samples and
                # positions is the matmul's own reduction
                dwb += g_mat @ block.T
            if need_x:
                target = dxp[:m]  # (m, C, Hp, Wp)
                target.fill(0)
                if wide:
                    g_wide[:, :m, :, :wo] = g_mat.reshape(o, m, ho, wo)
                    d = dcols[:, :m * ho * wp]
                    np.matmul(w2t, g_wide[:, :m].reshape(o, -1), out=d)  # (K, m*Ho*Wp)
                    _col2im_wide(d, (c, kh, kw), (m, ho, wo, wp), target)
                else:
                    d = dcols[:, :m * big_l]
                    np.matmul(w2t, g_mat, out=d)  # (K, O) @ (O, m*L)
                    _col2im(d, (c, kh, kw), (m, ho, wo), stride, target)
                dx[start:stop] = target[:, :, pt:pt + h, pl:pl + w_in]

        dw = dwb[:, :k].reshape(weight.shape) if needs[1] else None
        result = [dx if need_x else None, dw]
        if has_bias:
            result.append(dwb[:, k].copy() if needs[2] else None)
        return tuple(result)


class _PaddedChunk:
    """Zero-padded copies of batch chunks of x, written into one reused buffer.

    Only the interior is overwritten per chunk, so the zero border is written once. Without
    padding the chunk is a view of x (no copy).
    """

    def __init__(self, x: np.ndarray, padding, chunk: int, dtype):
        (self.pt, pb), (self.pl, pr) = padding
        self.x = x
        self.padded = (self.pt, pb, self.pl, pr) != (0, 0, 0, 0)
        if self.padded:
            n, c, h, w = x.shape
            self.buf = np.zeros((chunk, c, h + self.pt + pb, w + self.pl + pr), dtype=dtype)

    def fill(self, start: int, stop: int) -> np.ndarray:
        """xp[start:stop] : (m, C, Hp, Wp)."""
        if not self.padded:
            return self.x[start:stop]
        m, (h, w) = stop - start, self.x.shape[2:]
        self.buf[:m, :, self.pt:self.pt + h, self.pl:self.pl + w] = self.x[start:stop]
        return self.buf[:m]


def _im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
            out_size: tuple[int, int], out: np.ndarray) -> None:
    """Write ``cols[(c, i, j), (n, r, s)] = xp[n, c, r*sh + i, s*sw + j]`` into ``out``.

    xp : (m, C, Hp, Wp); out : (C*kh*kw, m*Ho*Wo), rows contiguous.
    """
    m, c = xp.shape[:2]
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_size
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (m, C, Hp-kh+1, Wp-kw+1, kh, kw)
    windows = windows[:, :, :(ho - 1) * sh + 1:sh, :(wo - 1) * sw + 1:sw]  # (m, C, Ho, Wo, kh, kw)
    # one strided copy from the view, rows ordered (c, i, j) like w.reshape(O, K)
    out.reshape(c, kh, kw, m, ho, wo)[...] = windows.transpose(1, 4, 5, 0, 2, 3)


def _col2im(dcols: np.ndarray, kernel3: tuple[int, int, int], out_size: tuple[int, int, int],
            stride: tuple[int, int], dxp: np.ndarray) -> None:
    """``dxp[n, c, r*sh + i, s*sw + j] += dcols[(c, i, j), (n, r, s)]``, one slice-add per offset.

    dcols : (C*kh*kw, m*Ho*Wo); dxp : (m, C, Hp, Wp), accumulated in place.
    """
    (c, kh, kw), (m, ho, wo), (sh, sw) = kernel3, out_size, stride
    slabs = dcols.reshape(c, kh, kw, m, ho, wo)
    dxp_cm = dxp.transpose(1, 0, 2, 3)  # (C, m, Hp, Wp), a view
    for i in range(kh):
        for j in range(kw):
            dxp_cm[:, :, i:i + (ho - 1) * sh + 1:sh, j:j + (wo - 1) * sw + 1:sw] += slabs[:, i, j]


def _col2im_wide(dcols: np.ndarray, kernel3: tuple[int, int, int],
                 grid: tuple[int, int, int, int], dxp: np.ndarray) -> None:
    """col2im for stride 1 with ``dcols`` on the Wp-wide grid (zero in columns >= Wo).

    dcols : (C*kh*kw, m*Ho*Wp); dxp : (m, C, Hp, Wp), accumulated in place. Output position
    (r, s) of offset (i, j) lands on the flat index ``(r + i)*Wp + s + j = i*Wp + j + (r*Wp + s)``
    of a padded image: one contiguous run per offset. The run stops after the last valid
    position ``(Ho - 1)*Wp + Wo - 1``, so it never leaves the image; zeros in the extra columns
    make the positions they reach (wrapping into the next row) receive nothing.
    """
    (c, kh, kw), (m, ho, wo, wp) = kernel3, grid
    run = (ho - 1) * wp + wo
    slabs = dcols.reshape(c, kh, kw, m, ho * wp)
    flat = dxp.transpose(1, 0, 2, 3).reshape(c, m, -1)  # (C, m, Hp*Wp), a view
    for i in range(kh):
        for j in range(kw):
            begin = i * wp + j
            flat[:, :, begin:begin + run] += slabs[:, i, j, :, :run]


# ============================================================================ user-facing API
def _check_input(shape: tuple, in_channels: int | None, layer: str) -> None:
    if len(shape) != 4:
        raise ValueError(f"{layer}: expected input of shape (N, C, H, W) with 4 dimensions, "
                         f"got shape {tuple(shape)}")
    if in_channels is not None and shape[1] != in_channels:
        raise ValueError(f"{layer}: expected input of shape (N, {in_channels}, H, W), "
                         f"got shape {tuple(shape)} ({shape[1]} channels)")


def conv2d(input, weight, bias=None, stride=1, padding=0) -> Tensor:
    """2-D cross-correlation, ``torch.nn.functional.conv2d`` without dilation or groups.

    ``out[n, o, r, s] = b[o] + sum_{c, i, j} w[o, c, i, j] * xp[n, c, r*sh + i, s*sw + j]``
    with ``xp`` the zero-padded input (see the module docstring for the im2col form and the
    backward).

    Parameters
    ----------
    input : Tensor or array-like (N, C, H, W)
    weight : Tensor or array-like (O, C, kh, kw)
    bias : Tensor or array-like (O,), optional
    stride : int > 0 or (int, int)
        (sh, sw), in input pixels.
    padding : int >= 0, (int, int), 'valid' or 'same'
        Zero padding; see ``conv_padding``.

    Returns
    -------
    Tensor (N, O, Ho, Wo), ``Ho = (H + pad_top + pad_bottom - kh) // sh + 1`` (likewise Wo).

    Raises
    ------
    ValueError
        If the input is not 4-D with C channels, the weight not 4-D, the bias not (O,), the
        stride or padding malformed, or the kernel larger than the padded input.
    """
    x, weight = as_tensor(input), as_tensor(weight)
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected weight of shape (O, C, kh, kw), got {weight.shape}")
    _check_input(x.shape, weight.shape[1], "conv2d")
    if bias is not None:
        bias = as_tensor(bias)
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"conv2d: expected bias of shape ({weight.shape[0]},), "
                             f"got {bias.shape}")
    kernel = tuple(weight.shape[2:])
    stride = _pair(stride, "stride", "conv2d", minimum=1)
    pads = conv_padding(padding, kernel, stride, "conv2d")
    conv_output_size(x.shape[2:], kernel, stride, pads, "conv2d")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2dFunction.apply(*inputs, stride=stride, padding=pads)


class Conv2d(Module):
    """2-D convolution layer (``torch.nn.Conv2d`` without dilation or groups).

    ``out[n, o] = bias[o] + sum_c weight[o, c] ★ x[n, c]`` (★: cross-correlation with the given
    stride over the zero-padded input; see the module docstring).

    Parameters
    ----------
    in_channels : int > 0
        C, channels of the input.
    out_channels : int > 0
        O, channels of the output (number of filters).
    kernel_size : int > 0 or (int, int)
        (kh, kw); rectangular kernels such as (5, 3) are allowed.
    stride : int > 0 or (int, int)
    padding : int >= 0, (int, int), 'valid' or 'same'
        See ``conv_padding`` ('same' needs stride 1; an even kernel pads one more at the end).
    bias : bool
        Whether to learn an additive bias per output channel.
    rng : numpy.random.Generator, optional
        Generator for the initial weights (default: ``minitorch_ser.autograd.random.default_generator()``).

    Attributes
    ----------
    weight : Parameter (O, C, kh, kw)
        Initialised as PyTorch does: ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) with ``fan_in = C*kh*kw``.
    bias : Parameter (O,) or None
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Shapes
    ------
    x : (N, C, H, W) -> (N, O, Ho, Wo), ``Ho = (H + pad_top + pad_bottom - kh) // sh + 1``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, rng: np.random.Generator | None = None):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Conv2d: {name}={value!r} must be an int >= 1")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d", minimum=1)
        self.stride = _pair(stride, "stride", "Conv2d", minimum=1)
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding", "Conv2d", 0)
        self._pads = conv_padding(padding, self.kernel_size, self.stride, "Conv2d")
        kh, kw = self.kernel_size
        self.weight = Parameter(np.empty((out_channels, in_channels, kh, kw), dtype=np.float32))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if bias:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight.shape)
            bound = 1.0 / math.sqrt(fan_in)
            self.bias = Parameter(np.empty(out_channels, dtype=np.float32))
            init.uniform_(self.bias, -bound, bound, rng=rng)
        else:
            self.register_parameter("bias", None)

    def forward(self, x) -> Tensor:
        """x : (N, C, H, W) -> (N, O, Ho, Wo): ``conv2d(x, weight, bias, stride, padding)``."""
        x = as_tensor(x)
        _check_input(x.shape, self.in_channels, "Conv2d")
        conv_output_size(x.shape[2:], self.kernel_size, self.stride, self._pads, "Conv2d")
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def output_shape(self, input_shape: tuple) -> tuple:
        """(N, O, Ho, Wo) for an input of shape (N, C, H, W), without computing anything."""
        _check_input(tuple(input_shape), self.in_channels, "Conv2d")
        ho, wo = conv_output_size(tuple(input_shape[2:]), self.kernel_size, self.stride,
                                  self._pads, "Conv2d")
        return (input_shape[0], self.out_channels, ho, wo)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}"
        if self.bias is None:
            s += ", bias=False"
        return s
