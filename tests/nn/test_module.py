"""Module: registration, traversal, modes, and state_dict / load_state_dict with PyTorch's keys."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from minitorch_ser.nn.activation import ReLU
from minitorch_ser.nn.container import Sequential
from minitorch_ser.nn.dropout import Dropout
from minitorch_ser.nn.linear import Linear
from minitorch_ser.nn.module import Module, Parameter
from minitorch_ser.autograd.tensor import Tensor


class Scaler(Module):
    """A parameter and two buffers (float and integer), like a normalisation layer."""

    def __init__(self, n: int):
        super().__init__()
        self.scale = Parameter(np.ones(n, dtype=np.float32))
        self.register_buffer("running_mean", np.zeros(n, dtype=np.float32))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x):
        return (x - self.running_mean) * self.scale


def nested(seed: int) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(Sequential(Linear(4, 3, rng=rng), ReLU()), Scaler(3), Linear(3, 2, rng=rng))


NESTED_KEYS = ["0.0.weight", "0.0.bias", "1.scale", "1.running_mean", "1.num_batches_tracked",
               "2.weight", "2.bias"]


# ------------------------------------------------------------------ registration and traversal
def test_named_parameters_buffers_children_modules():
    model = nested(0)
    assert [n for n, _ in model.named_parameters()] == [
        "0.0.weight", "0.0.bias", "1.scale", "2.weight", "2.bias"]
    assert [n for n, _ in model.named_buffers()] == ["1.running_mean", "1.num_batches_tracked"]
    assert [type(c).__name__ for c in model.children()] == ["Sequential", "Scaler", "Linear"]
    assert len(list(model.modules())) == 6
    assert all(isinstance(p, Parameter) for p in model.parameters())
    assert [b.dtype for b in model.buffers()] == [np.float32, np.int64]


def test_shared_parameter_is_listed_once():
    shared = Linear(3, 3)
    model = Sequential(shared, ReLU(), shared)
    assert len(list(model.parameters())) == 2


def test_buffer_assignment_stays_a_buffer():
    layer = Scaler(2)
    layer.running_mean = np.array([1.0, 2.0], dtype=np.float32)   # e.g. a BatchNorm update
    assert "running_mean" in layer.state_dict()
    np.testing.assert_array_equal(layer.state_dict()["running_mean"], [1.0, 2.0])
    np.testing.assert_array_equal(layer(Tensor(np.array([1.0, 2.0], np.float32))).data, [0, 0])


def test_assigning_a_plain_tensor_over_a_parameter_raises():
    layer = Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign Tensor to parameter 'weight'"):
        layer.weight = Tensor(np.ones((2, 2), np.float32))


def test_missing_super_init_and_missing_attribute_raise_clearly():
    class Broken(Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match=r"must call super\(\).__init__\(\)"):
        Broken()
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'weights'"):
        Linear(2, 2).weights


def test_train_eval_reach_every_submodule_and_zero_grad():
    model = Sequential(Linear(2, 2), Sequential(Dropout(0.5), ReLU()))
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model(Tensor(np.ones((1, 2), np.float32))).sum().backward()
    assert model[0].weight.grad is not None
    model.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(model[0].weight.grad, 0)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------------ state_dict round trips
def _perturb(model: Module, seed: int) -> None:
    """Give every parameter and buffer distinctive values."""
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    scaler = model[1]
    scaler.running_mean = rng.standard_normal(3).astype(np.float32)
    scaler.num_batches_tracked = np.array(17, dtype=np.int64)


def test_state_dict_keys_follow_pytorch_and_are_copies():
    model = nested(0)
    sd = model.state_dict()
    assert list(sd) == NESTED_KEYS
    assert sd["0.0.weight"].shape == (3, 4) and sd["2.weight"].shape == (2, 3)
    sd["0.0.weight"][...] = 99.0
    assert not np.any(model[0][0].weight.data == 99.0)


def test_state_dict_round_trip_through_a_fresh_model():
    source = nested(0)
    _perturb(source, 1)
    target = nested(2)                       # different initial values
    x = Tensor(np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32))
    assert not np.allclose(source(x).data, target(x).data)

    weight_array = target[2].weight.data
    assert target.load_state_dict(source.state_dict()) == ([], [])
    assert target[2].weight.data is weight_array          # loaded in place
    for key, value in source.state_dict().items():
        loaded = target.state_dict()[key]
        assert loaded.dtype == value.dtype and loaded.shape == value.shape
        np.testing.assert_array_equal(loaded, value)
    assert target[1].num_batches_tracked.item() == 17
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_load_state_dict_lists_every_problem_at_once_and_changes_nothing():
    model = nested(0)
    before = model.state_dict()
    sd = nested(1).state_dict()
    del sd["2.bias"], sd["1.num_batches_tracked"]
    sd["extra.weight"] = np.ones(3)
    sd["0.0.weight"] = np.ones((4, 3))                   # transposed
    sd["1.running_mean"] = np.ones(4)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(sd)
    message = str(info.value)
    for fragment in ["missing keys: 1.num_batches_tracked, 2.bias", "unexpected keys: extra.weight",
                     "0.0.weight: expected (3, 4), got (4, 3)",
                     "1.running_mean: expected (3,), got (4,)"]:
        assert fragment in message, message
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_load_state_dict_non_strict_reports_and_loads_the_rest():
    model = nested(0)
    source = nested(1)
    sd = source.state_dict()
    del sd["2.bias"]
    sd["head.weight"] = np.zeros(2)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert missing == ["2.bias"] and unexpected == ["head.weight"]
    np.testing.assert_array_equal(model[2].weight.data, source[2].weight.data)
    assert not np.array_equal(model[2].bias.data, source[2].bias.data)
    sd["2.weight"] = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"2.weight: expected \(2, 3\), got \(3, 2\)"):
        model.load_state_dict(sd, strict=False)          # wrong shapes always raise


def test_pytorch_style_state_dict_of_numpy_arrays_loads_strictly():
    # what {k: v.numpy() for k, v in torch_model.state_dict().items()} gives for
    # nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)): weight (out, in), bias (out,)
    rng = np.random.default_rng(5)
    torch_sd = OrderedDict([
        ("0.weight", rng.standard_normal((3, 4))),       # float64 here: cast to the layers' float32
        ("0.bias", rng.standard_normal(3)),
        ("2.weight", rng.standard_normal((2, 3)).astype(np.float32)),
        ("2.bias", Tensor(rng.standard_normal(2).astype(np.float32))),   # a Tensor is accepted too
    ])
    model = Sequential(Linear(4, 3), ReLU(), Linear(3, 2))
    assert model.load_state_dict(torch_sd, strict=True) == ([], [])
    assert all(p.dtype == np.float32 for p in model.parameters())
    x = rng.standard_normal((6, 4)).astype(np.float32)
    w0, b0, w1 = torch_sd["0.weight"], torch_sd["0.bias"], torch_sd["2.weight"]
    b1 = torch_sd["2.bias"].data
    expected = np.maximum(x @ w0.T + b0, 0) @ w1.T + b1
    np.testing.assert_allclose(model(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
