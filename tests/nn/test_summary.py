"""summary(): output shapes, per-row and total counts (Keras's conventions), model untouched."""

from __future__ import annotations

import re

import numpy as np
import pytest

from minitorch_ser.nn.attention import KerasMultiHeadAttention, MultiheadAttention
from minitorch_ser.nn.module import Module, Parameter
from minitorch_ser.nn.summary import summary
from minitorch_ser.autograd.tensor import Tensor


# ============================================================================ toy layers
class Affine(Module):
    """y = x W^T + b over the last axis."""

    def __init__(self, n_in, n_out, trainable=True):
        super().__init__()
        rng = np.random.default_rng(n_in * 100 + n_out)
        self.weight = Parameter(rng.standard_normal((n_out, n_in)).astype(np.float32),
                                requires_grad=trainable)
        self.bias = Parameter(np.zeros(n_out, np.float32), requires_grad=trainable)

    def forward(self, x):
        return x @ self.weight.T + self.bias


class ToyNorm(Module):
    """BatchNorm-like over the last axis: affine weight/bias, running stats, a step counter."""

    def __init__(self, c):
        super().__init__()
        self.weight = Parameter(np.ones(c, np.float32))
        self.bias = Parameter(np.zeros(c, np.float32))
        self.register_buffer("running_mean", np.zeros(c, np.float32))
        self.register_buffer("running_var", np.ones(c, np.float32))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x):
        axes = tuple(range(x.ndim - 1))
        if self.training:  # a forward in train mode changes the buffers
            self.running_mean = 0.9 * self.running_mean + 0.1 * x.data.mean(axis=axes)
            self.running_var = 0.9 * self.running_var + 0.1 * x.data.var(axis=axes)
            self.num_batches_tracked = self.num_batches_tracked + 1
            mean, var = x.mean(axis=axes), x.var(axis=axes, unbiased=False)
        else:
            mean, var = Tensor(self.running_mean), Tensor(self.running_var)
        return (x - mean) / (var + 1e-5).sqrt() * self.weight + self.bias


class Block(Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.fc = Affine(n_in, n_out)
        self.norm = ToyNorm(n_out)

    def forward(self, x):
        return self.norm(self.fc(x)).relu()


class ToyRNN(Module):
    """Returns (output (N, T, H), (h_n (1, N, H), c_n (1, N, H))) like an LSTM."""

    def __init__(self, n_in, hidden):
        super().__init__()
        self.proj = Affine(n_in, hidden)

    def forward(self, x):
        out = self.proj(x).tanh()
        last = out[:, -1:, :].permute(1, 0, 2)
        return out, (last, last)


class ToyDropout(Module):
    """Draws from its own generator in training mode only."""

    def __init__(self):
        super().__init__()
        self.rng = np.random.default_rng(5)

    def forward(self, x):
        if self.training:
            return x * Tensor((self.rng.random(x.shape) > 0.5).astype(x.dtype))
        return x


class Toy(Module):
    """(N, T, 6) -> Block(6->8) -> ToyRNN(8->8) -> dropout -> MHA(8, 2 heads, key_dim 3)
    -> mean over T -> frozen Affine(8->4)."""

    def __init__(self):
        super().__init__()
        self.block = Block(6, 8)
        self.rnn = ToyRNN(8, 8)
        self.drop = ToyDropout()
        self.mha = KerasMultiHeadAttention(8, 2, 3, batch_first=True, rng=np.random.default_rng(0))
        self.head = Affine(8, 4, trainable=False)

    def forward(self, x):
        h, _ = self.rnn(self.block(x))
        h = self.drop(h)
        a, _ = self.mha(h, h, h)
        return self.head((a + h).mean(axis=1))


# hand-computed sizes
BLOCK_FC = 6 * 8 + 8              # 56 trainable
BLOCK_NORM_PARAMS = 8 + 8         # 16 trainable
BLOCK_NORM_BUFFERS = 8 + 8        # 16 non-trainable (num_batches_tracked not counted)
RNN = 8 * 8 + 8                   # 72 trainable
MHA = 3 * (8 * 6 + 6) + (6 * 8 + 8)  # 218 trainable (Keras layout, 2 heads of 3)
HEAD = 8 * 4 + 4                  # 36 frozen -> non-trainable
TRAINABLE = BLOCK_FC + BLOCK_NORM_PARAMS + RNN + MHA
NON_TRAINABLE = BLOCK_NORM_BUFFERS + HEAD
TOTAL = TRAINABLE + NON_TRAINABLE


def rows(table: str) -> dict:
    """{layer name: (type, output shape, count)} parsed from the table's rows."""
    out = {}
    for line in table.splitlines():
        m = re.match(r"^(\S+) \((\w+)\)\s{2,}(\(.*?\)|--)\s{2,}(\S+)$", line)
        if m:
            out[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return out


def totals(table: str) -> tuple[int, int, int]:
    def grab(label):
        m = re.search(rf"^{label}: ([\d,]+) \(", table, flags=re.M)
        assert m, f"no '{label}' line in\n{table}"
        return int(m.group(1).replace(",", ""))
    return grab("Total params"), grab("Trainable params"), grab("Non-trainable params")


# ============================================================================ tests
def test_totals_equal_hand_computed_sums():
    model = Toy()
    table = summary(model, (5, 6))
    assert totals(table) == (TOTAL, TRAINABLE, NON_TRAINABLE)
    assert (TOTAL, TRAINABLE, NON_TRAINABLE) == (414, 362, 52)  # the arithmetic above, spelled out
    # the same as counting the model's arrays directly
    n_params = sum(p.size for p in model.parameters())
    n_float_buffers = sum(b.size for _, b in model.named_buffers() if b.dtype.kind == "f")
    assert TOTAL == n_params + n_float_buffers


def test_rows_at_depth_one():
    table = summary(Toy(), (5, 6), batch_size=3)
    r = rows(table)
    assert list(r) == ["input", "block", "rnn", "drop", "mha", "head"]  # call order
    assert r["input"] == ("Input", "(None, 5, 6)", "0")
    block = BLOCK_FC + BLOCK_NORM_PARAMS + BLOCK_NORM_BUFFERS
    assert r["block"] == ("Block", "(None, 5, 8)", f"{block:,}")
    assert r["rnn"] == ("ToyRNN", "(None, 5, 8)", f"{RNN:,}")       # first tensor of the tuple
    assert r["drop"] == ("ToyDropout", "(None, 5, 8)", "0")
    assert r["mha"] == ("KerasMultiHeadAttention", "(None, 5, 8)", f"{MHA:,}")
    assert r["head"] == ("Affine", "(None, 4)", f"{HEAD:,}")
    assert table.splitlines()[0] == 'Model: "Toy"'


def test_deeper_rows_and_column_adds_up():
    table = summary(Toy(), (5, 6), depth=2)
    r = rows(table)
    assert r["block"][2] == "--"                        # expanded: its layers carry the counts
    assert r["block.fc"] == ("Affine", "(None, 5, 8)", f"{BLOCK_FC:,}")
    norm = BLOCK_NORM_PARAMS + BLOCK_NORM_BUFFERS
    assert r["block.norm"] == ("ToyNorm", "(None, 5, 8)", f"{norm:,}")
    assert r["mha"][2] == "--"
    assert r["mha.q_proj"] == ("Linear", "(None, 5, 6)", f"{8 * 6 + 6:,}")
    assert r["mha.out_proj"] == ("Linear", "(None, 5, 8)", f"{6 * 8 + 8:,}")
    column = sum(int(c.replace(",", "")) for _, _, c in r.values() if c != "--")
    assert column == TOTAL
    # a module that owns parameters *and* has listed children shows its own ones
    pt = summary(MultiheadAttention(8, 2, batch_first=True), [(4, 8)] * 3, depth=1)
    assert rows(pt)["out_proj"][2] == f"{8 * 8 + 8:,}"
    assert totals(pt)[0] == 4 * 8 * 8 + 4 * 8


def test_model_is_left_untouched():
    model = Toy()
    model.train()
    model.mha.eval()                         # a mixed state must come back exactly
    before_modes = {name: m.training for name, m in model.named_modules()}
    before_state = model.state_dict()
    rng_state = model.drop.rng.bit_generator.state
    summary(model, (5, 6), batch_size=2)
    assert {name: m.training for name, m in model.named_modules()} == before_modes
    after_state = model.state_dict()
    for k in before_state:                   # eval mode: no running-statistic update
        np.testing.assert_array_equal(after_state[k], before_state[k])
    assert model.drop.rng.bit_generator.state == rng_state   # eval mode: no dropout draw
    assert all("forward" not in m.__dict__ for m in model.modules())
    # and the train-mode forward still changes the buffers (so the check above can fail)
    model(Tensor(np.ones((2, 5, 6), np.float32)))
    assert model.block.norm.num_batches_tracked == 1


def test_wrappers_removed_when_forward_raises():
    model = Toy()
    with pytest.raises(ValueError, match="matmul"):
        summary(model, (5, 7))               # 7 features into a 6-input layer
    assert all("forward" not in m.__dict__ for m in model.modules())
    assert all(m.training for m in model.modules())


def test_instance_forward_override_is_restored():
    model = Toy()
    calls = []
    original = model.drop.forward

    def spy(x):
        calls.append(x.shape)
        return original(x)
    object.__setattr__(model.drop, "forward", spy)
    r = rows(summary(model, (5, 6)))
    assert r["drop"][1] == "(None, 5, 8)" and calls == [(1, 5, 8)]
    assert model.drop.__dict__["forward"] is spy


def test_several_inputs_and_batch_axis_display():
    mha = KerasMultiHeadAttention(8, 2, 3, batch_first=True)
    table = summary(mha, [(5, 8), (7, 8), (7, 8)], batch_size=4)
    r = rows(table)
    assert r["q_proj"][1] == "(None, 5, 6)" and r["k_proj"][1] == "(None, 7, 6)"
    assert "(None, 5, 8), (None, 7, 8), (None, 7, 8)" in table

    class SeqFirst(Module):                  # axis 0 is time, not batch: no None
        def __init__(self):
            super().__init__()
            self.inner = Affine(3, 3)

        def forward(self, x):
            return self.inner(x.transpose(0, 1))
    assert rows(summary(SeqFirst(), (6, 3), batch_size=2))["inner"][1] == "(6, 2, 3)"


def test_module_summary_delegates():
    model = Toy()
    assert model.summary((5, 6), depth=2) == summary(model, (5, 6), depth=2)


def test_keras_figure_rows_and_memory_sizes():
    """Figure 7's attention row, and the sizes Keras prints next to the totals (KiB, MiB)."""
    class Fig7Tail(Module):
        def __init__(self):
            super().__init__()
            self.multi_head_attention = KerasMultiHeadAttention(128, 2, 32, batch_first=True)

        def forward(self, x):
            out, _ = self.multi_head_attention(x, x, x)
            return out
    table = summary(Fig7Tail(), (75, 128))
    assert rows(table)["multi_head_attention"] == ("KerasMultiHeadAttention", "(None, 75, 128)",
                                                   "33,088")
    assert "Total params: 33,088 (129.25 KB)" in table          # 33,088 * 4 bytes / 1024

    class Big(Module):                      # Figure 7's total as one float32 array
        def __init__(self):
            super().__init__()
            self.w = Parameter(np.zeros(4_030_982, np.float32))

        def forward(self, x):
            return x * self.w[:1]
    table = summary(Big(), (1,))
    assert "Total params: 4,030,982 (15.38 MB)" in table
    assert "Non-trainable params: 0 (0.00 B)" in table

    class Stats(Module):                    # Figure 8's 768 non-trainable (2 BatchNorms)
        def __init__(self):
            super().__init__()
            self.a, self.b = ToyNorm(128), ToyNorm(256)

        def forward(self, x):
            return self.a(x)
    table = summary(Stats(), (4, 128))
    assert "Non-trainable params: 768 (3.00 KB)" in table
    assert "Trainable params: 768 (3.00 KB)" in table


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_shape=(5, 0)), r"input shape \(5, 0\) must hold positive ints"),
    (dict(input_shape=(5, 2.5)), r"must hold positive ints"),
    (dict(input_shape="5,6"), r"input_shape='5,6' must be a tuple of ints"),
    (dict(input_shape=(5, 6), batch_size=0), r"batch_size=0 must be a positive int"),
    (dict(input_shape=(5, 6), depth=0), r"depth=0 must be a positive int"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        summary(Toy(), **kwargs)
