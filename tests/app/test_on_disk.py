"""The large-corpus path (``prepare(on_disk=True)``, ``--features-on-disk``): features and the
training set on disk, normalized batch by batch, give the in-memory path's batches and
training bit for bit."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from minitorch_ser.app.checkpoint import load_checkpoint
from minitorch_ser.app.experiment import prepare
from minitorch_ser.app.training import TrainConfig, evaluate, fit
from minitorch_ser.autograd.random import manual_seed
from minitorch_ser.data import baved, splits, synthetic
from minitorch_ser.data.features import FeatureConfig
from minitorch_ser.data.loader import DataLoader
from minitorch_ser.data.normalized import NormalizedRows
from minitorch_ser.data.store import FeatureStore
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "baved_parallel.py"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """24 generated clips (4 speakers x 2 words x 3 levels), split at random 50/25/25."""
    root = tmp_path_factory.mktemp("on_disk")
    synthetic.make_dataset(root / "audio", n_speakers=4, n_words=2, clips_per=1, seed=0,
                           duration=(0.5, 3.5))
    df = baved.read_metadata(root / "audio")
    labels = df["emotion"].to_numpy()
    split = splits.random_split(labels, fractions=(0.5, 0.25, 0.25), seed=0)
    return {"paths": df["path"].tolist(), "labels": labels, "split": split,
            "speakers": df["speaker"].to_numpy(), "root": root}


def _prepare(corpus, cache_dir, normalize, on_disk, **kwargs):
    return prepare(corpus["paths"], corpus["labels"], corpus["split"], FeatureConfig(),
                   copies=1.5, oversample=True, seed=0, cache_dir=cache_dir, progress=False,
                   normalize=normalize, speakers=corpus["speakers"], on_disk=on_disk, **kwargs)


@pytest.mark.parametrize("normalize", ["global", "utterance", "speaker"])
def test_on_disk_batches_equal_the_in_memory_ones(corpus, tmp_path, normalize):
    memory = _prepare(corpus, tmp_path / "a", normalize, on_disk=False)
    disk = _prepare(corpus, tmp_path / "b", normalize, on_disk=True)
    rng = np.random.default_rng(0)
    for name, m, d in zip(("train", "val", "test"), memory[:3], disk[:3]):
        assert isinstance(m.X, np.ndarray) and isinstance(d.X, NormalizedRows), name
        assert d.X.shape == m.X.shape and len(d) == len(m)
        for field in ("y", "source_index", "augmented"):
            np.testing.assert_array_equal(getattr(d, field), getattr(m, field), err_msg=name)
        np.testing.assert_array_equal(d.snr_db, m.snr_db)        # NaN for clean rows
        for idx in (rng.permutation(len(m)), rng.integers(0, len(m), 5), np.arange(len(m))):
            assert d.X[idx].tobytes() == m.X[idx].tobytes(), f"{normalize}: {name} rows {idx}"
    assert memory[1].augmented.sum() == 0 and memory[0].augmented.sum() > 0
    if normalize == "global":
        assert disk[3].mean_.tobytes() == memory[3].mean_.tobytes()
        assert disk[3].std_.tobytes() == memory[3].std_.tobytes()
    else:
        assert disk[3] is None and memory[3] is None
    # the training set is a store in the cache folder; the clean features another one
    store = disk[0].X.source
    assert isinstance(store, FeatureStore) and store.complete
    assert Path(store.path).parent == tmp_path / "b" and Path(store.path).name.startswith(
        "training_")
    assert isinstance(disk[1].X.source.source, FeatureStore)    # Rows of the clean store


def test_leak_checks_run_on_the_disk_path_too(corpus, tmp_path):
    split = dict(corpus["split"])
    split["val"] = np.append(split["val"], split["train"][0])        # a training clip in val
    leaky = {**corpus, "split": split}
    with pytest.raises(RuntimeError, match="training rows come from validation/test clips"):
        _prepare(leaky, tmp_path, "global", on_disk=True)
    groups = np.arange(len(corpus["paths"]))
    groups[corpus["split"]["test"][0]] = groups[corpus["split"]["train"][0]]  # same recording
    with pytest.raises(RuntimeError, match="both in training and in validation/test"):
        _prepare(corpus, tmp_path, "global", on_disk=True, groups=groups)
    with pytest.raises(ValueError, match="on_disk=True needs a cache_dir"):
        _prepare(corpus, None, "global", on_disk=True)


def _train_one_epoch(prepared, run_dir):
    train, val = prepared[0], prepared[1]
    manual_seed(0)
    model = ParallelCNNLSTMAttention(n_classes=3, n_mels=128, n_frames=188, hidden=8, heads=2,
                                     channels=(4, 4, 8, 8))
    config = TrainConfig(epochs=1, batch_size=8, progress=False, restore_best=False)
    result = fit(model, (train.X, train.y), (val.X, val.y), config, run_dir, seed=0)
    return model, result


def test_one_epoch_of_training_is_identical(corpus, tmp_path):
    memory = _prepare(corpus, tmp_path / "a", "speaker", on_disk=False)
    disk = _prepare(corpus, tmp_path / "b", "speaker", on_disk=True)
    model_m, result_m = _train_one_epoch(memory, tmp_path / "run_m")
    model_d, result_d = _train_one_epoch(disk, tmp_path / "run_d")
    weights_m, weights_d = model_m.state_dict(), model_d.state_dict()
    assert list(weights_m) == list(weights_d)
    for name in weights_m:
        assert weights_m[name].tobytes() == weights_d[name].tobytes(), name
    for key in ("train_loss", "train_acc", "val_loss", "val_ua"):
        assert result_m.history[0][key] == result_d.history[0][key], key
    test_m = evaluate(model_m, memory[2].X, memory[2].y)
    test_d = evaluate(model_d, disk[2].X, disk[2].y, batch_size=3)     # other slices
    np.testing.assert_allclose(test_d.probabilities, test_m.probabilities, rtol=0, atol=1e-6)
    assert test_d.predictions.tolist() == test_m.predictions.tolist()


def test_the_loader_batches_rows_it_reads_on_demand(corpus, tmp_path):
    disk = _prepare(corpus, tmp_path, "utterance", on_disk=True)
    train = disk[0]
    loader = DataLoader(train.X, train.y, batch_size=7, shuffle=True, seed=3)
    assert loader.X is train.X                              # not loaded into memory
    reference = np.asarray(train.X)
    order = np.random.default_rng(3).permutation(len(train))
    for k, (xb, yb) in enumerate(loader):
        idx = order[7 * k:7 * k + 7]
        assert xb.tobytes() == reference[idx].tobytes()
        np.testing.assert_array_equal(yb, train.y[idx])


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("baved_parallel_on_disk", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def test_the_script_option_trains_the_same_model(script, corpus, tmp_path):
    common = ["--data", str(corpus["root"] / "audio"), "--split", "speaker", "--epochs", "1",
              "--copies", "1", "--hidden", "8", "--heads", "2", "--channels", "4", "4", "8",
              "8", "--cache-dir", str(tmp_path / "cache")]
    cfg = script.parse_args(common + ["--features-on-disk"])
    assert cfg.data.features_on_disk and not script.parse_args(common).data.features_on_disk
    # the same run either way: a run started in memory may be resumed on disk
    assert script.run_settings(cfg) == script.run_settings(script.parse_args(common))
    assert script.main(common + ["--out", str(tmp_path / "memory")]) == 0
    assert script.main(common + ["--out", str(tmp_path / "disk"), "--features-on-disk"]) == 0
    a, b = (load_checkpoint(tmp_path / name)["model_state"] for name in ("memory", "disk"))
    for name in a:
        assert a[name].tobytes() == b[name].tobytes(), name
    ma, mb = (json.loads((tmp_path / name / "metrics.json").read_text())
              for name in ("memory", "disk"))
    assert (ma["ua"], ma["test_loss"], ma["n_train"]) == (mb["ua"], mb["test_loss"], mb["n_train"])
    assert any(p.name.startswith("training_") for p in (tmp_path / "cache").iterdir())
