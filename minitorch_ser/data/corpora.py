"""The emotional-speech corpora this project reads, by name, and what their loaders share.

Six corpora, each with a loader module of this package (``read_metadata(root, errors)``,
``EMOTIONS`` and ``HOW_TO_GET``):

==========  ================  ==========================================================
name        module            what it is
==========  ================  ==========================================================
baved       ``baved``         Arabic, 60 speakers, 3 emotion *levels* (low, neutral, high)
crema-d     ``crema_d``       English, 91 actors, 6 emotions
ravdess     ``ravdess``       North-American English, 24 actors, 8 emotions, speech + song
emodb       ``emodb``         German (Berlin EMO-DB), 10 actors, 7 emotions
tess        ``tess``          English (Toronto), 2 female speakers, 7 emotions, 200 words
savee       ``savee``         British English (Surrey), 4 male speakers, 7 emotions
==========  ================  ==========================================================

``REGISTRY`` maps each name to a ``Corpus`` (its module, the class column of
``read_metadata``'s table, the speaker column, the environment variable naming its folder, and
through the module its classes in a fixed order and its download text). ``load(name, root)``
reads any of them into one table shape: ``path``, ``label`` (the class name, one of the returned
``class_names``), ``speaker`` and, when the corpus says it, ``gender`` (``"m"``/``"f"``);
``eda(name, df)`` counts that table for every corpus (``baved.eda`` with the corpus's classes).

**Four classes.** Cross-corpus work often keeps the emotions every corpus has: anger,
happiness, sadness, neutral (``FOUR_CLASSES``). ``FOUR_CLASS[name]`` maps each of a corpus's
labels onto them, or onto ``None`` (dropped); ``four_class(df, name)`` applies it. What is
dropped: RAVDESS calm, fearful, disgust, surprised (calm is *not* neutral: the actors
produced it as a state of its own); CREMA-D DIS, FEA; EMO-DB boredom, disgust, fear; TESS
disgust, fear, ps (pleasant surprise); SAVEE disgust, fear, surprise. BAVED's classes are levels
of arousal, not emotion categories (its "high" mixes joy, anger and sadness), so only its
neutral level maps: no four-class task can be made of BAVED alone.

**Reading named files** (``read_named_files``, used by the RAVDESS, EMO-DB, TESS and SAVEE
loaders): every ``.wav`` under the root, at any depth, is parsed by the corpus's
``parse_name(name, folder)``; hidden files and folders (``.DS_Store``, the ``._`` files of
macOS archives) and ``__MACOSX`` folders are passed over. Names that do not follow the corpus's
convention are collected and raise one ``ValueError`` giving their number and the first ten
paths with the reason, or, with ``errors="skip"``, are left out with one warning saying the
same. A missing root, or one without a single clip, raises ``FileNotFoundError`` with the
corpus's download instructions. Rows are sorted by their path relative to the root (split into
folder names), so row positions are the same on every machine.
"""

from __future__ import annotations

import importlib
import os
import warnings
from dataclasses import dataclass

import pandas as pd

from . import baved  # its eda is the count tables every corpus shares

MAX_LISTED = 10        # bad file names shown in an error or warning (the count gives the rest)
SKIPPED_FOLDERS = ("__MACOSX",)


# ============================================================ reading a corpus of named files
def check_errors(errors: str) -> None:
    """Raise ``ValueError`` unless ``errors`` is ``"raise"`` or ``"skip"``."""
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors={errors!r} must be 'raise' or 'skip'")


def _listing(bad: list) -> str:
    """The first ``MAX_LISTED`` entries, one a line, and how many more there are."""
    shown = "\n  ".join(bad[:MAX_LISTED])
    more = f"\n  ... and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else ""
    return f"  {shown}{more}"


def _wav_files(root: str):
    """``(relative parts, path, folder name)`` of every ``.wav`` under ``root``, sorted by the
    relative parts; hidden entries and ``SKIPPED_FOLDERS`` are passed over."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS]
        for name in files:
            if name.startswith(".") or not name.lower().endswith(".wav"):
                continue
            path = os.path.join(folder, name)
            parts = tuple(os.path.relpath(path, root).split(os.sep))
            found.append((parts, path, os.path.basename(folder)))
    return sorted(found)


def read_named_files(root, parse_name, *, corpus: str, convention: str, how_to_get: str,
                     columns, errors: str = "raise", stacklevel: int = 3) -> pd.DataFrame:
    """One row per ``.wav`` under ``root`` whose name ``parse_name`` accepts (module docstring).

    Parameters
    ----------
    root : str or path
        The corpus folder; ``.wav`` files are found at any depth.
    parse_name : callable ``(name, folder) -> dict``
        Fields of a file from its name and the name of the folder holding it; raises
        ``ValueError`` (naming the file and the broken rule) for a name that is not the
        corpus's.
    corpus : str
        Corpus name for messages (``"RAVDESS"``).
    convention : str
        The naming convention, shown in messages (``"Actor_NN/MM-VV-EE-II-SS-RR-AA.wav"``).
    how_to_get : str
        Download instructions, appended to ``FileNotFoundError`` messages.
    columns : sequence of str
        Columns of the table, ``"path"`` first then the keys ``parse_name`` returns.
    errors : {"raise", "skip"}
        Names ``parse_name`` rejects: ``"raise"`` one ``ValueError`` listing them, or
        ``"skip"`` them with one warning.
    stacklevel : int
        Of the warning; 3 points at the caller of the loader's ``read_metadata``.

    Returns
    -------
    df : pandas.DataFrame, (N rows)
        ``columns``; index ``0 .. N-1`` in the order of the paths relative to ``root``.
        ``df.attrs`` holds ``root`` and ``corpus``.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder, or holds no clip of the corpus (with ``how_to_get``).
    ValueError
        ``errors`` is not ``"raise"`` or ``"skip"``; or ``errors="raise"`` and some names are
        not the corpus's (their count, and the first ``MAX_LISTED`` paths with the reason).
    """
    check_errors(errors)
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{corpus} folder {root!r} does not exist. {how_to_get}")
    rows, bad = [], []
    for _, path, folder in _wav_files(root):
        try:
            fields = parse_name(os.path.basename(path), folder)
        except ValueError as err:
            bad.append(f"{path}: {err}")
            continue
        rows.append({"path": path, **fields})
    if bad:
        if errors == "raise":
            raise ValueError(
                f"{len(bad)} file name(s) under {root!r} do not follow {corpus}'s convention "
                f"{convention}:\n{_listing(bad)}\n"
                "Rename or remove them, or pass errors='skip' to leave them out.")
        warnings.warn(f"skipped {len(bad)} file(s) under {root!r} whose name does not follow "
                      f"{corpus}'s convention {convention}:\n{_listing(bad)}",
                      stacklevel=stacklevel)
    if not rows:
        raise FileNotFoundError(f"no {corpus} clips found under {root!r} (expected .wav files "
                                f"named {convention}). {how_to_get}")
    df = pd.DataFrame(rows, columns=list(columns))
    df.attrs["root"] = root
    df.attrs["corpus"] = corpus
    return df


# ==================================================================================== registry
@dataclass(frozen=True)
class Corpus:
    """One entry of ``REGISTRY``.

    Attributes
    ----------
    name : str
        Registry key (``"ravdess"``).
    module : str
        Loader module in ``minitorch_ser.data`` (``"ravdess"``), imported on first use (the
        loaders import this module for ``read_named_files``).
    label_col : str
        Column of ``read_metadata``'s table holding the class: ``"label"`` (the class name)
        for RAVDESS, EMO-DB, TESS and SAVEE, ``"emotion"`` (an integer index into
        ``classes``) for BAVED and CREMA-D.
    speaker_col : str
        Column of ``read_metadata``'s table naming the speaker (``"actor"`` for CREMA-D).
    env_var : str
        Environment variable that may name the data folder (``"RAVDESS_DIR"``).

    Properties ``loader`` (the module), ``classes`` (its ``EMOTIONS``: the class names in a
    fixed order), ``how_to_get`` (its download text) and ``four_class`` (``FOUR_CLASS[name]``).
    """

    name: str
    module: str
    label_col: str
    speaker_col: str
    env_var: str

    @property
    def loader(self):
        return importlib.import_module(f"{__package__}.{self.module}")

    @property
    def classes(self) -> tuple:
        return tuple(self.loader.EMOTIONS)

    @property
    def how_to_get(self) -> str:
        return self.loader.HOW_TO_GET

    @property
    def four_class(self) -> dict:
        return FOUR_CLASS[self.name]


REGISTRY = {
    "baved": Corpus("baved", "baved", "emotion", "speaker", "BAVED_DIR"),
    "crema-d": Corpus("crema-d", "crema_d", "emotion", "actor", "CREMA_D_DIR"),
    "ravdess": Corpus("ravdess", "ravdess", "label", "speaker", "RAVDESS_DIR"),
    "emodb": Corpus("emodb", "emodb", "label", "speaker", "EMODB_DIR"),
    "tess": Corpus("tess", "tess", "label", "speaker", "TESS_DIR"),
    "savee": Corpus("savee", "savee", "label", "speaker", "SAVEE_DIR"),
}

FOUR_CLASSES = ("anger", "happiness", "sadness", "neutral")

# each corpus's class name -> one of FOUR_CLASSES, or None: dropped (module docstring)
FOUR_CLASS = {
    "baved": {"low": None, "neutral": "neutral", "high": None},
    "crema-d": {"ANG": "anger", "DIS": None, "FEA": None, "HAP": "happiness",
                "NEU": "neutral", "SAD": "sadness"},
    "ravdess": {"neutral": "neutral", "calm": None, "happy": "happiness", "sad": "sadness",
                "angry": "anger", "fearful": None, "disgust": None, "surprised": None},
    "emodb": {"anger": "anger", "boredom": None, "disgust": None, "fear": None,
              "happiness": "happiness", "sadness": "sadness", "neutral": "neutral"},
    "tess": {"angry": "anger", "disgust": None, "fear": None, "happy": "happiness",
             "neutral": "neutral", "ps": None, "sad": "sadness"},
    "savee": {"anger": "anger", "disgust": None, "fear": None, "happiness": "happiness",
              "neutral": "neutral", "sadness": "sadness", "surprise": None},
}


def names() -> list[str]:
    """The registered corpus names, in ``REGISTRY``'s order."""
    return list(REGISTRY)


def corpus(name: str) -> Corpus:
    """The registry entry of ``name`` (case, ``-`` and ``_`` ignored: ``"CREMA_D"`` works).

    Raises
    ------
    ValueError
        ``name`` is not registered; the message lists the known names.
    """
    key = str(name).lower().replace("_", "").replace("-", "")
    for known, entry in REGISTRY.items():
        if known.replace("-", "") == key:
            return entry
    raise ValueError(f"unknown corpus {name!r}; known corpora: {', '.join(REGISTRY)}")


def data_folder(name: str, root=None) -> str:
    """The folder of corpus ``name``: ``root`` when given, else its environment variable.

    Raises
    ------
    ValueError
        Unknown ``name``.
    FileNotFoundError
        No ``root`` and the environment variable is unset or empty (with the download text).
    """
    entry = corpus(name)
    if root is not None:
        return os.fspath(root)
    folder = os.environ.get(entry.env_var)
    if not folder:
        raise FileNotFoundError(f"no {entry.name} folder given: pass its path or set "
                                f"{entry.env_var}. {entry.how_to_get}")
    return folder


def load(name: str, root=None, errors: str = "raise") -> tuple[pd.DataFrame, list]:
    """Read corpus ``name`` into the shared table shape.

    Parameters
    ----------
    name : str
        A registered corpus (``names()``).
    root : str or path or None
        Its folder; ``None`` reads the corpus's environment variable (``Corpus.env_var``).
    errors : {"raise", "skip"}
        Passed to the loader's ``read_metadata``: file names that are not the corpus's raise
        one ``ValueError`` listing them, or are skipped with one warning.

    Returns
    -------
    df : pandas.DataFrame, (N rows)
        ``read_metadata``'s table with, for every corpus, ``label`` (the class name, one of
        ``class_names``) and ``speaker``; ``gender`` (``"m"``/``"f"``) wherever the corpus
        gives it (for CREMA-D from the ``sex`` of ``VideoDemographics.csv`` when found). The
        loader's own columns are kept (BAVED's and CREMA-D's integer ``emotion`` included).
    class_names : list of str, (K,)
        The corpus's classes in their fixed order (``Corpus.classes``).

    Raises
    ------
    ValueError
        Unknown ``name``, or bad file names with ``errors="raise"``.
    FileNotFoundError
        No folder (not given, environment variable unset), or a folder without the corpus
        (the message says how to get it).
    """
    entry = corpus(name)
    df = entry.loader.read_metadata(data_folder(name, root), errors=errors)
    classes = list(entry.classes)
    if entry.label_col != "label":                  # integer index -> class name
        df["label"] = [classes[int(k)] for k in df[entry.label_col]]
    if entry.speaker_col != "speaker":
        df["speaker"] = df[entry.speaker_col]
    if "gender" not in df.columns and "sex" in df.columns:
        df["gender"] = df["sex"].astype(str).str.strip().str.lower().map({"male": "m",
                                                                           "female": "f"})
    return df, classes


def eda(name: str, df: pd.DataFrame, out_dir=None):
    """Class, gender and speaker count tables of ``load``'s table (``baved.eda``).

    Parameters
    ----------
    name : str
        The registered corpus ``df`` was loaded from (its classes give the table's order).
    df : pandas.DataFrame
        ``load(name, ...)``'s table: ``label``, ``speaker`` and, when known, ``gender``.
    out_dir : str or path, optional
        Where ``eda_<table>.csv`` (and PNG bar charts with matplotlib) are written.

    Returns
    -------
    baved.EDAReport
        Tables ``"label"`` (every class, in ``Corpus.classes``'s order, 0 when absent),
        ``"gender"`` and ``"label_by_gender"`` (when ``gender`` is a column), ``"speaker"``,
        and those the loader's extra columns bring (``"word"``).

    Raises
    ------
    ValueError
        Unknown ``name``, or ``df`` without a ``label`` column.
    """
    entry = corpus(name)
    return baved.eda(df, label_col="label", label_names=entry.classes, gender_col="gender",
                     speaker_col="speaker", out_dir=out_dir)


def four_class(df: pd.DataFrame, name: str, label_col: str = "label"):
    """Keep the rows of the four shared emotions, relabelled with ``FOUR_CLASS[name]``.

    Parameters
    ----------
    df : pandas.DataFrame, (N rows)
        A table of corpus ``name`` (``load``'s), class names in ``label_col``.
    name : str
        The registered corpus the labels come from.
    label_col : str
        Column of the class names.

    Returns
    -------
    df4 : pandas.DataFrame, (M <= N rows)
        The rows whose class maps to one of ``FOUR_CLASSES``, in their order, index
        ``0 .. M-1``; ``label_col`` holds the four-class name and ``corpus_label`` the original.
    class_names : list of str
        ``FOUR_CLASSES``.

    Raises
    ------
    ValueError
        Unknown ``name``, ``label_col`` missing, or a label that is not one of the corpus's
        classes (the message lists them).
    """
    mapping = FOUR_CLASS[corpus(name).name]
    if label_col not in df.columns:
        raise ValueError(f"label_col={label_col!r} is not a column of the data "
                         f"({list(df.columns)})")
    unknown = sorted(set(df[label_col]) - set(mapping), key=str)
    if unknown:
        raise ValueError(f"label(s) {unknown} are not classes of {name!r} "
                         f"({', '.join(mapping)}); FOUR_CLASS cannot map them")
    mapped = df[label_col].map(mapping)
    keep = mapped.notna().to_numpy()
    out = df.loc[keep].assign(corpus_label=df.loc[keep, label_col])
    out[label_col] = mapped[keep]
    return out.reset_index(drop=True), list(FOUR_CLASSES)
