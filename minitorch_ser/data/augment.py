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

The second paper's augmentation (``WaveAugment`` on the waveform, then ``SpecAugment`` on the
features) is passed to ``build_training_set`` as ``wave_augment`` / ``feature_augment``, with
``copies=0.25`` to expand the training set by a quarter.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np

import dsp

from ..autograd.random import as_rng
from .progress import Progress
from .features import (DEFAULT_CACHE_DIR, Extracted, FeatureConfig, FeatureDataset,
                       dataset_from_indices, load_waves, waves_to_features)
from .splits import oversample as oversample_indices
from .store import FeatureStore


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
                       progress: bool = True, cache_dir=DEFAULT_CACHE_DIR,
                       vtlp: float = 0.0, on_disk: bool = False) -> FeatureDataset:
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
    vtlp : float in [0, 1)
        Vocal tract length perturbation of the copies: each copy's features use a mel
        filterbank warped by ``alpha ~ U[1 - vtlp, 1 + vtlp]`` (``dsp.vtlp_warp``); 0: off.
    oversample : bool
        Balance the classes of the training rows first (copies of the minority classes).
    rng : numpy.random.Generator or int or None
        Source of every random choice here (``as_rng``).
    clean : Extracted, optional
        ``extract(paths, config)`` of all N files, to reuse its (cached) features.
    batch_size, progress, cache_dir
        As in ``features.extract``.
    on_disk : bool
        Write ``X`` into a ``data.store.FeatureStore`` in ``cache_dir`` (``training_<key>.npy``,
        ``training_set_path``) chunk by chunk instead of one array in memory, for corpora
        larger than memory; ``clean`` is then read by rows, also from disk. The values and
        every random draw are those of ``on_disk=False``. The file is rewritten by every call.

    Returns
    -------
    FeatureDataset
        Clean rows first (in training order), then the copies; ``source_index`` is always a
        member of ``split["train"]``. ``X`` is an ndarray, or with ``on_disk`` the complete
        store.

    Raises
    ------
    ValueError
        ``copies < 0``, ``vtlp`` outside ``[0, 1)``, a reversed ``snr_range``; ``on_disk``
        without a ``cache_dir``; a training file that became unreadable between two reads.
    """
    if not copies >= 0:
        raise ValueError(f"copies={copies} must be >= 0")
    if not 0.0 <= vtlp < 1.0:
        raise ValueError(f"vtlp={vtlp} must be in [0, 1)")
    lo, hi = snr_range
    if not lo <= hi:
        raise ValueError(f"snr_range=({lo}, {hi}) must have low <= high")
    if on_disk and cache_dir is None:
        raise ValueError("on_disk=True needs a cache_dir: the training set is written there")
    config = FeatureConfig() if config is None else config
    rng = as_rng(rng)
    seed_state = json.dumps(rng.bit_generator.state, sort_keys=True)    # names the store
    labels = np.asarray(labels)
    paths = [os.fspath(p) for p in paths]                 # positions, whatever the container
    train = np.asarray(split["train"], dtype=np.int64)
    rows = oversample_indices(train, labels, rng) if oversample else train
    # (2) clean features of the distinct training clips, repeated for oversampled rows
    unique = np.unique(rows)
    base = dataset_from_indices(unique, paths, labels, config, clean=clean, batch_size=batch_size,
                                progress=progress, cache_dir=cache_dir, on_disk=on_disk)
    position = {int(r): i for i, r in enumerate(base.source_index)}
    rows = np.array([r for r in rows if int(r) in position], dtype=np.int64)   # readable only
    take = np.array([position[int(r)] for r in rows], dtype=np.int64)
    n_copies = _copies_per_clip(len(rows), copies, rng)
    n_clean, total = len(rows), len(rows) + int(n_copies.sum())
    # one preallocated array (or store on disk): clean rows, then the copies
    if on_disk:
        path = training_set_path(cache_dir, paths, config, rows, n_copies, seed_state,
                                 (lo, hi, vtlp, repr(wave_augment), repr(feature_augment)))
        X = FeatureStore.create(path, (total, *config.shape))
    else:
        X = np.empty((total, *config.shape), dtype=np.float32)
    for start in range(0, n_clean, batch_size):           # chunk by chunk: rows may be on disk
        stop = min(start + batch_size, n_clean)
        X[start:stop] = base.X[take[start:stop]]
    source = np.concatenate([rows, np.repeat(rows, n_copies)]).astype(np.int64)
    snr_db = np.full(total, np.nan)
    # (3) augmented copies, reloading the waveforms batch by batch
    bar = Progress(total - n_clean, "augmented copies", "clips", progress and total > n_clean)
    m = n_clean
    for start in range(0, n_clean, batch_size):
        batch_rows = rows[start:start + batch_size]
        reps = n_copies[start:start + batch_size]
        if reps.sum() == 0:
            continue
        waves, kept, _, _ = load_waves([paths[r] for r in batch_rows], config)
        if len(kept) != len(batch_rows):
            raise ValueError("a training file became unreadable between two reads: "
                             + ", ".join(str(paths[r]) for r in np.delete(batch_rows, kept)))
        waves = np.repeat(waves, reps, axis=0)                      # (copies in batch, L)
        if wave_augment is None:
            noisy, _, snr_db[m:m + len(waves)] = awgn_copies(waves, 1, (lo, hi), rng)
        else:
            noisy = wave_augment(waves, rng)
        alphas = rng.uniform(1 - vtlp, 1 + vtlp, size=len(noisy)) if vtlp > 0 else None
        feats = waves_to_features(noisy, config, vtlp_alpha=alphas)
        if feature_augment is not None:
            feats = feature_augment(feats, rng)
        X[m:m + len(waves)] = feats
        m += len(waves)
        bar.update(m - n_clean)
    bar.close()
    if on_disk:
        X.finish()
    return FeatureDataset(X=X, y=labels[source].astype(np.int64), source_index=source,
                          augmented=np.arange(total) >= n_clean, snr_db=snr_db)


def training_set_path(cache_dir, paths, config: FeatureConfig, rows, n_copies, seed_state: str,
                      settings) -> str:
    """``<cache_dir>/training_<key>.npy``, the store of an on-disk training set.

    ``key`` (24 hex digits) hashes the feature parameters, the file list, the training rows,
    the copies per row, the generator's starting state and the augmentation ``settings``
    (their ``repr``), so that runs of other settings sharing a cache folder write other files.
    (Two runs of the same key rewrite the same file; each keeps reading its own, since
    ``FeatureStore.create`` replaces a file rather than overwriting it.)

    Parameters
    ----------
    cache_dir : str or path
    paths : sequence of str, (N,)
    config : FeatureConfig
    rows : (n,) int
        The training rows, in training order.
    n_copies : (n,) int
        Augmented copies of each.
    seed_state : str
        The generator's state before any draw (JSON).
    settings : tuple
        Whatever else decides the copies (SNR range, VTLP, the augmentations' repr).

    Returns
    -------
    str
    """
    h = hashlib.sha256()
    h.update(config.key().encode())
    h.update("\0".join(os.path.abspath(p) for p in paths).encode())
    h.update(np.asarray(rows, np.int64).tobytes() + np.asarray(n_copies, np.int64).tobytes())
    h.update((seed_state + repr(settings)).encode())
    return os.path.join(os.fspath(cache_dir), f"training_{h.hexdigest()[:24]}.npy")


# ============================================================ the second paper's augmentation
@dataclass(frozen=True)
class WaveAugment:
    """Peak-relative noise, a pitch shift and a gain: the CREMA-D paper's waveform augmentation.

    Every copy of a clip ``x`` (``L`` samples, z-normalized and padded) draws, independently,

        u ~ U[0, 1),   s ~ U[-semitones, semitones],   g ~ U[-gain_db, gain_db]

    and becomes, in the order of the paper's functions,

        x1 = x + noise_level * u * max|x| * e,  e ~ N(0, 1)   (dsp.peak_noise)
        x2 = pitch_shift(x1, s semitones)                      (dsp.pitch_shift)
        x3 = 10^(g / 20) * x2                                  (dsp.gain)

    The paper calls ``add_noise(y, 0.035)``, ``pitch_shift(y, sr, n_steps=2)`` and
    ``volume_perturbation(y, gain_db=5)`` and describes shifts "up or down slightly" and
    loudness "increased or decreased"; here the step and the gain are drawn uniformly in the
    symmetric ranges. Note that the features scale each clip by its own peak
    (``power_to_db(ref=np.max)``), so a gain leaves them unchanged (up to the ``amin`` floor):
    the gain is kept for fidelity to the paper, the noise and the pitch shift are what changes
    the features.

    The pitch shift runs clip by clip: each clip's time-stretch rate ``2^(-s/12)`` gives a
    different intermediate length, which one batched phase vocoder cannot hold.

    Attributes
    ----------
    sr : int > 0
        Sample rate of the waveforms.
    noise_level : float >= 0
        Largest noise amplitude as a fraction of the clip's peak.
    semitones : float >= 0
        Largest pitch shift, up or down (0: none).
    gain_db : float >= 0
        Largest gain, up or down, in dB (0: none).
    """

    sr: int = 16000
    noise_level: float = 0.035
    semitones: float = 2.0
    gain_db: float = 5.0

    def __post_init__(self):
        for name in ("noise_level", "semitones", "gain_db"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 0")
        if not self.sr > 0:
            raise ValueError(f"sr={self.sr} must be > 0")

    def draw(self, n: int, rng) -> dict:
        """The per-copy shifts ``{"semitones": (n,), "gain_db": (n,)}`` (float64).

        ``s ~ U[-semitones, semitones]`` and ``g ~ U[-gain_db, gain_db]``, independently per
        copy (the noise amplitude is drawn later, in ``apply``).

        Parameters
        ----------
        n : int >= 0
            Number of copies.
        rng : numpy.random.Generator or int or None
            Source of the draws (``as_rng``).

        Returns
        -------
        dict of str -> (n,) float64
            ``"semitones"``: pitch shift of each copy in semitones; ``"gain_db"``: its gain
            in dB.

        Raises
        ------
        ValueError
            ``n < 0`` (NumPy), or an ``rng`` seed NumPy refuses (``as_rng``, which may also
            raise ``TypeError``).
        """
        rng = as_rng(rng)
        return {"semitones": rng.uniform(-self.semitones, self.semitones, size=n),
                "gain_db": rng.uniform(-self.gain_db, self.gain_db, size=n)}

    def apply(self, waves, params: dict, rng) -> np.ndarray:
        """Noise, then the drawn pitch shifts and gains.

        Parameters
        ----------
        waves : (B, L) float
        params : dict
            ``draw(B, rng)``'s result.
        rng : numpy.random.Generator or int or None
            Source of the noise.

        Returns
        -------
        (B, L) float32
        """
        waves = np.asarray(waves, dtype=np.float32)
        if waves.ndim != 2:
            raise ValueError(f"waves must be (B, L), got shape {waves.shape}")
        steps, db = np.asarray(params["semitones"]), np.asarray(params["gain_db"])
        if steps.shape != (len(waves),) or db.shape != (len(waves),):
            raise ValueError(f"params hold {steps.shape} steps and {db.shape} gains for "
                             f"{len(waves)} waves: one of each per wave")
        out = dsp.peak_noise(waves, self.noise_level, as_rng(rng))              # (B, L)
        if self.semitones > 0 and len(out):
            out = np.stack([dsp.pitch_shift(w, self.sr, s) for w, s in zip(out, steps)])
        return np.asarray(dsp.gain(out, db.astype(np.float32)), dtype=np.float32)

    def __call__(self, waves, rng) -> np.ndarray:
        """``apply(waves, draw(len(waves), rng), rng)``: the ``wave_augment`` hook of
        ``build_training_set``."""
        rng = as_rng(rng)
        return self.apply(waves, self.draw(len(waves), rng), rng)


@dataclass(frozen=True)
class SpecAugment:
    """SpecAugment frequency and time masks (Park et al., 2019) on 3-channel features.

    For each clip, ``n_freq_masks`` bands of ``f ~ U{0 .. F-1}`` mel bins and ``n_time_masks``
    bands of ``t ~ U{0 .. T-1}`` frames, at uniform positions, are set to ``mask_value``
    (``dsp.spec_augment``; the paper's ``specaugment``: 2 and 2 masks narrower than 8). The
    masks are drawn once per clip and shared by its channels, so the delta channels are masked
    where the log-mel is.

    ``mask_value=0.0`` is the paper's: with ``ref=np.max`` a log-mel of 0 dB is the clip's
    loudest level (and a delta of 0 is "no change"); ``"mean"`` writes each clip's channel
    mean instead, the choice of the SpecAugment paper.

    Attributes
    ----------
    n_freq_masks, n_time_masks : int >= 0
    F : int in [1, n_mels]
    T : int in [1, n_frames]
    mask_value : float or "mean"
    """

    n_freq_masks: int = 2
    F: int = 8
    n_time_masks: int = 2
    T: int = 8
    mask_value: float | str = 0.0

    def __post_init__(self):
        if isinstance(self.mask_value, str) and self.mask_value != "mean":
            raise ValueError(f"mask_value={self.mask_value!r} must be a number or 'mean'")

    def masks(self, n: int, n_mels: int, n_frames: int, rng) -> np.ndarray:
        """Boolean ``(n, 1, n_mels, n_frames)``: True where a clip is masked.

        Per clip, ``n_freq_masks`` bands of ``f ~ U{0 .. F-1}`` mel bins and
        ``n_time_masks`` bands of ``t ~ U{0 .. T-1}`` frames at uniform starts
        (``dsp.spec_augment``); the single channel axis broadcasts over ``C``.

        Parameters
        ----------
        n : int >= 0
            Number of clips.
        n_mels : int >= F
            Mel bins of the features.
        n_frames : int >= T
            Frames of the features.
        rng : numpy.random.Generator or int or None
            Source of the widths and starts (``as_rng``).

        Returns
        -------
        (n, 1, n_mels, n_frames) bool

        Raises
        ------
        ValueError
            ``F > n_mels`` or ``T > n_frames``; ``F`` or ``T`` below 1 or a negative mask
            count (``dsp.spec_augment``); a negative size; an ``rng`` seed NumPy refuses.
        """
        indicator = np.zeros((n, 1, n_mels, n_frames), dtype=np.float32)
        marked = dsp.spec_augment(indicator, as_rng(rng), n_freq_masks=self.n_freq_masks,
                                  F=self.F, n_time_masks=self.n_time_masks, T=self.T,
                                  mask_value=1.0)
        return marked == 1.0

    def __call__(self, X, rng) -> np.ndarray:
        """Masked copy of ``X : (B, C, n_mels, n_frames)``: the ``feature_augment`` hook of
        ``build_training_set``."""
        X = np.asarray(X)
        if X.ndim != 4:
            raise ValueError(f"features must be (B, C, n_mels, n_frames), got shape {X.shape}")
        mask = self.masks(len(X), X.shape[-2], X.shape[-1], rng)       # (B, 1, n_mels, n_frames)
        value = (X.mean(axis=(-2, -1), keepdims=True) if self.mask_value == "mean"
                 else np.asarray(self.mask_value, dtype=X.dtype))
        return np.where(mask, value, X).astype(X.dtype, copy=False)


# ============================================================ speed perturbation
@dataclass(frozen=True)
class SpeedPerturb:
    """Speed perturbation then additive white noise: a ``wave_augment`` for
    ``build_training_set`` (Ko et al., 2015, "Audio augmentation for speech recognition").

    Each copy is played at a rate drawn uniformly from ``{1 - spread, 1, 1 + spread}``
    (``dsp.speed_perturb``: tempo and pitch both change), cut or zero-padded back to its
    length, then given white noise at an SNR drawn from ``snr_range`` (``dsp.awgn``), so the
    copies stay noisy copies as without speed perturbation; or, when ``then`` is given,
    passed to ``then(waves, rng)`` instead of the noise (e.g. the second paper's
    ``WaveAugment``).

    Attributes
    ----------
    spread : float in (0, 1)
        0.1 gives the rates 0.9, 1.0 and 1.1.
    snr_range : (float, float)
        SNR range in dB of the noise.
    then : callable or None
        The augmentation after the speed change, instead of the white noise.
    """

    spread: float = 0.1
    snr_range: tuple = (15.0, 30.0)
    then: object = None

    def __post_init__(self):
        if not 0.0 < self.spread < 1.0:
            raise ValueError(f"spread={self.spread} must be in (0, 1)")

    def __call__(self, waves, rng) -> np.ndarray:
        """``waves : (B, L)`` float32 -> perturbed copies ``(B, L)`` float32."""
        waves = np.asarray(waves, dtype=np.float32)
        rng = as_rng(rng)
        rates = rng.choice(np.array([1 - self.spread, 1.0, 1 + self.spread]), size=len(waves))
        out = np.empty_like(waves)
        for rate in np.unique(rates):                      # at most three groups
            rows = np.flatnonzero(rates == rate)
            moved = dsp.speed_perturb(waves[rows], float(rate)) if rate != 1.0 else waves[rows]
            out[rows] = dsp.fix_length(moved, waves.shape[1], axis=-1)
        if self.then is not None:
            return np.asarray(self.then(out, rng), dtype=np.float32)
        lo, hi = self.snr_range
        return dsp.awgn(out, rng.uniform(lo, hi, size=len(out)), rng).astype(np.float32)
