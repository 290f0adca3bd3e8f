"""Feature extraction: shapes, agreement with the per-clip dsp chain, cache, bad files,
standardization."""

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from audio_backend import soundfile_or_skip

import dsp
from minitorch_ser.data import features
from minitorch_ser.data.features import FeatureConfig, Standardizer

sf = soundfile_or_skip()


@pytest.fixture
def counted(monkeypatch):
    """Record the computations behind ``extract``: one list per computation (a call of
    ``features._chunks``), holding the first input of every chunk it computed."""
    calls = []
    real = features._chunks

    def spy(paths, *args, **kwargs):
        calls.append([])
        for chunk in real(paths, *args, **kwargs):
            calls[-1].append(chunk[0])
            yield chunk

    monkeypatch.setattr(features, "_chunks", spy)
    return calls


def _one_clip_oracle(path, cfg):
    """The paper's chain on one clip, written out with dsp calls (no batching, no cache)."""
    y, sr = dsp.load(path, sr=cfg.sr)
    y = dsp.fix_length(y, cfg.n_samples)
    S = dsp.melspectrogram(y=y, sr=sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                           win_length=cfg.win_length, window=cfg.window, center=cfg.center,
                           n_mels=cfg.n_mels, fmax=cfg.fmax)
    return dsp.power_to_db(S, ref=np.max)


# ==================================================================================== shapes
def test_baved_shape_and_values(synth_df):
    cfg = FeatureConfig()
    assert cfg.shape == (1, 128, 188) and cfg.n_samples == 48000
    X, kept, failed = features.extract(synth_df["path"], cfg, batch_size=5, progress=False,
                                       cache_dir=None)
    assert X.shape == (len(synth_df), 1, 128, 188) and X.dtype == np.float32
    assert np.array_equal(kept, np.arange(len(synth_df))) and failed == []
    # ref=np.max per clip: each clip peaks at 0 dB; top_db=80 floors it at -80 dB
    assert np.allclose(X.max(axis=(1, 2, 3)), 0.0) and X.min() >= -80.0


def test_matches_one_clip_chain_and_batching(synth_df):
    cfg = FeatureConfig()
    paths = list(synth_df["path"][:7])
    a = features.extract(paths, cfg, batch_size=1, progress=False, cache_dir=None).X
    b = features.extract(paths, cfg, batch_size=3, progress=False, cache_dir=None).X
    # batching does not mix clips (float32 BLAS may round differently per batch size)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)
    for i, p in enumerate(paths):
        np.testing.assert_allclose(a[i, 0], _one_clip_oracle(p, cfg), rtol=0, atol=1e-3)


def test_long_clip_trimmed_short_clip_padded(tmp_path):
    rng = np.random.default_rng(0)
    y = (0.3 * rng.standard_normal(16000 * 4)).astype(np.float32)
    sf.write(tmp_path / "long.wav", y, 16000, subtype="FLOAT")
    sf.write(tmp_path / "cut.wav", y[:48000], 16000, subtype="FLOAT")
    sf.write(tmp_path / "short.wav", y[:8000], 16000, subtype="FLOAT")
    X = features.extract([tmp_path / n for n in ("long.wav", "cut.wav", "short.wav")],
                         progress=False, cache_dir=None).X
    np.testing.assert_allclose(X[0], X[1], rtol=0, atol=1e-4)   # 4 s trimmed to its first 3 s
    # 0.5 s of audio: frames whose window lies wholly in the zero padding are at the floor
    last_audio_frame = (8000 + 1024 // 2) // 256 + 1
    assert np.all(X[2, 0, :, last_audio_frame + 1:] == -80.0)
    assert np.all(X[2, 0, :, :last_audio_frame - 4].max(axis=0) > -80.0)


def test_other_layouts_shapes(synth_df):
    paths = list(synth_df["path"][:3])
    crema = FeatureConfig(n_fft=400, win_length=400, hop_length=160, n_mels=64, fmax=None,
                          deltas=True, normalize_audio=True)
    assert crema.shape == (3, 64, 301)
    X = features.extract(paths, crema, progress=False, cache_dir=None).X
    assert X.shape == (3, 3, 64, 301)
    cropped = FeatureConfig(**{**crema.to_dict(), "n_frames": 300})
    Xc = features.extract(paths, cropped, progress=False, cache_dir=None).X
    assert Xc.shape == (3, 3, 64, 300)
    np.testing.assert_array_equal(Xc, X[..., :300])
    # checkpoints of the earlier time-first layout still read (the flag is dropped)
    assert FeatureConfig.from_dict({**crema.to_dict(), "time_first": True}) == crema
    uncentred = FeatureConfig(center=False)
    assert uncentred.shape == (1, 128, 1 + (48000 - 1024) // 256)
    assert features.extract(paths[:1], uncentred, progress=False, cache_dir=None).X.shape == (
        1, *uncentred.shape)


def test_config_validation_and_round_trip():
    with pytest.raises(ValueError, match="win_length=2048 must be <= n_fft=1024"):
        FeatureConfig(win_length=2048)
    with pytest.raises(ValueError, match="fmax=9000"):
        FeatureConfig(fmax=9000)
    with pytest.raises(ValueError, match="n_mels=0 must be a positive integer"):
        FeatureConfig(n_mels=0)
    cfg = FeatureConfig(n_mels=64, deltas=True)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.key() != FeatureConfig().key()
    with pytest.raises(ValueError, match="unknown FeatureConfig field"):
        FeatureConfig.from_dict({"n_mel": 64})


# ===================================================================================== cache
def test_cache_hit(synth_df, tmp_path, counted):
    paths = list(synth_df["path"][:6])
    first = features.extract(paths, cache_dir=tmp_path, progress=False)
    second = features.extract(paths, cache_dir=tmp_path, progress=False)
    assert len(counted) == 1, "the second call reads the cache"
    np.testing.assert_array_equal(first.X, second.X)
    np.testing.assert_array_equal(first.kept, second.kept)
    store = features.cache_path(paths, FeatureConfig(), tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(
        [os.path.basename(store), os.path.basename(store)[:-len(".npy")] + ".json"])
    np.testing.assert_array_equal(np.load(store), first.X)        # a standard .npy file


def test_cache_invalidated_by_config_and_file_list(synth_df, tmp_path, counted):
    paths = list(synth_df["path"][:4])
    features.extract(paths, cache_dir=tmp_path, progress=False)
    X64 = features.extract(paths, FeatureConfig(n_mels=64), cache_dir=tmp_path, progress=False).X
    assert len(counted) == 2 and X64.shape[2] == 64          # parameters changed
    features.extract(paths[:3], cache_dir=tmp_path, progress=False)
    assert len(counted) == 3                                 # one file fewer
    features.extract(paths[::-1], cache_dir=tmp_path, progress=False)
    assert len(counted) == 4                                 # another order


def test_cache_invalidated_when_a_file_changes(tmp_path, counted):
    path = tmp_path / "a.wav"
    sf.write(path, 0.1 * np.ones(8000, np.float32), 16000)
    features.extract([path], cache_dir=tmp_path / "c", progress=False)
    sf.write(path, 0.1 * np.sin(np.arange(12000, dtype=np.float32)), 16000)   # new size
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))              # and new mtime
    new = features.extract([path], cache_dir=tmp_path / "c", progress=False)
    assert len(counted) == 2
    np.testing.assert_allclose(new.X[0, 0], _one_clip_oracle(path, FeatureConfig()), atol=1e-3)


def test_corrupt_cache_file_is_recomputed(synth_df, tmp_path, counted):
    paths = list(synth_df["path"][:2])
    features.extract(paths, cache_dir=tmp_path, progress=False)
    with open(features.cache_path(paths, FeatureConfig(), tmp_path), "wb") as f:
        f.write(b"not an npy")
    with pytest.warns(UserWarning, match="unreadable.*recomputing"):
        out = features.extract(paths, cache_dir=tmp_path, progress=False)
    assert len(counted) == 2 and out.X.shape == (2, 1, 128, 188)


# ================================================================================ bad files
def test_unreadable_files_are_skipped_with_a_count(synth_df, tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF....WAVEjunkjunkjunk")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    missing = tmp_path / "missing.wav"
    good = list(synth_df["path"][:3])
    paths = [good[0], garbage, good[1], empty, missing, good[2]]
    for cache in (tmp_path / "cache", tmp_path / "cache"):     # computed, then from the cache
        with pytest.warns(UserWarning, match=r"skipped 3 unreadable file\(s\) of 6") as rec:
            X, kept, failed = features.extract(paths, cache_dir=cache, progress=False)
        message = str(rec[0].message)
        for p in (garbage, empty, missing):
            assert str(p) in message
        assert kept.tolist() == [0, 2, 5] and X.shape[0] == 3
        assert [p for p, _ in failed] == [str(garbage), str(empty), str(missing)]
    clean = features.extract(good, cache_dir=None, progress=False).X
    np.testing.assert_allclose(X, clean, rtol=0, atol=1e-4)


def test_all_files_unreadable(tmp_path):
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable"):
        X, kept, _ = features.extract([tmp_path / "nope.wav"], cache_dir=None, progress=False)
    assert X.shape == (0, 1, 128, 188) and kept.size == 0


def test_dataset_from_indices_with_and_without_clean(synth_df):
    paths, labels = list(synth_df["path"]), synth_df["emotion"].to_numpy()
    clean = features.extract(paths, cache_dir=None, progress=False)
    idx = np.array([5, 2, 11])
    a = features.dataset_from_indices(idx, paths, labels, clean=clean)
    b = features.dataset_from_indices(idx, paths, labels, cache_dir=None, progress=False)
    for d in (a, b):
        assert d.source_index.tolist() == [5, 2, 11] and d.y.tolist() == labels[idx].tolist()
        assert not d.augmented.any() and np.isnan(d.snr_db).all()
    np.testing.assert_array_equal(a.X, clean.X[idx])
    np.testing.assert_allclose(b.X, a.X, rtol=0, atol=1e-4)
    # rows are positions even when paths come as a Series with another index
    shifted = pd.Series(paths, index=np.arange(100, 100 + len(paths)))
    c = features.dataset_from_indices(idx, shifted, labels, clean=clean)
    np.testing.assert_array_equal(c.X, a.X)


# ============================================================================ standardization
def test_standardizer_per_bin_uses_training_statistics():
    rng = np.random.default_rng(0)
    train = (rng.standard_normal((20, 2, 5, 7)) * np.arange(1, 6)[:, None] + 3).astype(np.float32)
    val = rng.standard_normal((4, 2, 5, 7)).astype(np.float32)
    s = Standardizer().fit(train)
    mean = train.astype(np.float64).mean(axis=(0, 3), keepdims=True)
    std = train.astype(np.float64).std(axis=(0, 3), keepdims=True)
    np.testing.assert_allclose(s.mean_, mean, rtol=1e-6)
    np.testing.assert_allclose(s.std_, std, rtol=1e-5)
    t = s.transform(train)
    np.testing.assert_allclose(t.mean(axis=(0, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(t.std(axis=(0, 3)), 1, atol=1e-4)
    np.testing.assert_allclose(s.transform(val), (val - mean) / std, atol=1e-5)
    np.testing.assert_allclose(s.inverse_transform(s.transform(val)), val, atol=1e-5)
    back = Standardizer.from_state_dict(s.state_dict())
    np.testing.assert_array_equal(back.transform(val), s.transform(val))


def test_standardizer_global_old_layout_and_constant_bins():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 3, 4, 8)).astype(np.float32)
    X[:, 0, 2, :] = 5.0                                   # mel bin 2 of channel 0 is constant
    s = Standardizer(mode="per_bin").fit(X)
    assert s.mean_.shape == (1, 3, 4, 1) and s.std_[0, 0, 2, 0] == 1.0
    assert np.all(s.transform(X)[:, 0, 2, :] == 0.0)     # a constant bin is only centred
    # statistics saved for time-first features (bin_axis -1) come back as (1, C, F, 1)
    old = {"mode": "per_bin", "bin_axis": -1, "eps": 1e-6,
           "mean": np.swapaxes(s.mean_, 2, 3), "std": np.swapaxes(s.std_, 2, 3)}
    back = Standardizer.from_state_dict(old)
    np.testing.assert_array_equal(back.transform(X), s.transform(X))
    g = Standardizer(mode="global").fit(X)
    assert g.mean_.shape == (1, 3, 1, 1)
    np.testing.assert_allclose(g.mean_.ravel(), X.astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-6)
    with pytest.raises(ValueError, match="not fitted"):
        Standardizer().transform(X)
    with pytest.raises(ValueError, match="mode='batch'"):
        Standardizer(mode="batch")


def test_standardizer_in_place():
    X = np.arange(24, dtype=np.float32).reshape(2, 1, 3, 4)
    s = Standardizer().fit(X)
    out = s.transform(X, copy=False)
    assert out is X
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(out).all()


def test_real_baved_clips():
    root = os.environ.get("BAVED_DIR")
    if not root:
        pytest.skip("BAVED_DIR is not set")
    from minitorch_ser.data import baved
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # the known word-folder mismatch
        df = baved.read_metadata(root)
    # the shortest and the longest clips: one padded, one trimmed
    n = df["path"].map(lambda p: sf.info(p).frames)
    paths = [df["path"][n.idxmin()], df["path"][n.idxmax()]]
    X, kept, failed = features.extract(paths, progress=False, cache_dir=None)
    assert X.shape == (2, 1, 128, 188) and failed == []
    assert np.isfinite(X).all() and np.allclose(X.max(axis=(1, 2, 3)), 0.0)
