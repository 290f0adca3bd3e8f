"""Features normalized batch by batch as they are read: the large-corpus form of normalization.

In memory, ``app.experiment.prepare`` normalizes whole arrays once (``features.Standardizer``,
``normalize_utterances``, ``normalize_speakers``). When the features stay on disk
(``data.store.FeatureStore``), ``NormalizedRows`` wraps them instead and applies the same
arithmetic to each batch it is asked for, so a batch is bit for bit the rows of the
in-memory result:

- ``"global"``: ``x_hat = (x - mean) / std`` with a fitted ``Standardizer`` (fitted on the
  training store by streaming over chunks: ``Standardizer.fit`` reads ``X[i:i + chunk]``);
- ``"utterance"``: ``normalize_utterances`` of the batch (every clip by its own statistics,
  which depend on no other clip);
- ``"speaker"``: ``x_hat = (x - mean_s) / std_s`` with the statistics of the row's speaker
  ``s``, computed when the wrapper is made by one streaming ``Standardizer`` fit per speaker
  over that speaker's rows (two passes over them, a chunk at a time);
- ``None``: the rows as they are.

Only the statistics live in memory: ``(S, C, F, 1)`` means and standard deviations for S
speakers, or one ``(1, C, F, 1)`` pair.
"""

from __future__ import annotations

import numpy as np

from .features import NORMALIZATIONS, Standardizer, normalize_utterances
from .store import Rows, as_rows, row_indices


class NormalizedRows:
    """Rows of ``source`` normalized on reading: ``wrapper[idx] -> (B, C, F, T)`` float32.

    Parameters
    ----------
    source : (N, C, F, T) ndarray, FeatureStore or Rows
        The features (F mel bins, T frames), read by rows.
    mode : {"global", "utterance", "speaker"} or None
        The normalization (module docstring); None: none.
    standardizer : Standardizer or None
        Fitted; required by ``"global"``.
    speakers : (N,) array-like or None
        Speaker of every row; required by ``"speaker"``.
    eps : float > 0
        Standard deviations below it count as 1 (``"utterance"``, ``"speaker"``).
    chunk : int > 0
        Rows per read while fitting the speakers' statistics.

    Attributes
    ----------
    shape : (N, C, F, T)
    dtype : float32
    mean_, std_ : (S, C, F, 1) float32 or None
        Per-speaker statistics (``"speaker"``), in the order of ``np.unique(speakers)``.
    speaker_index : (N,) int64 or None
        Row of ``mean_`` / ``std_`` of every row.

    Raises
    ------
    ValueError
        An unknown ``mode``; ``"global"`` without a fitted standardizer; ``"speaker"``
        without ``speakers`` of length N; ``source`` not 4-D.
    """

    def __init__(self, source, mode: str | None, standardizer: Standardizer | None = None,
                 speakers=None, eps: float = 1e-6, chunk: int = 256):
        if mode is not None and mode not in NORMALIZATIONS:
            raise ValueError(f"mode={mode!r} must be one of {NORMALIZATIONS} or None")
        self.source = as_rows(source)
        if len(self.source.shape) != 4:
            raise ValueError(f"features must be (N, C, F, T), got shape {self.source.shape}")
        if mode == "global" and (standardizer is None or standardizer.mean_ is None):
            raise ValueError("mode='global' needs a fitted Standardizer (standardizer=)")
        self.mode, self.standardizer, self.eps = mode, standardizer, eps
        self.shape, self.dtype = tuple(self.source.shape), np.dtype(np.float32)
        self.mean_ = self.std_ = self.speaker_index = None
        if mode == "speaker":
            self._fit_speakers(speakers, chunk)

    def _fit_speakers(self, speakers, chunk: int) -> None:
        """One streaming ``Standardizer`` fit per speaker (as ``normalize_speakers``)."""
        if speakers is None:
            raise ValueError("mode='speaker' needs the speaker of every row (speakers=)")
        speakers = np.asarray(speakers)
        if speakers.shape != (len(self),):
            raise ValueError(f"speakers must be (N,) = ({len(self)},), got shape "
                             f"{speakers.shape}")
        names, self.speaker_index = np.unique(speakers, return_inverse=True)
        self.speaker_index = self.speaker_index.reshape(-1).astype(np.int64)
        fits = [Standardizer(eps=self.eps).fit(
                    Rows(self.source, np.flatnonzero(self.speaker_index == k)), chunk)
                for k in range(len(names))]
        self.mean_ = np.concatenate([s.mean_ for s in fits])      # (S, C, F, 1)
        self.std_ = np.concatenate([s.std_ for s in fits])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        """Normalized rows: an int gives ``(C, F, T)``, a slice or ``(B,)`` indices
        ``(B, C, F, T)``, float32, a new array.

        Raises
        ------
        IndexError
            An index out of range (``data.store.row_indices``).
        """
        if isinstance(key, (int, np.integer)):
            return self[np.array([key])][0]
        idx = row_indices(key, len(self), "NormalizedRows")
        # a new array (fancy indexing copies), normalized in place
        x = np.asarray(self.source[idx], dtype=np.float32)           # (B, C, F, T)
        if self.mode == "global":
            return self.standardizer.transform(x, copy=False)
        if self.mode == "utterance":
            return normalize_utterances(x, self.eps)
        if self.mode == "speaker":
            k = self.speaker_index[idx]
            x -= self.mean_[k]                                        # (B, C, F, 1)
            x /= self.std_[k]
        return x

    def load(self) -> np.ndarray:
        """Every row, normalized, in memory ``(N, C, F, T)``."""
        return self[:]

    def __array__(self, dtype=None, copy=None):
        X = self.load()
        return X if dtype is None else X.astype(dtype, copy=False)
