"""AWGN copies and the training-set builder: augmentation never touches validation or test."""

import os
import shutil
import warnings

import numpy as np
import pytest

from minitorch_ser.data import augment, features, splits
from minitorch_ser.data.features import FeatureConfig

# short clips keep these tests fast; the pipeline is the same as BAVED's
CFG = FeatureConfig(duration=1.0)


def test_awgn_copies_shapes_and_snr():
    rng = np.random.default_rng(0)
    waves = rng.standard_normal((5, 4000)).astype(np.float32) * np.arange(1, 6)[:, None]
    noisy, source, snr = augment.awgn_copies(waves, k=3, snr_range=(15, 30), rng=1)
    assert noisy.shape == (15, 4000) and noisy.dtype == np.float32
    assert source.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert np.all((snr >= 15) & (snr <= 30)) and len(np.unique(snr)) == 15
    noise = noisy.astype(np.float64) - waves[source]
    achieved = 10 * np.log10(np.mean(waves[source].astype(np.float64) ** 2, axis=1)
                             / np.mean(noise ** 2, axis=1))
    np.testing.assert_allclose(achieved, snr, atol=1e-3)
    empty, src, _ = augment.awgn_copies(waves, k=0, rng=0)
    assert empty.shape == (0, 4000) and src.size == 0
    with pytest.raises(ValueError, match="snr_range=\\(30, 15\\) must have low <= high"):
        augment.awgn_copies(waves, snr_range=(30, 15), rng=0)


def _split(df, kind="random"):
    if kind == "random":
        return splits.random_split(df["emotion"], (0.5, 0.25, 0.25), seed=0)
    return splits.speaker_split(df, fractions=(0.5, 0.25, 0.25), seed=0)


@pytest.mark.parametrize("kind", ["random", "speaker"])
def test_no_copy_of_a_val_or_test_clip_in_training(synth_df, kind):
    paths, labels = list(synth_df["path"]), synth_df["emotion"].to_numpy()
    split = _split(synth_df, kind)
    train = augment.build_training_set(split, paths, labels, CFG, copies=2, rng=0,
                                       progress=False, cache_dir=None)
    held_out = set(split["val"]) | set(split["test"])
    assert set(train.source_index) == set(split["train"])
    assert not set(train.source_index) & held_out
    n = len(split["train"])
    assert len(train) == 3 * n and train.augmented.sum() == 2 * n
    assert np.bincount(train.source_index[train.augmented]).max() == 2   # two copies each
    assert train.y.tolist() == labels[train.source_index].tolist()
    if kind == "speaker":
        spk = synth_df["speaker"].to_numpy()
        assert not set(spk[train.source_index]) & set(spk[list(held_out)])


def test_builder_never_reads_val_or_test_files(synth_df, tmp_path):
    """Delete the held-out files: building the training set must not notice."""
    for p in synth_df["path"]:
        shutil.copy(p, tmp_path / os.path.basename(p))
    paths = [str(tmp_path / os.path.basename(p)) for p in synth_df["path"]]
    labels = synth_df["emotion"].to_numpy()
    split = _split(synth_df)
    for i in np.concatenate([split["val"], split["test"]]):
        os.remove(paths[i])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # no "unreadable file" warning either
        train = augment.build_training_set(split, paths, labels, CFG, copies=1, rng=0,
                                           progress=False, cache_dir=None)
    assert len(train) == 2 * len(split["train"])


def test_clean_rows_equal_plain_features_and_copies_are_noisy(synth_df):
    paths, labels = list(synth_df["path"]), synth_df["emotion"].to_numpy()
    split = _split(synth_df)
    clean = features.extract(paths, CFG, progress=False, cache_dir=None)
    train = augment.build_training_set(split, paths, labels, CFG, copies=1, rng=3, clean=clean,
                                       progress=False)
    n = len(split["train"])
    np.testing.assert_array_equal(train.X[:n], clean.X[split["train"]])
    assert np.isnan(train.snr_db[:n]).all()
    assert np.all((train.snr_db[n:] >= 15) & (train.snr_db[n:] <= 30))
    copies, originals = train.X[n:], clean.X[train.source_index[n:]]
    diff = np.abs(copies - originals).mean(axis=(1, 2, 3))
    assert np.all(diff > 0.5), "noise changes the features"
    # (that copy i belongs to source_index[i] is shown with an identity augmentation below)


def test_seeded_and_fractional_copies(synth_df):
    paths, labels = list(synth_df["path"]), synth_df["emotion"].to_numpy()
    split = _split(synth_df)
    kw = dict(progress=False, cache_dir=None)
    a = augment.build_training_set(split, paths, labels, CFG, copies=0.5, rng=7, **kw)
    b = augment.build_training_set(split, paths, labels, CFG, copies=0.5, rng=7, **kw)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.source_index, b.source_index)
    n = len(split["train"])
    assert a.augmented.sum() == round(0.5 * n)
    assert len(set(a.source_index[a.augmented])) == round(0.5 * n)      # one copy per chosen clip
    none = augment.build_training_set(split, paths, labels, CFG, copies=0, rng=0, **kw)
    assert len(none) == n and not none.augmented.any()


def test_oversampling_inside_the_builder_balances_training_only(synth_df):
    paths = list(synth_df["path"])
    labels = synth_df["emotion"].to_numpy().copy()
    labels[labels == 2] = 1                                   # 2 classes, 8 vs 16 clips
    split = splits.random_split(labels, (0.5, 0.25, 0.25), seed=0)
    train = augment.build_training_set(split, paths, labels, CFG, copies=1, oversample=True,
                                       rng=0, progress=False, cache_dir=None)
    clean_y = train.y[~train.augmented]
    assert np.bincount(clean_y).tolist() == [8, 8]
    assert np.bincount(train.y).tolist() == [16, 16]
    assert set(train.source_index) <= set(split["train"])


def test_custom_wave_and_feature_augment_are_applied(synth_df):
    paths, labels = list(synth_df["path"]), synth_df["emotion"].to_numpy()
    split = _split(synth_df)
    seen = []

    def identity(waves, rng):
        seen.append(waves.shape)
        return waves

    train = augment.build_training_set(split, paths, labels, CFG, copies=1, wave_augment=identity,
                                       rng=0, progress=False, cache_dir=None)
    n = len(split["train"])
    assert sum(s[0] for s in seen) == n and all(s[1] == CFG.n_samples for s in seen)
    # each copy sits where source_index says: identity copies equal their own clean rows
    np.testing.assert_allclose(train.X[n:], train.X[:n], rtol=0, atol=1e-4)
    assert np.array_equal(train.source_index[n:], train.source_index[:n])
    assert np.isnan(train.snr_db).all()
    masked = augment.build_training_set(split, paths, labels, CFG, copies=1,
                                        feature_augment=lambda X, rng: np.zeros_like(X),
                                        rng=0, progress=False, cache_dir=None)
    assert np.all(masked.X[n:] == 0) and np.all(masked.X[:n].max(axis=(1, 2, 3)) == 0.0)
    with pytest.raises(ValueError, match="copies=-1 must be >= 0"):
        augment.build_training_set(split, paths, labels, CFG, copies=-1)
