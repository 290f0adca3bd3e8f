"""The engine itself: graph walking, accumulation, release, grad mode, and its error messages."""

from __future__ import annotations

import gc
import re
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minitorch_ser.autograd import ops
from minitorch_ser.autograd.function import Function
from minitorch_ser.autograd.tensor import unbroadcast
from minitorch_ser.autograd.gradcheck import gradcheck
from minitorch_ser.nn.module import Parameter
from minitorch_ser.autograd.tensor import Tensor, enable_grad, is_grad_enabled, no_grad
from strategies import FAST, broadcastable_shapes, float_arrays, seeds


def leaf(values, dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------ walking the graph
@pytest.mark.parametrize("consumer_first", [False, True])
def test_node_reached_along_two_paths_gets_the_sum_of_both(consumer_first):
    # b feeds r directly and through a = 3b: dr/dx = 2 + 3 * 2 = 8 whatever the operand order
    x = leaf([1.5])
    b = x * 2.0
    a = b * 3.0
    r = a + b if consumer_first else b + a
    r.sum().backward()
    np.testing.assert_array_equal(x.grad, [8.0])


def test_diamond_with_shared_subexpressions_matches_closed_form():
    # f = (x^2 + e^x) * x^2 ; df/dx = (2x + e^x) x^2 + (x^2 + e^x) 2x
    xv = np.array([0.3, -1.2, 2.0])
    x = leaf(xv)
    sq = x * x
    f = (sq + x.exp()) * sq
    f.sum().backward()
    expected = (2 * xv + np.exp(xv)) * xv**2 + (xv**2 + np.exp(xv)) * 2 * xv
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_backward_through_a_20000_node_chain():
    # y = x * c^N: far deeper than Python's recursion limit; dy/dx = c^N
    c, n = 1.0001, 20_000
    x = leaf([2.0])
    y = x
    for _ in range(n):
        y = y * c
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [c**n], rtol=1e-9)


def test_leaf_used_twice_in_one_op():
    x = leaf([3.0, -2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, -4.0])


def test_backward_with_an_explicit_output_gradient():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * x
    y.backward(np.array([[1.0, 0.0], [0.5, 2.0]]))
    np.testing.assert_array_equal(x.grad, [[2.0, 0.0], [3.0, 16.0]])


def test_backward_on_a_leaf_seeds_its_own_grad():
    x = leaf([5.0])
    x.backward()
    np.testing.assert_array_equal(x.grad, [1.0])


def test_detach_cuts_the_graph():
    x = leaf([2.0])
    y = x * 3.0
    z = y.detach() * x          # only the direct path to x remains
    z.sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0])
    assert y.detach().grad_fn is None and not y.detach().requires_grad


def test_constant_inputs_receive_no_gradient():
    x = leaf([1.0, 2.0])
    c = Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


# ------------------------------------------------------------------ accumulation, release, retain
def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0, 3.0 + 4.0])


def test_accumulated_grad_is_not_aliased_to_an_engine_array():
    # the first gradient must be copied: x.grad += ... later must not write into a shared array
    x = leaf([1.0, 2.0])
    seed = np.array([1.0, 1.0])
    x.backward(seed)
    x.backward(seed)
    np.testing.assert_array_equal(seed, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_second_backward_through_a_released_graph_raises_clearly():
    x = leaf([1.0, 2.0])
    loss = (x.exp() * 2.0).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        loss.backward()


def test_second_backward_from_another_root_fails_before_touching_grads():
    x = leaf([1.0, 2.0])
    w = leaf([0.5, 0.5])
    h = x.exp()                     # shared by both losses
    (h * 2.0).sum().backward()      # releases h's node
    x_grad = x.grad.copy()
    with pytest.raises(RuntimeError, match="second time"):
        (h * w).sum().backward()
    np.testing.assert_array_equal(x.grad, x_grad)
    assert w.grad is None           # nothing was accumulated before the error


def test_retain_graph_allows_repeated_backward():
    x = leaf([1.0, -1.0])
    loss = (x.exp() * x).sum()
    expected = (np.exp([1.0, -1.0]) * (1 + np.array([1.0, -1.0])))
    loss.backward(retain_graph=True)
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad, 2 * expected)
    loss.backward()                 # the last one may release
    np.testing.assert_allclose(x.grad, 3 * expected)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_backward_frees_saved_activations():
    def run(retain):
        x = leaf(np.ones(1000))
        h = x.exp()                  # Exp saves its output for backward
        ref = weakref.ref(h.data)
        loss = h.sum()
        del h
        loss.backward(retain_graph=retain)
        gc.collect()
        return ref() is None, loss

    freed, _ = run(retain=False)
    kept, _loss = run(retain=True)   # hold the loss so the retained graph stays alive
    assert freed, "the saved output of exp survived backward"
    assert not kept, "retain_graph=True must keep the saved arrays"


# ------------------------------------------------------------------ grad mode
def test_no_grad_builds_no_graph():
    x = leaf([1.0, 2.0])
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0).exp().sum()
    assert is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y._ctx is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_frees_what_forward_saved():
    x = leaf(np.ones(100))
    with no_grad():
        h = x.exp()
    assert h._ctx is None           # no node: the saved output is not kept anywhere


def test_enable_grad_inside_no_grad_and_restore_after_an_exception():
    x = leaf([1.0])
    with no_grad():
        with enable_grad():
            y = x * 2.0
        assert not is_grad_enabled()
    assert y.requires_grad and y.grad_fn is ops.Mul
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("boom")
    assert is_grad_enabled()


# ------------------------------------------------------------------ dtypes
def test_integer_tensors_cannot_require_grad():
    with pytest.raises(ValueError, match="only floating-point tensors can require gradients"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(ValueError, match="int64"):
        Tensor(np.arange(3)).requires_grad_()
    with pytest.raises(ValueError, match="floating-point"):
        Parameter(np.zeros(3, dtype=np.int32))


def test_integer_outputs_of_tracked_ops_do_not_require_grad():
    x = leaf([1.7, -0.2])
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad and i.grad_fn is None


def test_float32_stays_float32_with_python_scalars():
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = (2.0 * x + 1) / 3.0 - x ** 2.0
    y = 1.0 - y
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_gradient_is_cast_back_to_the_input_dtype():
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = x.astype(np.float64) * Tensor(np.array([0.1, 0.2]))
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [0.1, 0.2], rtol=1e-6)


# ------------------------------------------------------------------ bad input
def test_backward_on_a_non_scalar_without_gradient_raises():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match=re.escape("got shape (2,)")):
        y.backward()


def test_backward_with_a_wrongly_shaped_gradient_raises():
    y = leaf([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=re.escape("(3,)")):
        y.backward(np.ones(3))


SHAPE_ERRORS = [
    ("add", lambda a, b: a + b, (2, 3), (4,)),
    ("sub", lambda a, b: a - b, (2, 3), (2, 2)),
    ("mul", lambda a, b: a * b, (5,), (3,)),
    ("div", lambda a, b: a / b, (2, 1, 3), (4, 2)),
    ("pow", lambda a, b: a ** b, (3,), (2,)),
    ("matmul", lambda a, b: a @ b, (2, 3), (4, 5)),
    ("matmul", lambda a, b: a @ b, (2, 3, 4), (3, 4, 5)),
    ("where", lambda a, b: ops.where(np.ones(1, bool), a, b), (2,), (3,)),
    ("concat", lambda a, b: ops.concat([a, b], axis=0), (2, 3), (2, 4)),
    ("stack", lambda a, b: ops.stack([a, b]), (2, 3), (3, 2)),
    ("masked_fill", lambda a, b: a.masked_fill(np.ones(b.shape, bool), 0.0), (2, 3), (4,)),
]


@pytest.mark.parametrize("name, fn, shape_a, shape_b", SHAPE_ERRORS,
                         ids=[f"{e[0]}-{e[2]}-{e[3]}" for e in SHAPE_ERRORS])
def test_shape_mismatch_names_the_op_and_both_shapes(name, fn, shape_a, shape_b):
    a, b = leaf(np.ones(shape_a)), leaf(np.ones(shape_b))
    with pytest.raises(ValueError) as info:
        fn(a, b)
    message = str(info.value)
    assert name in message and str(shape_a) in message and str(shape_b) in message, message


class TwoGradsForOneInput(Function):
    @staticmethod
    def forward(ctx, a):
        return 2 * a

    @staticmethod
    def backward(ctx, g):
        return 2 * g, 2 * g


class WrongShapeGrad(Function):
    @staticmethod
    def forward(ctx, a):
        return a.sum()

    @staticmethod
    def backward(ctx, g):
        return np.ones(3)                     # the input has shape (2, 2)


def test_wrong_number_of_gradients_names_the_function():
    y = TwoGradsForOneInput.apply(leaf([1.0]))
    with pytest.raises(ValueError, match=r"TwoGradsForOneInput\.backward returned 2 gradient\(s\) "
                                         r"for 1 input"):
        y.sum().backward()


def test_wrongly_shaped_gradient_names_the_function_and_shapes():
    y = WrongShapeGrad.apply(leaf(np.ones((2, 2))))
    with pytest.raises(ValueError, match=r"WrongShapeGrad\.backward.*\(3,\).*\(2, 2\)"):
        y.backward()


class ScaleBy(Function):
    """out = a * s; the scale s is a differentiable input that this Function declines to
    differentiate (returns None), which the engine must accept."""

    @staticmethod
    def forward(ctx, a, s):
        ctx.save_for_backward(s)
        return a * s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return g * s, None


def test_none_gradient_and_needs_input_grad():
    x = leaf([1.0, 2.0])
    ScaleBy.apply(x, np.array(3.0)).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


# ------------------------------------------------------------------ multi-output Functions
def test_split_with_only_some_outputs_in_the_loss():
    x = leaf(np.arange(6.0))
    first, middle, last = ops.split(x, [2, 3, 1])
    (last * 5.0 + first.sum()).sum().backward()   # middle never reaches the loss
    np.testing.assert_array_equal(x.grad, [1, 1, 0, 0, 0, 5])


class SinCos(Function):
    """Two outputs from one input: (sin a, cos a)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a), np.cos(a)

    @staticmethod
    def backward(ctx, grads):
        (a,) = ctx.saved_tensors
        g_sin, g_cos = grads
        return g_sin * np.cos(a) - g_cos * np.sin(a)


def test_multi_output_function_with_one_unused_output():
    xv = np.array([0.3, 1.1])
    x = leaf(xv)
    s, c = SinCos.apply(x)
    (c * c).sum().backward()                      # s is unused: its gradient is zero
    np.testing.assert_allclose(x.grad, -2 * np.cos(xv) * np.sin(xv))


def test_multi_output_function_with_both_outputs_and_gradcheck():
    gradcheck(lambda a: SinCos.apply(a), [np.array([0.3, -1.1, 2.0])], name="SinCos")
    gradcheck(lambda a: (lambda s, c: s * c + s)(*SinCos.apply(a)), [np.array([0.4, 0.9])])


# ------------------------------------------------------------------ unbroadcast
@FAST
@given(shapes=broadcastable_shapes(), seed=seeds())
def test_unbroadcast_is_the_adjoint_of_broadcasting(shapes, seed):
    # <unbroadcast(g), x> = <g, broadcast(x)> for every g and x: summing is broadcast's adjoint
    shape, other = shapes
    out_shape = np.broadcast_shapes(shape, other)
    rng = np.random.default_rng(seed)
    g, x = rng.standard_normal(out_shape), rng.standard_normal(shape)
    reduced = unbroadcast(g, shape)
    assert reduced.shape == shape
    np.testing.assert_allclose(np.sum(reduced * x), np.sum(g * np.broadcast_to(x, out_shape)),
                               rtol=1e-10, atol=1e-10)


def test_unbroadcast_rejects_an_irreducible_shape():
    with pytest.raises(ValueError, match=re.escape("(2, 3)")):
        unbroadcast(np.ones((2, 3)), (2, 4), "Op", 0)
    with pytest.raises(ValueError, match="Op.backward"):
        unbroadcast(np.ones(3), (2, 3), "Op", 1)


@FAST
@given(data=st.data())
def test_broadcast_gradients_are_summed_back_per_operand(data):
    sa, sb = data.draw(broadcastable_shapes())
    a = leaf(data.draw(float_arrays(sa)))
    b = leaf(data.draw(float_arrays(sb)))
    (a * b).sum().backward()
    out = np.broadcast_shapes(sa, sb)
    # d sum(a*b) / da = b broadcast to the output and summed back to a's shape
    expected_a = np.broadcast_to(b.data, out).copy()
    expected_b = np.broadcast_to(a.data, out).copy()
    np.testing.assert_allclose(a.grad, unbroadcast(expected_a, sa))
    np.testing.assert_allclose(b.grad, unbroadcast(expected_b, sb))


# ------------------------------------------------------------------ gradcheck itself
class WrongSquare(Function):
    """out = a^2 with a wrong backward (misses the factor 2)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * a


def test_gradcheck_reports_function_input_index_and_values():
    x = np.array([[0.5, 1.0], [1.5, 2.0]])
    with pytest.raises(AssertionError) as info:
        gradcheck(lambda a: WrongSquare.apply(a), [x], name="wrong_square")
    message = str(info.value)
    assert "wrong_square" in message and "input 0" in message and "element (0, 0)" in message
    assert "numerical" in message and "analytic" in message


def test_gradcheck_checks_every_input_and_a_seeded_subset():
    # the wrong gradient is on the second input only; a subset of 3 of its 4 elements still
    # contains a failing element because every element is wrong
    def fn(a, b):
        return a + WrongSquare.apply(b)

    with pytest.raises(AssertionError, match="input 1"):
        gradcheck(fn, [np.ones(4), np.full(4, 2.0)], max_elements=3)
    assert gradcheck(lambda a, b: a * b, [np.ones((3, 3)), np.full((3, 3), 2.0)], max_elements=4)
