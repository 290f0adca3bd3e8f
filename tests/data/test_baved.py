"""BAVED metadata from file names, its quirks and errors, and the EDA tables."""

import os
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from minitorch_ser.data import baved, synthetic


def _write_empty_wav(path):
    """A valid tiny wav (metadata reading never opens it, but keep the files real)."""
    import soundfile as sf
    sf.write(path, np.zeros(160, dtype=np.float32), 16000, subtype="PCM_16")


@pytest.fixture
def small_root(tmp_path):
    root = tmp_path / "baved"
    synthetic.make_dataset(root, n_speakers=3, n_words=2, clips_per=1, duration=0.3)
    return root


def test_parse_name_fields():
    assert baved.parse_name("49-m-23-6-1-201.wav") == {
        "speaker": 49, "gender": "m", "age": 23, "word": 6, "emotion": 1, "record": 201}
    assert baved.parse_name("100-F-6-0-2-0.WAV")["gender"] == "f"


@pytest.mark.parametrize("name", [
    "49-m-23-6-1.wav",          # five fields
    "49-x-23-6-1-201.wav",      # gender not m/f
    "49-m-23-7-1-201.wav",      # word outside 0..6
    "49-m-23-6-3-201.wav",      # level outside 0..2
    "a-m-23-6-1-201.wav",       # speaker not a number
    "49-m-23-6-1-201.mp3",      # not a wav
    "49_m_23_6_1_201.wav",      # wrong separator
])
def test_parse_name_rejects(name):
    assert baved.parse_name(name) is None


def test_read_metadata_good_names(small_root):
    df = baved.read_metadata(small_root)
    assert list(df.columns) == list(baved.COLUMNS)
    assert len(df) == 3 * 2 * 3                     # speakers x words x levels
    assert df.index.tolist() == list(range(len(df)))
    for row in df.itertuples():
        name = os.path.basename(row.path)
        spk, gender, age, word, level, record = name[:-4].split("-")
        assert (row.speaker, row.gender, row.age, row.word, row.emotion, row.record) == (
            int(spk), gender, int(age), int(word), int(level), int(record))
        assert row.folder == int(os.path.basename(os.path.dirname(row.path)))
        assert os.path.isfile(row.path)
    assert sorted(df["emotion"].unique()) == [0, 1, 2]
    assert df["folder"].is_monotonic_increasing
    # a speaker keeps one gender and one age over all their clips
    assert df.groupby("speaker")[["gender", "age"]].nunique().max().max() == 1


def test_non_wav_files_are_ignored(small_root):
    (small_root / "0" / "README.txt").write_text("notes")
    (small_root / "0" / ".DS_Store").write_bytes(b"\0")
    assert len(baved.read_metadata(small_root)) == 18


def test_bad_names_are_all_listed(small_root):
    bad = [small_root / "0" / "not-a-name.wav", small_root / "1" / "3-m-20-1-9-5.wav"]
    for p in bad:
        _write_empty_wav(p)
    with pytest.raises(ValueError) as err:
        baved.read_metadata(small_root)
    message = str(err.value)
    assert "2 file name(s)" in message
    for p in bad:
        assert str(p) in message


def test_bad_names_skipped_with_count(small_root):
    bad = small_root / "0" / "nonsense.wav"
    _write_empty_wav(bad)
    with pytest.warns(UserWarning, match=r"skipped 1 file") as rec:
        df = baved.read_metadata(small_root, errors="skip")
    assert str(bad) in str(rec[0].message)
    assert len(df) == 18 and str(bad) not in set(df["path"])


def test_word_mismatch_trusts_name_and_warns_once(small_root):
    # two files whose names say word 1, moved into folder 0
    moved = sorted((small_root / "1").iterdir())[:2]
    for p in moved:
        shutil.move(p, small_root / "0" / p.name)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        df = baved.read_metadata(small_root)
    mism = [w for w in rec if "different from their folder" in str(w.message)]
    assert len(mism) == 1
    for p in moved:
        assert p.name in str(mism[0].message)
        row = df[df["path"] == str(small_root / "0" / p.name)].iloc[0]
        assert row["word"] == 1 and row["folder"] == 0
    assert len(df) == 18


def test_no_warning_without_mismatch(small_root):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        baved.read_metadata(small_root)


def test_missing_or_empty_folder_says_how_to_get_baved(tmp_path):
    with pytest.raises(FileNotFoundError, match="git clone https://github.com/40uf411"):
        baved.read_metadata(tmp_path / "nowhere")
    (tmp_path / "empty" / "0").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no BAVED clips found.*git clone"):
        baved.read_metadata(tmp_path / "empty")


def test_bad_errors_argument(small_root):
    with pytest.raises(ValueError, match="errors='ignore' must be"):
        baved.read_metadata(small_root, errors="ignore")


def test_eda_counts_match_hand_counts(tmp_path):
    df = pd.DataFrame({
        "speaker": [1, 1, 1, 2, 2, 3],
        "gender": ["m", "m", "m", "f", "f", "m"],
        "age": [20, 20, 20, 30, 30, 25],
        "word": [0, 1, 0, 1, 1, 0],
        "emotion": [0, 2, 2, 1, 2, 0],
    })
    report = baved.eda(df, out_dir=tmp_path)
    emo = report["emotion"]
    assert emo.index.tolist() == ["low", "neutral", "high"]
    assert emo["clips"].tolist() == [2, 1, 3]
    assert emo["percent"].tolist() == [33.3, 16.7, 50.0]
    gen = report["gender"]
    assert gen.loc["m", "clips"] == 4 and gen.loc["f", "clips"] == 2
    assert gen.loc["m", "speakers"] == 2 and gen.loc["f", "speakers"] == 1
    cross = report["emotion_by_gender"]
    assert cross.loc["high", "m"] == 2 and cross.loc["high", "f"] == 1 and cross.loc["low", "f"] == 0
    spk = report["speaker"]
    assert spk.index.tolist() == [1, 2, 3]          # most clips first
    assert spk.loc[1, ["clips", "low", "neutral", "high"]].tolist() == [3, 1, 0, 2]
    assert spk.loc[2, "gender"] == "f" and spk.loc[3, "age"] == 25
    text = str(report)
    assert "== clips by emotion ==" in text and "== clips by gender ==" in text
    for name in ("emotion", "gender", "speaker", "word"):
        assert (tmp_path / f"eda_{name}.csv").is_file()
    try:
        import matplotlib  # noqa: F401
        assert sorted(os.path.basename(f) for f in report.figures) == [
            "eda_emotion.png", "eda_gender.png", "eda_speaker.png"]
    except ImportError:
        assert report.figures == []


def test_eda_generic_labels():
    df = pd.DataFrame({"label": ["SAD", "ANG", "ANG"]})
    report = baved.eda(df, label_col="label", label_names=None)
    assert report["label"]["clips"].to_dict() == {"ANG": 2, "SAD": 1}
    assert set(report.tables) == {"label"}
    with pytest.raises(ValueError, match="label_col='emotion' is not a column"):
        baved.eda(df)


def test_real_baved():
    root = os.environ.get("BAVED_DIR")
    if not root:
        pytest.skip("BAVED_DIR is not set")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        df = baved.read_metadata(root)
    assert len(df) == 1935
    assert df["speaker"].nunique() == 60
    assert sorted(df["emotion"].unique()) == [0, 1, 2]
    mism = [w for w in rec if "different from their folder" in str(w.message)]
    assert len(mism) == 1 and "49-m-23-6-1-201.wav" in str(mism[0].message)
    row = df[df["path"].str.endswith("49-m-23-6-1-201.wav")].iloc[0]
    assert row["word"] == 6 and row["folder"] == 0
    report = baved.eda(df)
    assert report["emotion"]["clips"].tolist() == [585, 672, 678]
    assert report["gender"]["clips"].to_dict() == {"f": 826, "m": 1109}
    assert report["speaker"]["clips"].sum() == 1935


def test_eda_keeps_classes_without_clips():
    df = pd.DataFrame({"emotion": [2, 2, 0]})
    assert baved.eda(df)["emotion"]["clips"].to_dict() == {"low": 1, "neutral": 0, "high": 2}
