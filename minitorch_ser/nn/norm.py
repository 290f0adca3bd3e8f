"""Normalisation layers: BatchNorm1d, BatchNorm2d, LayerNorm, with hand-written backward passes.

Both normalise ``x`` over a set of axes S with its mean and biased variance there, then apply
an elementwise affine map (Ioffe & Szegedy, 2015; Ba et al., 2016)::

    mu = mean_S(x),   var = mean_S((x - mu)^2),   xhat = (x - mu) / sqrt(var + eps)
    y  = gamma * xhat + beta

BatchNorm: S = every axis but the channel axis 1 (one statistic per channel, over the batch and
the positions). LayerNorm: S = the trailing ``normalized_shape`` axes (one statistic per sample
and position).

Backward, written once for both. With n = |S|, g = dL/dy and ``dxhat = g * gamma``, the chain
rule through mu and var (both functions of x) collapses to the compact form

    dx     = (1 / sqrt(var + eps)) * (dxhat - mean_S(dxhat) - xhat * mean_S(dxhat * xhat))
    dgamma = sum over the other axes of g * xhat,      dbeta = sum over the other axes of g

When the statistics are constants (BatchNorm in eval mode, running statistics), the two mean
terms vanish: ``dx = gamma * g / sqrt(var + eps)``.
"""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor, as_tensor
from .module import Module, Parameter


# ============================================================================ batch norm
def _channel_view(a: np.ndarray) -> np.ndarray:
    """(N, C, ...) -> (N, C, L) with L = prod of the positions (1 for (N, C)), a view."""
    return a.reshape(a.shape[0], a.shape[1], -1)


class BatchNormFunction(Function):
    """``y = gamma * (x - mu) / sqrt(var + eps) + beta`` per channel of x : (N, C, ...).

    ``BatchNormFunction.apply(x[, weight, bias], mean=None, var=None, eps=1e-5,
    running_mean=None, running_var=None, momentum=0.1)``: with ``mean=None`` the statistics
    are the batch's own (training; see the module docstring for the backward), and when
    running buffers are given they are updated in place, as ``F.batch_norm`` does::

        running_mean <- (1 - momentum) * running_mean + momentum * mu
        running_var  <- (1 - momentum) * running_var  + momentum * var * n / (n - 1)

    (the running variance is the unbiased estimate, the normalisation uses the biased one).
    With ``mean`` and ``var`` given (eval), they are used as constants.

    Parameters (of ``forward``: arrays, then keywords)
    --------------------------------------------------
    x : ndarray (N, C, ...)
    weight, bias : ndarray (C,), optional
        gamma and beta; a bias needs a weight before it (``batch_norm`` passes ones).
    mean, var : ndarray (C,), optional
        Constant statistics (eval); None: the batch's own (training).
    eps : float > 0
        Added to the variance.
    running_mean, running_var : ndarray (C,), optional
        Updated in place with the batch statistics (training only).
    momentum : float in [0, 1]
        Weight of the batch in that update.

    Returns
    -------
    y : ndarray, the shape of x; backward returns (dx[, dgamma[, dbeta]]).
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, mean=None, var=None, eps=1e-5,
                running_mean=None, running_var=None, momentum=0.1):
        x3 = _channel_view(x)  # (N, C, L)
        batch_stats = mean is None
        if batch_stats:
            count = x3.shape[0] * x3.shape[2]
            mean = np.einsum("ncl->c", x3) / count  # einsum: one pass, no temporary
            centred = x3 - mean[:, None]
            var = np.einsum("ncl,ncl->c", centred, centred) / count  # biased
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * var * (count / (count - 1))
        else:
            centred = x3 - np.asarray(mean, dtype=x.dtype)[:, None]
        invstd = (1.0 / np.sqrt(np.asarray(var, dtype=x.dtype) + eps)).astype(x.dtype)
        # y = gamma * xhat + beta = centred * (gamma * invstd) + beta; xhat = centred * invstd
        # is never stored: backward uses centred and invstd (one pass fewer over x)
        scale = invstd if weight is None else (weight * invstd).astype(x.dtype)
        y = centred * scale[:, None]
        if bias is not None:
            y += bias[:, None]
        ctx.save_for_backward(centred, invstd, scale, batch_stats)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        centred, invstd, scale, batch_stats = ctx.saved_tensors
        needs = ctx.needs_input_grad
        g = _channel_view(grad)  # (N, C, L)
        sum_g = np.einsum("ncl->c", g)  # dbeta
        sum_gx = np.einsum("ncl,ncl->c", g, centred) * invstd  # sum(g * xhat) = dgamma
        result = [None] * len(needs)
        if needs[0]:
            if batch_stats:
                count = g.shape[0] * g.shape[2]
                # dx = gamma * invstd * (g - mean(g) - xhat * mean(g * xhat))
                dx = centred * (-invstd * sum_gx / count)[:, None]
                dx += g
                dx -= (sum_g / count)[:, None]
                dx *= scale[:, None]
            else:
                dx = g * scale[:, None]
            result[0] = dx.reshape(grad.shape)
        if len(needs) > 1 and needs[1]:
            result[1] = sum_gx
        if len(needs) > 2 and needs[2]:
            result[2] = sum_g
        return tuple(result)


def batch_norm(input, running_mean, running_var, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of x : (N, C, ...) per channel (``torch.nn.functional.batch_norm``).

    ``y = gamma * (x - mu) / sqrt(var + eps) + beta`` per channel c, with ``mu``, ``var`` the
    mean and biased variance of channel c over the batch and positions (``training``) or the
    running statistics (not ``training``); see the module docstring for the backward.

    Parameters
    ----------
    input : Tensor or array-like (N, C), (N, C, L) or (N, C, H, W)
    running_mean, running_var : ndarray (C,) or None
        Running statistics: updated in place when ``training`` (``r <- (1 - momentum) r +
        momentum * batch statistic``, the variance unbiased), used as constants when not.
        None (allowed only when ``training``) keeps no running statistics.
    weight, bias : Tensor (C,), optional
        gamma and beta; a missing weight with a bias given is gamma = 1.
    training : bool
        Normalise with the batch statistics (and update the running ones) if True, with the
        running statistics if False.
    momentum : float in [0, 1]
        Weight of the new batch in the running averages.
    eps : float > 0
        Added to the variance.

    Returns
    -------
    Tensor of the input's shape.

    Raises
    ------
    ValueError
        If ``training`` with a single value per channel (N * positions < 2), or not
        ``training`` without running statistics.
    """
    x = as_tensor(input)
    if training:
        count = x.shape[0] * (int(np.prod(x.shape[2:])) if x.ndim > 2 else 1)
        if count < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        kwargs = dict(running_mean=running_mean, running_var=running_var, momentum=momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when not "
                             "training")
        kwargs = dict(mean=running_mean, var=running_var)
    inputs = _affine_inputs(x, weight, bias, (x.shape[1],))
    return BatchNormFunction.apply(*inputs, eps=eps, **kwargs)


def _affine_inputs(x, weight, bias, shape: tuple) -> list:
    """Positional inputs (x[, weight[, bias]]); a missing weight before a bias becomes ones."""
    if weight is None and bias is None:
        return [x]
    if weight is None:
        weight = as_tensor(np.ones(shape, dtype=x.dtype))
    return [x, weight] if bias is None else [x, weight, bias]


class _BatchNorm(Module):
    """Shared body of BatchNorm1d and BatchNorm2d (``torch.nn.modules.batchnorm._BatchNorm``).

    Parameters
    ----------
    num_features : int > 0
        C, channels of the input (axis 1).
    eps : float > 0
        Added to the variance for stability.
    momentum : float in [0, 1] or None
        Weight of the new batch in the running averages; None uses the cumulative average
        (weight ``1 / num_batches_tracked``).
    affine : bool
        Learn gamma (``weight``, init 1) and beta (``bias``, init 0).
    track_running_stats : bool
        Keep ``running_mean`` (init 0), ``running_var`` (init 1) and ``num_batches_tracked``
        buffers. Without them, batch statistics are used in eval mode too.

    Training mode normalises with the batch statistics and updates the running ones (the
    running variance with the unbiased batch variance); eval mode uses the running ones.
    """

    #: accepted input ranks, and how the accepted shapes read in error messages
    _ranks: tuple = ()
    _shapes = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, (int, np.integer)) or isinstance(num_features, bool) \
                or num_features < 1:
            raise ValueError(f"{name}: num_features={num_features!r} must be an int >= 1")
        if not eps > 0:
            raise ValueError(f"{name}: eps={eps} must be > 0")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum={momentum} must be in [0, 1] or None")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=np.float32))
            self.bias = Parameter(np.zeros(num_features, dtype=np.float32))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=np.float32))
            self.register_buffer("running_var", np.ones(num_features, dtype=np.float32))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Forget the running statistics: mean 0, variance 1, ``num_batches_tracked`` 0 (as a
        new layer has them; ``torch.nn.BatchNorm2d.reset_running_stats``). The learned
        ``weight`` and ``bias`` are kept. No effect without ``track_running_stats``."""
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, x) -> Tensor:
        """x : (N, C, ...) -> same shape: ``batch_norm`` with the batch statistics (training)
        or the running ones (eval); updates the running ones in training mode."""
        x = as_tensor(x)
        if x.ndim not in self._ranks or x.shape[1] != self.num_features:
            expected = self._shapes.format(C=self.num_features)
            raise ValueError(f"{type(self).__name__}: expected input of shape {expected}, "
                             f"got shape {x.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or self.running_mean is None
        tracked = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if tracked else None,
                          self.running_var if tracked else None, self.weight, self.bias,
                          training=use_batch_stats, momentum=factor, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of x : (N, C) or (N, C, L), one statistic per channel C.

    See ``_BatchNorm`` for the parameters and the module docstring for the equations.
    State dict: ``weight``, ``bias`` (C,) float32; ``running_mean``, ``running_var`` (C,)
    float32; ``num_batches_tracked`` () int64, the names of ``torch.nn.BatchNorm1d``.
    """

    _ranks = (2, 3)
    _shapes = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of x : (N, C, H, W), one statistic per channel C.

    See ``_BatchNorm`` for the parameters and ``BatchNorm1d`` for the state dict.
    """

    _ranks = (4,)
    _shapes = "(N, {C}, H, W)"


# ============================================================================ layer norm
class LayerNormFunction(Function):
    """``y = gamma * (x - mu) / sqrt(var + eps) + beta`` over the last D axes of x.

    ``LayerNormFunction.apply(x[, weight, bias], ndim=D, eps=1e-5)``; weight and bias have
    the shape of those D axes. Backward as in the module docstring, with S = the last D axes.

    Parameters (of ``forward``: arrays, then keywords)
    --------------------------------------------------
    x : ndarray (*, *normalized_shape)
    weight, bias : ndarray (*normalized_shape), optional
        gamma and beta; a bias needs a weight before it (``layer_norm`` passes ones).
    ndim : int >= 1
        D, the number of trailing axes normalised together.
    eps : float > 0
        Added to the variance.

    Returns
    -------
    y : ndarray, the shape of x; backward returns (dx[, dgamma[, dbeta]]).
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, ndim=1, eps=1e-5):
        features = int(np.prod(x.shape[x.ndim - ndim:]))
        x2 = x.reshape(-1, features)  # (M, F)
        mean = x2.mean(axis=1, keepdims=True)
        xhat = x2 - mean
        var = np.einsum("mf,mf->m", xhat, xhat)[:, None] / features
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)  # (M, 1)
        xhat *= invstd
        y = xhat if weight is None else xhat * weight.reshape(-1)
        if bias is not None:
            y = y + bias.reshape(-1)
        elif weight is None:
            y = y.copy()
        ctx.save_for_backward(xhat, invstd, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        xhat, invstd, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        g = grad.reshape(xhat.shape)  # (M, F)
        result = [None] * len(needs)
        if needs[0]:
            dxhat = g if weight is None else g * weight.reshape(-1)
            mean_d = dxhat.mean(axis=1, keepdims=True)
            mean_dx = np.einsum("mf,mf->m", dxhat, xhat)[:, None] / xhat.shape[1]
            dx = dxhat - mean_d
            dx -= xhat * mean_dx
            dx *= invstd
            result[0] = dx.reshape(grad.shape)
        if len(needs) > 1 and needs[1]:
            result[1] = np.einsum("mf,mf->f", g, xhat).reshape(weight.shape)
        if len(needs) > 2 and needs[2]:
            result[2] = g.sum(axis=0).reshape(weight.shape)  # a bias always comes with a weight
        return tuple(result)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the trailing axes (``torch.nn.functional.layer_norm``).

    ``y = gamma * (x - mu) / sqrt(var + eps) + beta`` with ``mu``, ``var`` the mean and biased
    variance over the trailing ``normalized_shape`` axes, one pair per sample and position
    (Ba et al., 2016); see the module docstring for the backward.

    Parameters
    ----------
    input : Tensor or array-like (*, *normalized_shape)
    normalized_shape : int >= 1 or tuple of them
        Shape of the trailing axes normalised together, e.g. E for (N, T, E).
    weight, bias : Tensor (*normalized_shape), optional
        gamma and beta; a missing weight with a bias given is gamma = 1.
    eps : float > 0
        Added to the variance.

    Returns
    -------
    Tensor of the input's shape.

    Raises
    ------
    ValueError
        If ``normalized_shape`` is malformed or is not the input's trailing shape.
    """
    x = as_tensor(input)
    shape = _normalized_shape(normalized_shape, "layer_norm")
    if tuple(x.shape[x.ndim - len(shape):]) != shape or x.ndim < len(shape):
        raise ValueError(f"layer_norm: expected input of shape (*, {', '.join(map(str, shape))}), "
                         f"got shape {x.shape}")
    inputs = _affine_inputs(x, weight, bias, shape)
    return LayerNormFunction.apply(*inputs, ndim=len(shape), eps=eps)


def _normalized_shape(value, layer: str) -> tuple:
    shape = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not shape or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                            and s >= 1 for s in shape):
        raise ValueError(f"{layer}: normalized_shape={value!r} must be an int >= 1 or a "
                         f"non-empty tuple of them")
    return tuple(int(s) for s in shape)


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes (``torch.nn.LayerNorm``).

    Parameters
    ----------
    normalized_shape : int >= 1 or tuple of them
        Shape of the trailing axes normalised together, e.g. E for (N, T, E).
    eps : float > 0
    elementwise_affine : bool
        Learn ``weight`` (gamma, init 1) and, if ``bias``, ``bias`` (beta, init 0), both of
        shape ``normalized_shape``.
    bias : bool
        Whether the affine map has beta (PyTorch >= 2.1's flag).

    Shapes
    ------
    x : (*, *normalized_shape) -> same shape.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape, "LayerNorm")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps={eps} must be > 0")
        self.eps = float(eps)
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=np.float32))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=np.float32))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x) -> Tensor:
        """x : (*, *normalized_shape) -> same shape: ``layer_norm(x, normalized_shape, weight,
        bias, eps)``."""
        x = as_tensor(x)
        shape = self.normalized_shape
        if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
            raise ValueError(f"LayerNorm: expected input of shape (*, "
                             f"{', '.join(map(str, shape))}), got shape {x.shape}")
        return layer_norm(x, shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
