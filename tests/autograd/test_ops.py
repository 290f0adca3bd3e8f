"""Every op of ``minitorch_ser/autograd/ops.py``: float64 gradcheck and forward values against NumPy.

``CASES`` is the registry: per op, a hypothesis strategy drawing the inputs (arrays) and the
hyper-parameters, the op applied to Tensors, and the same computation written in plain NumPy.
``test_registry_covers_every_op`` fails when an op is added to ops.py without a case here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minitorch_ser.autograd import ops
from minitorch_ser.autograd.function import Function
from minitorch_ser.autograd.gradcheck import gradcheck
from minitorch_ser.autograd.tensor import Tensor
from strategies import (FAST, broadcastable_shapes, float_arrays, matmul_shapes,
                        nonzero_arrays, positive_arrays, reduction_axes, seeds,
                        separated_arrays, shapes)


@dataclass(frozen=True)
class OpCase:
    name: str
    covers: tuple                 # the Function subclasses this case exercises
    inputs: Callable              # () -> strategy of (list of float64 arrays, dict of params)
    op: Callable                  # (*tensors, **params) -> Tensor or tuple of Tensors
    ref: Callable                 # (*arrays, **params) -> ndarray or tuple of ndarrays
    tolerances: dict = field(default_factory=dict)   # extra gradcheck arguments


# ------------------------------------------------------------------ input strategies
@st.composite
def _unary(draw, values=float_arrays, shape=None, **params):
    shp = draw(shape if shape is not None else shapes())
    drawn = {k: draw(v) for k, v in params.items()}
    return [draw(values(shp))], drawn


@st.composite
def _binary(draw, a_values=float_arrays, b_values=float_arrays):
    sa, sb = draw(broadcastable_shapes())
    return [draw(a_values(sa)), draw(b_values(sb))], {}


@st.composite
def _matmul(draw):
    sa, sb = draw(matmul_shapes())
    return [draw(float_arrays(sa)), draw(float_arrays(sb))], {}


@st.composite
def _reduction(draw, values=float_arrays):
    shp = draw(shapes())
    return [draw(values(shp))], {"axis": draw(reduction_axes(len(shp))),
                                 "keepdims": draw(st.booleans())}


def _n_reduced(shape, axis) -> int:
    if axis is None:
        return math.prod(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[a] for a in axes)


@st.composite
def _var(draw):
    (a,), params = draw(_reduction())
    # the unbiased estimate needs at least two elements per reduced group
    params["unbiased"] = draw(st.booleans()) and _n_reduced(a.shape, params["axis"]) > 1
    return [a], params


@st.composite
def _masked_fill(draw):
    shp = draw(shapes())
    # a mask that broadcasts to shp: drop some leading axes, shrink some axes to 1
    n_drop = draw(st.integers(0, len(shp)))
    mshape = tuple(1 if draw(st.booleans()) else s for s in shp[n_drop:])
    return [draw(float_arrays(shp))], {"mask": draw(hnp.arrays(np.bool_, mshape)),
                                       "value": draw(st.floats(-2, 2))}


@st.composite
def _where(draw):
    sc, sa, sb = draw(broadcastable_shapes(num_shapes=3))
    return [draw(float_arrays(sa)), draw(float_arrays(sb))], {
        "condition": draw(hnp.arrays(np.bool_, sc))}


@st.composite
def _reshape(draw):
    shp = draw(shapes())
    target = draw(st.sampled_from([(-1,), tuple(reversed(shp)), (1,) + shp, shp + (1,)]))
    return [draw(float_arrays(shp))], {"shape": target}


@st.composite
def _permute(draw):
    shp = draw(shapes())
    return [draw(float_arrays(shp))], {"axes": tuple(draw(st.permutations(range(len(shp)))))}


@st.composite
def _contiguous(draw):
    # a permuted view is what the op copies into C order
    shp = draw(shapes(max_dims=4))
    return [draw(float_arrays(shp))], {"axes": tuple(draw(st.permutations(range(len(shp)))))}


@st.composite
def _getitem_basic(draw):
    shp = draw(shapes(min_dims=1))
    index = tuple(draw(st.one_of(st.integers(-s, s - 1), st.slices(s))) for s in shp)
    return [draw(float_arrays(shp))], {"index": index}


@st.composite
def _getitem_int_array(draw):
    shp = draw(shapes(min_dims=1))
    idx_shape = draw(shapes(min_dims=1, max_dims=2))
    # repeated indices are likely: their gradients must add up
    idx = draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(-shp[0], shp[0] - 1)))
    return [draw(float_arrays(shp))], {"index": idx}


@st.composite
def _getitem_bool(draw):
    shp = draw(shapes(min_dims=1))
    k = draw(st.integers(1, len(shp)))
    return [draw(float_arrays(shp))], {"index": draw(hnp.arrays(np.bool_, shp[:k]))}


@st.composite
def _concat(draw):
    shp = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shp), len(shp) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    arrays = []
    for s in sizes:
        piece = list(shp)
        piece[axis] = s
        arrays.append(draw(float_arrays(tuple(piece))))
    return arrays, {"axis": axis}


@st.composite
def _stack(draw):
    shp = draw(shapes())
    k = draw(st.integers(1, 3))
    return ([draw(float_arrays(shp)) for _ in range(k)],
            {"axis": draw(st.integers(-len(shp) - 1, len(shp)))})


@st.composite
def _split(draw):
    shp = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shp), len(shp) - 1))
    n = shp[axis]
    if draw(st.booleans()):
        sections = draw(st.integers(1, n))            # an int: equal pieces, last one shorter
    else:                                             # a list of sizes summing to n
        cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=n - 1))) if n > 1 else []
        sections = list(np.diff([0, *cuts, n]))
    return [draw(float_arrays(shp))], {"sections": sections, "axis": axis}


def _np_split(a, sections, axis):
    n = a.shape[axis]
    if isinstance(sections, (int, np.integer)):
        bounds = list(range(sections, n, sections))
    else:
        bounds = list(np.cumsum(sections)[:-1])
    return tuple(np.split(a, bounds, axis=axis))


@st.composite
def _pad(draw):
    shp = draw(shapes(min_dims=1))
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shp)
    return [draw(float_arrays(shp))], {"pad_width": widths, "value": draw(st.floats(-1, 1))}


@st.composite
def _softmax(draw):
    shp = draw(shapes(min_dims=1))
    return [draw(float_arrays(shp, min_value=-5, max_value=5))], {
        "axis": draw(st.integers(-len(shp), len(shp) - 1))}


@st.composite
def _dropout(draw):
    shp = draw(shapes())
    return [draw(float_arrays(shp))], {"p": draw(st.sampled_from([0.1, 0.5, 0.9])),
                                       "seed": draw(seeds())}


def _dropout_ref(a, p, seed):
    keep = np.random.default_rng(seed).random(a.shape) >= p
    return np.where(keep, a / (1 - p), 0.0)


# ------------------------------------------------------------------ the registry
CASES = [
    OpCase("add", (ops.Add,), _binary, lambda a, b: a + b, np.add),
    OpCase("sub", (ops.Sub,), _binary, lambda a, b: a - b, np.subtract),
    OpCase("mul", (ops.Mul,), _binary, lambda a, b: a * b, np.multiply),
    OpCase("div", (ops.Div,), lambda: _binary(b_values=nonzero_arrays),
           lambda a, b: a / b, np.divide),
    OpCase("pow_tensor", (ops.PowTensor,), lambda: _binary(a_values=positive_arrays),
           lambda a, b: a ** b, np.power),
    OpCase("matmul", (ops.MatMul,), _matmul, lambda a, b: a @ b, np.matmul),
    # float64 -> float32 loses digits: a larger step and tolerance for the central difference
    OpCase("cast", (ops.Cast,), _unary, lambda a: a.astype(np.float32),
           lambda a: a.astype(np.float32), {"eps": 1e-3, "atol": 1e-3, "rtol": 1e-3}),
    OpCase("neg", (ops.Neg,), _unary, lambda a: -a, np.negative),
    OpCase("pow", (ops.Pow,),
           lambda: _unary(positive_arrays, exponent=st.sampled_from([2.0, 3.0, 0.5, -1.5])),
           lambda a, exponent: a ** exponent, lambda a, exponent: np.power(a, exponent)),
    OpCase("exp", (ops.Exp,), _unary, lambda a: a.exp(), np.exp),
    OpCase("log", (ops.Log,), lambda: _unary(positive_arrays), lambda a: a.log(), np.log),
    OpCase("sqrt", (ops.Sqrt,), lambda: _unary(positive_arrays), lambda a: a.sqrt(), np.sqrt),
    OpCase("abs", (ops.Abs,), lambda: _unary(separated_arrays), lambda a: a.abs(), np.abs),
    OpCase("tanh", (ops.Tanh,), _unary, lambda a: a.tanh(), np.tanh),
    OpCase("sigmoid", (ops.Sigmoid,),
           lambda: _unary(lambda s: float_arrays(s, min_value=-6, max_value=6)),
           lambda a: a.sigmoid(), lambda a: 1 / (1 + np.exp(-a))),
    OpCase("relu", (ops.ReLU,), lambda: _unary(separated_arrays), lambda a: a.relu(),
           lambda a: np.maximum(a, 0)),
    OpCase("clamp", (ops.Clamp,),
           lambda: _unary(separated_arrays, min=st.sampled_from([None, -1.0]),
                          max=st.sampled_from([None, 1.0])),
           lambda a, min, max: a.clamp(min=min, max=max),
           lambda a, min, max: np.clip(a, min, max)),
    OpCase("masked_fill", (ops.MaskedFill,), _masked_fill,
           lambda a, mask, value: a.masked_fill(mask, value),
           lambda a, mask, value: np.where(mask, value, a)),
    OpCase("where", (ops.Where,), _where, lambda a, b, condition: ops.where(condition, a, b),
           lambda a, b, condition: np.where(condition, a, b)),
    OpCase("sum", (ops.Sum,), _reduction, lambda a, axis, keepdims: a.sum(axis, keepdims),
           lambda a, axis, keepdims: np.sum(a, axis=axis, keepdims=keepdims)),
    OpCase("mean", (ops.Mean,), _reduction, lambda a, axis, keepdims: a.mean(axis, keepdims),
           lambda a, axis, keepdims: np.mean(a, axis=axis, keepdims=keepdims)),
    OpCase("max", (ops.Max,), lambda: _reduction(separated_arrays),
           lambda a, axis, keepdims: a.max(axis, keepdims),
           lambda a, axis, keepdims: np.max(a, axis=axis, keepdims=keepdims)),
    OpCase("var", (ops.Var,), _var,
           lambda a, axis, keepdims, unbiased: a.var(axis, keepdims, unbiased),
           lambda a, axis, keepdims, unbiased: np.var(a, axis=axis, keepdims=keepdims,
                                                      ddof=1 if unbiased else 0)),
    OpCase("reshape", (ops.Reshape,), _reshape, lambda a, shape: a.reshape(shape), np.reshape),
    OpCase("permute", (ops.Permute,), _permute, lambda a, axes: a.permute(axes), np.transpose),
    OpCase("contiguous", (ops.Contiguous, ops.Permute), _contiguous,
           lambda a, axes: ops.contiguous(a.permute(axes)), np.transpose),
    OpCase("getitem_basic", (ops.GetItem,), _getitem_basic, lambda a, index: a[index],
           lambda a, index: a[index]),
    OpCase("getitem_int_array", (ops.GetItem,), _getitem_int_array,
           lambda a, index: a[Tensor(index)], lambda a, index: a[index]),
    OpCase("getitem_bool", (ops.GetItem,), _getitem_bool, lambda a, index: a[index],
           lambda a, index: a[index]),
    OpCase("concat", (ops.Concat,), _concat, lambda *ts, axis: ops.concat(ts, axis),
           lambda *arrays, axis: np.concatenate(arrays, axis=axis)),
    OpCase("stack", (ops.Stack,), _stack, lambda *ts, axis: ops.stack(ts, axis),
           lambda *arrays, axis: np.stack(arrays, axis=axis)),
    OpCase("split", (ops.Split,), _split,
           lambda a, sections, axis: ops.split(a, sections, axis), _np_split),
    OpCase("pad", (ops.Pad,), _pad, lambda a, pad_width, value: ops.pad(a, pad_width, value),
           lambda a, pad_width, value: np.pad(a, pad_width, constant_values=value)),
    OpCase("softmax", (ops.Softmax,), _softmax, lambda a, axis: a.softmax(axis),
           lambda a, axis: np.exp(a) / np.exp(a).sum(axis=axis, keepdims=True)),
    OpCase("log_softmax", (ops.LogSoftmax,), _softmax, lambda a, axis: a.log_softmax(axis),
           lambda a, axis: a - np.log(np.exp(a).sum(axis=axis, keepdims=True))),
    OpCase("dropout", (ops.Dropout,), _dropout,
           lambda a, p, seed: ops.dropout(a, p, True, np.random.default_rng(seed)),
           _dropout_ref),
]

IDS = [c.name for c in CASES]


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def test_registry_covers_every_op():
    functions = {obj for obj in vars(ops).values()
                 if isinstance(obj, type) and issubclass(obj, Function) and obj is not Function}
    covered = {cls for case in CASES for cls in case.covers}
    assert functions - covered == set(), f"ops without a test case: {functions - covered}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
@FAST
@given(data=st.data())
def test_gradcheck(case, data):
    arrays, params = data.draw(case.inputs())
    gradcheck(lambda *ts: case.op(*ts, **params), arrays, name=case.name, **case.tolerances)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@FAST
@given(data=st.data())
def test_forward_matches_numpy(case, data):
    arrays, params = data.draw(case.inputs())
    expected = _as_tuple(case.ref(*arrays, **params))

    # float64: the op computes exactly the NumPy expression, through the named Function
    out = _as_tuple(case.op(*[Tensor(a, requires_grad=True) for a in arrays], **params))
    assert len(out) == len(expected)
    for o, e in zip(out, expected):
        assert o.shape == e.shape
        np.testing.assert_allclose(o.data, e, rtol=1e-12, atol=1e-12)
        assert o.grad_fn in case.covers

    # float32 inputs give float32 outputs (no silent promotion to float64)
    out32 = _as_tuple(case.op(*[Tensor(a.astype(np.float32)) for a in arrays], **params))
    for o, e in zip(out32, expected):
        assert o.dtype == np.float32
        np.testing.assert_allclose(o.data, e, rtol=1e-4, atol=1e-5)
