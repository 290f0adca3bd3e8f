"""Tests of `minitorch_ser.nn.recurrent`: LSTM and GRU.

- oracles: the LSTM equations (7)-(12) and PyTorch's GRU equations written out below as plain
  NumPy step loops, with the parameters read from the layer's state_dict by PyTorch's names;
  and backpropagation through time written the same way (a reverse step loop of the chain
  rule through the gate equations) for every gradient of the layer Functions and of whole
  2-layer bidirectional stacks, in both layouts;
- float64 central-difference gradcheck over every element of the input, every weight, h_0 /
  c_0, through output, h_n and c_n, for hypothesis-drawn lengths 1..12, batches 1..3, both
  directions, 1-2 layers (inter-layer dropout off), all bias variants;
- the API: names, shapes, parameter counts of the papers, initialisation, dropout between
  layers, errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minitorch_ser.autograd import random as mt_random
from minitorch_ser.autograd.gradcheck import gradcheck
from minitorch_ser.nn.recurrent import (GRU, LSTM, GRULayerFunction, LSTMLayerFunction, gru,
                                        lstm)
from minitorch_ser.autograd.tensor import Tensor

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
N_GATES = {"LSTM": 4, "GRU": 3}
BIAS_COUNT = {True: 2, "single": 1, False: 0}


# ============================================================================ oracles
def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def lstm_cell(x_t, h, c, w_ih, w_hh, b):
    """Equations (7)-(12), gate blocks i, f, g, o; ``b`` is the total bias (4H,)."""
    H = h.shape[1]
    a = x_t @ w_ih.T + h @ w_hh.T + b
    i = sigmoid(a[:, :H])                # (8)
    f = sigmoid(a[:, H:2 * H])           # (7)
    g = np.tanh(a[:, 2 * H:3 * H])       # (9)  C~_t
    o = sigmoid(a[:, 3 * H:])            # (11)
    c = f * c + i * g                    # (10)
    h = o * np.tanh(c)                   # (12)
    return h, c


def gru_cell(x_t, h, w_ih, w_hh, b_ih, b_hh):
    """PyTorch's GRU: r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""
    H = h.shape[1]
    gi = x_t @ w_ih.T + b_ih
    gh = h @ w_hh.T + b_hh
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def reference_stack(mode, sd, x, h0, c0, num_layers, bidirectional, bias, batch_first,
                    masks=None):
    """Step loop over layers, directions and time; parameters from a state_dict ``sd``.

    ``masks[l]`` (N, T, D*H), if given, multiplies layer l's output (inter-layer dropout).
    Returns output, h_n, c_n (c_n None for the GRU).
    """
    if not batch_first:
        x = x.transpose(1, 0, 2)
    N, T, _ = x.shape
    D = 2 if bidirectional else 1
    H = sd["weight_hh_l0"].shape[1]
    G = N_GATES[mode]
    h_n, c_n = [], []
    layer_in = x
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = sd["weight_ih" + sfx], sd["weight_hh" + sfx]
            if bias is True:
                b_ih, b_hh = sd["bias_ih" + sfx], sd["bias_hh" + sfx]
            elif bias == "single":
                b_ih, b_hh = sd["bias" + sfx], np.zeros(G * H)
            else:
                b_ih, b_hh = np.zeros(G * H), np.zeros(G * H)
            k = layer * D + d
            h = np.zeros((N, H)) if h0 is None else h0[k]
            c = np.zeros((N, H)) if c0 is None else c0[k]
            out = np.zeros((N, T, H))
            for t in (range(T - 1, -1, -1) if d else range(T)):
                if mode == "LSTM":
                    h, c = lstm_cell(layer_in[:, t], h, c, w_ih, w_hh, b_ih + b_hh)
                else:
                    h = gru_cell(layer_in[:, t], h, w_ih, w_hh, b_ih, b_hh)
                out[:, t] = h
            outs.append(out)
            h_n.append(h)
            c_n.append(c)
        layer_in = np.concatenate(outs, axis=-1)
        if masks is not None and layer < num_layers - 1:
            layer_in = layer_in * masks[layer]
    output = layer_in if batch_first else layer_in.transpose(1, 0, 2)
    return output, np.stack(h_n), (np.stack(c_n) if mode == "LSTM" else None)


def _cast_params(module, dtype):
    for p in module.parameters():
        p.data = p.data.astype(dtype)
    return module


def _run(module, x, hx):
    """Module forward as (output, h_n, c_n or None)."""
    if isinstance(module, LSTM):
        out, (h_n, c_n) = module(x, hx)
        return out, h_n, c_n
    out, h_n = module(x, hx)
    return out, h_n, None


# ============================================================================ strategies
@st.composite
def configs(draw, max_feature=4, max_hidden=4):
    return dict(
        mode=draw(st.sampled_from(["LSTM", "GRU"])),
        N=draw(st.integers(1, 3)),
        T=draw(st.integers(1, 12)),
        F=draw(st.integers(1, max_feature)),
        H=draw(st.integers(1, max_hidden)),
        num_layers=draw(st.integers(1, 2)),
        bidirectional=draw(st.booleans()),
        bias=draw(st.sampled_from([True, "single", False])),
        batch_first=draw(st.booleans()),
        with_hx=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


def _make(cfg, **extra):
    cls = LSTM if cfg["mode"] == "LSTM" else GRU
    return cls(cfg["F"], cfg["H"], num_layers=cfg["num_layers"], bias=cfg["bias"],
               batch_first=cfg["batch_first"], bidirectional=cfg["bidirectional"],
               rng=np.random.default_rng(cfg["seed"]), **extra)


def _data(cfg, rng, dtype=np.float64):
    D = 2 if cfg["bidirectional"] else 1
    N, T, F = cfg["N"], cfg["T"], cfg["F"]
    shape = (N, T, F) if cfg["batch_first"] else (T, N, F)
    x = rng.standard_normal(shape).astype(dtype)
    state_shape = (D * cfg["num_layers"], cfg["N"], cfg["H"])
    h0 = rng.standard_normal(state_shape).astype(dtype) if cfg["with_hx"] else None
    c0 = rng.standard_normal(state_shape).astype(dtype) if cfg["with_hx"] else None
    return x, h0, c0


def _hx(mode, h0, c0):
    if h0 is None:
        return None
    return (Tensor(h0), Tensor(c0)) if mode == "LSTM" else Tensor(h0)


# ============================================================================ forward vs oracle
@settings(max_examples=40, **SETTINGS)
@given(cfg=configs())
def test_forward_matches_step_loop_of_equations(cfg):
    module = _cast_params(_make(cfg), np.float64)
    x, h0, c0 = _data(cfg, np.random.default_rng(cfg["seed"] + 1))
    out, h_n, c_n = _run(module, Tensor(x), _hx(cfg["mode"], h0, c0))
    ref_out, ref_h, ref_c = reference_stack(cfg["mode"], module.state_dict(), x, h0, c0,
                                            cfg["num_layers"], cfg["bidirectional"],
                                            cfg["bias"], cfg["batch_first"])
    D = 2 if cfg["bidirectional"] else 1
    N, T = cfg["N"], cfg["T"]
    seq_shape = ((N, T) if cfg["batch_first"] else (T, N)) + (D * cfg["H"],)
    assert out.shape == seq_shape
    assert h_n.shape == (D * cfg["num_layers"], cfg["N"], cfg["H"])
    np.testing.assert_allclose(out.data, ref_out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n.data, ref_h, rtol=0, atol=1e-12)
    if cfg["mode"] == "LSTM":
        assert c_n.shape == h_n.shape
        np.testing.assert_allclose(c_n.data, ref_c, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_float32_stays_float32_and_matches_float64_oracle(mode):
    cfg = dict(mode=mode, N=3, T=9, F=5, H=6, num_layers=2, bidirectional=True, bias=True,
               batch_first=True, with_hx=True, seed=3)
    module = _make(cfg)
    x, h0, c0 = _data(cfg, np.random.default_rng(4), np.float32)
    hx = (Tensor(h0, requires_grad=True), Tensor(c0, requires_grad=True)) if mode == "LSTM" \
        else Tensor(h0, requires_grad=True)
    xt = Tensor(x, requires_grad=True)
    out, h_n, c_n = _run(module, xt, hx)
    assert out.dtype == np.float32 and h_n.dtype == np.float32
    sd64 = {k: v.astype(np.float64) for k, v in module.state_dict().items()}
    ref_out, ref_h, ref_c = reference_stack(mode, sd64, x.astype(np.float64),
                                            h0.astype(np.float64), c0.astype(np.float64),
                                            2, True, True, True)
    np.testing.assert_allclose(out.data, ref_out, atol=2e-6)
    np.testing.assert_allclose(h_n.data, ref_h, atol=2e-6)
    if mode == "LSTM":
        assert c_n.dtype == np.float32
        np.testing.assert_allclose(c_n.data, ref_c, atol=2e-6)
    (out.sum() + h_n.sum()).backward()
    assert xt.grad.dtype == np.float32
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in module.parameters())


def test_each_layer_and_direction_is_one_graph_node():
    x = Tensor(np.ones((2, 7, 3), np.float32))
    out, _ = LSTM(3, 4, batch_first=True)(x)
    assert out.grad_fn is LSTMLayerFunction
    out, _ = GRU(3, 4, batch_first=True)(x)
    assert out.grad_fn is GRULayerFunction


# ============================================================================ gradients
@settings(max_examples=30, **SETTINGS)
@given(mode=st.sampled_from(["LSTM", "GRU"]), N=st.integers(1, 3), T=st.integers(1, 12),
       F=st.integers(1, 4), H=st.integers(1, 4), n_biases=st.integers(0, 2),
       reverse=st.booleans(), seed=st.integers(0, 2**16))
def test_layer_function_gradcheck(mode, N, T, F, H, n_biases, reverse, seed):
    rng = np.random.default_rng(seed)
    G = N_GATES[mode]
    x = rng.standard_normal((N, T, F))
    states = [rng.standard_normal((N, H)) for _ in range(2 if mode == "LSTM" else 1)]
    weights = [0.6 * rng.standard_normal((G * H, F)), 0.6 * rng.standard_normal((G * H, H))]
    biases = [0.5 * rng.standard_normal(G * H) for _ in range(n_biases)]
    fn = LSTMLayerFunction if mode == "LSTM" else GRULayerFunction
    gradcheck(lambda *a: fn.apply(*a, reverse=reverse), [x, *states, *weights, *biases],
              name=f"{fn.__name__}(reverse={reverse})")


def _flat_inputs(mode, cfg, rng):
    """x, [h_0, c_0], then (w_ih, w_hh, *biases) per layer and direction, as float64 arrays."""
    G, H, D = N_GATES[mode], cfg["H"], 2 if cfg["bidirectional"] else 1
    x, h0, c0 = _data(cfg, rng)
    states = [] if h0 is None else ([h0, c0] if mode == "LSTM" else [h0])
    groups = []
    for layer in range(cfg["num_layers"]):
        layer_in = cfg["F"] if layer == 0 else D * H
        for _ in range(D):
            group = [0.6 * rng.standard_normal((G * H, layer_in)),
                     0.6 * rng.standard_normal((G * H, H))]
            group += [0.5 * rng.standard_normal(G * H) for _ in range(BIAS_COUNT[cfg["bias"]])]
            groups.append(group)
    return x, states, groups


@settings(max_examples=24, **SETTINGS)
@given(cfg=configs(max_feature=3, max_hidden=3),
       outputs=st.sampled_from(["all", "output", "final"]))
def test_stack_gradcheck_input_weights_states(cfg, outputs):
    """Whole stacks (1-2 layers, both directions, inter-layer dropout off): gradients of the
    input, of every weight of every layer and direction and of h_0 / c_0, through output,
    h_n and c_n together or through output alone or the final states alone."""
    mode = cfg["mode"]
    x, states, groups = _flat_inputs(mode, cfg, np.random.default_rng(cfg["seed"]))
    sizes = [len(g) for g in groups]
    n_states = len(states)

    def fn(x, *rest):
        st_, flat = rest[:n_states], rest[n_states:]
        weights, pos = [], 0
        for size in sizes:
            weights.append(tuple(flat[pos:pos + size]))
            pos += size
        kwargs = dict(bidirectional=cfg["bidirectional"], batch_first=cfg["batch_first"],
                      dropout=0.5, training=False)  # dropout configured but inactive
        if mode == "LSTM":
            out, (h_n, c_n) = lstm(x, tuple(st_) if st_ else None, weights, **kwargs)
            finals = (h_n, c_n)
        else:
            out, h_n = gru(x, st_[0] if st_ else None, weights, **kwargs)
            finals = (h_n,)
        if outputs == "output":
            return out
        if outputs == "final":
            return finals
        return (out,) + finals

    flat = [w for g in groups for w in g]
    gradcheck(fn, [x, *states, *flat], name=f"{mode} stack {cfg}")


# ============================================================================ bias variants
def test_lstm_single_bias_equals_two_biases_merged():
    rng = np.random.default_rng(0)
    two = _cast_params(LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, rng=rng),
                       np.float64)
    one = _cast_params(LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True,
                            bias="single"), np.float64)
    sd = two.state_dict()
    merged = {}
    for k, v in sd.items():
        if k.startswith("bias_ih"):
            merged[k.replace("bias_ih", "bias")] = v + sd[k.replace("bias_ih", "bias_hh")]
        elif not k.startswith("bias_hh"):
            merged[k] = v
    one.load_state_dict(merged)
    x = Tensor(rng.standard_normal((2, 6, 3)))
    out2, (h2, c2) = two(x)
    out1, (h1, c1) = one(x)
    np.testing.assert_allclose(out1.data, out2.data, atol=1e-13)
    np.testing.assert_allclose(h1.data, h2.data, atol=1e-13)
    np.testing.assert_allclose(c1.data, c2.data, atol=1e-13)


def test_gru_single_bias_is_input_side_bias_with_zero_hidden_bias():
    rng = np.random.default_rng(1)
    two = _cast_params(GRU(3, 5, batch_first=True, rng=rng), np.float64)
    one = _cast_params(GRU(3, 5, batch_first=True, bias="single"), np.float64)
    sd = two.state_dict()
    one.load_state_dict({"weight_ih_l0": sd["weight_ih_l0"], "weight_hh_l0": sd["weight_hh_l0"],
                         "bias_l0": sd["bias_ih_l0"]})
    x = Tensor(rng.standard_normal((2, 6, 3)))
    out1, _ = one(x)
    out2, _ = two(x)
    assert np.abs(out1.data - out2.data).max() > 1e-3  # b_hn inside r * (.) matters
    two.bias_hh_l0.data[...] = 0.0
    out2, _ = two(x)
    np.testing.assert_allclose(out1.data, out2.data, atol=1e-13)


# ============================================================================ API
def test_parameter_names_shapes_and_order_follow_pytorch():
    m = LSTM(10, 20, num_layers=2, bidirectional=True)
    expected = []
    for layer, layer_in in ((0, 10), (1, 40)):
        for sfx in ("", "_reverse"):
            expected += [(f"weight_ih_l{layer}{sfx}", (80, layer_in)),
                         (f"weight_hh_l{layer}{sfx}", (80, 20)),
                         (f"bias_ih_l{layer}{sfx}", (80,)), (f"bias_hh_l{layer}{sfx}", (80,))]
    assert [(k, v.shape) for k, v in m.named_parameters()] == expected
    g = GRU(10, 20, bias="single")
    assert [(k, v.shape) for k, v in g.named_parameters()] == [
        ("weight_ih_l0", (60, 10)), ("weight_hh_l0", (60, 20)), ("bias_l0", (60,))]
    g = GRU(10, 20, bias=False, bidirectional=True)
    assert [k for k, _ in g.named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse"]


@pytest.mark.parametrize("layer, expected", [
    (lambda: LSTM(4096, 128, bias="single"), 2_163_200),   # second paper, Figure 8
    (lambda: LSTM(2048, 128, bias="single"), 1_114_624),   # second paper, Figure 9
    (lambda: GRU(768, 128), 344_832),                      # second paper, Figure 7 (Keras'
                                                           # GRU with reset_after=True)
    (lambda: LSTM(64, 128, bidirectional=True), 2 * 4 * (64 * 128 + 128 * 128 + 2 * 128)),
])
def test_parameter_counts(layer, expected):
    assert sum(p.size for p in layer().parameters()) == expected


def test_init_is_pytorch_uniform_and_seeded():
    H = 256
    m = LSTM(64, H, rng=np.random.default_rng(0))
    bound = 1 / math.sqrt(H)
    w = m.weight_hh_l0.data
    assert w.dtype == np.float32
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound          # std of U(-b, b)
    for p in m.parameters():
        assert np.abs(p.data).max() <= bound
    same = LSTM(64, H, rng=np.random.default_rng(0))
    other = LSTM(64, H, rng=np.random.default_rng(1))
    assert all(np.array_equal(a, b)
               for a, b in zip(m.state_dict().values(), same.state_dict().values()))
    assert not np.array_equal(m.weight_ih_l0.data, other.weight_ih_l0.data)
    mt_random.manual_seed(7)
    a = GRU(5, 6)
    mt_random.manual_seed(7)
    b = GRU(5, 6)
    assert np.array_equal(a.weight_hh_l0.data, b.weight_hh_l0.data)


def test_state_dict_round_trip_strict():
    rng = np.random.default_rng(2)
    src = GRU(4, 3, num_layers=2, bidirectional=True, batch_first=True, rng=rng)
    dst = GRU(4, 3, num_layers=2, bidirectional=True, batch_first=True,
              rng=np.random.default_rng(9))
    dst.load_state_dict(src.state_dict(), strict=True)
    x = Tensor(rng.standard_normal((2, 5, 4)).astype(np.float32))
    np.testing.assert_array_equal(src(x)[0].data, dst(x)[0].data)
    with pytest.raises(ValueError, match="bias_ih_l0"):
        LSTM(4, 3, bias="single").load_state_dict(LSTM(4, 3).state_dict(), strict=True)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_inter_layer_dropout_train_only_and_between_layers(mode):
    p, N, T, F, H = 0.4, 3, 6, 4, 5
    cls = LSTM if mode == "LSTM" else GRU
    layer_rng = np.random.default_rng(11)
    m = _cast_params(cls(F, H, num_layers=3, dropout=p, bidirectional=True, batch_first=True,
                         rng=layer_rng), np.float64)
    x = np.random.default_rng(12).standard_normal((N, T, F))
    sd = m.state_dict()
    # the masks the layer will draw, from a copy of its generator (Bernoulli(1 - p) / (1 - p))
    twin = np.random.default_rng()
    twin.bit_generator.state = layer_rng.bit_generator.state
    masks = [(twin.random((N, T, 2 * H)) >= p) / (1 - p) for _ in range(2)]
    out, *_ = _run(m, Tensor(x), None)
    ref, _, _ = reference_stack(mode, sd, x, None, None, 3, True, True, True, masks=masks)
    np.testing.assert_allclose(out.data, ref, atol=1e-12)
    no_drop, _, _ = reference_stack(mode, sd, x, None, None, 3, True, True, True)
    assert np.abs(out.data - no_drop).max() > 1e-3
    m.eval()
    out_eval, *_ = _run(m, Tensor(x), None)
    np.testing.assert_allclose(out_eval.data, no_drop, atol=1e-12)


def test_dropout_has_no_effect_on_a_single_layer():
    m = _cast_params(LSTM(3, 4, dropout=0.5, batch_first=True, rng=np.random.default_rng(0)),
                     np.float64)
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    out, (h_n, c_n) = m(Tensor(x))
    ref, ref_h, ref_c = reference_stack("LSTM", m.state_dict(), x, None, None, 1, False, True,
                                        True)
    np.testing.assert_allclose(out.data, ref, atol=1e-12)
    np.testing.assert_allclose(h_n.data, ref_h, atol=1e-12)
    np.testing.assert_allclose(c_n.data, ref_c, atol=1e-12)


# ============================================================================ bad input
@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_bad_input_raises_naming_layer_expected_and_received(cls):
    m = cls(3, 4, num_layers=2, batch_first=True, bidirectional=True)
    name = f"{cls.__name__}\\(3, 4, num_layers=2, batch_first=True, bidirectional=True\\)"
    with pytest.raises(ValueError,
                       match=name + r".*3-D \(N, T, F\).*input_size=3.*got shape \(5, 3\)"):
        m(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match=name + r".*expected shape \(N, T, 3\), got \(2, 5, 7\)"):
        m(np.zeros((2, 5, 7), np.float32))
    with pytest.raises(ValueError, match=name + r".*sequence length T=0"):
        m(np.zeros((2, 0, 3), np.float32))
    tm = cls(3, 4)                                   # PyTorch's default layout (T, N, F)
    assert tm.batch_first is False
    with pytest.raises(ValueError, match=r"3-D \(T, N, F\).*got shape \(5, 3\)"):
        tm(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"expected shape \(T, N, 3\), got \(6, 2, 4\)"):
        tm(np.zeros((6, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"T=0 \(input shape \(0, 2, 3\) with batch_first=False"):
        tm(np.zeros((0, 2, 3), np.float32))


def test_bad_hidden_state_raises():
    x = np.zeros((2, 5, 3), np.float32)
    good = np.zeros((4, 2, 4), np.float32)
    bad = np.zeros((2, 2, 4), np.float32)
    m = LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    expected = r"\(D\*num_layers, N, H\) = \(4, 2, 4\), got \(2, 2, 4\)"
    with pytest.raises(ValueError, match="h_0 must have shape " + expected):
        m(x, (bad, good))
    with pytest.raises(ValueError, match="c_0 must have shape " + expected):
        m(x, (good, bad))
    with pytest.raises(ValueError, match=r"hx must be a tuple \(h_0, c_0\)"):
        m(x, good)
    g = GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    with pytest.raises(ValueError, match="GRU.*h_0 must have shape " + expected):
        g(x, bad)
    with pytest.raises(ValueError, match=r"h_0 must have shape .*got \(4, 3, 4\)"):
        g(x, np.zeros((4, 3, 4), np.float32))  # wrong batch size


@pytest.mark.parametrize("kwargs, match", [
    (dict(hidden_size=0), "hidden_size=0 must be an integer >= 1"),
    (dict(num_layers=0), "num_layers=0 must be an integer >= 1"),
    (dict(bias="double"), "bias='double' must be True, False or 'single'"),
    (dict(dropout=1.0), r"dropout=1.0 must be in \[0, 1\)"),
])
def test_bad_constructor_arguments(kwargs, match):
    args = dict(input_size=3, hidden_size=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LSTM(**args)


# ============================================================================ BPTT oracles
# Backpropagation through time written as a plain step loop over the gate equations, in
# float64: an oracle for the hand-written backward passes that shares nothing with them (the
# layer functions precompute every forward-only factor for all t and carry only (dh, dc)).
def lstm_layer_oracle(x, h0, c0, w_ih, w_hh, biases, reverse, g_out, g_hn, g_cn):
    """Forward (7)-(12) step by step, then the chain rule step by step in reverse.

    x (N, T, F); h0, c0 (N, H); biases: 0, 1 or 2 vectors (4H,), all added. g_out (N, T, H),
    g_hn, g_cn (N, H) are dL/d(out, h_n, c_n). Returns (out, h_n, c_n) and the gradients
    (dx, dh0, dc0, dW_ih, dW_hh, *dbiases).
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    b = sum(biases) if biases else np.zeros(4 * H)
    order = range(T - 1, -1, -1) if reverse else range(T)
    h, c = h0, c0
    out = np.zeros((N, T, H))
    cache = {}
    for t in order:
        a = x[:, t] @ w_ih.T + h @ w_hh.T + b
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        cache[t] = (h, c, i, f, g, o, c_new)
        h, c = h_new, c_new
        out[:, t] = h
    h_n, c_n = h, c

    dx = np.zeros_like(x)
    dw_ih, dw_hh, db = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros(4 * H)
    dh_next, dc_next = g_hn.copy(), g_cn.copy()
    for t in reversed(list(order)):
        h_prev, c_prev, i, f, g, o, c_t = cache[t]
        dh = g_out[:, t] + dh_next                          # h_t feeds the output and step t+1
        dc = dc_next + dh * o * (1 - np.tanh(c_t) ** 2)     # through h_t = o tanh(c_t)
        d_i, d_f, d_g, d_o = dc * g, dc * c_prev, dc * i, dh * np.tanh(c_t)
        da = np.concatenate([d_i * i * (1 - i), d_f * f * (1 - f), d_g * (1 - g ** 2),
                             d_o * o * (1 - o)], axis=1)    # dL/d pre-activations (N, 4H)
        dx[:, t] = da @ w_ih
        dw_ih += da.T @ x[:, t]
        dw_hh += da.T @ h_prev
        db += da.sum(axis=0)
        dh_next = da @ w_hh                                 # -> dL/dh_{t-1}
        dc_next = dc * f                                    # -> dL/dc_{t-1}
    grads = (dx, dh_next, dc_next, dw_ih, dw_hh) + tuple(db for _ in biases)
    return (out, h_n, c_n), grads


def gru_layer_oracle(x, h0, w_ih, w_hh, biases, reverse, g_out, g_hn):
    """PyTorch's GRU step by step, then its chain rule step by step in reverse.

    biases: () / (b_ih,) / (b_ih, b_hh), each (3H,). Returns (out, h_n) and
    (dx, dh0, dW_ih, dW_hh, *dbiases).
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    b_ih = biases[0] if len(biases) >= 1 else np.zeros(3 * H)
    b_hh = biases[1] if len(biases) == 2 else np.zeros(3 * H)
    order = range(T - 1, -1, -1) if reverse else range(T)
    h = h0
    out = np.zeros((N, T, H))
    cache = {}
    for t in order:
        gi = x[:, t] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        r = sigmoid(gi[:, :H] + gh[:, :H])
        z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        cache[t] = (h, r, z, n, gh[:, 2 * H:])
        h = (1 - z) * n + z * h
        out[:, t] = h
    h_n = h

    dx = np.zeros_like(x)
    dw_ih, dw_hh = np.zeros_like(w_ih), np.zeros_like(w_hh)
    db_ih, db_hh = np.zeros(3 * H), np.zeros(3 * H)
    dh_next = g_hn.copy()
    for t in reversed(list(order)):
        h_prev, r, z, n, gh_n = cache[t]
        dh = g_out[:, t] + dh_next
        d_z, d_n = dh * (h_prev - n), dh * (1 - z)          # h = (1 - z) n + z h_prev
        da_n = d_n * (1 - n ** 2)                           # n = tanh(gi_n + r gh_n)
        da_r = da_n * gh_n * r * (1 - r)
        da_z = d_z * z * (1 - z)
        dgi = np.concatenate([da_r, da_z, da_n], axis=1)    # dL/d(x W_ih^T + b_ih)
        dgh = np.concatenate([da_r, da_z, da_n * r], axis=1)  # dL/d(h W_hh^T + b_hh)
        dx[:, t] = dgi @ w_ih
        dw_ih += dgi.T @ x[:, t]
        dw_hh += dgh.T @ h_prev
        db_ih += dgi.sum(axis=0)
        db_hh += dgh.sum(axis=0)
        dh_next = dh * z + dgh @ w_hh
    grads = (dx, dh_next, dw_ih, dw_hh) + (db_ih, db_hh)[:len(biases)]
    return (out, h_n), grads


def _assert_all_close(got, want, names):
    assert len(got) == len(want) == len(names)
    for g, w, name in zip(got, want, names):
        assert g is not None, name
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=name)


@settings(max_examples=30, **SETTINGS)
@given(mode=st.sampled_from(["LSTM", "GRU"]), N=st.integers(1, 3), T=st.integers(1, 9),
       F=st.integers(1, 4), H=st.integers(1, 4), n_biases=st.integers(0, 2),
       reverse=st.booleans(), seed=st.integers(0, 2**16))
def test_layer_function_backward_matches_bptt_step_loop(mode, N, T, F, H, n_biases, reverse,
                                                        seed):
    """Every gradient of LSTMLayerFunction / GRULayerFunction (x, h_0, c_0, W_ih, W_hh, each
    bias) against the step-loop oracle, for a random upstream gradient of every output."""
    rng = np.random.default_rng(seed)
    G = N_GATES[mode]
    x = rng.standard_normal((N, T, F))
    states = [rng.standard_normal((N, H)) for _ in range(2 if mode == "LSTM" else 1)]
    weights = [0.6 * rng.standard_normal((G * H, F)), 0.6 * rng.standard_normal((G * H, H))]
    biases = [0.5 * rng.standard_normal(G * H) for _ in range(n_biases)]
    g_out = rng.standard_normal((N, T, H))
    g_finals = [rng.standard_normal((N, H)) for _ in states]

    tensors = [Tensor(a, requires_grad=True) for a in [x, *states, *weights, *biases]]
    fn = LSTMLayerFunction if mode == "LSTM" else GRULayerFunction
    outputs = fn.apply(*tensors, reverse=reverse)
    loss = None
    for y, g in zip(outputs, [g_out, *g_finals]):
        term = (y * Tensor(g)).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    if mode == "LSTM":
        forward, want = lstm_layer_oracle(x, *states, *weights, biases, reverse, g_out, *g_finals)
        names = ["dx", "dh0", "dc0", "dW_ih", "dW_hh"]
    else:
        forward, want = gru_layer_oracle(x, *states, *weights, biases, reverse, g_out, *g_finals)
        names = ["dx", "dh0", "dW_ih", "dW_hh"]
    _assert_all_close([y.data for y in outputs], forward, ["out", "h_n", "c_n"][:len(forward)])
    _assert_all_close([t.grad for t in tensors], want,
                      names + [f"db{k}" for k in range(n_biases)])


def _stack_oracle(mode, module, x, g_out, g_finals):
    """dL/dx and dL/d(every parameter) of a module stack (batch first, no dropout), from the
    layer oracles: each direction's output gradient is its half of the concatenated output's,
    a layer's input gradient is the sum over its directions."""
    sd = module.state_dict()
    oracle = lstm_layer_oracle if mode == "LSTM" else gru_layer_oracle
    D, H, n_states = 2 if module.bidirectional else 1, module.hidden_size, len(g_finals)
    states = [np.zeros((x.shape[0], H))] * n_states                # h_0 = c_0 = 0
    no_grad_out = np.zeros((x.shape[0], x.shape[1], H))
    layer_in, caches = x, []
    for layer in range(module.num_layers):                      # forward, keeping inputs
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            group = [sd[n + sfx] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            forward, _ = oracle(layer_in, *states, group[0], group[1], group[2:], bool(d),
                                no_grad_out, *states)
            outs.append(forward[0])
            caches.append((layer_in, group, sfx))
        layer_in = np.concatenate(outs, axis=-1)
    grads, g_layer = {}, g_out
    for layer in reversed(range(module.num_layers)):            # backward, layer by layer
        g_in = 0.0
        for d in range(D):
            k = layer * D + d
            inp, group, sfx = caches[k]
            _, g = oracle(inp, *states, group[0], group[1], group[2:], bool(d),
                          g_layer[..., d * H:(d + 1) * H], *[gf[k] for gf in g_finals])
            g_in = g_in + g[0]
            grads["weight_ih" + sfx], grads["weight_hh" + sfx] = g[1 + n_states], g[2 + n_states]
            grads["bias_ih" + sfx], grads["bias_hh" + sfx] = g[3 + n_states], g[4 + n_states]
        g_layer = g_in
    return g_layer, grads


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_module_stack_backward_matches_bptt_oracle(mode, batch_first):
    """A 2-layer bidirectional module, in both layouts: every parameter's gradient and the
    input's against the layer oracles chained by hand."""
    rng = np.random.default_rng(21)
    N, T, F, H = 2, 5, 3, 4
    cls = LSTM if mode == "LSTM" else GRU
    module = _cast_params(cls(F, H, num_layers=2, bidirectional=True, batch_first=batch_first,
                              rng=rng), np.float64)
    x = rng.standard_normal((N, T, F))
    g_out = rng.standard_normal((N, T, 2 * H))
    g_finals = [rng.standard_normal((4, N, H)) for _ in range(2 if mode == "LSTM" else 1)]
    xt = Tensor(x if batch_first else x.transpose(1, 0, 2).copy(), requires_grad=True)
    out, finals = module(xt)
    finals = [finals] if mode == "GRU" else list(finals)
    out_bf = out if batch_first else out.transpose(0, 1)
    loss = (out_bf * Tensor(g_out)).sum()
    for y, g in zip(finals, g_finals):
        loss = loss + (y * Tensor(g)).sum()
    loss.backward()
    dx, grads = _stack_oracle(mode, module, x, g_out, g_finals)
    got_dx = xt.grad if batch_first else xt.grad.transpose(1, 0, 2)
    np.testing.assert_allclose(got_dx, dx, rtol=1e-10, atol=1e-12)
    named = dict(module.named_parameters())
    assert set(named) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(named[name].grad, g, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_time_major_layout_is_the_transposed_batch_first_result(mode):
    """PyTorch's default layout (T, N, F) gives exactly the (N, T, F) numbers, transposed:
    output, final states, and every gradient."""
    cls = LSTM if mode == "LSTM" else GRU
    results = []
    for batch_first in (True, False):
        m = _cast_params(cls(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first,
                             rng=np.random.default_rng(5)), np.float64)
        x = np.random.default_rng(6).standard_normal((2, 5, 3))
        xt = Tensor(x if batch_first else x.transpose(1, 0, 2).copy(), requires_grad=True)
        out, finals = m(xt)
        h_n = finals if mode == "GRU" else finals[0]
        out_bf = out if batch_first else out.transpose(0, 1)
        g = np.random.default_rng(7).standard_normal(out_bf.shape)
        ((out_bf * Tensor(g)).sum() + h_n.sum()).backward()
        dx = xt.grad if batch_first else xt.grad.transpose(1, 0, 2)
        results.append([out_bf.data, h_n.data, dx] + [p.grad for p in m.parameters()])
    assert results[1][0].shape == (2, 5, 8)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
