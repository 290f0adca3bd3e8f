"""Both experiment scripts on a corpus with a speaker recorded twice under another id (as BAVED's
speakers 46 and 53): the copies never straddle a split and split.csv lets a reader check it."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from minitorch_ser.data import baved, crema_d, synthetic

ROOT = Path(__file__).resolve().parents[2] / "experiments"


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def baved_twice(tmp_path_factory):
    """Six speakers; speaker 90 is a copy of speaker 0 under a new id and new record numbers."""
    root = tmp_path_factory.mktemp("baved_dup") / "audio"
    synthetic.make_dataset(root, n_speakers=6, n_words=2, clips_per=1, seed=4)
    df = baved.read_metadata(root)
    for row in df[df["speaker"] == 0].itertuples():
        name = f"90-{row.gender}-{row.age}-{row.word}-{row.emotion}-{900 + row.record}.wav"
        shutil.copy(row.path, Path(row.path).parent / name)
    return root


def _check(out: Path):
    table = pd.read_csv(out / "split.csv", keep_default_na=False)
    assert {"content_hash", "dup_group", "speaker_group"} <= set(table.columns)
    train = set(table.loc[table["split"] == "train", "content_hash"])
    assert not train & set(table.loc[table["split"] != "train", "content_hash"])
    listed = pd.read_csv(out / "duplicates.csv")
    return table, listed


@pytest.mark.parametrize("protocol", [["--split", "random"], ["--split", "speaker"]])
def test_baved_script_groups_the_copied_speaker(baved_twice, tmp_path, protocol):
    script = _script("baved_parallel")
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="12 files are 6 groups of identical recordings"):
        rc = script.main(["--data", str(baved_twice), *protocol, "--epochs", "1", "--copies", "0",
                          "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    table, listed = _check(out)
    assert len(listed) == 12 and set(listed["speaker_group"]) == {"0+90"}
    if protocol[1] == "speaker":
        speaker = table["path"].map(lambda p: Path(p).name.split("-")[0])
        sides = {s: set(speaker[table["split"] == s]) for s in ("train", "val", "test")}
        for s in sides:
            assert ("0" in sides[s]) == ("90" in sides[s])


def test_baved_script_refuse_and_drop(baved_twice, tmp_path, capsys):
    script = _script("baved_parallel")
    args = ["--data", str(baved_twice), "--epochs", "1", "--copies", "0",
            "--cache-dir", str(tmp_path / "cache")]
    assert script.main([*args, "--duplicates", "refuse", "--out", str(tmp_path / "a")]) == 2
    assert "identical recordings" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="dropped 6 copies"):
        assert script.main([*args, "--duplicates", "drop", "--out", str(tmp_path / "b")]) == 0
    table = pd.read_csv(tmp_path / "b" / "split.csv", keep_default_na=False)
    assert len(table) == 36 and table["content_hash"].is_unique


def test_crema_d_script_groups_copies(tmp_path):
    script = _script("crema_d_crnn")
    root = tmp_path / "AudioWAV"
    synthetic.make_crema_d(root, n_actors=4, sentences=("DFA", "IEO"), seed=1)
    first = sorted(root.glob("1001_*.wav"))[:3]
    for path in first:                                  # the same takes under another actor
        shutil.copy(path, root / path.name.replace("1001_", "1091_"))
    tiny = _tiny_crnn()
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="6 files are 3 groups"):
        rc = script.main(["--data", str(root), "--epochs", "1", "--duration", "0.5",
                          "--out", str(out), "--cache-dir", str(tmp_path / "cache")], model=tiny)
    assert rc == 0
    _check(out)


def _tiny_crnn():
    from minitorch_ser.models import crnn
    def factory(n_classes, shape):
        return crnn.build_crnn("gru", n_classes=n_classes, n_mels=shape[1], n_frames=shape[2])
    return factory, dict(lr=1e-4, decay_steps=1000, decay_rate=0.95, staircase=True)
