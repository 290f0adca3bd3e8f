"""EMO-DB, the Berlin Database of Emotional Speech: metadata from file names, and its EDA.

EMO-DB (Burkhardt et al., 2005, "A database of German emotional speech", Interspeech;
http://emodb.bilderbar.info/) holds 535 utterances of 10 actors (5 female, 5 male) speaking 10
everyday German sentences in 7 emotions. The archive's ``wav`` folder holds one file per
utterance named

    ``wav/SSTTTEV.wav``   e.g. ``wav/03a01Fa.wav``

- ``SS`` speaker: 03, 08, 09, 10, 11, 12, 13, 14, 15, 16;
- ``TTT`` text: a01 a02 a04 a05 a07 (short sentences), b01 b02 b03 b09 b10 (longer ones);
- ``E`` emotion, the German initial: W anger (Wut), L boredom (Langeweile), E disgust (Ekel),
  A fear (Angst), F happiness (Freude), T sadness (Trauer), N neutral;
- ``V`` version: a, b, c ... when a sentence was recorded more than once.

The speakers' sex and age, from the corpus documentation, are ``SPEAKERS``. Classes: the seven
emotions (``EMOTIONS``, in the order of the codes above). Onto the four shared classes
(``corpora.FOUR_CLASS["emodb"]``): anger, happiness, sadness and neutral keep their name;
boredom, disgust and fear are dropped.

Read with ``corpora.read_named_files``: ``.wav`` files at any depth (pass the unzipped archive
or its ``wav`` folder), bad names listed or skipped, the download text when nothing is found.
"""

from __future__ import annotations

import re

import pandas as pd

from . import corpora

CORPUS = "EMO-DB"
CODES = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness",
         "T": "sadness", "N": "neutral"}
EMOTIONS = tuple(CODES.values())                  # class order: the codes' order
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
# speaker -> (sex, age in years), from the corpus documentation
SPEAKERS = {3: ("m", 31), 8: ("f", 34), 9: ("f", 21), 10: ("m", 32), 11: ("m", 26),
            12: ("m", 30), 13: ("f", 32), 14: ("f", 35), 15: ("m", 25), 16: ("f", 31)}
CONVENTION = "wav/SSTTTEV.wav (speaker, text, emotion, version; e.g. wav/03a01Fa.wav)"
EMODB_URL = "http://emodb.bilderbar.info/"
HOW_TO_GET = (
    f"EMO-DB is free to download from {EMODB_URL} (its Download page: download.zip). Unzip it "
    "and pass the folder holding its `wav` folder, or `wav` itself, which holds the 535 files "
    "such as 03a01Fa.wav (`--data DIR` or the EMODB_DIR environment variable).")

NAME_PATTERN = re.compile(r"^(\d{2})([a-z]\d{2})([a-z])([a-z])\.wav$", re.IGNORECASE)
COLUMNS = ("path", "label", "speaker", "gender", "age", "text", "version")


def parse_name(name: str, folder: str | None = None) -> dict:
    """Fields of one EMO-DB file name (module docstring).

    ``parse_name("03a01Fa.wav")`` gives ``{"label": "happiness", "speaker": 3, "gender": "m",
    "age": 31, "text": "a01", "version": "a"}``.

    Parameters
    ----------
    name : str
        File name ``SSTTTEV.wav``; the emotion letter is read in any case.
    folder : str or None
        Name of the folder holding it (unused: EMO-DB's folder says nothing).

    Raises
    ------
    ValueError
        The name is not ``SSTTTEV.wav``, or its speaker, text or emotion is not one of
        EMO-DB's; the message names the file and the field.
    """
    m = NAME_PATTERN.match(name)
    if m is None:
        raise ValueError(f"{name!r} is not two speaker digits, a text code such as a01, an "
                         "emotion letter and a version letter (SSTTTEV.wav)")
    speaker, text, emotion, version = m.groups()
    text, emotion = text.lower(), emotion.upper()
    problems = []
    if int(speaker) not in SPEAKERS:
        problems.append(f"speaker {speaker} is not one of "
                        + " ".join(f"{s:02d}" for s in SPEAKERS))
    if text not in TEXTS:
        problems.append(f"text {text} is not one of {' '.join(TEXTS)}")
    if emotion not in CODES:
        problems.append(f"emotion {emotion} is not one of {' '.join(CODES)}")
    if problems:
        raise ValueError(f"{name!r}: " + "; ".join(problems))
    sex, age = SPEAKERS[int(speaker)]
    return {"label": CODES[emotion], "speaker": int(speaker), "gender": sex, "age": age,
            "text": text, "version": version.lower()}


def read_metadata(root, errors: str = "raise") -> pd.DataFrame:
    """One row per EMO-DB utterance under ``root``, parsed from the file names.

    Parameters
    ----------
    root : str or path
        The unzipped archive, or its ``wav`` folder (``.wav`` files are found at any depth).
    errors : {"raise", "skip"}
        ``.wav`` files whose name is not EMO-DB's: ``"raise"`` one ``ValueError`` giving their
        number and the first ten with the reason (default), or ``"skip"`` them with one warning.

    Returns
    -------
    df : pandas.DataFrame, (N rows)
        Columns ``path`` (str), ``label`` (emotion name, one of ``EMOTIONS``), ``speaker``
        (int), ``gender`` (``"m"``/``"f"``) and ``age`` (int) from ``SPEAKERS``, ``text``
        (code) and ``version`` (letter). Rows sorted by path relative to ``root``, index
        ``0 .. N-1``.

    Raises
    ------
    FileNotFoundError
        ``root`` is missing or holds no EMO-DB ``.wav`` (the message says how to get it).
    ValueError
        ``errors`` is not ``"raise"``/``"skip"``, or bad names with ``errors="raise"``.
    """
    return corpora.read_named_files(root, parse_name, corpus=CORPUS, convention=CONVENTION,
                                    how_to_get=HOW_TO_GET, columns=COLUMNS, errors=errors)
