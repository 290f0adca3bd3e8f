"""Divergence in the training loop: a non-finite loss, gradient, weight, optimizer state or
validation figure stops ``fit`` with ``TrainingDiverged`` naming where it arose, before anything
non-finite reaches last.ckpt, best.ckpt or history.csv."""

import csv
import math

import numpy as np
import pytest

from minitorch_ser.app import training as train_module
from minitorch_ser.app.checkpoint import build_model, load_checkpoint, save_checkpoint
from minitorch_ser.autograd.function import Function
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention
from minitorch_ser.autograd.random import manual_seed
from minitorch_ser.app.training import TrainConfig, TrainingDiverged, evaluate, first_non_finite, fit


def tiny_model():
    return ParallelCNNLSTMAttention(n_classes=3, n_mels=128, n_frames=128, hidden=8, heads=2,
                                    channels=(4, 4, 8, 8))


def random_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 128, 128)).astype(np.float32), rng.integers(0, 3, n)


def quiet(**kw):
    return TrainConfig(progress=False, batch_size=8, patience=0, **kw)


class PoisonGradient(Function):
    """Adds 0 to the loss, and ``fill`` to every element of its input's gradient."""

    @staticmethod
    def forward(ctx, x, fill=np.nan):
        ctx.save_for_backward(x.shape, x.dtype, fill)
        return np.zeros((), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        shape, dtype, fill = ctx.saved_tensors
        return np.full(shape, fill, dtype=dtype)


def one_good_epoch(run_dir):
    """A tiny model after one finite epoch in ``run_dir`` (2 batches of 8); its data and the
    bytes of its two checkpoints."""
    train, val = random_arrays(16, 0), random_arrays(8, 1)
    manual_seed(0)
    model = tiny_model()
    fit(model, train, val, quiet(epochs=1, restore_best=False), run_dir)
    saved = {name: (run_dir / name).read_bytes() for name in ("last.ckpt", "best.ckpt")}
    return model, train, val, saved


def resume_two_epochs(model, train, val, run_dir, **kw):
    return fit(model, train, val, quiet(epochs=2, **kw), run_dir, resume=True)


def assert_checkpoints_kept(run_dir, saved):
    """last.ckpt and best.ckpt are byte for byte those of epoch 1, and hold finite values."""
    for name, data in saved.items():
        assert (run_dir / name).read_bytes() == data, f"{name} was rewritten"
        ckpt = load_checkpoint(run_dir / name)
        assert ckpt["epoch"] == 1, name
        assert first_non_finite(ckpt["model_state"].items()) is None, name
        assert all(math.isfinite(v) for row in ckpt["history"] for v in row.values()), name
    rows = list(csv.DictReader(open(run_dir / "history.csv")))
    assert [r["epoch"] for r in rows] == ["1"], "the diverged epoch was recorded"


# ================================================================================ gradients
@pytest.mark.parametrize("fill, clipping", [
    (np.nan, {}),
    (np.inf, {"clip_grad_value": 1.0}),      # value clipping would turn inf into 1.0
    (-np.inf, {"clip_grad_norm": 1.0}),      # norm clipping would turn the gradient into nan
])
def test_non_finite_gradient_stops_before_the_step(tmp_path, fill, clipping):
    model, train, val, saved = one_good_epoch(tmp_path)
    # a finite loss whose gradient of fc.weight is non-finite
    model.regularization_loss = lambda: PoisonGradient.apply(model.fc.weight, fill=fill)
    with pytest.raises(TrainingDiverged,
                       match=r"non-finite gradient of fc\.weight at epoch 2, batch 1 "
                             r"\(loss [0-9.]+\), before the optimizer step; stopping, the last "
                             r"good state is in .*last\.ckpt"):
        resume_two_epochs(model, train, val, tmp_path, **clipping)
    assert_checkpoints_kept(tmp_path, saved)
    # the optimizer never stepped: the parameters are still those of epoch 1
    epoch1 = load_checkpoint(tmp_path / "last.ckpt")["model_state"]
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, epoch1[name], err_msg=name)


# ================================================================== weights, optimizer state
def poison_after_step(monkeypatch, step, target):
    """Make fit's optimizer write inf into the array ``target(model, optimizer)`` right after
    its ``step``-th step."""
    make = train_module.make_optimizer

    def make_poisoned(model, config):
        optimizer = make(model, config)
        clean_step, count = optimizer.step, [0]

        def step_then_poison(closure=None):
            clean_step(closure)
            count[0] += 1
            if count[0] == step:
                target(model, optimizer).flat[0] = np.inf

        optimizer.step = step_then_poison
        return optimizer

    monkeypatch.setattr(train_module, "make_optimizer", make_poisoned)


@pytest.mark.parametrize("step, target, message", [
    # the last step of epoch 2: caught by the check that precedes the checkpoints
    (2, lambda m, o: m.fc.bias.data,
     r"non-finite values in fc\.bias after epoch 2 \(last batch 2\); stopping"),
    (2, lambda m, o: o.state[m.fc.weight]["exp_avg_sq"],
     r"non-finite values in exp_avg_sq of fc\.weight \(optimizer state\) after epoch 2"),
    # the first step of epoch 2: the next loss is nan, the message names the weight behind it
    (1, lambda m, o: m.fc.bias.data,
     r"non-finite loss \(nan\) at epoch 2, batch 2: the first non-finite values are in fc\.bias"),
])
def test_non_finite_weights_are_never_checkpointed(tmp_path, monkeypatch, step, target, message):
    model, train, val, saved = one_good_epoch(tmp_path)
    poison_after_step(monkeypatch, step, target)
    with np.errstate(invalid="ignore"), pytest.raises(TrainingDiverged, match=message):
        resume_two_epochs(model, train, val, tmp_path)
    assert_checkpoints_kept(tmp_path, saved)


def test_resume_refuses_a_non_finite_checkpoint(tmp_path):
    model, train, val, _ = one_good_epoch(tmp_path)
    ckpt = load_checkpoint(tmp_path / "last.ckpt")
    ckpt["model_state"]["lstm.weight_hh_l0"][1, 2] = np.nan
    save_checkpoint(tmp_path / "last.ckpt", ckpt)
    with pytest.raises(TrainingDiverged, match=r"last\.ckpt holds non-finite values in "
                                               r"lstm\.weight_hh_l0: a diverged state cannot"):
        resume_two_epochs(model, train, val, tmp_path)


# =============================================================================== validation
def test_non_finite_validation_loss_is_not_an_epoch(tmp_path):
    model, train, val, saved = one_good_epoch(tmp_path)
    X_val = val[0].copy()
    X_val[3, 0, 7, 7] = np.inf
    with np.errstate(invalid="ignore"), pytest.raises(
            TrainingDiverged,
            match=r"non-finite validation loss \(nan\) or accuracy \([0-9.]+\) after epoch 2 "
                  r"\(1 validation clip\(s\) get non-finite probabilities\): every weight is "
                  r"finite, but 1 validation clips hold NaN or inf features "
                  r"\(the first is row 3\)"):
        resume_two_epochs(model, train, (X_val, val[1]), tmp_path)
    assert_checkpoints_kept(tmp_path, saved)


def test_huge_learning_rate_leaves_only_finite_checkpoints(tmp_path):
    """The issue's case, SGD at lr 1e3: epoch 1 survives, epoch 2 diverges, and the checkpoints
    advertised as the last good state predict finite probabilities."""
    train, val = random_arrays(16, 0), random_arrays(8, 1)
    manual_seed(0)
    config = quiet(epochs=6, optimizer="sgd", lr=1e3, scheduler="none")
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="at epoch 2"):
        fit(tiny_model(), train, val, config, tmp_path)
    for name in ("last.ckpt", "best.ckpt"):
        ckpt = load_checkpoint(tmp_path / name)
        assert ckpt["epoch"] == 1 and first_non_finite(ckpt["model_state"].items()) is None
        probs = evaluate(build_model(ckpt), *val).probabilities
        assert np.isfinite(probs).all(), f"{name} predicts {probs}"


def test_huge_weights_overflowing_at_validation_write_no_checkpoint(tmp_path):
    """SGD at lr 1e4: epoch 1 trains on finite losses, but its weights (finite, ~1e10) make the
    validation logits overflow; no checkpoint may be written at all."""
    train, val = random_arrays(16, 0), random_arrays(8, 1)
    manual_seed(0)
    config = quiet(epochs=6, optimizer="sgd", lr=1e4, scheduler="none")
    with np.errstate(all="ignore"), pytest.raises(
            TrainingDiverged, match=r"validation loss \(nan\) .* after epoch 1 .* every weight "
                                    r"and input is finite, so the activations overflow .*; "
                                    r"stopping, no checkpoint was written yet"):
        fit(tiny_model(), train, val, config, tmp_path)
    assert not (tmp_path / "last.ckpt").exists() and not (tmp_path / "best.ckpt").exists()
    assert not (tmp_path / "history.csv").exists()


# ================================================================================== helper
def test_first_non_finite_names_the_first_offender():
    big = np.array([1e308, 1e308])                          # its sum overflows, no element does
    arrays = [("a", np.zeros(3, np.float32)), ("none", None), ("big", big),
              ("ints", np.arange(4)), ("b", np.array([0.0, np.nan])), ("c", np.array([np.inf]))]
    assert first_non_finite(arrays) == "b"
    assert first_non_finite(arrays[:4]) is None
    assert first_non_finite([("neg", np.array([[1.0], [-np.inf]], np.float32))]) == "neg"
