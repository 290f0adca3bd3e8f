"""MultiheadAttention (PyTorch's layout, kdim / vdim), KerasMultiHeadAttention and
scaled_dot_product_attention: oracle, gradients, masks, layouts, errors.

The oracle is the definition written out with loops over batch elements, heads, queries and
keys: for head j, ``softmax(Q_j K_j^T / sqrt(d)) V_j`` with ``Q_j = x_q W_j^Q + b_j^Q`` etc.,
the heads concatenated and projected by ``W^O``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser.autograd.gradcheck import gradcheck
from minitorch_ser.nn.attention import KerasMultiHeadAttention, MultiheadAttention
from minitorch_ser.nn.functional import scaled_dot_product_attention
from minitorch_ser.autograd.tensor import Tensor

FAST = settings(max_examples=20, deadline=None)


# ============================================================================ helpers
def make_layer(E, h, key_dim=None, bias=True, dropout=0.0, batch_first=True, seed=0,
               random_biases=True, kdim=None, vdim=None):
    """A float64 layer with non-zero biases (zero biases would hide a bias bug): Keras's
    layout with head size ``key_dim`` if given, else PyTorch's (with ``kdim`` / ``vdim``)."""
    rng = np.random.default_rng(seed)
    if key_dim is None:
        layer = MultiheadAttention(E, h, dropout=dropout, bias=bias, kdim=kdim, vdim=vdim,
                                   batch_first=batch_first, rng=rng)
    else:
        layer = KerasMultiHeadAttention(E, h, key_dim, dropout=dropout, bias=bias,
                                        batch_first=batch_first, rng=rng)
    for name, p in layer.named_parameters():
        p.data = p.data.astype(np.float64)
        if random_biases and name.endswith("bias"):
            p.data[...] = rng.uniform(-0.5, 0.5, p.shape)
    return layer


def projections(layer):
    """(W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o) as float64 arrays, W as (out, in)."""
    sd = {k: v.astype(np.float64) for k, v in layer.state_dict().items()}
    if isinstance(layer, MultiheadAttention):
        E = layer.embed_dim
        b = sd.get("in_proj_bias", np.zeros(3 * E))
        if "in_proj_weight" in sd:
            W = sd["in_proj_weight"]
            weights = [W[i * E:(i + 1) * E] for i in range(3)]
        else:                                   # kdim / vdim != E: separate matrices
            weights = [sd["q_proj_weight"], sd["k_proj_weight"], sd["v_proj_weight"]]
        parts = [(weights[i], b[i * E:(i + 1) * E]) for i in range(3)]
    else:
        inner = layer.num_heads * layer.key_dim
        parts = [(sd[f"{n}.weight"], sd.get(f"{n}.bias", np.zeros(inner)))
                 for n in ("q_proj", "k_proj", "v_proj")]
    E = layer.embed_dim
    parts.append((sd["out_proj.weight"], sd.get("out_proj.bias", np.zeros(E))))
    return [a for pair in parts for a in pair]


def oracle(layer, xq, xk, xv, masked=None):
    """Per-head loop of the attention equations.

    masked : bool (N, L, S) or None, True where query i may not see key s.
    Returns output (N, L, E) and per-head weights (N, h, L, S).
    """
    Wq, bq, Wk, bk, Wv, bv, Wo, bo = projections(layer)
    N, L, E = xq.shape
    S = xk.shape[1]
    h, d = layer.num_heads, layer.head_dim
    weights = np.zeros((N, h, L, S))
    concat = np.zeros((N, L, h * d))
    for n in range(N):
        for j in range(h):
            rows = slice(j * d, (j + 1) * d)
            Q = xq[n] @ Wq[rows].T + bq[rows]                   # (L, d)
            K = xk[n] @ Wk[rows].T + bk[rows]                   # (S, d)
            V = xv[n] @ Wv[rows].T + bv[rows]                   # (S, d)
            for i in range(L):
                scores = [float(Q[i] @ K[s]) / math.sqrt(d) for s in range(S)]
                allowed = [s for s in range(S) if masked is None or not masked[n, i, s]]
                if not allowed:
                    continue  # no key to attend to: zero weights, zero head output
                top = max(scores[s] for s in allowed)
                z = sum(math.exp(scores[s] - top) for s in allowed)
                for s in allowed:
                    weights[n, j, i, s] = math.exp(scores[s] - top) / z
                concat[n, i, rows] = weights[n, j, i] @ V
    out = concat @ Wo.T + bo
    return out, weights


def bind_parameters(layer, names, tensors):
    """Make the layer use ``tensors`` as its parameters (so gradcheck can perturb them)."""
    for name, t in zip(names, tensors):
        owner = layer
        *path, leaf = name.split(".")
        for part in path:
            owner = owner._modules[part]
        # a Module keeps a parameter both in its registry and as an instance attribute
        owner._parameters[leaf] = t
        object.__setattr__(owner, leaf, t)


@st.composite
def attention_case(draw):
    """Small shapes: batch, lengths, heads, layout, self/cross, optional masks."""
    N = draw(st.integers(1, 2))
    L = draw(st.integers(1, 4))
    self_attn = draw(st.booleans())
    S = L if self_attn else draw(st.integers(1, 4))
    h = draw(st.sampled_from([1, 2, 3]))
    layout = draw(st.sampled_from(["torch", "torch_kdim", "keras"]))
    kdim = vdim = key_dim = None
    if layout == "keras":
        key_dim = draw(st.integers(1, 3))
        E = draw(st.integers(2, 5))
    else:
        E = h * draw(st.integers(1, 2))
    if layout == "torch_kdim" and not self_attn:   # key / value feature sizes of their own
        kdim, vdim = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    use_kpm = draw(st.booleans())
    use_am = draw(st.booleans())
    rng = np.random.default_rng(seed)
    kpm = rng.random((N, S)) < 0.3 if use_kpm else None   # may mask every key of an example
    am = rng.random((L, S)) < 0.3 if use_am else None
    return dict(N=N, L=L, S=S, E=E, h=h, key_dim=key_dim, kdim=kdim, vdim=vdim,
                self_attn=self_attn, seed=seed, kpm=kpm, am=am)


def layer_for(case):
    return make_layer(case["E"], case["h"], key_dim=case["key_dim"], kdim=case["kdim"],
                      vdim=case["vdim"], seed=case["seed"])


def inputs_for(case):
    rng = np.random.default_rng(case["seed"] + 1)
    N, L, S, E = case["N"], case["L"], case["S"], case["E"]
    xq = rng.standard_normal((N, L, E))
    if case["self_attn"]:
        return xq, xq, xq
    kdim, vdim = case["kdim"] or E, case["vdim"] or E
    return xq, rng.standard_normal((N, S, kdim)), rng.standard_normal((N, S, vdim))


def combined_mask(case):
    N, L, S = case["N"], case["L"], case["S"]
    masked = np.zeros((N, L, S), dtype=bool)
    if case["kpm"] is not None:
        masked |= case["kpm"][:, None, :]
    if case["am"] is not None:
        masked |= case["am"][None, :, :]
    return masked


# ============================================================================ oracle
@FAST
@given(attention_case())
def test_matches_per_head_loop_oracle(case):
    layer = layer_for(case)
    xq, xk, xv = inputs_for(case)
    q = Tensor(xq)
    k, v = (q, q) if case["self_attn"] else (Tensor(xk), Tensor(xv))
    out, w_heads = layer(q, k, v, key_padding_mask=case["kpm"], attn_mask=case["am"],
                         average_attn_weights=False)
    _, w_mean = layer(q, k, v, key_padding_mask=case["kpm"], attn_mask=case["am"])
    ref_out, ref_w = oracle(layer, xq, xk, xv, combined_mask(case))
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w_heads.data, ref_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w_mean.data, ref_w.mean(axis=1), rtol=1e-10, atol=1e-12)
    assert not np.isnan(out.data).any()


def test_oracle_float32_default_layer():
    """A freshly built float32 layer (PyTorch init, zero biases) agrees with the oracle."""
    layer = MultiheadAttention(8, 2, batch_first=True, rng=np.random.default_rng(3))
    x = np.random.default_rng(4).standard_normal((3, 5, 8)).astype(np.float32)
    out, w = layer(Tensor(x), Tensor(x), Tensor(x), average_attn_weights=False)
    ref_out, ref_w = oracle(layer, x.astype(np.float64), x, x)
    assert out.dtype == np.float32 and w.dtype == np.float32
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.data, ref_w, rtol=1e-4, atol=1e-6)


def test_float_masks_are_added_to_scores():
    """A float mask of 0 / -inf is the same as the boolean mask; finite values shift scores."""
    layer = make_layer(6, 2, seed=5)
    rng = np.random.default_rng(6)
    x = Tensor(rng.standard_normal((2, 4, 6)))
    kpm = np.array([[False, True, False, False], [False, False, False, True]])
    out_b, w_b = layer(x, x, x, key_padding_mask=kpm)
    out_f, w_f = layer(x, x, x, key_padding_mask=np.where(kpm, -np.inf, 0.0))
    np.testing.assert_allclose(out_f.data, out_b.data, rtol=1e-12)
    np.testing.assert_allclose(w_f.data, w_b.data, rtol=1e-12)
    # an additive bias of +log(2) on key 0 doubles its unnormalized weight in every head
    am = np.zeros((4, 4))
    am[:, 0] = math.log(2.0)
    _, w_heads = layer(x, x, x, attn_mask=am, average_attn_weights=False)
    _, w_plain = layer(x, x, x, average_attn_weights=False)
    odds_masked = w_heads.data[..., 0] / w_heads.data[..., 1]
    odds_plain = w_plain.data[..., 0] / w_plain.data[..., 1]
    ratio = odds_masked / odds_plain
    np.testing.assert_allclose(ratio, 2.0, rtol=1e-10)


def test_per_head_attn_mask_shape():
    """attn_mask of shape (N*h, L, S): entry n*h + j masks head j of batch element n."""
    N, h, L, E = 2, 2, 3, 4
    layer = make_layer(E, h, seed=7)
    x = Tensor(np.random.default_rng(8).standard_normal((N, L, E)))
    am = np.zeros((N * h, L, L), dtype=bool)
    am[1 * h + 0, :, 2] = True                   # batch element 1, head 0 may not see key 2
    _, w = layer(x, x, x, attn_mask=am, average_attn_weights=False)
    assert np.all(w.data[1, 0, :, 2] == 0.0)
    assert np.all(w.data[1, 1, :, 2] > 0.0) and np.all(w.data[0, :, :, 2] > 0.0)


# ============================================================================ gradients
@FAST
@given(attention_case())
def test_gradcheck_inputs_and_parameters(case):
    layer = layer_for(case)
    names = [n for n, _ in layer.named_parameters()]
    xq, xk, xv = inputs_for(case)
    params = [p.data for _, p in layer.named_parameters()]

    if case["self_attn"]:
        def fn(x, *ps):
            bind_parameters(layer, names, ps)
            return layer(x, x, x, key_padding_mask=case["kpm"], attn_mask=case["am"],
                         average_attn_weights=False)
        inputs = [xq, *params]
    else:
        def fn(q, k, v, *ps):
            bind_parameters(layer, names, ps)
            return layer(q, k, v, key_padding_mask=case["kpm"], attn_mask=case["am"],
                         average_attn_weights=False)
        inputs = [xq, xk, xv, *params]
    gradcheck(fn, inputs, name=f"{type(layer).__name__}({layer.extra_repr()})")
    # the layer really ran on gradcheck's tensors: each was reached by the backward pass
    for name, p in layer.named_parameters():
        assert p.grad is not None, f"{name} was not part of the graph"


def test_key_bias_gets_no_gradient():
    """softmax is shift-invariant per query: q.(k_s + b) = q.k_s + q.b adds the same q.b to
    every key's score, so the key projection's bias cannot change the output (its gradient
    is 0), while the query and value biases do."""
    for key_dim, kb in ((None, lambda m: m.in_proj_bias.grad[4:8]),
                        (3, lambda m: m.k_proj.bias.grad)):
        layer = make_layer(4, 2, key_dim=key_dim, seed=32)
        x = Tensor(np.random.default_rng(33).standard_normal((2, 5, 4)))
        out, _ = layer(x, x, x)
        (out * Tensor(np.random.default_rng(34).standard_normal(out.shape))).sum().backward()
        np.testing.assert_allclose(kb(layer), 0.0, atol=1e-12)
        q_bias = layer.in_proj_bias.grad[:4] if key_dim is None else layer.q_proj.bias.grad
        assert np.abs(q_bias).max() > 1e-6


def test_gradcheck_with_attention_dropout():
    """Dropout on the weights, with the generator re-seeded so each probe sees the same mask."""
    layer = make_layer(4, 2, dropout=0.4, seed=9)
    layer.train()
    names = [n for n, _ in layer.named_parameters()]
    params = [p.data for _, p in layer.named_parameters()]
    x = np.random.default_rng(10).standard_normal((2, 3, 4))

    def fn(x, *ps):
        bind_parameters(layer, names, ps)
        layer.rng = np.random.default_rng(11)
        return layer(x, x, x)
    gradcheck(fn, [x, *params], name="MultiheadAttention(dropout=0.4)")


def test_gradcheck_scaled_dot_product_attention_causal():
    rng = np.random.default_rng(12)
    q, k, v = (rng.standard_normal((2, 3, 4, 2)) for _ in range(3))
    gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True,
                                                           return_weights=True),
              [q, k, v], name="scaled_dot_product_attention(is_causal=True)")


# ============================================================================ properties
@FAST
@given(attention_case())
def test_weights_are_distributions_over_unmasked_keys(case):
    layer = layer_for(case)
    q, k, v = (Tensor(a) for a in inputs_for(case))
    out, w = layer(q, k, v, key_padding_mask=case["kpm"], attn_mask=case["am"])
    masked = combined_mask(case)                                 # (N, L, S)
    dead = masked.all(axis=-1)                                   # queries with no key at all
    assert np.all(w.data[masked] == 0.0)
    np.testing.assert_allclose(w.data.sum(axis=-1)[~dead], 1.0, rtol=1e-12)
    assert np.all(w.data.sum(axis=-1)[dead] == 0.0)
    # a query that sees no key outputs only the output projection's bias
    bias = layer.out_proj.bias.data
    np.testing.assert_allclose(out.data[dead], np.broadcast_to(bias, out.data[dead].shape))


def test_fully_masked_example_has_finite_gradients():
    layer = make_layer(4, 2, seed=13)
    x = Tensor(np.random.default_rng(14).standard_normal((2, 3, 4)), requires_grad=True)
    kpm = np.array([[True, True, True], [False, True, False]])
    out, _ = layer(x, x, x, key_padding_mask=kpm)
    out.sum().backward()
    assert np.all(np.isfinite(x.grad))
    assert np.all(np.isfinite(layer.in_proj_weight.grad))


def test_self_attention_fast_path_equals_separate_inputs():
    """query is key is value (one packed matmul) == three equal but distinct tensors."""
    layer = make_layer(6, 3, seed=15)
    a = np.random.default_rng(16).standard_normal((2, 4, 6))
    x = Tensor(a)
    out1, w1 = layer(x, x, x)
    out2, w2 = layer(Tensor(a.copy()), Tensor(a.copy()), Tensor(a.copy()))
    np.testing.assert_allclose(out1.data, out2.data, rtol=1e-12)
    np.testing.assert_allclose(w1.data, w2.data, rtol=1e-12)


def test_batch_first_default_is_pytorchs():
    assert MultiheadAttention(4, 2).batch_first is False
    assert KerasMultiHeadAttention(4, 2, 3).batch_first is False


@pytest.mark.parametrize("key_dim, kdim", [(None, None), (None, 3), (2, None)])
def test_batch_first_false_is_the_transpose(key_dim, kdim):
    """(L, N, E) inputs (the default layout) give the transpose of the (N, L, E) result."""
    a = make_layer(4, 2, key_dim=key_dim, kdim=kdim, seed=17)
    b = make_layer(4, 2, key_dim=key_dim, kdim=kdim, batch_first=False, seed=17)
    assert not b.batch_first
    rng = np.random.default_rng(18)
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, kdim or 4))
    v = rng.standard_normal((2, 5, 4))
    out_a, w_a = a(Tensor(q), Tensor(k), Tensor(v))
    out_b, w_b = b(Tensor(q.transpose(1, 0, 2)), Tensor(k.transpose(1, 0, 2)),
                   Tensor(v.transpose(1, 0, 2)))
    assert out_b.shape == (3, 2, 4) and w_b.shape == (2, 3, 5)
    np.testing.assert_allclose(out_b.data.transpose(1, 0, 2), out_a.data, rtol=1e-12)
    np.testing.assert_allclose(w_b.data, w_a.data, rtol=1e-12)


def test_need_weights_and_averaging():
    layer = make_layer(6, 3, seed=19)
    x = Tensor(np.random.default_rng(20).standard_normal((2, 4, 6)))
    out, none = layer(x, x, x, need_weights=False)
    assert none is None and out.shape == (2, 4, 6)
    _, per_head = layer(x, x, x, average_attn_weights=False)
    _, mean = layer(x, x, x)
    assert per_head.shape == (2, 3, 4, 4) and mean.shape == (2, 4, 4)
    np.testing.assert_allclose(mean.data, per_head.data.mean(axis=1), rtol=1e-12)
    # the heads really differ (otherwise averaging would be untested)
    assert np.abs(per_head.data[:, 0] - per_head.data[:, 1]).max() > 1e-3


def test_dropout_only_in_training_and_seeded():
    layer = make_layer(8, 2, dropout=0.5, seed=21)
    x = Tensor(np.random.default_rng(22).standard_normal((2, 6, 8)))
    layer.eval()
    out_eval, w_eval = layer(x, x, x)
    out_eval2, _ = layer(x, x, x)
    np.testing.assert_array_equal(out_eval.data, out_eval2.data)
    layer.train()
    layer.rng = np.random.default_rng(23)
    out1, w1 = layer(x, x, x, average_attn_weights=False)
    layer.rng = np.random.default_rng(23)
    out2, _ = layer(x, x, x, average_attn_weights=False)
    np.testing.assert_array_equal(out1.data, out2.data)
    # inverted dropout: each weight is either 0 or the eval weight / (1 - p)
    layer.eval()
    _, w_eval_heads = layer(x, x, x, average_attn_weights=False)
    kept = w1.data != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(w1.data[kept], w_eval_heads.data[kept] / 0.5, rtol=1e-12)


def test_scaled_dot_product_attention_conventions():
    """Boolean masks mean *allowed* here (PyTorch's function); is_causal == tril mask."""
    rng = np.random.default_rng(24)
    q, k, v = (Tensor(rng.standard_normal((2, 4, 3))) for _ in range(3))
    allowed = np.tril(np.ones((4, 4), dtype=bool))
    out_c, w_c = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    out_m, w_m = scaled_dot_product_attention(q, k, v, attn_mask=allowed, return_weights=True)
    np.testing.assert_allclose(out_c.data, out_m.data, rtol=1e-12)
    assert np.all(w_c.data[:, ~allowed] == 0.0)
    # explicit formula with the default scale 1/sqrt(d)
    s = q.data @ k.data.transpose(0, 2, 1) / math.sqrt(3)
    e = np.exp(s - s.max(-1, keepdims=True))
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v).data,
                               (e / e.sum(-1, keepdims=True)) @ v.data, rtol=1e-12)
    s2 = q.data @ k.data.transpose(0, 2, 1) * 0.7
    e2 = np.exp(s2 - s2.max(-1, keepdims=True))
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, scale=0.7).data,
                               (e2 / e2.sum(-1, keepdims=True)) @ v.data, rtol=1e-12)


# ============================================================================ layouts and counts
def keras_count(E, h, D):
    """Keras's MultiHeadAttention: q, k, v kernels (E, h, D) and biases (h, D);
    output kernel (h, D, E) and bias (E,)."""
    return 3 * (E * h * D + h * D) + (h * D * E + E)


def test_parameter_counts_of_the_papers_figures():
    # Figures 7 and 9: MultiHeadAttention(num_heads=2, key_dim=32) on 128 features
    fig7 = KerasMultiHeadAttention(128, 2, key_dim=32)
    assert sum(p.size for p in fig7.parameters()) == 33_088
    assert 3 * (128 * 64 + 64) + (64 * 128 + 128) == 33_088
    # Figure 8: MultiHeadAttention(num_heads=2, key_dim=128) on 128 features
    fig8 = KerasMultiHeadAttention(128, 2, key_dim=128)
    assert sum(p.size for p in fig8.parameters()) == 131_968


@settings(max_examples=30, deadline=None)
@given(E=st.integers(1, 40), h=st.integers(1, 6), D=st.integers(1, 40))
def test_keras_layout_count_formula(E, h, D):
    layer = KerasMultiHeadAttention(E, h, D)
    assert sum(p.size for p in layer.parameters()) == keras_count(E, h, D)
    shapes = {k: v.shape for k, v in layer.state_dict().items()}
    assert shapes == {"q_proj.weight": (h * D, E), "q_proj.bias": (h * D,),
                      "k_proj.weight": (h * D, E), "k_proj.bias": (h * D,),
                      "v_proj.weight": (h * D, E), "v_proj.bias": (h * D,),
                      "out_proj.weight": (E, h * D), "out_proj.bias": (E,)}


def test_pytorch_layout_names_shapes_and_state_dict_round_trip():
    E, h = 12, 3
    layer = MultiheadAttention(E, h)
    shapes = {k: v.shape for k, v in layer.state_dict().items()}
    assert shapes == {"in_proj_weight": (3 * E, E), "in_proj_bias": (3 * E,),
                      "out_proj.weight": (E, E), "out_proj.bias": (E,)}
    assert layer.head_dim == 4
    rng = np.random.default_rng(25)
    foreign = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    layer.load_state_dict(foreign, strict=True)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, foreign[k])
    no_bias = MultiheadAttention(E, h, bias=False)
    assert no_bias.in_proj_bias is None and no_bias.out_proj.bias is None
    assert set(no_bias.state_dict()) == {"in_proj_weight", "out_proj.weight"}
    assert set(KerasMultiHeadAttention(E, h, 2, bias=False).state_dict()) == {
        "q_proj.weight", "k_proj.weight", "v_proj.weight", "out_proj.weight"}


def test_kdim_vdim_are_pytorchs_separate_projections():
    """kdim / vdim != E: torch's q_proj_weight (E, E), k_proj_weight (E, kdim),
    v_proj_weight (E, vdim), one in_proj_bias (3E,), in torch's order; each projection
    Xavier-uniform for its own shape. kdim = vdim = E given explicitly stays packed."""
    E, h, kdim, vdim = 64, 4, 40, 24
    layer = MultiheadAttention(E, h, kdim=kdim, vdim=vdim, rng=np.random.default_rng(35))
    assert [(k, v.shape) for k, v in layer.state_dict().items()] == [
        ("q_proj_weight", (E, E)), ("k_proj_weight", (E, kdim)), ("v_proj_weight", (E, vdim)),
        ("in_proj_bias", (3 * E,)), ("out_proj.weight", (E, E)), ("out_proj.bias", (E,))]
    assert layer.in_proj_weight is None
    for w, fan_in in ((layer.q_proj_weight, E), (layer.k_proj_weight, kdim),
                      (layer.v_proj_weight, vdim)):
        _check_uniform_fill(w.data, math.sqrt(6.0 / (fan_in + E)))
    assert not layer.in_proj_bias.data.any()
    packed = MultiheadAttention(E, h, kdim=E, vdim=E)
    assert list(packed.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                         "out_proj.bias"]
    assert packed.q_proj_weight is None
    assert repr(layer).startswith(f"MultiheadAttention(embed_dim={E}, num_heads={h}, "
                                  f"kdim={kdim}, vdim={vdim}")


def test_bias_false_oracle():
    layer = make_layer(4, 2, key_dim=3, bias=False, seed=26)
    x = np.random.default_rng(27).standard_normal((2, 3, 4))
    out, w = layer(Tensor(x), Tensor(x), Tensor(x), average_attn_weights=False)
    ref_out, ref_w = oracle(layer, x, x, x)
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-10, atol=1e-12)


def _check_uniform_fill(values, bound):
    """All within [-bound, bound] and spread over it (a U(-b, b) sample of this size is)."""
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.95 * bound
    assert abs(values.mean()) < 0.05 * bound
    np.testing.assert_allclose(values.std(), bound / math.sqrt(3), rtol=0.05)


def test_initialization_pytorch_layout():
    E = 64
    layer = MultiheadAttention(E, 4, rng=np.random.default_rng(28))
    _check_uniform_fill(layer.in_proj_weight.data, math.sqrt(6.0 / (E + 3 * E)))
    _check_uniform_fill(layer.out_proj.weight.data, 1.0 / math.sqrt(E))
    assert not layer.in_proj_bias.data.any() and not layer.out_proj.bias.data.any()
    assert all(p.dtype == np.float32 for p in layer.parameters())


def test_initialization_keras_layout():
    E, h, D = 64, 2, 16
    layer = KerasMultiHeadAttention(E, h, D, rng=np.random.default_rng(29))
    for proj in (layer.q_proj, layer.k_proj, layer.v_proj):
        _check_uniform_fill(proj.weight.data, math.sqrt(6.0 / (E * (h + D))))
        assert not proj.bias.data.any()
    _check_uniform_fill(layer.out_proj.weight.data, math.sqrt(6.0 / (h * (D + E))))
    assert not layer.out_proj.bias.data.any()


def test_same_rng_seed_same_weights():
    a = MultiheadAttention(8, 2, rng=np.random.default_rng(30))
    b = MultiheadAttention(8, 2, rng=np.random.default_rng(30))
    c = MultiheadAttention(8, 2, rng=np.random.default_rng(31))
    np.testing.assert_array_equal(a.in_proj_weight.data, b.in_proj_weight.data)
    assert not np.array_equal(a.in_proj_weight.data, c.in_proj_weight.data)


# ============================================================================ bad input
def test_embed_dim_not_divisible_by_heads():
    with pytest.raises(ValueError, match=r"embed_dim=10 must be divisible by num_heads=3.*"
                                         r"KerasMultiHeadAttention"):
        MultiheadAttention(10, 3)
    # Keras's layout has no such constraint
    assert KerasMultiHeadAttention(10, 3, key_dim=4).head_dim == 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(embed_dim=0, num_heads=1), "embed_dim=0"),
    (dict(embed_dim=4, num_heads=0), "num_heads=0"),
    (dict(embed_dim=4, num_heads=2, dropout=1.0), r"dropout=1.0 must be in \[0, 1\)"),
    (dict(embed_dim=4, num_heads=2, kdim=0), "kdim=0 must be a positive int"),
    (dict(embed_dim=4, num_heads=2, vdim=1.5), "vdim=1.5 must be a positive int"),
])
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiheadAttention(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(embed_dim=4, num_heads=2, key_dim=0), "KerasMultiHeadAttention: key_dim=0"),
    (dict(embed_dim=0, num_heads=2, key_dim=3), "KerasMultiHeadAttention: embed_dim=0"),
    (dict(embed_dim=4, num_heads=2, key_dim=3, dropout=-0.1), r"dropout=-0.1 must be in"),
])
def test_bad_keras_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KerasMultiHeadAttention(**kwargs)


def test_keras_head_size_is_not_accepted_under_pytorchs_names():
    """Keras's key_dim (head size) is not PyTorch's kdim (key feature size): the PyTorch layer
    refuses key_dim, and its kdim means the key input's features."""
    with pytest.raises(TypeError, match="key_dim"):
        MultiheadAttention(8, 2, key_dim=4)
    layer = MultiheadAttention(8, 2, kdim=5, batch_first=True)
    assert layer.head_dim == 4 and layer.kdim == 5 and layer.vdim == 8
    out, _ = layer(Tensor(np.ones((1, 3, 8))), Tensor(np.ones((1, 4, 5))), Tensor(np.ones((1, 4, 8))))
    assert out.shape == (1, 3, 8)


def test_wrong_rank_and_mismatched_dims():
    layer = MultiheadAttention(8, 2, batch_first=True)
    x = Tensor(np.zeros((2, 3, 8), np.float32))
    with pytest.raises(ValueError, match=r"MultiheadAttention expects query of rank 3.*\(3, 8\)"):
        layer(Tensor(np.zeros((3, 8), np.float32)), x, x)
    with pytest.raises(ValueError, match=r"embed_dim=8\): key has 6 features, shape \(2, 3, 6\)"):
        layer(x, Tensor(np.zeros((2, 3, 6), np.float32)), x)
    with pytest.raises(ValueError, match=r"same batch size"):
        layer(x, Tensor(np.zeros((1, 3, 8), np.float32)), Tensor(np.zeros((1, 3, 8), np.float32)))
    with pytest.raises(ValueError, match=r"key \(2, 3, 8\) and value \(2, 4, 8\)"):
        layer(x, x, Tensor(np.zeros((2, 4, 8), np.float32)))
    with pytest.raises(ValueError, match=r"length 0"):
        empty = Tensor(np.zeros((2, 0, 8), np.float32))
        layer(x, empty, empty)
    cross = MultiheadAttention(8, 2, kdim=5, vdim=3, batch_first=True)
    with pytest.raises(ValueError, match=r"key has 8 features, shape \(2, 3, 8\); expected kdim=5"):
        cross(x, x, Tensor(np.zeros((2, 3, 3), np.float32)))
    with pytest.raises(ValueError, match=r"value has 5 features.*expected vdim=3"):
        cross(x, Tensor(np.zeros((2, 3, 5), np.float32)), Tensor(np.zeros((2, 3, 5), np.float32)))


def test_bad_masks():
    layer = MultiheadAttention(8, 2, batch_first=True)
    q = Tensor(np.zeros((2, 3, 8), np.float32))
    kv = Tensor(np.zeros((2, 5, 8), np.float32))
    with pytest.raises(ValueError,
                       match=r"key_padding_mask must have shape \(N, S\) = \(2, 5\), got \(2, 3\)"):
        layer(q, kv, kv, key_padding_mask=np.zeros((2, 3), bool))
    with pytest.raises(ValueError,
                       match=r"attn_mask must have shape \(L, S\) = \(3, 5\).*got \(5, 3\)"):
        layer(q, kv, kv, attn_mask=np.zeros((5, 3), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must be boolean.*int64"):
        layer(q, kv, kv, key_padding_mask=np.zeros((2, 5), np.int64))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 4\) does not broadcast"):
        scaled_dot_product_attention(q, q, q, attn_mask=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match=r"either is_causal=True or attn_mask"):
        scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool), is_causal=True)
