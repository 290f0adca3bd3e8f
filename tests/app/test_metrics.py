"""Metrics against confusion matrices and figures computed by hand."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser.app import metrics

# A 3-class example counted by hand:
#              pred 0  pred 1  pred 2
#   true 0       3       1       0        (4 clips)
#   true 1       1       2       1        (4 clips)
#   true 2       0       0       2        (2 clips)
Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
Y_PRED = [0, 0, 0, 1, 0, 1, 1, 2, 2, 2]
CM = [[3, 1, 0], [1, 2, 1], [0, 0, 2]]


def test_confusion_matrix_by_hand():
    cm = metrics.confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.tolist() == CM and cm.dtype == np.int64
    # an extra class never seen still gets its row and column
    assert metrics.confusion_matrix(Y_TRUE, Y_PRED, 4)[3].tolist() == [0, 0, 0, 0]
    assert metrics.confusion_matrix([1, 0], [1, 1]).tolist() == [[0, 1], [0, 1]]


def test_per_class_by_hand():
    m = metrics.per_class_metrics(CM)
    # class 0: TP 3, FP 1 (col), FN 1 (row), TN 10-3-1-1 = 5
    # class 1: TP 2, FP 1, FN 2, TN 5; class 2: TP 2, FP 1, FN 0, TN 7
    assert m["precision"] == pytest.approx([3 / 4, 2 / 3, 2 / 3])
    assert m["recall"] == pytest.approx([3 / 4, 2 / 4, 2 / 2])
    assert m["f1"] == pytest.approx([3 / 4, 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5), 2 * (2 / 3) / (5 / 3)])
    assert m["accuracy"] == pytest.approx([8 / 10, 7 / 10, 9 / 10])      # (TP + TN) / n
    assert m["support"].tolist() == [4, 4, 2]
    assert metrics.accuracy(Y_TRUE, Y_PRED) == pytest.approx(7 / 10)


def test_averages_by_hand():
    r = metrics.classification_metrics(Y_TRUE, Y_PRED, target_names=["low", "neutral", "high"])
    f1 = [0.75, 4 / 7, 0.8]
    assert r["accuracy"] == pytest.approx(0.7)
    assert r["macro_precision"] == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)
    assert r["macro_recall"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert r["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert r["macro_accuracy"] == pytest.approx((0.8 + 0.7 + 0.9) / 3)
    assert r["weighted_precision"] == pytest.approx((4 * 0.75 + 4 * 2 / 3 + 2 * 2 / 3) / 10)
    assert r["weighted_recall"] == pytest.approx(0.7)             # always equals accuracy
    assert r["weighted_f1"] == pytest.approx((4 * 0.75 + 4 * 4 / 7 + 2 * 0.8) / 10)
    assert r["per_class"]["neutral"] == pytest.approx(
        {"precision": 2 / 3, "recall": 0.5, "f1": 4 / 7, "accuracy": 0.7, "support": 4})
    assert r["confusion_matrix"] == CM and r["class_names"] == ["low", "neutral", "high"]
    assert r["n"] == 10


def test_zero_division_is_zero():
    # class 2 is never predicted and class 1 never occurs
    y_true = [0, 0, 2, 2]
    y_pred = [0, 1, 0, 0]
    m = metrics.per_class_metrics(metrics.confusion_matrix(y_true, y_pred, 3))
    assert m["precision"].tolist() == [pytest.approx(1 / 3), 0.0, 0.0]   # class 1: 0/1, class 2: 0/0
    assert m["recall"].tolist() == [0.5, 0.0, 0.0]                       # class 1: 0/0
    assert m["f1"].tolist() == [pytest.approx(0.4), 0.0, 0.0]            # P + R = 0 -> 0
    r = metrics.classification_metrics([], [], n_classes=2)
    assert r["accuracy"] == 0.0 and r["macro_f1"] == 0.0 and r["weighted_f1"] == 0.0
    assert r["absent_classes"] == ["0", "1"]                           # no class to average


# A class absent from the test set, counted by hand (sad: predicted once, never true):
#              pred ang  pred hap  pred sad
#   true ang       2         1         0        (3 clips)
#   true hap       0         1         1        (2 clips)
#   true sad       0         0         0        (0 clips)
# ang: TP 2, FP 0, FN 1, TN 2 -> P 1,   R 2/3, F1 2(2/3)/(5/3) = 4/5, one-vs-rest acc 4/5
# hap: TP 1, FP 1, FN 1, TN 2 -> P 1/2, R 1/2, F1 1/2,             one-vs-rest acc 3/5
# sad: TP 0, FP 1, FN 0       -> P 0/1 = 0, R 0/0 := 0, F1 0: no clip, so no macro vote
ABSENT_TRUE = [0, 0, 0, 1, 1]
ABSENT_PRED = [0, 0, 1, 1, 2]


def test_macro_averages_skip_a_class_absent_from_the_test_set():
    r = metrics.classification_metrics(ABSENT_TRUE, ABSENT_PRED, target_names=["ang", "hap", "sad"])
    assert r["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 0]]
    assert r["absent_classes"] == ["sad"]
    assert r["macro_precision"] == pytest.approx((1 + 1 / 2) / 2)       # 0.75
    assert r["macro_recall"] == pytest.approx((2 / 3 + 1 / 2) / 2)      # UA 7/12
    assert r["macro_f1"] == pytest.approx((4 / 5 + 1 / 2) / 2)          # 0.65, not 1.3 / 3
    assert r["macro_accuracy"] == pytest.approx((4 / 5 + 3 / 5) / 2)
    # weighted averages already ignore it (weight 0), and are unchanged
    assert r["weighted_precision"] == pytest.approx((3 * 1 + 2 * 1 / 2) / 5)
    assert r["weighted_recall"] == pytest.approx(3 / 5) == r["accuracy"]
    assert r["weighted_f1"] == pytest.approx((3 * 4 / 5 + 2 * 1 / 2) / 5)
    assert r["per_class"]["sad"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                     "accuracy": 0.8, "support": 0}


def test_a_class_only_in_training_is_absent_and_excluded():
    # 3 classes known, class 2 neither true nor predicted in the test set
    # class 0: P 1/1, R 1/2, F1 2/3; class 1: P 2/3, R 2/2, F1 4/5
    r = metrics.classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], n_classes=3)
    assert r["absent_classes"] == ["2"]
    assert r["macro_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert r["macro_recall"] == pytest.approx((1 / 2 + 1) / 2)
    assert r["macro_f1"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    full = metrics.classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], n_classes=2)
    assert full["absent_classes"] == []
    for key in ("macro_precision", "macro_recall", "macro_f1", "weighted_f1"):
        assert r[key] == pytest.approx(full[key]), key              # the unseen class is inert


def test_report_names_the_absent_classes():
    text = metrics.classification_report(ABSENT_TRUE, ABSENT_PRED, ["ang", "hap", "sad"])
    lines = text.splitlines()
    assert lines[-1] == "not in the test set (excluded from macro averages): sad"
    assert lines[-3].startswith("weighted avg")
    macro = next(line for line in lines if line.startswith("   macro avg"))
    assert macro.split()[2:5] == ["0.7500", "0.5833", "0.6500"]
    full = metrics.classification_report(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert "not in the test set" not in full


def test_report_layout_by_hand():
    y_true = [0] * 6 + [1] * 3
    y_pred = [0, 0, 0, 0, 1, 1, 0, 1, 1]
    # low: P 4/5, R 4/6, F1 8/11; high: P 2/4, R 2/3, F1 4/7
    # UA (4/6 + 2/3) / 2 = 0.6667, WA 6/9 = 0.6667, macro F1 (8/11 + 4/7) / 2 = 0.6494
    expected = (
        "UA 0.6667  WA 0.6667  macro F1 0.6494\n"
        "\n"
        "             precision    recall  f1-score   support\n"
        "\n"
        "         low    0.8000    0.6667    0.7273         6\n"
        "        high    0.5000    0.6667    0.5714         3\n"
        "\n"
        "    accuracy                        0.6667         9\n"
        "   macro avg    0.6500    0.6667    0.6494         9\n"
        "weighted avg    0.7000    0.6667    0.6753         9\n")
    assert metrics.classification_report(y_true, y_pred, ["low", "high"]) == expected
    with_acc = metrics.classification_report(y_true, y_pred, ["low", "high"], digits=2,
                                             per_class_accuracy=True)
    assert with_acc.splitlines()[0] == "UA 0.67  WA 0.67  macro F1 0.65"
    assert "accuracy   support" in with_acc.splitlines()[2]
    assert "     0.80      0.67      0.73      0.67         6" in with_acc


def test_per_class_accuracy_lines():
    text = metrics.per_class_accuracy_lines(Y_TRUE, Y_PRED, ["ANG", "DIS", "SAD", "NEU"])
    assert text.splitlines() == ["ANG: 0.7500 (3/4)", "DIS: 0.5000 (2/4)", "SAD: 1.0000 (2/2)",
                                 "NEU: not in the test set (0/0)"]


@settings(max_examples=40, deadline=None)
@given(data=st.data(), k=st.integers(1, 5), n=st.integers(0, 60))
def test_confusion_matrix_against_loop(data, k, n):
    y_true = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=int)
    y_pred = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)), dtype=int)
    cm = metrics.confusion_matrix(y_true, y_pred, k)
    oracle = np.zeros((k, k), dtype=int)
    for t, p in zip(y_true, y_pred):
        oracle[t, p] += 1
    assert np.array_equal(cm, oracle)
    r = metrics.classification_metrics(y_true, y_pred, k)
    assert r["accuracy"] == pytest.approx(np.trace(oracle) / n if n else 0.0)
    if n:
        assert r["weighted_recall"] == pytest.approx(r["accuracy"])
    # macro recall (UA): the mean hit rate of the classes that occur, by a loop
    present = [c for c in range(k) if np.any(y_true == c)]
    hit_rates = [np.mean(y_pred[y_true == c] == c) for c in present]
    assert r["macro_recall"] == pytest.approx(np.mean(hit_rates) if present else 0.0)
    assert r["absent_classes"] == [str(c) for c in range(k) if c not in present]


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"y_true holds classes in \[0, 3\], outside \[0, n_classes=3\)"):
        metrics.confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="y_true has 2 labels but y_pred has 1"):
        metrics.confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="must be square"):
        metrics.per_class_metrics(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 target_names for 3 classes"):
        metrics.classification_metrics([0, 2], [0, 1], target_names=["a", "b"], n_classes=3)
    with pytest.raises(ValueError, match="integer class indices"):
        metrics.confusion_matrix([0.5], [0])


def _strict_loads(text):
    """json.loads that, unlike the default, refuses NaN and Infinity as JSON does."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_to_json_writes_strict_json_and_lists_the_non_finite_places():
    report = {"test_loss": float("nan"), "n": 3, "name": "run",
              "per_class": {"ANG": {"f1": np.float32(0.5), "support": np.int64(3)}},
              "history": [{"val_loss": 1.0}, {"val_loss": np.float64(np.inf)}],
              "curve": np.array([0.1, -np.inf]), "best": None}
    with pytest.raises(ValueError, match="NaN is not JSON"):
        _strict_loads(json.dumps({"test_loss": float("nan")}))      # what json.dumps does
    back = _strict_loads(metrics.to_json(report))
    assert back == {"test_loss": None, "n": 3, "name": "run",
                    "per_class": {"ANG": {"f1": 0.5, "support": 3}},
                    "history": [{"val_loss": 1.0}, {"val_loss": None}],
                    "curve": [pytest.approx(0.1), None], "best": None,
                    "non_finite_fields": ["test_loss", "history[1].val_loss", "curve[1]"]}
    finite = {"accuracy": 0.5, "absent_classes": ["sad"]}
    assert _strict_loads(metrics.to_json(finite)) == finite         # no field added
    assert metrics.to_json(finite) == json.dumps(finite, indent=2)
    with pytest.raises(ValueError, match="already has a key 'non_finite_fields'"):
        metrics.to_json({"non_finite_fields": []})
