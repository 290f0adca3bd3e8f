"""The run folder's reports when a class is missing from the test set: named in report.txt and
in the metrics dict, excluded from the macro averages, and written as strict JSON."""

import json

import numpy as np
import pytest

from minitorch_ser.app import metrics
from minitorch_ser.app.experiment import write_reports
from minitorch_ser.app.training import EvalResult


def test_reports_name_the_class_missing_from_the_test_set(tmp_path):
    names = ["ang", "hap", "sad"]
    y_true = np.array([0, 0, 0, 1, 1])
    y_pred = np.array([0, 0, 1, 1, 2])              # sad predicted once, never true
    probs = np.eye(3, dtype=np.float32)[y_pred]
    test_eval = EvalResult(loss=float("nan"), accuracy=0.6, predictions=y_pred,
                           probabilities=probs)
    history = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.1,
                "val_acc": 0.4, "lr": 1e-3, "seconds": 1.0}]
    report = write_reports(tmp_path, y_true, test_eval, names, history,
                           paths=[f"clip{i}.wav" for i in range(5)])
    assert report["absent_classes"] == ["sad"]
    # hand-computed in tests/test_metrics.py: F1 ang 4/5, hap 1/2 -> macro 0.65 (not 1.3 / 3)
    assert report["macro_f1"] == pytest.approx(0.65)
    text = (tmp_path / "report.txt").read_text()
    assert "not in the test set (excluded from macro averages): sad\n" in text
    assert "sad: not in the test set (0/0)" in text
    # the body plus a non-finite test loss (as run() adds it) is strict JSON
    body = json.loads(metrics.to_json({**report, "test_loss": test_eval.loss}),
                      parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert body["test_loss"] is None and body["non_finite_fields"] == ["test_loss"]
    assert body["absent_classes"] == ["sad"]


def test_collapsed_predictions_are_named_in_the_metrics_the_report_and_a_warning(tmp_path):
    from minitorch_ser.app.experiment import _test_reports
    names = ["ang", "hap", "sad", "neu"]
    y_true = np.array([0, 0, 1, 1, 2, 2])               # neu absent from the test set
    y_pred = np.array([0, 1, 1, 1, 1, 0])               # sad never predicted
    test_eval = EvalResult(loss=0.5, accuracy=0.5, predictions=y_pred,
                           probabilities=np.eye(4, dtype=np.float32)[y_pred])
    assert metrics.classification_metrics(y_true, y_pred, 4, names)["never_predicted"] == ["sad"]
    with pytest.warns(UserWarning, match="no test clip is predicted as sad"):
        report = _test_reports(tmp_path, y_true, test_eval, names, [], None, {})
    assert report["never_predicted"] == ["sad"] and report["absent_classes"] == ["neu"]
    text = (tmp_path / "report.txt").read_text()
    assert "never predicted (predictions collapsed onto 2 of 3 classes): sad\n" in text
    assert json.loads((tmp_path / "metrics.json").read_text())["never_predicted"] == ["sad"]


def test_no_collapse_line_when_every_present_class_is_predicted():
    y_true, y_pred = np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1])
    assert metrics.classification_metrics(y_true, y_pred, 3)["never_predicted"] == []
    assert "never predicted" not in metrics.classification_report(y_true, y_pred, n_classes=3)
