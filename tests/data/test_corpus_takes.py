"""RAVDESS takes: the audio-only and full-AV files of one performance never straddle a split.

The audio of a full-AV file is the same performance as its audio-only file but not the same
samples (another encoding), so content hashes alone cannot join them; the ``take`` column can
(``duplicates.annotate(..., same_recording_col="take")``).
"""

import os
import shutil

import numpy as np
import pytest
from audio_backend import soundfile_or_skip

from minitorch_ser.app.experiment import check_no_leak
from minitorch_ser.data import duplicates, ravdess, splits

sf = soundfile_or_skip()

SR = 16000
ACTORS = range(1, 7)
EMOTIONS = ("01", "03", "04", "05")                # neutral, happy, sad, angry


def _tone(seed: int) -> np.ndarray:
    """50 ms of a tone plus noise, different for every seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR // 20) / SR
    return (0.3 * np.sin(2 * np.pi * (120 + 7 * seed) * t)
            + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def ravdess_root(tmp_path_factory):
    """6 actors x 4 emotions x 2 statements = 48 audio-only takes; every other take also has
    the audio of its full-AV file (modality 01, other samples); two audio-only files are also
    byte-copied into a nested Kaggle-style tree."""
    root = tmp_path_factory.mktemp("ravdess")
    seed = 0
    for actor in ACTORS:
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir()
        for emotion in EMOTIONS:
            for statement in (1, 2):
                fields = f"01-{emotion}-01-{statement:02d}-01-{actor:02d}"
                sf.write(folder / f"03-{fields}.wav", _tone(seed), SR, subtype="PCM_16")
                if seed % 2 == 0:
                    sf.write(folder / f"01-{fields}.wav", _tone(seed + 1000), SR,
                             subtype="PCM_16")
                seed += 1
    nested = root / "audio_speech_actors_01-24" / "Actor_01"
    nested.mkdir(parents=True)
    for name in ("03-01-01-01-01-01-01.wav", "03-01-05-01-02-01-01.wav"):
        shutil.copy(root / "Actor_01" / name, nested / name)
    return root


@pytest.fixture(scope="module")
def annotated(ravdess_root):
    df = ravdess.read_metadata(ravdess_root)
    return df, duplicates.annotate(df, None, speaker_col="speaker", progress=False,
                                   same_recording_col="take")


def _sides(split, values):
    return [set(np.asarray(values)[split[s]]) for s in splits.SET_NAMES]


def _assert_takes_on_one_side(split, takes):
    train, val, test = _sides(split, takes)
    assert not (train & val) and not (train & test) and not (val & test)


def test_the_tree_holds_both_modalities_and_copies(annotated):
    df, _ = annotated
    assert len(df) == 48 + 24 + 2 and df["take"].nunique() == 48
    assert (df["modality"] == "full-AV").sum() == 24
    per_take = df.groupby("take")["path"].size()
    assert per_take.max() == 3                      # audio-only, its copy and the AV audio


def test_content_alone_misses_the_av_files_the_take_joins_them(annotated):
    df, a = annotated
    content_only = duplicates.annotate(df, None, progress=False)
    # the byte copies are found by content, the AV audio is not
    assert content_only.groupby("take")["dup_group"].nunique().max() == 2
    assert content_only["dup_group"].nunique() == 48 + 24
    # with the take: one group per take, numbered by its first row
    assert a.groupby("take")["dup_group"].nunique().max() == 1
    assert a["dup_group"].nunique() == 48
    first_row = a.reset_index().groupby("take")["index"].min()
    assert (a["dup_group"].to_numpy() == first_row[a["take"]].to_numpy()).all()
    assert a["speaker_group"].tolist() == a["speaker"].astype(str).tolist()


@pytest.mark.parametrize("seed", range(4))
def test_random_split_with_the_groups_keeps_every_take_on_one_side(annotated, seed):
    _, a = annotated
    split = splits.random_split(a["label"], (0.6, 0.2, 0.2), seed=seed,
                                groups=a["dup_group"].to_numpy())
    splits.check_split(split, len(a))
    _assert_takes_on_one_side(split, a["take"])
    check_no_leak(split, a["take"].to_numpy())


def test_without_the_take_a_random_split_cuts_some_take(annotated):
    df, _ = annotated
    content_only = duplicates.annotate(df, None, progress=False)
    for seed in range(4):                          # why the take column is needed at all
        split = splits.random_split(df["label"], (0.6, 0.2, 0.2), seed=seed,
                                    groups=content_only["dup_group"].to_numpy())
        with pytest.raises(RuntimeError, match="both in training and in validation/test"):
            check_no_leak(split, df["take"].to_numpy())


@pytest.mark.parametrize("seed", range(3))
def test_speaker_split_and_kfold_keep_every_take_on_one_side(annotated, seed):
    _, a = annotated
    split = splits.speaker_split(a, "label", "speaker_group", (4 / 6, 1 / 6, 1 / 6), seed=seed,
                                 n_restarts=2)
    _assert_takes_on_one_side(split, a["take"])
    for fold in splits.speaker_kfold(a, k=3, label_col="label", speaker_col="speaker_group",
                                     val_fraction=0.15, seed=seed, n_restarts=2):
        _assert_takes_on_one_side(fold, a["take"])
        check_no_leak(fold, a["dup_group"].to_numpy())


def test_policy_message_says_the_take_joined_them(annotated, tmp_path):
    _, a = annotated
    with pytest.warns(UserWarning, match=r"identical recordings \(same decoded samples, or "
                                         r"same take\)"):
        duplicates.apply_policy(a, "group", out_dir=tmp_path, label_col="label")
    assert os.path.isfile(tmp_path / "duplicates.csv")
