"""One classification run end to end, shared by the experiment scripts.

``run`` takes a list of audio files with integer labels and a split, and does, in this order:

1. features of every file, batched and cached (``data.features.extract``);
2. the training set: clean training clips plus augmented copies of **training clips only**
   (``data.augment.build_training_set`` reads nothing but ``split["train"]``), and a check that
   no validation or test clip reached it;
3. standardization with statistics of the training set only;
4. ``train.fit`` with checkpoints in the run folder, then the best-validation weights on the
   test set;
5. the run folder's reports: metrics.json, report.txt, confusion_matrix.csv (+ PNGs when
   matplotlib is installed), predictions.csv.

Dataset specifics (how paths and labels are read, which split) stay in the scripts and in
``minitorch_ser.data``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics as M
from . import plots
from ..data import augment, features
from ..data.features import FeatureConfig, Standardizer
from ..data.splits import save_split
from .training import TrainConfig, evaluate, fit


@dataclass
class RunSpec:
    """What a run needs besides the data: model, features, augmentation, training settings.

    Attributes
    ----------
    model_factory : callable
        ``model_factory(n_classes, feature_shape) -> Module``; the model must expose ``config``.
    feature_config : FeatureConfig
    train_config : TrainConfig
    copies : float >= 0
        Augmented copies per training clip (fractional: a share of the clips get one).
    snr_range : (float, float)
        SNR range (dB) of the default AWGN augmentation.
    wave_augment, feature_augment : callable or None
        Replace AWGN / add feature-level augmentation (see ``build_training_set``).
    oversample : bool
        Balance training classes by random oversampling (after the split, training only).
    cache_dir : path or None
        Feature cache folder (None: no cache).
    extra_meta : dict
        Added to the checkpoints' ``meta`` (e.g. the dataset name and target).
    """

    model_factory: object
    feature_config: FeatureConfig = field(default_factory=FeatureConfig)
    train_config: TrainConfig = field(default_factory=TrainConfig)
    copies: float = 2
    snr_range: tuple = (15.0, 30.0)
    wave_augment: object = None
    feature_augment: object = None
    oversample: bool = False
    cache_dir: object = features.DEFAULT_CACHE_DIR
    extra_meta: dict = field(default_factory=dict)


def check_no_leak(split: dict, groups, train_rows=None) -> None:
    """Refuse a split where one recording is on both sides.

    Parameters
    ----------
    split : dict
        ``{"train", "val", "test"}`` row positions.
    groups : (N,) array-like
        Recording group of every row (``dup_group`` of ``data.duplicates``: equal for files
        with the same decoded samples).
    train_rows : (M,) int or None
        Source rows of the actual training examples (augmented copies included); default
        ``split["train"]``.

    Raises
    ------
    RuntimeError
        A group has rows among the training examples and in validation or test.
    """
    groups = np.asarray(groups)
    train_rows = split["train"] if train_rows is None else train_rows
    held_out = np.union1d(split["val"], split["test"])
    shared = np.intersect1d(groups[np.asarray(train_rows, dtype=np.int64)], groups[held_out])
    if len(shared):
        row = int(held_out[np.isin(groups[held_out], shared)][0])
        raise RuntimeError(f"{len(shared)} recording(s) are both in training and in "
                           f"validation/test (same decoded samples; e.g. row {row}): refusing "
                           "to train on a leaky split")


def prepare(paths, labels, split: dict, spec: RunSpec, progress: bool = True, groups=None):
    """Features of the three sets, augmentation of training only, training-only standardization.

    ``groups`` (``dup_group`` of ``data.duplicates``), when given, extends the leak check from
    row positions to audio content: no recording may be on both sides (``check_no_leak``).

    Returns
    -------
    (train, val, test, standardizer) : FeatureDataset x 3, Standardizer
        X arrays are already standardized.

    Raises
    ------
    RuntimeError
        If any training row (original or augmented copy) comes from a validation or test clip.
    """
    cfg = spec.feature_config
    clean = features.extract(paths, cfg, cache_dir=spec.cache_dir, progress=progress)
    train = augment.build_training_set(
        split, paths, labels, cfg, copies=spec.copies, snr_range=spec.snr_range,
        wave_augment=spec.wave_augment, feature_augment=spec.feature_augment,
        oversample=spec.oversample, rng=spec.train_config.seed, clean=clean, progress=progress,
        cache_dir=spec.cache_dir)
    val = features.dataset_from_indices(split["val"], paths, labels, cfg, clean=clean)
    test = features.dataset_from_indices(split["test"], paths, labels, cfg, clean=clean)
    held_out = np.union1d(split["val"], split["test"])
    leaked = np.intersect1d(train.source_index, held_out)
    if len(leaked):
        raise RuntimeError(f"{len(leaked)} training rows come from validation/test clips "
                           f"(e.g. row {leaked[0]}): refusing to train on a leaky split")
    if groups is not None:
        check_no_leak(split, groups, train.source_index)
    # statistics per channel and mel bin: the bin axis is the last one for time-first features
    standardizer = Standardizer(bin_axis=-1 if cfg.time_first else -2).fit(train.X)
    train.X = standardizer.transform(train.X, copy=False)
    val.X = standardizer.transform(val.X)
    test.X = standardizer.transform(test.X)
    return train, val, test, standardizer


def run(paths, labels, class_names, split: dict, spec: RunSpec, out_dir, resume: bool = False,
        progress: bool = True, prepared=None, content=None) -> dict:
    """Train, test and report one run in ``out_dir``; return its metrics dict.

    ``prepared`` (the result of ``prepare``) can be passed to reuse features across runs that
    share the split and the feature settings (the learning-rate sweep does). ``content`` (a
    table of N rows with ``content_hash``, ``dup_group`` [, ``speaker_group``], from
    ``data.duplicates.annotate``) is written into split.csv and checked for leaks.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [os.fspath(p) for p in paths]
    labels = np.asarray(labels, dtype=np.int64)
    class_names = [str(c) for c in class_names]
    columns = None
    if content is not None:
        columns = content[[c for c in ("content_hash", "dup_group", "speaker_group")
                           if c in content.columns]].reset_index(drop=True)
        check_no_leak(split, columns["dup_group"].to_numpy())
    save_split(split, out_dir / "split.csv", paths=paths, columns=columns)
    t0 = time.perf_counter()
    groups = None if columns is None else columns["dup_group"].to_numpy()
    train, val, test, standardizer = prepared or prepare(paths, labels, split, spec, progress,
                                                         groups=groups)
    prep_seconds = None if prepared else time.perf_counter() - t0  # shared: timed by the caller

    model = spec.model_factory(len(class_names), train.X.shape[1:])
    meta = {"class_names": class_names, "feature_config": spec.feature_config.to_dict(),
            "standardizer": standardizer.state_dict(), **spec.extra_meta}
    if progress:
        print(f"train {len(train)} rows ({int(train.augmented.sum())} augmented copies), "
              f"val {len(val)}, test {len(test)}; input {train.X.shape[1:]}; "
              f"{sum(p.size for p in model.parameters()):,} parameters")
    t1 = time.perf_counter()
    result = fit(model, (train.X, train.y), (val.X, val.y), spec.train_config, out_dir,
                 meta=meta, resume=resume)
    session_seconds = time.perf_counter() - t1
    # training wall time over every epoch, also those of a run this one resumed
    train_seconds = float(sum(row["seconds"] for row in result.history))

    test_eval = evaluate(model, test.X, test.y)
    report = write_reports(out_dir, test.y, test_eval, class_names, result.history,
                           paths=[paths[i] for i in test.source_index])
    report.update({
        "test_loss": test_eval.loss, "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "best_val_accuracy": next((r["val_acc"] for r in result.history
                                   if r["epoch"] == result.best_epoch), None),
        "epochs_run": len(result.history), "stopped_early": result.stopped_early,
        "train_seconds": train_seconds, "session_train_seconds": session_seconds,
        "prepare_seconds": prep_seconds,
        "n_train": len(train), "n_train_augmented": int(train.augmented.sum()),
        "n_val": len(val), "n_test": len(test),
    })
    (out_dir / "metrics.json").write_text(M.to_json(report))
    return report


def write_reports(out_dir, y_true, test_eval, class_names, history, paths=None) -> dict:
    """metrics.json body, report.txt, confusion_matrix.csv, predictions.csv and the figures."""
    out_dir = Path(out_dir)
    k = len(class_names)
    y_pred = test_eval.predictions
    report = M.classification_metrics(y_true, y_pred, n_classes=k, target_names=class_names)
    text = (M.classification_report(y_true, y_pred, target_names=class_names, n_classes=k,
                                    per_class_accuracy=True)
            + "\n\n" + M.per_class_accuracy_lines(y_true, y_pred, class_names, n_classes=k) + "\n")
    (out_dir / "report.txt").write_text(text)
    cm = M.confusion_matrix(y_true, y_pred, n_classes=k)
    pd.DataFrame(cm, index=[f"true_{c}" for c in class_names],
                 columns=[f"pred_{c}" for c in class_names]).to_csv(out_dir / "confusion_matrix.csv")
    if paths is not None:
        table = pd.DataFrame({"path": paths, "true": [class_names[i] for i in y_true],
                              "pred": [class_names[i] for i in y_pred]})
        for j, name in enumerate(class_names):
            table[f"p_{name}"] = test_eval.probabilities[:, j]
        table.to_csv(out_dir / "predictions.csv", index=False)
    plots.confusion_matrix(cm, class_names, out_dir / "confusion_matrix.png")
    plots.training_curves(history, out_dir / "curves.png")
    return report


def write_config(out_dir, **sections) -> None:
    """config.json: every setting of the run (dataclasses are expanded)."""
    def expand(v):
        if hasattr(v, "__dataclass_fields__"):
            return {k: expand(x) for k, x in asdict(v).items()}
        if isinstance(v, dict):
            return {k: expand(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [expand(x) for x in v]
        if isinstance(v, Path):
            return str(v)
        if callable(v):
            return getattr(v, "__name__", repr(v))
        return v
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "config.json").write_text(json.dumps(expand(sections), indent=2, default=str))
