"""Classification metrics, all computed from the confusion matrix.

With ``K`` classes, ``cm[i, j]`` counts the clips of true class ``i`` predicted as ``j`` (rows
true, columns predicted, as ``sklearn.metrics.confusion_matrix``). For class ``c``, out of
``n = sum(cm)`` clips:

    TP = cm[c, c]            FN = sum_j cm[c, j] - TP      (row minus diagonal)
    FP = sum_i cm[i, c] - TP (column minus diagonal)        TN = n - TP - FN - FP

    precision = TP / (TP + FP)          recall = TP / (TP + FN)   (= the class's hit rate)
    F1 = 2 precision recall / (precision + recall)
    accuracy_c = (TP + TN) / n          (one-vs-rest accuracy: the paper's Table 2, eq. (1))
    support = TP + FN                   (clips of the class)

**Zero division:** a ratio whose denominator is 0 (a class never predicted, a class absent
from ``y_true``, or ``precision + recall = 0``) is defined as 0.0, without a warning
(sklearn's ``zero_division=0``).

Averages: **macro** is the unweighted mean over the classes **present** in ``y_true``
(support > 0); a class absent from the test set has no recall to measure, and counting its
0.0 would scale macro precision, recall and F1 by ``K_present / K``. The absent classes are
listed (``absent_classes``) instead. **Weighted** averages weight by support, so absent classes
drop out of them by themselves. Macro F1 is the mean of the per-class F1 values (not the F1 of
macro precision and macro recall). Overall accuracy is ``trace(cm) / n``.

**UA and WA**, the two figures of the speech emotion recognition field (named so since the
INTERSPEECH 2009 Emotion Challenge, Schuller, Steidl and Batliner 2009), over the ``K'`` classes
present in ``y_true``:

    UA = (1/K') sum_{c present} recall_c        unweighted average recall = macro recall
    WA = sum_c TP_c / n = trace(cm) / n         weighted accuracy = overall accuracy

UA does not favour the frequent classes; WA does (it is the recall weighted by support).

**Uncertainty:** ``bootstrap_ci`` gives percentile bootstrap intervals of UA, WA and macro F1
over the test clips; ``summarize_folds`` gives the mean and standard deviation over the folds of
a cross-validation and the figures of the pooled confusion matrix.

**JSON:** ``to_json`` writes a report as strict JSON (no ``NaN`` or ``Infinity``, which are
not JSON): non-finite numbers become ``null`` and their places are listed under
``non_finite_fields``.
"""

from __future__ import annotations

import json
import math

import numpy as np


def _as_labels(y, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
        y = y.astype(np.int64)
    return y.astype(np.int64)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0.0 where ``den == 0``."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den != 0)


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts of (true, predicted) class pairs.

    Parameters
    ----------
    y_true, y_pred : (N,) int
        Class indices in ``[0, n_classes)``.
    n_classes : int > 0, optional
        ``K``; default ``max(y_true, y_pred) + 1``.

    Returns
    -------
    cm : (K, K) int64
        ``cm[i, j] = #{n : y_true[n] = i and y_pred[n] = j}``, computed as one ``bincount`` of
        ``K * y_true + y_pred``.
    """
    t, p = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}: they must match")
    if n_classes is None:
        n_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    if n_classes < 1:
        raise ValueError(f"n_classes={n_classes} must be >= 1")
    for name, y in (("y_true", t), ("y_pred", p)):
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(f"{name} holds classes in [{y.min()}, {y.max()}], outside "
                             f"[0, n_classes={n_classes})")
    return np.bincount(n_classes * t + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes).astype(np.int64)


def accuracy(y_true, y_pred) -> float:
    """Fraction of predictions equal to the truth, ``mean(y_true == y_pred)`` (0.0 when empty).

    Parameters
    ----------
    y_true, y_pred : (N,) int
        Class indices (floats with integer values are accepted); any range.

    Returns
    -------
    float in [0, 1]
        Share of the ``N`` pairs that agree (the overall accuracy); 0.0 when ``N = 0``.

    Raises
    ------
    ValueError
        An input that is not 1-D, holds non-integer values, or lengths that differ.
    """
    t, p = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}: they must match")
    return float(np.mean(t == p)) if t.size else 0.0


def _per_class(cm: np.ndarray) -> dict:
    """Per-class figures of one confusion matrix or a stack of them.

    ``cm : (..., K, K)`` int64, rows true; every returned array is ``(..., K)``. The equations
    are the module docstring's; ``per_class_metrics`` and ``bootstrap_ci`` share this code, so a
    resample's figures are those of the same clips passed to ``classification_metrics``.
    """
    tp = np.diagonal(cm, axis1=-2, axis2=-1)                          # (..., K)
    support = cm.sum(axis=-1)                                         # TP + FN, (..., K)
    predicted = cm.sum(axis=-2)                                       # TP + FP, (..., K)
    n = cm.sum(axis=(-2, -1))[..., None]                              # (..., 1)
    tn = n - support - predicted + tp
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1,
            "accuracy": _safe_div(tp + tn, np.broadcast_to(n, tp.shape)), "support": support}


def _macro_mean(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Mean of ``values : (..., K)`` over the classes where ``present : (..., K)`` is True;
    0.0 where no class is present. Shape ``(...)``."""
    return _safe_div(np.sum(np.where(present, values, 0.0), axis=-1), present.sum(axis=-1))


def per_class_metrics(cm) -> dict:
    """Per-class precision, recall, F1, one-vs-rest accuracy and support of a confusion matrix.

    Parameters
    ----------
    cm : (K, K) int
        Rows true, columns predicted.

    Returns
    -------
    dict of str -> (K,) ndarray
        ``precision``, ``recall``, ``f1``, ``accuracy`` (float64) and ``support`` (int64);
        equations and the zero-division rule in the module docstring.

    Raises
    ------
    ValueError
        ``cm`` not square.
    """
    cm = np.asarray(cm, dtype=np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square (K, K), got shape {cm.shape}")
    return _per_class(cm)


def metrics_from_confusion(cm, class_names=None) -> dict:
    """Every figure of ``classification_metrics``, computed from a confusion matrix alone.

    Use it for a matrix that is not one test set's labels, e.g. the sum of the folds' matrices
    (``summarize_folds``). ``classification_metrics`` is this function applied to
    ``confusion_matrix(y_true, y_pred)``.

    Parameters
    ----------
    cm : (K, K) int >= 0
        ``cm[i, j]``: clips of true class ``i`` predicted as ``j``; nested lists are accepted.
    class_names : sequence of str, (K,), optional
        Class names (default ``"0" .. "K-1"``).

    Returns
    -------
    dict
        As ``classification_metrics``: ``accuracy``, ``macro_*``, ``weighted_*``, ``n``,
        ``ua``, ``wa``, ``per_class``, ``absent_classes``, ``never_predicted`` (classes in
        ``y_true`` that no clip is predicted as: the sign of predictions collapsing onto
        fewer classes), ``confusion_matrix``, ``class_names``.

    Raises
    ------
    ValueError
        ``cm`` not square, with a negative or non-integer count, or ``class_names`` of another
        length than ``K``.
    """
    counts = np.asarray(cm)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"cm must be a square (K, K) confusion matrix, got shape {counts.shape}")
    if counts.size and not np.all(np.equal(np.mod(counts, 1), 0)):
        raise ValueError(f"cm must hold integer counts, got dtype {counts.dtype}")
    cm = counts.astype(np.int64)
    if np.any(cm < 0):
        raise ValueError(f"cm holds a negative count ({cm.min()}): counts must be >= 0")
    k = cm.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(s) for s in class_names]
    if len(names) != k:
        raise ValueError(f"{len(names)} class names for {k} classes: they must match")
    m = _per_class(cm)
    support = m["support"]
    present = support > 0                                             # classes in y_true
    out = {"accuracy": float(_safe_div(np.trace(cm), cm.sum())), "n": int(cm.sum())}
    for key in ("precision", "recall", "f1", "accuracy"):
        out[f"macro_{key}"] = float(_macro_mean(m[key], present))
    for key in ("precision", "recall", "f1"):
        out[f"weighted_{key}"] = float(_safe_div(np.sum(m[key] * support), support.sum()))
    out["ua"] = out["macro_recall"]                                   # (1/K') sum recall_c
    out["wa"] = out["accuracy"]                                       # sum_c TP_c / n
    out["per_class"] = {name: {"precision": float(m["precision"][c]), "recall": float(m["recall"][c]),
                               "f1": float(m["f1"][c]), "accuracy": float(m["accuracy"][c]),
                               "support": int(support[c])}
                        for c, name in enumerate(names)}
    out["absent_classes"] = [name for c, name in enumerate(names) if not present[c]]
    predicted = cm.sum(axis=0) > 0
    out["never_predicted"] = [name for c, name in enumerate(names)
                              if present[c] and not predicted[c]]
    out["confusion_matrix"] = cm.tolist()
    out["class_names"] = names
    return out


def classification_metrics(y_true, y_pred, n_classes: int | None = None,
                           target_names=None) -> dict:
    """Every figure of a test set in one JSON-friendly dict.

    With ``K'`` the number of classes present in ``y_true`` and ``n`` clips:

        UA = (1/K') sum_{c present} recall_c      (unweighted average recall)
        WA = sum_c TP_c / n                       (weighted accuracy, the overall accuracy)

    (Schuller, Steidl and Batliner, INTERSPEECH 2009 Emotion Challenge); the other equations
    are in the module docstring.

    Parameters
    ----------
    y_true, y_pred : (N,) int
        Class indices.
    n_classes : int, optional
        ``K`` (default: from the labels, or ``len(target_names)``).
    target_names : sequence of str, optional
        Class names (default ``"0" .. "K-1"``).

    Returns
    -------
    dict
        ``accuracy``, ``macro_precision``, ``macro_recall`` (UA), ``macro_f1``,
        ``macro_accuracy``, ``weighted_precision``, ``weighted_recall``, ``weighted_f1``,
        ``n`` (floats / int); ``ua`` (equal to ``macro_recall``) and ``wa`` (equal to
        ``accuracy``); the macro figures average over the classes present in
        ``y_true`` (0.0 when none is); ``absent_classes``: names of the classes with no clip
        in ``y_true``, excluded from the macro averages (their per-class figures are 0.0);
        ``never_predicted``: names of classes in ``y_true`` that no clip is predicted as;
        ``per_class``: {name: {precision, recall, f1, accuracy, support}};
        ``confusion_matrix``: K lists of K ints; ``class_names``.

    Raises
    ------
    ValueError
        From ``confusion_matrix`` (labels not 1-D integers in ``[0, K)``, lengths that differ),
        or ``target_names`` of another length than ``K``.
    """
    if n_classes is None and target_names is not None:
        n_classes = len(target_names)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    k = cm.shape[0]
    if target_names is not None and len(target_names) != k:
        raise ValueError(f"{len(target_names)} target_names for {k} classes: they must match")
    return metrics_from_confusion(cm, target_names)


def classification_report(y_true, y_pred, target_names=None, n_classes: int | None = None,
                          digits: int = 4, per_class_accuracy: bool = False) -> str:
    """Text report: precision, recall, F1 and support per class, accuracy, macro and weighted
    averages (the layout of ``sklearn.metrics.classification_report``).

    Parameters
    ----------
    y_true, y_pred : (N,) int
        Class indices.
    target_names : sequence of str, optional
        Row names (default the class indices).
    n_classes : int, optional
        ``K`` (default: from the labels, or ``len(target_names)``).
    digits : int >= 0
        Decimals of the ratios.
    per_class_accuracy : bool
        Add the one-vs-rest accuracy column of the paper's Table 2.

    Returns
    -------
    str
        A first line with the field's summary, ``UA``, ``WA`` and ``macro F1`` (the module
        docstring's equations, printed with ``digits`` decimals), a blank line, then the table.
        For example::

            UA 0.6667  WA 0.6667  macro F1 0.6494

                         precision    recall  f1-score   support

                     low    0.8000    0.6667    0.7273         6
                    high    0.5000    0.6667    0.5714         3

                accuracy                        0.6667         9
               macro avg    0.6500    0.6667    0.6494         9
            weighted avg    0.7000    0.6667    0.6753         9

        A class without clips in ``y_true`` keeps its row (support 0) and is named on a last
        line, ``not in the test set (excluded from macro averages): name, ...``; classes of
        ``y_true`` that no clip is predicted as are named on a line ``never predicted
        (predictions collapsed onto k of K' classes): name, ...``.
    """
    r = classification_metrics(y_true, y_pred, n_classes, target_names)
    names = r["class_names"]
    cols = ["precision", "recall", "f1-score"] + (["accuracy"] if per_class_accuracy else [])
    keys = ["precision", "recall", "f1"] + (["accuracy"] if per_class_accuracy else [])
    width = max(len("weighted avg"), *(len(s) for s in names))
    col_w = max(9, digits + 3)
    head = " " * width + "".join(f" {c:>{col_w}}" for c in cols) + f" {'support':>{col_w}}"
    summary = f"UA {r['ua']:.{digits}f}  WA {r['wa']:.{digits}f}  macro F1 {r['macro_f1']:.{digits}f}"
    lines = [summary, "", head, ""]

    def row(name, values, support):
        cells = "".join(f" {'':>{col_w}}" if v is None else f" {v:>{col_w}.{digits}f}" for v in values)
        return f"{name:>{width}}{cells} {support:>{col_w}}"

    for name in names:
        pc = r["per_class"][name]
        lines.append(row(name, [pc[k] for k in keys], pc["support"]))
    lines.append("")
    blank = [None] * (len(cols) - 1)
    acc_pos = 2  # the accuracy line shows its value in the f1-score column
    acc_values = blank[:acc_pos] + [r["accuracy"]] + blank[acc_pos:]
    lines.append(row("accuracy", acc_values, r["n"]))
    lines.append(row("macro avg", [r[f"macro_{k}"] for k in keys], r["n"]))
    weighted = [r[f"weighted_{k}"] for k in keys[:3]] + ([None] if per_class_accuracy else [])
    lines.append(row("weighted avg", weighted, r["n"]))
    if r["absent_classes"]:
        lines += ["", "not in the test set (excluded from macro averages): "
                  + ", ".join(r["absent_classes"])]
    if r["never_predicted"]:
        lines += ["", "never predicted (predictions collapsed onto "
                  f"{len(names) - len(r['never_predicted']) - len(r['absent_classes'])} of "
                  f"{len(names) - len(r['absent_classes'])} classes): "
                  + ", ".join(r["never_predicted"])]
    return "\n".join(lines) + "\n"


def per_class_accuracy_lines(y_true, y_pred, target_names, n_classes: int | None = None) -> str:
    """One line per class: ``name: recall (correct/clips)``, e.g. ``ANG: 0.6457 (164/254)``.

    This is the share of the class's clips classified correctly (its recall), the per-class
    "accuracy" printed by the second paper; a class without clips has no such share and shows
    ``NEU: not in the test set (0/0)``.

    Parameters
    ----------
    y_true, y_pred : (N,) int
        Class indices in ``[0, K)``.
    target_names : sequence of str, (K,)
        Class names, one line each, in class-index order.
    n_classes : int > 0, optional
        ``K`` (default, and when 0: ``len(target_names)``); must not be below
        ``len(target_names)``.

    Returns
    -------
    str
        ``len(target_names)`` lines joined by ``"\\n"`` (no trailing newline); the recall is
        printed with 4 decimals.

    Raises
    ------
    ValueError
        From ``confusion_matrix``: inputs not 1-D or not integer, lengths that differ, or a
        class outside ``[0, K)``.
    IndexError
        ``n_classes < len(target_names)``.
    """
    cm = confusion_matrix(y_true, y_pred, n_classes or len(target_names))
    support = cm.sum(axis=1)
    recall = _safe_div(np.diag(cm), support)
    return "\n".join(f"{name}: {recall[c]:.4f} ({cm[c, c]}/{support[c]})" if support[c]
                     else f"{name}: not in the test set (0/0)"
                     for c, name in enumerate(target_names))


def _check_bootstrap_args(n_boot, level) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot={n_boot!r} must be an int >= 1")
    if (isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating))
            or not 0 < level < 1):                                   # NaN fails the comparison
        raise ValueError(f"level={level!r} must be a number with 0 < level < 1")


def bootstrap_ci(y_true, y_pred, n_classes: int | None = None, n_boot: int = 1000,
                 level: float = 0.95, seed: int = 0) -> dict:
    """Percentile bootstrap confidence intervals of UA, WA and macro F1 over the test clips.

    The ``N`` pairs ``(y_true[n], y_pred[n])`` are resampled with replacement ``B = n_boot``
    times: ``idx = numpy.random.default_rng(seed).integers(0, N, size=(B, N))``, resample ``b``
    being the clips ``idx[b]``. Each resample gets its confusion matrix and its UA, WA and
    macro F1, the macro figures over the classes present in that resample's ``y_true`` (as
    ``classification_metrics`` computes them on those clips). With ``a = 1 - level``, the
    interval of a figure ``theta`` is the pair of percentiles

        (lo, hi) = (Q_{a/2}(theta*_1 .. theta*_B), Q_{1-a/2}(theta*_1 .. theta*_B))

    ``Q`` being ``numpy.percentile``'s default (linear interpolation between the order
    statistics; Hyndman and Fan 1996, type 7). This is Efron's percentile interval (Efron and
    Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 13). It measures the test set's
    sampling variation only, not that of training (for that, see ``summarize_folds``).

    All ``B`` confusion matrices come from one ``bincount`` of ``b K^2 + K y_true + y_pred``
    reshaped to ``(B, K, K)``; memory is ``O(B N + B K^2)``.

    Parameters
    ----------
    y_true, y_pred : (N,) int
        Class indices in ``[0, K)``, ``N >= 1``.
    n_classes : int > 0, optional
        ``K``; default ``max(y_true, y_pred) + 1``.
    n_boot : int >= 1
        ``B``, the number of resamples.
    level : float in (0, 1)
        Coverage of the intervals (0.95: the 2.5th and 97.5th percentiles).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same intervals.

    Returns
    -------
    dict
        ``ua``, ``wa``, ``macro_f1``: ``(lo, hi)`` tuples of floats; ``n_boot``; ``level``.

    Raises
    ------
    ValueError
        ``n_boot`` not an int >= 1; ``level`` not in ``(0, 1)``; ``y_true`` empty; labels not
        1-D integers in ``[0, K)`` or of different lengths (named by ``confusion_matrix``).
    """
    _check_bootstrap_args(n_boot, level)
    t, p = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if t.size == 0:
        raise ValueError("y_true is empty: the bootstrap needs at least one clip")
    k = confusion_matrix(t, p, n_classes).shape[0]                    # validates the labels
    n = t.size
    pair = k * t + p                                                  # (N,) cell of each clip
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))    # (B, N)
    cells = np.arange(n_boot)[:, None] * (k * k) + pair[idx]          # (B, N) in [0, B K^2)
    cms = np.bincount(cells.ravel(), minlength=n_boot * k * k).reshape(n_boot, k, k)
    m = _per_class(cms)                                               # each (B, K)
    present = m["support"] > 0                                        # classes of each resample
    figures = {"ua": _macro_mean(m["recall"], present),              # (B,)
               "wa": _safe_div(np.trace(cms, axis1=-2, axis2=-1), n),
               "macro_f1": _macro_mean(m["f1"], present)}
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    out = {}
    for name, values in figures.items():
        lo, hi = np.percentile(values, q)
        out[name] = (float(lo), float(hi))
    out["n_boot"] = n_boot
    out["level"] = level
    return out


def summarize_folds(fold_metrics: list[dict]) -> dict:
    """Mean and standard deviation of UA, WA and macro F1 over cross-validation folds, and the
    figures of the pooled confusion matrix.

    For a figure ``x`` (UA, WA or macro F1) over ``F`` folds:

        mean = (1/F) sum_f x_f,    std = sqrt((1/F) sum_f (x_f - mean)^2)

    the **population** standard deviation (``numpy.std`` with ``ddof=0``; 0.0 for one fold).
    The pooled matrix is ``sum_f cm_f``; its figures count every test clip once, so its WA is
    the overall accuracy over all folds, while its UA in general differs from ``ua_mean`` (the
    folds' recalls are weighted by their clips).

    Parameters
    ----------
    fold_metrics : list of dict, length F >= 1
        ``classification_metrics`` of each fold; read: ``ua``, ``wa``, ``macro_f1``,
        ``confusion_matrix`` (K x K), ``class_names`` (the same list in every fold).

    Returns
    -------
    dict
        ``ua_mean``, ``ua_std``, ``wa_mean``, ``wa_std``, ``macro_f1_mean``, ``macro_f1_std``
        (floats), ``n_folds`` (``F``), ``pooled`` (``metrics_from_confusion`` of the summed
        matrix: its ``ua``, ``wa``, ``macro_f1``, per-class figures and ``confusion_matrix``).

    Raises
    ------
    ValueError
        ``fold_metrics`` empty, a fold without one of the keys read, or folds whose
        ``class_names`` differ.
    """
    if len(fold_metrics) == 0:
        raise ValueError("fold_metrics is empty: there is no fold to summarize")
    keys = ("ua", "wa", "macro_f1", "confusion_matrix", "class_names")
    for f, fold in enumerate(fold_metrics):
        missing = [key for key in keys if key not in fold]
        if missing:
            raise ValueError(f"fold_metrics[{f}] lacks {missing}: pass classification_metrics dicts")
    names = list(fold_metrics[0]["class_names"])
    for f, fold in enumerate(fold_metrics):
        if list(fold["class_names"]) != names:
            raise ValueError(f"fold_metrics[{f}] has class_names {list(fold['class_names'])} but "
                             f"fold_metrics[0] has {names}: the folds must share their classes")
    out = {}
    for key in ("ua", "wa", "macro_f1"):
        values = np.array([fold[key] for fold in fold_metrics], dtype=np.float64)   # (F,)
        out[f"{key}_mean"] = float(np.mean(values))
        out[f"{key}_std"] = float(np.std(values))                     # ddof=0
    out["n_folds"] = len(fold_metrics)
    pooled = np.sum([np.asarray(fold["confusion_matrix"], dtype=np.int64)
                     for fold in fold_metrics], axis=0)               # (K, K)
    out["pooled"] = metrics_from_confusion(pooled, names)
    return out


def _finite_copy(value, where: str, bad: list):
    """``value`` with numpy types made plain and non-finite floats made None; the dotted
    places of the replaced floats are appended to ``bad``."""
    if isinstance(value, dict):
        return {k: _finite_copy(v, f"{where}.{k}" if where else str(k), bad)
                for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_finite_copy(v, f"{where}[{i}]", bad) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        bad.append(where)
        return None
    return value


def to_json(report: dict, indent: int | None = 2) -> str:
    """Strict JSON text of a report: non-finite numbers become ``null`` and are listed.

    ``json.dumps`` writes NaN and infinities as ``NaN`` / ``Infinity``, which JSON does not
    allow (``json.loads`` in other languages, ``jq`` and browsers reject the file). Here every
    non-finite float (also inside lists and NumPy arrays or scalars) is replaced by ``null``
    and its place, as a dotted path such as ``history[3].val_loss``, is listed under the key
    ``non_finite_fields`` (added only when there is one). The text is produced with
    ``allow_nan=False``, so nothing non-finite can slip through.

    Parameters
    ----------
    report : dict
        String keys; values dicts, lists, tuples, NumPy arrays or scalars, str, int, float,
        bool or None.
    indent : int >= 0 or None
        As in ``json.dumps``.

    Returns
    -------
    str
        The JSON text.
    """
    if not isinstance(report, dict):
        raise TypeError(f"report must be a dict, got {type(report).__name__}")
    if "non_finite_fields" in report:
        raise ValueError("report already has a key 'non_finite_fields', which to_json reserves "
                         "for the places of non-finite numbers")
    bad: list[str] = []
    clean = _finite_copy(report, "", bad)
    if bad:
        clean["non_finite_fields"] = bad
    return json.dumps(clean, indent=indent, allow_nan=False)
