"""nn.functional: softmax family at extreme logits, cross_entropy / nll_loss against PyTorch's
definitions written out as loops, dropout, linear."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minitorch_ser.autograd import random as mt_random
from minitorch_ser.autograd.gradcheck import gradcheck
from minitorch_ser.nn import functional as F
from minitorch_ser.autograd.tensor import Tensor
from strategies import FAST, float_arrays, seeds, shapes


# ------------------------------------------------------------------ softmax family
@FAST
@given(data=st.data())
def test_softmax_and_log_softmax_match_numpy(data):
    shp = data.draw(shapes(min_dims=1))
    x = data.draw(float_arrays(shp, min_value=-20, max_value=20))
    dim = data.draw(st.integers(-len(shp), len(shp) - 1))
    e = np.exp(x)
    np.testing.assert_allclose(F.softmax(Tensor(x), dim).data, e / e.sum(dim, keepdims=True),
                               rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(Tensor(x), dim).data,
                               x - np.log(e.sum(dim, keepdims=True)), rtol=1e-12, atol=1e-12)


# rows: one dominant logit; all equal; two close dominant logits and one hugely negative
HUGE = [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4 - 1, -1e4]]


def _huge_expected():
    z = math.log1p(math.exp(-1.0))                  # log(1 + e^-1)
    log_p = np.array([[0.0, -2e4, -1e4],
                      [-math.log(3)] * 3,
                      [-z, -1.0 - z, -2e4 - z]])
    return log_p, np.exp(log_p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_is_finite_and_exact_for_logits_of_1e4(dtype):
    x = Tensor(np.array(HUGE, dtype=dtype), requires_grad=True)
    log_p, p = _huge_expected()
    sm, lsm = F.softmax(x, dim=1), F.log_softmax(x, dim=1)
    assert sm.dtype == dtype and lsm.dtype == dtype
    assert np.isfinite(sm.data).all() and np.isfinite(lsm.data).all()
    np.testing.assert_allclose(sm.data, p, rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(lsm.data, log_p, rtol=1e-6)
    lsm.sum().backward()                            # d sum(log_softmax)/dx = 1 - C softmax
    np.testing.assert_allclose(x.grad, 1 - 3 * p, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_is_finite_and_exact_for_logits_of_1e4(dtype, label_smoothing):
    x = Tensor(np.array(HUGE, dtype=dtype), requires_grad=True)
    target = np.array([1, 0, 2])
    log_p, p = _huge_expected()
    eps, n, c = label_smoothing, 3, 3
    q = (1 - eps) * np.eye(c)[target] + eps / c
    expected = -(q * log_p).sum() / n               # e.g. row 0 alone costs 2e4
    loss = F.cross_entropy(x, target, label_smoothing=eps)
    assert loss.dtype == dtype and np.isfinite(loss.item())
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    loss.backward()
    assert np.isfinite(x.grad).all()
    np.testing.assert_allclose(x.grad, (p - q) / n, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ loss oracles (loops)
def _rows(x: np.ndarray, axis: int) -> np.ndarray:
    """(N, C, d1, ...) -> (N * d1 * ..., C): one row per prediction."""
    return np.moveaxis(x, axis, -1).reshape(-1, x.shape[axis])


def _log_softmax_row(row):
    m = max(row)
    log_sum = math.log(sum(math.exp(v - m) for v in row))
    return [v - m - log_sum for v in row]


def ce_oracle(logits, target, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """torch.nn.functional.cross_entropy written element by element."""
    axis = 0 if logits.ndim == 1 else 1
    n_classes = logits.shape[axis]
    w = np.ones(n_classes) if weight is None else weight
    rows = _rows(logits, axis)
    losses, denom = [], 0.0
    if target.dtype.kind == "f":                    # class probabilities
        for row, t in zip(rows, _rows(target, axis)):
            logp = _log_softmax_row(row)
            losses.append(-sum(w[c] * ((1 - eps) * t[c] + eps / n_classes) * logp[c]
                               for c in range(n_classes)))
        denom = len(rows)
    else:                                           # class indices
        for row, y in zip(rows, target.reshape(-1)):
            if y == ignore_index:
                losses.append(0.0)
                continue
            logp = _log_softmax_row(row)
            smooth = sum(w[c] * -logp[c] for c in range(n_classes))
            losses.append((1 - eps) * w[y] * -logp[y] + eps / n_classes * smooth)
            denom += w[y]
    losses = np.array(losses)
    if reduction == "mean" and denom == 0:          # every target ignored: 0 / 0
        return np.nan
    if reduction == "none":
        out_shape = target.shape if target.dtype.kind != "f" else \
            logits.shape[:axis] + logits.shape[axis + 1:]
        return losses.reshape(out_shape)
    return losses.sum() if reduction == "sum" else losses.sum() / denom


def nll_oracle(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """torch.nn.functional.nll_loss: l_n = -w[y_n] x[n, y_n]; mean = sum l / sum w[y_n]."""
    axis = 0 if log_probs.ndim == 1 else 1
    w = np.ones(log_probs.shape[axis]) if weight is None else weight
    losses, denom = [], 0.0
    for row, y in zip(_rows(log_probs, axis), target.reshape(-1)):
        if y == ignore_index:
            losses.append(0.0)
        else:
            losses.append(-w[y] * row[y])
            denom += w[y]
    losses = np.array(losses)
    if reduction == "none":
        return losses.reshape(target.shape)
    return losses.sum() if reduction == "sum" else losses.sum() / denom if denom else np.nan


@st.composite
def classification_problems(draw, probabilities=False, keep_one=False):
    """(logits, target, weight, ignore_index) for (C,), (N, C) or (N, C, d) inputs.

    ``keep_one``: at least one target is not ignored (else a 'mean' is 0 / 0 = nan).
    """
    n_classes = draw(st.integers(2, 5))
    layout = draw(st.sampled_from(["single", "batch", "spatial"]))
    n = draw(st.integers(1, 4))
    shape = {"single": (n_classes,), "batch": (n, n_classes),
             "spatial": (n, n_classes, draw(st.integers(1, 3)))}[layout]
    logits = draw(float_arrays(shape, min_value=-5, max_value=5))
    weight = draw(st.none() | float_arrays((n_classes,), min_value=0.1, max_value=3.0))
    if probabilities:
        raw = draw(float_arrays(shape, min_value=0.0, max_value=1.0)) + 1e-3
        axis = 0 if layout == "single" else 1
        return logits, raw / raw.sum(axis=axis, keepdims=True), weight, -100
    target_shape = shape[:0] if layout == "single" else (shape[0],) + shape[2:]
    target = draw(hnp.arrays(np.int64, target_shape, elements=st.integers(0, n_classes - 1)))
    ignore_index = draw(st.sampled_from([-100, 0]))   # 0: a real class can be ignored
    if ignore_index == -100 and target.ndim and draw(st.booleans()):
        target.reshape(-1)[0] = -100                    # one ignored sample
    if keep_one and (target == ignore_index).all():
        target.reshape(-1)[-1] = n_classes - 1 if ignore_index == 0 else 0
    return logits, target, weight, ignore_index


REDUCTIONS = st.sampled_from(["mean", "sum", "none"])
SMOOTHING = st.sampled_from([0.0, 0.1, 0.5, 1.0])


@FAST
@given(problem=classification_problems(), reduction=REDUCTIONS, eps=SMOOTHING)
def test_cross_entropy_matches_the_written_out_definition(problem, reduction, eps):
    logits, target, weight, ignore_index = problem
    got = F.cross_entropy(Tensor(logits), target, weight, ignore_index=ignore_index,
                          reduction=reduction, label_smoothing=eps)
    expected = ce_oracle(logits, target, weight, ignore_index, reduction, eps)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.data, expected, rtol=1e-10, atol=1e-12)   # nan == nan


@FAST
@given(problem=classification_problems(probabilities=True), reduction=REDUCTIONS, eps=SMOOTHING)
def test_cross_entropy_with_probability_targets(problem, reduction, eps):
    logits, target, weight, _ = problem
    got = F.cross_entropy(Tensor(logits), target, weight, reduction=reduction,
                          label_smoothing=eps)
    np.testing.assert_allclose(got.data, ce_oracle(logits, target, weight, -100, reduction, eps),
                               rtol=1e-10, atol=1e-12)


@FAST
@given(problem=classification_problems(), reduction=REDUCTIONS)
def test_nll_loss_matches_the_written_out_definition(problem, reduction):
    logits, target, weight, ignore_index = problem
    axis = 0 if logits.ndim == 1 else 1
    log_probs = logits - np.log(np.exp(logits).sum(axis=axis, keepdims=True))
    got = F.nll_loss(Tensor(log_probs), target, weight, ignore_index=ignore_index,
                     reduction=reduction)
    np.testing.assert_allclose(got.data,
                               nll_oracle(log_probs, target, weight, ignore_index, reduction),
                               rtol=1e-10, atol=1e-12)


def test_weighted_mean_divides_by_the_sum_of_target_weights():
    # l = [-w0 * x00, -w2 * x12] = [-(2)(-1), -(0.5)(-4)] = [2, 2]; mean = 4 / (2 + 0.5)
    log_probs = np.array([[-1.0, -2.0, -3.0], [-5.0, -6.0, -4.0]])
    weight = np.array([2.0, 1.0, 0.5])
    loss = F.nll_loss(Tensor(log_probs), np.array([0, 2]), weight)
    assert loss.item() == pytest.approx(4.0 / 2.5)
    assert F.nll_loss(Tensor(log_probs), np.array([0, 2]), weight, reduction="sum").item() == 4.0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@FAST
@given(problem=classification_problems(keep_one=True), eps=SMOOTHING)
def test_cross_entropy_gradcheck(reduction, problem, eps):
    logits, target, weight, ignore_index = problem
    gradcheck(lambda z: F.cross_entropy(z, target, weight, ignore_index=ignore_index,
                                        reduction=reduction, label_smoothing=eps),
              [logits], name="cross_entropy")


@FAST
@given(problem=classification_problems(probabilities=True), eps=SMOOTHING)
def test_cross_entropy_gradcheck_probability_targets(problem, eps):
    logits, target, weight, _ = problem
    gradcheck(lambda z: F.cross_entropy(z, target, weight, label_smoothing=eps), [logits])


@FAST
@given(problem=classification_problems(keep_one=True))
def test_nll_loss_gradcheck(problem):
    logits, target, weight, ignore_index = problem
    gradcheck(lambda x: F.nll_loss(x, target, weight, ignore_index=ignore_index), [logits])


def test_all_targets_ignored_gives_nan_mean_and_zero_sum():
    z = Tensor(np.zeros((2, 3)))
    target = np.array([-100, -100])
    assert np.isnan(F.cross_entropy(z, target).item())
    assert F.cross_entropy(z, target, reduction="sum").item() == 0.0
    assert np.isnan(F.nll_loss(z, target).item())


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=np.float32)
    z = Tensor(logits, requires_grad=True)
    F.cross_entropy(z, np.array([2, 1]), reduction="sum").backward()
    e = np.exp(logits)
    np.testing.assert_allclose(z.grad, e / e.sum(1, keepdims=True) - np.eye(3)[[2, 1]],
                               rtol=1e-6)
    assert z.grad.dtype == np.float32


LOSS_ERRORS = [
    (lambda z: F.cross_entropy(z, np.array([0, 3])), "target values must be in [0, 3)"),
    (lambda z: F.cross_entropy(z, np.array([0, 1, 2])), "needs a target of shape (2,)"),
    (lambda z: F.cross_entropy(z, np.array([0, 1]), reduction="avg"), "reduction='avg'"),
    (lambda z: F.cross_entropy(z, np.array([0, 1]), np.ones(2)), "weight must have shape (3,)"),
    (lambda z: F.cross_entropy(z, np.array([0, 1]), label_smoothing=1.5), "label_smoothing=1.5"),
    (lambda z: F.cross_entropy(z, np.ones((2, 2)) / 2), "probability targets must have"),
    (lambda z: F.cross_entropy(z, np.ones((2, 3)) / 3, ignore_index=0), "ignore_index=0"),
    (lambda z: F.cross_entropy(z, np.array(["a", "b"])), "integer class indices or floating"),
    (lambda z: F.nll_loss(z, np.array([0.0, 1.0])), "integer class indices"),
]


@pytest.mark.parametrize("call, message", LOSS_ERRORS)
def test_losses_reject_bad_arguments_with_the_constraint(call, message):
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        call(Tensor(np.zeros((2, 3))))


# ------------------------------------------------------------------ dropout, linear
def test_dropout_is_the_identity_when_not_training():
    x = Tensor(np.arange(5.0), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0, training=True) is x


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_scales_kept_elements_by_one_over_keep_probability(p):
    x = Tensor(np.ones(200_000, dtype=np.float32), requires_grad=True)
    y = F.dropout(x, p, training=True, rng=np.random.default_rng(0))
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 1 / (1 - p), rtol=1e-6)
    # fraction dropped ~ p: binomial standard deviation sqrt(p(1-p)/n) < 0.0012
    assert abs((~kept).mean() - p) < 0.006
    y.sum().backward()                        # dy/dx = m / (1 - p)
    np.testing.assert_array_equal(x.grad, y.data)


def test_dropout_p_one_zeroes_everything_and_bad_p_raises():
    y = F.dropout(Tensor(np.ones(10)), 1.0, training=True, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(y.data, np.zeros(10))
    with pytest.raises(ValueError, match=r"p=1.5 must be in \[0, 1\]"):
        F.dropout(Tensor(np.ones(3)), 1.5)


def test_dropout_draws_from_the_default_generator_without_rng():
    state = mt_random.get_state()
    try:
        mt_random.manual_seed(123)
        a = F.dropout(Tensor(np.ones(50)), 0.5).data
        mt_random.manual_seed(123)
        b = F.dropout(Tensor(np.ones(50)), 0.5).data
        c = F.dropout(Tensor(np.ones(50)), 0.5).data
    finally:
        mt_random.set_state(state)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


@FAST
@given(batch=shapes(min_dims=0, max_dims=2), n_in=st.integers(1, 4), n_out=st.integers(1, 4),
       seed=seeds(), with_bias=st.booleans())
def test_linear_matches_numpy_and_gradchecks(batch, n_in, n_out, seed, with_bias):
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(batch + (n_in,)), rng.standard_normal((n_out, n_in)),
               rng.standard_normal(n_out))
    expected = x @ w.T + (b if with_bias else 0)
    got = F.linear(Tensor(x), Tensor(w), Tensor(b) if with_bias else None)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-12)
    if with_bias:
        gradcheck(F.linear, [x, w, b], name="linear")
    else:
        gradcheck(F.linear, [x, w], name="linear")


def test_linear_rejects_mismatched_features():
    with pytest.raises(ValueError, match=r"shape \(2, 5\).*\(3, 4\) expects 4"):
        F.linear(Tensor(np.ones((2, 5))), Tensor(np.ones((3, 4))))


# ------------------------------------------------------------------ layers: Module -> F -> Function
def test_every_layer_has_its_functional_form_with_torchs_signature():
    """F holds the functional form of every layer, under torch.nn.functional's name, argument
    names and defaults (the hand-written-backward families are the functions of their files)."""
    import inspect

    from minitorch_ser.nn import conv, norm, pool, recurrent
    assert (F.conv2d, F.max_pool2d, F.avg_pool2d, F.batch_norm, F.layer_norm, F.lstm) == (
        conv.conv2d, pool.max_pool2d, pool.avg_pool2d, norm.batch_norm, norm.layer_norm,
        recurrent.lstm)
    expected = {
        "conv2d": "(input, weight, bias=None, stride=1, padding=0)",
        "max_pool2d": "(input, kernel_size, stride=None, padding=0)",
        "avg_pool2d": "(input, kernel_size, stride=None, padding=0)",
        "batch_norm": "(input, running_mean, running_var, weight=None, bias=None, "
                      "training=False, momentum=0.1, eps=1e-05)",
        "layer_norm": "(input, normalized_shape, weight=None, bias=None, eps=1e-05)",
        "scaled_dot_product_attention": "(query, key, value, attn_mask=None, dropout_p=0.0, "
                                        "is_causal=False, scale=None, rng=None, "
                                        "return_weights=False)",
        "adaptive_avg_pool2d": "(input, output_size)",
        "linear": "(input, weight, bias=None)",
        "dropout": "(input, p=0.5, training=True, rng=None)",
        "softmax": "(input, dim=-1)",
        "relu": "(input)",
    }
    for name, signature in expected.items():
        sig = inspect.signature(getattr(F, name)).replace(return_annotation=inspect.Signature.empty)
        plain = sig.replace(parameters=[p.replace(annotation=inspect.Parameter.empty)
                                        for p in sig.parameters.values()])
        assert str(plain) == signature, name
        if len(sig.parameters) > 1:                  # documented as numpydoc
            assert "Parameters\n    ----------" in getattr(F, name).__doc__, name
    assert set(expected) <= set(F.__all__)


def _outputs_and_grads(fn, arrays, params=()):
    """fn's output and the gradients of its inputs and of ``params`` for a fixed cotangent."""
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    for p in params:
        p.grad = None
    out = fn(*tensors)
    out.backward(np.random.default_rng(99).standard_normal(out.shape))
    return [out.data] + [t.grad for t in tensors] + [p.grad.copy() for p in params]


def _same(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def _float64(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def test_conv_and_pool_modules_equal_their_functional_forms():
    from minitorch_ser.nn import AdaptiveAvgPool2d, AvgPool2d, Conv2d, GlobalAvgPool1d, MaxPool2d
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    conv = _float64(Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 2), rng=rng))
    params = [conv.weight, conv.bias]
    _same(_outputs_and_grads(conv, [x], params),
          _outputs_and_grads(lambda t: F.conv2d(t, conv.weight, conv.bias, stride=(2, 1),
                                                padding=(1, 2)), [x], params))
    for module, functional in (
            (MaxPool2d((2, 3), stride=(1, 2), padding=1),
             lambda t: F.max_pool2d(t, (2, 3), stride=(1, 2), padding=1)),
            (AvgPool2d(3, stride=2, padding=1), lambda t: F.avg_pool2d(t, 3, 2, 1)),
            (AdaptiveAvgPool2d((3, None)), lambda t: F.adaptive_avg_pool2d(t, (3, None)))):
        _same(_outputs_and_grads(module, [x]), _outputs_and_grads(functional, [x]))
    seq = rng.standard_normal((2, 5, 3))
    _same(_outputs_and_grads(GlobalAvgPool1d(), [seq]),
          _outputs_and_grads(lambda t: F.global_avg_pool(t, 1), [seq]))


@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                        ("BatchNorm2d", (2, 3, 4, 5))])
def test_batchnorm_module_equals_functional_form_in_both_modes(cls, shape):
    from minitorch_ser import nn
    rng = np.random.default_rng(1)
    layer = _float64(getattr(nn, cls)(3, eps=1e-3, momentum=0.2))
    layer.weight.data[:] = rng.standard_normal(3)
    layer.bias.data[:] = rng.standard_normal(3)
    x = rng.normal(1.0, 2.0, size=shape)
    mean, var = layer.running_mean.astype(np.float64), layer.running_var.astype(np.float64)
    params = [layer.weight, layer.bias]
    got = _outputs_and_grads(layer, [x], params)                     # training mode
    want = _outputs_and_grads(lambda t: F.batch_norm(t, mean, var, layer.weight, layer.bias,
                                                     training=True, momentum=0.2, eps=1e-3),
                              [x], params)
    _same(got, want)
    np.testing.assert_allclose(layer.running_mean, mean.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(layer.running_var, var.astype(np.float32), rtol=1e-6)
    assert np.abs(mean).max() > 0                                    # updated by both
    layer.eval()
    rm, rv = layer.running_mean, layer.running_var
    _same(_outputs_and_grads(layer, [x], params),
          _outputs_and_grads(lambda t: F.batch_norm(t, rm, rv, layer.weight, layer.bias,
                                                    training=False, eps=1e-3), [x], params))


def test_layernorm_module_equals_functional_form():
    from minitorch_ser.nn import LayerNorm
    rng = np.random.default_rng(2)
    layer = _float64(LayerNorm((3, 4), eps=1e-3))
    layer.weight.data[:] = rng.standard_normal((3, 4))
    layer.bias.data[:] = rng.standard_normal((3, 4))
    x = rng.standard_normal((2, 3, 4))
    params = [layer.weight, layer.bias]
    _same(_outputs_and_grads(layer, [x], params),
          _outputs_and_grads(lambda t: F.layer_norm(t, (3, 4), layer.weight, layer.bias, 1e-3),
                             [x], params))


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_modules_equal_their_functional_forms(mode, batch_first):
    from minitorch_ser.nn import GRU, LSTM
    rng = np.random.default_rng(3)
    cls, fn = (LSTM, F.lstm) if mode == "LSTM" else (GRU, F.gru)
    layer = _float64(cls(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first,
                         rng=rng))
    x = rng.standard_normal((5, 2, 3))
    names = [n for n, _ in layer.named_parameters()]
    groups = [tuple(getattr(layer, n) for n in names[i:i + 4]) for i in range(0, 16, 4)]
    params = list(layer.parameters())
    _same(_outputs_and_grads(lambda t: layer(t)[0], [x], params),
          _outputs_and_grads(lambda t: fn(t, None, groups, bidirectional=True,
                                          batch_first=batch_first)[0], [x], params))


def test_linear_dropout_activations_modules_equal_their_functional_forms():
    from minitorch_ser.nn import Dropout, Linear, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5))
    linear = Linear(5, 2, rng=rng, dtype=np.float64)
    params = [linear.weight, linear.bias]
    _same(_outputs_and_grads(linear, [x], params),
          _outputs_and_grads(lambda t: F.linear(t, linear.weight, linear.bias), [x], params))
    _same(_outputs_and_grads(Dropout(0.3, rng=np.random.default_rng(5)), [x]),
          _outputs_and_grads(lambda t: F.dropout(t, 0.3, True, np.random.default_rng(5)), [x]))
    for module, functional in ((ReLU(), F.relu), (Tanh(), F.tanh), (Sigmoid(), F.sigmoid),
                               (Softmax(0), lambda t: F.softmax(t, 0)),
                               (LogSoftmax(), F.log_softmax)):
        _same(_outputs_and_grads(module, [x]), _outputs_and_grads(functional, [x]))


def test_multihead_attention_is_projections_around_scaled_dot_product_attention():
    """MultiheadAttention == F.linear projections, heads split, F.scaled_dot_product_attention,
    heads merged, F.linear output projection."""
    from minitorch_ser.nn import MultiheadAttention
    rng = np.random.default_rng(6)
    E, h, N, L, S = 6, 3, 2, 4, 5
    layer = _float64(MultiheadAttention(E, h, batch_first=True, rng=rng))
    layer.in_proj_bias.data[:] = rng.standard_normal(3 * E)
    q, kv = rng.standard_normal((N, L, E)), rng.standard_normal((N, S, E))
    W, b = layer.in_proj_weight, layer.in_proj_bias

    def composed(q, k, v):
        heads = [F.linear(x, W[i * E:(i + 1) * E], b[i * E:(i + 1) * E])
                 .reshape(x.shape[0], x.shape[1], h, E // h).permute(0, 2, 1, 3)
                 for i, x in enumerate((q, k, v))]                    # (N, h, T, d) each
        out = F.scaled_dot_product_attention(*heads)                  # (N, h, L, d)
        merged = out.permute(0, 2, 1, 3).reshape(N, L, E)
        return F.linear(merged, layer.out_proj.weight, layer.out_proj.bias)

    got, _ = layer(Tensor(q), Tensor(kv), Tensor(kv))
    np.testing.assert_allclose(got.data, composed(Tensor(q), Tensor(kv), Tensor(kv)).data,
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("module_name, function_name, make, shape", [
    ("conv", "conv2d", lambda nn: nn.Conv2d(2, 3, 3), (1, 2, 4, 4)),
    ("pool", "max_pool2d", lambda nn: nn.MaxPool2d(2), (1, 2, 4, 4)),
    ("pool", "avg_pool2d", lambda nn: nn.AvgPool2d(2), (1, 2, 4, 4)),
    ("pool", "adaptive_avg_pool2d", lambda nn: nn.AdaptiveAvgPool2d(1), (1, 2, 4, 4)),
    ("pool", "global_avg_pool", lambda nn: nn.GlobalAvgPool1d(), (1, 3, 2)),
    ("norm", "batch_norm", lambda nn: nn.BatchNorm2d(2), (2, 2, 3, 3)),
    ("norm", "layer_norm", lambda nn: nn.LayerNorm(4), (2, 4)),
    ("recurrent", "lstm", lambda nn: nn.LSTM(2, 3), (4, 1, 2)),
    ("recurrent", "gru", lambda nn: nn.GRU(2, 3), (4, 1, 2)),
    ("attention", "scaled_dot_product_attention", lambda nn: nn.MultiheadAttention(4, 2),
     (3, 1, 4)),
])
def test_each_module_forward_goes_through_its_functional_form(monkeypatch, module_name,
                                                              function_name, make, shape):
    """One way to write a layer: Module.forward calls the functional form (counted here)."""
    import importlib

    from minitorch_ser import nn
    owner = importlib.import_module(f"minitorch_ser.nn.{module_name}")
    original = getattr(owner, function_name)
    calls = []

    def spy(*args, **kwargs):
        calls.append(function_name)
        return original(*args, **kwargs)
    monkeypatch.setattr(owner, function_name, spy)
    layer = make(nn)
    x = Tensor(np.random.default_rng(7).standard_normal(shape).astype(np.float32))
    layer(x, x, x) if module_name == "attention" else layer(x)
    assert calls == [function_name]
