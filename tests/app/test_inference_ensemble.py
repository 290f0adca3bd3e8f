"""Feature normalizations of a checkpoint (global, utterance, speaker) and fold ensembles.

One tiny model is trained (``inference_helpers.make_tiny_run``); its checkpoint is then
rewritten: with ``meta['normalize']`` set to each mode, and as the folds of a cross-validation
folder whose models differ (weights scaled by noise, standardizer means shifted), so that an
ensemble that scored one fold only, shared one fold's statistics, or averaged logits instead of
probabilities gives other numbers than the mean of the folds' predictors.
"""

import copy
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from audio_backend import soundfile_or_skip

from minitorch_ser.app import cli
from minitorch_ser.app.checkpoint import (CheckpointError, build_model, load_checkpoint,
                                          save_checkpoint)
from minitorch_ser.app.inference import EnsemblePredictor, Predictor, fold_checkpoints
from minitorch_ser.autograd.tensor import Tensor, no_grad
from minitorch_ser.data import features

from inference_helpers import FEATURES, SR, make_tiny_run, recording

sf = soundfile_or_skip()

MODES = ("global", "utterance", "speaker")


def with_mode(ckpt: dict, mode: str, standardizer="keep") -> dict:
    """A copy of ``ckpt`` whose ``meta['normalize']`` is ``mode`` (``standardizer``: "keep",
    "drop" the key, or "none" to store None)."""
    out = copy.deepcopy(ckpt)
    out["meta"]["normalize"] = mode
    if standardizer == "drop":
        del out["meta"]["standardizer"]
    elif standardizer == "none":
        out["meta"]["standardizer"] = None
    return out


def fold_variant(ckpt: dict, fold: int) -> dict:
    """Another model of the same task: every weight scaled by ``1 + 0.3 N(0, 1)`` noise and the
    standardizer's means shifted by ``fold`` dB."""
    out = copy.deepcopy(ckpt)
    rng = np.random.default_rng(fold)
    for name, w in out["model_state"].items():
        if np.asarray(w).dtype.kind == "f":
            out["model_state"][name] = (w * (1 + 0.3 * rng.standard_normal(w.shape))).astype(
                w.dtype)
    stats = out["meta"].get("standardizer")
    if stats:
        stats["mean"] = stats["mean"] + np.float32(fold)
    return out


def write_folds(root, ckpt: dict, folds=(1, 2, 3), mode="global"):
    """``root/fold<k>/best.ckpt`` for each k, the fold variants of ``ckpt`` with ``mode``."""
    for k in folds:
        save_checkpoint(root / f"fold{k}" / "best.ckpt", with_mode(fold_variant(ckpt, k), mode))
    return root


def by_hand(ckpt: dict, paths, normalize) -> np.ndarray:
    """The oracle: training's ``features.extract``, the normalization function given, one
    forward pass and ``softmax(z) = exp(z - max z) / sum exp(z - max z)`` in NumPy."""
    ex = features.extract(paths, FEATURES, cache_dir=None, progress=False)
    assert len(ex.kept) == len(paths)
    model = build_model(ckpt).eval()
    with no_grad():
        z = model(Tensor(normalize(ex.X))).data.astype(np.float64)       # (N, K)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def probs(results) -> np.ndarray:
    assert all(r.ok for r in results), [r.error for r in results]
    return np.stack([r.probabilities for r in results])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensemble")
    run_dir, df, split = make_tiny_run(root)
    ckpt = load_checkpoint(run_dir)
    talk = root / "talk.wav"
    sf.write(talk, recording(seed=3), SR)                           # 6 s: trimmed to 2.1 s
    paths = df["path"].tolist()[:5] + [str(talk)]
    cv = {mode: write_folds(root / f"cv_{mode}", ckpt, mode=mode) for mode in MODES}
    for mode in MODES:
        save_checkpoint(root / f"{mode}.ckpt", with_mode(ckpt, mode, standardizer="none"
                                                         if mode != "global" else "keep"))
    return {"root": root, "run": run_dir, "ckpt": ckpt, "paths": paths, "cv": cv}


def call(*argv):
    """Run ``cli.main`` in-process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


# ============================================================================ normalization
def test_a_checkpoint_without_normalize_is_global(tiny):
    predictor = Predictor.load(tiny["run"])
    assert "normalize" not in tiny["ckpt"]["meta"] and predictor.normalize == "global"
    stats = features.Standardizer.from_state_dict(tiny["ckpt"]["meta"]["standardizer"])
    expected = by_hand(tiny["ckpt"], tiny["paths"], stats.transform)
    np.testing.assert_allclose(probs(predictor.predict_files(tiny["paths"])), expected,
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize("standardizer", ["keep", "drop", "none"])
def test_utterance_checkpoint_normalizes_each_clip_on_its_own(tiny, tmp_path, standardizer):
    ckpt = with_mode(tiny["ckpt"], "utterance", standardizer)
    save_checkpoint(tmp_path / "u.ckpt", ckpt)
    predictor = Predictor.load(tmp_path / "u.ckpt", batch_size=4)
    got = probs(predictor.predict_files(tiny["paths"]))
    expected = by_hand(ckpt, tiny["paths"], features.normalize_utterances)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    stats = features.Standardizer.from_state_dict(tiny["ckpt"]["meta"]["standardizer"])
    other = by_hand(ckpt, tiny["paths"], stats.transform)
    assert np.abs(other - expected).max() > 1e-3, "global and utterance must differ to bite"
    # each clip alone: the same answer as in company
    alone = probs(predictor.predict_files(tiny["paths"][:1]))
    np.testing.assert_allclose(alone[0], got[0], rtol=0, atol=1e-6)


def test_speaker_checkpoint_normalizes_all_files_of_a_call_as_one_speaker(tiny):
    paths = tiny["paths"]
    predictor = Predictor.load(tiny["root"] / "speaker.ckpt", batch_size=2)   # 3 batches
    assert predictor.normalize == "speaker" and predictor.standardizer is None
    got = probs(predictor.predict_files(paths))
    one_speaker = np.zeros(len(paths))
    expected = by_hand(tiny["ckpt"], paths,
                       lambda X: features.normalize_speakers(X, one_speaker))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # per batch of 2 it would be other numbers: the pooling spans the whole call
    per_batch = by_hand(tiny["ckpt"], paths, lambda X: np.concatenate(
        [features.normalize_speakers(X[i:i + 2], np.zeros(len(X[i:i + 2])))
         for i in range(0, len(X), 2)]))
    assert np.abs(per_batch - expected).max() > 1e-3
    # transductive: one file alone is normalized by its own statistics (as "utterance")
    alone = probs(predictor.predict_files(paths[:1]))[0]
    assert np.abs(alone - got[0]).max() > 1e-3
    np.testing.assert_allclose(alone, by_hand(tiny["ckpt"], paths[:1],
                                              features.normalize_utterances)[0], atol=1e-5)


def test_speaker_pooling_leaves_out_unreadable_files(tiny, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    paths = tiny["paths"][:3]
    predictor = Predictor.load(tiny["root"] / "speaker.ckpt", batch_size=2)
    results = predictor.predict_files([paths[0], str(bad), paths[1], paths[2]])
    assert not results[1].ok and "bad.wav" in results[1].error
    good = probs([results[0], results[2], results[3]])
    expected = by_hand(tiny["ckpt"], paths,
                       lambda X: features.normalize_speakers(X, np.zeros(len(X))))
    np.testing.assert_allclose(good, expected, rtol=0, atol=1e-5)


def test_speaker_predict_waves_pools_the_clips_too(tiny):
    paths = tiny["paths"][:4]
    waves = [sf.read(p, dtype="float32")[0] for p in paths]
    predictor = Predictor.load(tiny["root"] / "speaker.ckpt", batch_size=3)
    rates = {sf.info(p).samplerate for p in paths}
    assert rates == {SR}
    np.testing.assert_allclose(probs(predictor.predict_waves(waves, SR)),
                               probs(predictor.predict_files(paths)), rtol=0, atol=1e-5)


def test_speaker_model_refuses_to_stream(tiny):
    predictor = Predictor.load(tiny["root"] / "speaker.ckpt")
    with pytest.raises(ValueError, match=r"normalizes features per speaker .*"
                                         r"meta\['normalize'\]='speaker'.*stream"):
        predictor.stream(recording(), hop=0.5)
    status, out, err = call("stream", tiny["root"] / "speaker.ckpt", tiny["paths"][-1])
    assert status == 2 and out == "" and "per speaker" in err


def test_predict_notes_the_one_speaker_normalization_on_stderr(tiny):
    note = "normalized as one speaker: pass one speaker's files together"
    status, out, err = call("predict", tiny["root"] / "speaker.ckpt", *tiny["paths"][:3])
    assert status == 0 and out.splitlines()[0].split()[:2] == ["file", "label"]
    (line,) = [x for x in err.splitlines() if note in x]
    assert line.startswith("note: ") and "3 file(s)" in line
    for mode in ("global", "utterance"):
        status, out, err = call("predict", tiny["root"] / f"{mode}.ckpt", tiny["paths"][0])
        assert status == 0 and note not in err


@pytest.mark.parametrize("value", ["channel", "Global", None, 3])
def test_unknown_normalize_is_refused_naming_checkpoint_and_value(tiny, tmp_path, value):
    ckpt = copy.deepcopy(tiny["ckpt"])
    ckpt["meta"]["normalize"] = value
    path = tmp_path / "odd.ckpt"
    save_checkpoint(path, ckpt)
    with pytest.raises(ValueError, match=rf"meta\['normalize'\]={value!r} is not a feature "
                                         rf"normalization") as info:
        Predictor.load(path)
    assert isinstance(info.value, CheckpointError) and str(path) in str(info.value)
    status, out, err = call("predict", path, tiny["paths"][0])
    assert status == 2 and str(path) in err and repr(value) in err


def test_global_needs_a_standardizer_and_the_constructor_checks_the_mode(tiny, tmp_path):
    save_checkpoint(tmp_path / "g.ckpt", with_mode(tiny["ckpt"], "global", "drop"))
    with pytest.raises(CheckpointError, match="meta lacks 'standardizer'"):
        Predictor.load(tmp_path / "g.ckpt")
    p = Predictor.load(tiny["run"])
    with pytest.raises(ValueError, match="normalize='global' needs the training Standardizer"):
        Predictor(p.model, p.class_names, p.feature_config, None)
    with pytest.raises(ValueError, match=r"normalize='cmvn' must be one of"):
        Predictor(p.model, p.class_names, p.feature_config, None, normalize="cmvn")


# ================================================================================= ensembles
@pytest.mark.parametrize("mode", MODES)
def test_ensemble_probabilities_are_the_mean_of_the_folds(tiny, mode):
    folder = tiny["cv"][mode]
    ensemble = Predictor.load(folder, batch_size=4)
    assert isinstance(ensemble, EnsemblePredictor) and ensemble.n_models == 3
    assert ensemble.normalize == mode and ensemble.source == str(folder)
    assert ensemble.checkpoints == tuple(str(folder / f"fold{k}" / "best.ckpt")
                                         for k in (1, 2, 3))
    members = [Predictor.load(folder / f"fold{k}", batch_size=4) for k in (1, 2, 3)]
    each = np.stack([probs(m.predict_files(tiny["paths"])) for m in members])   # (3, N, K)
    assert np.abs(each - each[0]).max() > 1e-2, "the folds must differ for this test to bite"
    results = ensemble.predict_files(tiny["paths"])
    np.testing.assert_allclose(probs(results), each.mean(axis=0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(probs(results).sum(axis=1), 1.0, atol=1e-6)
    assert [r.label for r in results] == [ensemble.class_names[k]
                                          for k in each.mean(axis=0).argmax(axis=1)]


def test_ensemble_streams_the_mean_of_the_folds(tiny):
    folder = tiny["cv"]["utterance"]
    ensemble = Predictor.load(folder)
    y = recording(seed=5)
    got = list(ensemble.stream(y, window=2.0, hop=0.7, sr=SR))
    each = [list(m.stream(y, window=2.0, hop=0.7, sr=SR)) for m in ensemble.members]
    assert len(got) == len(each[0]) > 3
    for i, w in enumerate(got):
        assert (w.start_s, w.end_s) == (each[0][i].start_s, each[0][i].end_s)
        np.testing.assert_allclose(w.probabilities,
                                   np.mean([e[i].probabilities for e in each], axis=0),
                                   rtol=0, atol=1e-6)


def test_ensemble_refuses_explain_and_single_model_calls(tiny):
    ensemble = Predictor.load(tiny["cv"]["global"])
    for call_it in (lambda: ensemble.explain(tiny["paths"][0]),
                    lambda: ensemble.explain_wave(recording(), SR),
                    lambda: ensemble.predict_proba(np.zeros((1, *FEATURES.shape), np.float32))):
        with pytest.raises(ValueError, match=r"needs one model.* averages 3; use one of its "
                                             r"folds, e.g. .*fold1"):
            call_it()
    status, out, err = call("explain", tiny["cv"]["global"], tiny["paths"][0])
    assert status == 2 and out == "" and "explain needs one model" in err


def test_folds_are_found_one_level_deeper_and_in_numeric_order(tiny, tmp_path):
    write_folds(tmp_path / "cv" / "lr0.001", tiny["ckpt"], folds=(1, 2, 10))
    (tmp_path / "cv" / "notes").mkdir()                       # a folder without folds: ignored
    files = fold_checkpoints(tmp_path / "cv")
    assert [f.parent.name for f in files] == ["fold1", "fold2", "fold10"]
    ensemble = Predictor.load(tmp_path / "cv")
    assert ensemble.n_models == 3 and "lr0.001" in ensemble.checkpoints[0]
    # not fold folders: a run folder, a checkpoint file, an empty folder
    assert fold_checkpoints(tiny["run"]) is None
    assert fold_checkpoints(tiny["run"] / "best.ckpt") is None
    (tmp_path / "empty").mkdir()
    assert fold_checkpoints(tmp_path / "empty") is None
    with pytest.raises(CheckpointError, match="empty is not a cross-validation folder"):
        EnsemblePredictor.load(tmp_path / "empty")


def test_several_sweep_folders_are_refused_listing_them(tiny, tmp_path):
    for lr in ("lr0.001", "lr0.01"):
        write_folds(tmp_path / "cv" / lr, tiny["ckpt"], folds=(1, 2))
    with pytest.raises(CheckpointError, match=r"2 folders of folds: lr0.001, lr0.01; name the "
                                              r"one to load"):
        Predictor.load(tmp_path / "cv")
    assert Predictor.load(tmp_path / "cv" / "lr0.01").n_models == 2


def test_a_fold_without_its_checkpoint_is_refused(tiny, tmp_path):
    write_folds(tmp_path / "cv", tiny["ckpt"], folds=(1, 2))
    (tmp_path / "cv" / "fold3").mkdir()
    with pytest.raises(CheckpointError, match=r"fold folder\(s\) fold3 hold no best.ckpt"):
        Predictor.load(tmp_path / "cv")


DISAGREEMENTS = {
    "class names": (lambda c: c["meta"].__setitem__("class_names", ["a", "b", "c"]),
                    r"class_names: \['a', 'b', 'c'\] vs \['low', 'neutral', 'high'\]"),
    "feature config": (lambda c: c["meta"]["feature_config"].__setitem__("top_db", 60.0),
                       r"feature_config: top_db=60.0 vs 80.0"),
    "normalize": (lambda c: c["meta"].__setitem__("normalize", "utterance"),
                  r"normalize: 'utterance' vs 'global'"),
}


@pytest.mark.parametrize("case", list(DISAGREEMENTS))
def test_folds_that_disagree_are_refused_naming_the_first_that_differs(tiny, tmp_path, case):
    change, message = DISAGREEMENTS[case]
    cv = write_folds(tmp_path / "cv", tiny["ckpt"], folds=(1, 2, 3, 4))
    for k in (3, 4):                                    # fold2 agrees; fold3 is the first
        ckpt = load_checkpoint(cv / f"fold{k}")
        change(ckpt)
        save_checkpoint(cv / f"fold{k}" / "best.ckpt", ckpt)
    with pytest.raises(ValueError, match=message) as info:
        Predictor.load(cv)
    text = str(info.value)
    assert os.path.join("fold3", "best.ckpt") in text and "fold4" not in text
    assert text.index("fold3") < text.index("fold1")     # "<fold3> differs from <fold1>"
    with pytest.raises(ValueError, match="at least one member"):
        EnsemblePredictor([])


# ======================================================================= command line
def test_cli_predict_on_a_fold_folder_averages_the_folds(tiny):
    folder, paths = tiny["cv"]["global"], tiny["paths"][:3]
    expected = Predictor.load(folder).predict_files(paths)
    status, out, err = call("predict", folder, *paths, "--json")
    assert status == 0, err
    doc = json.loads(out)
    assert doc["models"] == 3 and doc["checkpoint"] == str(folder)
    assert doc["checkpoints"] == [str(folder / f"fold{k}" / "best.ckpt") for k in (1, 2, 3)]
    for entry, r in zip(doc["results"], expected):
        assert entry["label"] == r.label
        np.testing.assert_allclose([entry["probabilities"][n] for n in doc["class_names"]],
                                   r.probabilities, rtol=0, atol=1e-6)
    status, out, err = call("predict", folder, *paths)
    lines = out.splitlines()
    assert status == 0 and lines[0].startswith("# mean class probabilities of 3 models: ")
    assert lines[1].split() == ["file", "label", "low", "neutral", "high"]
    assert [line.split()[1] for line in lines[2:]] == [r.label for r in expected]
    status, out, err = call("predict", tiny["run"], *paths, "--json")
    assert json.loads(out)["models"] == 1


def test_subprocess_predict_on_a_fold_folder(tiny):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    folder = tiny["cv"]["speaker"]
    proc = subprocess.run([sys.executable, "-m", "minitorch_ser", "predict", str(folder),
                           *tiny["paths"][:2], "--json"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["models"] == 3 and doc["normalize"] == "speaker"
    assert "normalized as one speaker" in proc.stderr
    expected = Predictor.load(folder).predict_files(tiny["paths"][:2])
    assert [r["label"] for r in doc["results"]] == [r.label for r in expected]
