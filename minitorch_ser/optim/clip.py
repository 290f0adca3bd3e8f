"""Gradient clipping: rescale all gradients by their global norm, or clamp each value.

Both functions act in place on ``p.grad`` between ``loss.backward()`` and ``optimizer.step()``,
with the names, arguments and formulas of ``torch.nn.utils.clip_grad_norm_`` and
``clip_grad_value_``. Parameters whose ``grad`` is None are ignored.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor


def _grads(parameters) -> list:
    """The non-None gradient arrays of ``parameters`` (a Tensor or an iterable of Tensors)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(x: np.ndarray, norm_type: float) -> float:
    """The p-norm of all elements of ``x``, accumulated in float64."""
    x = x.astype(np.float64, copy=False).ravel()
    if x.size == 0:
        return 0.0
    if norm_type == 2.0:  # the common case: one dot product, no |x| temporary
        return math.sqrt(float(np.dot(x, x)))
    a = np.abs(x)
    if norm_type == math.inf:
        return float(a.max())
    return float(np.sum(a ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    r"""Rescale the gradients so that their joint norm is at most ``max_norm``, in place.

    The gradients of all parameters are treated as one concatenated vector :math:`g`::

        total_norm = ||g||_p = ( sum_i ||g_i||_p ** p ) ** (1/p)     (max_i ||g_i||_inf for p = inf)
        clip_coef  = min(max_norm / (total_norm + 1e-6), 1)
        g_i <- clip_coef * g_i

    (PyTorch's ``clip_grad_norm_``; the 1e-6 keeps the ratio finite for zero gradients, and
    makes a norm just at ``max_norm`` scale by slightly less than 1.) The norm is accumulated
    in float64; gradients are scaled in their own dtype.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Tensors whose ``grad`` is rescaled (those with ``grad`` None are skipped).
    max_norm : float >= 0
        Largest allowed norm.
    norm_type : float > 0 or inf
        The :math:`p` of the p-norm (``"inf"`` is accepted for infinity).
    error_if_nonfinite : bool
        Raise RuntimeError if the total norm is nan or inf (otherwise the gradients become
        nan, as in PyTorch).

    Returns
    -------
    float
        The total norm of the gradients before clipping (0.0 when no parameter has one).
    """
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not max_norm >= 0.0:
        raise ValueError(f"max_norm={max_norm} must be >= 0")
    if not norm_type > 0.0:
        raise ValueError(f"norm_type={norm_type} must be > 0 (or inf)")
    grads = _grads(parameters)
    if not grads:
        return 0.0
    # the norm of the per-array norms equals the norm of the concatenation
    norms = np.array([_vector_norm(g, norm_type) for g in grads])
    total_norm = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total_norm}, so they "
            "cannot be clipped; pass error_if_nonfinite=False to scale them anyway")
    clip_coef = max_norm / (total_norm + 1e-6)
    if not clip_coef >= 1.0:  # (a nan norm also lands here and spreads, as in torch)
        for g in grads:
            g *= clip_coef
    return total_norm


def clip_grad_value_(parameters, clip_value: float) -> None:
    r"""Clamp every gradient element to ``[-clip_value, clip_value]``, in place.

    :math:`g \leftarrow \min(\max(g, -c), c)` elementwise, for each parameter's gradient
    (PyTorch's ``clip_grad_value_``).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Tensors whose ``grad`` is clamped (those with ``grad`` None are skipped).
    clip_value : float >= 0
        Largest allowed absolute value of a gradient element.
    """
    clip_value = float(clip_value)
    if not clip_value >= 0.0:
        raise ValueError(f"clip_value={clip_value} must be >= 0")
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
