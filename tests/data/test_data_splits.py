"""Splits: stratified random, speaker-independent, speaker K-fold, oversampling, file I/O."""

import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser.data import splits
from minitorch_ser.data.splits import SET_NAMES


def _assert_partition(split, n):
    allidx = np.concatenate([split[s] for s in SET_NAMES])
    assert np.array_equal(np.sort(allidx), np.arange(n)), "every row in exactly one set"
    for s in SET_NAMES:
        assert split[s].dtype == np.int64 and np.all(np.diff(split[s]) > 0)


def uneven_speakers(seed=0):
    """A BAVED-like table: a few speakers with many clips, many with 3-7 clips, and small
    speakers that only recorded one class."""
    rng = np.random.default_rng(seed)
    sizes = [170, 150, 120, 90, 60, 40] + [21] * 6 + [7] * 14 + [3] * 20   # 914 clips
    rows = []
    for spk, size in enumerate(sizes):
        if size <= 7:
            labels = np.full(size, rng.integers(3))          # one class only
        else:
            labels = rng.choice(3, size=size, p=[0.3, 0.35, 0.35])
        rows += [{"speaker": f"s{spk}", "emotion": int(c)} for c in labels]
    return pd.DataFrame(rows)


# ============================================================================== random split
def test_random_split_stratification_hand_counts():
    labels = np.repeat(["a", "b", "c"], [100, 50, 30])
    split = splits.random_split(labels, (0.8, 0.1, 0.1), seed=0)
    _assert_partition(split, 180)
    # per class: val = test = floor(0.1 * n_c + 1/2) -> 10, 5, 3 (a, b, c)
    for name, expected in (("val", [10, 5, 3]), ("test", [10, 5, 3]), ("train", [80, 40, 24])):
        got = [int(np.sum(labels[split[name]] == c)) for c in "abc"]
        assert got == expected, (name, got)


def test_random_split_seeded():
    labels = np.random.default_rng(1).integers(0, 3, size=200)
    a = splits.random_split(labels, seed=5)
    b = splits.random_split(labels, seed=5)
    c = splits.random_split(labels, seed=6)
    assert all(np.array_equal(a[s], b[s]) for s in SET_NAMES)
    assert not np.array_equal(a["test"], c["test"])


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=5),
       val=st.sampled_from([0.0, 0.1, 0.15, 0.2]), test=st.sampled_from([0.1, 0.2, 0.3]),
       seed=st.integers(0, 1000))
def test_random_split_properties(sizes, val, test, seed):
    labels = np.repeat(np.arange(len(sizes)), sizes)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        split = splits.random_split(labels, (1 - val - test, val, test), seed)
    _assert_partition(split, len(labels))
    # a warning names exactly the classes missing from a set with a positive fraction
    missing = [c for c in range(len(sizes)) for name, frac in (("val", val), ("test", test))
               if frac > 0 and not np.any(labels[split[name]] == c)]
    text = " ".join(str(w.message) for w in caught)
    for c in range(len(sizes)):
        assert (f"class '{c}' (" in text) == (c in missing), (c, missing, text)
    assert all(sizes[c] < 3 for c in missing), "a class with >= 3 clips reaches every set"
    for c, n_c in enumerate(sizes):
        for name, frac in (("val", val), ("test", test)):
            got = int(np.sum(labels[split[name]] == c))
            if n_c >= 3:
                # floor(f n + 1/2), at least 1 when f > 0 (val <= 0.2 and test <= 0.3 leave
                # training at least one clip, so no cap applies)
                expected = int(np.floor(frac * n_c + 0.5))
                assert got == (max(expected, 1) if frac > 0 else 0), (c, name, got)
        assert np.sum(labels[split["train"]] == c) >= 1, "training keeps every class"


def test_random_split_warns_naming_the_classes_too_small_for_every_set():
    labels = np.repeat(["ang", "hap", "neu", "sad"], [20, 2, 1, 3])
    with pytest.warns(UserWarning) as caught:
        split = splits.random_split(labels, (0.8, 0.1, 0.1), seed=0)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        "random_split: a class needs at least 3 clips to reach every set; class 'hap' (2 clips) "
        "not in val or test; class 'neu' (1 clip) not in val or test")
    for c, n_val in (("ang", 2), ("sad", 1)):       # >= 3 clips: cut as before the warning
        assert int(np.sum(labels[split["val"]] == c)) == n_val
        assert int(np.sum(labels[split["test"]] == c)) == n_val
    # a set with fraction 0 is not reported; 2 clips at 40% test round to 1
    with pytest.warns(UserWarning, match=r"class 'neu' \(1 clip\) not in test$"):
        splits.random_split(labels, (0.6, 0.0, 0.4), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        splits.random_split(np.repeat(["ang", "sad"], [20, 3]), (0.8, 0.1, 0.1), seed=0)


def test_random_split_warning_counts_groups():
    # 4 clips of 'hap' but only 2 recordings (groups): the groups cannot reach 3 sets
    labels = np.array(["ang"] * 20 + ["hap"] * 4)
    groups = np.concatenate([np.arange(20), [20, 20, 21, 21]])
    with pytest.warns(UserWarning, match=r"at least 3 clips or groups .* class 'hap' \(4 clips\)"):
        splits.random_split(labels, (0.5, 0.25, 0.25), seed=0, groups=groups)


@pytest.mark.parametrize("fractions", [(0.5, 0.3, 0.3), (0.0, 0.5, 0.5), (0.9, -0.1, 0.2),
                                       (0.8, 0.2)])
def test_random_split_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions="):
        splits.random_split(np.zeros(10), fractions)


# ============================================================================ speaker split
def _brute_force_min(counts, fractions):
    S = len(counts)
    assign = np.array(list(itertools.product(range(3), repeat=S)))          # (3^S, S)
    totals = np.einsum("asg,sk->agk", np.eye(3)[assign], counts)
    n = counts.sum()
    return splits._cost(totals, np.asarray(fractions) * n, counts.sum(0) / n,
                        np.asarray(fractions) > 0, n).min()


@pytest.mark.parametrize("seed", range(5))
def test_assign_groups_finds_the_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 8, size=(7, 3)).astype(float)
    counts[0] += rng.integers(10, 30, size=3)
    fractions = np.array([0.6, 0.2, 0.2])
    group = splits.assign_groups(counts, fractions, np.random.default_rng(0), n_restarts=10)
    n = counts.sum()
    got = splits._cost(np.eye(3)[group].T @ counts, fractions * n, counts.sum(0) / n,
                       fractions > 0, n)
    assert got == pytest.approx(_brute_force_min(counts, fractions), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_speaker_split_no_overlap_fractions_and_classes(seed):
    df = uneven_speakers(seed)
    n = len(df)
    split = splits.speaker_split(df, "emotion", "speaker", (0.8, 0.1, 0.1), seed=seed)
    _assert_partition(split, n)
    spk = df["speaker"].to_numpy()
    sets = {s: set(spk[split[s]]) for s in SET_NAMES}
    assert not sets["train"] & sets["val"] and not sets["train"] & sets["test"]
    assert not sets["val"] & sets["test"]
    y = df["emotion"].to_numpy()
    for name, frac in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
        assert abs(len(split[name]) / n - frac) <= 0.01, (name, len(split[name]) / n)
        assert set(y[split[name]]) == {0, 1, 2}, name


def test_speaker_split_beats_naive_speaker_id_split():
    """Cutting the speaker ids 80/10/10 misses the clip targets the search meets."""
    df = uneven_speakers(0)
    n = len(df)
    ids = np.random.default_rng(0).permutation(df["speaker"].unique())
    naive_test = df["speaker"].isin(ids[:len(ids) // 10]).sum() / n
    split = splits.speaker_split(df, seed=0)
    assert abs(len(split["test"]) / n - 0.1) < abs(naive_test - 0.1)


def test_speaker_split_needs_three_speakers():
    df = pd.DataFrame({"speaker": [1, 1, 2, 2], "emotion": [0, 1, 0, 1]})
    with pytest.raises(ValueError, match="at least 3 speakers, the data has 2"):
        splits.speaker_split(df)


def test_speaker_split_warns_when_a_class_cannot_be_everywhere():
    # class 2 spoken by a single speaker: it can only be in one set
    df = pd.DataFrame({"speaker": list("aaabbbcccddd") + ["e"] * 3,
                       "emotion": [0, 1, 0] * 4 + [2, 2, 2]})
    with pytest.warns(UserWarning, match="missing class 2 in val, class 2 in test"):
        splits.speaker_split(df, fractions=(0.6, 0.2, 0.2))


def test_speaker_split_missing_column():
    with pytest.raises(ValueError, match="column 'speaker' is not in the data"):
        splits.speaker_split(pd.DataFrame({"emotion": [0, 1]}))


# ============================================================================ speaker k-fold
def test_speaker_kfold_covers_every_clip_once():
    df = uneven_speakers(3)
    n = len(df)
    k = 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # every class reachable here
        folds = splits.speaker_kfold(df, k=k, val_fraction=0.1, seed=0)
    assert len(folds) == k
    tested = np.concatenate([f["test"] for f in folds])
    assert np.array_equal(np.sort(tested), np.arange(n)), "each clip in exactly one test fold"
    spk = df["speaker"].to_numpy()
    y = df["emotion"].to_numpy()
    for f in folds:
        _assert_partition(f, n)
        sets = [set(spk[f[s]]) for s in SET_NAMES]
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
        assert abs(len(f["test"]) / n - 1 / k) <= 0.02, len(f["test"]) / n
        assert abs(len(f["val"]) / n - 0.1) <= 0.02, len(f["val"]) / n
        for s in SET_NAMES:
            assert set(y[f[s]]) == {0, 1, 2}


def test_speaker_kfold_without_validation_and_bad_k():
    df = uneven_speakers(0)
    folds = splits.speaker_kfold(df, k=3, val_fraction=0.0)
    assert all(len(f["val"]) == 0 for f in folds)
    with pytest.raises(ValueError, match="k=1 must be in"):
        splits.speaker_kfold(df, k=1)
    with pytest.raises(ValueError, match="val_fraction=0.9"):
        splits.speaker_kfold(df, k=5, val_fraction=0.9)


# =============================================================================== oversampling
def test_oversample_balances_training_only():
    labels = np.array([0] * 60 + [1] * 25 + [2] * 15)
    split = splits.random_split(labels, seed=0)
    train = split["train"]
    out = splits.oversample(train, labels, np.random.default_rng(0))
    counts = np.bincount(labels[out])
    # per class val = test = floor(0.1 n + 1/2): 6, 3 (2.5 rounds up), 2 -> train 48, 19, 11
    assert np.bincount(labels[train]).tolist() == [48, 19, 11]
    assert counts.tolist() == [48, 48, 48]
    assert set(out) <= set(train), "only training clips are repeated"
    assert np.array_equal(out[:len(train)], train), "originals kept, extras appended"
    assert not set(out) & (set(split["val"]) | set(split["test"]))
    # validation and test are untouched by construction: the split itself is unchanged
    assert np.bincount(labels[split["test"]]).tolist() == [6, 3, 2]


def test_oversample_seeded_and_empty():
    labels = np.array([0, 0, 0, 1])
    a = splits.oversample(np.arange(4), labels, 3)
    b = splits.oversample(np.arange(4), labels, 3)
    assert np.array_equal(a, b) and a[4:].tolist() == [3, 3]
    assert splits.oversample(np.array([], dtype=int), labels, 0).size == 0


# ================================================================================ I/O, checks
def test_save_load_csv_json_round_trip(tmp_path):
    labels = np.random.default_rng(0).integers(0, 3, size=50)
    paths = [f"/data/{i:03d}.wav" for i in range(50)]
    split = splits.random_split(labels, seed=1)
    for suffix in ("csv", "json"):
        f = tmp_path / f"split.{suffix}"
        splits.save_split(split, f, paths)
        back = splits.load_split(f)
        assert all(np.array_equal(split[s], back[s]) for s in SET_NAMES)
    table = pd.read_csv(tmp_path / "split.csv")
    assert list(table.columns) == ["index", "path", "split"]
    assert table.loc[split["test"][0], "split"] == "test"
    assert json.loads((tmp_path / "split.json").read_text())["paths"]["val"][0] == paths[split["val"][0]]


def test_load_split_matches_by_path(tmp_path):
    labels = np.arange(30) % 3
    paths = [f"/old/place/{i:03d}.wav" for i in range(30)]
    split = splits.random_split(labels, seed=2)
    splits.save_split(split, tmp_path / "s.csv", paths)
    # the data was re-read in another order, from another folder
    perm = np.random.default_rng(0).permutation(30)
    moved = [paths[i].replace("/old/place", "/new") for i in perm]
    back = splits.load_split(tmp_path / "s.csv", moved)
    for s in SET_NAMES:
        assert sorted(moved[i].rsplit("/", 1)[1] for i in back[s]) == sorted(
            paths[i].rsplit("/", 1)[1] for i in split[s])
    with pytest.raises(ValueError, match=r"1 file\(s\) of the saved split are not in the data"):
        splits.load_split(tmp_path / "s.csv", moved[1:])


def test_split_file_errors(tmp_path):
    split = {"train": np.array([0, 1]), "val": np.array([1]), "test": np.array([2])}
    with pytest.raises(ValueError, match="overlap"):
        splits.check_split(split)
    with pytest.raises(ValueError, match="must end in .csv or .json"):
        splits.save_split({"train": [0], "val": [], "test": [1]}, tmp_path / "s.txt")
    with pytest.raises(ValueError, match="missing the set"):
        splits.check_split({"train": [0]})
    (tmp_path / "bad.csv").write_text("index,split\n0,train\n1,holdout\n")
    with pytest.raises(ValueError, match="unknown set names"):
        splits.load_split(tmp_path / "bad.csv")


def test_split_summary():
    labels = np.array([0, 0, 1, 1, 1, 2])
    speakers = np.array(["a", "a", "b", "c", "c", "c"])
    split = {"train": np.array([0, 1, 2]), "val": np.array([3]), "test": np.array([4, 5])}
    table = splits.split_summary(split, labels, speakers)
    assert table.loc["train"].tolist() == [3, 50.0, 2, 2, 1, 0]
    assert table.loc["test", "speakers"] == 1 and table.loc["test", "2"] == 1
