"""Log-mel features of many clips: batched extraction, an on-disk cache, standardization.

Pipeline of one clip (``FeatureConfig`` holds every parameter; BAVED's defaults shown):

1. ``dsp.load(path, sr=16000)``: mono float32 samples at the target rate (resampled if needed);
2. optionally ``dsp.standardize`` (z-normalization of the clip, before padding);
3. ``dsp.fix_length`` to ``n_samples = round(sr * duration) = 48000``: zero-pad or trim the end;
4. ``dsp.melspectrogram`` (power mel spectrogram, Hamming window of 512 samples zero-padded to
   ``n_fft = 1024``, hop 256, 128 mel bands up to 8 kHz), computed for a whole batch
   ``(B, n_samples) -> (B, n_mels, n_frames)`` at once;
5. ``dsp.power_to_db(S, ref=np.max)``: ``10 log10(S / max S)`` per clip, floored at ``-top_db``;
6. optionally the delta and delta-delta channels (``deltas=True``: 3 channels);
7. layout ``(C, n_mels, n_frames)``, as librosa and the first paper have it (models that read
   time first transpose once at their input).

With ``center=True`` the frame count is ``1 + n_samples // hop_length`` (the signal is padded
by ``n_fft // 2`` on each side), ``1 + 48000 // 256 = 188``: BAVED clips give ``(1, 128, 188)``.

**Cache.** ``extract`` writes its result under ``cache_dir`` into a ``data.store.FeatureStore``,
``features_<key>.npy`` (a standard ``.npy`` file) with its sidecar ``features_<key>.json``,
where ``key`` hashes the configuration *and* the file list (absolute path, size and
modification time of every file, in order). Changing a parameter, adding, removing,
reordering or rewriting a file gives a new key, hence a recomputation; the old files are left
in place. The rows are written chunk by chunk (``batch_size`` clips at a time), and after each
chunk the sidecar records how many inputs are done and which of them failed: an interrupted
extraction (Ctrl-C, a killed process) resumes after the last recorded chunk, with the chunk
size it started with, so the result is the one an uninterrupted run gives. Cache files of the
earlier format (``features_<key>.npz``) are not read any more; they can be deleted.

**Unreadable files.** A file ``dsp.load`` rejects (missing, corrupt, empty, NaN samples) is
skipped; one warning gives their number and names with the reason, and the result's ``kept``
says which inputs have a row. Nothing else is caught.

**Standardization.** ``Standardizer`` fits a mean and standard deviation per channel and mel
bin (or per channel only) on the training features and applies them to every split.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

import dsp

from .progress import Progress
from .store import FeatureStore, Rows, as_rows

# Bump when the meaning of the computed features changes, to invalidate old cache files.
# 2: dsp.load reads pipe-written WAVs and streamed FLACs it used to skip as unreadable.
FEATURES_VERSION = 2
DEFAULT_CACHE_DIR = os.path.join(".cache", "features")


@dataclass(frozen=True)
class FeatureConfig:
    """Every parameter of the feature pipeline (module docstring); BAVED's paper by default.

    Attributes
    ----------
    sr : int > 0
        Sample rate the audio is loaded (resampled) at.
    duration : float > 0
        Clip length in seconds after zero-padding or trimming.
    n_fft : int > 0
        FFT size.
    win_length : int in [1, n_fft]
        Window length (zero-padded to ``n_fft``).
    hop_length : int > 0
        Samples between frames.
    window : str
        Window name (``dsp.get_window``).
    n_mels : int > 0
        Mel bands.
    fmin : float >= 0
        Lowest band edge in Hz.
    fmax : float in (fmin, sr / 2] or None
        Highest band edge in Hz (``None``: ``sr / 2``).
    center : bool
        Pad the signal by ``n_fft // 2`` on both sides so frame ``t`` is centred on ``t * hop``.
    top_db : float > 0 or None
        Dynamic range kept below each clip's maximum (``power_to_db``'s floor); ``None``: all.
    deltas : bool
        Stack the log-mel with its first and second time derivatives (3 channels).
    normalize_audio : bool
        Z-normalize each clip's samples (``dsp.standardize``) before padding.
    n_frames : int > 0 or None
        Crop or zero-pad the frame axis to this many frames (``None``: the natural count).
    """

    sr: int = 16000
    duration: float = 3.0
    n_fft: int = 1024
    win_length: int = 512
    hop_length: int = 256
    window: str = "hamming"
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = 8000.0
    center: bool = True
    top_db: float | None = 80.0
    deltas: bool = False
    normalize_audio: bool = False
    n_frames: int | None = None

    def __post_init__(self):
        for name in ("sr", "n_fft", "win_length", "hop_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if not self.duration > 0:
            raise ValueError(f"duration={self.duration} must be > 0 seconds")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length={self.win_length} must be <= n_fft={self.n_fft}")
        fmax = self.sr / 2 if self.fmax is None else self.fmax
        if not 0 <= self.fmin < fmax <= self.sr / 2:
            raise ValueError(f"fmin={self.fmin}, fmax={self.fmax} must satisfy "
                             f"0 <= fmin < fmax <= sr / 2 = {self.sr / 2}")
        if self.top_db is not None and not self.top_db > 0:
            raise ValueError(f"top_db={self.top_db} must be > 0 or None")
        if self.n_frames is not None and self.n_frames < 1:
            raise ValueError(f"n_frames={self.n_frames} must be a positive integer or None")
        if not self.center and self.n_samples < self.n_fft:
            raise ValueError(f"without centering, duration * sr = {self.n_samples} samples must "
                             f"be >= n_fft={self.n_fft}")

    @property
    def n_samples(self) -> int:
        """Samples per clip after padding or trimming, ``round(sr * duration)``."""
        return int(round(self.sr * self.duration))

    @property
    def frames(self) -> int:
        """Frames per clip: ``n_frames`` if set, else ``1 + n_samples // hop_length`` when
        centred, ``1 + (n_samples - n_fft) // hop_length`` otherwise."""
        if self.n_frames is not None:
            return self.n_frames
        if self.center:
            return 1 + self.n_samples // self.hop_length
        return 1 + (self.n_samples - self.n_fft) // self.hop_length

    @property
    def channels(self) -> int:
        """1, or 3 with ``deltas``."""
        return 3 if self.deltas else 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one clip's features: ``(C, n_mels, frames)``."""
        return (self.channels, self.n_mels, self.frames)

    def to_dict(self) -> dict:
        """Plain-type dict (JSON, checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        """Inverse of ``to_dict``; unknown keys are an error.

        ``time_first`` (a layout flag of checkpoints written before every feature was
        ``(C, n_mels, n_frames)``) is dropped: the models transpose at their input now.
        """
        d = {k: v for k, v in d.items() if k != "time_first"}
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown FeatureConfig field(s) {sorted(unknown)}")
        return cls(**d)

    def key(self) -> str:
        """Hex digest identifying these parameters (and ``FEATURES_VERSION``)."""
        payload = json.dumps({"version": FEATURES_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


class Extracted(NamedTuple):
    """Result of ``extract``.

    Attributes
    ----------
    X : (M, C, n_mels, n_frames) float32, ndarray or FeatureStore
        Features of the readable files (``config.shape`` per row); the on-disk store itself
        with ``extract(..., on_disk=True)``.
    kept : (M,) int64
        Position in the input ``paths`` of each row of ``X``.
    failed : list of (str, str)
        ``(path, reason)`` of every skipped file.
    """

    X: np.ndarray
    kept: np.ndarray
    failed: list


# =============================================================================== computation
def fit_wave(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Steps 2-3 of the module docstring for one clip already at ``config.sr``: z-normalize
    (when ``normalize_audio``), then zero-pad or trim the end to ``config.n_samples``.

    Parameters
    ----------
    y : (n_samples_in,) float32
        Mono samples at ``config.sr``.
    config : FeatureConfig

    Returns
    -------
    (config.n_samples,) float32
    """
    if config.normalize_audio:
        y = dsp.standardize(y)
    return dsp.fix_length(y, config.n_samples)


class Loaded(NamedTuple):
    """What ``load_waves`` returns (a tuple: ``waves, kept, failed, seconds = ...``)."""

    waves: np.ndarray
    kept: np.ndarray
    failed: list
    seconds: np.ndarray


def load_waves(paths, config: FeatureConfig) -> Loaded:
    """Load clips as one array of equal length (steps 1-3 of the module docstring).

    A file ``dsp.load`` rejects (``ValueError``, which includes ``dsp.AudioLoadError``, or
    ``OSError``) is skipped and listed in ``failed``; nothing is raised for it.

    Parameters
    ----------
    paths : sequence of str or path, (N,)
        Audio files of any rate and channel count (downmixed to mono, resampled to
        ``config.sr``).
    config : FeatureConfig
        ``sr``, ``normalize_audio`` and ``n_samples = round(sr * duration)``.

    Returns
    -------
    waves : (M, n_samples) float32
        The readable clips.
    kept : (M,) int64
        Their positions in ``paths``.
    failed : list of (str, str)
        ``(path, reason)`` of the files ``dsp.load`` rejected.
    seconds : (M,) float64
        Length of each decoded clip before padding or trimming (what decoded, at
        ``config.sr``), in seconds.
    """
    waves, kept, failed, seconds = [], [], [], []
    for i, path in enumerate(paths):
        try:
            y, _ = dsp.load(path, sr=config.sr)
        except (ValueError, OSError) as err:       # dsp.AudioLoadError is a ValueError
            failed.append((str(path), str(err)))
            continue
        seconds.append(len(y) / config.sr)
        waves.append(fit_wave(y, config))
        kept.append(i)
    if not waves:
        return Loaded(np.zeros((0, config.n_samples), np.float32), np.zeros(0, np.int64),
                      failed, np.zeros(0))
    return Loaded(np.stack(waves).astype(np.float32, copy=False), np.asarray(kept, np.int64),
                  failed, np.asarray(seconds))


def waves_to_features(waves: np.ndarray, config: FeatureConfig, vtlp_alpha=None) -> np.ndarray:
    """Log-mel features of a batch of equal-length clips (steps 4-7 of the module docstring).

    Parameters
    ----------
    waves : (B, n_samples) float
        Clips at ``config.sr``, already padded or trimmed.
    config : FeatureConfig
    vtlp_alpha : (B,) float or None
        Vocal tract length perturbation: clip b's mel filterbank is warped by
        ``vtlp_alpha[b]`` (``dsp.vtlp_warp``); None: no warp. Augmented copies only.

    Returns
    -------
    X : (B, *config.shape) float32
    """
    waves = np.asarray(waves, dtype=np.float32)
    if waves.ndim != 2:
        raise ValueError(f"waves must be (B, n_samples), got shape {waves.shape}")
    if len(waves) == 0:
        return np.zeros((0, *config.shape), np.float32)
    if vtlp_alpha is not None:
        alphas = np.broadcast_to(np.asarray(vtlp_alpha, dtype=np.float64), (len(waves),))
        # one filterbank per clip: clip by clip
        return np.concatenate([_features(waves[b:b + 1], config, vtlp_alpha=float(a))
                               for b, a in enumerate(alphas)])
    return _features(waves, config)


def _features(waves: np.ndarray, config: FeatureConfig, **warp) -> np.ndarray:
    """``waves_to_features`` of a checked batch, ``warp`` passed to the mel filterbank."""
    kwargs = dict(sr=config.sr, n_fft=config.n_fft, hop_length=config.hop_length,
                  win_length=config.win_length, window=config.window, center=config.center,
                  n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax, **warp)
    if config.deltas:
        X = dsp.logmel_deltas(waves, top_db=config.top_db, **kwargs)         # (B, 3, F, T)
    else:
        S = dsp.melspectrogram(y=waves, **kwargs)                           # (B, F, T)
        X = dsp.power_to_db(S, ref=np.max, top_db=config.top_db)[:, None]   # (B, 1, F, T)
    if config.n_frames is not None:
        X = dsp.fix_length(X, config.n_frames, axis=-1)
    return np.ascontiguousarray(X, dtype=np.float32)


def _chunks(paths: list, config: FeatureConfig, batch_size: int, start: int = 0):
    """Features of ``paths`` in chunks of ``batch_size`` inputs, from input ``start`` on.

    Yields
    ------
    (first, X, kept, failed)
        ``first`` the chunk's first input, ``X : (m, *config.shape)`` float32 of its ``m``
        readable files, ``kept : (m,)`` their positions in ``paths``, ``failed`` the
        ``(position, path, reason)`` of the others.
    """
    for first in range(start, len(paths), batch_size):
        chunk = paths[first:first + batch_size]
        waves, kept, failed, _ = load_waves(chunk, config)
        rejected = np.setdiff1d(np.arange(len(chunk)), kept)        # in order, like failed
        yield (first, waves_to_features(waves, config), kept + first,
               [(int(i) + first, p, r) for i, (p, r) in zip(rejected, failed)])


def _compute(paths: list, config: FeatureConfig, batch_size: int, progress: bool) -> Extracted:
    """Load and featurize ``paths`` chunk by chunk into one preallocated array."""
    n = len(paths)
    X = np.empty((n, *config.shape), dtype=np.float32)
    kept, failed = [np.zeros(0, np.int64)], []
    bar = Progress(n, "features", "clips", progress)
    m = 0
    for first, feats, k, f in _chunks(paths, config, batch_size):
        X[m:m + len(feats)] = feats
        m += len(feats)
        kept.append(k)
        failed += [(p, r) for _, p, r in f]
        bar.update(min(first + batch_size, n))
    bar.close()
    X = X[:m].copy() if m < n else X
    return Extracted(X, np.concatenate(kept), failed)


def _compute_into(store: FeatureStore, paths: list, config: FeatureConfig, batch_size: int,
                  progress: bool) -> None:
    """Featurize ``paths`` into ``store`` (N rows), continuing after its last commit.

    The sidecar's ``progress`` holds ``n_files``, ``batch_size`` (the chunk size, kept when
    resuming so that every chunk is computed as in an uninterrupted run), ``inputs_done``
    and ``failed`` (``[position, path, reason]`` of the unreadable inputs so far); the readable
    ones fill the rows in input order, so ``rows_written = inputs_done - len(failed)``. At the
    end the store is shrunk to its readable rows and marked complete.
    """
    n = len(paths)
    state = store.progress if store.progress.get("n_files") == n else {}
    batch_size = int(state.get("batch_size", batch_size))
    done, failed = int(state.get("inputs_done", 0)), list(state.get("failed", []))
    m, resumed_at = store.rows_written, done             # m == done - len(failed)
    desc = "features" if done == 0 else f"features (resuming after {done} of {n})"
    bar = Progress(n - done, desc, "clips", progress)
    for first, feats, _, f in _chunks(paths, config, batch_size, start=done):
        store.write(m, feats)
        m += len(feats)
        failed += [list(item) for item in f]
        done = min(first + batch_size, n)
        store.commit(m, {"n_files": n, "batch_size": batch_size, "inputs_done": done,
                         "failed": failed})
        bar.update(done - resumed_at)
    bar.close()
    store.finish(m, {"n_files": n, "batch_size": batch_size, "inputs_done": n,
                     "failed": failed})


# ===================================================================================== cache
def file_list_key(paths) -> str:
    """Hex digest of the files' absolute paths, sizes and modification times (in order)."""
    h = hashlib.sha256()
    for p in paths:
        p = os.path.abspath(os.fspath(p))
        try:
            st = os.stat(p)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        h.update(f"{p}\0{stamp}\n".encode())
    return h.hexdigest()


def cache_path(paths, config: FeatureConfig, cache_dir=DEFAULT_CACHE_DIR) -> str:
    """Cache file of these paths and parameters: ``<cache_dir>/features_<key>.npy``.

    ``key`` is the first 24 hex digits of ``sha256(config.key() + file_list_key(paths))``:
    it changes with any parameter, ``FEATURES_VERSION``, or a file's absolute path, size,
    modification time or position. Nothing is read or created (a missing file is hashed
    as ``missing``). The store's sidecar is ``features_<key>.json`` beside it.

    Parameters
    ----------
    paths : sequence of str or path, (N,)
        The audio files, in order.
    config : FeatureConfig
        The feature parameters.
    cache_dir : str or path
        The cache folder.

    Returns
    -------
    str
        The path of the cache file (which may not exist).
    """
    key = hashlib.sha256((config.key() + file_list_key(paths)).encode()).hexdigest()[:24]
    return os.path.join(os.fspath(cache_dir), f"features_{key}.npy")


def _open_cache(path: str, n: int, config: FeatureConfig) -> FeatureStore | None:
    """The cache store of ``n`` inputs at ``path``, complete or resumable, opened for
    writing; ``None`` when there is none, or (with a warning) when it is unreadable or
    describes other inputs."""
    if not os.path.exists(path):
        return None
    try:
        store = FeatureStore(path, "r+")
    except (OSError, ValueError) as err:
        warnings.warn(f"feature cache {path} is unreadable ({err}); recomputing", stacklevel=4)
        return None
    progress = store.progress
    failed = len(progress.get("failed", []))
    n_rows = n - failed if store.complete else n
    written = store.rows_written == progress.get("inputs_done", 0) - failed    # rows in order
    if progress.get("n_files") != n or store.shape != (n_rows, *config.shape) or not written:
        warnings.warn(f"feature cache {path} is unreadable (it holds {store.shape}, "
                      f"{store.rows_written} rows written, for {progress.get('n_files')} "
                      f"files; expected {n} files of {config.shape}); recomputing", stacklevel=4)
        store.close()
        return None
    return store


def _cached(paths: list, config: FeatureConfig, batch_size: int, progress: bool,
            path: str) -> tuple:
    """``(store, kept, failed)`` of ``paths`` from the cache store at ``path``: read when
    complete, else computed (or resumed) into it."""
    store = _open_cache(path, len(paths), config)
    if store is None:
        store = FeatureStore.create(path, (len(paths), *config.shape))
    if not store.complete:
        try:
            _compute_into(store, paths, config, batch_size, progress)
        except BaseException:
            store.close()
            raise
    failed = store.progress.get("failed", [])
    kept = np.setdiff1d(np.arange(len(paths)), [i for i, _, _ in failed]).astype(np.int64)
    return store, kept, [(p, r) for _, p, r in failed]


def extract(paths, config: FeatureConfig | None = None, batch_size: int = 64,
            progress: bool = True, cache_dir=DEFAULT_CACHE_DIR, on_disk: bool = False) -> Extracted:
    """Features of many clips, computed in batches and cached on disk.

    Parameters
    ----------
    paths : sequence of str or path, (N,)
        Audio files.
    config : FeatureConfig, optional
        Feature parameters (default: BAVED's, ``FeatureConfig()``).
    batch_size : int > 0
        Clips loaded and transformed together (memory ~ ``batch_size * n_samples`` floats plus
        their spectrograms); also the chunk of the cache's progress records.
    progress : bool
        Show a progress line on stderr while computing.
    cache_dir : str or path or None
        Folder of the cache (module docstring); ``None`` disables caching.
    on_disk : bool
        Return the cache store itself (``X`` a ``data.store.FeatureStore``, read by rows)
        instead of loading it: for corpora larger than memory. Needs ``cache_dir``.

    Returns
    -------
    Extracted
        ``(X, kept, failed)``: ``X : (M, *config.shape) float32`` for the ``M <= N`` readable
        files (an ndarray, or the store with ``on_disk``), ``kept : (M,)`` their positions in
        ``paths``, ``failed`` the skipped ``(path, reason)`` pairs (also reported in one
        warning).

    Raises
    ------
    ValueError
        ``batch_size`` not a positive integer; ``on_disk`` without a ``cache_dir``.
    OSError
        ``on_disk`` and the cache cannot be written (without ``on_disk`` a warning is given
        and the features are computed in memory).
    """
    config = FeatureConfig() if config is None else config
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be a positive integer")
    if on_disk and cache_dir is None:
        raise ValueError("on_disk=True needs a cache_dir: the features are written there")
    paths = [os.fspath(p) for p in paths]
    result = None
    if cache_dir is not None:
        target = cache_path(paths, config, cache_dir)
        try:
            store, kept, failed = _cached(paths, config, int(batch_size), progress, target)
        except OSError as err:
            if err.errno == errno.ENOSPC:   # a full disk: the partial cache only keeps it full
                from .store import sidecar_path
                for leftover in (target, sidecar_path(target)):
                    if os.path.exists(leftover):
                        os.remove(leftover)
            if on_disk:
                raise
            warnings.warn(f"could not write the feature cache {target} ({err}); "
                          "continuing without it", stacklevel=2)
        else:
            if on_disk:
                result = Extracted(store, kept, failed)
            else:
                with store:
                    result = Extracted(store.load(), kept, failed)
    if result is None:
        result = _compute(paths, config, int(batch_size), progress)
    if result.failed:
        listing = "\n  ".join(f"{p}: {r}" for p, r in result.failed)
        warnings.warn(f"skipped {len(result.failed)} unreadable file(s) of {len(paths)}:\n  {listing}",
                      stacklevel=2)
    return result


# ================================================================================= datasets
@dataclass
class FeatureDataset:
    """Features with their labels and the metadata row each came from.

    Attributes
    ----------
    X : (M, C, F, T) float32
        An ndarray, or rows read on demand from disk (``FeatureStore``, ``Rows``,
        ``data.normalized.NormalizedRows``: anything with ``shape``, ``len`` and
        ``X[index_array]``) on the large-corpus path.
    y : (M,) int64
    source_index : (M,) int64
        Row (position in the metadata / ``paths``) of the original clip of each example; an
        augmented copy points at the clip it was made from.
    augmented : (M,) bool
        True for augmented copies.
    snr_db : (M,) float64
        SNR of the added noise for AWGN copies, NaN otherwise.
    """

    X: np.ndarray
    y: np.ndarray
    source_index: np.ndarray
    augmented: np.ndarray
    snr_db: np.ndarray

    def __len__(self) -> int:
        return len(self.X)


def dataset_from_indices(indices, paths, labels, config: FeatureConfig | None = None,
                         clean: Extracted | None = None, **extract_kwargs) -> FeatureDataset:
    """Clean (not augmented) features of the rows ``indices``, e.g. ``split["test"]``.

    Parameters
    ----------
    indices : (n,) int
        Rows of ``paths`` / ``labels``.
    paths : sequence of str, (N,)
    labels : (N,) int
    config : FeatureConfig, optional
    clean : Extracted, optional
        ``extract(paths, config)`` of **all** N files, computed once and indexed here; without
        it only the requested files are extracted (and cached under their own key).
    **extract_kwargs
        ``batch_size``, ``progress``, ``cache_dir``, ``on_disk`` for ``extract``.

    Returns
    -------
    FeatureDataset
        One row per requested index whose file was readable (order kept). ``X`` is in memory,
        unless the features are on disk (``clean.X`` a ``FeatureStore``, or ``on_disk=True``):
        then it reads them on demand (a ``data.store.Rows`` selection, or the store).
    """
    indices = np.asarray(indices, dtype=np.int64)
    labels = np.asarray(labels)
    paths = [os.fspath(p) for p in paths]                 # positions, whatever the container
    if clean is None:
        sub = extract([paths[i] for i in indices], config, **extract_kwargs)
        X, rows = sub.X, indices[sub.kept]
    else:
        if len(clean.kept) and clean.kept.max() >= len(paths):
            raise ValueError("clean features do not belong to these paths (a kept index is "
                             f"{clean.kept.max()} >= {len(paths)} files)")
        position = np.full(len(paths), -1, dtype=np.int64)
        position[clean.kept] = np.arange(len(clean.kept))
        ok = position[indices] >= 0
        rows = indices[ok]
        in_memory = isinstance(clean.X, np.ndarray)
        X = clean.X[position[rows]] if in_memory else Rows(clean.X, position[rows])
    n = len(rows)
    return FeatureDataset(X=X, y=labels[rows].astype(np.int64), source_index=rows,
                          augmented=np.zeros(n, bool), snr_db=np.full(n, np.nan))


# ============================================================================ standardization
class Standardizer:
    """``x_hat = (x - mean) / std`` with statistics of the training features only.

    ``mode="per_bin"`` (default) keeps one mean and standard deviation per channel and mel bin,
    pooled over clips and frames: every frequency band is centred and scaled on its own, which
    removes the spectral tilt common to all clips while keeping each clip's changes over time.
    ``mode="global"`` keeps one pair per channel. Standard deviations below ``eps`` are
    replaced by 1 (a constant band is only centred).

    Parameters
    ----------
    mode : {"per_bin", "global"}
    eps : float > 0
        Standard deviations below it count as 1.

    Attributes
    ----------
    mean_, std_ : float32 arrays of shape (1, C, F, 1) (per_bin) or (1, C, 1, 1) (global)
        Broadcast against features ``(N, C, F, T)`` (F mel bins, T frames).
    """

    def __init__(self, mode: str = "per_bin", eps: float = 1e-6):
        if mode not in ("per_bin", "global"):
            raise ValueError(f"mode={mode!r} must be 'per_bin' or 'global'")
        self.mode, self.eps = mode, eps
        self.mean_ = self.std_ = None

    def _axes(self, ndim: int) -> tuple:
        if ndim != 4:
            raise ValueError(f"features must be (N, C, F, T), got {ndim} dimensions")
        return (0, 3) if self.mode == "per_bin" else (0, 2, 3)

    def fit(self, X, chunk: int = 256) -> "Standardizer":
        """Mean and standard deviation of ``X : (N, C, F, T)`` in float64, two passes over
        chunks of ``chunk`` clips (no full-size temporary).

        Over the pooled axes (clips and frames for ``per_bin``, also mel bins for
        ``global``), with ``n`` values pooled::

            mean = (1/n) sum x,    std = sqrt((1/n) sum (x - mean)^2)    (population, ddof=0)

        and ``std < eps`` replaced by 1. Only ``X[i:i + chunk]`` is ever read, so ``X`` may
        be on disk (a ``FeatureStore`` or a ``Rows`` selection of one): the statistics are
        then streamed, bit for bit those of the same rows in memory.

        Parameters
        ----------
        X : (N, C, F, T) float array, FeatureStore or Rows, N >= 1
            Training features (F mel bins, T frames).
        chunk : int > 0
            Clips per pass step (memory: one chunk in float64).

        Returns
        -------
        Standardizer
            ``self``, with ``mean_`` and ``std_`` float32 of shape ``(1, C, F, 1)``
            (``per_bin``) or ``(1, C, 1, 1)`` (``global``).

        Raises
        ------
        ValueError
            ``X`` not 4-D, ``N = 0``, or ``chunk`` = 0.
        """
        X = as_rows(X)
        axes = self._axes(len(X.shape))
        if len(X) == 0:
            raise ValueError("cannot fit a Standardizer on 0 examples")
        count = np.prod([X.shape[a] for a in axes])               # values pooled per statistic
        total = sum(X[i:i + chunk].sum(axis=axes, keepdims=True, dtype=np.float64)
                    for i in range(0, len(X), chunk))
        mean = total / count
        sq = sum(np.square(X[i:i + chunk] - mean).sum(axis=axes, keepdims=True)
                 for i in range(0, len(X), chunk))
        std = np.sqrt(sq / count)
        self.mean_ = mean.astype(np.float32)
        self.std_ = np.where(std < self.eps, 1.0, std).astype(np.float32)
        return self

    def transform(self, X: np.ndarray, copy: bool = True) -> np.ndarray:
        """Standardized float32 features (in place when ``copy=False`` and ``X`` is float32).

        ``x_hat = (x - mean_) / std_``, broadcast over the pooled axes.

        Parameters
        ----------
        X : (N, C, F, T) float
            Features with the ``C`` and ``F`` of the fit (any ``N``, ``T``; ``F`` any too
            for ``global``).
        copy : bool
            True: work on a new array. False: overwrite ``X`` itself when it is a float32
            ndarray (else a converted array is made anyway).

        Returns
        -------
        (N, C, F, T) float32
            ``X`` itself when standardized in place.

        Raises
        ------
        ValueError
            Not fitted; ``X`` not 4-D; ``C`` or ``F`` the statistics do not broadcast to
            (NumPy's broadcasting error; a single-channel fit does broadcast over any ``C``).
        """
        if self.mean_ is None:
            raise ValueError("Standardizer is not fitted: call fit(X_train) first")
        X = np.array(X, dtype=np.float32) if copy else np.asarray(X, dtype=np.float32)
        self._axes(X.ndim)
        X -= self.mean_
        X /= self.std_
        return X

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """``x = x_hat * std + mean``."""
        if self.mean_ is None:
            raise ValueError("Standardizer is not fitted: call fit(X_train) first")
        return (np.asarray(X, np.float32) * self.std_ + self.mean_).astype(np.float32)

    def state_dict(self) -> dict:
        """Arrays and settings for a checkpoint."""
        return {"mode": self.mode, "eps": self.eps, "mean": self.mean_, "std": self.std_}

    @classmethod
    def from_state_dict(cls, state: dict) -> "Standardizer":
        """Inverse of ``state_dict``. Statistics saved for time-first features (a ``bin_axis``
        of -1 in checkpoints of the earlier layout) are transposed to ``(1, C, F, 1)``."""
        s = cls(state["mode"], float(state["eps"]))
        s.mean_ = np.asarray(state["mean"], np.float32)
        s.std_ = np.asarray(state["std"], np.float32)
        if int(state.get("bin_axis", -2)) % 4 == 3:
            s.mean_, s.std_ = np.swapaxes(s.mean_, -1, -2), np.swapaxes(s.std_, -1, -2)
        return s


# ============================================================================ other normalizations
#: the normalizations ``app.experiment.prepare`` offers
NORMALIZATIONS = ("global", "utterance", "speaker")


def normalize_utterances(X: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Each clip by its own statistics: per clip, channel and mel bin, over its frames.

    ``x_hat[n, c, f, t] = (x[n, c, f, t] - m[n, c, f]) / s[n, c, f]`` with ``m`` and ``s``
    the mean and (population) standard deviation of ``x[n, c, f, :]``, ``s < eps`` counted as
    1: cepstral mean and variance normalization applied to log-mel bands. Needs no other clip,
    so training, test and a single file at prediction time are treated alike.

    Parameters
    ----------
    X : (N, C, F, T) float
        Features (F mel bins, T frames).
    eps : float > 0

    Returns
    -------
    (N, C, F, T) float32, a new array.

    Raises
    ------
    ValueError
        ``X`` not 4-D.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 4:
        raise ValueError(f"features must be (N, C, F, T), got shape {X.shape}")
    mean = X.mean(axis=3, keepdims=True, dtype=np.float64)
    std = np.sqrt(np.square(X - mean).mean(axis=3, keepdims=True))
    std = np.where(std < eps, 1.0, std)
    return ((X - mean) / std).astype(np.float32)


def normalize_speakers(X: np.ndarray, speakers, eps: float = 1e-6) -> np.ndarray:
    """Each speaker's clips by that speaker's statistics (per channel and mel bin).

    For every speaker ``s``, a ``Standardizer`` (``per_bin``) is fitted on the rows of ``X``
    with ``speakers == s`` and applied to them. No label is read. Applied to the test set,
    the statistics come from the test speaker's own (unlabeled) clips: the normalization is
    transductive, it needs a speaker's clips together at test time (see the README).

    Parameters
    ----------
    X : (N, C, F, T) float
    speakers : (N,) array-like
        Speaker (or speaker group) of every row.
    eps : float > 0
        As in ``Standardizer``.

    Returns
    -------
    (N, C, F, T) float32, a new array.

    Raises
    ------
    ValueError
        ``X`` not 4-D, or ``speakers`` of another length than ``X``.
    """
    X = np.asarray(X, dtype=np.float32)
    speakers = np.asarray(speakers)
    if X.ndim != 4:
        raise ValueError(f"features must be (N, C, F, T), got shape {X.shape}")
    if speakers.shape != (len(X),):
        raise ValueError(f"speakers must be (N,) = ({len(X)},), got shape {speakers.shape}")
    out = np.empty_like(X)
    for s in np.unique(speakers):
        rows = np.flatnonzero(speakers == s)
        out[rows] = Standardizer(eps=eps).fit(X[rows]).transform(X[rows])
    return out


def normalize(X: np.ndarray, mode: str, standardizer=None, speakers=None,
              copy: bool = True) -> np.ndarray:
    """Features normalized the way ``mode`` names (one of ``NORMALIZATIONS``).

    - ``"global"``: ``standardizer.transform(X)``, the training rows' per-bin statistics;
    - ``"utterance"``: ``normalize_utterances(X)``, every clip by its own statistics;
    - ``"speaker"``: ``normalize_speakers(X, speakers)``, every speaker by its own rows'.

    Parameters
    ----------
    X : (N, C, F, T) float
    mode : {"global", "utterance", "speaker"}
    standardizer : Standardizer or None
        Fitted; required by ``"global"``.
    speakers : (N,) array-like or None
        Speaker of every row; required by ``"speaker"``.
    copy : bool
        ``"global"`` only: False transforms a float32 ``X`` in place (the other modes always
        return a new array).

    Returns
    -------
    (N, C, F, T) float32

    Raises
    ------
    ValueError
        An unknown ``mode``, a missing ``standardizer`` or ``speakers``, ``X`` not 4-D.
    """
    if mode == "global":
        if standardizer is None:
            raise ValueError("normalize='global' needs the fitted training Standardizer")
        return standardizer.transform(X, copy=copy)
    if mode == "utterance":
        return normalize_utterances(X)
    if mode == "speaker":
        if speakers is None:
            raise ValueError("normalize='speaker' needs the speaker of every row (speakers=)")
        return normalize_speakers(X, speakers)
    raise ValueError(f"normalize={mode!r} must be one of {NORMALIZATIONS}")
