"""DataLoader: every sample once per epoch, last partial batch, seeded shuffles, resume."""

import numpy as np
import pytest

from minitorch_ser.data import DataLoader


def _data(n):
    y = np.arange(n)
    X = np.stack([y * 10.0, -y * 1.0], axis=1)           # row i identifies sample i
    return X, y


def test_every_sample_once_with_last_partial_batch():
    X, y = _data(10)
    loader = DataLoader(X, y, batch_size=3, shuffle=True, rng=0)
    assert len(loader) == 4
    for _ in range(3):
        batches = list(loader)
        assert [len(yb) for _, yb in batches] == [3, 3, 3, 1]
        seen = np.concatenate([yb for _, yb in batches])
        assert np.array_equal(np.sort(seen), np.arange(10))
        for xb, yb in batches:
            assert np.array_equal(xb[:, 0], yb * 10.0)      # inputs stay with their targets


def test_drop_last_and_no_shuffle():
    X, y = _data(10)
    loader = DataLoader(X, y, batch_size=3, shuffle=False, drop_last=True)
    assert len(loader) == 3
    assert [yb.tolist() for _, yb in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_reshuffled_every_epoch_and_seeded():
    X, y = _data(50)
    a = DataLoader(X, y, batch_size=8, rng=7)
    b = DataLoader(X, y, batch_size=8, rng=7)
    ea1 = np.concatenate([yb for _, yb in a])
    ea2 = np.concatenate([yb for _, yb in a])
    eb1 = np.concatenate([yb for _, yb in b])
    assert not np.array_equal(ea1, ea2), "a new order each epoch"
    assert np.array_equal(ea1, eb1), "same seed, same order"
    assert not np.array_equal(ea1, np.arange(50))


def test_resume_gives_the_same_next_epoch():
    X, y = _data(23)
    full = DataLoader(X, y, batch_size=5, rng=np.random.default_rng(3))
    list(full)
    state = full.state_dict()
    expected = [yb.copy() for _, yb in full]            # epoch 2 of the uninterrupted run
    resumed = DataLoader(X, y, batch_size=5, rng=np.random.default_rng(99))
    resumed.load_state_dict(state)
    assert resumed.epoch == 1
    got = [yb for _, yb in resumed]
    assert len(got) == len(expected) and all(np.array_equal(g, e) for g, e in zip(got, expected))


def test_seed_spelling_and_get_set_state():
    X, y = _data(17)
    a = DataLoader(X, y, batch_size=4, seed=5)
    b = DataLoader(X, y, batch_size=4, rng=5)
    assert all(np.array_equal(ya, yb) for (_, ya), (_, yb) in zip(a, b))
    state = a.get_state()
    expected = [yb.copy() for _, yb in a]
    c = DataLoader(X, y, batch_size=4, seed=0)
    c.set_state(state)
    assert all(np.array_equal(g, e) for (_, g), e in zip(c, expected))
    with pytest.raises(ValueError, match="give rng or seed, not both"):
        DataLoader(X, y, rng=1, seed=1)


def test_bad_arguments():
    X, y = _data(4)
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        DataLoader(X, y[:3])
    with pytest.raises(ValueError, match="batch_size=0 must be a positive integer"):
        DataLoader(X, y, batch_size=0)
