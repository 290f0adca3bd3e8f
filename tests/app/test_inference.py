"""Predictor: same answers as the training code, any input format, windows, explain, bad input.

A tiny model is trained once (``experiment.run``, 2 epochs on generated BAVED-format clips) with
a non-default feature configuration (2.1-s clips, z-normalized audio), so a predictor that fell
back on default features or skipped a step would give other numbers than the training code.
"""

import io
import math
import pickle

import numpy as np
import pytest
from audio_backend import soundfile_or_skip

import dsp
from minitorch_ser.app.checkpoint import (CheckpointError, build_model, load_checkpoint,
                                      save_checkpoint, write_archive)
from minitorch_ser.data import baved, features
from minitorch_ser.data.features import Standardizer
from minitorch_ser.app.inference import Predictor, StreamStats, read_pcm16
from minitorch_ser.nn.linear import Linear
from minitorch_ser.nn.module import Module
from minitorch_ser.app.training import evaluate

from inference_helpers import FEATURES, SR, make_tiny_run, recording

sf = soundfile_or_skip()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("inference")
    run_dir, df, split = make_tiny_run(root)
    return {"run": run_dir, "df": df, "split": split, "root": root,
            "predictor": Predictor.load(run_dir)}


# ================================================================================ predicting
def test_predict_files_matches_training_evaluation(tiny):
    """Files of the test and validation splits: the training code's own features,
    standardization and evaluate() give the same probabilities as predict_files."""
    df = tiny["df"]
    idx = np.concatenate([tiny["split"]["test"], tiny["split"]["val"]])
    paths = df["path"].to_numpy()[idx].tolist()
    lengths = np.array([sf.info(p).duration for p in paths])
    assert (lengths > FEATURES.duration).any() and (lengths < FEATURES.duration).any()

    ckpt = load_checkpoint(tiny["run"])
    ex = features.extract(paths, FEATURES, cache_dir=None, progress=False)
    X = Standardizer.from_state_dict(ckpt["meta"]["standardizer"]).transform(ex.X)
    y = df["emotion"].to_numpy()[idx]
    reference = evaluate(build_model(ckpt), X, y)

    results = tiny["predictor"].predict_files(paths)
    P = np.stack([r.probabilities for r in results])
    np.testing.assert_allclose(P, reference.probabilities, rtol=0, atol=1e-6)
    assert P.std(axis=0).max() > 1e-3, "the model must react to its input for this test to bite"
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    assert [r.label for r in results] == [baved.EMOTIONS[k] for k in reference.predictions]
    for r, length in zip(results, lengths):
        assert r.source in paths and r.duration == pytest.approx(length)
        assert r.trimmed == (length > FEATURES.duration)


def test_labels_come_from_the_saved_class_names(tiny, tmp_path):
    ckpt = load_checkpoint(tiny["run"])
    ckpt["meta"]["class_names"] = ["calm", "plain", "aroused"]
    save_checkpoint(tmp_path / "renamed.ckpt", ckpt)
    path = tiny["df"]["path"].iloc[0]
    original = tiny["predictor"].predict_files([path])[0]
    renamed = Predictor.load(tmp_path / "renamed.ckpt").predict_files([path])[0]
    assert renamed.label == ["calm", "plain", "aroused"][original.index]
    assert renamed.to_dict()["probabilities"] == dict(
        zip(["calm", "plain", "aroused"], original.probabilities.tolist()))


def test_predict_waves_equals_predict_files(tiny):
    """The in-memory chain (prepare_wave) is the file chain (features.load_waves)."""
    predictor = tiny["predictor"]
    paths = tiny["df"]["path"].tolist()[:5]
    waves = [dsp.load(p, sr=SR)[0] for p in paths]                  # different lengths
    from_files = predictor.predict_files(paths)
    from_waves = predictor.predict_waves(waves, SR)
    for a, b, w in zip(from_files, from_waves, waves):
        np.testing.assert_allclose(b.probabilities, a.probabilities, rtol=0, atol=1e-6)
        assert b.duration == pytest.approx(len(w) / SR)
    assert [r.source for r in from_waves] == [f"wave[{i}]" for i in range(5)]
    single = predictor.predict_waves(waves[0], SR)                   # one 1-D clip
    assert len(single) == 1
    np.testing.assert_allclose(single[0].probabilities, from_files[0].probabilities, atol=1e-6)


def test_other_sample_rates_and_channel_counts(tiny, tmp_path):
    predictor = tiny["predictor"]
    path = tiny["df"]["path"].iloc[3]
    y, _ = dsp.load(path, sr=SR)
    base = predictor.predict_files([path])[0].probabilities
    # 44.1 kHz stereo, channels y and 0.5 y: downmixed to 0.75 y, resampled back to 16 kHz;
    # the audio is z-normalized per clip, so only the resampling round trip differs
    up = dsp.resample(y, SR, 44100)
    sf.write(tmp_path / "stereo44k.wav", np.stack([up, 0.5 * up], axis=1), 44100,
             subtype="FLOAT")
    # 8 kHz mono: the band above 4 kHz is lost, a real (if small) change of input
    sf.write(tmp_path / "mono8k.flac", dsp.resample(y, SR, 8000), 8000)
    stereo, low = predictor.predict_files([tmp_path / "stereo44k.wav", tmp_path / "mono8k.flac"])
    assert stereo.ok and low.ok
    assert stereo.duration == pytest.approx(len(y) / SR, abs=1e-4)
    assert low.duration == pytest.approx(len(y) / SR, abs=1e-3)
    np.testing.assert_allclose(stereo.probabilities, base, atol=2e-3)
    np.testing.assert_allclose(low.probabilities.sum(), 1.0, atol=1e-6)
    # the 8 kHz file goes through exactly predict_waves at 8 kHz
    y8, _ = dsp.load(tmp_path / "mono8k.flac")
    as_wave = predictor.predict_waves(y8, 8000)[0]
    np.testing.assert_allclose(low.probabilities, as_wave.probabilities, atol=1e-6)


def test_bad_files_are_reported_and_the_others_predicted(tiny, tmp_path):
    predictor = Predictor.load(tiny["run"], batch_size=3)   # two failures in one batch of 3
    good = tiny["df"]["path"].tolist()[:3]
    (tmp_path / "notes.wav").write_text("this is not audio\n")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), SR)
    batch = [good[0], str(tmp_path / "missing.wav"), str(tmp_path / "notes.wav"), good[1],
             str(tmp_path / "empty.wav"), good[2]]
    results = predictor.predict_files(batch)
    assert [r.source for r in results] == batch
    assert [r.ok for r in results] == [True, False, False, True, False, True]
    assert "no such file" in results[1].error and str(tmp_path / "missing.wav") in results[1].error
    assert "cannot decode" in results[2].error and "notes.wav" in results[2].error
    assert "no samples" in results[4].error
    assert results[1].to_dict() == {"file": batch[1], "error": results[1].error}
    alone = tiny["predictor"].predict_files(good)
    for r, ref in zip([results[0], results[3], results[5]], alone):
        np.testing.assert_allclose(r.probabilities, ref.probabilities, atol=1e-6)


# ================================================================================= streaming
def expected_windows(n, w, h):
    """Oracle: window k starts at k h; the last is the first whose end reaches n."""
    spans, k = [], 0
    while True:
        a = k * h
        spans.append((a, min(a + w, n)))
        if a + w >= n:
            return spans
        k += 1


@pytest.mark.parametrize("seconds, window, hop, sr", [
    (6.0, 2.1, 0.5, SR),      # partial last window (6.0 - 2.1 is not a multiple of 0.5)
    (6.1, 2.1, 0.5, SR),      # the last full window ends exactly at the end
    (1.3, None, 0.5, SR),     # shorter than one window: one padded window
    (4.0, 1.0, 0.3, 8000),    # windows shorter than the training clip, another rate
])
def test_stream_windows_cover_the_recording_at_the_right_times(tiny, seconds, window, hop, sr):
    predictor = tiny["predictor"]
    y = recording(sr=sr)
    y = np.tile(y, 2)[:int(round(seconds * sr))]
    stats = StreamStats()
    got = list(predictor.stream(y, window=window, hop=hop, sr=sr, stats=stats))
    w = int(round((window or FEATURES.duration) * sr))
    spans = expected_windows(len(y), w, int(round(hop * sr)))
    assert [(g.start_s, g.end_s) for g in got] == [(a / sr, b / sr) for a, b in spans]
    assert got[0].start_s == 0 and got[-1].end_s == pytest.approx(seconds)
    assert all(nxt.start_s <= cur.end_s for cur, nxt in zip(got, got[1:]))   # no gap
    # each window's probabilities are those of exactly its samples, padded as in training
    reference = predictor.predict_waves([y[a:b] for a, b in spans], sr)
    for g, r in zip(got, reference):
        np.testing.assert_allclose(g.probabilities, r.probabilities, rtol=0, atol=1e-6)
    assert stats.windows == len(spans) and stats.audio_seconds == pytest.approx(len(y) / sr)
    assert 0 < stats.compute_seconds and math.isfinite(stats.real_time_factor)


def test_stream_in_chunks_equals_stream_of_the_whole(tiny):
    predictor = tiny["predictor"]
    y = recording()
    whole = list(predictor.stream(y, hop=0.5))
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.integers(0, len(y), 12))
    chunks = (c for c in np.split(y, cuts))                        # includes empty chunks
    chunked = list(predictor.stream(chunks, hop=0.5))
    assert [(c.start_s, c.end_s) for c in chunked] == [(c.start_s, c.end_s) for c in whole]
    np.testing.assert_allclose(np.stack([c.probabilities for c in chunked]),
                               np.stack([c.probabilities for c in whole]), atol=1e-6)
    assert np.ptp(np.stack([c.probabilities for c in whole]), axis=0).max() > 1e-3


def test_stream_of_a_file_equals_stream_of_its_samples(tiny, tmp_path):
    predictor = tiny["predictor"]
    y = recording(sr=22050)
    sf.write(tmp_path / "talk.wav", y, 22050, subtype="FLOAT")
    from_file = list(predictor.stream(tmp_path / "talk.wav", hop=0.7))
    y16, _ = dsp.load(tmp_path / "talk.wav", sr=SR)
    from_array = list(predictor.stream(y16, hop=0.7))
    assert len(from_file) == len(from_array) > 3
    for a, b in zip(from_file, from_array):
        assert (a.start_s, a.end_s) == (b.start_s, b.end_s)
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)


def test_stream_rejects_bad_settings_when_called(tiny):
    predictor, y = tiny["predictor"], recording()
    with pytest.raises(ValueError, match=r"window=3.0 s must be <= the training clip length 2.1"):
        predictor.stream(y, window=3.0)
    with pytest.raises(ValueError, match=r"hop=2.5 must satisfy 0 < hop <= window=2.0"):
        predictor.stream(y, window=2.0, hop=2.5)
    with pytest.raises(ValueError, match="hop=0.0"):
        predictor.stream(y, hop=0.0)
    with pytest.raises(ValueError, match="a file has its own rate"):
        predictor.stream("talk.wav", sr=8000)
    with pytest.raises(dsp.AudioLoadError, match="no such file"):
        predictor.stream("/nonexistent/talk.wav")
    with pytest.raises(ValueError, match=r"mono \(n,\)"):
        list(predictor.stream([np.zeros((2, 100), np.float32)]))
    assert list(predictor.stream(np.zeros(0, np.float32))) == []


def test_read_pcm16_matches_soundfile_scaling(tmp_path):
    ints = np.random.default_rng(0).integers(-32768, 32768, 1001).astype("<i2")
    sf.write(tmp_path / "x.wav", ints, SR, subtype="PCM_16")
    expected, _ = sf.read(tmp_path / "x.wav", dtype="float32")
    chunks = list(read_pcm16(io.BytesIO(ints.tobytes() + b"\x01"), chunk_samples=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 101]        # odd trailing byte dropped
    np.testing.assert_array_equal(np.concatenate(chunks), expected)
    with pytest.raises(ValueError, match="chunk_samples=0"):
        list(read_pcm16(io.BytesIO(b""), 0))


# ================================================================================ explaining
def test_explain_weights_sum_to_one_over_time(tiny):
    predictor = tiny["predictor"]
    path = tiny["df"]["path"].iloc[5]
    ex = predictor.explain(path)
    n_frames = FEATURES.frames                                         # 132
    assert ex.weights.shape == (n_frames // 4,)                        # 33 LSTM steps
    np.testing.assert_allclose(ex.weights.sum(), 1.0, atol=1e-5)
    assert (ex.weights > 0).all()
    hop_s = FEATURES.hop_length / SR
    np.testing.assert_allclose(ex.step_start_s, np.arange(33) * 4 * hop_s)
    np.testing.assert_allclose(ex.step_end_s[:-1], ex.step_start_s[1:])
    # the input mel is the training features before standardization
    raw = features.extract([path], FEATURES, cache_dir=None, progress=False).X
    np.testing.assert_allclose(ex.mel, raw[0, 0], atol=1e-4)
    ref = predictor.predict_files([path])[0]
    np.testing.assert_allclose(ex.prediction.probabilities, ref.probabilities, atol=1e-6)
    assert ex.prediction.source == path and ex.prediction.label == ref.label


class MeanOverTime(Module):
    """A model without attention: log-mel averaged over time, then a linear layer."""

    def __init__(self, n_mels=128, n_classes=3):
        super().__init__()
        self.fc = Linear(n_mels, n_classes)

    def forward(self, x):
        return self.fc(x.mean(axis=-1).squeeze(1))


def test_explain_refuses_a_model_without_attention_weights(tiny):
    p = tiny["predictor"]
    predictor = Predictor(MeanOverTime(), p.class_names, p.feature_config, p.standardizer)
    path = tiny["df"]["path"].iloc[0]
    assert predictor.predict_files([path])[0].ok                       # it predicts ...
    with pytest.raises(ValueError, match="MeanOverTime has no attention_weights"):
        predictor.explain(path)                                        # ... but cannot explain


# ========================================================================= bad checkpoints
def mutate(key, value):
    def apply(ckpt):
        target = ckpt
        *parents, last = key.split("/")
        for p in parents:
            target = target[p]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value(target[last]) if callable(value) else value
        return ckpt
    return apply


DELETE = object()
BAD_CHECKPOINTS = {
    "version": (mutate("version", 99), "format version 99, this minitorch-ser reads version 2"),
    "no meta": (mutate("meta", DELETE), "has no 'meta'"),
    "no standardizer": (mutate("meta/standardizer", DELETE),
                        "meta lacks 'standardizer': the normalization statistics"),
    "no class names": (mutate("meta/class_names", DELETE), "meta lacks 'class_names'"),
    "unknown feature field": (mutate("meta/feature_config", lambda d: {**d, "preemphasis": 0.97}),
                              r"field\(s\) \['preemphasis'\] this version's FeatureConfig"),
    "missing feature field": (mutate("meta/feature_config",
                                     lambda d: {k: v for k, v in d.items() if k != "top_db"}),
                              r"lacks field\(s\) \['top_db'\]"),
    "other clip length": (mutate("meta/feature_config", lambda d: {**d, "duration": 3.0}),
                          r"n_frames=132 \(model\) vs 188 \(features\)"),
    "unknown model": (mutate("model_class", "Transformer"),
                      r"'Transformer' is not in the model registry \(registered: .*"
                      r"ParallelCNNLSTMAttention"),
    "foreign model": (mutate("model_class", "os:system"), "'os:system' is not in the model "
                                                          "registry"),
    "non-finite weights": (mutate("model_state/fc.weight", lambda w: np.where(w > 0, np.nan, w)),
                           r"weights 'fc.weight' \(3, \d+\) hold \d+ non-finite value"),
    "other config": (mutate("model_config", lambda c: {**c, "hidden": 16}),
                     "weights do not fit ParallelCNNLSTMAttention.*wrong shapes"),
    "unknown config key": (mutate("model_config", lambda c: {**c, "depth": 3}),
                           "cannot be built from the checkpoint's model_config .*unexpected keyword"),
    "class count": (mutate("meta/class_names", ["a", "b", "c", "d"]),
                    r"logits of shape \(1, 3\) but the checkpoint names 4 classes"),
    "statistics shape": (mutate("meta/standardizer",
                                lambda s: {**s, "mean": np.zeros((1, 1, 64, 1), np.float32)}),
                         r"standardizer mean has shape \(1, 1, 64, 1\).*\(1, 1, 128, 132\)"),
}


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_incompatible_checkpoints_are_refused_saying_what_differs(tiny, tmp_path, case):
    change, message = BAD_CHECKPOINTS[case]
    ckpt = change(load_checkpoint(tiny["run"]))
    path = tmp_path / "bad.ckpt"
    write_archive(path, ckpt)             # save_checkpoint would reset format and version
    with pytest.raises(CheckpointError, match=message) as info:
        Predictor.load(path)
    assert str(path) in str(info.value)


def test_corrupt_and_foreign_files_are_refused(tiny, tmp_path):
    data = (tiny["run"] / "best.ckpt").read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.ckpt cannot be read.*corrupt"):
        Predictor.load(tmp_path / "truncated.ckpt")
    with pytest.raises(CheckpointError, match="cannot be read"):
        Predictor.load(tiny["df"]["path"].iloc[0])                    # a WAV file
    write_archive(tmp_path / "dict.npz", {"weights": [1, 2]})
    with pytest.raises(CheckpointError, match="dict.npz is not a minitorch-ser checkpoint"):
        Predictor.load(tmp_path / "dict.npz")
    (tmp_path / "dict.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(CheckpointError, match="dict.pkl is a pickle.*not loaded.*convert"):
        Predictor.load(tmp_path / "dict.pkl")
    with pytest.raises(CheckpointError, match="best.ckpt does not exist"):
        Predictor.load(tmp_path)                                      # a folder without a run
