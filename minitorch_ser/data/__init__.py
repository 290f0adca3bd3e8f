"""Data: dataset metadata, splits, features, augmentation, synthetic speech, batching.

- ``baved``: BAVED metadata from file names (``read_metadata``), ``EMOTIONS``, ``eda``;
- ``splits``: ``random_split`` (stratified), ``speaker_split``, ``speaker_kfold``,
  ``oversample``, ``save_split`` / ``load_split``;
- ``features``: ``FeatureConfig``, ``extract`` (batched, cached), ``Standardizer``,
  ``dataset_from_indices``;
- ``augment``: ``awgn_copies``, ``build_training_set`` (augments the training split only);
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

from . import augment, baved, features, loader, splits, synthetic
from .augment import awgn_copies, build_training_set
from .baved import EMOTIONS, eda, read_metadata
from .features import (Extracted, FeatureConfig, FeatureDataset, Standardizer,
                       dataset_from_indices, extract)
from .loader import DataLoader
from .splits import (load_split, oversample, random_split, save_split, speaker_kfold,
                     speaker_split, split_summary)
from .synthetic import make_crema_d, make_dataset

__all__ = ["augment", "baved", "features", "loader", "splits", "synthetic",
           "awgn_copies", "build_training_set", "EMOTIONS", "eda", "read_metadata",
           "Extracted", "FeatureConfig", "FeatureDataset", "Standardizer",
           "dataset_from_indices", "extract", "DataLoader", "load_split", "oversample",
           "random_split", "save_split", "speaker_kfold", "speaker_split", "split_summary",
           "make_crema_d", "make_dataset"]
