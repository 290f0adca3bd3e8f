"""experiments/baved_parallel.py end to end on generated data (one short epoch per run)."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from minitorch_ser.app.checkpoint import load_checkpoint
from minitorch_ser.data import baved, manifest, synthetic

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "baved_parallel.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("baved_parallel", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("baved_e2e")
    synthetic.make_dataset(root / "audio", n_speakers=6, n_words=2, clips_per=1, seed=4)
    return root


def test_speaker_split_run_writes_a_complete_run_folder(script, data, tmp_path):
    out = tmp_path / "run"
    rc = script.main(["--data", str(data / "audio"), "--split", "speaker", "--epochs", "1",
                      "--copies", "1", "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    for name in ("config.json", "split.csv", "history.csv", "best.ckpt", "last.ckpt",
                 "metrics.json", "report.txt", "confusion_matrix.csv", "predictions.csv",
                 "eda_emotion.csv", "summary.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0 and "macro_f1" in metrics
    assert np.asarray(metrics["confusion_matrix"]).sum() == metrics["n_test"]
    # the speaker protocol: no speaker in two sets, and the test predictions are test clips
    df = baved.read_metadata(data / "audio")
    split = pd.read_csv(out / "split.csv")
    speakers = {s: set(df.set_index("path").loc[split.loc[split["split"] == s, "path"], "speaker"])
                for s in ("train", "val", "test")}
    assert not (speakers["train"] & speakers["test"]) and not (speakers["train"] & speakers["val"])
    tested = set(pd.read_csv(out / "predictions.csv")["path"])
    assert tested == set(split.loc[split["split"] == "test", "path"])
    ckpt = load_checkpoint(out)
    assert ckpt["meta"]["class_names"] == list(baved.EMOTIONS)
    assert ckpt["meta"]["protocol"] == "speaker-independent 80/10/10"


def test_manifest_run_uses_the_manifest_labels(script, data, tmp_path):
    df = baved.read_metadata(data / "audio")
    table = pd.DataFrame({"path": df["path"], "speaker": df["speaker"],
                          "label": np.where(df["gender"] == "m", "male", "female")})
    csv = manifest.write_manifest(table, tmp_path / "gender.csv")
    out = tmp_path / "run"
    rc = script.main(["--manifest", str(csv), "--epochs", "1", "--copies", "0",
                      "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    ckpt = load_checkpoint(out)
    assert ckpt["meta"]["class_names"] == ["female", "male"]
    assert ckpt["model_config"]["n_classes"] == 2
    report = (out / "report.txt").read_text()
    assert "female" in report and "male" in report


def test_missing_data_folder_explains_how_to_get_baved(script, tmp_path, capsys, monkeypatch):
    # a folder named on the command line but missing: an error, never the demo
    assert script.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert f"error: No BAVED data at {tmp_path / 'nowhere'}" in err
    assert "git clone https://github.com/40uf411/Basic-Arabic-Vocal-Emotions-Dataset" in err
    # no --data and no ./data/baved: the message, then the demo (stopped here)
    def stop(*args, **kwargs):
        raise SystemExit("demo data requested")
    monkeypatch.setattr(script.synthetic, "make_dataset", stop)
    monkeypatch.delenv("BAVED_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="demo data requested"):
        script.main(["--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "c")])
    assert "No BAVED data at data/baved" in capsys.readouterr().out


def test_folds_must_be_at_least_two(script):
    with pytest.raises(SystemExit):
        script.parse_args(["--folds", "1"])


def test_a_diverging_learning_rate_is_reported_and_the_sweep_goes_on(script, data, tmp_path,
                                                                      monkeypatch, capsys):
    real_train = script.train_model

    def train_model(cfg, *args):
        if cfg.train.lr > 0.05:
            raise script.TrainingDiverged("non-finite loss (nan) at epoch 1, batch 1")
        return real_train(cfg, *args)

    monkeypatch.setattr(script, "train_model", train_model)
    out = tmp_path / "sweep"
    rc = script.main(["--data", str(data / "audio"), "--lr", "0.001", "0.1", "--epochs", "1",
                      "--copies", "0", "--out", str(out), "--cache-dir", str(tmp_path / "c")])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [("diverged" in r, r["lr"]) for r in summary["runs"]] == [(False, 0.001), (True, 0.1)]
    assert "diverged (non-finite loss" in capsys.readouterr().out


# ------------------------------------------------------------------------- user errors
@pytest.mark.parametrize("text, message", [
    ("path,label\nclip.wav,a\nclip2.wav,b,extra\n", "line 3: 3 field(s) where the header has 2"),
    ("file,label\nclip.wav,a\n", "lacks the column(s) ['path']"),
    ("path,label\nnope.wav,a\nnope2.wav,b\n", "2 of 2 file(s) listed in manifest"),
])
def test_a_bad_manifest_is_one_error_line_and_exit_2(script, tmp_path, capsys, text, message):
    m = tmp_path / "bad.csv"
    m.write_text(text)
    rc = script.main(["--manifest", str(m), "--out", str(tmp_path / "run"),
                      "--cache-dir", str(tmp_path / "cache")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(m) in err and message in err
    assert "Traceback" not in err


def test_a_missing_manifest_is_one_error_line_and_exit_2(script, tmp_path, capsys):
    rc = script.main(["--manifest", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "r")])
    assert rc == 2
    absent = str(tmp_path / "absent.csv")
    assert capsys.readouterr().err == f"error: manifest {absent!r} does not exist\n"


@pytest.mark.parametrize("other, message", [
    (["--manifest", "m.csv"], "--data and --manifest exclude each other"),
    (["--demo"], "--demo and --data exclude each other"),
    (["--ema-decay", "1.5"], "--ema-decay 1.5 must be in [0, 1)"),     # named by its option
])
def test_conflicting_or_bad_options_are_refused_by_name(script, tmp_path, capsys, other,
                                                        message):
    with pytest.raises(SystemExit) as stop:
        script.parse(["--data", str(tmp_path), *other])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_a_folder_without_baved_clips_is_one_error_line_and_exit_2(script, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc = script.main(["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "run")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no BAVED clips found under {str(tmp_path / 'empty')!r}")


class _Stop(Exception):
    """Raised by a stand-in to end the script once the data is read."""


def test_a_spreadsheet_manifest_is_read_by_the_script(script, data, tmp_path, monkeypatch):
    # what Excel on Windows saves: cp1252 ("Ärger"), CRLF, semicolons, backslash paths
    df = baved.read_metadata(data / "audio")
    folder = Path(df["path"][0]).parents[1]
    rel = [str(Path(p).relative_to(folder)).replace("/", "\\") for p in df["path"]]
    labels = np.where(df["gender"] == "m", "Ärger", "neutral")
    text = "path;label;speaker\r\n" + "".join(f"{p};{lab};{s}\r\n"
                                               for p, lab, s in zip(rel, labels, df["speaker"]))
    m = folder / "excel.csv"
    m.write_bytes(text.encode("cp1252"))
    seen = {}

    def stop(df_, labels_, class_names, cfg):
        seen.update(paths=df_["path"].tolist(), labels=labels_)
        raise _Stop

    monkeypatch.setattr(script, "make_splits", stop)
    with pytest.warns(UserWarning, match="is not UTF-8; read it as cp1252"):
        with pytest.raises(_Stop):
            script.main(["--manifest", str(m), "--out", str(tmp_path / "run"),
                         "--cache-dir", str(tmp_path / "cache")])
    assert sorted(seen["paths"]) == sorted(df["path"])
    names = ["neutral", "Ärger"]                                 # the sorted class names
    by_path = dict(zip(df["path"], labels))
    assert [names[k] for k in seen["labels"]] == [by_path[p] for p in seen["paths"]]


def test_recipe_options_parse_and_reach_the_run(script, data, tmp_path):
    """The recipe's options on the command line: parsed into the configuration, named in the
    run header and config.json, checked at parse time; a 2-fold run with all of them writes
    UA, WA and bootstrap intervals per fold, the fold summary with the pooled confusion
    matrix, and a checkpoint that predicts with its normalization (the fold ensemble)."""
    cfg = script.parse_args(["--monitor", "val_ua", "--normalize", "speaker", "--spec-augment",
                             "--mixup", "0.2", "--speed", "0.1", "--vtlp", "0.1",
                             "--label-smoothing", "0.1", "--class-weights", "balanced",
                             "--weight-decay", "1e-4"])
    assert (cfg.train.monitor, cfg.data.normalize, cfg.augment.spec_augment) == (
        "val_ua", "speaker", True)
    assert (cfg.augment.mixup, cfg.augment.speed, cfg.augment.vtlp) == (0.2, 0.1, 0.1)
    assert (cfg.train.label_smoothing, cfg.train.class_weights) == (0.1, "balanced")
    for bad in (["--monitor", "test_ua"], ["--normalize", "cmvn"], ["--speed", "1.2"]):
        with pytest.raises(SystemExit):
            script.parse_args(bad)

    out = tmp_path / "folds"
    rc = script.main(["--data", str(data / "audio"), "--folds", "2", "--epochs", "1",
                      "--copies", "1", "--monitor", "val_ua", "--normalize", "speaker",
                      "--spec-augment", "--mixup", "0.2", "--speed", "0.1", "--vtlp", "0.1",
                      "--label-smoothing", "0.1", "--class-weights", "balanced",
                      "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    config = json.loads((out / "fold1" / "config.json").read_text())
    assert "normalize speaker" in config["recipe_line"] and "mixup 0.2" in config["recipe_line"]
    assert config["recipe"] == "auto"                   # the option as given
    metrics = json.loads((out / "fold2" / "metrics.json").read_text())
    lo, hi = metrics["ci95"]["ua"]
    assert lo <= metrics["ua"] <= hi and metrics["wa"] == metrics["accuracy"]
    summary = json.loads((out / "summary.json").read_text())
    folds = summary["lr0.001"]
    assert folds["n_folds"] == 2 and 0 <= folds["ua_mean"] <= 1
    assert np.asarray(folds["pooled"]["confusion_matrix"]).sum() == sum(
        json.loads((out / f"fold{k}" / "metrics.json").read_text())["n_test"] for k in (1, 2))
    assert (out / "pooled_confusion_matrix.csv").is_file()
    assert load_checkpoint(out / "fold1")["meta"]["normalize"] == "speaker"
    from minitorch_ser.app.inference import Predictor
    ensemble = Predictor.load(out)
    assert ensemble.n_models == 2

    # the study table reads the same run back
    spec = importlib.util.spec_from_file_location("study_table", SCRIPT.parent / "study_table.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    row = table.run_row(out)
    assert row["n_folds"] == 2 and abs(row["ua_mean"] - folds["ua_mean"]) < 1e-12
    assert row["recipe"] == config["recipe_line"] and len(row["best_epochs"]) == 2
    assert "| folds |" in table.markdown([row])


def test_speaker_independent_runs_take_the_studys_recipe(script, capsys):
    """--split speaker and --folds apply HONEST_RECIPE to the options not given; a random
    split keeps the paper's settings; --recipe paper and explicit options win."""
    from minitorch_ser.app.config import HONEST_RECIPE
    paper = script.parse_args([])
    assert paper.data.split == "random"
    for argv in (["--split", "speaker"], ["--folds", "5"], ["--recipe", "honest"]):
        cfg = script.parse_args(argv)
        for key, value in HONEST_RECIPE.items():
            section, name = key.split(".")
            assert getattr(getattr(cfg, section), name) == value, (argv, key)
        assert "recipe for unseen speakers" in capsys.readouterr().out
    for key, value in HONEST_RECIPE.items():
        section, name = key.split(".")
        assert getattr(getattr(paper, section), name) == getattr(
            getattr(script.DEFAULTS, section), name)
        assert getattr(getattr(script.parse_args(["--folds", "5", "--recipe", "paper"]),
                               section), name) == getattr(getattr(script.DEFAULTS, section), name)
    kept = script.parse_args(["--folds", "5", "--monitor", "val_loss"])
    assert kept.train.monitor == "val_loss"


def _tone_corpus(root, names, seed):
    """Short clips whose pitch depends on the class letter, written under the real names."""
    import soundfile as sf
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    for rel, pitch in names:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        y = 0.3 * np.sin(2 * np.pi * pitch * rng.uniform(0.95, 1.05) * t)
        sf.write(path, (y + 0.01 * rng.standard_normal(len(t))).astype(np.float32), 16000)


def test_another_corpus_by_name_and_a_cross_corpus_test(script, tmp_path):
    """--dataset emodb reads EMO-DB by its file names; --test-dataset savee tests every fold's
    model on SAVEE through the four-class map, reported like the in-corpus test."""
    pitch = {"W": 330, "F": 440, "T": 150, "N": 220, "L": 260}
    emodb = [(f"wav/{s}a0{k}{e}a.wav", pitch[e]) for s in ("03", "08", "09", "10")
             for k in (1, 2) for e in "WFTNL"]
    _tone_corpus(tmp_path / "emodb", emodb, 0)
    savee_pitch = {"a": 330, "h": 440, "sa": 150, "n": 220, "su": 500}
    savee = [(f"{s}_{e}0{k}.wav", savee_pitch[e]) for s in ("DC", "JE")
             for k in (1, 2) for e in savee_pitch]
    _tone_corpus(tmp_path / "savee", savee, 1)
    out = tmp_path / "run"
    rc = script.main(["--dataset", "emodb", "--data", str(tmp_path / "emodb"),
                      "--test-dataset", "savee", "--test-data", str(tmp_path / "savee"),
                      "--epochs", "1", "--copies", "0", "--out", str(out),
                      "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    ckpt = load_checkpoint(out)
    assert ckpt["meta"]["class_names"] == ["anger", "happiness", "sadness", "neutral"]
    split = pd.read_csv(out / "split.csv")
    assert len(split) == 32                      # boredom dropped by the four-class map
    cross = json.loads((out / "cross_savee" / "metrics.json").read_text())
    assert cross["n"] == 16 and cross["corpus"] == "savee"   # surprise dropped
    assert "four classes" in cross["label_map"]
    lo, hi = cross["ci95"]["ua"]
    assert lo <= cross["ua"] <= hi
    assert json.loads((out / "metrics.json").read_text())["cross"]["n"] == 16
    assert (out / "cross_savee" / "predictions.csv").is_file()
    with pytest.raises(SystemExit):
        script.parse_args(["--dataset", "iemocap"])
    with pytest.raises(SystemExit):
        script.parse_args(["--dataset", "ravdess", "--target", "word"])


def test_as_many_folds_as_speakers_is_leave_one_speaker_out(script, data, tmp_path):
    out = tmp_path / "loso"
    assert script.main(["--data", str(data / "audio"), "--folds", "6", "--epochs", "1",
                        "--copies", "0", "--out", str(out), "--cache-dir",
                        str(tmp_path / "cache")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"] == "leave-one-speaker-out (6 folds)"
    tested = [set(pd.read_csv(out / f"fold{k}" / "split.csv").query("split == 'test'")["path"])
              for k in range(1, 7)]
    df = baved.read_metadata(data / "audio").set_index("path")
    assert all(len(set(df.loc[list(t), "speaker"])) == 1 for t in tested)


def test_weight_averaging_selects_and_tests_the_averaged_weights(script, data, tmp_path):
    out = tmp_path / "run"
    assert script.main(["--data", str(data / "audio"), "--split", "speaker", "--epochs", "1",
                        "--copies", "1", "--ema-decay", "0.9", "--out", str(out),
                        "--cache-dir", str(tmp_path / "cache")]) == 0
    last, best = load_checkpoint(out / "last.ckpt"), load_checkpoint(out / "best.ckpt")
    assert last["training_state"]["n_averaged"] > 0
    for key, value in best["model_state"].items():   # one epoch: best is the last average
        np.testing.assert_array_equal(value, last["model_state"][key], err_msg=key)
