"""SGD against its update equations written out step by step (PyTorch's documented algorithm)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser.nn import Parameter
from minitorch_ser.optim import SGD
from optim_strategies import (gradient, initial_arrays, make_params, seeds, set_gradients,
                               shape_lists)


def sgd_reference(theta0, n_steps, seed, index, lr, momentum, dampening, weight_decay, nesterov):
    """Plain float64 transcription of the SGD algorithm, one parameter, ``n_steps`` steps."""
    theta = theta0.astype(np.float64)
    buf = None
    for t in range(1, n_steps + 1):
        g = gradient(theta, t, index, seed)
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            if t == 1:
                buf = g
            else:
                buf = momentum * buf + (1 - dampening) * g
            if nesterov:
                g = g + momentum * buf
            else:
                g = buf
        theta = theta - lr * g
    return theta


sgd_settings = st.fixed_dictionaries({
    "lr": st.floats(1e-4, 1.0),
    "momentum": st.sampled_from([0.0, 0.5, 0.9]) | st.floats(0.0, 0.99),
    "dampening": st.sampled_from([0.0, 0.1, 0.5]),
    "weight_decay": st.sampled_from([0.0, 1e-2]) | st.floats(0.0, 0.1),
    "nesterov": st.booleans(),
})


@settings(max_examples=40, deadline=None)
@given(shape_list=shape_lists, seed=seeds, cfg=sgd_settings, n_steps=st.integers(1, 5))
def test_sgd_matches_reference_equations(shape_list, seed, cfg, n_steps):
    if cfg["nesterov"]:  # nesterov needs momentum > 0 and no dampening
        cfg = dict(cfg, momentum=max(cfg["momentum"], 0.1), dampening=0.0)
    start = initial_arrays(shape_list, seed)
    params = make_params(start)
    opt = SGD(params, **cfg)
    for t in range(1, n_steps + 1):
        set_gradients(params, t, seed)
        opt.step()
    for i, (p, theta0) in enumerate(zip(params, start)):
        expected = sgd_reference(theta0, n_steps, seed, i, **cfg)
        np.testing.assert_allclose(p.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cfg", [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, dampening=0.3),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    dict(lr=0.1, weight_decay=0.05),
])
def test_sgd_two_steps_by_hand(cfg):
    # theta0 = [1, -2], constant gradient g = [0.5, 0.25]; two steps written out explicitly
    lr, mu = cfg["lr"], cfg.get("momentum", 0.0)
    tau, wd = cfg.get("dampening", 0.0), cfg.get("weight_decay", 0.0)
    nesterov = cfg.get("nesterov", False)
    theta0, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    # step 1: the momentum buffer starts as the (decayed) gradient
    g1 = g + wd * theta0
    b1 = g1
    d1 = (g1 + mu * b1 if nesterov else b1) if mu else g1
    theta1 = theta0 - lr * d1
    # step 2
    g2 = g + wd * theta1
    b2 = mu * b1 + (1 - tau) * g2
    d2 = (g2 + mu * b2 if nesterov else b2) if mu else g2
    theta2 = theta1 - lr * d2

    p = Parameter(theta0.copy())
    opt = SGD([p], **cfg)
    for expected in (theta1, theta2):
        p.grad = g.copy()
        opt.step()
        np.testing.assert_allclose(p.data, expected, rtol=1e-15, atol=1e-15)
    if mu:
        np.testing.assert_allclose(opt.state[p]["momentum_buffer"], b2, rtol=1e-15)
    else:
        assert "momentum_buffer" not in opt.state[p]


def test_sgd_updates_in_place_in_param_dtype_and_leaves_grad_alone():
    p = Parameter(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    data = p.data
    grad = np.full((2, 3), 0.5, dtype=np.float32)
    p.grad = grad.copy()
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)
    opt.step()
    assert p.data is data and p.data.dtype == np.float32
    assert opt.state[p]["momentum_buffer"].dtype == np.float32
    np.testing.assert_array_equal(p.grad, grad)  # weight decay did not write into p.grad
    expected = np.linspace(-1, 1, 6).reshape(2, 3)
    d = 0.5 + 0.1 * expected
    expected = expected - 0.1 * (d + 0.9 * d)
    np.testing.assert_allclose(p.data, expected, rtol=1e-6, atol=1e-7)


def test_sgd_skips_parameters_without_gradient():
    a, b = Parameter(np.ones(3)), Parameter(np.ones(2))
    opt = SGD([a, b], lr=0.5, momentum=0.9)
    a.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(a.data, np.full(3, 0.5))
    np.testing.assert_array_equal(b.data, np.ones(2))
    assert b not in opt.state
    # b's first gradient initialises its own buffer (first-step rule), a's buffer accumulates
    a.grad, b.grad = np.ones(3), np.ones(2)
    opt.step()
    np.testing.assert_array_equal(opt.state[a]["momentum_buffer"], np.full(3, 1.9))
    np.testing.assert_array_equal(opt.state[b]["momentum_buffer"], np.ones(2))


def test_sgd_maximize_ascends():
    start = np.array([0.3, -0.7])
    g = np.array([1.0, -2.0])
    p_min, p_max = Parameter(start.copy()), Parameter(start.copy())
    opt_min = SGD([p_min], lr=0.1, momentum=0.5)
    opt_max = SGD([p_max], lr=0.1, momentum=0.5, maximize=True)
    for _ in range(3):
        p_min.grad, p_max.grad = -g, g.copy()  # maximizing f is minimizing -f
        opt_min.step()
        opt_max.step()
    np.testing.assert_array_equal(p_max.data, p_min.data)
    assert np.all(np.sign(p_max.data - start) == np.sign(g))


def test_param_groups_use_their_own_settings():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    opt = SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0.0, 0.9]
    for _ in range(2):
        a.grad, b.grad = np.ones(2), np.ones(3)
        opt.step()
    np.testing.assert_allclose(a.data, np.full(2, -0.2), rtol=1e-15)
    np.testing.assert_allclose(b.data, np.full(3, -0.5 * (1 + 1.9)), rtol=1e-15)
    # changing a group's lr in place is seen by the next step
    opt.param_groups[0]["lr"] = 1.0
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_allclose(a.data, np.full(2, -1.2), rtol=1e-15)
