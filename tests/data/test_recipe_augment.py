"""Speed perturbation and VTLP as training-copy augmentations: SpeedPerturb against
dsp.speed_perturb, the warped features against dsp's warped filterbank, and
build_training_set with both (training rows only, argument checks)."""

import numpy as np
import pytest

import dsp
from minitorch_ser.data import features, splits, synthetic, baved
from minitorch_ser.data.augment import SpeedPerturb, build_training_set


def _waves(n=3, length=16000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 16000
    return (np.sin(2 * np.pi * rng.uniform(150, 300, (n, 1)) * t)
            + 0.01 * rng.standard_normal((n, length))).astype(np.float32)


def test_speed_perturb_copies_are_resampled_then_cut_to_length():
    """With a `then` that adds nothing, each copy is dsp.speed_perturb at one of the three
    rates, cut or padded back to the clip's length."""
    waves = _waves(6)
    out = SpeedPerturb(0.1, then=lambda w, rng: w)(waves, np.random.default_rng(3))
    assert out.shape == waves.shape and out.dtype == np.float32
    candidates = {rate: dsp.fix_length(dsp.speed_perturb(waves, rate), waves.shape[1], axis=-1)
                  if rate != 1.0 else waves for rate in (0.9, 1.0, 1.1)}
    for b in range(len(waves)):
        assert any(np.allclose(out[b], c[b], atol=1e-6) for c in candidates.values())
    rates = np.random.default_rng(3).choice(np.array([0.9, 1.0, 1.1]), size=6)
    for b, rate in enumerate(rates):
        np.testing.assert_allclose(out[b], candidates[float(rate)][b], atol=1e-6)


def test_speed_perturb_adds_noise_at_the_drawn_snr_by_default():
    waves = _waves(4)
    out = SpeedPerturb(0.1, snr_range=(20.0, 20.0))(waves, np.random.default_rng(0))
    clean = SpeedPerturb(0.1, then=lambda w, rng: w)(waves, np.random.default_rng(0))
    snr = 10 * np.log10((clean ** 2).mean(1) / ((out - clean) ** 2).mean(1))
    np.testing.assert_allclose(snr, 20.0, atol=0.05)


def test_speed_perturb_spread_is_checked():
    with pytest.raises(ValueError, match="spread=0.0"):
        SpeedPerturb(0.0)


def test_vtlp_features_use_each_clips_warped_filterbank():
    cfg = features.FeatureConfig(duration=1.0)
    waves = _waves(3)
    alphas = np.array([0.9, 1.0, 1.08])
    got = features.waves_to_features(waves, cfg, vtlp_alpha=alphas)
    plain = features.waves_to_features(waves, cfg)
    np.testing.assert_array_equal(got[1], plain[1])            # alpha 1: no warp
    for b in (0, 2):
        S = dsp.melspectrogram(y=waves[b], sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                               win_length=cfg.win_length, window=cfg.window, n_mels=cfg.n_mels,
                               fmax=cfg.fmax, vtlp_alpha=float(alphas[b]))
        want = dsp.power_to_db(S, ref=np.max, top_db=cfg.top_db)
        np.testing.assert_allclose(got[b, 0], want, atol=1e-4)
        assert not np.allclose(got[b], plain[b])


def test_build_training_set_with_speed_and_vtlp(tmp_path):
    synthetic.make_dataset(tmp_path, n_speakers=4, n_words=2, clips_per=1, seed=2)
    df = baved.read_metadata(tmp_path)
    labels = df["emotion"].to_numpy()
    split = splits.random_split(labels, fractions=(0.5, 0.25, 0.25), seed=0)
    cfg = features.FeatureConfig()
    train = build_training_set(split, df["path"].tolist(), labels, cfg, copies=1, rng=0,
                               wave_augment=SpeedPerturb(0.1), vtlp=0.1, progress=False,
                               cache_dir=None)
    n = len(split["train"])
    assert train.X.shape == (2 * n, *cfg.shape) and np.isfinite(train.X).all()
    assert set(train.source_index) <= set(split["train"])
    assert not np.allclose(train.X[n:], train.X[:n])
    with pytest.raises(ValueError, match="vtlp=1.5"):
        build_training_set(split, df["path"].tolist(), labels, cfg, vtlp=1.5, cache_dir=None)
