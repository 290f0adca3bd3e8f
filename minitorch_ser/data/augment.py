"""Training-set augmentation with additive white Gaussian noise (AWGN), after the split.

The result the first paper builds on made its noisy copies *before* splitting, so copies of
one recording landed in training and in test, and the test score measured recognition of
near-duplicates. Here the leak is impossible by construction: ``build_training_set`` receives
the split and reads ``split["train"]`` only; validation and test features come from
``dataset_from_indices(split["val"] ...)``, which never augments. Every example carries
``source_index``, the metadata row of the clip it was made from, so a test can check that no
example in training comes from a validation or test clip.

AWGN at a signal-to-noise ratio ``SNR`` dB (``dsp.awgn``): for a clip ``x`` of ``L`` samples (the
fixed-length clip as the network sees it, padding included) and a draw ``e ~ N(0, 1)`` i.i.d.,

    P_x = (1/L) sum_n x[n]^2,   P_e = (1/L) sum_n e[n]^2,
    x_noisy = x + K e,          K = sqrt(P_x / P_e * 10^(-SNR / 10)),

so ``10 log10(P_x / mean((K e)^2)) = SNR`` exactly. Each copy draws its SNR uniformly in
``snr_range`` (15-30 dB by default). A silent clip (``P_x = 0``) gets no noise.
"""

from __future__ import annotations

import os

import numpy as np

import dsp

from .features import (DEFAULT_CACHE_DIR, Extracted, FeatureConfig, FeatureDataset, _Progress,
                       dataset_from_indices, load_waves, waves_to_features)
from .splits import as_rng, oversample as oversample_indices


def awgn_copies(waves, k: int = 2, snr_range=(15.0, 30.0), rng=None):
    """``k`` noisy copies of every clip, each at its own SNR drawn from ``U(snr_range)``.

    Parameters
    ----------
    waves : (N, L) float
        Clips (all of the training split, or a batch of it).
    k : int >= 0
        Copies per clip.
    snr_range : (float, float)
        Lowest and highest SNR in dB.
    rng : numpy.random.Generator or int or None
        Source of the SNRs and the noise (``as_rng``).

    Returns
    -------
    noisy : (N * k, L) float32
        Copy ``j`` of clip ``i`` is row ``i * k + j``.
    source : (N * k,) int64
        Row of ``waves`` each copy was made from, ``repeat(arange(N), k)``.
    snr_db : (N * k,) float64
        The SNR of each copy.
    """
    waves = np.asarray(waves, dtype=np.float32)
    if waves.ndim != 2:
        raise ValueError(f"waves must be (N, L), got shape {waves.shape}")
    if int(k) != k or k < 0:
        raise ValueError(f"k={k} must be an integer >= 0")
    lo, hi = snr_range
    if not lo <= hi:
        raise ValueError(f"snr_range=({lo}, {hi}) must have low <= high")
    rng = as_rng(rng)
    source = np.repeat(np.arange(len(waves)), int(k))
    snr_db = rng.uniform(lo, hi, size=len(source))
    if len(source) == 0:
        return np.zeros((0, waves.shape[1]), np.float32), source, snr_db
    noisy = dsp.awgn(waves[source], snr_db, rng=rng)
    return np.asarray(noisy, dtype=np.float32), source, snr_db


def _copies_per_clip(n: int, copies: float, rng: np.random.Generator) -> np.ndarray:
    """``floor(copies)`` for every clip, plus one for a random ``frac(copies)`` share of them."""
    whole = int(np.floor(copies))
    counts = np.full(n, whole, dtype=np.int64)
    extra = int(round((copies - whole) * n))
    if extra:
        counts[rng.choice(n, size=extra, replace=False)] += 1
    return counts


def build_training_set(split: dict, paths, labels, config: FeatureConfig | None = None, *,
                       copies: float = 2, snr_range=(15.0, 30.0), wave_augment=None,
                       feature_augment=None, oversample: bool = False, rng=None,
                       clean: Extracted | None = None, batch_size: int = 64,
                       progress: bool = True, cache_dir=DEFAULT_CACHE_DIR) -> FeatureDataset:
    """Features of the training split plus augmented copies of its clips, and nothing else.

    Only ``split["train"]`` is read. Steps: (1) optionally oversample the training rows so
    every class has as many as the largest (``splits.oversample``); (2) the clean features of
    those rows; (3) ``copies`` augmented copies per row: the waveform is reloaded, passed
    through ``wave_augment`` (default: AWGN at an SNR drawn from ``snr_range`` per copy), turned
    into features, then through ``feature_augment`` if given.

    Parameters
    ----------
    split : dict
        ``{"train": idx, ...}``; other keys are never read.
    paths : sequence of str, (N,)
        Audio file of every metadata row.
    labels : (N,) int
        Class of every row.
    config : FeatureConfig, optional
        Feature parameters (default BAVED's).
    copies : float >= 0
        Augmented copies per training row: the integer part for every row, plus one more for a
        random share of rows equal to the fractional part (``0.25``: a quarter of the rows get
        one copy, the second paper's "expand by 25 %"; ``2``: two each, the default).
    snr_range : (float, float)
        SNR range in dB of the default AWGN.
    wave_augment : callable, optional
        ``wave_augment(waves (B, L) float32, rng) -> (B, L)`` replacing AWGN (``snr_db`` is then
        NaN for the copies).
    feature_augment : callable, optional
        ``feature_augment(X (B, *config.shape), rng) -> same shape``, applied to the copies'
        features (e.g. SpecAugment masks).
    oversample : bool
        Balance the classes of the training rows first (copies of the minority classes).
    rng : numpy.random.Generator or int or None
        Source of every random choice here (``as_rng``).
    clean : Extracted, optional
        ``extract(paths, config)`` of all N files, to reuse its (cached) features.
    batch_size, progress, cache_dir
        As in ``features.extract``.

    Returns
    -------
    FeatureDataset
        Clean rows first (in training order), then the copies; ``source_index`` is always a
        member of ``split["train"]``.
    """
    if not copies >= 0:
        raise ValueError(f"copies={copies} must be >= 0")
    lo, hi = snr_range
    if not lo <= hi:
        raise ValueError(f"snr_range=({lo}, {hi}) must have low <= high")
    config = FeatureConfig() if config is None else config
    rng = as_rng(rng)
    labels = np.asarray(labels)
    paths = [os.fspath(p) for p in paths]                 # positions, whatever the container
    train = np.asarray(split["train"], dtype=np.int64)
    rows = oversample_indices(train, labels, rng) if oversample else train
    # (2) clean features of the distinct training clips, repeated for oversampled rows
    unique = np.unique(rows)
    base = dataset_from_indices(unique, paths, labels, config, clean=clean, batch_size=batch_size,
                                progress=progress, cache_dir=cache_dir)
    position = {int(r): i for i, r in enumerate(base.source_index)}
    rows = np.array([r for r in rows if int(r) in position], dtype=np.int64)   # readable only
    take = np.array([position[int(r)] for r in rows], dtype=np.int64)
    n_copies = _copies_per_clip(len(rows), copies, rng)
    n_clean, total = len(rows), len(rows) + int(n_copies.sum())
    # one preallocated array: clean rows, then the copies
    X = np.empty((total, *config.shape), dtype=np.float32)
    X[:n_clean] = base.X[take]
    source = np.concatenate([rows, np.repeat(rows, n_copies)]).astype(np.int64)
    snr_db = np.full(total, np.nan)
    # (3) augmented copies, reloading the waveforms batch by batch
    bar = _Progress(total - n_clean, "augmented copies", progress and total > n_clean)
    m = n_clean
    for start in range(0, n_clean, batch_size):
        batch_rows = rows[start:start + batch_size]
        reps = n_copies[start:start + batch_size]
        if reps.sum() == 0:
            continue
        waves, kept, _ = load_waves([paths[r] for r in batch_rows], config)
        if len(kept) != len(batch_rows):
            raise ValueError("a training file became unreadable between two reads: "
                             + ", ".join(str(paths[r]) for r in np.delete(batch_rows, kept)))
        waves = np.repeat(waves, reps, axis=0)                      # (copies in batch, L)
        if wave_augment is None:
            noisy, _, snr_db[m:m + len(waves)] = awgn_copies(waves, 1, (lo, hi), rng)
        else:
            noisy = wave_augment(waves, rng)
        feats = waves_to_features(noisy, config)
        if feature_augment is not None:
            feats = feature_augment(feats, rng)
        X[m:m + len(waves)] = feats
        m += len(waves)
        bar.update(m - n_clean)
    return FeatureDataset(X=X, y=labels[source].astype(np.int64), source_index=source,
                          augmented=np.arange(total) >= n_clean, snr_db=snr_db)
