"""Duplicate recordings found by content (copies, links, re-encodings), kept on one side of splits."""

import os
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
from audio_backend import soundfile_or_skip

from minitorch_ser.data import duplicates, splits
from minitorch_ser.app.experiment import check_no_leak

soundfile = soundfile_or_skip()

SR = 16000


def _tone(seed: int, seconds: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    y = 0.3 * np.sin(2 * np.pi * (150 + 50 * seed) * t) + 0.01 * rng.standard_normal(len(t))
    return y.astype(np.float32)


@pytest.fixture()
def corpus(tmp_path):
    """Ten files, four recordings: a byte copy, a hard link, a symlink and a FLAC of one
    recording (speaker A), and speaker B whose two files are speaker C's recordings."""
    d = tmp_path / "audio"
    d.mkdir()
    soundfile.write(d / "a1.wav", _tone(1), SR, subtype="PCM_16")
    shutil.copy(d / "a1.wav", d / "a1_copy.wav")
    os.link(d / "a1.wav", d / "a1_hard.wav")
    os.symlink(d / "a1.wav", d / "a1_sym.wav")
    y, _ = soundfile.read(d / "a1.wav", dtype="int16")
    soundfile.write(d / "a1_reencoded.flac", y, SR, subtype="PCM_16")
    soundfile.write(d / "c1.wav", _tone(2), SR, subtype="PCM_16")
    soundfile.write(d / "c2.wav", _tone(3), SR, subtype="PCM_16")
    shutil.copy(d / "c1.wav", d / "b1.wav")
    shutil.copy(d / "c2.wav", d / "b2.wav")
    soundfile.write(d / "a2.wav", _tone(4), SR, subtype="PCM_16")
    names = ["a1", "a1_copy", "a1_hard", "a1_sym", "a1_reencoded", "a2", "b1", "b2", "c1", "c2"]
    files = [str(d / (n + (".flac" if n == "a1_reencoded" else ".wav"))) for n in names]
    return pd.DataFrame({"path": files, "speaker": [n[0].upper() for n in names],
                         "label": ["x", "x", "x", "x", "x", "y", "x", "y", "x", "y"]})


def test_copies_links_and_reencodings_share_a_hash_and_a_group(corpus, tmp_path):
    a = duplicates.annotate(corpus, cache_dir=tmp_path / "cache", speaker_col="speaker",
                            progress=False)
    h = a["content_hash"].tolist()
    assert len(set(h[:5])) == 1                        # copy, hard link, symlink, FLAC
    assert h[6] == h[8] and h[7] == h[9]               # B's files are C's recordings
    assert len(set(h)) == 4                            # a1, a2, c1, c2
    assert a["dup_group"].tolist() == [0, 0, 0, 0, 0, 5, 6, 7, 6, 7]
    assert a["speaker_group"].tolist() == ["A"] * 6 + ["B+C"] * 4


def test_a_changed_sample_is_another_recording(tmp_path):
    y = _tone(1)
    soundfile.write(tmp_path / "p.wav", y, SR, subtype="FLOAT")
    y[100] += 1e-6
    soundfile.write(tmp_path / "q.wav", y, SR, subtype="FLOAT")
    hashes = [duplicates.content_hash(tmp_path / name) for name in ("p.wav", "q.wav")]
    assert hashes[0] != hashes[1]


def test_hashes_are_cached_and_recomputed_for_a_rewritten_file(corpus, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = duplicates.content_hashes(corpus["path"], cache, progress=False)
    assert (cache / duplicates.HASH_CACHE).is_file()
    calls = []
    real = duplicates.content_hash
    monkeypatch.setattr(duplicates, "content_hash", lambda p: calls.append(p) or real(p))
    assert duplicates.content_hashes(corpus["path"], cache, progress=False) == first
    assert calls == []                                 # nothing decoded the second time
    soundfile.write(corpus["path"][5], _tone(9), SR, subtype="PCM_16")
    os.utime(corpus["path"][5], ns=(1, 1))             # a new stamp, whatever the clock
    again = duplicates.content_hashes(corpus["path"], cache, progress=False)
    assert calls == [os.path.abspath(corpus["path"][5])] and again[5] != first[5]


def test_a_damaged_hash_cache_warns_and_recomputes(corpus, tmp_path):
    cache = tmp_path / "cache"
    first = duplicates.content_hashes(corpus["path"], cache, progress=False)
    (cache / duplicates.HASH_CACHE).write_bytes(b"\x00\xffnot,a\ncsv")
    with pytest.warns(UserWarning, match="content-hash cache .* unreadable"):
        assert duplicates.content_hashes(corpus["path"], cache, progress=False) == first


def test_an_undecodable_file_is_its_own_group(corpus, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF????WAVEjunk")
    df = pd.concat([corpus, pd.DataFrame({"path": [str(bad)], "speaker": ["Z"], "label": ["x"]})],
                   ignore_index=True)
    a = duplicates.annotate(df, None, progress=False)
    assert a["content_hash"].iloc[-1] == "" and a["dup_group"].iloc[-1] == len(df) - 1


@pytest.mark.parametrize("seed", range(8))
def test_random_split_never_cuts_a_group(seed):
    rng = np.random.default_rng(seed)
    n = 300
    groups = rng.integers(0, 120, n)                   # many groups of 1-7 copies
    labels = rng.integers(0, 3, 120)[groups]           # one label per group
    split = splits.random_split(labels, (0.7, 0.15, 0.15), seed=seed, groups=groups)
    splits.check_split(split, n)
    sides = [set(groups[split[s]]) for s in splits.SET_NAMES]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sum(len(split[s]) for s in splits.SET_NAMES) == n
    for s, f in zip(("val", "test"), (0.15, 0.15)):   # sizes stay near their targets
        assert abs(len(split[s]) - f * n) <= 3 * 7
    check_no_leak(split, groups)


def test_random_split_with_singleton_groups_equals_the_plain_split():
    labels = np.random.default_rng(0).integers(0, 4, 97)
    plain = splits.random_split(labels, seed=5)
    grouped = splits.random_split(labels, seed=5, groups=np.arange(97)[::-1] * 3)
    for s in splits.SET_NAMES:
        np.testing.assert_array_equal(plain[s], grouped[s])


def test_speaker_splits_keep_speakers_that_share_recordings_together(corpus, tmp_path):
    extra = []
    for k, spk in enumerate("DEFG"):                   # four more speakers, own recordings
        for j, label in enumerate("xy"):
            path = tmp_path / f"{spk}{j}.wav"
            soundfile.write(path, _tone(10 + 2 * k + j), SR, subtype="PCM_16")
            extra.append({"path": str(path), "speaker": spk, "label": label})
    df = pd.concat([corpus, pd.DataFrame(extra)], ignore_index=True)
    a = duplicates.annotate(df, None, speaker_col="speaker", progress=False)
    for seed in range(6):
        split = splits.speaker_split(a, "label", "speaker_group", (0.5, 0.25, 0.25), seed=seed,
                                     n_restarts=2)
        side = {s: set(a["speaker"].to_numpy()[split[s]]) for s in splits.SET_NAMES}
        for s in splits.SET_NAMES:
            assert ("B" in side[s]) == ("C" in side[s])
        check_no_leak(split, a["dup_group"].to_numpy())
        for fold in splits.speaker_kfold(a, k=3, label_col="label", speaker_col="speaker_group",
                                         val_fraction=0.2, seed=seed, n_restarts=2):
            check_no_leak(fold, a["dup_group"].to_numpy())


def test_check_no_leak_names_the_straddling_recording():
    groups = np.array([0, 0, 2, 3])
    with pytest.raises(RuntimeError, match="1 recording.*row 1"):
        check_no_leak({"train": np.array([0, 2]), "val": np.array([1]), "test": np.array([3])},
                      groups)


def test_policies_group_drop_refuse(corpus, tmp_path):
    a = duplicates.annotate(corpus, None, speaker_col="speaker", progress=False)
    with pytest.warns(UserWarning) as record:
        kept = duplicates.apply_policy(a, "group", out_dir=tmp_path / "run", label_col="label")
    assert len(record) == 1
    message = str(record[0].message)
    assert "9 files are 3 groups" in message and "B+C" in message
    assert str(tmp_path / "run" / "duplicates.csv") in message
    listed = pd.read_csv(tmp_path / "run" / "duplicates.csv")
    assert len(listed) == 9 and set(listed["dup_group"]) == {0, 6, 7}
    assert not listed["label_conflict"].any()
    assert kept is a
    with pytest.warns(UserWarning, match="dropped 6 copies"):
        dropped = duplicates.apply_policy(a, "drop", label_col="label")
    assert len(dropped) == 4 and dropped["content_hash"].is_unique
    assert dropped["dup_group"].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="--duplicates group"):
        duplicates.apply_policy(a, "refuse")
    with pytest.raises(ValueError, match="policy 'keep' must be one of"):
        duplicates.apply_policy(a, "keep")


@pytest.mark.parametrize("row", [1, 8])
def test_label_conflicts_are_reported_on_their_own_rows(corpus, tmp_path, row):
    corpus.loc[row, "label"] = "y"                     # a copy labelled otherwise
    a = duplicates.annotate(corpus, None, progress=False)
    with pytest.warns(UserWarning, match="1 group\\(s\\) carry different labels"):
        duplicates.apply_policy(a, "group", out_dir=tmp_path, label_col="label")
    listed = pd.read_csv(tmp_path / "duplicates.csv")
    group = a["dup_group"][row]
    flagged = set(listed.loc[listed["label_conflict"], "path"])
    assert flagged == set(a.loc[a["dup_group"] == group, "path"])


def test_no_duplicates_no_warning(tmp_path):
    for i in range(3):
        soundfile.write(tmp_path / f"{i}.wav", _tone(i), SR)
    df = pd.DataFrame({"path": [str(tmp_path / f"{i}.wav") for i in range(3)]})
    a = duplicates.annotate(df, None, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert duplicates.apply_policy(a, "refuse") is a
    assert not (tmp_path / "duplicates.csv").exists()


def test_split_csv_carries_hash_and_group(corpus, tmp_path):
    a = duplicates.annotate(corpus, None, speaker_col="speaker", progress=False)
    with pytest.warns(UserWarning, match="not in val or test"):     # 3 recordings of 'x'
        split = splits.random_split(a["label"], (0.6, 0.2, 0.2), seed=0, groups=a["dup_group"])
    splits.save_split(split, tmp_path / "split.csv", paths=a["path"].tolist(),
                      columns=a[["content_hash", "dup_group", "speaker_group"]])
    table = pd.read_csv(tmp_path / "split.csv", keep_default_na=False)
    assert list(table.columns) == ["index", "path", "split", "content_hash", "dup_group",
                                   "speaker_group"]
    assert table["content_hash"].tolist() == a["content_hash"].tolist()
    # what a reader checks: no content hash of the test set appears in training
    train = set(table.loc[table["split"] == "train", "content_hash"])
    assert not train & set(table.loc[table["split"] != "train", "content_hash"])
