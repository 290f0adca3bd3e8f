"""The training recipe's options: selection on a chosen validation measure, UA, class weights,
the batch objective (SpecAugment masks, mixup, label smoothing), the normalizations through
``prepare``, mixup + masks resumed exactly, and the options on the command line."""

import math

import numpy as np
import pytest

from minitorch_ser import Tensor
from minitorch_ser.app.config import AugmentConfig
from minitorch_ser.app.experiment import prepare
from minitorch_ser.app.training import (EvalResult, TrainConfig, TrainingRun, batch_loss,
                                        class_weight_vector, fit, unweighted_recall)
from minitorch_ser.autograd.random import manual_seed
from minitorch_ser.data import baved, features, splits, synthetic
from minitorch_ser.data.augment import SpecAugment
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention
from minitorch_ser.nn import functional as F


def tiny_model(n_classes=3):
    return ParallelCNNLSTMAttention(n_classes=n_classes, n_mels=128, n_frames=128, hidden=4,
                                    heads=2, channels=(2, 2, 2, 2))


def random_arrays(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 128, 128)).astype(np.float32), rng.integers(0, 3, n)


class _Meter:
    """Stands in for EpochMeter in end_epoch."""
    loss, accuracy, start = 1.0, 0.5, 0.0

    def close(self):
        pass


class _Loader:
    def __len__(self):
        return 1

    def get_state(self):
        return {}


# ============================================================================ selection
@pytest.mark.parametrize("monitor, best", [("val_loss", 2), ("val_ua", 3), ("val_accuracy", 1)])
def test_the_monitored_measure_picks_the_best_epoch_and_drives_patience(monitor, best, tmp_path):
    """Losses 1.0, 0.8, 0.9, 0.95; UA 0.5, 0.4, 0.7, 0.6; accuracy 0.6, 0.5, 0.55, 0.58: each
    monitor keeps its own best epoch (best.ckpt written at it), and the epochs after it count
    towards patience."""
    manual_seed(0)
    model = tiny_model()
    from minitorch_ser.optim import Adam
    optimizer = Adam(model.parameters())
    run = TrainingRun(tmp_path, model, optimizer, None, _Loader(),
                      TrainConfig(progress=False, monitor=monitor, patience=2))
    figures = [(1.0, 0.5, 0.6), (0.8, 0.4, 0.5), (0.9, 0.7, 0.55), (0.95, 0.6, 0.58)]
    written = []
    for epoch, (loss, ua, acc) in enumerate(figures, start=1):
        before = (tmp_path / "best.ckpt").stat().st_mtime_ns if epoch > 1 else None
        run.end_epoch(epoch, _Meter(), EvalResult(loss, acc, np.zeros(1), np.zeros((1, 3)), ua),
                      1e-3)
        if before is None or (tmp_path / "best.ckpt").stat().st_mtime_ns != before:
            written.append(epoch)
    assert run.result.best_epoch == best
    assert written[-1] == best
    assert run.result.best_val_loss == figures[best - 1][0]
    measure = {"val_loss": 0, "val_ua": 1, "val_accuracy": 2}[monitor]
    assert run.result.best_score == figures[best - 1][measure]
    assert run.bad_epochs == len(figures) - best
    assert run.should_stop() == (len(figures) - best >= 2)
    assert [row["val_ua"] for row in run.result.history] == [f[1] for f in figures]


def test_bad_recipe_settings_name_the_setting():
    with pytest.raises(ValueError, match="monitor='test_ua'"):
        TrainConfig(monitor="test_ua")
    with pytest.raises(ValueError, match="label_smoothing=1.0"):
        TrainConfig(label_smoothing=1.0)
    with pytest.raises(ValueError, match="class_weights='equal'"):
        TrainConfig(class_weights="equal")
    with pytest.raises(ValueError, match="speed=1.0"):
        AugmentConfig(speed=1.0)
    with pytest.raises(ValueError, match="vtlp=-0.1"):
        AugmentConfig(vtlp=-0.1)


# ============================================================================ measures
def test_unweighted_recall_is_the_mean_recall_of_the_present_classes():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    p = np.array([0, 0, 0, 1, 1, 2, 2, 2, 0, 0])
    # recalls 3/4, 1/2, 2/4 -> (0.75 + 0.5 + 0.5) / 3
    assert math.isclose(unweighted_recall(y, p), (0.75 + 0.5 + 0.5) / 3)
    assert math.isclose(unweighted_recall(np.array([2, 2]), np.array([2, 0])), 0.5)  # class 2 only
    assert unweighted_recall(np.array([], int), np.array([], int)) == 0.0


def test_balanced_class_weights_give_every_present_class_the_same_total():
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    w = class_weight_vector(y, 4)
    totals = np.bincount(y, minlength=4) * w
    np.testing.assert_allclose(totals[:3], len(y) / 3, rtol=1e-6)
    assert w[3] == 0.0 and w.dtype == np.float32
    assert class_weight_vector(y, 4, "none") is None


# ============================================================================ the batch objective
def test_batch_loss_without_options_is_the_plain_cross_entropy():
    manual_seed(0)
    model = tiny_model().eval()
    X, y = random_arrays(4)
    loss, logits = batch_loss(model, X, y, TrainConfig())
    np.testing.assert_allclose(loss.item(), F.cross_entropy(model(Tensor(X)), y).item(), rtol=1e-6)
    smoothed, _ = batch_loss(model, X, y, TrainConfig(label_smoothing=0.1),
                             weight=np.array([1.0, 2.0, 0.5], np.float32))
    want = F.cross_entropy(logits, y, weight=np.array([1.0, 2.0, 0.5], np.float32),
                           label_smoothing=0.1)
    np.testing.assert_allclose(smoothed.item(), want.item(), rtol=1e-6)


def test_mixup_and_masks_follow_their_equations():
    """With a seeded generator: masks first (SpecAugment's own draw), then lam ~ Beta(a, a)
    and a permutation; the loss is the cross-entropy against lam y + (1 - lam) y[pi] of the
    model on lam x + (1 - lam) x[pi]. The caller's batch is left unchanged."""
    manual_seed(0)
    model = tiny_model().eval()
    X, y = random_arrays(6, seed=3)
    X_before = X.copy()
    masks = SpecAugment(1, 8, 1, 8)
    loss, _ = batch_loss(model, X, y, TrainConfig(), mixup=0.4, spec_augment=masks,
                         rng=np.random.default_rng(7))
    np.testing.assert_array_equal(X, X_before)
    rng = np.random.default_rng(7)
    masked = masks(X, rng)
    lam = np.float32(rng.beta(0.4, 0.4))
    perm = rng.permutation(6)
    mixed = lam * masked + (1 - lam) * masked[perm]
    eye = np.eye(3, dtype=np.float32)
    want = F.cross_entropy(model(Tensor(mixed)), lam * eye[y] + (1 - lam) * eye[y[perm]])
    np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-6)
    assert (masked != X).any() and 0 < lam < 1


def test_a_run_with_mixup_and_masks_resumes_exactly(tmp_path):
    """The draws come from the library's generator, whose state the checkpoint keeps."""
    train, val = random_arrays(24, 0), random_arrays(8, 1)
    cfg = TrainConfig(progress=False, epochs=3, batch_size=8, patience=0, restore_best=False,
                      monitor="val_ua", label_smoothing=0.1, class_weights="balanced")
    options = dict(mixup=0.3, spec_augment=SpecAugment(1, 4, 1, 4))
    manual_seed(1)
    straight = tiny_model()
    fit(straight, train, val, cfg, tmp_path / "a", seed=2, **options)
    manual_seed(1)
    first = tiny_model()
    fit(first, train, val, TrainConfig(**{**cfg.__dict__, "epochs": 1}), tmp_path / "b",
        seed=2, **options)
    second = tiny_model()
    fit(second, train, val, cfg, tmp_path / "b", resume=True, seed=2, **options)
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(value, second.state_dict()[key], err_msg=key)


# ============================================================================ normalizations
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("baved")
    synthetic.make_dataset(root, n_speakers=6, n_words=2, clips_per=2, seed=5)
    df = baved.read_metadata(root)
    labels = df["emotion"].to_numpy()
    split = splits.speaker_split(df.assign(label=labels), "label", "speaker",
                                 fractions=(0.6, 0.2, 0.2), seed=0)
    return df, labels, split


def _prepare(corpus, normalize):
    df, labels, split = corpus
    return prepare(df["path"].tolist(), labels, split, features.FeatureConfig(), cache_dir=None,
                   progress=False, normalize=normalize, speakers=df["speaker"].to_numpy())


def test_normalizations_through_prepare(corpus):
    df, labels, split = corpus
    raw = features.extract(df["path"].tolist(), features.FeatureConfig(), cache_dir=None,
                           progress=False).X
    train, val, test, standardizer = _prepare(corpus, "global")
    assert standardizer is not None
    np.testing.assert_allclose(test.X, standardizer.transform(raw[split["test"]]), atol=1e-5)

    train, val, test, standardizer = _prepare(corpus, "utterance")
    assert standardizer is None
    np.testing.assert_allclose(val.X, features.normalize_utterances(raw[split["val"]]), atol=1e-5)
    np.testing.assert_allclose(test.X.mean(axis=3), 0, atol=1e-4)

    train, val, test, standardizer = _prepare(corpus, "speaker")
    speakers = df["speaker"].to_numpy()
    for part, rows in ((train, split["train"]), (test, split["test"])):
        np.testing.assert_allclose(part.X, features.normalize_speakers(raw[rows], speakers[rows]),
                                   atol=1e-5)
        for s in np.unique(speakers[rows]):                # every speaker centred on its own
            mine = part.X[speakers[rows] == s]
            np.testing.assert_allclose(mine.mean(axis=(0, 3)), 0, atol=1e-4)


def test_normalization_arguments_are_checked(corpus):
    df, labels, split = corpus
    with pytest.raises(ValueError, match="normalize='cepstral'"):
        _prepare(corpus, "cepstral")
    with pytest.raises(ValueError, match="speakers="):
        prepare(df["path"].tolist(), labels, split, features.FeatureConfig(), cache_dir=None,
                progress=False, normalize="speaker")


def test_normalize_functions_refuse_bad_shapes():
    with pytest.raises(ValueError, match="must be \\(N, C, F, T\\)"):
        features.normalize_utterances(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="speakers must be"):
        features.normalize_speakers(np.zeros((2, 1, 3, 4)), [0, 1, 2])
