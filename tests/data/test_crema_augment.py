"""The second paper's augmentation (noise, pitch, gain, SpecAugment) and its training-only use."""

import numpy as np
import pytest

from minitorch_ser.data import crema_d, splits, synthetic
from minitorch_ser.data.augment import SpecAugment, WaveAugment
from minitorch_ser.data.features import load_waves, waves_to_features
from minitorch_ser.app.experiment import prepare

SR = 16000


@pytest.fixture(scope="module")
def crema_df(tmp_path_factory):
    """Imbalanced synthetic CREMA-D: 4 actors x 3 sentences x 6 emotions, keeping FEA for one
    sentence and SAD for two (60 clips: 12 each of ANG DIS HAP NEU, 4 FEA, 8 SAD)."""
    root = tmp_path_factory.mktemp("crema_aug")
    synthetic.make_crema_d(root, n_actors=4, sentences=("DFA", "IEO", "ITH"), seed=1,
                           duration=(1.0, 2.0))
    df = crema_d.read_metadata(root)
    fea, sad = crema_d.EMOTIONS.index("FEA"), crema_d.EMOTIONS.index("SAD")
    drop = (((df["emotion"] == fea) & (df["sentence"] != "DFA"))
            | ((df["emotion"] == sad) & (df["sentence"] == "IEO")))
    return df[~drop].reset_index(drop=True)


def _tone(freq, seconds=1.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_frequency(y):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=8 * len(y)))
    return np.argmax(spectrum) * SR / (8 * len(y))


# ==================================================================== waveform augmentation
def test_wave_augment_is_seeded_and_keeps_shape():
    waves = np.stack([_tone(f) for f in (200, 300, 450)])
    aug = WaveAugment()
    a, b = aug(waves, np.random.default_rng(5)), aug(waves, np.random.default_rng(5))
    assert a.shape == waves.shape and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, aug(waves, np.random.default_rng(6)))
    assert aug(waves[:0], np.random.default_rng(0)).shape == (0, SR)


def test_draws_cover_both_directions_within_the_ranges():
    d = WaveAugment().draw(2000, np.random.default_rng(0))
    for key, limit in (("semitones", 2.0), ("gain_db", 5.0)):
        assert np.abs(d[key]).max() <= limit
        assert d[key].min() < -0.9 * limit and d[key].max() > 0.9 * limit


def test_noise_is_relative_to_the_peak():
    waves = np.stack([_tone(300) * s for s in (0.1, 1.0, 2.0)])            # peaks 0.05 .. 1
    aug = WaveAugment(semitones=0.0, gain_db=0.0)
    noise = aug(waves, np.random.default_rng(0)) - waves
    peak = np.abs(waves).max(axis=1)
    ratio = noise.std(axis=1) / peak                          # = 0.035 u, u ~ U[0, 1) per clip
    assert np.all(ratio < 0.035 * 1.01) and np.all(ratio > 0)
    # the same draws scale with the clip: noise / peak does not depend on the level
    same = aug(waves[[1, 1, 1]] * np.array([[0.1], [1.0], [2.0]], np.float32),
               np.random.default_rng(0)) - waves[[1, 1, 1]] * np.array([[0.1], [1], [2]])
    np.testing.assert_allclose(same.std(axis=1) / peak, ratio, rtol=1e-4)


def test_gain_scales_by_the_drawn_decibels():
    waves = np.stack([_tone(300), _tone(500)])
    aug = WaveAugment(noise_level=0.0, semitones=0.0)
    params = aug.draw(2, np.random.default_rng(3))
    out = aug.apply(waves, params, np.random.default_rng(3))
    expected = waves * 10 ** (params["gain_db"][:, None] / 20)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-7)


def test_pitch_shift_moves_a_tone_by_the_drawn_semitones():
    waves = np.stack([_tone(440.0)] * 3)
    aug = WaveAugment(noise_level=0.0, gain_db=0.0)
    params = {"semitones": np.array([-2.0, 1.5, 2.0]), "gain_db": np.zeros(3)}
    out = aug.apply(waves, params, np.random.default_rng(0))
    got = [_peak_frequency(y[2000:-2000]) for y in out]
    np.testing.assert_allclose(got, 440.0 * 2 ** (params["semitones"] / 12), atol=1.5)
    with pytest.raises(ValueError, match="one of each per wave"):
        aug.apply(waves, {"semitones": np.zeros(2), "gain_db": np.zeros(3)}, 0)
    with pytest.raises(ValueError, match="semitones=-1 must be >= 0"):
        WaveAugment(semitones=-1)


def test_a_gain_alone_leaves_the_paper_features_unchanged(crema_df):
    """power_to_db(ref=max) measures every clip from its own peak (WaveAugment's note)."""
    cfg = crema_d.FEATURES
    waves, _, _, _ = load_waves(crema_df["path"][:3], cfg)
    louder = WaveAugment(noise_level=0.0, semitones=0.0).apply(
        waves, {"semitones": np.zeros(3), "gain_db": np.array([-5.0, 3.0, 5.0])}, 0)
    np.testing.assert_allclose(waves_to_features(louder, cfg), waves_to_features(waves, cfg),
                               atol=2e-3)


# ==================================================================== SpecAugment
def test_spec_augment_masks_bands_shared_by_the_channels():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3, 64, 300)).astype(np.float32)            # (B, C, F, T)
    out = SpecAugment()(X, np.random.default_rng(1))
    assert out.shape == X.shape and out.dtype == np.float32
    masked = out != X                                                       # X is never 0
    assert np.all(out[masked] == 0.0)
    assert np.array_equal(masked[:, 0], masked[:, 1]) and np.array_equal(masked[:, 0], masked[:, 2])
    m = masked[:, 0]                                                        # (B, F, T)
    time_band, freq_band = m.all(axis=1), m.all(axis=2)                     # (B, T), (B, F)
    assert np.array_equal(m, time_band[:, None, :] | freq_band[:, :, None])  # only whole bands
    for bands in (time_band, freq_band):
        starts = np.diff(bands.astype(int), axis=1, prepend=0) == 1
        assert starts.sum(axis=1).max() <= 2                                # at most 2 masks
        assert bands.sum(axis=1).max() <= 2 * 7                             # each narrower than 8
        assert bands.any(axis=1).mean() > 0.5                               # masks do happen
    np.testing.assert_array_equal(out[~masked], X[~masked])


def test_spec_augment_mean_value_and_layouts():
    X = np.random.default_rng(0).standard_normal((6, 3, 20, 50)).astype(np.float32) + 4
    out = SpecAugment(mask_value="mean")(X, np.random.default_rng(2))
    mean = X.mean(axis=(2, 3), keepdims=True)
    masked = out != X
    np.testing.assert_allclose(out[masked], np.broadcast_to(mean, X.shape)[masked], rtol=1e-6)
    with pytest.raises(ValueError, match="mask_value='median' must be a number or 'mean'"):
        SpecAugment(mask_value="median")
    with pytest.raises(ValueError, match=r"F=8 must be <= n_mels=4"):
        SpecAugment()(X[:, :, :4, :], np.random.default_rng(0))


# ==================================================================== training set only
def _prepare(paths, labels, split, copies):
    return prepare(paths, labels, split, crema_d.FEATURES, copies=copies,
                   wave_augment=WaveAugment(), feature_augment=SpecAugment(), oversample=True,
                   seed=0, cache_dir=None, progress=False)


@pytest.mark.parametrize("protocol", ["random", "speaker"])
def test_oversampling_and_augmentation_touch_the_training_split_only(crema_df, protocol):
    labels = crema_df["emotion"].to_numpy()
    assert np.bincount(labels).tolist() == [12, 12, 4, 12, 12, 8]          # imbalanced
    if protocol == "random":
        split = splits.random_split(labels, (0.64, 0.16, 0.20), seed=0)
    else:
        split = splits.speaker_split(crema_df, "emotion", "actor", (0.5, 0.25, 0.25), seed=0)
        actors = crema_df["actor"].to_numpy()
        assert not set(actors[split["train"]]) & set(actors[np.r_[split["val"], split["test"]]])
    train, val, test, _ = _prepare(crema_df["path"], labels, split, 0.25)
    assert train.X.shape[1:] == (3, 64, 300)
    # every training row, clean or augmented, comes from a training clip
    assert set(train.source_index) == set(split["train"])
    assert set(train.source_index[train.augmented]) <= set(split["train"])
    # the clean training rows are balanced: each class as large as the largest in training
    clean = train.y[~train.augmented]
    largest = np.bincount(labels[split["train"]]).max()
    assert np.bincount(clean, minlength=6).tolist() == [largest] * 6
    # the training set grew by a quarter of its rows
    assert train.augmented.sum() == round(0.25 * len(clean))
    # validation and test are untouched: one row per clip, in order, never augmented
    for ds, name in ((val, "val"), (test, "test")):
        assert ds.source_index.tolist() == split[name].tolist() and not ds.augmented.any()
        assert ds.y.tolist() == labels[split[name]].tolist()
    # the copies differ from the clean rows of their clip
    first = {int(s): i for i, s in reversed(list(enumerate(train.source_index)))}
    for i in np.flatnonzero(train.augmented)[:4]:
        assert np.abs(train.X[i] - train.X[first[int(train.source_index[i])]]).mean() > 0.05
