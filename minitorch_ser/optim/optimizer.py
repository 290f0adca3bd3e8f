"""`Optimizer`: the base class that holds parameter groups and per-parameter state.

An optimizer is built from the parameters it updates, either a flat iterable of tensors or a
list of *parameter groups* (dicts with a ``"params"`` entry and settings that override the
defaults), exactly as in ``torch.optim``::

    opt = Adam(model.parameters(), lr=1e-3)
    opt = SGD([{"params": body.parameters()},
               {"params": head.parameters(), "lr": 1e-2}], lr=1e-3, momentum=0.9)

``opt.param_groups`` is a list of dicts, each holding its ``"params"`` and every setting
(``"lr"``, ``"betas"``, ...). Learning-rate schedulers and users change ``group["lr"]`` in place,
and the next ``step()`` uses the new value.

``opt.state`` maps each parameter (by identity) to a dict of whatever the algorithm remembers
between steps: SGD's ``"momentum_buffer"``, Adam's ``"step"``, ``"exp_avg"``, ``"exp_avg_sq"``.

``state_dict()`` follows PyTorch's layout, with parameters replaced by their position in the
groups (0, 1, 2, ... in group order), so a checkpoint does not depend on object identity::

    {"state": {0: {"step": 3, "exp_avg": ndarray, "exp_avg_sq": ndarray}, 1: {...}},
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}

Loading it into a new optimizer built over the same parameters (in the same order) restores the
state and the settings exactly, so training resumes bit for bit.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod

import numpy as np

from ..autograd.tensor import Tensor, enable_grad


class Optimizer(ABC):
    """Base class of optimizers: parameter groups, per-parameter state, state_dict.

    ``step`` visits every parameter that has a gradient and hands it to ``_update``, the one
    method a subclass implements (the algorithm for one whole parameter array, in place).
    Subclasses pass their defaults to ``__init__`` and validate settings in ``_check_group``.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The tensors to optimize, or parameter groups: dicts with a ``"params"`` entry (a Tensor
        or an iterable of Tensors) and optional settings overriding ``defaults``.
    defaults : dict
        Default settings (``"lr"`` and the algorithm's hyper-parameters) for every group.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group with ``"params"`` (list of Tensor) and every setting.
    state : dict
        ``{parameter: {name: value}}``, filled lazily by ``step``. Keyed by the parameter
        tensors themselves, which hash (and are looked up) by identity.
    defaults : dict
        The default settings.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict] = {}
        self.param_groups: list[dict] = []
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                "params must be an iterable of Tensors or of dicts (parameter groups), got a "
                f"single {type(params).__name__}; wrap it in a list")
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("params is an empty parameter list: the optimizer needs at least "
                             "one parameter")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Append a parameter group; missing settings are filled from ``defaults``.

        Parameters
        ----------
        param_group : dict
            ``{"params": Tensor or iterable of Tensor, setting: value, ...}``.

        Raises
        ------
        TypeError
            If the group is not a dict, or holds something other than Tensors.
        ValueError
            If a parameter is repeated (within the group or across groups), is not a
            floating-point leaf tensor, or a setting violates its constraint.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("a parameter group's 'params' must be an ordered iterable (list, "
                            "tuple, generator), not a set: its order fixes the state_dict indices")
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizers can only optimize Tensors, got {type(p).__name__}")
            if not np.issubdtype(p.dtype, np.floating):
                raise ValueError(f"optimizers can only optimize floating-point tensors, got a "
                                 f"tensor of dtype {p.dtype}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (the output of an op); "
                                 "optimize the leaf parameters it was computed from")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")

        group = {k: v for k, v in param_group.items() if k != "params"}
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_group(group)
        group["params"] = params
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Raise ValueError if a setting of ``group`` violates its constraint (subclasses)."""

    # ------------------------------------------------------------------ the update
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter.

        Parameters
        ----------
        set_to_none : bool
            Set ``p.grad = None`` (frees memory; ``step`` then skips ``p`` until a backward
            gives it a gradient again) instead of filling it with zeros in place.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad[...] = 0

    @abstractmethod
    def _update(self, p: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        """Update ``p.data`` in place from ``grad`` with the settings of ``group``.

        The one method a subclass implements: the algorithm for one whole parameter array.

        Parameters
        ----------
        p : Tensor (*S)
            The parameter; its ``data`` is updated in place.
        grad : ndarray (*S)
            Its gradient, in the parameter's dtype; must not be modified (it may be ``p.grad``).
        state : dict
            The parameter's state (empty on its first step), updated in place.
        group : dict
            The settings of the parameter's group (``"lr"``, the hyper-parameters).
        """

    def step(self, closure=None):
        """Update every parameter that has a gradient, once.

        Parameters whose ``grad`` is None are skipped (their state is left untouched).

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (called with gradients enabled before
            the update, as in torch.optim).

        Returns
        -------
        object or None
            The closure's return value (the loss), or None without a closure.

        Raises
        ------
        ValueError
            If a gradient's shape differs from its parameter's.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.shape != p.data.shape:
                    raise ValueError(f"gradient of shape {grad.shape} does not match its "
                                     f"parameter's shape {p.data.shape}")
                if grad.dtype != p.data.dtype:
                    grad = grad.astype(p.data.dtype)
                self._update(p, grad, self.state.setdefault(p, {}), group)
        return loss

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """The optimizer's state and settings, with parameters replaced by indices.

        Returns
        -------
        dict
            ``{"state": {index: {name: value}}, "param_groups": [{setting: value, ...,
            "params": [index, ...]}]}``. Arrays are copies: later steps do not change it.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the state and settings saved by ``state_dict``.

        The optimizer must have been built over the same parameters, in the same groups and
        order. State arrays are copied and cast to their parameter's dtype.

        Parameters
        ----------
        state_dict : dict
            ``{"state": {index: {name: value}}, "param_groups": [...]}`` as ``state_dict()``
            returned it (possibly read back from a checkpoint).

        Raises
        ------
        ValueError
            If the group count, a group's size, a state index or a state array's shape does not
            match (every mismatch is listed).
        """
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        if missing:
            raise ValueError(f"optimizer state_dict is missing entries: {', '.join(missing)}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(saved_groups)} parameter group(s), the "
                             f"optimizer has {len(self.param_groups)}")
        sizes = [(i, len(s["params"]), len(g["params"]))
                 for i, (s, g) in enumerate(zip(saved_groups, self.param_groups))
                 if len(s["params"]) != len(g["params"])]
        if sizes:
            raise ValueError("parameter group sizes differ: " + "; ".join(
                f"group {i} has {n_saved} in the state_dict, {n_now} in the optimizer"
                for i, n_saved, n_now in sizes))

        by_index = {idx: p for s, g in zip(saved_groups, self.param_groups)
                    for idx, p in zip(s["params"], g["params"])}
        problems, new_state = [], {}
        for idx, entries in state_dict["state"].items():
            if idx not in by_index:
                problems.append(f"state for parameter index {idx}, which no group lists")
                continue
            p = by_index[idx]
            restored = {}
            for name, value in entries.items():
                if isinstance(value, np.ndarray) and value.ndim > 0:
                    if value.shape != p.data.shape:
                        problems.append(f"state[{idx}][{name!r}]: expected shape "
                                        f"{p.data.shape}, got {value.shape}")
                        continue
                    if np.issubdtype(value.dtype, np.floating):
                        value = value.astype(p.data.dtype)  # astype copies
                    else:
                        value = value.copy()
                else:
                    value = _copy_value(value)
                restored[name] = value
            new_state[p] = restored
        if problems:
            raise ValueError("load_state_dict into " + type(self).__name__ + " failed: "
                             + "; ".join(problems))

        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            settings = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            self._check_group(settings)
            settings["params"] = group["params"]
            new_groups.append(settings)
        self.param_groups = new_groups
        self.state = new_state

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _copy_value(value):
    """A copy of a state entry: arrays are copied, immutable scalars returned as they are."""
    if isinstance(value, np.ndarray):
        return value.copy()
    return copy.deepcopy(value)
