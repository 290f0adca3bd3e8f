"""Datasets from CSV manifests: paths, classes, and every kind of bad manifest."""

import codecs
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from audio_backend import soundfile_or_skip

from minitorch_ser.data import features, manifest

sf = soundfile_or_skip()


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


# ------------------------------------------------------------------ as spreadsheets save it

def _quietly(csv_path):
    """``read_manifest`` with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return manifest.read_manifest(csv_path)


def test_cp1252_with_crlf_is_read_with_a_warning_naming_the_encoding(corpus):
    text = ("path,label,speaker\r\ns1/a.wav,Ärger,s1\r\ns1/b.wav,Freude,s1\r\n"
            "s2/c.wav,Ärger,s2\r\n")
    m = corpus / "excel.csv"
    m.write_bytes(text.encode("cp1252"))                 # "Ä" is the single byte 0xC4
    with pytest.warns(UserWarning, match=f"manifest {m} is not UTF-8; read it as cp1252"):
        df, class_names = manifest.read_manifest(m)
    assert class_names == ["Freude", "Ärger"]
    assert df["label"].tolist() == ["Ärger", "Freude", "Ärger"]
    assert df["speaker"].tolist() == ["s1", "s1", "s2"]  # no "\r" left on the last column
    assert df["path"].tolist() == [str(corpus / p) for p in ("s1/a.wav", "s1/b.wav", "s2/c.wav")]


@pytest.mark.parametrize("encoding, bom", [("utf-8", b""), ("utf-8", codecs.BOM_UTF8),
                                           ("utf-16-le", codecs.BOM_UTF16_LE),
                                           ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_utf8_and_byte_order_marks_are_read_without_warning(corpus, encoding, bom):
    m = corpus / "marked.csv"
    m.write_bytes(bom + "path,label\ns1/a.wav,Ärger\ns1/b.wav,😊\n".encode(encoding))
    df, class_names = _quietly(m)
    assert list(df.columns) == ["path", "label", "y"]   # no BOM glued to "path"
    assert class_names == ["Ärger", "😊"]


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_semicolon_tab_and_comma_separated_manifests(corpus, delimiter):
    # decimal commas in another column: a comma is no field separator in this file
    rows = [("path", "label", "speaker", "score"), ("s1/a.wav", "sad", "s1", "0,5"),
            ("s2/c.wav", "happy", "s2", "1,25")]
    if delimiter == ",":
        rows = [r[:3] + (r[3].replace(",", "."),) for r in rows]
    m = corpus / "sep.csv"
    m.write_text("".join(delimiter.join(r) + "\n" for r in rows))
    df, class_names = _quietly(m)
    assert class_names == ["happy", "sad"]
    assert df["speaker"].tolist() == ["s1", "s2"]
    expected = ["0,5", "1,25"] if delimiter != "," else [0.5, 1.25]
    assert df["score"].tolist() == expected


def test_windows_backslash_paths_are_read_with_slashes(corpus):
    m = _write(corpus / "win.csv", "path,label\ns1\\a.wav,x\ns2\\c.wav,y\n")
    df, _ = _quietly(m)
    assert df["path"].tolist() == [str(corpus / "s1" / "a.wav"), str(corpus / "s2" / "c.wav")]
    missing = _write(corpus / "win_missing.csv", "path,label\ns1\\a.wav,x\ns9\\z.wav,y\n")
    with pytest.raises(ValueError, match=r"also tried with '/'\):\n  line 3: .*s9/z.wav"):
        manifest.read_manifest(missing)


@pytest.mark.parametrize("text, line, fields", [
    ("path,label\ns1/a.wav,x\ns1/b.wav,y,extra\n", 3, 3),          # an unquoted comma
    ("path,label,speaker\ns1/a.wav,x,1\n\ns1/b.wav,y\n", 4, 2),     # after a blank line
    ('path,label,note\ns1/a.wav,x,"two\nlines"\ns1/b.wav,y\n', 4, 2),  # after a quoted break
    ("path;label\ns1/a.wav;x\ns1/b.wav;y;z\n", 3, 3),
])
def test_a_row_with_the_wrong_number_of_fields_names_file_and_line(corpus, text, line, fields):
    m = _write(corpus / "ragged.csv", text)
    with pytest.raises(ValueError) as err:
        manifest.read_manifest(m)
    msg = str(err.value)
    assert msg.startswith(f"manifest {m}, line {line}: {fields} field(s) where the header has ")
    assert "double quotes" in msg                       # the fix


def test_blank_and_empty_rows_are_skipped_and_lines_stay_true(corpus):
    # a spreadsheet's blank rows come out as ",," lines; later errors still name real lines
    m = _write(corpus / "blank.csv", "path,label\n,\ns1/a.wav,x\n\n,\ns2/c.wav,\n")
    with pytest.raises(ValueError, match=r"empty 'label' cell\(s\) on line\(s\) 6$"):
        manifest.read_manifest(m)
    m = _write(corpus / "blank_ok.csv",
               "path,label\r\n,\r\ns1/a.wav,x\r\n\r\ns2/c.wav,y\r\n,\r\n")
    df, _ = _quietly(m)
    assert len(df) == 2


@pytest.mark.parametrize("raw, pattern", [
    (b"path,label\ns1/a.wav,x\ns1/b.wav,\x81\n", r"neither UTF-8 nor cp1252: byte 0x81 on line 3"),
    ("path,label\ns1/a.wav,x\n".encode("utf-16-le"), r"zero bytes .*line 1.*UTF-16 without a "
                                                       r"byte-order mark"),
    (b"path,label,path\ns1/a.wav,x,y\n", r"line 1: the header names the column\(s\) \['path'\] "
                                          r"more than once"),
])
def test_undecodable_or_ambiguous_manifests_name_file_and_line(corpus, raw, pattern):
    m = corpus / "odd.csv"
    m.write_bytes(raw)
    with pytest.raises(ValueError, match=pattern) as err:
        manifest.read_manifest(m)
    assert str(m) in str(err.value)


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
