"""Duplicate recordings found by audio content, and how they are kept out of every split.

Two files hold *the same recording* when their decoded samples are identical: a byte copy under
another name, a hard link, a symlink, or the same samples in another container (WAV and FLAC
decode to the same numbers). File names, sizes and headers say nothing about this, so every
file is decoded (``dsp.load`` at its own rate, all channels) and hashed:

    content_hash = SHA-256( "<sample rate>:<channels>:<frames>\\n" || float32 samples )[:32 hex]

Real corpora hold such copies: BAVED's 1,935 files are 1,908 distinct recordings, and all 21
recordings of its speaker 53 are recordings of speaker 46. A split that puts one copy in
training and the other in test scores memory, not recognition. So, at metadata time:

- ``annotate`` adds ``content_hash``, ``dup_group`` (the row position of the group's first
  file; a file without copies is its own group; given ``same_recording_col``, rows known to be
  one recording whatever their samples, such as RAVDESS's audio-only and full-AV files of one
  ``take``, are joined to it too) and, given a speaker column,
  ``speaker_group``: speakers that share a recording are merged (union-find over the
  speaker-recording pairs) into one identity such as ``"46+53"``, which speaker splits and
  speaker K-fold use instead of the speaker id;
- ``apply_policy`` then either keeps each group together (``"group"``, the default: one
  warning with the count and the path of the list), keeps only the first file of each group
  (``"drop"``), or stops with an error (``"refuse"``).

Hashes are cached in ``<cache_dir>/content_hashes.csv`` keyed by absolute path, size and
modification time, so the second run decodes nothing. A file that cannot be decoded gets an
empty hash and stays its own group (the feature extraction reports it).
"""

from __future__ import annotations

import hashlib
import os
import warnings

import numpy as np
import pandas as pd

import dsp

from .progress import Progress

HASH_CACHE = "content_hashes.csv"
POLICIES = ("group", "drop", "refuse")


def content_hash(path) -> str:
    """Hash of the decoded samples of one audio file (module docstring).

    Parameters
    ----------
    path : str or path
        Audio file readable by ``dsp.load``.

    Returns
    -------
    str
        32 hexadecimal characters; equal for files whose sample rate, channel count and
        samples are equal, whatever their container or name.

    Raises
    ------
    dsp.AudioLoadError
        The file cannot be decoded (the message names it).
    """
    y, sr = dsp.load(path, sr=None, mono=False)
    y = np.atleast_2d(y)                                  # (C, n_samples)
    h = hashlib.sha256(f"{sr}:{y.shape[0]}:{y.shape[1]}\n".encode())
    h.update(np.ascontiguousarray(y, dtype="<f4").tobytes())
    return h.hexdigest()[:32]


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return int(st.st_size), int(st.st_mtime_ns)


def _read_cache(cache_file: str) -> dict:
    """``{(abspath, size, mtime_ns): hash}`` from the cache file; empty if absent or damaged."""
    if not os.path.isfile(cache_file):
        return {}
    try:
        table = pd.read_csv(cache_file, dtype={"path": str, "hash": str},
                            keep_default_na=False)
        return {(p, int(s), int(m)): h for p, s, m, h in
                zip(table["path"], table["size"], table["mtime_ns"], table["hash"]) if h}
    except (OSError, ValueError, KeyError, pd.errors.ParserError) as err:
        warnings.warn(f"content-hash cache {cache_file} is unreadable ({err}); recomputing",
                      stacklevel=3)
        return {}


def _write_cache(cache_file: str, entries: dict) -> None:
    """Write the cache atomically (temporary file, then rename); a failure only warns."""
    tmp = f"{cache_file}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(cache_file) or ".", exist_ok=True)
        pd.DataFrame([(p, s, m, h) for (p, s, m), h in entries.items()],
                     columns=["path", "size", "mtime_ns", "hash"]).to_csv(tmp, index=False)
        os.replace(tmp, cache_file)
    except OSError as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        warnings.warn(f"could not write the content-hash cache {cache_file} ({err}); "
                      "continuing without it", stacklevel=3)


def content_hashes(paths, cache_dir=None, progress: bool = True) -> list[str]:
    """Content hash of every file, read from and added to the cache.

    Parameters
    ----------
    paths : sequence of str or path, (N,)
        Audio files.
    cache_dir : str or path or None
        Folder of ``content_hashes.csv`` (``None``: no cache).
    progress : bool
        A progress line on stderr while decoding.

    Returns
    -------
    list of str, (N,)
        ``content_hash`` of each file, ``""`` for a file that cannot be decoded.
    """
    paths = [os.path.abspath(os.fspath(p)) for p in paths]
    cache_file = None if cache_dir is None else os.path.join(os.fspath(cache_dir), HASH_CACHE)
    cached = {} if cache_file is None else _read_cache(cache_file)
    out, fresh = [], 0
    bar = Progress(len(paths), "content hashes", "files", progress)
    for i, p in enumerate(paths):
        try:
            key = (p, *_stamp(p))
        except OSError:
            out.append("")
            continue
        h = cached.get(key)
        if h is None:
            try:
                h = content_hash(p)
            except ValueError:                            # AudioLoadError and bad input
                h = ""
            if h:
                cached[key] = h
            fresh += 1
            bar.update(i + 1)
        out.append(h)
    bar.close()
    if cache_file is not None and fresh:
        _write_cache(cache_file, cached)
    return out


def _merge_speakers(speakers: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Speaker identity of each row after merging speakers that share a recording.

    Union-find over speakers: every duplicate group joins the speakers of its rows. A merged
    identity is the sorted member names joined by ``+`` (``"46+53"``); others keep their name.
    """
    names = sorted(set(speakers.tolist()), key=str)
    parent = {s: s for s in names}

    def root(s):
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for g in np.unique(groups):
        members = np.unique(speakers[groups == g])
        for other in members[1:]:
            a, b = root(members[0]), root(other)
            if a != b:
                parent[b] = a
    clusters: dict = {}
    for s in names:
        clusters.setdefault(root(s), []).append(s)
    label = {s: "+".join(str(m) for m in sorted(clusters[root(s)], key=str)) for s in names}
    return np.array([label[s] for s in speakers.tolist()], dtype=object)


def _join_known(groups: np.ndarray, known) -> np.ndarray:
    """Union of the content groups with the groups of equal ``known`` values.

    Union-find over rows whose root is always the smallest row of its component, so the
    result is again the row position of each group's first row. Missing values (``None``,
    NaN) join nothing.
    """
    parent = groups.copy()                                # content groups: roots are minima

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict = {}
    for i, value in enumerate(known):
        if pd.isna(value):
            continue
        a, b = root(first.setdefault(value, i)), root(i)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([root(i) for i in range(len(parent))], dtype=np.int64)


def annotate(df: pd.DataFrame, cache_dir=None, speaker_col: str | None = None,
             progress: bool = True, same_recording_col: str | None = None) -> pd.DataFrame:
    """Add the content columns to a metadata table (module docstring).

    Parameters
    ----------
    df : pandas.DataFrame, (N rows)
        Metadata with a ``path`` column.
    cache_dir : str or path or None
        Folder of the hash cache.
    speaker_col : str or None
        Column of the speaker identity; adds ``speaker_group`` when given and present.
    progress : bool
        Progress line while hashing.
    same_recording_col : str or None
        Column of ids known to name one recording (RAVDESS's ``take``: its audio-only ``.wav``
        and the audio of its full-AV ``.mp4`` differ in samples but not in what was said).
        Rows with equal ids (missing values excepted) are put in one ``dup_group`` with the
        content groups they touch (a union). ``None``: the groups are by content alone.

    Returns
    -------
    pandas.DataFrame
        A copy with ``content_hash : str``, ``dup_group : int64`` (row position of the first
        file with the same content, or joined to it through ``same_recording_col``) and, with
        ``speaker_col``, ``speaker_group : str``. With ``same_recording_col``,
        ``attrs["same_recording_col"]`` names it (``apply_policy``'s message says so).

    Raises
    ------
    ValueError
        ``df`` has no ``path`` column, or ``speaker_col`` or ``same_recording_col`` is not one
        of its columns.
    """
    if "path" not in df.columns:
        raise ValueError(f"the metadata needs a 'path' column; it has {list(df.columns)}")
    for name, col in (("speaker_col", speaker_col), ("same_recording_col", same_recording_col)):
        if col is not None and col not in df.columns:
            raise ValueError(f"{name}={col!r} is not a column of the metadata "
                             f"({list(df.columns)})")
    out = df.reset_index(drop=True).copy()
    hashes = content_hashes(out["path"].tolist(), cache_dir, progress)
    out["content_hash"] = hashes
    first: dict = {}
    groups = np.array([first.setdefault(h, i) if h else i
                       for i, h in enumerate(hashes)], dtype=np.int64)
    if same_recording_col is not None:
        groups = _join_known(groups, out[same_recording_col].tolist())
        out.attrs["same_recording_col"] = same_recording_col
    out["dup_group"] = groups
    if speaker_col is not None:
        out["speaker_group"] = _merge_speakers(out[speaker_col].astype(str).to_numpy(),
                                               out["dup_group"].to_numpy())
    return out


def duplicate_table(df: pd.DataFrame, label_col: str | None = None) -> pd.DataFrame:
    """The rows that have a copy, sorted by group: what ``duplicates.csv`` lists.

    Parameters
    ----------
    df : pandas.DataFrame
        Output of ``annotate``.
    label_col : str or None
        Adds a ``label_conflict`` column (True where a group's labels differ).
    """
    size = df.groupby("dup_group")["path"].transform("size")
    cols = [c for c in ("path", "content_hash", "dup_group", "speaker", "actor",
                        "speaker_group", label_col) if c and c in df.columns]
    table = df.loc[size > 1, list(dict.fromkeys(cols))]
    if label_col is not None and label_col in df.columns:
        n_labels = df.groupby("dup_group")[label_col].transform("nunique")
        table = table.assign(label_conflict=n_labels[size > 1] > 1)     # aligned by row label
    return table.sort_values(["dup_group", "path"])


def apply_policy(df: pd.DataFrame, policy: str = "group", out_dir=None,
                 label_col: str | None = None) -> pd.DataFrame:
    """Group, drop or refuse the duplicate recordings of an annotated table.

    Parameters
    ----------
    df : pandas.DataFrame, (N rows)
        Output of ``annotate``.
    policy : {"group", "drop", "refuse"}
        ``group``: keep every file, each group on one side of every split (warn once);
        ``drop``: keep the first file of each group only (warn once); ``refuse``: raise.
    out_dir : str or path or None
        Where ``duplicates.csv`` (``duplicate_table``) is written when there are duplicates.
    label_col : str or None
        Label column, to report groups whose labels disagree.

    Returns
    -------
    pandas.DataFrame
        ``df`` (``group``), or its first-of-group rows with a fresh index (``drop``).

    Raises
    ------
    ValueError
        ``policy`` is not one of ``POLICIES``, or ``policy="refuse"`` and there are duplicates.
    """
    if policy not in POLICIES:
        raise ValueError(f"duplicates policy {policy!r} must be one of {POLICIES}")
    table = duplicate_table(df, label_col)
    if table.empty:
        return df
    n_groups = table["dup_group"].nunique()
    where = "(not written: no run folder)"
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        where = os.path.join(os.fspath(out_dir), "duplicates.csv")
        table.to_csv(where, index=False)
    merged = ""
    if "speaker_group" in df.columns:
        joined = sorted({g for g in df["speaker_group"] if "+" in str(g)})
        if joined:
            merged = f"; speakers sharing recordings merged for splitting: {', '.join(joined)}"
    conflicts = ""
    if "label_conflict" in table.columns and table["label_conflict"].any():
        conflicts = (f"; {table.loc[table['label_conflict'], 'dup_group'].nunique()} group(s) "
                     "carry different labels")
    known = df.attrs.get("same_recording_col")
    same = "same decoded samples" + (f", or same {known}" if known else "")
    what = (f"{len(table)} files are {n_groups} groups of identical recordings ({same})"
            f"{merged}{conflicts}; list: {where}")
    if policy == "refuse":
        raise ValueError(f"{what}. Pass --duplicates group to keep each group on one side of "
                         "every split, or --duplicates drop to keep one file per group")
    if policy == "drop":
        kept = df.loc[df["dup_group"] == np.arange(len(df))].reset_index(drop=True)
        kept["dup_group"] = np.arange(len(kept), dtype=np.int64)
        warnings.warn(f"{what}; dropped {len(df) - len(kept)} copies, kept the first file of "
                      "each group", stacklevel=2)
        return kept
    warnings.warn(f"{what}; each group is kept on one side of every split", stacklevel=2)
    return df
