"""Hand-written backwards of ``autograd/ops.py`` against the loop form of their equations.

gradcheck (test_ops.py) compares each backward with central differences, within 1e-4
relative. The oracles here are independent of both: they write the Jacobian of each op element
by element from its definition, in float64 Python loops, and contract it with a random output
gradient ``g``: ``da_i = sum_j g_j d out_j / d a_i``. They agree with the engine to 1e-12, so a
backward that is off by a fraction of a percent (a dropped term, a wrong normalisation) fails
here with the element named.

The ops covered are those whose backward is a fused formula rather than one chain-rule step:
softmax, log-softmax, variance (mean, square and sum in one), max (ties share the gradient),
batched matmul with broadcast batch axes and 1-D operands, and integer-array indexing with
repeated indices (scatter-add).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from minitorch_ser.autograd.tensor import Tensor

RTOL = ATOL = 1e-12


def engine_gradients(fn, arrays, g):
    """Gradients of ``sum(fn(*arrays) * g)`` with respect to each array, from backward."""
    tensors = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    assert out.shape == g.shape, (out.shape, g.shape)
    (out * Tensor(g)).sum().backward()
    return [t.grad for t in tensors], out.data


def assert_close(got, expected, what):
    """Name the first element that differs, with both values."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} vs oracle {expected.shape}"
    bad = ~np.isclose(got, expected, rtol=RTOL, atol=ATOL)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(f"{what}: element {where}: engine {float(got[where])!r} vs oracle "
                             f"{float(expected[where])!r} ({int(bad.sum())} of {bad.size} differ)")


def slices_along(shape, axis):
    """Index tuples selecting each 1-D slice of an array of ``shape`` along ``axis``."""
    others = [range(n) if d != axis else [slice(None)] for d, n in enumerate(shape)]
    return list(itertools.product(*others))


CASES_AXIS = [((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)]


# ------------------------------------------------------------------ softmax family
def softmax_loop(a):
    """s_j = e^(a_j) / sum_k e^(a_k) for one vector, written out."""
    total = sum(math.exp(v) for v in a)
    return [math.exp(v) / total for v in a]


def softmax_oracle(a, g, axis):
    """da_i = sum_j g_j s_j (delta_ij - s_i), per slice along ``axis``."""
    axis = axis % a.ndim
    out, da = np.zeros_like(a), np.zeros_like(a)
    for index in slices_along(a.shape, axis):
        s = softmax_loop(a[index])
        gv = g[index]
        n = len(s)
        out[index] = s
        da[index] = [sum(gv[j] * s[j] * ((i == j) - s[i]) for j in range(n)) for i in range(n)]
    return out, da


def log_softmax_oracle(a, g, axis):
    """out_i = a_i - log sum_k e^(a_k); da_i = sum_j g_j (delta_ij - s_i), per slice."""
    axis = axis % a.ndim
    out, da = np.zeros_like(a), np.zeros_like(a)
    for index in slices_along(a.shape, axis):
        v, gv = a[index], g[index]
        s = softmax_loop(v)
        n = len(s)
        out[index] = [v[i] - math.log(sum(math.exp(x) for x in v)) for i in range(n)]
        da[index] = [sum(gv[j] * ((i == j) - s[i]) for j in range(n)) for i in range(n)]
    return out, da


@pytest.mark.parametrize("shape, axis", CASES_AXIS)
@pytest.mark.parametrize("name, method, oracle", [
    ("softmax", lambda x, axis: x.softmax(axis), softmax_oracle),
    ("log_softmax", lambda x, axis: x.log_softmax(axis), log_softmax_oracle),
])
def test_softmax_family_backward_matches_the_jacobian_loop(name, method, oracle, shape, axis):
    rng = np.random.default_rng(len(shape) * 10 + axis)
    a = rng.uniform(-3, 3, shape)
    g = rng.standard_normal(shape)
    (da,), out = engine_gradients(lambda x: method(x, axis), [a], g)
    expected_out, expected_da = oracle(a, g, axis)
    assert_close(out, expected_out, f"{name} forward, shape {shape}, axis {axis}")
    assert_close(da, expected_da, f"{name} backward, shape {shape}, axis {axis}")


# ------------------------------------------------------------------ variance
def var_oracle(a, g, axis, unbiased):
    """out = sum_k (a_k - m)^2 / (n - c) with m = sum_k a_k / n; per slice,
    d out / d a_i = 2 / (n - c) * sum_k (a_k - m) (delta_ki - 1 / n)   (both terms, looped)."""
    axis = axis % a.ndim
    out_shape = a.shape[:axis] + a.shape[axis + 1:]
    out, da = np.zeros(out_shape), np.zeros_like(a)
    for index in slices_along(a.shape, axis):
        v = a[index]
        n = len(v)
        c = 1 if unbiased else 0
        m = sum(v) / n
        out_index = index[:axis] + index[axis + 1:]
        out[out_index] = sum((x - m) ** 2 for x in v) / (n - c)
        da[index] = [g[out_index] * 2 / (n - c) * sum((v[k] - m) * ((k == i) - 1 / n)
                                                      for k in range(n)) for i in range(n)]
    return out, da


@pytest.mark.parametrize("shape, axis", CASES_AXIS)
@pytest.mark.parametrize("unbiased", [True, False])
def test_var_backward_matches_the_loop(shape, axis, unbiased):
    rng = np.random.default_rng(7 + len(shape) + axis)
    a = rng.uniform(-3, 3, shape)
    g = rng.standard_normal(a.shape[:axis % a.ndim] + a.shape[axis % a.ndim + 1:])
    (da,), out = engine_gradients(lambda x: x.var(axis, unbiased=unbiased), [a], g)
    expected_out, expected_da = var_oracle(a, g, axis, unbiased)
    assert_close(out, expected_out, f"var forward, shape {shape}, axis {axis}")
    assert_close(da, expected_da, f"var backward, shape {shape}, axis {axis}, unbiased={unbiased}")


# ------------------------------------------------------------------ max with ties
def max_oracle(a, g, axis):
    """da_i = g / (number of maximal elements) at each maximal element of its slice, else 0."""
    axis = axis % a.ndim
    da = np.zeros_like(a)
    for index in slices_along(a.shape, axis):
        v = list(a[index])
        top = max(v)
        winners = [i for i, x in enumerate(v) if x == top]
        out_index = index[:axis] + index[axis + 1:]
        row = [0.0] * len(v)
        for i in winners:
            row[i] = g[out_index] / len(winners)
        da[index] = row
    return da


@pytest.mark.parametrize("shape, axis", CASES_AXIS)
def test_max_backward_shares_ties_as_the_loop_does(shape, axis):
    rng = np.random.default_rng(3 + axis)
    a = rng.integers(0, 3, shape).astype(np.float64)
    for s, index in enumerate(slices_along(shape, axis % len(shape))):
        if s % 2 == 0:              # every other slice: its maximum twice, a two-way tie
            a[index][:2] = 3.0
    g = rng.standard_normal(a.shape[:axis % a.ndim] + a.shape[axis % a.ndim + 1:])
    (da,), _ = engine_gradients(lambda x: x.max(axis), [a], g)
    assert_close(da, max_oracle(a, g, axis), f"max backward, shape {shape}, axis {axis}")


# ------------------------------------------------------------------ matmul
def matmul_oracle(a, b, g):
    """C[..., m, p] = sum_k A[..., m, k] B[..., k, p] with broadcast batch axes, 1-D operands as
    in np.matmul; dA[.., m, k] += g[.., m, p] B[.., k, p], dB[.., k, p] += A[.., m, k] g[.., m, p]
    summed over every output position that read the element."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    M, K = a2.shape[-2:]
    P = b2.shape[-1]
    g2 = g.reshape(batch + (M, P))
    da, db = np.zeros_like(a2), np.zeros_like(b2)
    for bi in itertools.product(*[range(n) for n in batch]):
        # the batch index each operand is read at (size-1 and missing axes broadcast)
        ia = tuple(i if n > 1 else 0 for i, n in zip(bi[len(bi) - (a2.ndim - 2):], a2.shape[:-2]))
        ib = tuple(i if n > 1 else 0 for i, n in zip(bi[len(bi) - (b2.ndim - 2):], b2.shape[:-2]))
        for m, k, p in itertools.product(range(M), range(K), range(P)):
            da[ia + (m, k)] += g2[bi + (m, p)] * b2[ib + (k, p)]
            db[ib + (k, p)] += a2[ia + (m, k)] * g2[bi + (m, p)]
    return da.reshape(a.shape), db.reshape(b.shape)


MATMUL_SHAPES = [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 3)), ((2, 1, 3, 4), (3, 4, 2)),
                 ((3, 4), (4,)), ((4,), (4,)), ((1, 2, 3), (2, 3, 2))]


@pytest.mark.parametrize("shape_a, shape_b", MATMUL_SHAPES)
def test_matmul_backward_matches_the_loop(shape_a, shape_b):
    rng = np.random.default_rng(len(shape_a) + 3 * len(shape_b))
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    g = rng.standard_normal(np.matmul(a, b).shape)
    (da, db), _ = engine_gradients(lambda x, y: x @ y, [a, b], g)
    expected_da, expected_db = matmul_oracle(a, b, g)
    assert_close(da, expected_da, f"matmul backward for a, shapes {shape_a} @ {shape_b}")
    assert_close(db, expected_db, f"matmul backward for b, shapes {shape_a} @ {shape_b}")


def test_matmul_backward_on_permuted_operands_matches_the_loop():
    # the C-contiguous copies MatMul makes of permuted stacks must not change a single value
    rng = np.random.default_rng(11)
    q = rng.standard_normal((2, 5, 3, 4))                 # (N, T, h, d)
    k = rng.standard_normal((2, 5, 3, 4))
    g = rng.standard_normal((2, 3, 5, 5))
    (dq, dk), _ = engine_gradients(
        lambda x, y: x.permute(0, 2, 1, 3) @ y.permute(0, 2, 3, 1), [q, k], g)
    da, db = matmul_oracle(q.transpose(0, 2, 1, 3), k.transpose(0, 2, 3, 1), g)
    assert_close(dq, da.transpose(0, 2, 1, 3), "matmul of permuted views, d query")
    assert_close(dk, db.transpose(0, 3, 1, 2), "matmul of permuted views, d key")


# ------------------------------------------------------------------ indexing with repeats
def test_integer_index_backward_adds_repeated_positions_as_the_loop_does():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((4, 3))
    index = np.array([[0, 2, 2], [3, 0, 2]])              # 2 appears three times, 0 twice
    g = rng.standard_normal((2, 3, 3))
    (da,), out = engine_gradients(lambda x: x[Tensor(index)], [a], g)
    expected = np.zeros_like(a)
    for i, j in itertools.product(range(2), range(3)):
        for col in range(3):
            expected[index[i, j], col] += g[i, j, col]
    assert_close(out, a[index], "integer indexing forward")
    assert_close(da, expected, "integer indexing backward")
