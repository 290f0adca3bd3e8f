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
listed (``absent_classes``) instead. Macro recall is the unweighted accuracy (UA) of the speech
emotion literature. **Weighted** averages weight by support, so absent classes drop out of them
by themselves. Macro F1 is the mean of the per-class F1 values (not the F1 of macro precision
and macro recall). Overall accuracy is ``trace(cm) / n``.

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
    """
    cm = np.asarray(cm, dtype=np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square (K, K), got shape {cm.shape}")
    tp = np.diag(cm)
    support = cm.sum(axis=1)                                          # TP + FN
    predicted = cm.sum(axis=0)                                        # TP + FP
    n = cm.sum()
    tn = n - support - predicted + tp
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1,
            "accuracy": _safe_div(tp + tn, np.full_like(tp, n)), "support": support}


def classification_metrics(y_true, y_pred, n_classes: int | None = None,
                           target_names=None) -> dict:
    """Every figure of a test set in one JSON-friendly dict.

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
        ``n`` (floats / int); the macro figures average over the classes present in
        ``y_true`` (0.0 when none is); ``absent_classes``: names of the classes with no clip
        in ``y_true``, excluded from the macro averages (their per-class figures are 0.0);
        ``per_class``: {name: {precision, recall, f1, accuracy, support}};
        ``confusion_matrix``: K lists of K ints; ``class_names``.
    """
    if n_classes is None and target_names is not None:
        n_classes = len(target_names)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    k = cm.shape[0]
    names = [str(i) for i in range(k)] if target_names is None else [str(s) for s in target_names]
    if len(names) != k:
        raise ValueError(f"{len(names)} target_names for {k} classes: they must match")
    m = per_class_metrics(cm)
    support = m["support"]
    present = support > 0                                             # classes in y_true
    out = {"accuracy": float(_safe_div(np.trace(cm), cm.sum())), "n": int(cm.sum())}
    for key in ("precision", "recall", "f1", "accuracy"):
        out[f"macro_{key}"] = float(np.mean(m[key][present])) if present.any() else 0.0
    for key in ("precision", "recall", "f1"):
        out[f"weighted_{key}"] = float(_safe_div(np.sum(m[key] * support), support.sum()))
    out["per_class"] = {name: {"precision": float(m["precision"][c]), "recall": float(m["recall"][c]),
                               "f1": float(m["f1"][c]), "accuracy": float(m["accuracy"][c]),
                               "support": int(support[c])}
                        for c, name in enumerate(names)}
    out["absent_classes"] = [name for c, name in enumerate(names) if not present[c]]
    out["confusion_matrix"] = cm.tolist()
    out["class_names"] = names
    return out


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
        For example::

                         precision    recall  f1-score   support

                     low    0.8000    0.6667    0.7273         6
                    high    0.5000    0.6667    0.5714         3

                accuracy                        0.6667         9
               macro avg    0.6500    0.6667    0.6494         9
            weighted avg    0.7000    0.6667    0.6753         9

        A class without clips in ``y_true`` keeps its row (support 0) and is named on a last
        line, ``not in the test set (excluded from macro averages): name, ...``.
    """
    r = classification_metrics(y_true, y_pred, n_classes, target_names)
    names = r["class_names"]
    cols = ["precision", "recall", "f1-score"] + (["accuracy"] if per_class_accuracy else [])
    keys = ["precision", "recall", "f1"] + (["accuracy"] if per_class_accuracy else [])
    width = max(len("weighted avg"), *(len(s) for s in names))
    col_w = max(9, digits + 3)
    head = " " * width + "".join(f" {c:>{col_w}}" for c in cols) + f" {'support':>{col_w}}"
    lines = [head, ""]

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
