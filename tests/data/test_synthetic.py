"""The synthetic BAVED / CREMA-D generators: layout, format, and that labels move the voice."""

import os

import numpy as np
import pandas as pd
from audio_backend import soundfile_or_skip

from minitorch_ser.data import baved, synthetic

sf = soundfile_or_skip()


def _f0(y, sr):
    """Median pitch over the voiced frames: the real cepstrum's peak over quefrencies of
    1/400 .. 1/60 s, in 40 ms Hann frames holding at least 30 % of the top frame energy."""
    n, hop = int(0.04 * sr), int(0.01 * sr)
    frames = np.lib.stride_tricks.sliding_window_view(y, n)[::hop] * np.hanning(n)
    energy = np.sum(frames ** 2, axis=1)
    frames = frames[energy > 0.3 * energy.max()]
    cepstrum = np.fft.irfft(np.log(np.abs(np.fft.rfft(frames, axis=1)) + 1e-9), axis=1)
    lo, hi = int(sr / 400), int(sr / 60)
    return float(np.median(sr / (lo + np.argmax(cepstrum[:, lo:hi], axis=1))))


def test_make_dataset_layout_and_format(tmp_path):
    paths = synthetic.make_dataset(tmp_path, n_speakers=4, n_words=3, clips_per=2, seed=1,
                                   duration=(0.5, 0.9))
    assert len(paths) == 4 * 3 * 3 * 2
    df = baved.read_metadata(tmp_path)
    assert sorted(df["path"]) == sorted(paths)
    assert (df["word"] == df["folder"]).all()
    assert df["record"].is_unique
    assert df.groupby(["speaker", "word", "emotion"]).size().eq(2).all()
    for p in paths[:6]:
        info = sf.info(p)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 0.5 - 1e-3 <= info.duration <= 0.9 + 1e-3


def test_make_dataset_is_deterministic(tmp_path):
    a = synthetic.make_dataset(tmp_path / "a", n_speakers=2, n_words=1, seed=3, duration=0.4)
    b = synthetic.make_dataset(tmp_path / "b", n_speakers=2, n_words=1, seed=3, duration=0.4)
    for pa, pb in zip(a, b):
        assert os.path.basename(pa) == os.path.basename(pb)
        assert np.array_equal(sf.read(pa)[0], sf.read(pb)[0])


def test_emotion_level_moves_energy_and_pitch(tmp_path):
    synthetic.make_dataset(tmp_path, n_speakers=4, n_words=2, clips_per=1, seed=0, duration=1.0)
    df = baved.read_metadata(tmp_path)
    feats = []
    for row in df.itertuples():
        y, sr = sf.read(row.path)
        feats.append({"speaker": row.speaker, "word": row.word, "level": row.emotion,
                      "rms": np.sqrt(np.mean(y ** 2)), "f0": _f0(y, sr)})
    feats = pd.DataFrame(feats)
    # within each (speaker, word): louder and higher from low to neutral to high
    for _, g in feats.groupby(["speaker", "word"]):
        g = g.sort_values("level")
        assert np.all(np.diff(g["rms"].to_numpy()) > 0), g
        assert np.all(np.diff(g["f0"].to_numpy()) > 0), g
    # gender moves pitch: every female voice above every male voice at the neutral level
    gender = df.groupby("speaker")["gender"].first()
    neutral = feats[feats["level"] == 1].groupby("speaker")["f0"].mean()
    assert neutral[gender == "f"].min() > neutral[gender == "m"].max()


def test_make_crema_d_names_and_demographics(tmp_path):
    paths = synthetic.make_crema_d(tmp_path, n_actors=3, sentences=("DFA", "IEO"),
                                   clips_per=2, duration=0.4)
    assert len(paths) == 3 * 2 * 6 * 2
    names = sorted(os.path.basename(p) for p in paths)
    assert names[0] == "1001_DFA_ANG_LO.wav"
    for n in names:
        actor, sentence, emotion, intensity = n[:-4].split("_")
        assert 1001 <= int(actor) <= 1003 and sentence in ("DFA", "IEO")
        assert emotion in synthetic.CREMA_D_PROSODY and intensity in ("XX", "LO")
    demo = pd.read_csv(tmp_path / "VideoDemographics.csv")
    assert list(demo.columns) == ["ActorID", "Age", "Sex", "Race", "Ethnicity"]
    assert demo["ActorID"].tolist() == [1001, 1002, 1003]
    assert set(demo["Sex"]) <= {"Male", "Female"}


def test_emotion_is_learnable_across_speakers(tmp_path):
    """What the demo relies on: a linear probe on the paper's log-mel features, trained on some
    speakers, recognises the emotion level of unseen speakers far above chance (1/3)."""
    from minitorch_ser.data import features, splits
    synthetic.make_dataset(tmp_path, n_speakers=8, n_words=3, clips_per=1, seed=2,
                           duration=(0.8, 1.2))
    df = baved.read_metadata(tmp_path)
    y = df["emotion"].to_numpy()
    X = features.extract(df["path"], features.FeatureConfig(duration=1.5), progress=False,
                         cache_dir=None).X[:, 0]
    f = np.concatenate([X.mean(axis=2), X.std(axis=2)], axis=1)       # (N, 2 * n_mels)
    split = splits.speaker_split(df, fractions=(0.5, 0.25, 0.25), seed=0)
    tr, te = split["train"], np.concatenate([split["val"], split["test"]])
    f = (f - f[tr].mean(0)) / (f[tr].std(0) + 1e-6)
    W, b = np.zeros((f.shape[1], 3)), np.zeros(3)
    for _ in range(300):                                             # softmax regression
        z = f[tr] @ W + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(tr)), y[tr]] -= 1
        W -= 0.1 * (f[tr].T @ p / len(tr) + 1e-2 * W)
        b -= 0.1 * p.mean(0)
    accuracy = np.mean(np.argmax(f[te] @ W + b, axis=1) == y[te])
    assert set(df["speaker"].iloc[tr]).isdisjoint(df["speaker"].iloc[te])
    assert accuracy >= 0.7, accuracy
