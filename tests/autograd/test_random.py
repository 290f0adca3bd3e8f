"""Seeding: the default generator (``manual_seed``, state save and restore) and ``as_rng``."""

from __future__ import annotations

import numpy as np
import pytest

from minitorch_ser.autograd import random as mt_random


def test_manual_seed_makes_the_default_generator_repeat():
    first = mt_random.manual_seed(123).random(4)
    again = mt_random.manual_seed(123)
    assert again is mt_random.default_generator()
    np.testing.assert_array_equal(again.random(4), first)
    assert not np.array_equal(mt_random.manual_seed(124).random(4), first)


def test_get_state_and_set_state_rewind_the_default_generator():
    mt_random.manual_seed(5)
    state = mt_random.get_state()
    drawn = mt_random.default_generator().random(3)
    mt_random.set_state(state)
    np.testing.assert_array_equal(mt_random.default_generator().random(3), drawn)


def test_as_rng_returns_a_generator_itself():
    rng = np.random.default_rng(0)
    assert mt_random.as_rng(rng) is rng


def test_as_rng_seeds_a_new_generator_from_an_int():
    a, b = mt_random.as_rng(7), mt_random.as_rng(np.int64(7))
    assert a is not b and a is not mt_random.default_generator()
    np.testing.assert_array_equal(a.random(5), b.random(5))
    np.testing.assert_array_equal(mt_random.as_rng(7).random(5), np.random.default_rng(7).random(5))


def test_as_rng_of_none_is_the_seedable_default():
    mt_random.manual_seed(3)
    assert mt_random.as_rng(None) is mt_random.default_generator()
    assert mt_random.as_rng() is mt_random.default_generator()


@pytest.mark.parametrize("bad, error", [(1.5, TypeError), ("seed", TypeError), (-1, ValueError)])
def test_as_rng_rejects_what_cannot_seed_a_generator(bad, error):
    with pytest.raises(error):
        mt_random.as_rng(bad)


def test_the_data_modules_use_this_as_rng():
    from minitorch_ser.data import augment, loader, splits

    assert splits.as_rng is loader.as_rng is augment.as_rng is mt_random.as_rng
