"""Shared classes for cross-corpus work: train on one corpus, test on another.

Two corpora rarely have the same classes (RAVDESS has calm, EMO-DB boredom, TESS pleasant
surprise). A *label map* sends each corpus's classes onto a shared set, or drops them:

- ``"four"``: the built-in map onto anger, happiness, sadness, neutral
  (``corpora.FOUR_CLASS``; its module docstring lists what each corpus loses);
- a CSV file with the columns ``corpus,label,class`` (one row per corpus class that is kept;
  a class of the corpus not listed is dropped; an empty ``class`` drops it explicitly). The
  shared classes are the ``class`` values in their order of first appearance. ``corpus`` is
  a registered name (``corpora.names()``) or ``manifest`` for a ``--manifest`` dataset.

``shared_labels(df, corpus, label_map)`` applies a map to a table with a ``label`` column (the
corpus's class names) and returns the kept rows and the shared class names.
"""

from __future__ import annotations

import os

import pandas as pd

from . import corpora

#: the name a manifest dataset has in a label-map CSV
MANIFEST = "manifest"


def read_label_map(path) -> tuple[dict, list]:
    """A label-map CSV: ``{corpus: {label: class or None}}`` and the shared classes in order.

    Parameters
    ----------
    path : str or path
        CSV with the header ``corpus,label,class`` (UTF-8; other columns are ignored).

    Returns
    -------
    mapping : dict of str -> dict of str -> str or None
        Corpus names normalized to the registry's (``corpora.corpus``), or ``"manifest"``.
    classes : list of str
        The non-empty ``class`` values, in their order of first appearance.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A missing column, an unknown corpus, or a label listed twice for one corpus (the
        message names the file and the line).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label map {path}: no such file (expected a CSV with the "
                                f"columns corpus,label,class, or 'four')")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("corpus", "label", "class") if c not in table.columns]
    if missing:
        raise ValueError(f"label map {path}: missing column(s) {missing}; the header must be "
                         f"corpus,label,class")
    mapping, classes = {}, []
    rows = zip(table["corpus"], table["label"], table["class"])
    for line, (name, label, shared) in enumerate(rows, start=2):
        name, label, shared = name.strip(), label.strip(), shared.strip() or None
        key = MANIFEST if name.lower() == MANIFEST else _registered(name, path, line)
        if label in mapping.setdefault(key, {}):
            raise ValueError(f"label map {path}, line {line}: {key} label {label!r} is listed "
                             f"twice")
        mapping[key][label] = shared
        if shared is not None and shared not in classes:
            classes.append(shared)
    return mapping, classes


def _registered(name: str, path: str, line: int) -> str:
    try:
        return corpora.corpus(name).name
    except ValueError as err:
        raise ValueError(f"label map {path}, line {line}: {err}") from None


def describe(label_map) -> str:
    """One line naming the map: ``"four classes (anger, happiness, sadness, neutral)"`` or the
    CSV's path."""
    if label_map == "four":
        return f"four classes ({', '.join(corpora.FOUR_CLASSES)})"
    return f"the label map {os.fspath(label_map)}"


def shared_labels(df: pd.DataFrame, corpus: str, label_map="four") -> tuple[pd.DataFrame, list]:
    """Keep the rows whose class the map keeps, relabelled with the shared class.

    Parameters
    ----------
    df : pandas.DataFrame, (N rows)
        A corpus table with ``label`` (its own class names).
    corpus : str
        The corpus the table comes from: a registered name, or ``"manifest"``.
    label_map : "four" or str or path
        The built-in four-class map, or a label-map CSV (module docstring).

    Returns
    -------
    kept : pandas.DataFrame, (M rows)
        The kept rows in their order, index ``0 .. M-1``; ``label`` holds the shared class and
        ``corpus_label`` the corpus's own.
    classes : list of str
        The shared classes (the four, or the CSV's).

    Raises
    ------
    ValueError
        The map has no entry for ``corpus``; ``"four"`` for a manifest; a label of ``df`` the
        corpus does not have (for ``"four"``); no row kept, or a single shared class left.
    """
    if "label" not in df.columns:
        raise ValueError(f"the {corpus} table has no 'label' column ({list(df.columns)})")
    if label_map == "four":
        if corpus == MANIFEST:
            raise ValueError("the built-in four-class map knows the registered corpora only; "
                             "for a manifest pass --label-map with a CSV naming corpus "
                             "'manifest'")
        kept, classes = corpora.four_class(df, corpus)
    else:
        mapping, classes = read_label_map(label_map)
        key = corpus if corpus == MANIFEST else corpora.corpus(corpus).name
        if key not in mapping:
            raise ValueError(f"{describe(label_map)} has no row for corpus {key!r} (it maps "
                             f"{sorted(mapping)})")
        shared = df["label"].astype(str).map(lambda v: mapping[key].get(v))
        keep = shared.notna().to_numpy()
        kept = df.loc[keep].reset_index(drop=True)
        kept["corpus_label"] = kept["label"]
        kept["label"] = shared[keep].to_numpy()
    present = sorted(set(kept["label"]), key=list(classes).index)
    if len(kept) == 0 or len(present) < 2:
        raise ValueError(f"{describe(label_map)} keeps {len(kept)} clip(s) of {corpus} in "
                         f"{len(present)} class(es) ({present}): nothing to classify across "
                         f"corpora")
    return kept, list(classes)
