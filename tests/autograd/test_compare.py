"""Tensor comparisons are elementwise (as in torch and NumPy), ``bool()`` needs one element,
hashing stays by identity."""

from __future__ import annotations

import operator

import numpy as np
import pytest

from minitorch_ser.autograd.tensor import Tensor
from minitorch_ser.nn.module import Parameter

COMPARISONS = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]
IDS = [op.__name__ for op in COMPARISONS]

A = np.array([[0.5, 1.0, 2.0], [1.0, -1.0, 3.0]])     # (2, 3), with ties against the operands
B = np.array([[0.5, 2.0, 1.0], [1.0, 0.0, 3.0]])      # (2, 3): equal to A in three places


def operands():
    """(name, operand, the same operand as NumPy sees it): scalars, arrays, tensors, broadcasting."""
    row = np.array([1.0, 1.0, 2.0])                       # (3,): broadcast over the rows
    column = np.array([[1.0], [3.0]])                     # (2, 1): broadcast over the columns
    return [
        ("python int", 1, 1),
        ("python float", 1.0, 1.0),
        ("numpy scalar", np.float32(2.0), np.float32(2.0)),
        ("same-shape array", B, B),
        ("row array", row, row),
        ("column array", column, column),
        ("list", [1.0, 1.0, 2.0], np.array([1.0, 1.0, 2.0])),
        ("same-shape tensor", Tensor(B), B),
        ("row tensor", Tensor(row), row),
        ("column tensor requiring grad", Tensor(column, requires_grad=True), column),
        ("0-d tensor", Tensor(np.array(1.0)), np.array(1.0)),
    ]


@pytest.mark.parametrize("op", COMPARISONS, ids=IDS)
@pytest.mark.parametrize("name, other, raw", operands(), ids=[o[0] for o in operands()])
def test_comparison_is_elementwise_with_broadcasting(op, name, other, raw):
    t = Tensor(A, requires_grad=True)
    got = op(t, other)
    expected = op(A, raw)
    assert isinstance(got, Tensor), f"{op.__name__} with a {name} gave {type(got).__name__}"
    assert got.dtype == np.bool_ and got.shape == expected.shape == (2, 3)
    np.testing.assert_array_equal(got.data, expected)
    # some elements compare true and some false, so a constant answer cannot pass
    assert expected.any() and not expected.all()
    assert not got.requires_grad and got.grad_fn is None and got.is_leaf


@pytest.mark.parametrize("op", COMPARISONS, ids=IDS)
def test_reflected_comparison_from_a_scalar_or_an_array(op):
    # 1 == t, ndarray < t: Python and NumPy hand the comparison to the Tensor
    t = Tensor(A)
    for other in (1.0, B):
        got = op(other, t)
        assert isinstance(got, Tensor)
        np.testing.assert_array_equal(got.data, op(other, A))


def test_float32_data_compared_with_a_python_float_stays_in_float32():
    # NEP 50: the Python scalar is weak, so 0.1 is rounded to float32 before comparing
    t = Tensor(np.float32([0.1, 0.2]))
    np.testing.assert_array_equal((t == 0.1).data, [True, False])
    np.testing.assert_array_equal((t != 0.1).data, [False, True])


def test_comparisons_never_record_a_graph():
    x = Tensor(A, requires_grad=True)
    y = x * 2.0
    for mask in (y > 1.0, y == x, x != y, y <= x):
        assert not mask.requires_grad and mask._ctx is None
    loss = (y * (y > 1.0).data).sum()                     # a mask used as a constant
    loss.backward()
    np.testing.assert_array_equal(x.grad, 2.0 * (2.0 * A > 1.0))


def test_shapes_that_do_not_broadcast_raise():
    with pytest.raises(ValueError, match=r"broadcast"):
        Tensor(np.ones(3)) == Tensor(np.ones(4))


def test_unsupported_operands():
    t = Tensor(np.array([1.0, 2.0]))
    # == and != fall back to identity for objects that are not numbers or arrays (as torch)
    assert (t == None) is False and (t != None) is True    # noqa: E711
    assert (t == "a") is False and (t != object()) is True
    with pytest.raises(TypeError, match="'<' not supported"):
        t < "a"


# ------------------------------------------------------------------ bool()
@pytest.mark.parametrize("value, expected", [(0.0, False), (2.5, True), (np.nan, True)])
@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_bool_of_a_one_element_tensor_is_its_truth(value, expected, shape):
    t = Tensor(np.full(shape, value))
    assert bool(t) is expected
    assert bool(t == value) is (value == value)            # nan != nan


@pytest.mark.parametrize("shape", [(2,), (2, 3), (0,), (3, 0)])
def test_bool_of_any_other_tensor_raises_naming_the_shape(shape):
    t = Tensor(np.ones(shape))
    with pytest.raises(ValueError, match=rf"shape {re_shape(shape)} .*ambiguous.*any\(\) or \.all\(\)"):
        bool(t)
    with pytest.raises(ValueError, match="ambiguous"):
        if t == 1.0:
            pass


def re_shape(shape) -> str:
    return str(shape).replace("(", r"\(").replace(")", r"\)")


def test_all_and_any_reduce_to_boolean_tensors():
    t = Tensor(A)
    assert bool((t > -2).all()) and not bool((t > 0).all())
    assert bool((t > 2).any()) and not bool((t > 5).any())
    np.testing.assert_array_equal((t > 0).all(axis=1).data, [True, False])
    np.testing.assert_array_equal((t > 2.5).any(axis=0).data, [False, False, True])
    assert (t > 0).all().dtype == np.bool_ and not (t > 0).all().requires_grad


# ------------------------------------------------------------------ hashing and containers
def test_hash_is_identity_so_equal_valued_tensors_are_distinct_keys():
    a, b = Tensor(np.ones(3)), Tensor(np.ones(3))
    assert hash(a) == object.__hash__(a)
    assert hash(a) != hash(b)
    table = {a: "a", b: "b"}
    assert len(table) == 2 and table[a] == "a" and table[b] == "b"
    assert len({a, b, a}) == 2


def test_one_element_parameters_as_dict_keys_and_set_members():
    # equal one-element values are the dangerous case: == is True elementwise, yet a lookup
    # must still find the very object
    p, q = Parameter(np.array([1.0])), Parameter(np.array([1.0]))
    state = {p: {"step": 1}}
    assert q not in state and p in state
    assert len({p, q}) == 2


def test_membership_in_a_list_compares_values_so_identity_needs_is():
    p, q = Tensor(np.array([1.0])), Tensor(np.array([1.0]))
    assert q in [p]                          # list membership uses ==: equal values match
    assert not any(q is x for x in [p])      # identity, as the library checks it
    with pytest.raises(ValueError, match="ambiguous"):
        Tensor(np.ones(2)) in [Tensor(np.zeros(2))]
