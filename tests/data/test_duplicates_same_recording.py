"""``duplicates.annotate``'s ``same_recording_col``: known-same recordings join content groups."""

import numpy as np
import pandas as pd
import pytest
from audio_backend import soundfile_or_skip

from minitorch_ser.data import duplicates

sf = soundfile_or_skip()

SR = 16000


def _tone(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(SR // 20) / SR
    return (0.3 * np.sin(2 * np.pi * (200 + 30 * seed) * t)
            + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture()
def files(tmp_path):
    """Seven files: rows 0 and 2 hold one recording, rows 1 and 3 another, 4, 5, 6 their own."""
    content = [0, 1, 0, 1, 4, 5, 6]
    paths = []
    for i, c in enumerate(content):
        path = tmp_path / f"f{i}.wav"
        sf.write(path, _tone(c), SR, subtype="PCM_16")
        paths.append(str(path))
    return pd.DataFrame({"path": paths, "speaker": ["A", "A", "A", "A", "B", "B", "C"]})


def test_without_the_column_nothing_changes(files):
    plain = duplicates.annotate(files, None, speaker_col="speaker", progress=False)
    assert plain["dup_group"].tolist() == [0, 1, 0, 1, 4, 5, 6]
    assert "same_recording_col" not in plain.attrs
    distinct = duplicates.annotate(files.assign(take=[f"t{i}" for i in range(7)]), None,
                                   speaker_col="speaker", progress=False,
                                   same_recording_col="take")
    pd.testing.assert_frame_equal(distinct.drop(columns="take"), plain)


def test_known_ids_join_content_groups_transitively(files):
    # row 3 (content of 1) and row 2 (content of 0) are one take: 0, 1, 2, 3 become one group;
    # rows 4 and 6 share a take across speakers B and C; row 5 has no id
    take = ["a", None, "k", "k", "m", np.nan, "m"]
    a = duplicates.annotate(files.assign(take=take), None, speaker_col="speaker",
                            progress=False, same_recording_col="take")
    assert a["dup_group"].tolist() == [0, 0, 0, 0, 4, 5, 4]
    assert a["speaker_group"].tolist() == ["A"] * 4 + ["B+C", "B+C", "B+C"]
    assert a.attrs["same_recording_col"] == "take"


def test_a_missing_column_is_named(files):
    with pytest.raises(ValueError, match="same_recording_col='take' is not a column"):
        duplicates.annotate(files, None, progress=False, same_recording_col="take")
