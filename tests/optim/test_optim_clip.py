"""clip_grad_norm_ and clip_grad_value_ against their formulas on concatenated gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser.nn import Parameter
from minitorch_ser.optim import clip_grad_norm_, clip_grad_value_
from optim_strategies import seeds, shape_lists


def params_with_grads(shape_list, seed, scale, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = [Parameter(np.zeros(s, dtype=dtype)) for s in shape_list]
    for p in params:
        p.grad = (scale * rng.standard_normal(p.shape)).astype(dtype)
    return params


def reference_norm(grads, norm_type):
    """The p-norm of all gradient elements laid end to end, by the textbook formula."""
    flat = np.concatenate([g.ravel() for g in grads]).astype(np.float64)
    if norm_type == math.inf:
        return np.max(np.abs(flat))
    return np.sum(np.abs(flat) ** norm_type) ** (1.0 / norm_type)


@settings(max_examples=40, deadline=None)
@given(shape_list=shape_lists, seed=seeds, scale=st.floats(1e-3, 1e3),
       max_norm=st.floats(1e-2, 10.0), norm_type=st.sampled_from([1.0, 2.0, 3.0, math.inf]))
def test_clip_grad_norm_matches_formula(shape_list, seed, scale, max_norm, norm_type):
    params = params_with_grads(shape_list, seed, scale)
    before = [p.grad.copy() for p in params]
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    expected_total = reference_norm(before, norm_type)
    assert total == pytest.approx(expected_total, rel=1e-12)
    coef = min(max_norm / (expected_total + 1e-6), 1.0)
    for p, g in zip(params, before):
        np.testing.assert_allclose(p.grad, coef * g, rtol=1e-12, atol=0)
    if expected_total > max_norm:  # clipped: the new norm is max_norm, up to the 1e-6 guard
        new_total = reference_norm([p.grad for p in params], norm_type)
        assert new_total <= max_norm
        assert new_total == pytest.approx(max_norm, rel=1e-6 / max_norm + 1e-12)


def test_clip_grad_norm_below_max_leaves_gradients_unchanged():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    a.grad, b.grad = np.array([0.3, 0.0]), np.array([0.0, 0.4])  # total norm 0.5
    total = clip_grad_norm_([a, b], max_norm=1.0)
    assert total == pytest.approx(0.5, rel=1e-15)
    np.testing.assert_array_equal(a.grad, [0.3, 0.0])
    np.testing.assert_array_equal(b.grad, [0.0, 0.4])


def test_clip_grad_norm_example_by_hand_in_place_float32():
    a, b, c = Parameter(np.zeros(2, np.float32)), Parameter(np.zeros(1, np.float32)), \
        Parameter(np.zeros(3, np.float32))
    a.grad = np.array([3.0, 0.0], np.float32)
    b.grad = np.array([4.0], np.float32)  # total norm sqrt(9 + 16) = 5; c has no gradient
    grad_a = a.grad
    total = clip_grad_norm_([a, b, c], max_norm=1.0)
    assert total == 5.0
    assert a.grad is grad_a and a.grad.dtype == np.float32 and c.grad is None
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(a.grad, [3 * coef, 0.0], rtol=1e-7)
    np.testing.assert_allclose(b.grad, [4 * coef], rtol=1e-7)


def test_clip_grad_norm_single_tensor_no_grads_and_nonfinite():
    p = Parameter(np.zeros(3))
    assert clip_grad_norm_([p], 1.0) == 0.0  # no gradients at all
    p.grad = np.array([2.0, -2.0, 1.0])
    assert clip_grad_norm_(p, 1.0, norm_type="inf") == 2.0  # a single Tensor; "inf" accepted
    np.testing.assert_allclose(p.grad, np.array([2.0, -2.0, 1.0]) / (2.0 + 1e-6), rtol=1e-15)
    p.grad = np.array([np.inf, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="total norm .* is inf"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


@settings(max_examples=30, deadline=None)
@given(shape_list=shape_lists, seed=seeds, clip_value=st.floats(0.0, 3.0))
def test_clip_grad_value_matches_formula(shape_list, seed, clip_value):
    params = params_with_grads(shape_list, seed, scale=2.0)
    before = [p.grad.copy() for p in params]
    arrays = [p.grad for p in params]
    clip_grad_value_(params, clip_value)
    for p, g, arr in zip(params, before, arrays):
        assert p.grad is arr  # in place
        expected = np.where(g > clip_value, clip_value, np.where(g < -clip_value, -clip_value, g))
        np.testing.assert_array_equal(p.grad, expected)


@pytest.mark.parametrize("call, match", [
    (lambda ps: clip_grad_norm_(ps, -1.0), r"max_norm=-1.0 must be >= 0"),
    (lambda ps: clip_grad_norm_(ps, 1.0, norm_type=0), r"norm_type=0.0 must be > 0"),
    (lambda ps: clip_grad_value_(ps, -0.5), r"clip_value=-0.5 must be >= 0"),
])
def test_clip_bad_arguments(call, match):
    p = Parameter(np.zeros(2))
    p.grad = np.ones(2)
    with pytest.raises(ValueError, match=match):
        call([p])
