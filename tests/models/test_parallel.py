"""The first paper's model: shapes of both attention modes, a whole-model float64 gradcheck."""

import numpy as np
import pytest

from minitorch_ser import Tensor, gradcheck, no_grad
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention
from minitorch_ser.autograd.random import manual_seed


def tiny(attention="mha", **kw):
    manual_seed(0)
    return ParallelCNNLSTMAttention(n_classes=3, n_mels=128, n_frames=128, hidden=4,
                                    attention=attention, heads=2, cnn_dropout=0.0,
                                    lstm_dropout=0.0, channels=(2, 2, 2, 2), **kw)


@pytest.mark.parametrize("attention", ["mha", "additive"])
def test_paper_shapes_and_parameters(attention):
    manual_seed(0)
    model = ParallelCNNLSTMAttention(attention=attention).eval()
    x = Tensor(np.random.default_rng(0).standard_normal((2, 1, 128, 188)).astype(np.float32))
    with no_grad():
        # the CNN branch follows the paper's shape table
        h = x
        expected = [(2, 16, 64, 94), (2, 32, 16, 23), (2, 64, 4, 5), (2, 64, 1, 1)]
        for block, shape in zip(model.cnn, expected):
            h = block(h)
            assert h.shape == shape
        logits = model(x)
    assert logits.shape == (2, 3)
    assert logits.dtype == np.float32
    weights = model.attention_weights()
    assert weights.shape == (2, 47)               # one weight per pooled time step
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert model.cnn_features == 64
    assert model.fc.weight.shape == (3, 64 + 256)
    assert ("mha" in dict(model.named_children())) == (attention == "mha")


def test_other_input_sizes_and_classes():
    manual_seed(0)
    model = ParallelCNNLSTMAttention(n_classes=6, n_mels=128, n_frames=300).eval()
    with no_grad():
        out = model(Tensor(np.zeros((1, 1, 128, 300), np.float32)))
    assert out.shape == (1, 6)
    assert model.cnn_features == 64 * 1 * 2       # 300 // 128 = 2 columns left after pooling


@pytest.mark.parametrize("kwargs, message", [
    ({"attention": "dot"}, "attention='dot'"),
    ({"n_classes": 1}, "n_classes=1"),
    ({"n_mels": 64}, "n_mels=64"),
    ({"channels": (1, 2, 3)}, "channels="),
])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ParallelCNNLSTMAttention(**kwargs)


def test_bad_input_shape_names_the_model():
    model = tiny()
    with pytest.raises(ValueError, match=r"ParallelCNNLSTMAttention expects input .* got shape \(2, 128, 128\)"):
        model(Tensor(np.zeros((2, 128, 128), np.float32)))


@pytest.mark.parametrize("attention", ["mha", "additive"])
def test_whole_model_gradcheck_float64(attention):
    """Every parameter element of a tiny model, float64 central differences, train mode."""
    model = tiny(attention)
    x = np.random.default_rng(1).standard_normal((2, 1, 128, 128))
    slots = [(mod, pname) for _, mod in model.named_modules()
             for pname, p in mod._parameters.items() if p is not None]
    params = [getattr(mod, pname).data.astype(np.float64) for mod, pname in slots]

    def forward(*ps):
        for (mod, pname), p in zip(slots, ps):
            mod._parameters[pname] = p
            object.__setattr__(mod, pname, p)
        return model(Tensor(x))

    # eps 1e-7: with ~30k ReLU inputs, a few lie within 1e-6 of the kink at 0 and a wider
    # step would straddle it (the analytic gradient is right; the difference quotient is not)
    assert gradcheck(forward, params, eps=1e-7, atol=1e-6, rtol=1e-4, name=f"parallel[{attention}]")


def test_sequence_layers_are_asked_for_batch_first():
    """The layers default to PyTorch's (T, N, F); the model feeds (N, T, F) and says so."""
    model = tiny()
    assert model.lstm.batch_first and model.mha.batch_first
    assert type(model.mha).__name__ == "MultiheadAttention"        # PyTorch's layout
    assert set(model.mha.state_dict()) == {"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                           "out_proj.bias"}


@pytest.mark.parametrize("pool", [2, 4])
def test_conv_block_pools_before_relu_with_the_papers_values_and_gradients(pool):
    """The block pools before its ReLU; against the paper's order (ReLU, then pool) on the
    same layers the output and every gradient are equal, also with ties and all-negative
    windows (a map rounded to a few levels, half of it below zero)."""
    from minitorch_ser.models.parallel import conv_block
    from minitorch_ser.nn.pool import MaxPool2d
    from minitorch_ser.nn.activation import ReLU
    manual_seed(0)
    block = conv_block(2, 3, pool, dropout=0.0)
    for p in block.parameters():
        p.data = p.data.astype(np.float64)
    assert [type(m) for m in block][2:4] == [MaxPool2d, ReLU]
    rng = np.random.default_rng(pool)
    x = np.round(rng.standard_normal((2, 2, 8, 12)) * 2) / 2
    g = rng.standard_normal((2, 3, 8 // pool, 12 // pool))

    def run(order):
        t = Tensor(x, requires_grad=True)
        for p in block.parameters():
            p.grad = None
        conv, norm, pool_layer, relu, _ = block
        y = norm(conv(t))
        y = pool_layer(relu(y)) if order == "paper" else relu(pool_layer(y))
        y.backward(g)
        return [y.data, t.grad] + [p.grad.copy() for p in block.parameters()]

    for ours, paper in zip(run("ours"), run("paper")):
        np.testing.assert_array_equal(ours, paper)
