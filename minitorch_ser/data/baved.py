"""BAVED, the Basic Arabic Vocal Emotions Dataset: metadata from file names, and its EDA.

BAVED (https://github.com/40uf411/Basic-Arabic-Vocal-Emotions-Dataset) holds 1,935 clips of 7
Arabic words, one folder per word (``0`` .. ``6``), each clip named

    ``<speaker>-<gender>-<age>-<word>-<level>-<record>.wav``   e.g. ``49-m-23-6-1-201.wav``

with gender ``m`` or ``f`` and the emotion level 0 (low: tired, down), 1 (neutral: everyday
speech) or 2 (high: strong joy, anger, sadness ...). The files are 16 kHz mono 16-bit PCM,
0.8 to 5.1 s long.

Two quirks of the real files, handled here:

- the README announces 61 speakers, but the names hold 60 distinct speaker ids;
- one file in folder ``0`` says word 6 in its name (``49-m-23-6-1-201.wav``). The name is
  trusted (``word`` comes from the name; ``folder`` keeps the folder) and one warning lists
  every such file.

A ``.wav`` name that does not follow the pattern is an error by default: ``read_metadata``
collects all of them and raises one ``ValueError`` listing their paths, because a silently
dropped clip changes every count downstream. ``errors="skip"`` leaves them out instead, with
one warning giving their number and names. Files not ending in ``.wav`` (a ``README``,
``.DS_Store``) are ignored.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

EMOTIONS = ("low", "neutral", "high")
GENDERS = ("f", "m")
# The seven words, as listed in BAVED's README (folder number = index).
WORDS = ("اعجبني", "لم يعجبني", "هذا", "الفيلم", "رائع", "مقول", "سيئ")
BAVED_URL = "https://github.com/40uf411/Basic-Arabic-Vocal-Emotions-Dataset"
HOW_TO_GET = (f"BAVED is free to download: `git clone {BAVED_URL}`, then pass the folder "
              "that holds the word folders 0 .. 6 (`--data DIR` or the BAVED_DIR environment "
              "variable).")

# speaker - gender - age - word (0-6) - level (0-2) - record, all integers but the gender
NAME_PATTERN = re.compile(r"^(\d+)-([mf])-(\d+)-([0-6])-([0-2])-(\d+)\.wav$", re.IGNORECASE)
COLUMNS = ("path", "speaker", "gender", "age", "word", "emotion", "record", "folder")


def parse_name(name: str) -> dict | None:
    """Fields of one BAVED file name, or ``None`` when it does not follow the pattern.

    ``parse_name("49-m-23-6-1-201.wav")`` gives ``{"speaker": 49, "gender": "m", "age": 23,
    "word": 6, "emotion": 1, "record": 201}``.
    """
    m = NAME_PATTERN.match(name)
    if m is None:
        return None
    speaker, gender, age, word, level, record = m.groups()
    return {"speaker": int(speaker), "gender": gender.lower(), "age": int(age),
            "word": int(word), "emotion": int(level), "record": int(record)}


def read_metadata(root, errors: str = "raise") -> pd.DataFrame:
    """One row per clip of a BAVED-layout folder, parsed from the file names.

    Parameters
    ----------
    root : str or path
        The folder holding the word folders (any folder whose name is a number is read).
    errors : {"raise", "skip"}
        What to do with ``.wav`` files whose name does not parse: ``"raise"`` a ``ValueError``
        listing all of them (default), or ``"skip"`` them with one warning giving their count.

    Returns
    -------
    df : pandas.DataFrame, (N rows)
        Columns ``path`` (str, as found under ``root``), ``speaker``, ``age``, ``word``,
        ``emotion`` (the level 0, 1, 2, an index into ``EMOTIONS``), ``record``, ``folder``
        (int) and ``gender`` (``"m"`` or ``"f"``). Rows sorted by folder and file name, index
        ``0 .. N-1``, so positions are the same on every machine (splits refer to them).

    Raises
    ------
    FileNotFoundError
        ``root`` is missing, or holds no ``.wav`` files in numbered folders (the message says
        how to get BAVED).
    ValueError
        ``errors="raise"`` and some names do not parse (all listed with their paths).

    Warns
    -----
    UserWarning
        Once, listing the files whose word in the name differs from their folder.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors={errors!r} must be 'raise' or 'skip'")
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"BAVED folder {root!r} does not exist. {HOW_TO_GET}")
    folders = sorted((d for d in os.listdir(root)
                      if d.isdigit() and os.path.isdir(os.path.join(root, d))), key=int)
    rows, bad, mismatched = [], [], []
    for folder in folders:
        for name in sorted(os.listdir(os.path.join(root, folder))):
            if not name.lower().endswith(".wav"):
                continue
            path = os.path.join(root, folder, name)
            fields = parse_name(name)
            if fields is None:
                bad.append(path)
                continue
            if fields["word"] != int(folder):
                mismatched.append(path)
            rows.append({"path": path, **fields, "folder": int(folder)})
    if bad:
        listing = "\n  ".join(bad)
        if errors == "raise":
            raise ValueError(
                f"{len(bad)} file name(s) do not follow BAVED's pattern "
                f"<speaker>-<m|f>-<age>-<word 0-6>-<level 0-2>-<record>.wav:\n  {listing}\n"
                "Rename or remove them, or pass errors='skip' to leave them out.")
        warnings.warn(f"skipped {len(bad)} file(s) whose name does not follow BAVED's pattern:"
                      f"\n  {listing}", stacklevel=2)
    if not rows:
        raise FileNotFoundError(
            f"no BAVED clips found under {root!r} (expected numbered word folders 0 .. 6 "
            f"holding .wav files). {HOW_TO_GET}")
    if mismatched:
        warnings.warn(
            f"{len(mismatched)} file(s) carry a word in their name different from their folder; "
            "the name is trusted (column 'word'; 'folder' keeps the folder):\n  "
            + "\n  ".join(mismatched), stacklevel=2)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df.attrs["root"] = root
    return df


# ================================================================================== EDA
@dataclass
class EDAReport:
    """Count tables of a dataset (``eda``'s result); ``str(report)`` prints them all.

    Attributes
    ----------
    tables : dict of str -> pandas.DataFrame
        ``"emotion"``: clips per class (count, percent); ``"gender"``: clips and speakers per
        gender; ``"emotion_by_gender"``: clips per class and gender; ``"speaker"``: per
        speaker, gender, age, clips and clips per class, most clips first; ``"word"`` when
        the data has a word column.
    figures : list of str
        PNG files written (empty without ``out_dir`` or without matplotlib).
    """

    tables: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __str__(self) -> str:
        parts = []
        for name, table in self.tables.items():
            parts.append(f"== clips by {name.replace('_', ' ')} ==\n{table.to_string()}")
        return "\n\n".join(parts)


def _names(values, names):
    """Map integer class indices to names when ``names`` is given."""
    if names is None:
        return values
    def name(v):
        return names[v] if isinstance(v, (int, np.integer)) and 0 <= v < len(names) else v
    return values.map(name)


def eda(df: pd.DataFrame, label_col: str = "emotion", label_names=EMOTIONS,
        gender_col: str | None = "gender", speaker_col: str | None = "speaker",
        out_dir=None) -> EDAReport:
    """Counts of clips per class, per gender and per speaker (the paper's Figures 1 and 2).

    Parameters
    ----------
    df : pandas.DataFrame
        Metadata such as ``read_metadata``'s; only ``label_col`` is required.
    label_col : str
        The class column.
    label_names : sequence of str or None
        Names of integer classes (``EMOTIONS`` for BAVED); ``None`` keeps the values.
    gender_col, speaker_col : str or None
        Columns to count by when present (``None`` or absent: that table is left out).
    out_dir : str or path, optional
        When given, each table is written there as ``eda_<name>.csv`` and, if matplotlib can
        be imported, bar charts ``eda_<name>.png`` for the class, gender and speaker counts.

    Returns
    -------
    EDAReport
        ``report["emotion"]`` etc.; ``print(report)`` shows every table.

    Raises
    ------
    ValueError
        ``label_col`` is not a column of ``df``.
    """
    if label_col not in df.columns:
        raise ValueError(f"label_col={label_col!r} is not a column of the data ({list(df.columns)})")
    labels = _names(df[label_col], label_names)
    # every named class (a class without clips shows 0), then any value outside the names
    order = list(label_names) if label_names is not None else []
    order += sorted(set(labels) - set(order), key=str)
    counts = labels.value_counts().reindex(order).fillna(0).astype(int)
    tables = {label_col: pd.DataFrame({"clips": counts,
                                       "percent": (100.0 * counts / counts.sum()).round(1)})}
    tables[label_col].index.name = label_col
    has_gender = gender_col is not None and gender_col in df.columns
    has_speaker = speaker_col is not None and speaker_col in df.columns
    if has_gender:
        g = df.groupby(gender_col)
        table = pd.DataFrame({"clips": g.size()})
        if has_speaker:
            table["speakers"] = g[speaker_col].nunique()
        table["percent_clips"] = (100.0 * table["clips"] / table["clips"].sum()).round(1)
        tables[gender_col] = table
        tables[f"{label_col}_by_{gender_col}"] = (
            pd.crosstab(labels, df[gender_col]).reindex(order).fillna(0).astype(int))
    if has_speaker:
        per = pd.crosstab(df[speaker_col], labels).reindex(columns=order).fillna(0).astype(int)
        per.insert(0, "clips", per.sum(axis=1))
        for col in (c for c in ("age", gender_col) if c is not None and c in df.columns):
            per.insert(0, col, df.groupby(speaker_col)[col].first())
        tables[speaker_col] = per.sort_values("clips", ascending=False, kind="stable")
    if "word" in df.columns and label_col != "word":
        tables["word"] = pd.crosstab(df["word"], labels).reindex(columns=order).fillna(0).astype(int)
    report = EDAReport(tables=tables)
    if out_dir is not None:
        out_dir = os.fspath(out_dir)
        os.makedirs(out_dir, exist_ok=True)
        for name, table in tables.items():
            table.to_csv(os.path.join(out_dir, f"eda_{name}.csv"))
        report.figures = _bar_charts(tables, [label_col] + ([gender_col] if has_gender else [])
                                     + ([speaker_col] if has_speaker else []), out_dir)
    return report


def _bar_charts(tables: dict, names: list, out_dir: str) -> list[str]:
    """Bar charts of the ``clips`` column of the named tables; ``[]`` without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    for name in names:
        clips = tables[name]["clips"]
        fig, ax = plt.subplots(figsize=(max(4.0, 0.18 * len(clips) + 2), 3.2))
        ax.bar([str(i) for i in clips.index], clips.values, color="tab:blue")
        ax.set_xlabel(name)
        ax.set_ylabel("clips")
        ax.set_title(f"Clips by {name}")
        if len(clips) > 12:
            ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        fig.tight_layout()
        path = os.path.join(out_dir, f"eda_{name}.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written
