"""BatchNorm1d / BatchNorm2d / LayerNorm: outputs and running statistics against the
formulas written out here, the backward passes against Ioffe & Szegedy's per-element
equations, float64 gradcheck in train and eval mode over drawn shapes, PyTorch-layout state
dicts, reset_running_stats, and the error messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser import Tensor, gradcheck, no_grad
from minitorch_ser.nn.norm import (BatchNorm1d, BatchNorm2d, LayerNorm, batch_norm,
                                   layer_norm)

EPS = 1e-5


def bn_formula(x, mean, var, gamma, beta, eps=EPS):
    """y = gamma (x - mean) / sqrt(var + eps) + beta, per channel (axis 1)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (gamma.reshape(shape) * (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
            + beta.reshape(shape))


def batch_statistics(x):
    """Per-channel mean, biased and unbiased variance over the batch and the positions."""
    per_channel = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)  # (C, N * positions)
    return per_channel.mean(axis=1), per_channel.var(axis=1), per_channel.var(axis=1, ddof=1)


def normalization_backward_textbook(values, dys, gamma, eps, stats=None):
    """Ioffe & Szegedy (2015), section 3, backpropagation through one normalised group of m
    values, element by element (Python floats)::

        dxhat_i = dy_i gamma
        dvar    = sum_i dxhat_i (x_i - mu) (-1/2) (var + eps)^(-3/2)
        dmu     = sum_i dxhat_i (-1 / sqrt(var + eps)) + dvar sum_i (-2 (x_i - mu)) / m
        dx_i    = dxhat_i / sqrt(var + eps) + dvar 2 (x_i - mu) / m + dmu / m
        dgamma  = sum_i dy_i xhat_i,   dbeta = sum_i dy_i

    ``stats=(mu, var)`` given (running statistics, eval mode): constants, so
    ``dx_i = dxhat_i / sqrt(var + eps)``. Returns (dx list, dgamma, dbeta).
    """
    m = len(values)
    if stats is None:
        mu = sum(values) / m
        var = sum((v - mu) ** 2 for v in values) / m
    else:
        mu, var = stats
    std = (var + eps) ** 0.5
    dxhat = [dy * gamma for dy in dys]
    dgamma = sum(dy * (v - mu) / std for dy, v in zip(dys, values))
    dbeta = sum(dys)
    if stats is not None:
        return [d / std for d in dxhat], dgamma, dbeta
    dvar = sum(d * (v - mu) for d, v in zip(dxhat, values)) * -0.5 * (var + eps) ** -1.5
    dmu = sum(-d / std for d in dxhat) + dvar * sum(-2.0 * (v - mu) for v in values) / m
    dx = [d / std + dvar * 2.0 * (v - mu) / m + dmu / m for d, v in zip(dxhat, values)]
    return dx, dgamma, dbeta


def batch_norm_backward_textbook(x, g, gamma, eps, running=None):
    """The textbook formula per channel of x : (N, C, ...), over its N * positions values."""
    C = x.shape[1]
    xs, gs = np.moveaxis(x, 1, 0).reshape(C, -1), np.moveaxis(g, 1, 0).reshape(C, -1)
    dx, dgamma, dbeta = np.zeros_like(xs), np.zeros(C), np.zeros(C)
    for c in range(C):
        stats = None if running is None else (running[0][c], running[1][c])
        d, dgamma[c], dbeta[c] = normalization_backward_textbook(
            list(xs[c]), list(gs[c]), gamma[c], eps, stats)
        dx[c] = d
    dx = np.moveaxis(dx.reshape((C, x.shape[0]) + x.shape[2:]), 0, 1)
    return dx, dgamma, dbeta


# ============================================================================ BatchNorm values
@pytest.mark.parametrize("layer_cls, shape", [(BatchNorm1d, (6, 3)), (BatchNorm1d, (4, 3, 5)),
                                              (BatchNorm2d, (2, 3, 4, 5))])
def test_batchnorm_train_eval_and_running_statistics(layer_cls, shape):
    """Five training steps: outputs with batch statistics, running averages with momentum
    0.1 and the unbiased variance; then eval mode with the running statistics."""
    rng = np.random.default_rng(0)
    layer = layer_cls(3)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    layer.weight.data[:] = gamma
    layer.bias.data[:] = beta
    running_mean, running_var = np.zeros(3), np.ones(3)
    for step in range(1, 6):
        x = rng.normal(2.0, 3.0, size=shape).astype(np.float32)
        y = layer(Tensor(x))
        mean, var_biased, var_unbiased = batch_statistics(x.astype(np.float64))
        np.testing.assert_allclose(y.data, bn_formula(x, mean, var_biased, gamma, beta),
                                   rtol=1e-4, atol=1e-4)
        running_mean = 0.9 * running_mean + 0.1 * mean
        running_var = 0.9 * running_var + 0.1 * var_unbiased
        np.testing.assert_allclose(layer.running_mean, running_mean, rtol=1e-5)
        np.testing.assert_allclose(layer.running_var, running_var, rtol=1e-5)
        assert layer.num_batches_tracked == step
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float32
    assert layer.num_batches_tracked.dtype == np.int64 and layer.num_batches_tracked.shape == ()

    layer.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer(Tensor(x))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, bn_formula(x, running_mean, running_var, gamma, beta),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.running_mean, running_mean, rtol=1e-5)  # untouched
    assert layer.num_batches_tracked == 5


def test_momentum_none_is_the_cumulative_average():
    rng = np.random.default_rng(1)
    layer = BatchNorm1d(2, momentum=None)
    batches = [rng.normal(k, 1.0, size=(8, 2)) for k in range(4)]
    for x in batches:
        layer(Tensor(x))
    means = [batch_statistics(x)[0] for x in batches]
    unbiased = [batch_statistics(x)[2] for x in batches]
    np.testing.assert_allclose(layer.running_mean, np.mean(means, axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.running_var, np.mean(unbiased, axis=0), rtol=1e-5)


def test_running_statistics_update_under_no_grad_in_train_mode():
    layer = BatchNorm1d(2)
    x = np.random.default_rng(2).normal(5.0, 1.0, size=(10, 2))
    with no_grad():
        layer(Tensor(x))
    np.testing.assert_allclose(layer.running_mean, 0.1 * x.mean(axis=0), rtol=1e-5)


def test_without_running_stats_eval_uses_the_batch():
    layer = BatchNorm2d(3, affine=False, track_running_stats=False).eval()
    assert layer.state_dict() == {}
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4))
    mean, var, _ = batch_statistics(x)
    np.testing.assert_allclose(layer(Tensor(x)).data,
                               bn_formula(x, mean, var, np.ones(3), np.zeros(3)), rtol=1e-10)


# ============================================================================ BatchNorm gradients
@st.composite
def bn_cases(draw):
    rank = draw(st.sampled_from([2, 3, 4]))
    channels = draw(st.integers(1, 3))
    shape = (draw(st.integers(2, 4)), channels) + tuple(draw(st.integers(1, 3)) for _ in range(rank - 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return (rng.normal(1.0, 2.0, size=shape), rng.standard_normal(channels),
            rng.standard_normal(channels), draw(st.booleans()))


@settings(max_examples=40, deadline=None)
@given(bn_cases())
def test_gradcheck_batchnorm_train_and_eval(case):
    x, gamma, beta, affine = case
    running_mean = np.random.default_rng(4).standard_normal(x.shape[1])
    running_var = np.random.default_rng(5).random(x.shape[1]) + 0.5
    if affine:
        gradcheck(lambda t, g, b: batch_norm(t, None, None, g, b, training=True),
                  [x, gamma, beta], name="batch_norm train")
        gradcheck(lambda t, g, b: batch_norm(t, running_mean, running_var, g, b, training=False),
                  [x, gamma, beta], name="batch_norm eval")
    else:
        gradcheck(lambda t: batch_norm(t, None, None, training=True), [x], name="batch_norm train")
        gradcheck(lambda t: batch_norm(t, running_mean, running_var, training=False), [x],
                  name="batch_norm eval")


@settings(max_examples=40, deadline=None)
@given(bn_cases(), st.sampled_from(["both", "weight", "bias", "none"]), st.booleans())
def test_batchnorm_backward_matches_textbook_formula(case, affine, training):
    """dx, dgamma, dbeta of BatchNormFunction against Ioffe & Szegedy's per-element
    equations, with batch statistics (training) or running ones (eval)."""
    x, gamma, beta, _ = case
    C = x.shape[1]
    rng = np.random.default_rng(x.size)
    running = (rng.standard_normal(C), rng.random(C) + 0.5)
    weight = Tensor(gamma, requires_grad=True) if affine in ("both", "weight") else None
    bias = Tensor(beta, requires_grad=True) if affine in ("both", "bias") else None
    xt = Tensor(x, requires_grad=True)
    stats = (None, None) if training else running
    y = batch_norm(xt, *stats, weight, bias, training=training, eps=1e-3)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    dx, dgamma, dbeta = batch_norm_backward_textbook(
        x, g, gamma if weight is not None else np.ones(C), 1e-3, None if training else running)
    np.testing.assert_allclose(xt.grad, dx, rtol=1e-10, atol=1e-12, err_msg="dx")
    if weight is not None:
        np.testing.assert_allclose(weight.grad, dgamma, rtol=1e-10, atol=1e-12, err_msg="dgamma")
    if bias is not None:
        np.testing.assert_allclose(bias.grad, dbeta, rtol=1e-10, atol=1e-12, err_msg="dbeta")


@pytest.mark.parametrize("cls, shape", [(BatchNorm1d, (5, 3)), (BatchNorm1d, (3, 3, 4)),
                                        (BatchNorm2d, (2, 3, 3, 4))])
def test_batchnorm_modules_backward_match_textbook_formula(cls, shape):
    """The modules in training mode (batch statistics) and in eval mode (running ones)."""
    rng = np.random.default_rng(10)
    layer = cls(3, eps=1e-3)
    for p in layer.parameters():
        p.data = rng.standard_normal(3)
    for training in (True, False):
        layer.train(training)
        running = (layer.running_mean.astype(np.float64), layer.running_var.astype(np.float64))
        x = Tensor(rng.normal(1.0, 2.0, size=shape), requires_grad=True)
        layer.zero_grad()
        y = layer(x)
        g = rng.standard_normal(shape)
        y.backward(g)
        dx, dgamma, dbeta = batch_norm_backward_textbook(
            x.data, g, layer.weight.data, 1e-3, None if training else running)
        np.testing.assert_allclose(x.grad, dx, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.weight.grad, dgamma, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.bias.grad, dbeta, rtol=1e-10, atol=1e-12)


def test_gradcheck_batchnorm_modules_with_a_single_position_per_sample():
    """BatchNorm1d on (N, C) has n = N per channel; a weight without a bias still works."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 4))
    gradcheck(lambda t, g: batch_norm(t, None, None, g, None, training=True),
              [x, rng.standard_normal(4)], name="batch_norm weight only")
    layer = BatchNorm1d(4)
    gradcheck(lambda t: layer(t), [x], name="BatchNorm1d module")


# ============================================================================ LayerNorm
def ln_formula(x, ndim, gamma, beta, eps=EPS):
    axes = tuple(range(x.ndim - ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


@st.composite
def ln_cases(draw):
    ndim = draw(st.integers(1, 2))
    lead = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 2))))
    normalized = tuple(draw(st.integers(2, 4)) for _ in range(ndim))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return (rng.normal(0.5, 2.0, size=lead + normalized), normalized,
            rng.standard_normal(normalized), rng.standard_normal(normalized),
            draw(st.sampled_from(["both", "weight", "none"])))


@settings(max_examples=40, deadline=None)
@given(ln_cases())
def test_layernorm_formula_and_gradcheck(case):
    x, normalized, gamma, beta, affine = case
    weight = gamma if affine != "none" else None
    bias = beta if affine == "both" else None
    got = layer_norm(Tensor(x), normalized, None if weight is None else Tensor(weight),
                     None if bias is None else Tensor(bias)).data
    want = ln_formula(x, len(normalized), 1.0 if weight is None else weight,
                      0.0 if bias is None else bias)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    params = [p for p in (weight, bias) if p is not None]
    gradcheck(lambda t, *p: layer_norm(t, normalized, *p), [x] + params, name="layer_norm")


@settings(max_examples=40, deadline=None)
@given(ln_cases())
def test_layernorm_backward_matches_textbook_formula(case):
    """dx, dgamma, dbeta of LayerNormFunction: the per-element formula once per row (one
    sample and position), over the normalised axes; dgamma, dbeta summed over rows."""
    x, normalized, gamma, beta, affine = case
    xt = Tensor(x, requires_grad=True)
    weight = Tensor(gamma, requires_grad=True) if affine != "none" else None
    bias = Tensor(beta, requires_grad=True) if affine == "both" else None
    y = layer_norm(xt, normalized, weight, bias, eps=1e-3)
    g = np.random.default_rng(x.size).standard_normal(y.shape)
    y.backward(g)
    features = int(np.prod(normalized))
    rows, grows = x.reshape(-1, features), g.reshape(-1, features)
    gamma_flat = gamma.reshape(-1) if weight is not None else np.ones(features)
    dx, dgamma, dbeta = np.zeros_like(rows), np.zeros(features), np.zeros(features)
    for k in range(rows.shape[0]):
        # dxhat_i = dy_i gamma_i: gamma varies over the group, so fold it into dy and pass 1
        d, _, _ = normalization_backward_textbook(list(rows[k]), list(grows[k] * gamma_flat),
                                                  1.0, 1e-3)
        dx[k] = d
        mu, var = rows[k].mean(), rows[k].var()
        for i in range(features):
            dgamma[i] += grows[k, i] * (rows[k, i] - mu) / (var + 1e-3) ** 0.5
            dbeta[i] += grows[k, i]
    np.testing.assert_allclose(xt.grad, dx.reshape(x.shape), rtol=1e-10, atol=1e-12)
    if weight is not None:
        np.testing.assert_allclose(weight.grad, dgamma.reshape(normalized), rtol=1e-10,
                                   atol=1e-12)
    if bias is not None:
        np.testing.assert_allclose(bias.grad, dbeta.reshape(normalized), rtol=1e-10, atol=1e-12)


def test_layernorm_module_float32_and_flags():
    layer = LayerNorm(8)
    x = np.random.default_rng(7).standard_normal((2, 5, 8)).astype(np.float32)
    y = layer(Tensor(x))
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y.data, ln_formula(x.astype(np.float64), 1, 1.0, 0.0), atol=1e-5)
    assert list(LayerNorm((4, 8), bias=False).state_dict()) == ["weight"]
    assert LayerNorm(8, elementwise_affine=False).state_dict() == {}


# ============================================================================ state dicts
@pytest.mark.parametrize("layer, expected", [
    (BatchNorm1d(16), {"weight": ((16,), np.float32), "bias": ((16,), np.float32),
                       "running_mean": ((16,), np.float32), "running_var": ((16,), np.float32),
                       "num_batches_tracked": ((), np.int64)}),
    (BatchNorm2d(64), {"weight": ((64,), np.float32), "bias": ((64,), np.float32),
                       "running_mean": ((64,), np.float32), "running_var": ((64,), np.float32),
                       "num_batches_tracked": ((), np.int64)}),
    (LayerNorm(256), {"weight": ((256,), np.float32), "bias": ((256,), np.float32)}),
])
def test_pytorch_state_dict_loads_strictly(layer, expected):
    """The keys, shapes and dtypes of torch's state_dict (converted with .numpy()) load with
    strict=True and land in the right parameters and buffers."""
    sd = layer.state_dict()
    assert {k: (v.shape, v.dtype) for k, v in sd.items()} == expected
    rng = np.random.default_rng(8)
    torch_like = {k: (np.array(37, dtype=np.int64) if dtype == np.int64
                      else rng.random(shape).astype(np.float32))
                  for k, (shape, dtype) in expected.items()}
    layer.load_state_dict(torch_like, strict=True)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, torch_like[k])
        assert v.dtype == torch_like[k].dtype
    with pytest.raises(ValueError, match="missing keys: bias"):
        layer.load_state_dict({k: v for k, v in torch_like.items() if k != "bias"}, strict=True)


# ============================================================================ bad input
@pytest.mark.parametrize("layer, shape, match", [
    (BatchNorm1d(3), (4, 5), r"BatchNorm1d: expected input of shape \(N, 3\) or \(N, 3, L\), got shape \(4, 5\)"),
    (BatchNorm1d(3), (2, 3, 4, 5), r"BatchNorm1d: expected input .* got shape \(2, 3, 4, 5\)"),
    (BatchNorm2d(3), (2, 3, 4), r"BatchNorm2d: expected input of shape \(N, 3, H, W\), got shape \(2, 3, 4\)"),
    (BatchNorm2d(3), (2, 4, 4, 4), r"BatchNorm2d: expected input .* got shape \(2, 4, 4, 4\)"),
    (LayerNorm((4, 8)), (2, 8, 4), r"LayerNorm: expected input of shape \(\*, 4, 8\), got shape \(2, 8, 4\)"),
    (LayerNorm(8), (), r"LayerNorm: expected input of shape \(\*, 8\), got shape \(\)"),
])
def test_bad_input_raises_naming_layer_and_shapes(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        layer(Tensor(np.zeros(shape)))


def test_training_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(Tensor(np.zeros((1, 3))))
    assert BatchNorm1d(3).eval()(Tensor(np.zeros((1, 3)))).shape == (1, 3)


@pytest.mark.parametrize("make, match", [
    (lambda: BatchNorm2d(0), "BatchNorm2d: num_features=0 must be an int >= 1"),
    (lambda: BatchNorm1d(3, momentum=1.5), "BatchNorm1d: momentum=1.5 must be in"),
    (lambda: BatchNorm1d(3, eps=0), "BatchNorm1d: eps=0 must be > 0"),
    (lambda: LayerNorm(()), r"LayerNorm: normalized_shape=\(\) must be"),
    (lambda: LayerNorm(8, eps=-1), "LayerNorm: eps=-1 must be > 0"),
])
def test_bad_arguments_raise_naming_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_reset_running_stats_forgets_the_statistics_but_not_the_affine_map():
    rng = np.random.default_rng(9)
    layer = BatchNorm2d(3)
    layer.weight.data[:] = rng.standard_normal(3)
    for _ in range(3):
        layer(Tensor(rng.normal(4.0, 2.0, size=(2, 3, 4, 4))))
    assert layer.num_batches_tracked == 3 and np.abs(layer.running_mean).min() > 0.5
    gamma = layer.weight.data.copy()
    layer.reset_running_stats()
    np.testing.assert_array_equal(layer.running_mean, np.zeros(3, np.float32))
    np.testing.assert_array_equal(layer.running_var, np.ones(3, np.float32))
    assert layer.num_batches_tracked == 0 and layer.num_batches_tracked.dtype == np.int64
    np.testing.assert_array_equal(layer.weight.data, gamma)
    assert layer.running_mean.dtype == np.float32
    # momentum=None averages from scratch again: the next batch's statistics exactly
    cumulative = BatchNorm1d(2, momentum=None)
    cumulative(Tensor(rng.normal(9.0, 1.0, size=(8, 2))))
    cumulative.reset_running_stats()
    x = rng.normal(-3.0, 1.0, size=(8, 2))
    cumulative(Tensor(x))
    np.testing.assert_allclose(cumulative.running_mean, x.mean(axis=0), rtol=1e-5)
    BatchNorm1d(2, track_running_stats=False).reset_running_stats()     # nothing to reset
