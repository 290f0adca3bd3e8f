"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from .optimizer import Optimizer


class SGD(Optimizer):
    r"""Stochastic gradient descent, with the update of ``torch.optim.SGD``.

    For each parameter :math:`\theta` with gradient :math:`g_t` at step :math:`t`
    (PyTorch's documented algorithm; the momentum form is Sutskever et al., 2013)::

        g_t <- g_t + weight_decay * theta_{t-1}              if weight_decay != 0
        if momentum != 0:
            b_t <- g_t                                       at the first step (t = 1)
            b_t <- momentum * b_{t-1} + (1 - dampening) * g_t    afterwards
            g_t <- g_t + momentum * b_t                      if nesterov
            g_t <- b_t                                       otherwise
        theta_t <- theta_{t-1} - lr * g_t                    (+ lr * g_t if maximize)

    With ``maximize`` the gradient is negated before everything else. The buffer :math:`b` is
    kept in ``state[p]["momentum_buffer"]`` (only when ``momentum != 0``). Every array operation
    runs on whole parameter arrays, in place on ``p.data`` and in the parameter's dtype.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters, or parameter groups (see ``Optimizer``).
    lr : float >= 0
        Learning rate :math:`\gamma`.
    momentum : float >= 0
        Momentum factor :math:`\mu`.
    dampening : float
        Dampening :math:`\tau` of the momentum: new gradients enter the buffer with weight
        :math:`1 - \tau`.
    weight_decay : float >= 0
        L2 penalty :math:`\lambda` added to the gradient as :math:`\lambda \theta`.
    nesterov : bool
        Nesterov momentum; requires ``momentum > 0`` and ``dampening == 0``.
    maximize : bool
        Maximize the objective (ascend the gradient) instead of minimizing it.

    Examples
    --------
    >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)  # doctest: +SKIP
    >>> loss.backward(); opt.step(); opt.zero_grad()                        # doctest: +SKIP
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        if not group["lr"] >= 0.0:
            raise ValueError(f"lr={group['lr']} must be >= 0")
        if not group["momentum"] >= 0.0:
            raise ValueError(f"momentum={group['momentum']} must be >= 0")
        if not group["weight_decay"] >= 0.0:
            raise ValueError(f"weight_decay={group['weight_decay']} must be >= 0")
        if group["nesterov"] and (group["momentum"] <= 0.0 or group["dampening"] != 0.0):
            raise ValueError(
                f"nesterov=True requires momentum > 0 and dampening == 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = float(group["weight_decay"])

        d_p = -grad if group["maximize"] else grad
        if weight_decay != 0.0:
            d_p = d_p + weight_decay * p.data  # a new array: p.grad is never modified
        if momentum != 0.0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # first step: the buffer starts as the (decayed) gradient itself
                buf = np.array(d_p, copy=True)
                state["momentum_buffer"] = buf
            else:
                # b <- mu * b + (1 - tau) * g, in place
                buf *= momentum
                buf += (1.0 - dampening) * d_p
            if group["nesterov"]:
                d_p = d_p + momentum * buf
            else:
                d_p = buf
        # theta <- theta - lr * g, in place in the parameter's dtype
        p.data -= lr * d_p
