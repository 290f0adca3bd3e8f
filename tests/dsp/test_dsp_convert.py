"""power_to_db against 10 log10, top_db clipping and the per-example reference of a batch."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dsp


def log_uniform(rng, shape, lo=-14, hi=3):
    return 10.0 ** rng.uniform(lo, hi, size=shape)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), ref=st.floats(1e-12, 1e3), amin=st.floats(1e-12, 1e-6))
def test_power_to_db_is_10_log10(seed, ref, amin):
    S = log_uniform(np.random.default_rng(seed), (6, 9))
    S_db = dsp.power_to_db(S, ref=ref, amin=amin, top_db=None)
    expected = 10 * np.log10(np.maximum(S, amin)) - 10 * np.log10(max(ref, amin))
    np.testing.assert_allclose(S_db, expected, rtol=1e-12, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), top_db=st.floats(0.0, 120.0))
def test_top_db_clips_below_the_peak(seed, top_db):
    S = log_uniform(np.random.default_rng(seed), (5, 11))
    raw = dsp.power_to_db(S, top_db=None)
    S_db = dsp.power_to_db(S, top_db=top_db)
    floor = raw.max() - top_db
    np.testing.assert_allclose(S_db, np.maximum(raw, floor), rtol=0, atol=1e-9)
    assert S_db.min() >= floor - 1e-9


def test_ref_max_puts_peak_at_zero_and_range_at_top_db():
    S = log_uniform(np.random.default_rng(0), (16, 20))
    S_db = dsp.power_to_db(S.astype(np.float32), ref=np.max)
    assert S_db.dtype == np.float32
    assert S_db.max() == pytest.approx(0.0, abs=1e-5)
    assert S_db.min() == pytest.approx(-80.0, abs=1e-4)


def test_batch_reference_is_per_example():
    rng = np.random.default_rng(1)
    S = log_uniform(rng, (4, 3, 8, 10))
    S[1] *= 1e-6  # one quiet example: a global reference would push it to the floor
    S_db = dsp.power_to_db(S, ref=np.max, top_db=80.0)
    for idx in np.ndindex(4, 3):
        np.testing.assert_allclose(S_db[idx], dsp.power_to_db(S[idx], ref=np.max, top_db=80.0), atol=1e-12)
        assert S_db[idx].max() == pytest.approx(0.0, abs=1e-12)
    assert not np.allclose(S_db, dsp.power_to_db(S, ref=S.max(), top_db=None))


def test_callable_ref_without_axis_argument_is_applied_per_example():
    rng = np.random.default_rng(2)
    S = log_uniform(rng, (3, 5, 7))
    per_example = dsp.power_to_db(S, ref=lambda x: np.percentile(x, 90))
    for i in range(3):
        np.testing.assert_allclose(per_example[i], dsp.power_to_db(S[i], ref=lambda x: np.percentile(x, 90)))


def test_array_ref_broadcasts_per_example():
    S = log_uniform(np.random.default_rng(3), (2, 4, 5))
    ref = np.array([1e-3, 1e-5]).reshape(2, 1, 1)
    S_db = dsp.power_to_db(S, ref=ref, top_db=None)
    np.testing.assert_allclose(S_db[1], dsp.power_to_db(S[1], ref=1e-5, top_db=None))


def test_zero_power_floors_at_amin():
    S_db = dsp.power_to_db(np.zeros((3, 4)), amin=1e-10, top_db=None)
    np.testing.assert_allclose(S_db, -100.0)
    assert np.all(np.isfinite(dsp.power_to_db(np.zeros((2, 3, 4)), ref=np.max)))


def test_complex_input_warns_and_uses_magnitude():
    S = np.array([[3 + 4j, 1j]])
    with pytest.warns(UserWarning, match="complex"):
        S_db = dsp.power_to_db(S, top_db=None)
    np.testing.assert_allclose(S_db, 10 * np.log10([[5.0, 1.0]]))


def test_db_to_power_inverts():
    S = log_uniform(np.random.default_rng(4), (4, 6), lo=-5)
    np.testing.assert_allclose(dsp.db_to_power(dsp.power_to_db(S, ref=2.0, top_db=None), ref=2.0), S, rtol=1e-10)
