"""normalize (librosa.util.normalize: unit norm along an axis) and standardize (per-clip z-score).

librosa is not imported: its documented examples are written out by hand, and every other
check is against a Python loop over the slices that applies the norm's definition.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp

# np.vander(np.arange(-2.0, 2.0)): librosa.util.normalize's documented example matrix.
VANDER = np.array([[-8.0, 4.0, -2.0, 1.0],
                   [-1.0, 1.0, -1.0, 1.0],
                   [0.0, 0.0, 0.0, 1.0],
                   [1.0, 1.0, 1.0, 1.0]])

NORMS = [np.inf, -np.inf, 0, 0.5, 1, 2, 3.5]


def slice_norm(s, norm):
    """The norm of one 1-D slice, from its definition, in Python floats."""
    mags = [abs(complex(v)) for v in s.ravel()]
    if norm == np.inf:
        return max(mags)
    if norm == -np.inf:
        return min(mags)
    if norm == 0:
        return float(sum(m > 0 for m in mags))
    return sum(m ** norm for m in mags) ** (1.0 / norm)


def oracle(S, norm, axis, threshold, fill):
    """normalize by a loop over the slices along ``axis`` (float64 / complex128)."""
    S = np.asarray(S)
    out = S.astype(np.result_type(S.dtype, np.float64))
    moved = np.moveaxis(out, axis, -1)                      # a view: writing it writes out
    for index in itertools.product(*(range(d) for d in moved.shape[:-1])):
        s = moved[index]
        length = slice_norm(s, norm)
        if length >= threshold:
            moved[index] = s / length
        elif fill is False:
            moved[index] = 0.0
        elif fill is True:
            moved[index] = 1.0 if norm in (np.inf, -np.inf) else s.size ** (-1.0 / norm)
    return out


# ------------------------------------------------------------------ librosa's documented examples

def test_librosa_example_columns_by_peak():
    want = [[-1.0, 1.0, -1.0, 1.0],
            [-0.125, 0.25, -0.5, 1.0],
            [0.0, 0.0, 0.0, 1.0],
            [0.125, 0.25, 0.5, 1.0]]
    np.testing.assert_array_equal(dsp.normalize(VANDER), want)


def test_librosa_example_rows_by_peak():
    want = [[-1.0, 0.5, -0.25, 0.125],
            [-1.0, 1.0, -1.0, 1.0],
            [0.0, 0.0, 0.0, 1.0],
            [1.0, 1.0, 1.0, 1.0]]
    np.testing.assert_array_equal(dsp.normalize(VANDER, axis=1), want)


def test_librosa_example_l1_and_l2_columns():
    # The tables librosa prints (3 decimals) ...
    l1 = [[-0.8, 0.667, -0.5, 0.25],
          [-0.1, 0.167, -0.25, 0.25],
          [0.0, 0.0, 0.0, 0.25],
          [0.1, 0.167, 0.25, 0.25]]
    l2 = [[-0.985, 0.943, -0.816, 0.5],
          [-0.123, 0.236, -0.408, 0.5],
          [0.0, 0.0, 0.0, 0.5],
          [0.123, 0.236, 0.408, 0.5]]
    np.testing.assert_allclose(dsp.normalize(VANDER, norm=1), l1, rtol=0, atol=5e-4)
    np.testing.assert_allclose(dsp.normalize(VANDER, norm=2), l2, rtol=0, atol=5e-4)
    # ... and exactly: columns divided by sum |s| = (10, 6, 4, 4) and sqrt(sum s^2) = (66, 18, 6, 4)^(1/2).
    np.testing.assert_allclose(dsp.normalize(VANDER, norm=1), VANDER / [10.0, 6.0, 4.0, 4.0], rtol=1e-15)
    np.testing.assert_allclose(dsp.normalize(VANDER, norm=2), VANDER / np.sqrt([66.0, 18.0, 6.0, 4.0]),
                               rtol=1e-15)


def test_librosa_example_threshold_and_fill():
    S = VANDER.copy()
    S[:, -1] = 1e-308                  # below float64's tiny (2.2e-308): "small-norm column"
    peak_normalized = VANDER[:, :3] / [8.0, 4.0, 2.0]
    # Default (fill=None): the small column is left as it is.
    out = dsp.normalize(S)
    np.testing.assert_array_equal(out[:, :3], peak_normalized)
    np.testing.assert_array_equal(out[:, 3], 1e-308)
    # fill=False: set to zeros.
    out = dsp.normalize(S, fill=False)
    np.testing.assert_array_equal(out[:, :3], peak_normalized)
    np.testing.assert_array_equal(out[:, 3], 0.0)
    # fill=True: the constant of unit norm, 1 for the max norm ...
    out = dsp.normalize(S, fill=True)
    np.testing.assert_array_equal(out[:, :3], peak_normalized)
    np.testing.assert_array_equal(out[:, 3], 1.0)
    # ... and 4^(-1/1) = 0.25 for the l1 norm of 4 entries.
    out = dsp.normalize(S, norm=1, fill=True)
    np.testing.assert_allclose(out[:, :3], VANDER[:, :3] / [10.0, 6.0, 4.0], rtol=1e-15)
    np.testing.assert_array_equal(out[:, 3], 0.25)


# -------------------------------------------------------------------------------- every norm

@st.composite
def arrays_with_axis(draw):
    """A float64 array of 1-3 dimensions (some exact zeros) and an axis, negative or not."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    S = rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3)
    S[rng.random(shape) < 0.2] = 0.0
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return S, axis


@pytest.mark.parametrize("norm", NORMS, ids=str)
@settings(max_examples=25, deadline=None)
@given(case=arrays_with_axis(), fill=st.sampled_from([None, False, True]))
def test_matches_the_loop_oracle(norm, case, fill):
    S, axis = case
    if norm == 0 and fill is True:
        return                       # an error, tested below
    tiny = np.finfo(np.float64).tiny
    got = dsp.normalize(S, norm=norm, axis=axis, fill=fill)
    np.testing.assert_allclose(got, oracle(S, norm, axis, tiny, fill), rtol=1e-12, atol=0,
                               err_msg=f"norm={norm}, axis={axis}, fill={fill}, shape={S.shape}")


@pytest.mark.parametrize("norm", NORMS, ids=str)
def test_every_slice_has_unit_norm_and_keeps_its_direction(norm):
    S = np.random.default_rng(1).standard_normal((6, 7, 5))        # no zeros: every norm > 0
    for axis in range(3):
        out = dsp.normalize(S, norm=norm, axis=axis)
        moved_in, moved_out = np.moveaxis(S, axis, -1), np.moveaxis(out, axis, -1)
        for index in itertools.product(*(range(d) for d in moved_out.shape[:-1])):
            s, u = moved_in[index], moved_out[index]
            if norm == 0:
                # The support size is not homogeneous: scaling keeps it at n, not 1. What holds
                # is the division by it.
                np.testing.assert_array_equal(u, s / s.size)
            else:
                assert slice_norm(u, norm) == pytest.approx(1.0, rel=1e-12), (norm, axis, index)
            # A positive multiple of the input slice: same signs, one common ratio.
            ratio = u / s
            assert ratio.min() > 0 and ratio.max() == pytest.approx(ratio.min(), rel=1e-12)


def test_peak_normalization_of_a_clip_and_of_a_batch(speech_like):
    Y = speech_like(3, 4000).astype(np.float64) * np.array([[0.01], [0.3], [2.0]])
    y = Y[0]
    np.testing.assert_allclose(dsp.normalize(y), y / np.abs(y).max(), rtol=1e-15)
    assert np.abs(dsp.normalize(y)).max() == 1.0
    # A batch: axis=-1 normalizes each clip on its own; axis=0 (the default) would not.
    batch = dsp.normalize(Y, axis=-1)
    for i in range(3):
        np.testing.assert_array_equal(batch[i], dsp.normalize(Y[i]))
    assert not np.allclose(dsp.normalize(Y), batch)
    # The mean is not removed: normalize is a pure rescaling, not a z-score.
    shifted = y + 1.0
    np.testing.assert_allclose(dsp.normalize(shifted).mean(), shifted.mean() / np.abs(shifted).max())


def test_axis_none_uses_one_norm_for_the_whole_array():
    S = np.arange(-5.0, 7.0).reshape(3, 4)
    np.testing.assert_array_equal(dsp.normalize(S, axis=None), S / 6.0)
    np.testing.assert_allclose(dsp.normalize(S, norm=2, axis=None), S / np.sqrt(np.sum(S ** 2)), rtol=1e-15)
    # fill=True over the whole array: the constant n^(-1/p) with n = S.size.
    np.testing.assert_allclose(dsp.normalize(np.zeros((3, 4)), norm=2, axis=None, fill=True), 12 ** -0.5)
    # A 0-d array has only axis=None.
    assert dsp.normalize(np.array(-3.0), axis=None) == -1.0


def test_negative_and_positive_axes_agree():
    S = np.random.default_rng(2).standard_normal((3, 4, 5))
    for axis in range(3):
        np.testing.assert_array_equal(dsp.normalize(S, axis=axis), dsp.normalize(S, axis=axis - 3))


def test_min_norm_and_support_count():
    S = np.array([[2.0, -4.0, 0.5], [0.0, 3.0, 0.0]])
    # -inf: each row divided by its smallest |value| (row 1's is 0: left as it is).
    out = dsp.normalize(S, norm=-np.inf, axis=1)
    np.testing.assert_array_equal(out[0], [4.0, -8.0, 1.0])
    np.testing.assert_array_equal(out[1], S[1])
    # 0: each column divided by its number of non-zero entries (1, 2, 1).
    np.testing.assert_array_equal(dsp.normalize(S, norm=0), S / [1.0, 2.0, 1.0])
    np.testing.assert_array_equal(dsp.normalize(S, norm=0, axis=1), S / [[3.0], [1.0]])


def test_norm_none_returns_the_input_itself():
    S = np.random.default_rng(3).standard_normal((4, 4))
    assert dsp.normalize(S, norm=None) is S


def test_input_is_not_modified():
    S = VANDER.copy()
    S[:, -1] = 0.0
    before = S.copy()
    for fill in (None, False, True):
        dsp.normalize(S, fill=fill)
    np.testing.assert_array_equal(S, before)


# ------------------------------------------------------------------------------ threshold, fill

@pytest.mark.parametrize("norm", [np.inf, -np.inf, 1, 2, 3.5], ids=str)
def test_threshold_and_fill(norm):
    rng = np.random.default_rng(4)
    S = rng.uniform(0.5, 1.0, (5, 6)) * rng.choice([-1.0, 1.0], (5, 6))
    S[:, [1, 4]] *= 1e-4                             # two quiet columns
    threshold = 1e-2
    norms = np.array([slice_norm(S[:, j], norm) for j in range(6)])
    small = norms < threshold
    assert small.tolist() == [False, True, False, False, True, False]
    loud = ~small
    for fill in (None, False, True):
        out = dsp.normalize(S, norm=norm, threshold=threshold, fill=fill)
        np.testing.assert_allclose(out[:, loud], S[:, loud] / norms[loud], rtol=1e-14)
        if fill is None:
            np.testing.assert_array_equal(out[:, small], S[:, small])
        elif fill is False:
            np.testing.assert_array_equal(out[:, small], 0.0)
        else:
            c = 1.0 if norm in (np.inf, -np.inf) else 5 ** (-1.0 / norm)
            np.testing.assert_allclose(out[:, small], c, rtol=1e-15)
            assert slice_norm(out[:, 1], norm) == pytest.approx(1.0, rel=1e-14)


def test_a_norm_equal_to_the_threshold_is_normalized():
    S = np.array([[0.5, 0.25], [-0.25, 0.125]])       # column peaks 0.5 and 0.25
    out = dsp.normalize(S, threshold=0.5, fill=False)
    np.testing.assert_array_equal(out[:, 0], [1.0, -0.5])       # 0.5 is not < 0.5
    np.testing.assert_array_equal(out[:, 1], [0.0, 0.0])        # 0.25 < 0.5


def test_default_threshold_is_the_dtypes_smallest_normal_number():
    # 1e-39 is below float32's tiny (1.18e-38) but far above float64's (2.23e-308).
    S64 = np.array([[1e-39, 1.0], [0.0, 0.5]])
    out64 = dsp.normalize(S64)
    np.testing.assert_array_equal(out64[:, 0], [1.0, 0.0])
    S32 = S64.astype(np.float32)
    assert S32[0, 0] != 0                                   # a float32 denormal, not zero
    out32 = dsp.normalize(S32)
    np.testing.assert_array_equal(out32[:, 0], S32[:, 0])   # left as it is
    np.testing.assert_array_equal(out32[:, 1], [1.0, 0.5])
    # An all-zero column is below every threshold: kept (zeros), zeroed, or filled.
    Z = np.zeros((3, 2), np.float32)
    np.testing.assert_array_equal(dsp.normalize(Z), 0.0)
    np.testing.assert_array_equal(dsp.normalize(Z, fill=True), 1.0)
    np.testing.assert_allclose(dsp.normalize(Z, norm=2, fill=True), 3 ** -0.5, rtol=1e-7)


# ------------------------------------------------------------------------------------- dtypes

@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_dtype_is_kept_and_the_quotient_is_rounded_once(dtype):
    x = np.random.default_rng(5).standard_normal((7, 3)).astype(dtype)
    out = dsp.normalize(x)
    assert out.dtype == dtype
    # librosa's rule: divide in float64 by the float64 norm, then round into x's dtype.
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(out, (x64 / np.abs(x64).max(axis=0)).astype(dtype))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_input_is_scaled_by_the_norm_of_its_magnitudes(dtype):
    rng = np.random.default_rng(6)
    S = (rng.standard_normal((8, 2)) + 1j * rng.standard_normal((8, 2))).astype(dtype)
    out = dsp.normalize(S, norm=2)
    assert out.dtype == dtype
    want = S.astype(np.complex128) / np.sqrt(np.sum(np.abs(S.astype(np.complex128)) ** 2, axis=0))
    np.testing.assert_allclose(out, want, rtol=1e-6 if dtype == np.complex64 else 1e-14)
    # Phases are untouched.
    np.testing.assert_allclose(np.angle(out), np.angle(S), atol=1e-6)


def test_integer_input_gives_float64():
    out = dsp.normalize(np.array([[1, -4], [2, 2]], dtype=np.int16))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[0.5, -1.0], [1.0, 0.5]])


@pytest.mark.parametrize("call,message", [
    (lambda: dsp.normalize(VANDER, norm=np.nan), r"norm=nan must be np.inf, -np.inf, 0, a number > 0 or None"),
    (lambda: dsp.normalize(VANDER, norm=True), r"norm=True must be"),
    (lambda: dsp.normalize(VANDER, norm="max"), r"norm='max' must be"),
    (lambda: dsp.normalize(VANDER, threshold=-1.0), r"threshold=-1.0 must be > 0"),
    (lambda: dsp.normalize(VANDER, threshold=np.nan), r"threshold=nan must be a finite number > 0"),
    (lambda: dsp.normalize(VANDER, fill=1), r"fill=1 must be None, False or True"),
    (lambda: dsp.normalize(VANDER, axis=1.0), r"axis=1.0 must be an int or None"),
    (lambda: dsp.normalize(VANDER, axis=-3), r"axis=-3 is out of range for S with 2 dimension"),
    (lambda: dsp.normalize(np.array(2.0)), r"axis=0 is out of range for S with 0 dimension"),
    (lambda: dsp.normalize(np.array(["a", "b"])), r"S must be a numeric array"),
    (lambda: dsp.normalize(np.array([1.0, np.inf])), r"S must contain only finite values; found 1"),
    (lambda: dsp.normalize(np.array([1j, np.nan])), r"S must contain only finite values"),
], ids=["nan norm", "bool norm", "str norm", "threshold<0", "threshold nan", "fill int", "axis float",
        "axis range", "0-d", "strings", "inf", "complex nan"])
def test_errors_name_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ------------------------------------------------------------------------------- standardize

@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 3000), scale=st.floats(1e-3, 1e3), shift=st.floats(-5, 5))
def test_standardize_zero_mean_unit_variance(seed, n, scale, shift):
    Y = (shift + scale * np.random.default_rng(seed).standard_normal((3, n)))
    Z = dsp.standardize(Y)
    np.testing.assert_allclose(Z.mean(axis=-1), 0.0, atol=1e-9)
    # rtol 1e-9: a floor of std + eps (instead of max(std, eps)) would be off by eps / std.
    np.testing.assert_allclose(Z.std(axis=-1), 1.0, rtol=1e-9)
    for i in range(3):
        np.testing.assert_allclose(Z[i], dsp.standardize(Y[i]), atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardize_is_the_written_out_equation(dtype):
    y = (0.3 + 0.05 * np.random.default_rng(7).standard_normal((2, 999))).astype(dtype)
    mean = y.mean(axis=-1, keepdims=True, dtype=np.float64)
    std = np.sqrt(np.mean((y - mean) ** 2, axis=-1, keepdims=True))
    want = ((y - mean) / np.maximum(std, 1e-8)).astype(dtype)
    got = dsp.standardize(y)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)


def test_standardize_floors_the_deviation_at_eps():
    y = np.array([0.0, 2e-9])                   # mean 1e-9, std 1e-9 < eps = 1e-8
    np.testing.assert_allclose(dsp.standardize(y), [-0.1, 0.1], rtol=1e-12)
    np.testing.assert_allclose(dsp.standardize(y, eps=1e-10), [-1.0, 1.0], rtol=1e-12)


def test_standardize_silence_stays_finite():
    Z = dsp.standardize(np.full((2, 100), 0.7, np.float32))
    assert Z.dtype == np.float32
    np.testing.assert_array_equal(Z, 0.0)


def test_standardize_axis():
    Y = np.random.default_rng(8).standard_normal((3, 50))
    np.testing.assert_array_equal(dsp.standardize(Y.T, axis=0), dsp.standardize(Y).T)
