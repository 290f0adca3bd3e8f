"""Datasets from CSV manifests: paths, classes, and every kind of bad manifest."""

import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from minitorch_ser.data import features, manifest


def _wav(path, seconds=0.3, sr=16000, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    y = 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr))
    sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
    return path


@pytest.fixture
def corpus(tmp_path):
    """Six clips under corpus/ at three sample rates, and a manifest with relative paths."""
    root = tmp_path / "corpus"
    rows = [("s1/a.wav", "sad", "s1", 8000), ("s1/b.wav", "angry", "s1", 16000),
            ("s2/c.wav", "neutral", "s2", 44100), ("s2/d.wav", "angry", "s2", 16000),
            ("s3/e.wav", "sad", "s3", 22050), ("s3/f.wav", "neutral", "s3", 16000)]
    for i, (rel, _, _, sr) in enumerate(rows):
        _wav(root / rel, seconds=0.4 + 0.9 * i, sr=sr, seed=i)
    table = pd.DataFrame({"path": [r[0] for r in rows], "label": [r[1] for r in rows],
                          "speaker": [r[2] for r in rows], "gender": list("mmffmf"),
                          "age": [20, 20, 31, 31, 45, 45]})
    table.to_csv(root / "manifest.csv", index=False)
    return root


def _write(path, text):
    path.write_text(text)
    return path


def test_relative_paths_resolve_against_the_manifest_folder(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                 # not the manifest's folder
    df, class_names = manifest.read_manifest("corpus/manifest.csv")
    assert class_names == ["angry", "neutral", "sad"]
    assert df["path"].tolist() == [str(corpus / r) for r in
                                   ("s1/a.wav", "s1/b.wav", "s2/c.wav", "s2/d.wav", "s3/e.wav",
                                    "s3/f.wav")]
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in df["path"])
    assert df["y"].tolist() == [2, 0, 1, 0, 2, 1]
    assert [class_names[k] for k in df["y"]] == df["label"].tolist()
    # other columns are kept (with their types); the speaker is text
    assert df["gender"].tolist() == list("mmffmf") and df["age"].dtype.kind == "i"
    assert df["speaker"].tolist() == ["s1", "s1", "s2", "s2", "s3", "s3"]
    assert df.attrs["class_names"] == class_names
    assert df.attrs["manifest"] == str(corpus / "manifest.csv")


def test_absolute_paths_numeric_labels_and_spaces(corpus, tmp_path):
    a, b, c = (str(corpus / p) for p in ("s1/a.wav", "s2/c.wav", "s3/e.wav"))
    m = _write(tmp_path / "m.csv", f"path, label, speaker\n{a}, 10, 7\n{b}, 2, 7\n{c},1 ,08\n")
    df, class_names = manifest.read_manifest(m)
    assert class_names == ["1", "2", "10"]                  # integers sort as numbers
    assert df["y"].tolist() == [2, 1, 0]
    assert df["path"].tolist() == [a, b, c]
    assert df["speaker"].tolist() == ["7", "7", "08"]       # ids stay text ("08" is not 8)
    assert manifest.sort_labels(["b", "a", "B"]) == ["B", "a", "b"]


def test_missing_files_are_all_reported_in_one_error(corpus):
    m = _write(corpus / "gaps.csv", "path,label\ns1/a.wav,x\nnope1.wav,y\ns2/c.wav,x\n"
                                    "s9/nope2.wav,y\n../nope3.wav,x\n")
    with pytest.raises(ValueError, match=r"3 of 5 file\(s\) listed in manifest") as err:
        manifest.read_manifest(m)
    msg = str(err.value)
    for line, rel in ((3, "nope1.wav"), (5, "s9/nope2.wav"), (6, "../nope3.wav")):
        assert f"line {line}: {os.path.normpath(corpus / rel)}" in msg
    assert "a.wav" not in msg and "c.wav" not in msg
    df, _ = manifest.read_manifest(m, check_files=False)           # opt-out for remote data
    assert len(df) == 5


@pytest.mark.parametrize("text, pattern", [
    ("file,label\na.wav,x\n", r"lacks the column\(s\) \['path'\]; it has \['file', 'label'\]"),
    ("path,emotion\na.wav,x\n", r"lacks the column\(s\) \['label'\]"),
    ("path,label\n", "has a header but no rows"),
    ("", "is empty: it needs a header line"),
    ("path,label\ns1/a.wav,x\ns1/b.wav,x\ns2/c.wav,x\n",
     r"all 3 rows \(lines 2-4\) have the label 'x'; a classifier needs at least 2 classes"),
    ("path,label\ns1/a.wav,x\n,y\ns2/c.wav,\ns2/d.wav, \n",
     r"empty 'path' cell\(s\) on line\(s\) 3$"),
    ("path,label\ns1/a.wav,x\ns1/b.wav,\ns2/c.wav,\n",
     r"empty 'label' cell\(s\) on line\(s\) 3, 4"),
    ("path,label,speaker\ns1/a.wav,x,1\ns1/b.wav,y,\n",
     r"empty 'speaker' cell\(s\) on line\(s\) 3"),
    ("path,label\ns1/a.wav,x\ns1/b.wav,y\n./s1/a.wav,y\n",
     r"lists 1 file\(s\) more than once.*\n  lines 2, 4: .*a.wav"),
])
def test_bad_manifests_raise_naming_the_rows(corpus, text, pattern):
    m = _write(corpus / "bad.csv", text)
    with pytest.raises(ValueError, match=pattern):
        manifest.read_manifest(m)


def test_missing_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest .*nothing.csv' does not exist"):
        manifest.read_manifest(tmp_path / "nothing.csv")


def test_read_for_experiment_and_the_speaker_column(corpus):
    data = manifest.read_for_experiment(corpus / "manifest.csv", split="speaker")
    assert data.name == "manifest" and data.class_names == ["angry", "neutral", "sad"]
    assert data.labels.dtype == np.int64 and data.labels.tolist() == data.df["y"].tolist()
    m = _write(corpus / "nospk.csv", "path,label\ns1/a.wav,x\ns1/b.wav,y\n")
    assert manifest.read_for_experiment(m).class_names == ["x", "y"]
    with pytest.raises(ValueError, match="needs a 'speaker' column .*nospk.csv"):
        manifest.read_for_experiment(m, split="speaker")


def test_write_manifest_round_trip_with_relative_paths(corpus, tmp_path):
    df, _ = manifest.read_manifest(corpus / "manifest.csv")
    out = manifest.write_manifest(df[["path", "label", "speaker"]], tmp_path / "m" / "copy.csv")
    written = pd.read_csv(out)
    assert not any(os.path.isabs(p) for p in written["path"])
    again, names = manifest.read_manifest(out)
    assert again["path"].tolist() == df["path"].tolist() and names == ["angry", "neutral", "sad"]
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['label'\]"):
        manifest.write_manifest(df[["path"]], tmp_path / "x.csv")


def test_any_sample_rate_and_length_gives_the_configured_shape(corpus):
    df, _ = manifest.read_manifest(corpus / "manifest.csv")
    cfg = features.FeatureConfig(duration=1.0, n_mels=32)
    out = features.extract(df["path"], cfg, progress=False, cache_dir=None)
    assert out.X.shape == (6, *cfg.shape) and out.kept.tolist() == list(range(6))
    assert np.isfinite(out.X).all()
