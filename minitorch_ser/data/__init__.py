"""Data: dataset metadata, splits, features, augmentation, synthetic speech, batching.

- ``baved``: BAVED metadata from file names (``read_metadata``), ``EMOTIONS``, ``eda``;
- ``crema_d``: CREMA-D metadata from file names and ``VideoDemographics.csv``
  (``crema_d.read_metadata``), the second paper's features ``crema_d.FEATURES``;
- ``manifest``: any dataset from a CSV of ``path, label[, speaker]`` (``read_manifest``);
- ``splits``: ``random_split`` (stratified), ``speaker_split``, ``speaker_kfold``,
  ``oversample``, ``save_split`` / ``load_split``;
- ``features``: ``FeatureConfig``, ``extract`` (batched, cached), ``Standardizer``,
  ``dataset_from_indices``;
- ``store``: ``FeatureStore``, features on disk (a ``.npy`` file written chunk by chunk, read
  by rows), ``Rows`` (a selection of rows read on demand);
- ``normalized``: ``NormalizedRows``, rows normalized batch by batch as they are read;
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

from __future__ import annotations

import importlib

# The submodules are imported on first use (PEP 562 ``__getattr__`` below): ``splits``,
# ``baved``, ``crema_d`` and ``manifest`` load pandas (``synthetic`` loads scipy.signal only
# when it generates audio), which the command line's ``predict`` / ``stream`` / ``explain``
# never need (they use ``features`` alone). ``from minitorch_ser.data import splits,
# read_metadata`` works as before.
_SUBMODULES = ("augment", "baved", "crema_d", "features", "loader", "manifest", "normalized",
               "splits", "store", "synthetic")

#: each public name re-exported here -> the submodule that defines it
_NAMES = {
    "SpecAugment": "augment", "WaveAugment": "augment", "awgn_copies": "augment",
    "build_training_set": "augment",
    "EMOTIONS": "baved", "eda": "baved", "read_metadata": "baved",
    "Extracted": "features", "FeatureConfig": "features", "FeatureDataset": "features",
    "Standardizer": "features", "dataset_from_indices": "features", "extract": "features",
    "DataLoader": "loader",
    "NormalizedRows": "normalized",
    "FeatureStore": "store", "Rows": "store",
    "read_for_experiment": "manifest", "read_manifest": "manifest",
    "load_split": "splits", "oversample": "splits", "random_split": "splits",
    "save_split": "splits", "speaker_kfold": "splits", "speaker_split": "splits",
    "split_summary": "splits",
    "make_crema_d": "synthetic", "make_dataset": "synthetic",
}

__all__ = list(_SUBMODULES) + list(_NAMES)


def __getattr__(name: str):
    """Import the submodule ``name``, or the submodule defining ``name``, on first access.

    Importing ``minitorch_ser.data.<module>`` binds it as an attribute of this package, and a
    re-exported name is bound here once looked up, so this runs once per name.

    Raises
    ------
    AttributeError
        If ``name`` is neither a submodule nor one of the names listed in ``__all__``.
    """
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
