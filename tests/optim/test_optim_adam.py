"""Adam against its update equations (Kingma & Ba 2015, Algorithm 1; torch.optim.Adam's L2 decay
and AMSGrad), written out with the bias-corrected moments m_hat and v_hat."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser.nn import Parameter
from minitorch_ser.optim import Adam
from optim_strategies import (gradient, initial_arrays, make_params, seeds, set_gradients,
                               shape_lists)


def adam_reference(theta0, grads, lr, betas, eps, weight_decay, amsgrad):
    """Float64 transcription of Adam. ``grads(theta, t)`` gives the gradient at step t."""
    beta1, beta2 = betas
    theta = theta0.astype(np.float64)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    v_max = np.zeros_like(theta)
    for t in range(1, len(grads) + 1):
        g = grads[t - 1](theta)
        g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat = m / (1 - beta1 ** t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - beta2 ** t)
        else:
            v_hat = v / (1 - beta2 ** t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta, m, v, v_max


adam_settings = st.fixed_dictionaries({
    "lr": st.floats(1e-4, 0.5),
    "betas": st.tuples(st.sampled_from([0.0, 0.9]) | st.floats(0.0, 0.99),
                       st.sampled_from([0.0, 0.999]) | st.floats(0.0, 0.9999)),
    "eps": st.sampled_from([1e-8, 1e-3]) | st.floats(1e-10, 1e-2),
    "weight_decay": st.sampled_from([0.0, 1e-2]) | st.floats(0.0, 0.1),
    "amsgrad": st.booleans(),
})


@settings(max_examples=40, deadline=None)
@given(shape_list=shape_lists, seed=seeds, cfg=adam_settings, n_steps=st.integers(1, 5))
def test_adam_matches_reference_equations(shape_list, seed, cfg, n_steps):
    start = initial_arrays(shape_list, seed)
    params = make_params(start)
    opt = Adam(params, **cfg)
    for t in range(1, n_steps + 1):
        set_gradients(params, t, seed)
        opt.step()
    for i, (p, theta0) in enumerate(zip(params, start)):
        grads = [lambda th, t=t: gradient(th, t, i, seed) for t in range(1, n_steps + 1)]
        theta, m, v, v_max = adam_reference(theta0, grads, **cfg)
        np.testing.assert_allclose(p.data, theta, rtol=1e-10, atol=1e-12)
        state = opt.state[p]
        assert state["step"] == n_steps
        np.testing.assert_allclose(state["exp_avg"], m, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(state["exp_avg_sq"], v, rtol=1e-10, atol=1e-14)
        if cfg["amsgrad"]:
            np.testing.assert_allclose(state["max_exp_avg_sq"], v_max, rtol=1e-10, atol=1e-14)
        else:
            assert "max_exp_avg_sq" not in state


def test_adam_first_step_moves_each_coordinate_by_lr_times_sign():
    # after bias correction m_hat_1 = g and v_hat_1 = g^2, so the step is lr * g / (|g| + eps)
    g = np.array([3.0, -0.02, 1e-3, -50.0])
    p = Parameter(np.zeros(4))
    p.grad = g.copy()
    Adam([p], lr=0.01, eps=1e-8).step()
    np.testing.assert_allclose(p.data, -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_amsgrad_uses_the_running_max_of_v():
    # a large gradient then small ones: v decays, so AMSGrad's max(v) differs from v
    grads = [np.array([10.0, -4.0])] + [np.array([0.1, 0.2])] * 4
    results = {}
    for amsgrad in (False, True):
        p = Parameter(np.array([1.0, 1.0]))
        opt = Adam([p], lr=0.1, betas=(0.9, 0.9), amsgrad=amsgrad)
        for g in grads:
            p.grad = g.copy()
            opt.step()
        theta, m, v, v_max = adam_reference(
            np.array([1.0, 1.0]), [lambda th, g=g: g for g in grads], lr=0.1, betas=(0.9, 0.9),
            eps=1e-8, weight_decay=0.0, amsgrad=amsgrad)
        np.testing.assert_allclose(p.data, theta, rtol=1e-12)
        results[amsgrad] = p.data.copy()
        if amsgrad:
            np.testing.assert_allclose(opt.state[p]["max_exp_avg_sq"], v_max, rtol=1e-12)
            assert np.all(opt.state[p]["max_exp_avg_sq"] > opt.state[p]["exp_avg_sq"])
    # the larger denominator makes AMSGrad's later steps smaller
    assert np.all(np.abs(results[True] - 1.0) < np.abs(results[False] - 1.0))


@settings(max_examples=20, deadline=None)
@given(shape_list=shape_lists, seed=seeds, amsgrad=st.booleans())
def test_adam_float32_in_place_and_close_to_float64(shape_list, seed, amsgrad):
    start = initial_arrays(shape_list, seed, dtype=np.float32)
    params = make_params(start)
    datas = [p.data for p in params]
    opt = Adam(params, lr=1e-2, weight_decay=1e-2, amsgrad=amsgrad)
    for t in range(1, 4):
        set_gradients(params, t, seed)
        opt.step()
    for i, (p, data, theta0) in enumerate(zip(params, datas, start)):
        assert p.data is data and p.data.dtype == np.float32
        for key, value in opt.state[p].items():
            if key != "step":
                assert value.dtype == np.float32, key
        grads = [lambda th, t=t: gradient(th.astype(np.float32), t, i, seed).astype(np.float64)
                 for t in range(1, 4)]
        theta = adam_reference(theta0, grads, lr=1e-2, betas=(0.9, 0.999), eps=1e-8,
                               weight_decay=1e-2, amsgrad=amsgrad)[0]
        np.testing.assert_allclose(p.data, theta, rtol=1e-5, atol=1e-6)


def test_adam_weight_decay_is_l2_in_the_gradient_not_decoupled():
    # with weight decay, Adam sees g + wd * theta: equivalent to plain Adam on that gradient
    theta0 = np.array([2.0, -1.0, 0.5])
    g = np.array([0.1, 0.1, -0.3])
    p_wd, p_l2 = Parameter(theta0.copy()), Parameter(theta0.copy())
    opt_wd = Adam([p_wd], lr=0.05, weight_decay=0.2)
    opt_l2 = Adam([p_l2], lr=0.05)
    for _ in range(3):
        p_wd.grad = g.copy()
        p_l2.grad = g + 0.2 * p_l2.data
        opt_wd.step()
        opt_l2.step()
        np.testing.assert_array_equal(p_wd.grad, g)  # the L2 term is not written into grad
    np.testing.assert_allclose(p_wd.data, p_l2.data, rtol=1e-15)
    # decoupled decay (AdamW: theta <- theta - lr * wd * theta, then Adam on g) differs
    p_w = Parameter(theta0.copy())
    opt_w = Adam([p_w], lr=0.05)
    for _ in range(3):
        p_w.data -= 0.05 * 0.2 * p_w.data
        p_w.grad = g.copy()
        opt_w.step()
    assert np.max(np.abs(p_w.data - p_wd.data)) > 1e-3


def test_adam_skips_parameters_without_gradient_and_counts_steps_per_parameter():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt = Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.step()
    opt.step()
    np.testing.assert_array_equal(b.data, np.ones(3))
    assert b not in opt.state and opt.state[a]["step"] == 2
    b.grad = np.ones(3)
    opt.step()
    assert opt.state[a]["step"] == 3 and opt.state[b]["step"] == 1
    # b's first step is bias-corrected as a first step: it moves by lr * g / (|g| + eps)
    np.testing.assert_allclose(b.data, 1 - 0.1 / (1 + 1e-8), rtol=1e-15)


def test_adam_maximize_equals_minimizing_the_negative():
    a, b = Parameter(np.array([0.5, -0.5])), Parameter(np.array([0.5, -0.5]))
    opt_a = Adam([a], lr=0.1, maximize=True)
    opt_b = Adam([b], lr=0.1)
    for g in (np.array([1.0, 2.0]), np.array([-0.5, 0.3])):
        a.grad, b.grad = g.copy(), -g
        opt_a.step()
        opt_b.step()
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("betas", [(0.0, 0.0), (0.5, 0.0)])
def test_adam_with_zero_beta2_normalises_by_the_current_gradient(betas):
    # beta2 = 0: v_t = g_t^2, no bias correction of v; beta1 = 0: m_t = g_t
    p = Parameter(np.array([0.0, 0.0]))
    opt = Adam([p], lr=1.0, betas=betas, eps=0.0)
    grads = [np.array([2.0, -3.0]), np.array([-1.0, 4.0])]
    m = np.zeros(2)
    expected = np.zeros(2)
    for t, g in enumerate(grads, start=1):
        p.grad = g.copy()
        opt.step()
        m = betas[0] * m + (1 - betas[0]) * g
        expected = expected - (m / (1 - betas[0] ** t)) / np.abs(g)
    np.testing.assert_allclose(p.data, expected, rtol=1e-15)
