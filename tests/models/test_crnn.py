"""The second paper's three models: the Figures 7-9 tables row by row, the mel-first input
layout (one transposition, bit-identical to the time-first layers), Keras initialisation, the
L2 penalty, checkpoints, float64 gradchecks and a short training run."""

import re

import numpy as np
import pytest

from minitorch_ser import Tensor, gradcheck, no_grad
from minitorch_ser.app.checkpoint import build_model, class_path
from minitorch_ser.models.crnn import (MODELS, CNNGRUAttention, CNNLSTMAttention,
                                       CNNLSTMAttentionRegularized, build_crnn)
from minitorch_ser.nn.attention import KerasMultiHeadAttention
from minitorch_ser.nn import functional as F
from minitorch_ser.autograd.random import manual_seed
from minitorch_ser.app.training import (TrainConfig, clip_gradients, make_optimizer, make_scheduler,
                                 regularization_loss)

# ---------------------------------------------------------------- the paper's tables
# (Keras output shape without the batch axis, parameters) per row, copied from Figures 7-9.
FIGURE_7 = [
    ("conv1", (300, 64, 128), 5_888), ("pool1", (150, 32, 128), 0),
    ("conv2", (150, 32, 256), 491_776), ("pool2", (75, 16, 256), 0),
    ("reshape", (75, 4096), 0), ("dense", (75, 768), 3_146_496), ("gru", (75, 128), 344_832),
    ("dropout", (75, 128), 0), ("attention", (75, 128), 33_088), ("add", (75, 128), 0),
    ("norm", (75, 128), 256), ("global_pool", (128,), 0), ("fc1", (64,), 8_256),
    ("fc2", (6,), 390),
]
FIGURE_8 = [
    ("conv1", (300, 64, 128), 5_888), ("bn1", (300, 64, 128), 512),
    ("pool1", (300, 32, 128), 0), ("conv2", (300, 32, 256), 491_776),
    ("bn2", (300, 32, 256), 1_024), ("pool2", (300, 16, 256), 0),
    ("reshape", (300, 4096), 0), ("lstm", (300, 128), 2_163_200), ("dropout", (300, 128), 0),
    ("attention", (300, 128), 131_968), ("global_pool", (128,), 0), ("fc1", (64,), 8_256),
    ("fc_dropout", (64,), 0), ("fc2", (6,), 390),
]
FIGURE_9 = [
    ("conv1", (300, 64, 64), 2_944), ("bn1", (300, 64, 64), 256),
    ("pool1", (300, 32, 64), 0), ("conv2", (300, 32, 128), 123_008),
    ("bn2", (300, 32, 128), 512), ("pool2", (300, 16, 128), 0),
    ("reshape", (300, 2048), 0), ("lstm", (300, 128), 1_114_624), ("dropout", (300, 128), 0),
    ("attention", (300, 128), 33_088), ("norm", (300, 128), 256), ("global_pool", (128,), 0),
    ("fc1", (64,), 8_256), ("fc_dropout", (64,), 0), ("fc2", (6,), 390),
]
# name: (rows, total, trainable, non-trainable) as printed under each table
PAPER = {
    "gru": (FIGURE_7, 4_030_982, 4_030_982, 0),
    "lstm": (FIGURE_8, 2_803_014, 2_802_246, 768),
    "lstm_reg": (FIGURE_9, 1_283_334, 1_282_950, 384),
}


def nhwc_to_nchw(shape: tuple) -> tuple:
    """A Keras feature-map row (T, F, C) is our (C, T, F); sequence and vector rows are equal."""
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 else shape


def parse_summary(text: str):
    """[(name, shape without batch, count)] of the layer rows, and the three totals."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(\S+) \((\w+)\)\s+\(None, ([\d, ]+)\)\s+([\d,]+)$", line)
        if m and m.group(1) != "input":
            shape = tuple(int(v) for v in m.group(3).split(","))
            rows.append((m.group(1), shape, int(m.group(4).replace(",", ""))))
    totals = [int(re.search(rf"^{label} params: ([\d,]+)", text, re.M).group(1).replace(",", ""))
              for label in ("Total", "Trainable", "Non-trainable")]
    return rows, totals


@pytest.mark.parametrize("name", ["gru", "lstm", "lstm_reg"])
def test_summary_matches_the_paper_row_by_row(name):
    manual_seed(0)
    model = build_crnn(name)
    rows, totals = parse_summary(model.summary((3, 64, 300)))      # (C, n_mels, n_frames)
    table, total, trainable, frozen = PAPER[name]
    expected = [(layer, nhwc_to_nchw(shape), count) for layer, shape, count in table]
    assert rows == expected
    assert totals == [total, trainable, frozen]
    assert sum(count for _, _, count in rows) == total
    n_trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    assert n_trainable == trainable


def test_full_size_forward_gives_logits():
    """One real (N, 3, 64, 300) batch through Figure 9's model (the lightest of the three)."""
    manual_seed(0)
    model = build_crnn("lstm_reg").eval()
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 300)).astype(np.float32))
    with no_grad():
        logits = model(x)
    assert logits.shape == (2, 6)
    assert logits.dtype == np.float32
    assert np.all(np.isfinite(logits.data))


@pytest.mark.parametrize("name, frames, mels, seq", [
    ("gru", 20, 16, (5, 4 * 256)),      # T/4, F/4 * C2
    ("gru", 23, 18, (5, 4 * 256)),      # floors, as Keras' 'valid' pooling
    ("lstm", 20, 16, (20, 4 * 256)),    # time is not pooled
    ("lstm_reg", 7, 10, (7, 2 * 128)),
])
def test_other_input_sizes(name, frames, mels, seq):
    manual_seed(0)
    model = build_crnn(name, n_classes=4, n_frames=frames, n_mels=mels).eval()
    assert model.sequence_shape() == seq
    with no_grad():
        out = model(Tensor(np.zeros((1, 3, mels, frames), np.float32)))
    assert out.shape == (1, 4)


# ---------------------------------------------------------------- construction and errors
@pytest.mark.parametrize("cls, kwargs, message", [
    (CNNGRUAttention, {"n_classes": 1}, "n_classes=1 must be an int >= 2"),
    (CNNGRUAttention, {"n_frames": 3}, "n_frames=3 must be an int >= 4"),
    (CNNGRUAttention, {"n_mels": 3}, "n_mels=3 must be an int >= 4"),
    (CNNLSTMAttention, {"n_mels": 2}, "n_mels=2 must be an int >= 4"),
    (CNNLSTMAttention, {"n_frames": 0}, "n_frames=0 must be an int >= 1"),
    (CNNLSTMAttention, {"channels": (8,)}, r"channels=\(8,\) must be 2 filter counts"),
    (CNNLSTMAttention, {"dropout": 1.0}, r"dropout=1.0 must be in \[0, 1\)"),
    (CNNLSTMAttention, {"init": "he"}, "init='he' must be 'keras' or 'torch'"),
    (CNNLSTMAttentionRegularized, {"l2": -0.1}, "l2=-0.1 must be >= 0"),
    (CNNGRUAttention, {"key_dim": 0}, "key_dim=0 must be an int >= 1"),
])
def test_bad_configuration(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_build_crnn_names_and_unknown_name():
    assert {k: type(build_crnn(k, n_frames=8, n_mels=8, channels=(2, 2))) for k in MODELS} == {
        "gru": CNNGRUAttention, "lstm": CNNLSTMAttention,
        "lstm_reg": CNNLSTMAttentionRegularized}
    with pytest.raises(ValueError, match=r"name='cnn' must be one of \['gru', 'lstm', 'lstm_reg'\]"):
        build_crnn("cnn")


def test_wrong_input_shape_is_reported():
    """The time-first layout (N, C, n_frames, n_mels) of earlier versions is refused."""
    model = build_crnn("gru", n_frames=20, n_mels=16, channels=(2, 2))
    with pytest.raises(ValueError, match=r"expects input \(N, in_channels, n_mels, n_frames\) = "
                                         r"\(N, 3, 16, 20\), got shape \(2, 3, 20, 16\)"):
        model(Tensor(np.zeros((2, 3, 20, 16), np.float32)))


# ---------------------------------------------------------------- input layout
def time_first_forward(model, x):
    """The models' layers in order on a time-first map x : (N, C, n_frames, n_mels): the
    forward pass the models had before they took mel-first input."""
    if isinstance(model, CNNGRUAttention):
        x = model.pool2(model.conv2(model.pool1(model.conv1(x))))
        h, _ = model.gru(model.dense(model.reshape(x)))
        h = model.dropout(h)
        a, _ = model.attention(h, h, h, need_weights=False)
        a = model.norm(model.add(h, a))
        return model.fc2(model.fc1(model.global_pool(a)))
    x = model.pool1(model.bn1(model.conv1(x)))
    x = model.pool2(model.bn2(model.conv2(x)))
    h, _ = model.lstm(model.reshape(x))
    h = model.dropout(h)
    a, _ = model.attention(h, h, h, need_weights=False)
    if model.norm is not None:
        a = model.norm(a)
    return model.fc2(model.fc_dropout(model.fc1(model.global_pool(a))))


def _logits_and_grads(model, x, forward):
    model.zero_grad()
    logits = forward(Tensor(x))
    (logits * Tensor(np.linspace(-1, 1, logits.size).reshape(logits.shape))).sum().backward()
    return [logits.data] + [p.grad.copy() for p in model.parameters()]


@pytest.mark.parametrize("name", ["gru", "lstm", "lstm_reg"])
def test_mel_first_input_is_the_time_first_model_on_the_transposed_input(name):
    """x : (N, C, n_mels, n_frames) gives bit for bit the logits and the gradients of every
    parameter that the time-first layers give on x transposed (N, C, n_frames, n_mels):
    the models' only change of layout is the one transposition at their input."""
    manual_seed(0)
    model = build_crnn(name, n_classes=3, **TINY[name], **NO_DROPOUT[name]).train()
    x = np.random.default_rng(2).standard_normal((3,) + TINY_INPUT).astype(np.float32)
    x_time_first = np.ascontiguousarray(x.transpose(0, 1, 3, 2))       # (N, C, T, F)
    got = _logits_and_grads(model, x, model)
    want = _logits_and_grads(model, x_time_first, lambda t: time_first_forward(model, t))
    assert got[0].shape == (3, 3) and len(got) == len(list(model.parameters())) + 1
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    model.eval()
    with no_grad():
        np.testing.assert_array_equal(model(Tensor(x)).data,
                                      time_first_forward(model, Tensor(x_time_first)).data)
        # and the layout matters: the time-first array is refused, not silently misread
        with pytest.raises(ValueError, match="n_mels, n_frames"):
            model(Tensor(x_time_first))


def test_models_pass_batch_first_and_use_keras_attention():
    """The layer defaults are PyTorch's (batch_first=False); the models ask for (N, T, F)."""
    for name in ("gru", "lstm", "lstm_reg"):
        model = build_crnn(name, n_classes=3, **TINY[name])
        rnn = model.gru if name == "gru" else model.lstm
        assert rnn.batch_first and model.attention.batch_first
        assert isinstance(model.attention, KerasMultiHeadAttention)
        assert model.attention.key_dim == TINY[name]["key_dim"]


# ---------------------------------------------------------------- layers of the models
def test_keras_initialisation():
    manual_seed(0)
    model = build_crnn("lstm", n_frames=10, n_mels=16, channels=(4, 6), hidden_size=8,
                       key_dim=4)
    H = 8
    for layer in (model.conv1, model.conv2, model.fc1, model.fc2):
        assert np.all(layer.bias.data == 0)
        w = layer.weight.data
        receptive = int(np.prod(w.shape[2:])) if w.ndim == 4 else 1
        bound = np.sqrt(6.0 / ((w.shape[0] + w.shape[1]) * receptive))   # Glorot
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.8 * bound                             # and not smaller
    bias = model.lstm.bias_l0.data
    np.testing.assert_array_equal(bias[H:2 * H], 1.0)                   # unit_forget_bias
    np.testing.assert_array_equal(np.delete(bias, np.s_[H:2 * H]), 0.0)
    w_hh = model.lstm.weight_hh_l0.data.astype(np.float64)              # (4H, H)
    np.testing.assert_allclose(w_hh.T @ w_hh, np.eye(H), atol=1e-5)     # orthogonal columns
    torch_style = build_crnn("lstm", n_frames=10, n_mels=16, channels=(4, 6), hidden_size=8,
                             key_dim=4, init="torch")
    assert np.any(torch_style.conv1.bias.data != 0)


def test_regularization_loss_is_the_l2_formula_and_its_gradient():
    manual_seed(0)
    model = build_crnn("lstm_reg", n_frames=8, n_mels=8, channels=(3, 4), hidden_size=5,
                       key_dim=3, fc_units=4, l2=0.02)
    penalty = model.regularization_loss()
    w1, w2 = (model.conv1.weight.data.astype(np.float64), model.conv2.weight.data.astype(np.float64))
    expected = 0.02 * ((w1 ** 2).sum() + (w2 ** 2).sum())
    np.testing.assert_allclose(penalty.item(), expected, rtol=1e-6)
    assert regularization_loss(model) is not None                        # fit() picks it up
    model.zero_grad()
    penalty.backward()
    np.testing.assert_allclose(model.conv1.weight.grad, 2 * 0.02 * model.conv1.weight.data,
                               rtol=1e-6)
    np.testing.assert_allclose(model.conv2.weight.grad, 2 * 0.02 * model.conv2.weight.data,
                               rtol=1e-6)
    assert model.conv1.bias.grad is None or not np.any(model.conv1.bias.grad)
    assert model.lstm.weight_ih_l0.grad is None or not np.any(model.lstm.weight_ih_l0.grad)
    # the two unregularised models have no penalty
    assert regularization_loss(build_crnn("gru", n_frames=8, n_mels=8, channels=(2, 2))) is None
    assert regularization_loss(build_crnn("lstm", n_frames=8, n_mels=8, channels=(2, 2))) is None


@pytest.mark.parametrize("name", ["gru", "lstm", "lstm_reg"])
def test_config_rebuilds_the_model_from_a_checkpoint(name):
    manual_seed(0)
    model = build_crnn(name, n_classes=3, **TINY[name]).eval()
    x = Tensor(np.random.default_rng(0).standard_normal((2,) + TINY_INPUT).astype(np.float32))
    with no_grad():
        expected = model(x).data
    ckpt = {"model_class": class_path(model), "model_config": dict(model.config),
            "model_state": model.state_dict()}
    manual_seed(123)                                   # a different initial draw
    rebuilt = build_model(ckpt)
    assert type(rebuilt) is type(model) and rebuilt.config == model.config
    with no_grad():
        np.testing.assert_array_equal(rebuilt(x).data, expected)


# ---------------------------------------------------------------- gradients and training
TINY = {   # n_frames != n_mels, so that a mixed-up layout cannot pass unnoticed
    "gru": dict(n_frames=10, n_mels=8, channels=(2, 3), dense_units=5, hidden_size=4,
                num_heads=2, key_dim=3, fc_units=4),
    "lstm": dict(n_frames=10, n_mels=8, channels=(2, 3), hidden_size=4, num_heads=2,
                 key_dim=3, fc_units=4),
    "lstm_reg": dict(n_frames=10, n_mels=8, channels=(2, 3), hidden_size=4, num_heads=2,
                     key_dim=3, fc_units=4, l2=0.01),
}
TINY_INPUT = (3, 8, 10)   # (C, n_mels, n_frames)
NO_DROPOUT = {"gru": dict(dropout=0.0), "lstm": dict(dropout=0.0, fc_dropout=0.0),
              "lstm_reg": dict(dropout=0.0, fc_dropout=0.0)}


@pytest.mark.parametrize("name", ["gru", "lstm", "lstm_reg"])
def test_whole_model_gradcheck_float64(name):
    """Every parameter element, float64 central differences, train mode (batch statistics)."""
    manual_seed(0)
    model = build_crnn(name, n_classes=3, **TINY[name], **NO_DROPOUT[name]).train()
    x = np.random.default_rng(1).standard_normal((2,) + TINY_INPUT)
    slots = [(mod, pname) for _, mod in model.named_modules()
             for pname, p in mod._parameters.items() if p is not None]
    params = [getattr(mod, pname).data.astype(np.float64) for mod, pname in slots]
    assert sum(p.size for p in params) == sum(p.size for p in model.parameters())

    def forward(*ps):
        for (mod, pname), p in zip(slots, ps):
            mod._parameters[pname] = p
            object.__setattr__(mod, pname, p)
        logits = model(Tensor(x))
        penalty = regularization_loss(model)
        return (logits,) if penalty is None else (logits, penalty)

    # eps 1e-7: a wider step could straddle a ReLU kink (see test_parallel.py)
    assert gradcheck(forward, params, eps=1e-7, atol=1e-6, rtol=1e-4, name=f"crnn[{name}]")


@pytest.mark.parametrize("name", ["gru", "lstm", "lstm_reg"])
def test_short_training_run_lowers_the_loss(name):
    """Adam + the model's clipping and decay schedule on a fixed synthetic batch.

    The paper's initial lr (1e-4 / 5e-4) is raised to 1e-2 so that 15 steps suffice.
    The loss is measured in training mode without dropout: BatchNorm's running averages
    (Keras' momentum 0.99) move little in 15 steps, so an eval-mode loss would measure them
    rather than what the optimizer learned.
    """
    manual_seed(0)
    rng = np.random.default_rng(0)
    model = build_crnn(name, n_classes=3, **TINY[name], **NO_DROPOUT[name]).train()
    y = np.repeat(np.arange(3), 4)                                      # 12 clips, 3 classes
    x = rng.standard_normal((12,) + TINY_INPUT).astype(np.float32)
    x += y[:, None, None, None].astype(np.float32)                      # class-dependent offset
    clip = {"clip_grad_norm": 1.0} if name == "lstm_reg" else {"clip_grad_value": 5.0}
    config = TrainConfig(scheduler="exponential", lr=1e-2, decay_steps=1000, decay_rate=0.95,
                         **clip)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)

    def objective():
        loss = F.cross_entropy(model(Tensor(x)), y)
        penalty = regularization_loss(model)
        return loss if penalty is None else loss + penalty

    with no_grad():
        before = objective().item()
    for _ in range(15):
        loss = objective()
        optimizer.zero_grad()
        loss.backward()
        clip_gradients(model, config)
        optimizer.step()
        scheduler.step()
    with no_grad():
        after = objective().item()
    assert after < 0.8 * before, (before, after)
