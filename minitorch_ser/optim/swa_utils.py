"""Weight averaging: an exponential moving average (EMA) of a model's weights, shaped like
``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn(decay)`` and
``use_buffers=True``.

After every optimizer step the average moves a share ``1 - d`` of the way towards the
current weights::

    avg_0 = w_1                                  (the first update copies)
    avg_n = d_n * avg_{n-1} + (1 - d_n) * w_n,   n >= 1 counts the earlier updates
    d_n   = min(decay, (1 + n) / (10 + n))       with warmup (TensorFlow's
                                                 ExponentialMovingAverage ``num_updates``)
    d_n   = decay                                without it (PyTorch's EMA)

so the average forgets with a half-life of ``ln 2 / -ln(decay)`` steps (69 for 0.99). The
warm-up lets a short run's average leave its first weights behind: after 100 updates
``d = 0.92`` whatever ``decay`` is. Floating-point buffers (BatchNorm's running mean and
variance) are averaged the same way; integer buffers (``num_batches_tracked``) are copied.

The averaged weights are evaluated (``AveragedModel`` is a ``Module`` whose forward is the
averaged copy's); training updates only the original model. Weight averaging smooths the
epoch-to-epoch swings of a model trained on few speakers (Polyak and Juditsky 1992;
Izmailov et al. 2018, "Averaging weights leads to wider optima and better generalization").
"""

from __future__ import annotations

import copy

import numpy as np

from ..nn.module import Module


class AveragedModel(Module):
    """An exponential moving average of ``model``'s parameters and floating-point buffers.

    Parameters
    ----------
    model : Module
        The model being trained; copied (``copy.deepcopy``) into ``module``, the averaged
        model.
    decay : float in [0, 1)
        ``d`` of the module docstring's equation, per ``update_parameters`` call.
    warmup : bool
        ``d_n = min(decay, (1 + n) / (10 + n))`` (True) or ``d_n = decay`` (False).

    Attributes
    ----------
    module : Module
        The averaged copy; evaluate it (``averaged(x)`` is ``averaged.module(x)``), save its
        ``state_dict()``.
    n_averaged : int
        Updates so far (0: ``module`` still holds ``model``'s weights at construction).

    Raises
    ------
    ValueError
        ``decay`` outside [0, 1).
    """

    def __init__(self, model: Module, decay: float = 0.999, warmup: bool = True):
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay={decay} must be in [0, 1)")
        self.module = copy.deepcopy(model)
        self.decay, self.warmup = float(decay), bool(warmup)
        self.n_averaged = 0

    def forward(self, *args, **kwargs):
        """The averaged model's output for the same inputs as ``model``."""
        return self.module(*args, **kwargs)

    def current_decay(self) -> float:
        """``d_n`` for the next update (``n = n_averaged``; the first update copies)."""
        n = self.n_averaged
        return min(self.decay, (1.0 + n) / (10.0 + n)) if self.warmup else self.decay

    def update_parameters(self, model: Module) -> None:
        """Move the average towards ``model``'s current weights (call after each
        ``optimizer.step()``).

        Raises
        ------
        ValueError
            ``model``'s parameter or buffer names or shapes differ from ``module``'s.
        """
        ours = dict(self.module.named_parameters())
        theirs = dict(model.named_parameters())
        if ours.keys() != theirs.keys():
            raise ValueError("update_parameters: model's parameter names differ from the "
                             "averaged module's")
        first, d = self.n_averaged == 0, self.current_decay()
        for name, p in ours.items():
            _blend(p.data, theirs[name].data, d, first, name)
        current = dict(model.named_buffers())
        for mname, mod in self.module.named_modules():
            for bname, b in list(mod._buffers.items()):
                name = f"{mname}.{bname}" if mname else bname
                if b is None:
                    continue
                if name not in current:
                    raise ValueError(f"update_parameters: the model has no buffer {name}")
                if np.issubdtype(b.dtype, np.floating):
                    _blend(b, current[name], d, first, name)
                else:
                    mod._buffers[bname] = np.array(current[name], dtype=b.dtype, copy=True)
        self.n_averaged += 1


def _blend(avg: np.ndarray, new: np.ndarray, d: float, first: bool, name: str) -> None:
    """``avg <- d * avg + (1 - d) * new`` in place (``avg <- new`` for the first update)."""
    if avg.shape != new.shape:
        raise ValueError(f"update_parameters: {name} has shape {new.shape} in the model, "
                         f"{avg.shape} in the average")
    if first:
        np.copyto(avg, new, casting="unsafe")
    else:
        avg += (1.0 - d) * (new - avg)       # = d * avg + (1 - d) * new, one temporary

