"""Stateless layer functions, with the names, signatures and semantics of ``torch.nn.functional``.

Every layer of ``minitorch_ser.nn`` is written one way: a ``Module`` that holds the weights and
settings, whose ``forward`` calls the layer's functional form here, which checks its arguments
and calls either engine ops or a ``Function`` with a hand-written backward::

    Conv2d.forward  ->  F.conv2d(input, weight, bias, stride, padding)  ->  Conv2dFunction

Two kinds of functional forms, by where their backward comes from:

- composed from the ops of ``minitorch_ser.autograd.ops`` (their backward is the chain rule
  through those ops), defined in this file: ``relu``, ``tanh``, ``sigmoid``, ``softmax``,
  ``log_softmax``, ``dropout``, ``linear``, ``scaled_dot_product_attention`` and the losses
  ``nll_loss`` and ``cross_entropy``;
- calling a ``Function`` whose backward is written by hand, defined next to that Function in
  the layer family's file and imported here, so that ``F.conv2d`` is ``nn.conv.conv2d``:
  ``conv2d`` (``conv.py``), ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``,
  ``global_avg_pool`` (``pool.py``), ``batch_norm``, ``layer_norm`` (``norm.py``), ``lstm``,
  ``gru`` (``recurrent.py``).

Losses take logits or log-probabilities of shape ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``
(class axis 1, or 0 for a single sample) and class-index targets ``(N,)`` / ``()`` /
``(N, d1, ...)``; ``cross_entropy`` also accepts class-probability targets of the input's shape.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import ops
from ..autograd.random import default_generator
from ..autograd.tensor import Tensor, as_array, as_tensor
from .conv import conv2d
from .norm import batch_norm, layer_norm
from .pool import adaptive_avg_pool2d, avg_pool2d, global_avg_pool, max_pool2d
from .recurrent import gru, lstm

__all__ = ["relu", "tanh", "sigmoid", "softmax", "log_softmax", "dropout", "linear",
           "scaled_dot_product_attention", "conv2d", "max_pool2d", "avg_pool2d",
           "adaptive_avg_pool2d", "global_avg_pool", "batch_norm", "layer_norm", "lstm", "gru",
           "nll_loss", "cross_entropy"]

_REDUCTIONS = ("none", "mean", "sum")


# ============================================================================ activations
def relu(input: Tensor) -> Tensor:
    """``max(x, 0)`` elementwise; any shape."""
    return ops.ReLU.apply(input)


def tanh(input: Tensor) -> Tensor:
    """``tanh(x)`` elementwise; any shape."""
    return ops.Tanh.apply(input)


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + e^-x)`` elementwise (computed without overflow); any shape."""
    return ops.Sigmoid.apply(input)


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """``softmax(x)_i = e^(x_i - max x) / sum_j e^(x_j - max x)`` along ``dim``.

    Subtracting the maximum leaves the result unchanged and keeps every exponent <= 0, so
    logits of any magnitude give finite probabilities.

    Parameters
    ----------
    input : Tensor (*)
        Any shape with at least one axis.
    dim : int in [-ndim, ndim)
        The axis along which the output sums to 1.

    Returns
    -------
    Tensor of the input's shape, values in [0, 1].
    """
    return ops.Softmax.apply(input, axis=dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """``log_softmax(x)_i = x_i - max x - log sum_j e^(x_j - max x)`` along ``dim``.

    Computed in one stable step rather than as ``log(softmax(x))``, which gives ``log(0) =
    -inf`` as soon as a probability underflows.

    Parameters
    ----------
    input : Tensor (*)
        Any shape with at least one axis.
    dim : int in [-ndim, ndim)
        The axis along which ``exp`` of the output sums to 1.

    Returns
    -------
    Tensor of the input's shape, values <= 0.
    """
    return ops.LogSoftmax.apply(input, axis=dim)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by 1/(1-p).

    ``y = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)`` per element, so that E[y] = x
    (Srivastava et al., 2014, with the scaling moved from test time to training time).

    Parameters
    ----------
    input : Tensor (*)
        Any shape.
    p : float in [0, 1]
        Probability of zeroing an element.
    training : bool
        When False, return ``input`` unchanged.
    rng : numpy.random.Generator, optional
        Source of the mask; ``minitorch_ser.autograd.random.default_generator()`` by default.

    Returns
    -------
    Tensor of the input's shape.
    """
    return ops.dropout(input, p, training, rng if rng is not None else default_generator())


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``y = x W^T + b``.

    Parameters
    ----------
    input : Tensor (*, in_features)
    weight : Tensor (out_features, in_features)
    bias : Tensor (out_features,), optional

    Returns
    -------
    Tensor (*, out_features)

    Raises
    ------
    ValueError
        If the input's last axis is not ``in_features``.
    """
    x = input
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} "
                         f"features, weight of shape {weight.shape} expects {weight.shape[1]}")
    out = x @ weight.T                                   # (*, out_features)
    return out if bias is None else out + bias


# ============================================================================ attention
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 rng: np.random.Generator | None = None,
                                 return_weights: bool = False):
    """Attention of every query over every key: ``softmax(Q K^T * scale + M) V``.

    Vaswani et al. (2017), "Attention is all you need", eq. (1). Composed from matmul, softmax
    and masking ops, so its backward is the chain rule through them.

    Parameters
    ----------
    query : Tensor (..., L, d)
        Queries; ``...`` are batch axes (e.g. ``N, heads``), broadcast against key and value.
    key : Tensor (..., S, d)
        Keys, one per value.
    value : Tensor (..., S, d_v)
        Values that are averaged.
    attn_mask : ndarray or Tensor broadcastable to (..., L, S), optional
        Which keys each query may see. **PyTorch's convention for this function**: a boolean
        mask is True where attention is *allowed* (the opposite of ``MultiheadAttention``'s
        masks); a floating mask is added to the scores (use ``-inf`` to forbid a position).
    dropout_p : float in [0, 1)
        Probability of zeroing an attention weight (inverted dropout on the weights). Applied
        whenever > 0: pass 0 in evaluation mode.
    is_causal : bool
        Forbid query i to see keys j > i (a lower-triangular mask of allowed pairs); excludes
        ``attn_mask``.
    scale : float > 0, optional
        Multiplier of the scores; ``1 / sqrt(d)`` by default, which keeps the scores of
        unit-variance inputs at unit variance whatever ``d`` is.
    rng : numpy Generator, optional
        Draws the dropout mask; ``minitorch_ser.autograd.random.default_generator()`` by default.
    return_weights : bool
        Also return the attention weights (PyTorch's function returns only the output).

    Returns
    -------
    output : Tensor (..., L, d_v)
        ``weights @ value``.
    weights : Tensor (..., L, S)
        Only when ``return_weights``: ``softmax(Q K^T * scale + M)`` along S (after dropout when
        ``dropout_p > 0``). Each row sums to 1 over the allowed keys, and forbidden keys get
        exactly 0. A query whose every key is forbidden gets all-zero weights and a zero output
        (PyTorch returns NaN there), so that padded batches never produce NaN gradients.

    Raises
    ------
    ValueError
        If an input has rank < 2, query and key differ in d, key and value differ in S, the
        mask does not broadcast to (..., L, S) or is neither boolean nor floating, or both
        ``is_causal`` and ``attn_mask`` are given.
    """
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention needs query, key, value of rank >= 2, "
                         f"got shapes {query.shape}, {key.shape}, {value.shape}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query's last axis {query.shape} must "
                         f"equal key's last axis {key.shape}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: key {key.shape} and value "
                         f"{value.shape} must have the same number of positions S (axis -2)")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either is_causal=True or "
                         "attn_mask, not both")
    L, S = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])

    # scores: how well each query matches each key, scaled so softmax does not saturate
    scores = (query * scale) @ key.transpose(-2, -1)                    # (..., L, S)

    if is_causal:
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is not None:
        mask = as_array(attn_mask)
        try:
            np.broadcast_shapes(mask.shape, scores.shape)
        except ValueError:
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {mask.shape} "
                             f"does not broadcast to the scores' shape {scores.shape} "
                             f"(..., L={L}, S={S})") from None
        if mask.dtype == bool:
            scores = scores.masked_fill(~mask, -np.inf)
        elif np.issubdtype(mask.dtype, np.floating):
            scores = scores + as_tensor(mask.astype(scores.dtype, copy=False))
        else:
            raise ValueError(f"scaled_dot_product_attention: attn_mask must be boolean or "
                             f"floating, got dtype {mask.dtype}")

    # rows whose every score is -inf have no key to attend to: softmax would give 0/0 = NaN;
    # give them all-zero weights instead
    dead = np.isneginf(scores.data).all(axis=-1, keepdims=True)          # (..., L, 1)
    if dead.any():
        scores = scores.masked_fill(dead, 0.0)
    weights = scores.softmax(axis=-1)                                    # (..., L, S)
    if dead.any():
        weights = weights.masked_fill(dead, 0.0)

    if dropout_p > 0.0:
        weights = ops.dropout(weights, p=dropout_p, training=True, rng=rng or default_generator())
    output = weights @ value                                             # (..., L, d_v)
    return (output, weights) if return_weights else output


# ============================================================================ losses
def nll_loss(log_probs: Tensor, target, weight=None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class-index targets (``torch.nn.functional.nll_loss``).

    Per element ``l_n = -w[y_n] * log_probs[n, y_n]`` (0 where ``y_n == ignore_index``), and

    - ``reduction='none'``: ``l`` of shape (N, d1, ...), or () for a single sample;
    - ``reduction='sum'``: ``sum_n l_n``;
    - ``reduction='mean'``: the weighted mean ``sum_n l_n / sum_n w[y_n]`` over non-ignored n
      (the plain mean when ``weight`` is None; nan when every target is ignored).

    Parameters
    ----------
    log_probs : Tensor (N, C), (C,) or (N, C, d1, ...)
        Log-probabilities, e.g. from ``log_softmax(logits, dim=1)``.
    target : integer array_like or Tensor (N,), () or (N, d1, ...)
        Class indices in [0, C), or ``ignore_index``.
    weight : array_like (C,), optional
        Per-class weight (a constant: not differentiated).
    ignore_index : int
        Target value whose elements contribute neither loss nor weight.
    reduction : {'mean', 'sum', 'none'}
    """
    target = as_array(target)
    if target.dtype.kind not in "iu":
        raise ValueError(f"nll_loss: target must hold integer class indices, got dtype {target.dtype}")
    axis = _class_axis(log_probs, "nll_loss")
    q, total_weight = _class_index_weights(log_probs, target, weight, ignore_index, 0.0, axis,
                                           "nll_loss")
    return _reduce(_weighted_nll(log_probs, q, axis), total_weight, reduction, "nll_loss")


def cross_entropy(logits: Tensor, target, weight=None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between softmax(logits) and the targets (``torch.nn.functional.cross_entropy``).

    With ``logp = log_softmax(logits)`` over the class axis, C classes, per-class weights ``w``
    (all 1 by default) and smoothing ``eps``:

    - class-index targets ``y``: ``l_n = (1 - eps) w[y_n] (-logp[n, y_n])
      + (eps / C) sum_c w[c] (-logp[n, c])``, 0 where ``y_n == ignore_index``; the mean
      divides by ``sum_n w[y_n]`` over non-ignored n (PyTorch's definition);
    - class-probability targets ``t`` (floating, same shape as ``logits``):
      ``l_n = -sum_c w[c] t'[n, c] logp[n, c]`` with ``t' = (1 - eps) t + eps / C``; the mean
      divides by the number of samples N * d1 * ...

    Both are ``l_n = -sum_c q[n, c] logp[n, c]`` for a constant ``q``, which is how it is
    computed: log_softmax (stable for logits of any magnitude), a product and a sum, so the
    gradient with respect to the logits is ``softmax(logits) * sum_c q[n, c] - q[n, :]``.

    Parameters
    ----------
    logits : Tensor (N, C), (C,) or (N, C, d1, ...)
    target : Tensor or array_like
        Integer class indices (N,), () or (N, d1, ...), or floating probabilities of the
        shape of ``logits``.
    weight : array_like (C,), optional
        Per-class weight (a constant: not differentiated).
    ignore_index : int
        Class-index target value that contributes nothing (not allowed with probabilities).
    reduction : {'mean', 'sum', 'none'}
    label_smoothing : float in [0, 1]
        Mix the targets with the uniform distribution over the C classes.

    Returns
    -------
    Tensor: () for 'mean' and 'sum', the per-element losses (N, d1, ...) for 'none'.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing={label_smoothing} must be in [0, 1]")
    target = as_array(target)
    axis = _class_axis(logits, "cross_entropy")
    if target.dtype.kind == "f":
        if target.shape != logits.shape:
            raise ValueError(f"cross_entropy: probability targets must have the logits' shape "
                             f"{logits.shape}, got {target.shape}")
        if ignore_index >= 0:
            raise ValueError(f"cross_entropy: ignore_index={ignore_index} is not supported with "
                             f"class-probability targets")
        q, total_weight = _probability_weights(logits, target, weight, label_smoothing, axis)
    elif target.dtype.kind in "iu":
        q, total_weight = _class_index_weights(logits, target, weight, ignore_index,
                                               label_smoothing, axis, "cross_entropy")
    else:
        raise ValueError(f"cross_entropy: target must hold integer class indices or floating "
                         f"probabilities, got dtype {target.dtype}")
    logp = ops.LogSoftmax.apply(logits, axis=axis)
    return _reduce(_weighted_nll(logp, q, axis), total_weight, reduction, "cross_entropy")


# ============================================================================ loss helpers
def _class_axis(x: Tensor, name: str) -> int:
    """The class axis: 0 for a single sample (C,), else 1."""
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class axis, got a 0-d tensor")
    return 0 if x.ndim == 1 else 1


def _class_weight(weight, n_classes: int, dtype, name: str) -> np.ndarray:
    if weight is None:
        return np.ones(n_classes, dtype=dtype)
    w = as_array(weight).astype(dtype, copy=False)
    if w.shape != (n_classes,):
        raise ValueError(f"{name}: weight must have shape ({n_classes},) (one per class), "
                         f"got {w.shape}")
    return w


def _class_index_weights(x: Tensor, target: np.ndarray, weight, ignore_index: int,
                         eps: float, axis: int, name: str):
    """``q`` (the shape of x) with ``l_n = -sum_c q[n, c] x[n, c]``, and sum_n w[y_n].

    ``q[n, c] = (1 - eps) w[c] [c == y_n] + (eps / C) w[c]`` for a non-ignored n, else 0.
    """
    n_classes = x.shape[axis]
    expected = x.shape[:axis] + x.shape[axis + 1:]
    if target.shape != expected:
        raise ValueError(f"{name}: input of shape {x.shape} needs a target of shape {expected} "
                         f"(class axis {axis} removed), got {target.shape}")
    valid = target != ignore_index                                       # (N, d1, ...)
    bad = valid & ((target < 0) | (target >= n_classes))
    if bad.any():
        raise ValueError(f"{name}: target values must be in [0, {n_classes}) or "
                         f"ignore_index={ignore_index}, got {target[bad].ravel()[:5].tolist()}")
    w = _class_weight(weight, n_classes, x.dtype, name)                  # (C,)
    y = np.where(valid, target, 0)
    one_hot = (y[..., None] == np.arange(n_classes)) & valid[..., None]  # (N, d1, ..., C)
    q = (1.0 - eps) * one_hot * w
    if eps > 0:
        q = q + (eps / n_classes) * valid[..., None] * w
    total_weight = (w[y] * valid).sum()
    return np.moveaxis(q, -1, axis).astype(x.dtype, copy=False), total_weight


def _probability_weights(x: Tensor, target: np.ndarray, weight, eps: float, axis: int):
    """``q = w[c] ((1 - eps) t + eps / C)`` and the number of samples N * d1 * ..."""
    n_classes = x.shape[axis]
    w = _class_weight(weight, n_classes, x.dtype, "cross_entropy")
    w_shape = [1] * x.ndim
    w_shape[axis] = n_classes
    q = ((1.0 - eps) * target + eps / n_classes) * w.reshape(w_shape)
    return q.astype(x.dtype, copy=False), x.size // n_classes


def _weighted_nll(log_probs: Tensor, q: np.ndarray, axis: int) -> Tensor:
    """``l = -sum_c q[..., c] log_probs[..., c]`` over the class axis."""
    return (log_probs * -q).sum(axis=axis)


def _reduce(loss: Tensor, total_weight, reduction: str, name: str) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        # every target ignored (or weighted 0): 0 / 0 = nan, as in PyTorch, without a warning
        with np.errstate(invalid="ignore", divide="ignore"):
            return loss.sum() / np.asarray(total_weight, dtype=loss.dtype)
    raise ValueError(f"{name}: reduction={reduction!r} must be one of {_REDUCTIONS}")
