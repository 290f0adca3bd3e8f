"""Any dataset from a CSV manifest: one row per clip with its file and its label.

A manifest is a CSV file with a header and the columns

    ``path``     the audio file, absolute or relative to the manifest's own folder;
    ``label``    the class, any text (``angry``, ``neutral``, ``3`` ...);
    ``speaker``  optional: who speaks (needed by speaker-independent splits);

and any other columns (gender, age, corpus ...), which are kept. For example, for RAVDESS::

    path,label,speaker,gender
    Actor_01/03-01-05-01-01-01-01.wav,angry,1,m
    Actor_02/03-01-01-01-01-01-02.wav,neutral,2,f

**Classes.** The distinct labels, sorted, are the class names; class ``k`` is the ``k``-th.
Labels that are all integers (``0, 1, 2, 10``) are sorted as numbers, others as text, so the
order does not depend on the row order. The run stores the names (the checkpoints' ``meta
["class_names"]``), so a later prediction maps indices back to labels.

**Audio.** Any format ``soundfile`` reads, any sample rate (resampled on load), any duration
(padded with zeros or trimmed to the feature configuration's duration).

**Checks** (``read_manifest``; each error lists every offending row by its CSV line, the header
being line 1): a missing manifest, a missing ``path`` or ``label`` column, no rows, empty
``path``, ``label`` or ``speaker`` cells, files that do not exist (all of them in one error),
the same file listed twice (it could land in training and test), and a single class.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("path", "label")
TEXT_COLUMNS = ("path", "label", "speaker")
_INTEGER = re.compile(r"^[+-]?\d+$")


class ManifestData(NamedTuple):
    """A manifest ready for an experiment (``read_for_experiment``'s result).

    Attributes
    ----------
    df : pandas.DataFrame
        ``read_manifest``'s table (``path``, ``label``, ``y``, ``speaker`` if present, ...).
    labels : (N,) int64
        Class index of every row (``df["y"]``).
    class_names : list of str
        The sorted labels; ``class_names[labels[i]] == df["label"][i]``.
    name : str
        The manifest's file name without extension (for run folders and reports).
    """

    df: pd.DataFrame
    labels: np.ndarray
    class_names: list
    name: str


def _lines(rows) -> str:
    """CSV line numbers of 0-based data rows (header = line 1)."""
    return ", ".join(str(int(r) + 2) for r in rows)


def sort_labels(values) -> list[str]:
    """Distinct labels in class order: numerically if all are integers, else as text."""
    distinct = set(str(v) for v in values)
    if all(_INTEGER.match(v) for v in distinct):
        return sorted(distinct, key=int)
    return sorted(distinct)


def read_manifest(csv_path, check_files: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """Read and check a manifest (module docstring).

    Parameters
    ----------
    csv_path : str or path
        The manifest CSV.
    check_files : bool
        Check that every listed file exists (all missing ones are reported together).

    Returns
    -------
    df : pandas.DataFrame, (N rows)
        The manifest's columns in its row order (index ``0 .. N-1``), with ``path`` made
        absolute, ``path``, ``label`` and ``speaker`` as stripped text, and a new ``y``
        (int64): the class index of ``label``. ``df.attrs`` holds ``manifest`` (its absolute
        path) and ``class_names``.
    class_names : list of str
        The sorted distinct labels (``sort_labels``), ``K >= 2`` of them.

    Raises
    ------
    FileNotFoundError
        The manifest itself does not exist.
    ValueError
        A required column is missing, the manifest has no rows, cells are empty, files are
        missing or repeated, or there is a single class; the message lists the rows.
    """
    csv_path = os.path.abspath(os.fspath(csv_path))
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"manifest {csv_path!r} does not exist")
    try:
        # only empty cells are missing values: a label such as "NA" or "None" stays text
        df = pd.read_csv(csv_path, dtype={c: str for c in TEXT_COLUMNS},
                         keep_default_na=False, na_values=[""], skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError(f"manifest {csv_path} is empty: it needs a header line "
                         "'path,label[,speaker,...]' and one row per clip") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"manifest {csv_path} lacks the column(s) {missing}; it has "
                         f"{list(df.columns)}. Expected a header 'path,label[,speaker,...]'.")
    if len(df) == 0:
        raise ValueError(f"manifest {csv_path} has a header but no rows")
    folder = os.path.dirname(csv_path)
    for col in (c for c in TEXT_COLUMNS if c in df.columns):
        text = df[col].fillna("").astype(str).str.strip()
        empty = np.flatnonzero(text.to_numpy() == "")
        if len(empty):
            raise ValueError(f"manifest {csv_path}: empty {col!r} cell(s) on line(s) "
                             f"{_lines(empty)}")
        df[col] = text
    df["path"] = [os.path.normpath(os.path.join(folder, os.path.expanduser(p)))
                  for p in df["path"]]
    repeated = df["path"].duplicated(keep=False).to_numpy()
    if repeated.any():
        groups = df.index[repeated].to_series().groupby(df["path"][repeated]).apply(list)
        listing = "\n  ".join(f"lines {_lines(rows)}: {p}" for p, rows in groups.items())
        raise ValueError(f"manifest {csv_path} lists {len(groups)} file(s) more than once "
                         f"(a repeated clip could be in training and in test):\n  {listing}")
    if check_files:
        absent = [i for i, p in enumerate(df["path"]) if not os.path.isfile(p)]
        if absent:
            listing = "\n  ".join(f"line {i + 2}: {df['path'][i]}" for i in absent)
            raise ValueError(f"{len(absent)} of {len(df)} file(s) listed in manifest {csv_path} "
                             f"do not exist (relative paths are read from {folder}):\n  {listing}")
    class_names = sort_labels(df["label"])
    if len(class_names) < 2:
        raise ValueError(f"manifest {csv_path}: all {len(df)} rows (lines {_lines([0])}-"
                         f"{_lines([len(df) - 1])}) have the label {class_names[0]!r}; a "
                         "classifier needs at least 2 classes")
    index = {name: k for k, name in enumerate(class_names)}
    df["y"] = df["label"].map(index).astype(np.int64)
    df.attrs["manifest"] = csv_path
    df.attrs["class_names"] = class_names
    return df, class_names


def read_for_experiment(csv_path, split: str = "random") -> ManifestData:
    """A manifest for an experiment script: ``read_manifest`` plus the split's needs.

    Parameters
    ----------
    csv_path : str or path
        The manifest CSV.
    split : {"random", "speaker"}
        The protocol the script will use; ``"speaker"`` requires a ``speaker`` column
        (used as the speaker identity by ``splits.speaker_split`` / ``speaker_kfold``).

    Returns
    -------
    ManifestData
        ``(df, labels, class_names, name)``.
    """
    if split not in ("random", "speaker"):
        raise ValueError(f"split={split!r} must be 'random' or 'speaker'")
    df, class_names = read_manifest(csv_path)
    if split == "speaker" and "speaker" not in df.columns:
        columns = [c for c in df.columns if c != "y"]
        raise ValueError(f"a speaker-independent split needs a 'speaker' column in the manifest "
                         f"{df.attrs['manifest']} (it has {columns}); add one, or use the "
                         "random split")
    name = os.path.splitext(os.path.basename(os.fspath(csv_path)))[0]
    return ManifestData(df, df["y"].to_numpy(), class_names, name)


def write_manifest(table: pd.DataFrame, csv_path, relative: bool = True) -> str:
    """Write ``table`` (columns ``path``, ``label`` [, ``speaker``, ...]) as a manifest.

    With ``relative``, paths are written relative to the manifest's folder, so the manifest
    and the audio can move together. For example, BAVED with its emotion names::

        df = baved.read_metadata(root)
        table = df.assign(label=[baved.EMOTIONS[e] for e in df["emotion"]])
        write_manifest(table[["path", "label", "speaker", "gender"]], "baved.csv")

    Returns
    -------
    str
        The manifest's absolute path.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the column(s) {missing}; it has {list(table.columns)}")
    csv_path = os.path.abspath(os.fspath(csv_path))
    folder = os.path.dirname(csv_path)
    paths = [os.path.abspath(os.fspath(p)) for p in table["path"]]
    if relative:
        paths = [os.path.relpath(p, folder) for p in paths]
    os.makedirs(folder, exist_ok=True)
    table.assign(path=paths).to_csv(csv_path, index=False)
    return csv_path
