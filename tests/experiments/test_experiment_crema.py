"""experiments/crema_d_crnn.py end to end on tiny synthetic CREMA-D sets, with a tiny model."""

import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from minitorch_ser.app.checkpoint import load_checkpoint
from minitorch_ser.data import crema_d, manifest, synthetic
from minitorch_ser.models import register_model
from minitorch_ser.nn.linear import Linear
from minitorch_ser.nn.module import Module
from minitorch_ser.app.training import TrainConfig

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "crema_d_crnn.py"
LINE = re.compile(r"^(\S+): (\d\.\d{4}) \((\d+)/(\d+)\)$")        # ANG: 0.6457 (164/254)


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("crema_d_crnn", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module            # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@register_model                 # checkpoints name their model by its registered name
class TinyNet(Module):
    """Mean over time, then one linear layer: (N, 3, n_mels, T) -> (N, K) logits."""

    def __init__(self, n_classes, n_mels):
        super().__init__()
        self.config = {"n_classes": n_classes, "n_mels": n_mels}
        self.fc = Linear(3 * n_mels, n_classes)

    def forward(self, x):
        return self.fc(x.mean(axis=3).reshape(x.shape[0], -1))


TINY = (lambda k, shape: TinyNet(k, shape[1]),
        dict(lr=3e-2, decay_steps=20, decay_rate=0.9, clip_grad_norm=1.0))


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """48 clips: 4 actors x 2 sentences x 6 emotions, with VideoDemographics.csv."""
    root = tmp_path_factory.mktemp("crema_e2e") / "AudioWAV"
    synthetic.make_crema_d(root, n_actors=4, sentences=("DFA", "IEO"), seed=2,
                           duration=(0.8, 1.6))
    return root


def _per_class(path):
    return [LINE.match(line).groups() for line in path.read_text().splitlines()]


def test_crema_d_run_folder_speaker_split_with_augmentation(script, audio, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--data", str(audio), "--model", "lstm_reg", "--split", "speaker", "--epochs", "2",
            "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--seed", "1"]
    assert script.main(argv, model=TINY) == 0
    for name in ("config.json", "split.csv", "history.csv", "best.ckpt", "last.ckpt",
                 "metrics.json", "report.txt", "confusion_matrix.csv", "predictions.csv",
                 "per_class_accuracy.txt", "summary.json", "eda_emotion.csv", "eda_actor.csv"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["fractions"] == [0.7, 0.15, 0.15]           # lstm_reg: the paper's
    assert config["augment"]["copies"] == 0.25
    assert {k: config["augment"][k] for k in ("noise_level", "semitones", "gain_db",
                                              "freq_mask_width", "time_mask_width")} == {
        "noise_level": 0.035, "semitones": 2.0, "gain_db": 5.0, "freq_mask_width": 8,
        "time_mask_width": 8}
    # the split is speaker-independent by actor
    split = pd.read_csv(out / "split.csv")
    split["actor"] = split["path"].map(lambda p: crema_d.parse_name(os.path.basename(p))["actor"])
    owners = split.groupby("actor")["split"].nunique()
    assert owners.eq(1).all() and set(split["split"]) == {"train", "val", "test"}
    # per-class accuracy lines in the paper's format, consistent with the test predictions
    lines = _per_class(out / "per_class_accuracy.txt")
    assert [name for name, *_ in lines] == list(crema_d.EMOTIONS)
    pred = pd.read_csv(out / "predictions.csv")
    for name, acc, hit, n in lines:
        rows = pred[pred["true"] == name]
        assert int(n) == len(rows) and int(hit) == int((rows["pred"] == name).sum())
        assert float(acc) == pytest.approx(int(hit) / max(int(n), 1), abs=5e-5)
    assert sum(int(n) for *_, n in lines) == (split["split"] == "test").sum()
    # the checkpoint carries the class names and a per-mel-bin standardizer (3 channels x 64)
    meta = load_checkpoint(out / "best.ckpt")["meta"]
    assert meta["class_names"] == list(crema_d.EMOTIONS) and meta["model"] == "lstm_reg"
    assert meta["standardizer"]["mean"].shape == (1, 3, 64, 1)
    assert meta["feature_config"] == crema_d.FEATURES.to_dict()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2
    # every class has 8 clips per actor pair, so oversampling adds nothing; +25 % copies
    n_clean = metrics["n_train"] - metrics["n_train_augmented"]
    assert n_clean == (split["split"] == "train").sum()
    assert metrics["n_train_augmented"] == round(0.25 * n_clean)
    printed = capsys.readouterr().out
    assert "paper (CREMA-D, random split, Figure 9): test accuracy 0.5014" in printed
    summary = json.loads((out / "summary.json").read_text())
    per_class = (out / "per_class_accuracy.txt").read_text().splitlines()
    assert summary["per_class_accuracy"] == per_class


def test_manifest_run_with_three_classes(script, audio, tmp_path):
    df = crema_d.read_metadata(audio)
    keep = df[df["emotion"].isin([0, 4, 5])]                             # ANG, NEU, SAD
    table = keep.assign(label=[crema_d.EMOTION_NAMES[crema_d.EMOTIONS[e]] for e in keep["emotion"]],
                        speaker=keep["actor"])
    csv = manifest.write_manifest(table[["path", "label", "speaker"]], tmp_path / "m" / "three.csv")
    out = tmp_path / "run"
    assert script.main(["--manifest", csv, "--model", "gru", "--epochs", "1", "--out", str(out),
                        "--cache-dir", str(tmp_path / "cache")], model=TINY) == 0
    meta = load_checkpoint(out / "best.ckpt")["meta"]
    assert meta["class_names"] == ["anger", "neutral", "sad"] and meta["dataset"] == "three"
    assert [name for name, *_ in _per_class(out / "per_class_accuracy.txt")] == meta["class_names"]
    assert json.loads((out / "config.json").read_text())["augment"]["copies"] == 0.0


def test_resume_extends_a_finished_run_and_reports_all_epochs(script, audio, tmp_path):
    common = ["--data", str(audio), "--model", "gru", "--out", str(tmp_path / "run"),
              "--cache-dir", str(tmp_path / "cache")]
    assert script.main(common + ["--epochs", "1"], model=TINY) == 0
    first = pd.read_csv(tmp_path / "run" / "history.csv")
    assert script.main(common + ["--epochs", "3", "--resume"], model=TINY) == 0
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3]
    assert history.iloc[0].to_dict() == first.iloc[0].to_dict()       # epoch 1 kept, not rerun
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["epochs_run"] == 3
    # the training time covers every epoch, the resumed session only the last two
    assert metrics["train_seconds"] == pytest.approx(history["seconds"].sum())
    assert metrics["session_seconds"] >= history["seconds"].iloc[1:].sum()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["train_minutes"] == pytest.approx(metrics["train_seconds"] / 60)


def test_bad_manifest_and_missing_data(script, audio, tmp_path, capsys, monkeypatch):
    csv = tmp_path / "nospeaker.csv"
    csv.write_text("path,label\n" + "".join(f"{p},x{i % 2}\n"
                                            for i, p in enumerate(sorted(audio.glob("*.wav")))))
    assert script.main(["--manifest", str(csv), "--split", "speaker"], model=TINY) == 2
    assert "needs a 'speaker' column" in capsys.readouterr().err
    # a folder named but missing: an error naming it
    assert script.main(["--data", str(tmp_path / "absent")], model=TINY) == 2
    assert f"error: No CREMA-D data at {tmp_path / 'absent'}" in capsys.readouterr().err
    # no data at all: say how to get CREMA-D, then run the demo on generated files
    monkeypatch.delenv("CREMA_D_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo"
    assert script.main(["--epochs", "1", "--out", str(out),
                        "--cache-dir", str(tmp_path / "cache")], model=TINY) == 0
    printed = capsys.readouterr().out
    assert "CREMA-D is not included" in printed and "git lfs" in printed
    assert "(a different dataset: not comparable)" in printed
    assert load_checkpoint(out / "best.ckpt")["meta"]["dataset"] == "crema_d_demo"


def test_training_settings_are_train_config_fields(script):
    assert set(script.TRAINING) == set(script.PAPER)
    assert script.TRAINING["gru"] == dict(lr=1e-4, decay_steps=1000, decay_rate=0.95,
                                          staircase=True, clip_grad_value=5.0)
    assert script.TRAINING["lstm"] == script.TRAINING["gru"]     # section 3.4: the same
    assert script.TRAINING["lstm_reg"] == dict(lr=5e-4, decay_steps=1000, decay_rate=0.9,
                                               staircase=True, clip_grad_norm=1.0)
    for settings in script.TRAINING.values():
        config = TrainConfig(scheduler="exponential", **settings)
        for key, value in settings.items():
            assert getattr(config, key) == value


def test_the_paper_models_and_training_settings(script):
    for name in ("gru", "lstm", "lstm_reg"):
        cfg = script.parse_args(["--model", name])
        assert cfg.model.name == name and cfg.train.scheduler == "exponential"
        assert cfg.train.lr == (5e-4 if name == "lstm_reg" else 1e-4)
        assert (cfg.train.clip_grad_norm, cfg.train.clip_grad_value) == (
            (1.0, None) if name == "lstm_reg" else (None, 5.0))
        assert (cfg.train.epochs, cfg.train.patience, cfg.augment.oversample) == (50, 15, True)
    assert script.parse_args(["--model", "gru"]).data.fractions == (0.64, 0.16, 0.20)
    assert script.parse_args(["--model", "lstm_reg"]).augment.copies == 0.25
    assert script.parse_args(["--model", "lstm_reg", "--copies", "0"]).augment.copies == 0.0
    # every model option is on the command line: the constructor's keyword arguments
    assert script.parse_args(["--model", "lstm", "--hidden-size", "64"]).model.options[
        "hidden_size"] == 64
    with pytest.raises(SystemExit):
        script.parse_args(["--data", "x", "--manifest", "y.csv"])


def test_features_are_standardized_per_mel_bin(audio):
    """experiment.prepare fits per channel and mel bin (axis 2 of (N, 3, n_mels, n_frames)),
    on training rows only."""
    from minitorch_ser.app.experiment import prepare
    from minitorch_ser.data.splits import random_split
    df = crema_d.read_metadata(audio)
    y = df["emotion"].to_numpy()
    split = random_split(y, fractions=(0.6, 0.2, 0.2), seed=0)
    train, val, test, scaler = prepare(df["path"].tolist(), y, split, crema_d.FEATURES,
                                       cache_dir=None, progress=False)
    assert scaler.mean_.shape == (1, 3, 64, 1)
    np.testing.assert_allclose(train.X.mean(axis=(0, 3)), 0.0, atol=1e-3)
    np.testing.assert_allclose(train.X.std(axis=(0, 3)), 1.0, atol=1e-2)


def test_options_the_script_does_not_use_are_refused(script, capsys):
    for argv in (["--folds", "5"], ["--target", "gender"], ["--snr-db", "1", "2"],
                 ["--lr", "0.1", "0.01"]):
        with pytest.raises(SystemExit):
            script.parse_args(argv)
    # features the model cannot take fail at once, naming the reason
    with pytest.raises(SystemExit):
        script.parse_args(["--no-deltas"])
    assert "the model cannot be built for these settings" in capsys.readouterr().err
    # abbreviations are not accepted (a demo must never override a typed value)
    with pytest.raises(SystemExit):
        script.parse_args(["--epoch", "1"])


def test_cross_corpus_test_and_another_corpus_by_name(script, audio, tmp_path):
    """CREMA-D (generated) trained on the four shared classes and tested on a SAVEE-named
    corpus; then SAVEE itself read with --dataset savee."""
    import soundfile as sf
    rng = np.random.default_rng(0)
    savee = tmp_path / "savee"
    savee.mkdir()
    for speaker in ("DC", "JE", "JK"):
        for code in ("a", "h", "sa", "n", "su"):
            for k in (1, 2):
                sf.write(savee / f"{speaker}_{code}0{k}.wav",
                         (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    out = tmp_path / "cross"
    argv = ["--data", str(audio), "--test-dataset", "savee", "--test-data", str(savee),
            "--epochs", "1", "--copies", "0", "--no-oversample", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache")]
    assert script.main(argv, model=TINY) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["class_names"] == ["anger", "happiness", "sadness", "neutral"]
    assert metrics["cross"]["n"] == 24 and metrics["cross"]["corpus"] == "savee"
    assert json.loads((out / "summary.json").read_text())["cross"]["n"] == 24
    assert (out / "cross_savee" / "confusion_matrix.csv").is_file()

    out = tmp_path / "savee_run"
    assert script.main(["--dataset", "savee", "--data", str(savee), "--epochs", "1",
                        "--copies", "0", "--out", str(out), "--cache-dir",
                        str(tmp_path / "cache")], model=TINY) == 0
    assert load_checkpoint(out)["meta"]["class_names"] == ["anger", "disgust", "fear",
                                                           "happiness", "neutral", "sadness",
                                                           "surprise"]


def test_weight_averaging_runs_through_the_script_and_resumes(script, audio, tmp_path):
    common = ["--data", str(audio), "--model", "gru", "--ema-decay", "0.9", "--out",
              str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")]
    assert script.main(common + ["--epochs", "1"], model=TINY) == 0
    assert script.main(common + ["--epochs", "2", "--resume"], model=TINY) == 0
    last = load_checkpoint(tmp_path / "run" / "last.ckpt")
    steps = last["training_state"]["n_averaged"]
    assert steps > 0 and steps % 2 == 0                  # both epochs' steps were averaged
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["ema_decay"] == 0.9 and "EMA 0.9" in config["recipe_line"]
    assert config["recipe"] == "auto"                    # the option as given
