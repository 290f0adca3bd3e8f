"""Data: dataset metadata, splits, features, augmentation, synthetic speech, batching.

- ``baved``: BAVED metadata from file names (``read_metadata``), ``EMOTIONS``, ``eda``;
- ``crema_d``: CREMA-D metadata from file names and ``VideoDemographics.csv``
  (``crema_d.read_metadata``), the second paper's features ``crema_d.FEATURES``;
- ``manifest``: any dataset from a CSV of ``path, label[, speaker]`` (``read_manifest``);
- ``splits``: ``random_split`` (stratified), ``speaker_split``, ``speaker_kfold``,
  ``oversample``, ``save_split`` / ``load_split``;
- ``features``: ``FeatureConfig``, ``extract`` (batched, cached), ``Standardizer``,
  ``dataset_from_indices``;
- ``augment``: ``awgn_copies``, ``build_training_set`` (augments the training split only),
  ``WaveAugment`` and ``SpecAugment`` (the second paper's augmentation);
- ``synthetic``: ``make_dataset`` (BAVED layout), ``make_crema_d``;
- ``loader``: ``DataLoader``.

A typical pipeline::

    df = baved.read_metadata(root)
    split = splits.speaker_split(df, "emotion", "speaker", seed=0)
    clean = features.extract(df["path"], FeatureConfig())
    train = augment.build_training_set(split, df["path"], df["emotion"], clean=clean, rng=0)
    val = features.dataset_from_indices(split["val"], df["path"], df["emotion"], clean=clean)
    scaler = features.Standardizer().fit(train.X)
    loader = DataLoader(scaler.transform(train.X), train.y, batch_size=32, rng=0)
"""

from . import augment, baved, crema_d, features, loader, manifest, splits, synthetic
from .augment import SpecAugment, WaveAugment, awgn_copies, build_training_set
from .baved import EMOTIONS, eda, read_metadata
from .features import (Extracted, FeatureConfig, FeatureDataset, Standardizer,
                       dataset_from_indices, extract)
from .loader import DataLoader
from .manifest import read_for_experiment, read_manifest
from .splits import (load_split, oversample, random_split, save_split, speaker_kfold,
                     speaker_split, split_summary)
from .synthetic import make_crema_d, make_dataset

__all__ = ["augment", "baved", "crema_d", "features", "loader", "manifest", "splits",
           "synthetic", "SpecAugment", "WaveAugment", "awgn_copies", "build_training_set",
           "EMOTIONS", "eda", "read_metadata", "Extracted", "FeatureConfig", "FeatureDataset",
           "Standardizer", "dataset_from_indices", "extract", "DataLoader",
           "read_for_experiment", "read_manifest", "load_split", "oversample", "random_split",
           "save_split", "speaker_kfold", "speaker_split", "split_summary", "make_crema_d",
           "make_dataset"]
