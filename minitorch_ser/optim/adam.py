"""Adam (Kingma & Ba, 2015) with L2 weight decay and the optional AMSGrad variant."""

from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam, with the update of ``torch.optim.Adam``.

    Adam keeps exponential moving averages of the gradient (first moment :math:`m`) and of its
    square (second moment :math:`v`), corrects both for their initialisation at zero, and scales
    each coordinate's step by the inverse root of its second moment (Kingma & Ba, "Adam: A
    Method for Stochastic Optimization", ICLR 2015, Algorithm 1; PyTorch's documented
    algorithm). For each parameter :math:`\theta` with gradient :math:`g_t` at step
    :math:`t = 1, 2, \dots`::

        g_t <- g_t + weight_decay * theta_{t-1}          L2 term (torch.optim.Adam, not AdamW)
        m_t <- beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t <- beta2 * v_{t-1} + (1 - beta2) * g_t**2
        vmax_t <- max(vmax_{t-1}, v_t)                   amsgrad only; then v_t := vmax_t below
        step_size <- lr / (1 - beta1**t)
        denom <- sqrt(v_t) / sqrt(1 - beta2**t) + eps
        theta_t <- theta_{t-1} - step_size * m_t / denom

    which equals :math:`\theta_t = \theta_{t-1} - \mathrm{lr}\,\hat m_t / (\sqrt{\hat v_t} +
    \epsilon)` with :math:`\hat m_t = m_t/(1-\beta_1^t)`, :math:`\hat v_t = v_t/(1-\beta_2^t)`.
    :math:`m_0 = v_0 = \mathrm{vmax}_0 = 0`. With ``maximize`` the gradient is negated first.

    State per parameter: ``"step"`` (int :math:`t`), ``"exp_avg"`` (:math:`m`),
    ``"exp_avg_sq"`` (:math:`v`) and, with amsgrad, ``"max_exp_avg_sq"``; all arrays have the
    parameter's shape and dtype, and every update runs on whole arrays, in place on ``p.data``.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or parameter groups (see ``Optimizer``).
    lr : float >= 0
        Learning rate.
    betas : (float, float), each in [0, 1)
        Decay rates :math:`(\beta_1, \beta_2)` of the first and second moment averages.
    eps : float >= 0
        Added to the denominator for numerical stability.
    weight_decay : float >= 0
        L2 penalty :math:`\lambda`, added to the gradient as :math:`\lambda \theta` (so it is
        rescaled by the adaptive denominator, unlike AdamW's decoupled decay).
    amsgrad : bool
        Use the running maximum of :math:`v` (Reddi et al., "On the Convergence of Adam and
        Beyond", ICLR 2018).
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        if not group["lr"] >= 0.0:
            raise ValueError(f"lr={group['lr']} must be >= 0")
        if not group["eps"] >= 0.0:
            raise ValueError(f"eps={group['eps']} must be >= 0")
        betas = tuple(group["betas"])
        if len(betas) != 2:
            raise ValueError(f"betas={group['betas']} must be a pair (beta1, beta2)")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"betas[{i}]={beta} must be in [0, 1)")
        if not group["weight_decay"] >= 0.0:
            raise ValueError(f"weight_decay={group['weight_decay']} must be >= 0")

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])

        if not state:  # lazy initialisation at the parameter's first step: m_0 = v_0 = 0
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        step = int(state["step"]) + 1
        state["step"] = step
        m, v = state["exp_avg"], state["exp_avg_sq"]

        g = -grad if group["maximize"] else grad
        if weight_decay != 0.0:
            g = g + weight_decay * p.data  # a new array: p.grad is never modified

        # m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2   (in place)
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)

        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            np.maximum(v_max, v, out=v_max)
            v = v_max

        # bias corrections as Python floats, so the arrays stay in the parameter's dtype
        step_size = lr / (1.0 - beta1 ** step)
        bias_correction2_sqrt = math.sqrt(1.0 - beta2 ** step)
        denom = np.sqrt(v)
        denom /= bias_correction2_sqrt
        denom += eps
        update = m / denom
        update *= step_size
        p.data -= update
