"""The steps around a training loop that every experiment script shares.

A script reads top to bottom (``experiments/baved_parallel.py``): data, split, then

1. ``prepare``: features of every file (batched, cached), the training set (clean training
   clips plus augmented copies of **training clips only**: ``data.augment.build_training_set``
   reads nothing but ``split["train"]``), a check that no validation or test clip (or a copy of
   one, by audio content: ``check_no_leak``) reached it, and standardization with statistics of
   the training rows only;
2. the model, the optimizer and the training loop (in the script, with ``app.training``);
3. ``test_and_report``: the trained model (the best-validation weights, unless the script was
   told not to restore them) on the test set once, and the run folder's
   reports: metrics.json, report.txt, confusion_matrix.csv, predictions.csv (+ PNGs when
   matplotlib is installed).

Dataset specifics (how paths and labels are read, which split) stay in the scripts and in
``minitorch_ser.data``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import augment, corpora, crosscorpus, features
from ..data.features import FeatureConfig, Standardizer
from ..data.normalized import NormalizedRows
from ..data.splits import save_split
from . import metrics as M
from . import plots
from .training import FitResult, evaluate


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


def prepare(paths, labels, split: dict, config: FeatureConfig, *, copies: float = 0.0,
            snr_db=(15.0, 30.0), wave_augment=None, feature_augment=None,
            oversample: bool = False, seed: int = 0, cache_dir=features.DEFAULT_CACHE_DIR,
            groups=None, progress: bool = True, normalize: str = "global", speakers=None,
            speed: float = 0.0, vtlp: float = 0.0, on_disk: bool = False):
    """Features of the three sets, augmentation of training only, then normalization.

    Normalization (``normalize``): "global" standardizes every set with per-bin statistics
    of the training rows only (``Standardizer``, returned for prediction); "utterance" each
    clip with its own statistics (``features.normalize_utterances``); "speaker" each
    speaker's rows with that speaker's statistics, computed in each set from its own rows,
    without labels (``features.normalize_speakers``): transductive for validation and test,
    whose speakers' unlabeled clips are used together.

    Corpora larger than memory (``on_disk=True``): the clean features stay in the cache's
    ``FeatureStore`` (``features.extract(on_disk=True)``), the training set (clean rows and
    augmented copies) is written chunk by chunk into a store of its own in ``cache_dir``
    (``build_training_set(on_disk=True)``), and the X of each set is a
    ``data.normalized.NormalizedRows`` that reads its rows from disk and normalizes each
    batch as it is read (statistics streamed over the stores: the training rows' per-bin
    mean and deviation, or each speaker's). In memory then: labels, indices and statistics,
    and one batch at a time. Every batch is bit for bit the in-memory path's.

    Parameters
    ----------
    paths : sequence of str, (N,)
        Audio files.
    labels : (N,) int
        Class of every file.
    split : dict
        ``{"train", "val", "test"}`` row positions.
    config : FeatureConfig
        Feature parameters; features are ``(C, n_mels, n_frames)`` per clip.
    copies : float >= 0
        Augmented copies per training clip (``data.augment.build_training_set``).
    snr_db : (float, float)
        SNR range in dB of the default AWGN copies.
    wave_augment, feature_augment : callable or None
        Other waveform / feature augmentations (``build_training_set``).
    oversample : bool
        Balance the training classes by random oversampling (training rows only).
    seed : int
        Seeds the augmentation and oversampling draws.
    cache_dir : path or None
        Feature cache folder.
    groups : (N,) array-like or None
        ``dup_group`` of ``data.duplicates``: extends the leak check from row positions to
        audio content (``check_no_leak``).
    progress : bool
        Progress lines on stderr.
    normalize : {"global", "utterance", "speaker"}
        See above.
    speakers : (N,) array-like or None
        Speaker (group) of every row; required by ``normalize="speaker"``.
    speed : float in [0, 1)
        Speed perturbation of the copies (``data.augment.SpeedPerturb``, rates
        1 - speed, 1, 1 + speed, then ``wave_augment``, or white noise at ``snr_db`` when
        there is none); 0: off.
    vtlp : float in [0, 1)
        Vocal tract length perturbation of the copies (``build_training_set``); 0: off.
    on_disk : bool
        Keep the features on disk and normalize batch by batch (see above); needs
        ``cache_dir``.

    Returns
    -------
    (train, val, test, standardizer) : FeatureDataset x 3, Standardizer or None
        X ``(M, C, n_mels, n_frames)`` already normalized: arrays, or with ``on_disk``
        ``NormalizedRows`` read on demand; the standardizer only for ``normalize="global"``.

    Raises
    ------
    RuntimeError
        If any training row (original or augmented copy) comes from a validation or test clip.
    ValueError
        An unknown ``normalize``; ``"speaker"`` without ``speakers``; ``on_disk`` without a
        ``cache_dir``.
    """
    if normalize not in features.NORMALIZATIONS:
        raise ValueError(f"normalize={normalize!r} must be one of {features.NORMALIZATIONS}")
    if normalize == "speaker" and speakers is None:
        raise ValueError("normalize='speaker' needs the speaker of every row (speakers=)")
    if speed > 0:   # the speed change first, then the noise (or the given wave_augment)
        wave_augment = augment.SpeedPerturb(speed, tuple(snr_db), then=wave_augment)
    if on_disk and cache_dir is None:
        raise ValueError("on_disk=True needs a cache_dir: the features are written there")
    clean = features.extract(paths, config, cache_dir=cache_dir, progress=progress,
                             on_disk=on_disk)
    train = augment.build_training_set(
        split, paths, labels, config, copies=copies, snr_range=snr_db, wave_augment=wave_augment,
        feature_augment=feature_augment, oversample=oversample, rng=seed, clean=clean,
        progress=progress, cache_dir=cache_dir, vtlp=vtlp, on_disk=on_disk)
    val = features.dataset_from_indices(split["val"], paths, labels, config, clean=clean)
    test = features.dataset_from_indices(split["test"], paths, labels, config, clean=clean)
    held_out = np.union1d(split["val"], split["test"])
    leaked = np.intersect1d(train.source_index, held_out)
    if len(leaked):
        raise RuntimeError(f"{len(leaked)} training rows come from validation/test clips "
                           f"(e.g. row {leaked[0]}): refusing to train on a leaky split")
    if groups is not None:
        check_no_leak(split, groups, train.source_index)
    standardizer = None
    if on_disk:     # the same arithmetic, batch by batch as the rows are read
        if normalize == "global":
            standardizer = Standardizer().fit(train.X)        # streamed over the store
        for part in (train, val, test):     # speakers: each set's own rows, as in memory
            who = np.asarray(speakers)[part.source_index] if normalize == "speaker" else None
            part.X = NormalizedRows(part.X, normalize, standardizer, who)
    else:
        if normalize == "global":
            standardizer = Standardizer().fit(train.X)        # per channel and mel bin
        for part in (train, val, test):     # speakers: each set's own rows, no cross-set stats
            who = np.asarray(speakers)[part.source_index] if normalize == "speaker" else None
            part.X = features.normalize(part.X, normalize, standardizer, who,
                                        copy=part is not train)
    return train, val, test, standardizer


def write_split(out_dir, split: dict, df: pd.DataFrame) -> None:
    """``split.csv`` of a run: row, file, set and, when ``df`` has them, the content columns
    (``content_hash``, ``dup_group``, ``speaker_group``) so anyone can check that no recording
    of the test set is in training (``check_no_leak`` is run first).

    Parameters
    ----------
    out_dir : path
        The run folder.
    split : dict
        ``{"train", "val", "test"}`` row positions into ``df``.
    df : pandas.DataFrame, (N rows)
        The metadata, with a ``path`` column.
    """
    columns = df[[c for c in ("content_hash", "dup_group", "speaker_group")
                  if c in df.columns]].reset_index(drop=True)
    if "dup_group" in columns.columns:
        check_no_leak(split, columns["dup_group"].to_numpy())
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    save_split(split, Path(out_dir) / "split.csv", paths=df["path"].tolist(),
               columns=columns if len(columns.columns) else None)


def test_and_report(model, test, class_names, result: FitResult, out_dir, paths,
                    extra: dict | None = None) -> dict:
    """Evaluate ``model`` (as training left it: the best-validation weights when they were
    restored) on the test set once; write the run's reports and ``metrics.json`` (with UA,
    WA, macro F1 and their 95 % bootstrap intervals, ``metrics.bootstrap_ci``); return the
    metrics.

    Parameters
    ----------
    model : Module
    test : FeatureDataset
        Standardized test features ``(M, C, n_mels, n_frames)`` and labels.
    class_names : sequence of str, (K,)
    result : FitResult
        The training history and best epoch.
    out_dir : path
        The run folder.
    paths : sequence of str, (N,)
        Files of all rows (the test rows are ``test.source_index``).
    extra : dict or None
        More fields for metrics.json (sizes, timings, the protocol).
    """
    class_names = [str(c) for c in class_names]
    test_eval = evaluate(model, test.X, test.y)
    best = next((r for r in result.history if r["epoch"] == result.best_epoch), {})
    return _test_reports(out_dir, test.y, test_eval, class_names, result.history,
                         [paths[i] for i in test.source_index], {
        "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
        "best_val_accuracy": best.get("val_acc"), "best_val_ua": best.get("val_ua"),
        "epochs_run": len(result.history), "stopped_early": result.stopped_early,
        # training wall time over every epoch, also those of a run this one resumed
        "train_seconds": float(sum(row["seconds"] for row in result.history)),
        **(extra or {}),
    })


def _test_reports(out_dir, y, evaluation, class_names, history, paths, extra: dict) -> dict:
    """``write_reports``, the 95 % percentile-bootstrap intervals over the test clips (1,000
    resamples, seed 0; appended to report.txt), ``extra``, and metrics.json; returns it.
    Warns (``UserWarning``) when a class of the test set is never predicted."""
    report = write_reports(out_dir, y, evaluation, class_names, history, paths=paths)
    report["ci95"] = ci = M.bootstrap_ci(y, evaluation.predictions, n_classes=len(class_names))
    with open(Path(out_dir) / "report.txt", "a") as f:
        f.write("95% bootstrap intervals (1000 resamples of the test clips): "
                + ", ".join(f"{name} [{ci[key][0]:.4f}, {ci[key][1]:.4f}]"
                            for key, name in (("ua", "UA"), ("wa", "WA"),
                                              ("macro_f1", "macro F1"))) + "\n")
    if report["never_predicted"]:
        warnings.warn(f"no test clip is predicted as {', '.join(report['never_predicted'])}: "
                      f"the predictions collapsed onto fewer classes (see "
                      f"{Path(out_dir) / 'report.txt'})", stacklevel=2)
    report.update({"test_loss": evaluation.loss, **extra})
    (Path(out_dir) / "metrics.json").write_text(M.to_json(report))
    return report


def write_reports(out_dir, y_true, test_eval, class_names, history, paths=None) -> dict:
    """metrics.json body, report.txt, confusion_matrix.csv, predictions.csv and the figures.

    Writes into ``out_dir``: ``report.txt`` (``metrics.classification_report`` with the
    one-vs-rest accuracy column, then ``per_class_accuracy_lines``), ``confusion_matrix.csv``
    (rows ``true_<name>``, columns ``pred_<name>``), ``predictions.csv`` (only with ``paths``:
    path, true, pred and one ``p_<name>`` column per class) and, with matplotlib,
    ``confusion_matrix.png`` and ``curves.png``. ``metrics.json`` itself is left to the
    caller (``test_and_report``).

    Parameters
    ----------
    out_dir : str or path
        The run folder; it must exist.
    y_true : (M,) int
        Test labels in ``[0, K)``.
    test_eval : EvalResult
        ``evaluate`` on the same M clips: ``predictions : (M,)``, ``probabilities : (M, K)``.
    class_names : list of str, (K,)
        Names of the classes, in class-index order.
    history : list of dict
        ``FitResult.history``, for ``curves.png`` (empty: no curves).
    paths : sequence of str, (M,), or None
        File of each test clip, for ``predictions.csv`` (None: not written).

    Returns
    -------
    dict
        ``metrics.classification_metrics`` of the test set (accuracy, macro and weighted
        averages, per class figures, confusion matrix, class names).

    Raises
    ------
    ValueError
        Labels or predictions not 1-D integers in ``[0, K)``, or of different lengths
        (``metrics``); ``paths`` of another length than ``y_true``.
    OSError
        A file cannot be written (e.g. ``out_dir`` does not exist).
    """
    out_dir = Path(out_dir)
    k = len(class_names)
    y_pred = test_eval.predictions
    report = M.classification_metrics(y_true, y_pred, n_classes=k, target_names=class_names)
    text = (M.classification_report(y_true, y_pred, target_names=class_names, n_classes=k,
                                    per_class_accuracy=True)
            + "\nPer class, the share of its clips classified correctly (recall, correct/clips):\n"
            + M.per_class_accuracy_lines(y_true, y_pred, class_names, n_classes=k) + "\n\n")
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


def test_on_corpus(model, df: pd.DataFrame, class_names, config: FeatureConfig, run_dir,
                   corpus: str, label_map="four", *, normalize: str = "global",
                   standardizer=None, cache_dir=None, run_metrics: dict | None = None,
                   progress: bool = True) -> dict:
    """Test a trained model on every clip of another corpus (cross-corpus evaluation).

    The clips' features are computed as in training and normalized the training's way
    (``features.normalize``: "global" with the training ``standardizer``, "utterance" per
    clip, "speaker" with each test speaker's own clips, transductive as in training). The
    reports are those of the in-corpus test (report.txt, confusion_matrix.csv,
    predictions.csv, metrics.json with UA, WA, macro F1 and their 95 % bootstrap intervals),
    written into ``run_dir/cross_<corpus>``; with ``run_metrics`` (the in-corpus test's
    metrics), the cross-corpus figures are added to it under ``"cross"`` and the run's
    metrics.json is written again with them.

    Parameters
    ----------
    model : Module
        Trained on the shared classes ``class_names``.
    df : pandas.DataFrame, (N rows)
        The other corpus after the label map (``crosscorpus.shared_labels``): ``path``,
        ``label`` (a shared class name), ``speaker``.
    class_names : sequence of str, (K,)
        The shared classes, in the model's output order.
    config : FeatureConfig
        The training's feature parameters.
    run_dir : path
        The run folder.
    corpus : str
        The other corpus's name; ``label_map`` the map used (``crosscorpus``).
    normalize : {"global", "utterance", "speaker"}
    standardizer : Standardizer or None
        The training statistics, for ``normalize="global"``.
    cache_dir : path or None
        Feature cache.
    run_metrics : dict or None
        The in-corpus metrics of the run (changed in place, see above).
    progress : bool

    Returns
    -------
    dict
        The cross-corpus metrics (``metrics.classification_metrics`` plus ``ci95``,
        ``test_loss``, ``n_unreadable``, ``corpus``, ``label_map``).

    Raises
    ------
    ValueError
        No readable clip, or a label outside ``class_names``.
    """
    class_names = [str(c) for c in class_names]
    unknown = sorted(set(df["label"]) - set(class_names))
    if unknown:
        raise ValueError(f"labels {unknown} of the test corpus are not among the model's "
                         f"classes {class_names}")
    paths = df["path"].tolist()
    ex = features.extract(paths, config, cache_dir=cache_dir, progress=progress)
    if len(ex.kept) == 0:
        raise ValueError("no clip of the test corpus could be read")
    kept = df.iloc[ex.kept].reset_index(drop=True)
    y = np.array([class_names.index(v) for v in kept["label"]], dtype=np.int64)
    X = features.normalize(ex.X, normalize, standardizer,
                           kept["speaker"].astype(str).to_numpy())
    out_dir = Path(run_dir) / f"cross_{corpus}"
    out_dir.mkdir(parents=True, exist_ok=True)
    report = _test_reports(out_dir, y, evaluate(model, X, y), class_names, [],
                           kept["path"].tolist(),
                           {"n_unreadable": len(ex.failed), "corpus": corpus,
                            "label_map": crosscorpus.describe(label_map)})
    if run_metrics is not None:
        run_metrics["cross"] = {k: report[k] for k in ("ua", "wa", "macro_f1", "ci95", "n",
                                                      "corpus")}
        (Path(run_dir) / "metrics.json").write_text(M.to_json(run_metrics))
    return report


def load_corpus(name: str, root=None, errors: str = "skip"):
    """A registered corpus as the experiment scripts use it.

    Parameters
    ----------
    name : str
        ``data.corpora`` name.
    root : str or None
        Its folder (default: the corpus's environment variable).
    errors : {"skip", "raise"}
        Files not named by the corpus's convention: skipped with one warning, or an error.

    Returns
    -------
    (df, labels, class_names, root) : DataFrame (N rows: path, label, speaker, ...),
        (N,) int64 class indices, list of str, str

    Raises
    ------
    ValueError
        Unknown corpus, or (``errors="raise"``) badly named files.
    FileNotFoundError
        No folder, or no clip of the corpus in it (with the download instructions).
    """
    root = corpora.data_folder(name, root)
    df, class_names = corpora.load(name, root, errors=errors)
    index = {c: k for k, c in enumerate(class_names)}
    labels = np.array([index[v] for v in df["label"]], dtype=np.int64)
    return df, labels, list(class_names), root


def cross_corpus_data(df, labels, class_names, train_corpus: str, test_corpus: str,
                      test_root=None, label_map="four"):
    """Both sides of a cross-corpus run mapped onto the shared classes.

    Parameters
    ----------
    df : pandas.DataFrame, (N rows)
        The training corpus's table; ``labels : (N,)`` its class indices into
        ``class_names``.
    train_corpus : str
        Its registered name, or ``"manifest"``.
    test_corpus : str
        The registered corpus to test on; ``test_root`` its folder.
    label_map : "four" or path
        ``data.crosscorpus``.

    Returns
    -------
    (df, labels, classes, test_df)
        The training rows kept by the map (index 0 .. M-1, ``label`` the shared class), their
        indices into ``classes`` (the shared classes), and the test corpus's kept rows.

    Raises
    ------
    ValueError, FileNotFoundError
        As ``crosscorpus.shared_labels`` and ``load_corpus``; a shared class the training
        corpus has no clip of.
    """
    named = df.assign(label=[class_names[int(k)] for k in labels])
    kept, classes = crosscorpus.shared_labels(named, train_corpus, label_map)
    test_df, _, _, _ = load_corpus(test_corpus, test_root)
    test_kept, _ = crosscorpus.shared_labels(test_df, corpora.corpus(test_corpus).name,
                                             label_map)
    missing = [c for c in classes if c not in set(kept["label"])]
    if missing:
        raise ValueError(f"{crosscorpus.describe(label_map)}: the training corpus has no clip "
                         f"of {missing}; the model could not learn them")
    index = {c: k for k, c in enumerate(classes)}
    return kept, np.array([index[v] for v in kept["label"]], dtype=np.int64), classes, test_kept
