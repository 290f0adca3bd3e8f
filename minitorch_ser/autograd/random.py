"""The library's default random generator, so that one ``manual_seed`` makes a run repeatable.

Layers draw their initial weights, and ``nn.Dropout`` its masks, from ``default_generator()``
unless given a ``numpy.random.Generator`` of their own (``torch.manual_seed``'s role).
``as_rng`` turns the ``rng`` argument that data splits, loaders and augmentations accept (a
Generator, an int seed or None) into a Generator.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed the default generator and return it.

    Parameters
    ----------
    seed : int >= 0
        Seed of ``numpy.random.default_rng``.
    """
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when a layer or init function is given no ``rng``."""
    return _generator


def as_rng(rng=None) -> np.random.Generator:
    """A numpy Generator from ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator, int >= 0 or None
        A Generator is returned as it is (draws advance its state); ``None`` gives the
        library's seedable default (``default_generator()``); anything else seeds a new one
        through ``numpy.random.default_rng`` (an int, a sequence of ints, a ``SeedSequence``).

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError, ValueError
        From ``numpy.random.default_rng`` when ``rng`` cannot seed a generator (a float, a
        negative int, ...).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return default_generator()
    return np.random.default_rng(rng)


def get_state() -> dict:
    """The default generator's state (for checkpoints)."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    """Restore a state returned by ``get_state``.

    Parameters
    ----------
    state : dict
        ``default_generator().bit_generator.state`` as ``get_state`` returned it.
    """
    _generator.bit_generator.state = state
