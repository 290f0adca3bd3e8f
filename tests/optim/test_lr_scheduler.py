"""Learning-rate schedulers against learning-rate sequences computed by hand.

ReduceLROnPlateau follows torch's rules (better-than test with threshold, patience counted in
bad epochs, cooldown, min_lr, eps); ExponentialDecay follows Keras' formula
lr(s) = lr0 * rate ** (s / decay_steps), stepped per batch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from minitorch_ser import Tensor
from minitorch_ser.nn import Parameter
from minitorch_ser.optim import SGD, Adam
from minitorch_ser.optim.lr_scheduler import (ExponentialDecay, ExponentialLR, LRScheduler,
                                              ReduceLROnPlateau, StepLR)


def sgd(lr=1.0, group_lrs=None):
    if group_lrs is None:
        return SGD([Parameter(np.zeros(2))], lr=lr)
    return SGD([{"params": [Parameter(np.zeros(2))], "lr": g} for g in group_lrs], lr=lr)


def run_plateau(sched, metrics):
    """Step the scheduler once per metric; record lr(s), best, num_bad_epochs, cooldown."""
    lrs, best, bad, cool = [], [], [], []
    for m in metrics:
        sched.step(m)
        lrs.append(sched.get_last_lr() if len(sched.get_last_lr()) > 1 else sched.get_last_lr()[0])
        best.append(sched.best)
        bad.append(sched.num_bad_epochs)
        cool.append(sched.cooldown_counter)
    return lrs, best, bad, cool


# ------------------------------------------------------------------ ReduceLROnPlateau
def test_plateau_min_rel_patience_two():
    opt = sgd(lr=1.0)
    sched = ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
    lrs, best, bad, _ = run_plateau(sched, [10, 9, 9, 9, 9, 8, 8, 8, 8])
    # the third bad epoch in a row (> patience = 2) halves the lr and resets the count
    assert lrs == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]
    assert best == [10, 9, 9, 9, 9, 8, 8, 8, 8]
    assert bad == [0, 0, 1, 2, 0, 0, 1, 2, 0]
    assert opt.param_groups[0]["lr"] == 0.25
    assert sched.last_epoch == 9


def test_plateau_rel_and_abs_thresholds_patience_zero():
    # best = 9: rel needs < 9 * (1 - 1e-4) = 8.9991, abs needs < 9 - 1e-4 = 8.9999
    metrics = [9, 8.9995, 8.9995]
    rel = run_plateau(ReduceLROnPlateau(sgd(), factor=0.1, patience=0, threshold_mode="rel"),
                      metrics)
    abs_ = run_plateau(ReduceLROnPlateau(sgd(), factor=0.1, patience=0, threshold_mode="abs"),
                       metrics)
    assert rel[0] == pytest.approx([1, 0.1, 0.01], rel=1e-15)
    assert rel[1] == [9, 9, 9]
    assert abs_[0] == pytest.approx([1, 1, 0.1], rel=1e-15)
    assert abs_[1] == [9, 8.9995, 8.9995]


def test_plateau_mode_max_rel_and_abs():
    # rel: better if a > best * 1.1; abs: better if a > best + 0.1
    metrics = [100, 105, 111, 111.05]
    rel = run_plateau(ReduceLROnPlateau(sgd(), mode="max", factor=0.5, patience=0,
                                        threshold=0.1, threshold_mode="rel"), metrics)
    abs_ = run_plateau(ReduceLROnPlateau(sgd(), mode="max", factor=0.5, patience=0,
                                         threshold=0.1, threshold_mode="abs"), metrics)
    assert rel[0] == [1, 0.5, 0.5, 0.25]
    assert rel[1] == [100, 100, 111, 111]
    assert abs_[0] == [1, 1, 1, 0.5]  # 111.05 is not > 111 + 0.1
    assert abs_[1] == [100, 105, 111, 111]


def test_plateau_mode_max_accuracy_patience_one():
    lrs, best, bad, _ = run_plateau(ReduceLROnPlateau(sgd(), mode="max", factor=0.1, patience=1),
                                    [0.5, 0.6, 0.6, 0.55, 0.7])
    assert lrs == pytest.approx([1, 1, 1, 0.1, 0.1], rel=1e-15)
    assert best == [0.5, 0.6, 0.6, 0.6, 0.7]
    assert bad == [0, 0, 1, 0, 0]


def test_plateau_cooldown_with_patience_zero():
    lrs, _, bad, cool = run_plateau(
        ReduceLROnPlateau(sgd(), factor=0.1, patience=0, cooldown=2), [5] * 8)
    # a reduction, then two epochs of cooldown in which bad epochs are not counted
    assert lrs == pytest.approx([1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001], rel=1e-12)
    assert cool == [0, 2, 1, 0, 2, 1, 0, 2]
    assert bad == [0] * 8


def test_plateau_cooldown_then_improvement():
    lrs, best, bad, cool = run_plateau(
        ReduceLROnPlateau(sgd(), factor=0.5, patience=1, cooldown=1), [5, 5, 4, 5, 5, 5, 5, 5])
    assert lrs == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    assert bad == [0, 1, 0, 1, 0, 0, 1, 0]
    assert cool == [0, 0, 0, 0, 1, 0, 0, 1]
    assert best == [5, 5, 4, 4, 4, 4, 4, 4]


def test_plateau_min_lr_scalar_and_per_group():
    lrs = run_plateau(ReduceLROnPlateau(sgd(), factor=0.5, patience=0, min_lr=0.3), [1] * 5)[0]
    assert lrs == [1, 0.5, 0.3, 0.3, 0.3]
    opt = sgd(group_lrs=[1.0, 0.1])
    lrs = run_plateau(ReduceLROnPlateau(opt, factor=0.5, patience=0, min_lr=[0.3, 0.01]),
                      [1] * 6)[0]
    expected = [[1, 0.1], [0.5, 0.05], [0.3, 0.025], [0.3, 0.0125], [0.3, 0.01], [0.3, 0.01]]
    for got, want in zip(lrs, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-15)


def test_plateau_eps_skips_tiny_reductions():
    # 2e-8 -> 1e-8 is a reduction of exactly eps = 1e-8: not > eps, so skipped
    opt = sgd(lr=2e-8)
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=0, eps=1e-8)
    sched.step(1.0)
    sched.step(1.0)
    assert opt.param_groups[0]["lr"] == 2e-8
    opt = sgd(lr=3e-8)
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=0, eps=1e-8)
    sched.step(1.0)
    sched.step(1.0)
    assert opt.param_groups[0]["lr"] == 1.5e-8


def test_plateau_nan_metric_counts_as_bad_and_tensor_metrics_are_accepted():
    sched = ReduceLROnPlateau(sgd(), factor=0.5, patience=1)
    sched.step(Tensor(np.array(2.0, dtype=np.float32)))
    sched.step(float("nan"))
    assert sched.best == 2.0 and sched.num_bad_epochs == 1
    sched.step(np.float64(math.nan))
    assert sched.get_last_lr() == [0.5]


def test_plateau_drives_the_optimizer_lr():
    p = Parameter(np.zeros(1))
    opt = SGD([p], lr=1.0)
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=0)
    for metric in (1.0, 1.0):  # the second epoch is bad: lr halves to 0.5
        p.grad = np.ones(1)
        opt.step()
        sched.step(metric)
    p.grad = np.ones(1)
    opt.step()
    np.testing.assert_array_equal(p.data, [-(1.0 + 1.0 + 0.5)])


def test_plateau_scalar_min_lr_extends_to_groups_added_later():
    opt = sgd()
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=0, min_lr=0.4)
    opt.add_param_group({"params": [Parameter(np.zeros(1))], "lr": 1.0})
    sched.step(1)
    sched.step(1)
    assert sched.get_last_lr() == [0.5, 0.5]
    sched.step(1)
    assert sched.get_last_lr() == [0.4, 0.4]


# ------------------------------------------------------------------ ExponentialDecay
def test_exponential_decay_smooth_sequence():
    opt = sgd(lr=123.0)
    sched = ExponentialDecay(opt, initial_learning_rate=0.1, decay_steps=4, decay_rate=0.5)
    assert opt.param_groups[0]["lr"] == 0.1  # lr(0) is set on construction
    lrs = [sched.get_last_lr()[0]]
    for _ in range(8):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    # 0.1 * 0.5 ** (s / 4) for s = 0..8, with 0.5 ** 0.25 = 0.84089641525...,
    # 0.5 ** 0.5 = 0.70710678118... and 0.5 ** 0.75 = 0.59460355750...
    expected = [0.1, 0.084089641525371, 0.070710678118655, 0.059460355750136, 0.05,
                0.042044820762686, 0.035355339059327, 0.029730177875068, 0.025]
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert sched.last_epoch == 8


def test_exponential_decay_staircase_sequence():
    opt = sgd()
    sched = ExponentialDecay(opt, 0.1, decay_steps=3, decay_rate=0.1, staircase=True)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(7):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001], rel=1e-12)


def test_exponential_decay_kth_update_uses_lr_k():
    # as in Keras: the optimizer's k-th update (k = 0, 1, ...) uses lr(k)
    p = Parameter(np.zeros(1))
    opt = SGD([p], lr=1.0)
    sched = ExponentialDecay(opt, 1.0, decay_steps=1, decay_rate=0.5)
    for _ in range(3):
        p.grad = np.ones(1)
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.data, [-(1.0 + 0.5 + 0.25)], rtol=1e-15)


def test_exponential_decay_per_group_initial_lr():
    opt = sgd(group_lrs=[1.0, 1.0])
    sched = ExponentialDecay(opt, [0.2, 0.02], decay_steps=2, decay_rate=0.25)
    sched.step()
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.05, 0.005], rel=1e-15)
    with pytest.raises(ValueError, match="initial_learning_rate has 3 values"):
        ExponentialDecay(opt, [0.1, 0.1, 0.1], decay_steps=2, decay_rate=0.5)


# ------------------------------------------------------------------ StepLR, ExponentialLR
def test_step_lr_and_exponential_lr_sequences():
    opt = sgd(lr=1.0)
    sched = StepLR(opt, step_size=3, gamma=0.1)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(6):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01], rel=1e-12)

    opt = sgd(lr=1.0)
    sched = ExponentialLR(opt, gamma=0.5)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(3):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs == [1, 0.5, 0.25, 0.125]
    assert opt.param_groups[0]["initial_lr"] == 1.0


# ------------------------------------------------------------------ state dicts
def test_plateau_state_dict_round_trip_continues_identically():
    metrics = [5, 4, 4, 4, 3.5, 3.5, 3.5, 3.5, 3.0, 3.0, 3.0, 3.0]
    opt = sgd(group_lrs=[1.0, 0.1])
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=[0.2, 0.0])
    full = run_plateau(sched, metrics)

    opt_a = sgd(group_lrs=[1.0, 0.1])
    sched_a = ReduceLROnPlateau(opt_a, factor=0.5, patience=1, cooldown=1, min_lr=[0.2, 0.0])
    first = run_plateau(sched_a, metrics[:4])
    saved_opt, saved_sched = opt_a.state_dict(), sched_a.state_dict()
    assert saved_sched["cooldown_counter"] == 1  # saved mid-cooldown, so the test is not trivial

    opt_b = sgd(group_lrs=[9.0, 9.0])
    sched_b = ReduceLROnPlateau(opt_b, mode="min", factor=0.5, patience=1, cooldown=1,
                                min_lr=[0.2, 0.0])
    opt_b.load_state_dict(saved_opt)
    sched_b.load_state_dict(saved_sched)
    second = run_plateau(sched_b, metrics[4:])
    for a, b, c in zip(full, first, second):
        assert a == b + c


@pytest.mark.parametrize("order", ["optimizer_first", "scheduler_first",
                                   "scheduler_built_after_optimizer_loaded"])
def test_exponential_decay_state_dict_round_trip(order):
    opt = sgd()
    sched = ExponentialDecay(opt, 0.1, decay_steps=3, decay_rate=0.7)
    for _ in range(5):
        sched.step()
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    after = []
    for _ in range(4):
        sched.step()
        after.append(opt.param_groups[0]["lr"])

    opt2 = sgd()
    if order == "scheduler_built_after_optimizer_loaded":
        opt2.load_state_dict(saved_opt)
        sched2 = ExponentialDecay(opt2, 0.1, decay_steps=3, decay_rate=0.7)  # sets lr(0)
        sched2.load_state_dict(saved_sched)  # so loading must put lr(5) back
    else:
        sched2 = ExponentialDecay(opt2, 0.1, decay_steps=3, decay_rate=0.7)
        if order == "optimizer_first":
            opt2.load_state_dict(saved_opt)
            sched2.load_state_dict(saved_sched)
        else:
            sched2.load_state_dict(saved_sched)
            opt2.load_state_dict(saved_opt)
    assert opt2.param_groups[0]["lr"] == 0.1 * 0.7 ** (5 / 3)
    resumed = []
    for _ in range(4):
        sched2.step()
        resumed.append(opt2.param_groups[0]["lr"])
    assert resumed == after


def test_scheduler_load_state_dict_rejects_bad_keys_and_values():
    sched = ReduceLROnPlateau(sgd())
    state = sched.state_dict()
    with pytest.raises(ValueError, match=r"missing keys \['best'\]"):
        sched.load_state_dict({k: v for k, v in state.items() if k != "best"})
    with pytest.raises(ValueError, match=r"unexpected keys \['bogus'\]"):
        sched.load_state_dict(dict(state, bogus=1))
    with pytest.raises(ValueError, match="factor=2.0"):
        sched.load_state_dict(dict(state, factor=2.0))
    assert sched.factor == 0.1  # a failed load leaves the scheduler as it was
    one_group = ExponentialDecay(sgd(), 0.1, decay_steps=2, decay_rate=0.5).state_dict()
    two_groups = ExponentialDecay(sgd(group_lrs=[1.0, 1.0]), 0.1, decay_steps=2, decay_rate=0.5)
    with pytest.raises(ValueError, match=r"has 1 learning rate\(s\), the optimizer has 2"):
        two_groups.load_state_dict(one_group)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(factor=1.0), r"factor=1.0 must be in \[0, 1\)"),
    (dict(factor=1.5), r"factor=1.5 must be in \[0, 1\)"),
    (dict(mode="avg"), r"mode='avg' is unknown: must be 'min' or 'max'"),
    (dict(threshold_mode="pct"), r"threshold_mode='pct' is unknown"),
    (dict(patience=-1), r"patience=-1 must be an int >= 0"),
    (dict(patience=1.5), r"patience=1.5 must be an int >= 0"),
    (dict(cooldown=-2), r"cooldown=-2 must be an int >= 0"),
    (dict(threshold=-1e-3), r"threshold=-0.001 must be >= 0"),
    (dict(min_lr=-1.0), r"min_lr=-1.0 must be >= 0"),
    (dict(min_lr=[0.1, 0.2]), r"min_lr has 2 values, but the optimizer has 1"),
    (dict(eps=-1.0), r"eps=-1.0 must be >= 0"),
])
def test_plateau_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ReduceLROnPlateau(sgd(), **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(initial_learning_rate=-0.1, decay_steps=10, decay_rate=0.5),
     r"initial_learning_rate=-0.1 must be >= 0"),
    (dict(initial_learning_rate=0.1, decay_steps=0, decay_rate=0.5), r"decay_steps=0 must be > 0"),
    (dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.0),
     r"decay_rate=0.0 must be > 0"),
])
def test_exponential_decay_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExponentialDecay(sgd(), **kwargs)


def test_step_schedulers_bad_arguments_and_non_optimizer():
    with pytest.raises(ValueError, match=r"step_size=0 must be an int >= 1"):
        StepLR(sgd(), step_size=0)
    with pytest.raises(ValueError, match=r"gamma=-0.5 must be > 0"):
        ExponentialLR(sgd(), gamma=-0.5)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        ReduceLROnPlateau([Parameter(np.zeros(1))])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        ExponentialDecay(object(), 0.1, 10, 0.5)


def test_schedulers_work_with_adam_groups():
    opt = Adam([{"params": [Parameter(np.zeros(1))]}, {"params": [Parameter(np.zeros(1))],
                                                       "lr": 0.01}], lr=0.1)
    sched = ExponentialLR(opt, gamma=0.5)
    sched.step()
    assert sched.get_last_lr() == [0.05, 0.005]


def test_plateau_metric_must_be_one_number():
    sched = ReduceLROnPlateau(sgd())
    with pytest.raises(ValueError, match=r"metrics must be one number, got an array of shape \(2,\)"):
        sched.step(Tensor(np.array([1.0, 2.0])))
    with pytest.raises(ValueError, match=r"shape \(1, 2\)"):
        sched.step(np.ones((1, 2)))
    sched.step(np.array([[0.5]]))                       # one element, any rank
    sched.step(Tensor(np.array(0.25, dtype=np.float32)))
    assert sched.best == 0.25 and sched.last_epoch == 2


class Halving(LRScheduler):
    """The smallest schedule: only ``get_lr`` (lr_e = initial_lr / 2**e), no setting to check."""

    def get_lr(self):
        return [lr0 / 2 ** self.last_epoch for lr0 in self.base_lrs]


def test_a_scheduler_subclass_needs_only_get_lr_and_round_trips_its_state():
    opt = sgd(lr=1.0)
    sched = Halving(opt)
    for _ in range(3):
        sched.step()
    assert sched.get_last_lr() == [0.125] and opt.param_groups[0]["lr"] == 0.125
    state = sched.state_dict()
    fresh_opt = sgd(lr=1.0)
    fresh = Halving(fresh_opt)
    fresh.load_state_dict(state)
    assert fresh.last_epoch == 3 and fresh_opt.param_groups[0]["lr"] == 0.125
    fresh.step()
    assert fresh_opt.param_groups[0]["lr"] == 0.0625
