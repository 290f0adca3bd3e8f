"""Mini-batches over arrays (the role of ``torch.utils.data.DataLoader``).

Each pass over a ``DataLoader`` is one epoch: with ``shuffle`` a fresh permutation of the
samples is drawn from the loader's own generator at the start of the epoch, then consecutive
slices of ``batch_size`` positions are gathered. Every sample appears exactly once per epoch;
the last, smaller batch is kept unless ``drop_last``.

``X`` may also live on disk: any object with ``shape``, ``len`` and ``X[index_array]``
returning the rows as an ndarray (``data.store.FeatureStore``,
``data.normalized.NormalizedRows``) is indexed batch by batch like an array, so only the
batch is in memory.

The generator's state is part of ``state_dict()``, so a run resumed from a checkpoint taken
between epochs draws the same permutations as a run that never stopped.
"""

from __future__ import annotations

import numpy as np

from ..autograd.random import as_rng
from .store import as_rows


class DataLoader:
    """Iterate over ``(xb, yb)`` mini-batches of ``(X, y)``.

    Parameters
    ----------
    X : (N, ...) ndarray, or rows read on demand
        Inputs, first axis the samples: an array (lists are converted), or an object with
        ``shape``, ``__len__`` and ``__getitem__(index_array) -> ndarray`` (features on disk).
    y : (N, ...) ndarray
        Targets, aligned with ``X``.
    batch_size : int > 0
        Samples per batch (the last batch may be smaller).
    shuffle : bool
        Draw a new order every epoch (otherwise ``0 .. N-1``).
    rng : numpy.random.Generator or int or None
        The loader's generator (``as_rng``: an int seeds a new one). Pass an int or a Generator
        of its own for resumable runs; ``None`` shares the library's default generator.
    drop_last : bool
        Drop a last batch smaller than ``batch_size``.
    seed : int, optional
        Same as ``rng=seed`` (give one of the two).

    Yields
    ------
    xb : (B, ...) ndarray
    yb : (B, ...) ndarray
        ``B = batch_size`` except possibly for the last batch.

    Examples
    --------
    >>> loader = DataLoader(X, y, batch_size=32, shuffle=True, rng=0)
    >>> for epoch in range(3):
    ...     for xb, yb in loader:
    ...         ...
    """

    def __init__(self, X, y, batch_size: int = 32, shuffle: bool = True, rng=None,
                 drop_last: bool = False, seed: int | None = None):
        X, y = as_rows(X), np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}: they must match")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be a positive integer")
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        if seed is not None and rng is not None:
            raise ValueError("give rng or seed, not both")
        self.rng = as_rng(rng if seed is None else int(seed))
        self.epoch = 0

    def __len__(self) -> int:
        """Batches per epoch: ``ceil(N / B)``, or ``floor(N / B)`` with ``drop_last``."""
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        n = len(self.X)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        self.epoch += 1
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.X[idx], self.y[idx]

    def state_dict(self) -> dict:
        """The generator's state and the number of epochs started (for checkpoints)."""
        return {"rng": self.rng.bit_generator.state, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state from ``state_dict`` (taken between epochs)."""
        self.rng.bit_generator.state = state["rng"]
        self.epoch = int(state["epoch"])

    # the same two, under the names of ``minitorch_ser.autograd.random.get_state`` / ``set_state``
    get_state = state_dict
    set_state = load_state_dict
