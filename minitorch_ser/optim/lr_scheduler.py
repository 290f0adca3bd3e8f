"""Learning-rate schedulers: they set ``group["lr"]`` of an optimizer's parameter groups.

- ``ReduceLROnPlateau``: divide the lr when a monitored metric stops improving (torch's exact
  rules for patience, threshold, cooldown and min_lr); ``step(metric)`` once per epoch.
- ``ExponentialDecay``: ``lr = initial * decay_rate ** (step / decay_steps)`` with Keras'
  semantics; ``step()`` once per batch, after ``optimizer.step()``.
- ``StepLR`` and ``ExponentialLR``: torch's epoch schedules, multiplying the lr by ``gamma``
  every ``step_size`` epochs or every epoch.

Every scheduler has ``get_last_lr()`` (the lr of each group after the last step) and
``state_dict()`` / ``load_state_dict()``, so a checkpoint restores it exactly.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod

from ..autograd.tensor import as_array
from .optimizer import Optimizer


class _Scheduler:
    """What every scheduler shares: the optimizer, ``get_last_lr`` and the state dict."""

    optimizer: Optimizer
    _last_lr: list

    def get_last_lr(self) -> list:
        """The learning rate of each parameter group after the last ``step``."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (lists copied), as torch's schedulers do."""
        return {k: (list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore attributes saved by ``state_dict``.

        ``ReduceLROnPlateau`` restores only itself: the current lr lives in the optimizer's
        param groups, so load the optimizer's state_dict too (as with torch). ``LRScheduler``
        subclasses also write their last lr back into the groups.

        Parameters
        ----------
        state_dict : dict
            Attribute name -> value, as ``state_dict()`` returned it.

        Raises
        ------
        ValueError
            If keys are missing or unexpected for this scheduler (all are listed), or a loaded
            setting violates its constraint (the scheduler is then left unchanged).
        """
        previous = self.state_dict()
        missing = sorted(set(previous) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(previous))
        if missing or unexpected:
            raise ValueError(f"load_state_dict into {type(self).__name__} failed: missing keys "
                             f"{missing}, unexpected keys {unexpected}")
        for k, v in state_dict.items():
            setattr(self, k, list(v) if isinstance(v, list) else v)
        try:
            self._check_settings()
        except ValueError:
            for k, v in previous.items():
                setattr(self, k, v)
            raise

    def _check_settings(self) -> None:
        """Raise ValueError if a setting violates its constraint (subclasses)."""

    def _groups_values(self, name: str, value) -> list:
        """A scalar broadcast to every param group, or a sequence with one value per group."""
        n = len(self.optimizer.param_groups)
        if isinstance(value, (list, tuple)):
            if len(value) != n:
                raise ValueError(f"{name} has {len(value)} values, but the optimizer has {n} "
                                 "parameter group(s): give one value per group or a scalar")
            return [float(v) for v in value]
        return [float(value)] * n


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


class LRScheduler(_Scheduler, ABC):
    """Base of schedulers stepped without a metric (torch's ``LRScheduler``).

    On construction each group remembers its starting lr in ``group["initial_lr"]``
    (``base_lrs``), and the scheduler takes its first step, so that ``last_epoch`` is 0 and
    the lr is the schedule's value at step 0. Each ``step()`` then increments ``last_epoch``
    and writes ``get_lr()`` into the groups.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose groups' ``"lr"`` is scheduled.
    """

    def __init__(self, optimizer: Optimizer):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._check_settings()
        self.step()

    @abstractmethod
    def get_lr(self) -> list:
        """The lr of each group at step ``last_epoch``."""

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the scheduler, and set each group's lr to its value after the saved step.

        Unlike torch, the groups' lr is written back too: it is a function of the scheduler's
        state, and a scheduler built anew (``ExponentialDecay`` resets the lr to its step-0
        value) must not leave a stale lr whichever of optimizer and scheduler is loaded first.

        Parameters
        ----------
        state_dict : dict
            Attribute name -> value, as ``state_dict()`` returned it.

        Raises
        ------
        ValueError
            If it holds one learning rate per group for a different number of groups, or as
            ``_Scheduler.load_state_dict``.
        """
        n_groups = len(self.optimizer.param_groups)
        if "_last_lr" in state_dict and len(state_dict["_last_lr"]) != n_groups:
            raise ValueError(f"the scheduler state has {len(state_dict['_last_lr'])} learning "
                             f"rate(s), the optimizer has {n_groups} parameter group(s)")
        super().load_state_dict(state_dict)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def step(self) -> None:
        """Advance the schedule by one step and set every group's lr."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply each group's lr by ``gamma`` every ``step_size`` epochs (torch's ``StepLR``).

    ``lr_e = lr_{e-1} * gamma`` when ``e > 0`` and ``e % step_size == 0``, else
    ``lr_e = lr_{e-1}``; so ``lr_e = initial_lr * gamma ** (e // step_size)`` up to rounding.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose groups' ``"lr"`` is scheduled.
    step_size : int >= 1
        Period of the decay, in epochs (calls of ``step``).
    gamma : float > 0
        Multiplicative factor.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)

    def _check_settings(self) -> None:
        if not _is_int(self.step_size) or self.step_size < 1:
            raise ValueError(f"step_size={self.step_size!r} must be an int >= 1")
        if not self.gamma > 0.0:
            raise ValueError(f"gamma={self.gamma} must be > 0")

    def get_lr(self) -> list:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class ExponentialLR(LRScheduler):
    """Multiply each group's lr by ``gamma`` every epoch (torch's ``ExponentialLR``).

    ``lr_e = lr_{e-1} * gamma`` for ``e > 0``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose groups' ``"lr"`` is scheduled.
    gamma : float > 0
        Multiplicative factor per epoch.
    """

    def __init__(self, optimizer: Optimizer, gamma: float):
        self.gamma = gamma
        super().__init__(optimizer)

    def _check_settings(self) -> None:
        if not self.gamma > 0.0:
            raise ValueError(f"gamma={self.gamma} must be > 0")

    def get_lr(self) -> list:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class ExponentialDecay(LRScheduler):
    r"""Decay the lr exponentially per training step (Keras' ``ExponentialDecay``).

    With the semantics of ``keras.optimizers.schedules.ExponentialDecay``, at step :math:`s`
    (the number of ``step()`` calls so far, i.e. of batches trained)::

        lr(s) = initial_learning_rate * decay_rate ** (s / decay_steps)
        lr(s) = initial_learning_rate * decay_rate ** floor(s / decay_steps)    if staircase

    The lr is set to ``lr(0) = initial_learning_rate`` on construction; call ``step()`` once
    per batch, after ``optimizer.step()``, so that the :math:`k`-th update (from 0) uses
    ``lr(k)``, as a Keras optimizer does with its iteration counter. The lr is computed in
    closed form from the step count (no accumulated rounding), and ``last_epoch`` holds
    :math:`s`.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose groups' ``"lr"`` is set.
    initial_learning_rate : float >= 0, or sequence of them (one per group)
        The lr at step 0.
    decay_steps : float > 0
        Number of steps over which the lr is multiplied by ``decay_rate``.
    decay_rate : float > 0
        Decay factor per ``decay_steps`` steps.
    staircase : bool
        Decay in discrete jumps every ``decay_steps`` steps (integer exponent).
    """

    def __init__(self, optimizer: Optimizer, initial_learning_rate, decay_steps: float,
                 decay_rate: float, staircase: bool = False):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.initial_learning_rates = self._groups_values("initial_learning_rate",
                                                          initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = bool(staircase)
        self._check_settings()
        for group, lr in zip(optimizer.param_groups, self.initial_learning_rates):
            group["lr"] = lr
            group["initial_lr"] = lr
        super().__init__(optimizer)

    def _check_settings(self) -> None:
        if len(self.initial_learning_rates) != len(self.optimizer.param_groups):
            raise ValueError(f"initial_learning_rate has {len(self.initial_learning_rates)} "
                             f"values, but the optimizer has {len(self.optimizer.param_groups)} "
                             "parameter group(s)")
        for lr in self.initial_learning_rates:
            if not lr >= 0.0:
                raise ValueError(f"initial_learning_rate={lr} must be >= 0")
        if not self.decay_steps > 0:
            raise ValueError(f"decay_steps={self.decay_steps} must be > 0")
        if not self.decay_rate > 0:
            raise ValueError(f"decay_rate={self.decay_rate} must be > 0")

    def get_lr(self) -> list:
        exponent = self.last_epoch / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return [lr0 * self.decay_rate ** exponent for lr0 in self.initial_learning_rates]


class ReduceLROnPlateau(_Scheduler):
    r"""Reduce the lr when a metric has stopped improving, with torch's exact rules.

    Each ``step(metric)`` (once per epoch, typically with the validation loss) does, in order:

    1. ``metric`` is *better* than ``best`` if (mode, threshold_mode) is
       (min, rel): ``metric < best * (1 - threshold)``;
       (min, abs): ``metric < best - threshold``;
       (max, rel): ``metric > best * (1 + threshold)``;
       (max, abs): ``metric > best + threshold``.
       If better, ``best = metric`` and ``num_bad_epochs = 0``, else ``num_bad_epochs += 1``.
       ``best`` starts at +inf (min) or -inf (max), so the first metric is always better;
       a nan metric is never better.
    2. During cooldown (``cooldown_counter > 0``) the counter decreases by one and
       ``num_bad_epochs`` is reset to 0: bad epochs do not count.
    3. If ``num_bad_epochs > patience``: each group's lr becomes
       ``new = max(old * factor, min_lr)``, applied only if ``old - new > eps``; then
       ``cooldown_counter = cooldown`` and ``num_bad_epochs = 0``.

    With ``patience=0`` the lr drops at every epoch that is not better than the best so far
    (outside cooldown).

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose groups' ``"lr"`` is reduced.
    mode : {"min", "max"}
        Whether the metric should decrease (a loss) or increase (an accuracy).
    factor : float in [0, 1)
        ``new_lr = lr * factor``.
    patience : int >= 0
        Number of consecutive epochs without improvement tolerated: the lr is reduced at the
        ``patience + 1``-th.
    threshold : float >= 0
        Minimum change counted as an improvement (relative or absolute).
    threshold_mode : {"rel", "abs"}
        Whether ``threshold`` is relative to ``best`` or absolute.
    cooldown : int >= 0
        Number of epochs after a reduction during which bad epochs are not counted.
    min_lr : float >= 0, or sequence of them (one per group)
        Lower bound of the lr.
    eps : float >= 0
        Reductions smaller than ``eps`` are skipped.

    Attributes
    ----------
    best : float
        Best metric seen so far.
    num_bad_epochs : int
        Consecutive epochs without improvement (outside cooldown).
    cooldown_counter : int
        Epochs of cooldown left.
    last_epoch : int
        Number of ``step`` calls.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr=0.0, eps: float = 1e-8):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.min_lrs = self._groups_values("min_lr", min_lr)
        # a scalar min_lr also applies to groups added later (None: one value per group given)
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else float(min_lr)
        self.eps = eps
        self._check_settings()
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _check_settings(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode={self.mode!r} is unknown: must be 'min' or 'max'")
        if self.threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode={self.threshold_mode!r} is unknown: must be "
                             "'rel' or 'abs'")
        if not 0.0 <= self.factor < 1.0:
            raise ValueError(f"factor={self.factor} must be in [0, 1) (it multiplies the lr)")
        for name in ("patience", "cooldown"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"{name}={value!r} must be an int >= 0")
        if not self.threshold >= 0.0:
            raise ValueError(f"threshold={self.threshold} must be >= 0")
        for lr in self.min_lrs:
            if not lr >= 0.0:
                raise ValueError(f"min_lr={lr} must be >= 0")
        if not self.eps >= 0.0:
            raise ValueError(f"eps={self.eps} must be >= 0")

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric ``a`` improves on ``best`` by more than the threshold.

        Parameters
        ----------
        a : float
            The new metric (nan is never better).
        best : float
            The best metric so far (+-inf before the first step).

        Returns
        -------
        bool
            The rule of (``mode``, ``threshold_mode``) in the class docstring, step 1.
        """
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (1.0 + self.threshold)
        return a > best + self.threshold

    def step(self, metrics) -> None:
        """Record one epoch's metric and reduce the lr if it has plateaued.

        Parameters
        ----------
        metrics : float, or a one-element Tensor / ndarray
            The monitored quantity for this epoch.

        Raises
        ------
        ValueError
            If ``metrics`` has more than one element.
        """
        value = as_array(metrics)
        if value.size != 1:
            raise ValueError(f"metrics must be one number, got an array of shape {value.shape}")
        current = float(value.item())
        self.last_epoch += 1

        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1

        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown are ignored

        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        n_groups = len(self.optimizer.param_groups)
        if len(self.min_lrs) != n_groups:
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"the optimizer has {n_groups} parameter group(s) but min_lrs has "
                    f"{len(self.min_lrs)} values (was a group added after the scheduler was "
                    "built?); set scheduler.min_lrs to one value per group")
            self.min_lrs = [self.default_min_lr] * n_groups
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr
