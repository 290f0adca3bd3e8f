"""The Tensor's own API (reflected operators, dtype casts, display, wrapping), the Context's fixed
attributes, the Function base class's contract, and the layout op ``contiguous``."""

from __future__ import annotations

import re

import numpy as np
import pytest

from minitorch_ser.autograd import ops
from minitorch_ser.autograd.function import Function
from minitorch_ser.autograd.tensor import Context, Tensor, as_array, as_tensor


def leaf(values, dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------ reflected operators
@pytest.mark.parametrize("name, expression, value, grad", [
    # f(x) at x = [0.5, 2.0], and df/dx
    ("radd", lambda x: 3.0 + x, [3.5, 5.0], [1.0, 1.0]),
    ("rsub", lambda x: 3.0 - x, [2.5, 1.0], [-1.0, -1.0]),
    ("rmul", lambda x: 3.0 * x, [1.5, 6.0], [3.0, 3.0]),
    ("rtruediv", lambda x: 1.0 / x, [2.0, 0.5], [-4.0, -0.25]),
    ("rpow", lambda x: 2.0 ** x, [2 ** 0.5, 4.0], [2 ** 0.5 * np.log(2), 4.0 * np.log(2)]),
    ("neg", lambda x: -x, [-0.5, -2.0], [-1.0, -1.0]),
])
def test_reflected_operators_value_and_gradient(name, expression, value, grad):
    x = leaf([0.5, 2.0])
    y = expression(x)
    np.testing.assert_allclose(y.data, value, rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, grad, rtol=1e-15)


def test_rmatmul_with_an_ndarray_on_the_left():
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])     # (3, 2)
    x = leaf([[1.0, -1.0], [0.5, 2.0]])                     # (2, 2)
    y = w @ x                                               # ndarray @ Tensor -> Tensor.__rmatmul__
    assert isinstance(y, Tensor) and y.grad_fn is ops.MatMul
    np.testing.assert_array_equal(y.data, w @ x.data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, w.T @ np.ones((3, 2)))


def test_float_and_double_cast_and_send_the_gradient_back_in_the_input_dtype():
    x = leaf([1.5, -2.0], dtype=np.float64)
    f = x.float()
    assert f.dtype == np.float32 and f.grad_fn is ops.Cast
    d = f.double()
    assert d.dtype == np.float64
    (d * 3.0).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


# ------------------------------------------------------------------ display and access
def test_len_numpy_item_and_repr():
    data = np.arange(6.0).reshape(3, 2)
    t = Tensor(data)
    assert len(t) == 3
    assert t.numpy() is data                   # shared, not copied
    assert Tensor(np.array([4.5])).item() == 4.5
    with pytest.raises(ValueError, match=re.escape("got shape (3, 2)")):
        t.item()
    assert repr(Tensor(np.array([1.0, 2.0]))) == "tensor([1., 2.], dtype=float64)"
    assert repr(leaf([1.0])) == "tensor([1.], dtype=float64, requires_grad=True)"
    assert repr(leaf([1.0]) * 2.0).endswith("dtype=float64, grad_fn=Mul)")


def test_argmax_is_an_integer_tensor_without_grad():
    t = leaf([[0.1, 0.9, 0.3], [2.0, -1.0, 0.5]])
    np.testing.assert_array_equal(t.argmax(axis=1).data, [1, 0])
    assert t.argmax().item() == 3 and not t.argmax().requires_grad


def test_as_tensor_and_as_array_wrap_and_unwrap_without_copying():
    data = np.arange(3.0)
    t = Tensor(data)
    assert as_tensor(t) is t and as_array(t) is data
    wrapped = as_tensor(data)
    assert isinstance(wrapped, Tensor) and wrapped.data is data and not wrapped.requires_grad
    np.testing.assert_array_equal(as_array([1, 2]), [1, 2])


def test_tensor_methods_are_documented_as_tensor_methods():
    assert Tensor.sum.__qualname__ == "Tensor.sum" and Tensor.__add__.__qualname__ == "Tensor.__add__"
    assert Tensor.view is Tensor.reshape


# ------------------------------------------------------------------ Context and Function
def test_context_has_fixed_attributes():
    ctx = Context(ops.Mul)
    assert not hasattr(ctx, "__dict__")
    with pytest.raises(AttributeError):
        ctx.shape = (2, 3)                     # keep such values with save_for_backward
    ctx.save_for_backward((2, 3), np.float32)
    assert ctx.saved_tensors == ((2, 3), np.float32) and ctx.name == "Mul"


class NoBackward(Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2


class NoForward(Function):
    @staticmethod
    def backward(ctx, g):
        return g


def test_a_function_without_backward_or_forward_raises_naming_itself():
    y = NoBackward.apply(leaf([1.0]))
    with pytest.raises(NotImplementedError, match=r"NoBackward must define backward\(ctx, grad\)"):
        y.sum().backward()
    with pytest.raises(NotImplementedError, match=r"NoForward must define forward\(ctx, \*arrays\)"):
        NoForward.apply(leaf([1.0]))


# ------------------------------------------------------------------ contiguous
def test_contiguous_copies_a_permuted_view_into_c_order_with_equal_values():
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    v = x.permute(1, 0, 2)                                  # (3, 2, 4), rows not contiguous
    assert not v.data.flags.c_contiguous
    for y in (ops.contiguous(v), v.contiguous()):
        assert y.data.flags.c_contiguous and not np.shares_memory(y.data, x.data)
        assert y.grad_fn is ops.Contiguous
        np.testing.assert_array_equal(y.data, v.data)


class LayoutProbe(Function):
    """Identity that records whether the gradient reaching it is C-contiguous."""
    seen: list = []

    @staticmethod
    def forward(ctx, a):
        return a

    @staticmethod
    def backward(ctx, g):
        LayoutProbe.seen.append(g.flags.c_contiguous)
        return g


@pytest.mark.parametrize("through_contiguous", [False, True])
def test_contiguous_lays_the_gradient_out_in_c_order(through_contiguous):
    # the gradient of a permute is a permuted (non-contiguous) view of the output gradient
    LayoutProbe.seen.clear()
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    h = LayoutProbe.apply(x)
    h = ops.contiguous(h) if through_contiguous else h
    g = np.arange(24.0).reshape(3, 2, 4)
    h.permute(1, 0, 2).backward(g)
    assert LayoutProbe.seen == [through_contiguous]
    np.testing.assert_array_equal(x.grad, g.transpose(1, 0, 2))


@pytest.mark.parametrize("make, copied", [
    (lambda: np.arange(24.0).reshape(2, 3, 4), False),                   # already C order
    (lambda: np.arange(24.0).reshape(2, 4, 3).swapaxes(-1, -2), True),   # columns contiguous
    (lambda: np.arange(12.0).reshape(3, 4).T, True),                     # F order
])
def test_contiguous_copies_exactly_what_is_not_c_contiguous(make, copied):
    a = make()
    out = ops.contiguous(Tensor(a)).data
    assert (out is not a) == copied and out.flags.c_contiguous
    np.testing.assert_array_equal(out, a)


def test_contiguous_keeps_a_zero_dimensional_tensor_zero_dimensional():
    x = leaf(2.5)
    y = x.contiguous()
    assert y.shape == () and y.item() == 2.5
    (y * 3.0).backward()
    assert x.grad.shape == () and x.grad == 3.0


def test_reductions_take_torch_names_dim_and_keepdim():
    import minitorch_ser as mt
    data = np.arange(24.0).reshape(2, 3, 4)
    x = mt.Tensor(data)
    for name in ("sum", "mean", "max", "var"):
        torch_style = getattr(x, name)(dim=1, keepdim=True).data
        numpy_style = getattr(x, name)(axis=1, keepdims=True).data
        np.testing.assert_array_equal(torch_style, numpy_style)
        assert torch_style.shape == (2, 1, 4)
    np.testing.assert_array_equal(x.softmax(dim=0).data, x.softmax(axis=0).data)
    np.testing.assert_array_equal(x.log_softmax(dim=1).data, x.log_softmax(axis=1).data)
    with pytest.raises(TypeError, match="give axis=0 or dim=1, not both"):
        x.sum(axis=0, dim=1)
    with pytest.raises(TypeError, match="keepdims or keepdim"):
        x.mean(dim=0, keepdims=True, keepdim=True)
