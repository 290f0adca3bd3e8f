"""Core layers: Linear (PyTorch's init), Identity, Flatten, activations, Dropout, containers."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minitorch_ser.autograd import random as mt_random
from minitorch_ser.autograd.gradcheck import gradcheck
from minitorch_ser.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minitorch_ser.nn.container import ModuleList, Sequential
from minitorch_ser.nn.dropout import Dropout
from minitorch_ser.nn.linear import Flatten, Identity, Linear
from minitorch_ser.autograd.tensor import Tensor
from strategies import FAST, float_arrays, seeds, shapes


# ------------------------------------------------------------------ Linear
def test_linear_parameter_layout_and_dtype():
    layer = Linear(5, 3)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    no_bias = Linear(5, 3, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    assert repr(no_bias) == "Linear(in_features=5, out_features=3, bias=False)"


def test_linear_init_is_pytorchs_kaiming_uniform_then_bias_uniform():
    # torch: kaiming_uniform_(w, a=sqrt(5)) -> bound = gain * sqrt(3 / fan_in) with
    # gain = sqrt(2 / (1 + a^2)); bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn after w
    fan_in, fan_out = 6, 4
    gain = math.sqrt(2.0 / (1 + 5))
    w_bound = gain * math.sqrt(3.0 / fan_in)
    b_bound = 1 / math.sqrt(fan_in)
    assert w_bound == pytest.approx(b_bound)      # the well-known simplification
    rng = np.random.default_rng(42)
    expected_w = rng.uniform(-w_bound, w_bound, size=(fan_out, fan_in))
    expected_b = rng.uniform(-b_bound, b_bound, size=fan_out)
    layer = Linear(fan_in, fan_out, rng=np.random.default_rng(42), dtype=np.float64)
    np.testing.assert_array_equal(layer.weight.data, expected_w)
    np.testing.assert_array_equal(layer.bias.data, expected_b)


def test_linear_init_fills_the_bound_and_uses_the_default_generator():
    state = mt_random.get_state()
    try:
        mt_random.manual_seed(3)
        a = Linear(400, 300)
        mt_random.manual_seed(3)
        b = Linear(400, 300)
    finally:
        mt_random.set_state(state)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    bound = 1 / math.sqrt(400)
    w = a.weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    # U(-b, b) has variance b^2 / 3 (120,000 samples: relative standard error ~ 0.3%)
    assert w.var() == pytest.approx(bound**2 / 3, rel=0.02)


@FAST
@given(batch=shapes(min_dims=0, max_dims=2), n_in=st.integers(1, 4), n_out=st.integers(1, 4),
       seed=seeds())
def test_linear_forward_and_parameter_gradients(batch, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    layer = Linear(n_in, n_out, rng=rng, dtype=np.float64)
    x = rng.standard_normal(batch + (n_in,))
    g = rng.standard_normal(batch + (n_out,))
    y = layer(Tensor(x))
    np.testing.assert_allclose(y.data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-12)
    y.backward(g)
    # dL/dW = sum over batch of g^T x ; dL/db = sum over batch of g
    x2, g2 = x.reshape(-1, n_in), g.reshape(-1, n_out)
    np.testing.assert_allclose(layer.weight.grad, g2.T @ x2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, g2.sum(0), rtol=1e-10, atol=1e-12)


def test_linear_gradcheck_through_the_module():
    rng = np.random.default_rng(0)
    layer = Linear(3, 2, rng=rng, dtype=np.float64)
    gradcheck(lambda x: layer(x), [rng.standard_normal((4, 3))], name="Linear")


def test_linear_rejects_bad_sizes_and_inputs():
    with pytest.raises(ValueError, match="in_features=0"):
        Linear(0, 3)
    with pytest.raises(ValueError, match=r"shape \(2, 4\) must end in in_features=3"):
        Linear(3, 2)(Tensor(np.ones((2, 4), np.float32)))


# ------------------------------------------------------------------ Identity, Flatten
def test_identity_returns_its_input():
    x = Tensor(np.ones(3))
    assert Identity(7, key="ignored")(x) is x


@pytest.mark.parametrize("start, end, expected", [
    (1, -1, (2, 60)), (0, -1, (120,)), (1, 2, (2, 12, 5)), (-2, -1, (2, 3, 20)), (2, 2, (2, 3, 4, 5)),
])
def test_flatten_shapes_and_values(start, end, expected):
    x = np.arange(120.0).reshape(2, 3, 4, 5)
    y = Flatten(start, end)(Tensor(x))
    assert y.shape == expected
    np.testing.assert_array_equal(y.data.reshape(-1), x.reshape(-1))


def test_flatten_rejects_bad_ranges():
    with pytest.raises(ValueError, match=r"start_dim=2, end_dim=1.*\(2, 3, 4\)"):
        Flatten(2, 1)(Tensor(np.ones((2, 3, 4))))
    with pytest.raises(ValueError, match=r"start_dim=1.*shape \(5,\)"):
        Flatten()(Tensor(np.ones(5)))


# ------------------------------------------------------------------ activations
ACTIVATIONS = [
    (ReLU(), lambda x: np.maximum(x, 0)),
    (Tanh(), np.tanh),
    (Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (Softmax(dim=0), lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    (Softmax(), lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    (LogSoftmax(dim=-1), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
]


@pytest.mark.parametrize("module, reference", ACTIVATIONS, ids=[repr(m) for m, _ in ACTIVATIONS])
@FAST
@given(data=st.data())
def test_activation_modules_match_numpy(module, reference, data):
    x = data.draw(float_arrays(data.draw(shapes(min_dims=1)), min_value=-6, max_value=6))
    np.testing.assert_allclose(module(Tensor(x)).data, reference(x), rtol=1e-12, atol=1e-15)
    assert list(module.parameters()) == []


# ------------------------------------------------------------------ Dropout module
def test_dropout_module_identity_in_eval_and_scaled_in_train():
    layer = Dropout(p=0.25, rng=np.random.default_rng(0))
    x = Tensor(np.ones((100, 100), dtype=np.float32))
    y = layer(x)
    assert set(np.unique(y.data)) == {0.0, np.float32(1 / 0.75)}
    assert y.data.dtype == np.float32
    assert abs((y.data == 0).mean() - 0.25) < 0.02
    assert not np.array_equal(layer(x).data, y.data)      # a fresh mask each call
    layer.eval()
    assert layer(x) is x
    layer.train()
    assert layer(x) is not x
    assert repr(layer) == "Dropout(p=0.25)"


def test_dropout_module_without_rng_follows_manual_seed():
    layer = Dropout(0.5)
    x = Tensor(np.ones(64))
    state = mt_random.get_state()
    try:
        mt_random.manual_seed(11)   # replaces the default generator: the layer must follow it
        a = layer(x).data
        mt_random.manual_seed(11)
        b = layer(x).data
    finally:
        mt_random.set_state(state)
    np.testing.assert_array_equal(a, b)


def test_dropout_module_rejects_bad_p():
    with pytest.raises(ValueError, match=r"p=-0.1 must be in \[0, 1\]"):
        Dropout(-0.1)


# ------------------------------------------------------------------ containers
def _mlp(rng=None):
    rng = rng or np.random.default_rng(0)
    return Sequential(Linear(4, 3, rng=rng), ReLU(), Linear(3, 2, rng=rng))


def test_sequential_applies_layers_in_order():
    model = _mlp()
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    w0, b0 = model[0].weight.data, model[0].bias.data
    w1, b1 = model[2].weight.data, model[2].bias.data
    expected = np.maximum(x @ w0.T + b0, 0) @ w1.T + b1
    np.testing.assert_allclose(model(Tensor(x)).data, expected, rtol=1e-6)


def test_sequential_indexing_len_iter_append_and_names():
    model = _mlp()
    assert len(model) == 3 and model[-1] is model[2]
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    sub = model[1:]
    assert isinstance(sub, Sequential) and [n for n, _ in sub.named_children()] == ["1", "2"]
    assert sub[0] is model[1]
    model.append(Tanh())
    assert len(model) == 4 and isinstance(model[3], Tanh)
    with pytest.raises(IndexError, match="index 4 is out of range for 4"):
        model[4]
    named = Sequential(OrderedDict([("fc", Linear(2, 2)), ("act", ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    with pytest.raises(TypeError, match="Modules only"):
        Sequential(Linear(2, 2), np.ones(3))


def test_sequential_repr_nests():
    text = repr(Sequential(Linear(2, 3), Sequential(ReLU(), Dropout(0.1))))
    assert text == ("Sequential(\n"
                    "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                    "  (1): Sequential(\n"
                    "    (0): ReLU()\n"
                    "    (1): Dropout(p=0.1)\n"
                    "  )\n"
                    ")")


def test_module_list_registers_and_keeps_order():
    layers = ModuleList([Linear(2, 2), ReLU()])
    layers.append(Linear(2, 3))
    assert len(layers) == 3
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    replacement = Linear(2, 2)
    layers[0] = replacement                     # replacing keeps position "0" first
    assert list(layers.state_dict())[:2] == ["0.weight", "0.bias"]
    assert layers[0] is replacement
    layers.insert(1, Tanh())
    assert [type(m).__name__ for m in layers] == ["Linear", "Tanh", "ReLU", "Linear"]
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    del layers[0]
    assert [type(m).__name__ for m in layers] == ["Tanh", "ReLU", "Linear"]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2"]
    assert isinstance(layers[1:], ModuleList) and len(layers[1:]) == 2
    assert sum(p.size for p in layers.parameters()) == 2 * 3 + 3
    with pytest.raises(TypeError, match="not callable"):
        layers(Tensor(np.ones(2)))
