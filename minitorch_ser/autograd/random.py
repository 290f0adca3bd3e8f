"""The library's default random generator, so that one ``manual_seed`` makes a run repeatable.

Layers draw their initial weights, and ``nn.Dropout`` its masks, from ``default_generator()``
unless given a ``numpy.random.Generator`` of their own (``torch.manual_seed``'s role).
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed the default generator and return it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when a layer or init function is given no ``rng``."""
    return _generator


def get_state() -> dict:
    """The default generator's state (for checkpoints)."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    """Restore a state returned by ``get_state``."""
    _generator.bit_generator.state = state
