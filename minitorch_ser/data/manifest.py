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

**As spreadsheets save it.** The text may be UTF-8 (with or without a byte-order mark),
UTF-16 with a byte-order mark, or Windows' cp1252 (e.g. a label ``Ärger`` saved by Excel;
read with a warning, since that encoding is a guess); lines may end in CRLF; fields may be
separated by ``,``, ``;`` (spreadsheets in locales with a decimal comma) or a tab, found by
``csv.Sniffer`` and confirmed by the header. A path written with Windows backslashes
(``Actor_01\\a.wav``) that does not exist as written is read with ``/`` instead. Lines that are
empty, or whose cells are all empty (a spreadsheet's blank rows), are skipped.

**Checks** (``read_manifest``; each error names the manifest and every offending row by its
line in the file, the header being line 1): a missing manifest, undecodable text, a missing
``path`` or ``label`` column, a row with more or fewer fields than the header, no rows, empty
``path``, ``label`` or ``speaker`` cells, files that do not exist (all of them in one error),
the same file listed twice (it could land in training and test), and a single class.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("path", "label")
TEXT_COLUMNS = ("path", "label", "speaker")
_INTEGER = re.compile(r"^[+-]?\d+$")
DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


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


def _lines(line_of, rows) -> str:
    """The file's line numbers (``line_of[r]``) of 0-based data rows ``rows``, comma-separated."""
    return ", ".join(str(int(line_of[r])) for r in rows)


def read_text(csv_path) -> tuple[str, str]:
    """The text of a manifest and the encoding it was read with.

    A UTF-8 byte-order mark means UTF-8 (``utf-8-sig``), a UTF-16 one UTF-16; without a mark
    the bytes are UTF-8 if they decode as such, else cp1252 (what Excel on Windows writes as
    "CSV"), with a ``UserWarning`` naming the file and the encoding, since that is a guess.

    Parameters
    ----------
    csv_path : str
        The manifest (absolute path).

    Returns
    -------
    text : str
        Line endings untouched (the ``csv`` module reads LF, CRLF and CR).
    encoding : str
        ``"utf-8-sig"``, ``"utf-16"``, ``"utf-8"`` or ``"cp1252"``.

    Raises
    ------
    ValueError
        Zero bytes in a file without a byte-order mark (UTF-16 without one), or bytes that are
        neither UTF-8 nor cp1252; the message names the file, the line and the fix.
    """
    with open(csv_path, "rb") as fh:
        raw = fh.read()
    if raw.startswith(codecs.BOM_UTF8):
        return raw.decode("utf-8-sig"), "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as err:
            raise ValueError(f"manifest {csv_path} starts with a UTF-16 byte-order mark but is "
                             f"not valid UTF-16 ({err.reason} at byte {err.start}); save it "
                             f"again as CSV UTF-8") from err
    if b"\0" in raw:
        line = raw[:raw.index(b"\0")].count(b"\n") + 1
        raise ValueError(f"manifest {csv_path} holds zero bytes (first on line {line}): it looks "
                         f"like UTF-16 without a byte-order mark; save it as CSV UTF-8")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ValueError(f"manifest {csv_path} is neither UTF-8 nor cp1252: byte "
                         f"{raw[err.start]:#04x} on line {line} is undefined in both; save it "
                         f"as CSV UTF-8") from err
    warnings.warn(f"manifest {csv_path} is not UTF-8; read it as cp1252 (Windows Western "
                  f"European). If labels or paths look wrong, save it as CSV UTF-8",
                  UserWarning, stacklevel=3)
    return text, "cp1252"


def sniff_delimiter(text: str) -> str:
    """The field separator of a manifest: ``,``, ``;`` or a tab.

    ``csv.Sniffer`` proposes one from the first lines (restricted to those three); the choice
    is kept if the header it splits holds ``path`` and ``label``, else the first separator
    that does is taken. When none does, the sniffed one (or ``,``) is returned and the header
    check of ``read_manifest`` reports the columns.

    Parameters
    ----------
    text : str
        The manifest's text.

    Returns
    -------
    str
        One of ``DELIMITERS``.
    """
    lines = text.splitlines()
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines[:50]), "".join(DELIMITERS)).delimiter
    except csv.Error:                   # a single column, or no consistent separator
        sniffed = ","
    header = next((line for line in lines if line.strip("".join(DELIMITERS) + " ")), "")
    for delimiter in (sniffed, *(d for d in DELIMITERS if d != sniffed)):
        names = [c.strip() for c in next(csv.reader([header], delimiter=delimiter), [])]
        if all(c in names for c in REQUIRED_COLUMNS):
            return delimiter
    return sniffed


def _parse(text: str, delimiter: str, csv_path: str) -> tuple[list, int, list, list]:
    """Split a manifest into its header, the header's line, the rows and each row's line.

    Line numbers count the file's lines from 1; a row's is the line where it starts (a quoted
    cell may hold a line break). Empty lines and rows whose cells are all empty are skipped.

    Raises
    ------
    ValueError
        A row with another number of fields than the header (file, line, counts and the fix).
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        skipinitialspace=True)
    header, header_line, rows, lines = None, 0, [], []
    previous = 0                                     # reader.line_num after the last record
    try:
        for fields in reader:
            first_line, previous = previous + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if header is None:
                header, header_line = [f.strip() for f in fields], first_line
                continue
            if len(fields) != len(header):
                name = _DELIMITER_NAMES[delimiter]
                raise ValueError(
                    f"manifest {csv_path}, line {first_line}: {len(fields)} field(s) where the "
                    f"header has {len(header)} ({', '.join(header)}), separated by {name}s "
                    f"{delimiter!r}. Put double quotes around a value that contains a "
                    f"{name}, or remove the extra or add the missing fields")
            rows.append(fields)
            lines.append(first_line)
    except csv.Error as err:            # e.g. a quote left open up to the end of the file
        raise ValueError(f"manifest {csv_path}, line {reader.line_num}: {err}; check the "
                         f"double quotes on that line") from err
    return header, header_line, rows, lines


def _infer(values: pd.Series) -> pd.Series:
    """An extra column as pandas would read it: numbers if every non-empty cell is one,
    else text; empty cells are missing (NaN)."""
    values = values.where(values.str.strip() != "", np.nan)
    try:
        return pd.to_numeric(values)
    except (ValueError, TypeError):
        return values


def _resolve(folder: str, path: str) -> str:
    """Absolute, normalized ``path`` relative to ``folder``; Windows backslashes become ``/``
    when the path does not exist as written (on Windows both are separators already)."""
    resolved = os.path.normpath(os.path.join(folder, os.path.expanduser(path)))
    if os.sep == "/" and "\\" in path and not os.path.exists(resolved):
        resolved = os.path.normpath(os.path.join(folder, os.path.expanduser(
            path.replace("\\", "/"))))
    return resolved


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
        The text decodes in no supported encoding, a required column is missing or a column
        is named twice, a row has another number of fields than the header, the manifest has
        no rows, cells are empty, files are missing or repeated, or there is a single class;
        the message names the manifest and the lines.

    Warns
    -----
    UserWarning
        The manifest is not UTF-8 and was read as cp1252 (``read_text``).
    """
    csv_path = os.path.abspath(os.fspath(csv_path))
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"manifest {csv_path!r} does not exist")
    text, _ = read_text(csv_path)
    delimiter = sniff_delimiter(text)
    header, header_line, rows, line_of = _parse(text, delimiter, csv_path)
    if header is None:
        raise ValueError(f"manifest {csv_path} is empty: it needs a header line "
                         "'path,label[,speaker,...]' and one row per clip")
    header = [c or f"Unnamed: {k}" for k, c in enumerate(header)]    # as pandas names them
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise ValueError(f"manifest {csv_path}, line {header_line}: the header names the "
                         f"column(s) {twice} more than once; rename or remove the copies")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"manifest {csv_path} lacks the column(s) {missing}; it has "
                         f"{header}. Expected a header 'path,label[,speaker,...]' with the "
                         f"fields separated by commas, semicolons or tabs.")
    if not rows:
        raise ValueError(f"manifest {csv_path} has a header but no rows")
    df = pd.DataFrame(rows, columns=header, dtype=object)
    folder = os.path.dirname(csv_path)
    for col in header:
        if col not in TEXT_COLUMNS:
            df[col] = _infer(df[col])
            continue
        # only empty cells are missing: a label such as "NA" or "None" stays text
        text_cells = df[col].astype(str).str.strip()
        empty = np.flatnonzero(text_cells.to_numpy() == "")
        if len(empty):
            raise ValueError(f"manifest {csv_path}: empty {col!r} cell(s) on line(s) "
                             f"{_lines(line_of, empty)}")
        df[col] = text_cells
    written = df["path"].tolist()
    df["path"] = [_resolve(folder, p) for p in written]
    repeated = df["path"].duplicated(keep=False).to_numpy()
    if repeated.any():
        groups = df.index[repeated].to_series().groupby(df["path"][repeated]).apply(list)
        listing = "\n  ".join(f"lines {_lines(line_of, rows)}: {p}" for p, rows in groups.items())
        raise ValueError(f"manifest {csv_path} lists {len(groups)} file(s) more than once "
                         f"(a repeated clip could be in training and in test):\n  {listing}")
    if check_files:
        absent = [i for i, p in enumerate(df["path"]) if not os.path.isfile(p)]
        if absent:
            listing = "\n  ".join(f"line {line_of[i]}: {df['path'][i]}" for i in absent)
            slashes = (" (paths written with backslashes were also tried with '/')"
                       if any("\\" in written[i] for i in absent) else "")
            raise ValueError(f"{len(absent)} of {len(df)} file(s) listed in manifest {csv_path} "
                             f"do not exist (relative paths are read from {folder}){slashes}:"
                             f"\n  {listing}")
    class_names = sort_labels(df["label"])
    if len(class_names) < 2:
        raise ValueError(f"manifest {csv_path}: all {len(df)} rows (lines {line_of[0]}-"
                         f"{line_of[-1]}) have the label {class_names[0]!r}; a "
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

    Raises
    ------
    FileNotFoundError, ValueError
        As ``read_manifest``; also ``ValueError`` for an unknown ``split``, or
        ``split="speaker"`` with no ``speaker`` column (the message names the manifest).
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

    Parameters
    ----------
    table : pandas.DataFrame, (N rows)
        One row per clip, with at least the columns ``path`` (audio file, absolute or
        relative to the working directory) and ``label``; every column is written, in order.
    csv_path : str or path
        The manifest to write (UTF-8 CSV, no index column); its folder is created if needed
        and an existing file is overwritten.
    relative : bool
        Store each ``path`` relative to ``csv_path``'s folder (``True``) or absolute.

    Returns
    -------
    str
        The manifest's absolute path.

    Raises
    ------
    ValueError
        ``table`` lacks a required column (the message lists the columns it has).
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
