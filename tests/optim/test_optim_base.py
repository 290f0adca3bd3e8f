"""Optimizer base: parameter groups, zero_grad, closure, and errors stating the constraint."""

from __future__ import annotations

import numpy as np
import pytest

from minitorch_ser import Tensor
from minitorch_ser.nn import Parameter
from minitorch_ser.optim import SGD, Adam, Optimizer


def test_groups_are_filled_from_defaults_and_keep_extra_keys():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    opt = Adam([{"params": [a], "name": "body"}, {"params": [b], "lr": 0.1, "betas": (0.5, 0.6)}],
               lr=1e-3, weight_decay=1e-4)
    g0, g1 = opt.param_groups
    assert g0["params"][0] is a and g1["params"][0] is b
    assert (g0["lr"], g0["betas"], g0["weight_decay"], g0["name"]) == (1e-3, (0.9, 0.999), 1e-4,
                                                                        "body")
    assert (g1["lr"], g1["betas"], g1["eps"]) == (0.1, (0.5, 0.6), 1e-8)
    assert opt.defaults["lr"] == 1e-3
    assert "Parameter Group 1" in repr(opt) and "lr: 0.1" in repr(opt)


def test_generators_of_parameters_are_accepted():
    params = [Parameter(np.zeros(2)) for _ in range(3)]
    opt = SGD((p for p in params), lr=0.1)
    group = opt.param_groups[0]["params"]
    # the very tensors, in order (== on tensors compares values, elementwise)
    assert len(opt.param_groups) == 1 and len(group) == 3
    assert all(kept is given for kept, given in zip(group, params))


def test_add_param_group_later():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    opt = SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="lr=-1 must be >= 0"):
        opt.add_param_group({"params": [Parameter(np.zeros(1))], "lr": -1})
    assert len(opt.param_groups) == 2  # failed additions leave the optimizer unchanged


def test_zero_grad_to_none_or_zeros_in_place():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    opt = SGD([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    a.grad = np.ones(2)
    grad = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    assert b.grad is None


def test_step_calls_the_closure_and_returns_its_loss():
    p = Parameter(np.array([3.0]))
    opt = SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_array_equal(p.data, [3.0 - 0.25 * 6.0])


def test_step_with_gradients_from_backward():
    # end to end: a float32 quadratic, autograd gradient, in-place update
    p = Parameter(np.array([1.0, -2.0], dtype=np.float32))
    opt = Adam([p], lr=0.1)
    ((p * p).sum()).backward()
    np.testing.assert_array_equal(p.grad, [2.0, -4.0])
    opt.step()
    assert p.data.dtype == np.float32
    np.testing.assert_allclose(p.data, [0.9, -1.9], rtol=1e-6)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("make, match", [
    (lambda ps: SGD(ps, lr=-0.1), r"lr=-0.1 must be >= 0"),
    (lambda ps: SGD(ps, lr=float("nan")), r"lr=nan must be >= 0"),
    (lambda ps: SGD(ps, momentum=-0.9), r"momentum=-0.9 must be >= 0"),
    (lambda ps: SGD(ps, weight_decay=-1e-4), r"weight_decay=-0.0001 must be >= 0"),
    (lambda ps: SGD(ps, nesterov=True), r"nesterov=True requires momentum > 0 and dampening == 0, "
                                        r"got momentum=0.0, dampening=0.0"),
    (lambda ps: SGD(ps, momentum=0.9, dampening=0.1, nesterov=True),
     r"nesterov=True requires momentum > 0 and dampening == 0"),
    (lambda ps: Adam(ps, lr=-1e-3), r"lr=-0.001 must be >= 0"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), r"betas\[0\]=1.0 must be in \[0, 1\)"),
    (lambda ps: Adam(ps, betas=(-0.1, 0.999)), r"betas\[0\]=-0.1 must be in \[0, 1\)"),
    (lambda ps: Adam(ps, betas=(0.9, 1.5)), r"betas\[1\]=1.5 must be in \[0, 1\)"),
    (lambda ps: Adam(ps, betas=(0.9,)), r"betas=\(0.9,\) must be a pair"),
    (lambda ps: Adam(ps, eps=-1e-8), r"eps=-1e-08 must be >= 0"),
    (lambda ps: Adam(ps, weight_decay=-0.1), r"weight_decay=-0.1 must be >= 0"),
    (lambda ps: Adam([{"params": ps, "lr": -5.0}]), r"lr=-5.0 must be >= 0"),
])
def test_bad_hyperparameters_raise_value_error_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make([Parameter(np.zeros(2))])


def test_bad_parameter_lists():
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="params is an empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="params is an empty parameter list"):
        Adam(iter([]))
    with pytest.raises(TypeError, match="got a single Parameter; wrap it in a list"):
        SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors, got ndarray"):
        SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="same parameter more than once"):
        SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="floating-point tensors, got a tensor of dtype int64"):
        SGD([Tensor(np.zeros(2, dtype=np.int64))], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([p * 2.0], lr=0.1)
    with pytest.raises(ValueError, match="must have a 'params' entry"):
        SGD([{"lr": 0.1}])
    with pytest.raises(TypeError, match="not a set"):
        SGD([{"params": {p}}])


def test_gradient_of_wrong_shape_raises():
    p = Parameter(np.zeros((2, 3)))
    p.grad = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"gradient of shape \(3, 2\) does not match its "
                                         r"parameter's shape \(2, 3\)"):
        SGD([p], lr=0.1).step()


def test_optimizer_is_abstract():
    with pytest.raises(TypeError):
        Optimizer([Parameter(np.zeros(1))], {"lr": 0.1})


class PlainGradientDescent(Optimizer):
    """The smallest optimizer: only ``_update``; no settings to check (the base hook)."""

    def __init__(self, params, lr=0.1):
        super().__init__(params, {"lr": lr})

    def _update(self, p, grad, state, group):
        state["step"] = state.get("step", 0) + 1
        p.data -= group["lr"] * grad


def test_a_subclass_needs_only_update_and_gets_groups_state_and_checkpoints():
    a, b = Parameter(np.array([1.0, 2.0])), Parameter(np.array([[3.0]]))
    opt = PlainGradientDescent([{"params": [a]}, {"params": [b], "lr": 0.5}])
    a.grad, b.grad = np.array([1.0, -1.0]), np.array([[2.0]])
    opt.step()
    opt.step()
    np.testing.assert_array_equal(a.data, [0.8, 2.2])      # 1 - 2 * 0.1 * 1, 2 + 2 * 0.1
    np.testing.assert_array_equal(b.data, [[1.0]])          # 3 - 2 * 0.5 * 2
    saved = opt.state_dict()
    assert saved["state"] == {0: {"step": 2}, 1: {"step": 2}}
    again = PlainGradientDescent([{"params": [a]}, {"params": [b], "lr": 0.1}])
    again.load_state_dict(saved)
    assert again.param_groups[1]["lr"] == 0.5 and again.state[b] == {"step": 2}
