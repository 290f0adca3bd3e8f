"""nn.keras: the Keras-style layers against their definitions (relu of the torch-style layer,
Keras's reshape order element by element, the sum), their gradients, and keras_init_."""

import math

import numpy as np
import pytest

from minitorch_ser import Tensor, gradcheck
from minitorch_ser.nn import functional as F
from minitorch_ser.nn.attention import KerasMultiHeadAttention
from minitorch_ser.nn.container import Sequential
from minitorch_ser.nn.conv import Conv2d
from minitorch_ser.nn.keras import Add, Conv2dReLU, LinearReLU, ToSequence, keras_init_
from minitorch_ser.nn.linear import Linear
from minitorch_ser.nn.module import Module
from minitorch_ser.nn.norm import LayerNorm
from minitorch_ser.nn.recurrent import GRU, LSTM


def _float64(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def test_conv2d_relu_is_relu_of_conv2d_with_conv2ds_parameters():
    rng = np.random.default_rng(0)
    layer = _float64(Conv2dReLU(2, 3, (5, 3), padding="same", rng=np.random.default_rng(1)))
    plain = Conv2d(2, 3, (5, 3), padding="same", rng=np.random.default_rng(1))
    assert list(layer.state_dict()) == ["weight", "bias"]
    np.testing.assert_array_equal(layer.weight.data, plain.weight.data)   # Conv2d's init
    x = rng.standard_normal((2, 2, 6, 4))
    want = np.maximum(F.conv2d(Tensor(x), layer.weight, layer.bias, padding="same").data, 0)
    got = layer(Tensor(x)).data
    np.testing.assert_array_equal(got, want)
    assert (got == 0).any() and (got > 0).any()                           # the ReLU acts
    gradcheck(lambda t: layer(t), [x], name="Conv2dReLU")


@pytest.mark.parametrize("shape", [(4, 6), (2, 5, 6), (2, 3, 4, 6)])
def test_linear_relu_is_relu_of_linear_for_any_leading_axes(shape):
    rng = np.random.default_rng(2)
    layer = _float64(LinearReLU(6, 3, rng=np.random.default_rng(3)))
    x = rng.standard_normal(shape)
    got = layer(Tensor(x)).data
    assert got.shape == shape[:-1] + (3,)
    want = np.maximum(x @ layer.weight.data.T + layer.bias.data, 0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)

    def fn(t, w, b):                     # the layer's forward on gradcheck's weight and bias
        for name, value in (("weight", w), ("bias", b)):
            layer._parameters[name] = value
            object.__setattr__(layer, name, value)
        return layer(t)
    gradcheck(fn, [x, layer.weight.data, layer.bias.data], name=f"LinearReLU {shape}")


def test_to_sequence_uses_keras_feature_order():
    """seq[n, t, f * C + c] == x[n, c, t, f], checked element by element."""
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5))
    seq = ToSequence()(Tensor(x)).data
    assert seq.shape == (2, 4, 15)
    for n in range(2):
        for c in range(3):
            for t in range(4):
                for f in range(5):
                    assert seq[n, t, f * 3 + c] == x[n, c, t, f]
    gradcheck(lambda t: ToSequence()(t), [x[:, :, :2, :3]], name="ToSequence")
    with pytest.raises(ValueError, match=r"ToSequence expects feature maps \(N, C, T, F\), got "
                                         r"shape \(2, 3, 4\)"):
        ToSequence()(Tensor(np.zeros((2, 3, 4))))


def test_add_sums_equal_shapes_only():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    np.testing.assert_array_equal(Add()(Tensor(a), Tensor(b)).data, a + b)
    with pytest.raises(ValueError, match=r"Add: shapes \(2, 3\) and \(3,\) must be equal"):
        Add()(Tensor(a), Tensor(b[0]))


def test_keras_init_redraws_direct_children_as_keras():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.conv = Conv2dReLU(3, 8, (5, 3))
            self.fc = Linear(40, 30)
            self.lstm = LSTM(12, 6, bias="single")
            self.gru = GRU(12, 6)
            self.attention = KerasMultiHeadAttention(16, 2, 4)
            self.norm = LayerNorm(16)
            self.block = Sequential(Linear(4, 4))        # a grandchild: left alone

    net = Net()
    before = {k: v.copy() for k, v in net.state_dict().items()
              if k.startswith(("attention", "norm", "block"))}
    assert keras_init_(net, rng=np.random.default_rng(6)) is net
    for layer, fans in ((net.conv, (3 * 15, 8 * 15)), (net.fc, (40, 30))):
        bound = math.sqrt(6.0 / sum(fans))                                  # Glorot-uniform
        w = layer.weight.data
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
        assert not layer.bias.data.any()
    H = 6
    for rnn, gates in ((net.lstm, 4), (net.gru, 3)):
        bound = math.sqrt(6.0 / (12 + gates * H))
        assert np.abs(rnn.weight_ih_l0.data).max() <= bound
        w_hh = rnn.weight_hh_l0.data.astype(np.float64)                      # (G H, H)
        np.testing.assert_allclose(w_hh.T @ w_hh, np.eye(H), atol=1e-6)     # orthonormal columns
    bias = net.lstm.bias_l0.data                                             # unit_forget_bias
    np.testing.assert_array_equal(bias[H:2 * H], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[H:2 * H]), 0.0)
    assert not net.gru.bias_ih_l0.data.any() and not net.gru.bias_hh_l0.data.any()
    for k, v in before.items():
        np.testing.assert_array_equal(net.state_dict()[k], v)
