"""Optimizers, gradient clipping and learning-rate schedulers, shaped like ``torch.optim``.

- ``optimizer.py``: ``Optimizer``, the base class (parameter groups, per-parameter state,
  ``zero_grad``, ``state_dict`` / ``load_state_dict``);
- ``sgd.py``: ``SGD`` (momentum, dampening, Nesterov, weight decay);
- ``adam.py``: ``Adam`` (bias-corrected moments, L2 weight decay, AMSGrad);
- ``clip.py``: ``clip_grad_norm_`` and ``clip_grad_value_``;
- ``lr_scheduler.py``: ``ReduceLROnPlateau``, ``ExponentialDecay``, ``StepLR``, ``ExponentialLR``;
- ``swa_utils.py``: ``AveragedModel``, an exponential moving average of a model's weights.

A training step reads as in PyTorch::

    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=3)
    for epoch in range(n_epochs):
        for x, y in batches:
            loss = cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            optim.clip_grad_norm_(model.parameters(), max_norm=5.0)
            opt.step()
        sched.step(validation_loss)
"""

from . import lr_scheduler
from .adam import Adam
from .clip import clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer
from .sgd import SGD
from .swa_utils import AveragedModel

__all__ = ["Optimizer", "SGD", "Adam", "clip_grad_norm_", "clip_grad_value_", "lr_scheduler",
           "AveragedModel"]
