"""Stateless layer functions, with the names and semantics of ``torch.nn.functional``.

Each function composes the ops of ``minitorch_ser.autograd.ops`` (so its backward comes for free);
the modules of ``nn.linear``, ``nn.activation`` and ``nn.dropout`` are thin wrappers that hold
the weights and settings and call these.

Losses take logits or log-probabilities of shape ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``
(class axis 1, or 0 for a single sample) and class-index targets ``(N,)`` / ``()`` /
``(N, d1, ...)``; ``cross_entropy`` also accepts class-probability targets of the input's shape.
"""

from __future__ import annotations

import numpy as np

from ..autograd import ops
from ..autograd.random import default_generator
from ..autograd.tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


# ============================================================================ activations
def relu(x: Tensor) -> Tensor:
    """``max(x, 0)`` elementwise."""
    return ops.ReLU.apply(x)


def tanh(x: Tensor) -> Tensor:
    """``tanh(x)`` elementwise."""
    return ops.Tanh.apply(x)


def sigmoid(x: Tensor) -> Tensor:
    """``1 / (1 + e^-x)`` elementwise (computed without overflow)."""
    return ops.Sigmoid.apply(x)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``softmax(x)_i = e^(x_i - max x) / sum_j e^(x_j - max x)`` along ``dim``.

    Subtracting the maximum leaves the result unchanged and keeps every exponent <= 0, so
    logits of any magnitude give finite probabilities.
    """
    return ops.Softmax.apply(x, axis=dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``log_softmax(x)_i = x_i - max x - log sum_j e^(x_j - max x)`` along ``dim``.

    Computed in one stable step rather than as ``log(softmax(x))``, which gives ``log(0) =
    -inf`` as soon as a probability underflows.
    """
    return ops.LogSoftmax.apply(x, axis=dim)


def dropout(x: Tensor, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by 1/(1-p).

    Parameters
    ----------
    x : Tensor
    p : float in [0, 1]
        Probability of zeroing an element.
    training : bool
        When False, return ``x`` unchanged.
    rng : numpy.random.Generator, optional
        Source of the mask; ``minitorch_ser.autograd.random.default_generator()`` by default.
    """
    return ops.dropout(x, p, training, rng if rng is not None else default_generator())


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``y = x W^T + b``.

    Parameters
    ----------
    x : Tensor (*, in_features)
    weight : Tensor (out_features, in_features)
    bias : Tensor (out_features,), optional

    Returns
    -------
    Tensor (*, out_features)
    """
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} has {x.shape[-1] if x.ndim else 0} "
                         f"features, weight of shape {weight.shape} expects {weight.shape[1]}")
    out = x @ weight.T                                   # (*, out_features)
    return out if bias is None else out + bias


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
    target = _raw(target)
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
    target = _raw(target)
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
def _raw(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _class_axis(x: Tensor, name: str) -> int:
    """The class axis: 0 for a single sample (C,), else 1."""
    if x.ndim == 0:
        raise ValueError(f"{name}: input must have a class axis, got a 0-d tensor")
    return 0 if x.ndim == 1 else 1


def _class_weight(weight, n_classes: int, dtype, name: str) -> np.ndarray:
    if weight is None:
        return np.ones(n_classes, dtype=dtype)
    w = _raw(weight).astype(dtype, copy=False)
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
