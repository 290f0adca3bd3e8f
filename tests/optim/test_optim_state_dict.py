"""Optimizer (and scheduler) state dicts: format, and resuming training bit for bit."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from minitorch_ser.nn import Parameter
from minitorch_ser.optim import SGD, Adam
from minitorch_ser.optim.lr_scheduler import ExponentialDecay, ReduceLROnPlateau
from optim_strategies import initial_arrays, make_params, set_gradients

SHAPES = [(3, 4), (4,), (2, 1, 3)]
SEED = 1234

OPTIMIZERS = {
    "sgd": lambda groups: SGD(groups, lr=0.05),
    "sgd_momentum_dampening_wd": lambda groups: SGD(groups, lr=0.05, momentum=0.9, dampening=0.2,
                                                    weight_decay=1e-2),
    "sgd_nesterov": lambda groups: SGD(groups, lr=0.05, momentum=0.8, nesterov=True),
    "adam": lambda groups: Adam(groups, lr=1e-2, weight_decay=1e-3),
    "adam_amsgrad": lambda groups: Adam(groups, lr=1e-2, betas=(0.8, 0.9), amsgrad=True),
}
SCHEDULERS = {
    "none": lambda opt: None,
    # mode "max" on a decreasing loss: bad epochs, so the lr is cut before and after the save
    "plateau": lambda opt: ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1, cooldown=1),
    "exp_decay": lambda opt: ExponentialDecay(opt, 0.02, decay_steps=3, decay_rate=0.8),
}


def groups_of(params):
    # two groups: the first two arrays, and the last one with its own lr
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.03}]


def train(params, opt, sched, steps):
    """Batches numbered ``steps``; a plateau scheduler sees a metric every 2 batches."""
    for t in steps:
        set_gradients(params, t, SEED)
        opt.step()
        if isinstance(sched, ReduceLROnPlateau):
            if t % 2 == 0:
                sched.step(float(sum(np.sum(p.data ** 2) for p in params)))
        elif sched is not None:
            sched.step()


@pytest.mark.parametrize("sched_name", SCHEDULERS)
@pytest.mark.parametrize("opt_name", OPTIMIZERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resume_from_state_dict_is_bit_identical(opt_name, sched_name, dtype):
    start = initial_arrays(SHAPES, SEED, dtype=dtype)
    k, n = 7, 6

    # uninterrupted run
    ref_params = make_params(start)
    ref_opt = OPTIMIZERS[opt_name](groups_of(ref_params))
    ref_sched = SCHEDULERS[sched_name](ref_opt)
    train(ref_params, ref_opt, ref_sched, range(1, k + n + 1))

    # k steps, checkpoint, fresh objects, load, n more steps
    params = make_params(start)
    opt = OPTIMIZERS[opt_name](groups_of(params))
    sched = SCHEDULERS[sched_name](opt)
    train(params, opt, sched, range(1, k + 1))
    checkpoint = {"params": [p.data.copy() for p in params],
                  "optimizer": opt.state_dict(),
                  "scheduler": None if sched is None else sched.state_dict()}
    snapshot = copy.deepcopy(checkpoint)
    train(params, opt, sched, range(k + 1, k + n + 1))  # the original keeps training

    new_params = make_params(checkpoint["params"])
    new_opt = OPTIMIZERS[opt_name](groups_of(new_params))
    for group in new_opt.param_groups:
        group["lr"] = 123.0  # must be overwritten by the loaded state
    new_sched = SCHEDULERS[sched_name](new_opt)
    new_opt.load_state_dict(checkpoint["optimizer"])
    if new_sched is not None:
        new_sched.load_state_dict(checkpoint["scheduler"])
    train(new_params, new_opt, new_sched, range(k + 1, k + n + 1))

    for p_ref, p_new, p_orig in zip(ref_params, new_params, params):
        assert p_new.data.dtype == dtype
        np.testing.assert_array_equal(p_new.data, p_ref.data)
        np.testing.assert_array_equal(p_orig.data, p_ref.data)
    assert [g["lr"] for g in new_opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
    for p_ref, p_new in zip(ref_params, new_params):
        ref_state, new_state = ref_opt.state[p_ref], new_opt.state[p_new]
        assert ref_state.keys() == new_state.keys()
        for key in ref_state:
            np.testing.assert_array_equal(new_state[key], ref_state[key])
    # the checkpoint was a snapshot: training on after saving did not change it
    _assert_same_nested(checkpoint, snapshot)


def _assert_same_nested(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same_nested(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_nested(x, y)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def test_state_dict_format_matches_pytorch_layout():
    a, b, c = Parameter(np.zeros(2)), Parameter(np.zeros(3)), Parameter(np.zeros(1))
    opt = Adam([{"params": [a, b]}, {"params": [c], "lr": 0.1}], lr=1e-3, amsgrad=True)
    a.grad, c.grad = np.ones(2), np.ones(1)  # b has no gradient: no state
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.1 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"]) == [0, 2]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 1
    assert sd["state"][0]["exp_avg"] is not opt.state[a]["exp_avg"]  # a copy


def test_loading_copies_so_one_checkpoint_restores_twice():
    def fresh():
        p = Parameter(np.array([1.0, -1.0]))
        return p, SGD([p], lr=0.1, momentum=0.9)

    p, opt = fresh()
    p.grad = np.array([1.0, 2.0])
    opt.step()
    sd = opt.state_dict()
    results = []
    for _ in range(2):
        q, opt2 = fresh()
        q.data[...] = p.data
        opt2.load_state_dict(sd)
        for _ in range(3):
            q.grad = np.array([0.5, -0.5])
            opt2.step()
        results.append(q.data.copy())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(sd["state"][0]["momentum_buffer"], [1.0, 2.0])


def test_load_casts_state_to_the_parameter_dtype():
    p64 = Parameter(np.zeros(3))
    opt64 = Adam([p64])
    p64.grad = np.full(3, 0.3)
    opt64.step()
    p32 = Parameter(np.zeros(3, dtype=np.float32))
    opt32 = Adam([p32])
    opt32.load_state_dict(opt64.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype == np.float32
    np.testing.assert_allclose(opt32.state[p32]["exp_avg"], 0.03, rtol=1e-6)


def test_load_state_dict_mismatches_raise_listing_them():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros((3, 3)))
    opt = Adam([a, b])
    a.grad, b.grad = np.ones(2), np.ones((3, 3))
    opt.step()
    sd = opt.state_dict()

    with pytest.raises(ValueError, match=r"state_dict has 1 parameter group\(s\), the optimizer "
                                         r"has 2"):
        Adam([{"params": [Parameter(np.zeros(2))]}, {"params": [Parameter(np.zeros(9))]}]) \
            .load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 2 in the state_dict, 1 in the optimizer"):
        Adam([Parameter(np.zeros(2))]).load_state_dict(sd)
    other = Adam([Parameter(np.zeros(5)), Parameter(np.zeros((3, 2)))])
    with pytest.raises(ValueError) as err:
        other.load_state_dict(sd)
    message = str(err.value)
    for expected in ("state[0]['exp_avg']: expected shape (5,), got (2,)",
                     "state[0]['exp_avg_sq']: expected shape (5,), got (2,)",
                     "state[1]['exp_avg']: expected shape (3, 2), got (3, 3)"):
        assert expected in message
    assert other.state == {}  # nothing was loaded
    with pytest.raises(ValueError, match="missing entries: state"):
        Adam([a, b]).load_state_dict({"param_groups": sd["param_groups"]})
    bad = copy.deepcopy(sd)
    bad["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr=-1.0 must be >= 0"):
        Adam([a, b]).load_state_dict(bad)
