"""The shared training loop: learning, exact resume, divergence handling, checkpoints."""

import os
import pickle

import numpy as np
import pytest

from minitorch_ser.app.checkpoint import (CheckpointError, build_model, load_checkpoint,
                                      save_checkpoint, write_archive)
from minitorch_ser.data import features, splits, synthetic
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention
from minitorch_ser.autograd.random import manual_seed
from minitorch_ser.app.training import TrainConfig, TrainingDiverged, evaluate, fit


def tiny_model(n_classes=3, n_frames=128):
    return ParallelCNNLSTMAttention(n_classes=n_classes, n_mels=128, n_frames=n_frames, hidden=8,
                                    heads=2, channels=(4, 4, 8, 8))


def random_arrays(n, seed=0, n_frames=128):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 1, 128, n_frames)).astype(np.float32)
    y = rng.integers(0, 3, n)
    return X, y


def quiet(**kw):
    return TrainConfig(progress=False, **kw)


@pytest.fixture(scope="module")
def synthetic_features(tmp_path_factory):
    """Log-mel features of a small generated BAVED-format set, split by speaker."""
    root = tmp_path_factory.mktemp("baved")
    synthetic.make_dataset(root, n_speakers=6, n_words=3, clips_per=2, seed=3)
    from minitorch_ser.data import baved
    df = baved.read_metadata(root)
    cfg = features.FeatureConfig()
    ex = features.extract(df["path"].tolist(), cfg, cache_dir=None, progress=False)
    y = df["emotion"].to_numpy()[ex.kept]
    split = splits.random_split(y, fractions=(0.7, 0.15, 0.15), seed=0)
    std = features.Standardizer().fit(ex.X[split["train"]])
    X = std.transform(ex.X)
    return {name: (X[idx], y[idx]) for name, idx in split.items()}


def test_a_few_epochs_lower_the_loss_and_beat_chance(synthetic_features, tmp_path):
    manual_seed(0)
    model = ParallelCNNLSTMAttention(n_classes=3, hidden=16, heads=2, channels=(4, 8, 8, 8))
    train, val, test = (synthetic_features[k] for k in ("train", "val", "test"))
    before = evaluate(model, *train).loss
    result = fit(model, train, val, quiet(epochs=8, lr=3e-3, patience=0), tmp_path, seed=0)
    rows = result.history
    assert rows[-1]["train_loss"] < 0.7 * rows[0]["train_loss"] < before
    pooled = np.concatenate([val[1], test[1]])
    acc = evaluate(model, np.concatenate([val[0], test[0]]), pooled).accuracy
    assert acc >= 0.6, f"accuracy {acc:.3f} on {len(pooled)} held-out clips (chance 0.33)"
    assert (tmp_path / "history.csv").read_text().count("\n") == len(rows) + 1


def test_resume_continues_exactly(tmp_path):
    train, val = random_arrays(40, 0), random_arrays(12, 1)
    cfg = dict(epochs=4, batch_size=16, lr=1e-3, patience=0, restore_best=False)

    manual_seed(1)
    straight = tiny_model()
    fit(straight, train, val, quiet(**cfg), tmp_path / "straight", seed=5)

    manual_seed(1)
    first = tiny_model()
    fit(first, train, val, quiet(**{**cfg, "epochs": 2}), tmp_path / "resumed", seed=5)
    manual_seed(99)  # a different global state must not matter: resume restores it
    second = tiny_model()
    fit(second, train, val, quiet(**cfg), tmp_path / "resumed", resume=True, seed=5)

    a, b = straight.state_dict(), second.state_dict()
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    ha = load_checkpoint(tmp_path / "straight" / "last.ckpt")["history"]
    hb = load_checkpoint(tmp_path / "resumed" / "last.ckpt")["history"]
    assert [r["val_loss"] for r in ha] == [r["val_loss"] for r in hb]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    X, y = random_arrays(16, 0)
    val = random_arrays(8, 1)
    manual_seed(0)
    model = tiny_model()
    fit(model, (X, y), val, quiet(epochs=1, batch_size=8, patience=0), tmp_path)
    good = load_checkpoint(tmp_path / "last.ckpt")
    X_bad = X.copy()
    X_bad[3, 0, 5, 5] = np.nan
    with pytest.raises(TrainingDiverged, match=r"non-finite loss .* epoch 2"):
        fit(model, (X_bad, y), val, quiet(epochs=2, batch_size=8, patience=0), tmp_path,
            resume=True)
    kept = load_checkpoint(tmp_path / "last.ckpt")
    assert kept["epoch"] == good["epoch"] == 1
    for key, value in good["model_state"].items():
        np.testing.assert_array_equal(kept["model_state"][key], value)


def test_checkpoint_rebuilds_the_model_for_prediction(tmp_path):
    X, y = random_arrays(16, 0)
    manual_seed(0)
    model = tiny_model()
    fit(model, (X, y), random_arrays(8, 1), quiet(epochs=1, batch_size=8, patience=0), tmp_path,
        meta={"class_names": ["low", "neutral", "high"]})
    ckpt = load_checkpoint(tmp_path)                    # a run folder reads best.ckpt
    rebuilt = build_model(ckpt)
    assert ckpt["meta"]["class_names"] == ["low", "neutral", "high"]
    np.testing.assert_allclose(evaluate(rebuilt, X, y).probabilities,
                               evaluate(model, X, y).probabilities, rtol=1e-6)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, {"epoch": 1, "w": np.zeros(3)})
    written = []
    real_write_array = np.lib.format.write_array

    def interrupted(fp, array, **kw):       # Ctrl-C after the first array is in the file
        if written:
            raise KeyboardInterrupt("interrupted while writing")
        written.append(array)
        real_write_array(fp, array, **kw)

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        save_checkpoint(path, {"epoch": 2, "w": np.ones(3), "v": np.ones(2)})
    assert len(written) == 1                            # the write had begun
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1          # the old checkpoint is intact
    assert sorted(os.listdir(tmp_path)) == ["c.ckpt"]   # and no temporary file is left

    class NotStorable:                      # refused before any byte is written
        pass

    with pytest.raises(CheckpointError, match=r"c.ckpt.*checkpoint\['bad'\] is a .*NotStorable"):
        save_checkpoint(path, {"epoch": 3, "bad": NotStorable()})
    assert load_checkpoint(path)["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["c.ckpt"]


def test_bad_checkpoints_are_refused_with_a_reason(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"\x00not a pickle")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(garbage)
    other = tmp_path / "other.ckpt"
    write_archive(other, {"weights": np.ones(2)})
    with pytest.raises(CheckpointError, match="not a minitorch-ser checkpoint"):
        load_checkpoint(other)
    old = tmp_path / "old.ckpt"
    write_archive(old, {"format": "minitorch-ser-checkpoint", "version": 0})
    with pytest.raises(CheckpointError, match="version 0"):
        load_checkpoint(old)
    pickled = tmp_path / "pickled.ckpt"
    pickled.write_bytes(pickle.dumps({"format": "minitorch-ser-checkpoint", "version": 1}))
    with pytest.raises(CheckpointError, match="pickled.ckpt is a pickle.*convert .*--trusted"):
        load_checkpoint(pickled)
    wrong = {"model_class": "ParallelCNNLSTMAttention",
             "model_config": {"n_classes": 3}, "model_state": {"fc.weight": np.zeros((2, 2))}}
    with pytest.raises(CheckpointError, match="do not fit"):
        build_model(wrong)
    with pytest.raises(CheckpointError, match="'os:system' is not in the model registry"):
        build_model({**wrong, "model_class": "os:system"})


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs=0"), ({"lr": -1.0}, "lr=-1.0"), ({"optimizer": "rmsprop"}, "optimizer="),
    ({"scheduler": "cosine"}, "scheduler="), ({"batch_size": 0}, "batch_size=0"),
    ({"ema_decay": 1.0}, r"ema_decay=1.0 must be in \[0, 1\)"),
])
def test_bad_train_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_weight_average_resumes_exactly_and_is_what_best_ckpt_and_the_test_use(tmp_path):
    train, val = random_arrays(40, 0), random_arrays(12, 1)
    cfg = dict(epochs=4, batch_size=16, lr=1e-3, patience=0, ema_decay=0.9,
               monitor="val_ua")
    manual_seed(1)
    straight = tiny_model()
    result = fit(straight, train, val, quiet(**cfg), tmp_path / "straight", seed=5)
    manual_seed(1)
    first = tiny_model()
    fit(first, train, val, quiet(**{**cfg, "epochs": 2}), tmp_path / "resumed", seed=5)
    manual_seed(99)
    second = tiny_model()
    fit(second, train, val, quiet(**cfg), tmp_path / "resumed", resume=True, seed=5)
    for name in ("last.ckpt", "best.ckpt"):
        a = load_checkpoint(tmp_path / "straight" / name)
        b = load_checkpoint(tmp_path / "resumed" / name)
        for key in a["model_state"]:
            np.testing.assert_array_equal(a["model_state"][key], b["model_state"][key],
                                          err_msg=f"{name} {key}")
    last = load_checkpoint(tmp_path / "straight" / "last.ckpt")
    # 40 clips in batches of 16: 3 steps per epoch, 4 epochs
    assert last["training_state"]["n_averaged"] == 12
    trained, averaged = last["training_state"]["model_state"], last["model_state"]
    assert any(not np.array_equal(trained[k], averaged[k]) for k in trained)
    # the model returned holds the best epoch's averaged weights, and its validation figures
    best = load_checkpoint(tmp_path / "straight" / "best.ckpt")
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(value, best["model_state"][key], err_msg=key)
    row = result.history[result.best_epoch - 1]
    assert evaluate(straight, *val).ua == pytest.approx(row["val_ua"], abs=1e-12)


def test_resuming_with_another_averaging_setting_is_refused(tmp_path):
    train, val = random_arrays(16, 0), random_arrays(8, 1)
    manual_seed(0)
    fit(tiny_model(), train, val, quiet(epochs=1, batch_size=8, patience=0), tmp_path)
    with pytest.raises(ValueError, match="without a weight average"):
        fit(tiny_model(), train, val, quiet(epochs=2, batch_size=8, patience=0,
                                            ema_decay=0.9), tmp_path, resume=True)
