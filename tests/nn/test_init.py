"""nn.init: the fans, gains and bounds of PyTorch's definitions, orthogonality, dtype and
seeding; each fill checked on enough draws that a wrong bound or distribution fails."""

import math

import numpy as np
import pytest

from minitorch_ser.autograd import random as mt_random
from minitorch_ser.nn import init
from minitorch_ser.nn.module import Parameter


def _param(*shape, dtype=np.float32):
    return Parameter(np.full(shape, 7.0, dtype=dtype))


@pytest.mark.parametrize("shape, fans", [((3, 5), (5, 3)), ((8, 3, 5, 3), (45, 120)),
                                         ((4, 2, 7), (14, 28))])
def test_fans_of_linear_and_conv_weights(shape, fans):
    assert init.calculate_fan_in_and_fan_out(shape) == fans
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(4,\)"):
        init.calculate_fan_in_and_fan_out((4,))


def test_gains_are_torchs():
    assert init.calculate_gain("linear") == init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="unknown nonlinearity 'selu'"):
        init.calculate_gain("selu")


def _check_uniform(values, low, high):
    """Inside [low, high], reaching both ends, with the mean and variance of U(low, high)."""
    assert values.min() >= low and values.max() <= high
    width = high - low
    assert values.min() < low + 0.01 * width and values.max() > high - 0.01 * width
    assert abs(values.mean() - (low + high) / 2) < 0.02 * width
    np.testing.assert_allclose(values.var(), width ** 2 / 12, rtol=0.05)


def test_uniform_and_zeros_fill_in_place_keeping_dtype():
    p = _param(100, 60)
    assert init.uniform_(p, -0.3, 0.5, rng=np.random.default_rng(0)) is p
    assert p.dtype == np.float32
    _check_uniform(p.data, -0.3, 0.5)
    assert init.zeros_(p) is p and not p.data.any() and p.dtype == np.float32


@pytest.mark.parametrize("shape", [(300, 200), (64, 16, 5, 3)])
def test_kaiming_uniform_bounds(shape):
    fan_in, fan_out = init.calculate_fan_in_and_fan_out(shape)
    p = _param(*shape)
    init.kaiming_uniform_(p, a=math.sqrt(5), rng=np.random.default_rng(1))
    _check_uniform(p.data, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))   # torch's default
    init.kaiming_uniform_(p, mode="fan_out", nonlinearity="relu", rng=np.random.default_rng(2))
    bound = math.sqrt(2) * math.sqrt(3 / fan_out)
    _check_uniform(p.data, -bound, bound)


@pytest.mark.parametrize("shape", [(300, 200), (64, 16, 5, 3)])
def test_xavier_uniform_bound(shape):
    fan_in, fan_out = init.calculate_fan_in_and_fan_out(shape)
    p = _param(*shape)
    init.xavier_uniform_(p, gain=2.0, rng=np.random.default_rng(3))
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    _check_uniform(p.data, -bound, bound)


@pytest.mark.parametrize("shape", [(12, 4), (4, 12), (6, 2, 3)])
def test_orthogonal_has_orthonormal_columns_or_rows(shape):
    p = _param(*shape, dtype=np.float64)
    init.orthogonal_(p, gain=1.5, rng=np.random.default_rng(4))
    m = p.data.reshape(shape[0], -1)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 1.5 ** 2 * np.eye(min(m.shape)), atol=1e-12)


def test_default_generator_makes_draws_repeatable():
    state = mt_random.get_state()
    try:
        draws = []
        for seed in (5, 5, 6):
            mt_random.manual_seed(seed)
            a, b = _param(20, 30), _param(30, 30)
            init.xavier_uniform_(a)
            init.orthogonal_(b)
            draws.append((a.data.copy(), b.data.copy()))
    finally:
        mt_random.set_state(state)
    for x, y in zip(draws[0], draws[1]):          # same seed: same weights
        np.testing.assert_array_equal(x, y)
    for x, y in zip(draws[0], draws[2]):          # another seed: other weights
        assert not np.array_equal(x, y)
