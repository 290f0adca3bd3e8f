"""TESS, the Toronto Emotional Speech Set: metadata from file and folder names, and its EDA.

TESS (Dupuis & Pichora-Fuller, 2010; https://doi.org/10.5683/SP2/E8H2MF) holds 2,800
recordings of two female speakers, OAF (the older, aged 64) and YAF (the younger, aged 26),
each saying 200 target words in the carrier phrase "Say the word _" in 7 emotions. The
archive holds one folder per speaker and emotion, each file named speaker, word, emotion:

    ``OAF_angry/OAF_back_angry.wav``,  ``YAF_fear/YAF_bath_fear.wav``

with the emotions angry, disgust, fear, happy, neutral, ps (pleasant surprise) and sad.

Quirks of the real archive, handled here: the folder names differ in case (``OAF_Fear``,
``OAF_Sad``, ``YAF_sad``) and spell pleasant surprise two ways (``OAF_Pleasant_surprise``,
``YAF_pleasant_surprised``); both are accepted in any case. The label is the *file name's* last
part; a file whose folder (a ``OAF_...``/``YAF_...`` folder) says another emotion or another
speaker is a bad name, listed with the others. Folders of other names (the Kaggle copy's ``TESS
Toronto emotional speech set data``, which also nests a second copy of everything) are only
looked through.

Classes: the seven emotions (``EMOTIONS``, the file names' codes). Onto the four shared classes
(``corpora.FOUR_CLASS["tess"]``): angry -> anger, happy -> happiness, sad -> sadness,
neutral -> neutral; disgust, fear and ps are dropped. With two speakers, a speaker split holds
one speaker out: test on a voice of another age group than training.
"""

from __future__ import annotations

import re

import pandas as pd

from . import corpora

CORPUS = "TESS"
EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")
EMOTION_NAMES = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                 "neutral": "neutral", "ps": "pleasant surprise", "sad": "sadness"}
# emotion part of a folder name (lower case) -> the file names' emotion code
FOLDER_EMOTIONS = {**{e: e for e in EMOTIONS}, "pleasant_surprise": "ps",
                   "pleasant_surprised": "ps"}
# speaker -> (sex, age in years)
SPEAKERS = {"OAF": ("f", 64), "YAF": ("f", 26)}
CONVENTION = ("<OAF|YAF>_<emotion>/<OAF|YAF>_<word>_<emotion>.wav "
              "(e.g. OAF_angry/OAF_back_angry.wav)")
TESS_URL = "https://doi.org/10.5683/SP2/E8H2MF"
HOW_TO_GET = (
    f"TESS is free to download for research from the University of Toronto's Dataverse: "
    f"{TESS_URL}. Download the whole dataset, unzip them into one folder, which then holds the 14 "
    "folders OAF_angry .. YAF_sad of .wav files such as OAF_back_angry.wav, and pass that "
    "folder (`--data DIR` or the TESS_DIR environment variable). The Kaggle copy "
    "(https://www.kaggle.com/datasets/ejlok1/toronto-emotional-speech-set-tess) holds the "
    "same files.")

NAME_PATTERN = re.compile(r"^(OAF|YAF)_([a-z]+)_([a-z]+)\.wav$", re.IGNORECASE)
FOLDER_PATTERN = re.compile(r"^(OAF|YAF)_(.+)$", re.IGNORECASE)
COLUMNS = ("path", "label", "speaker", "gender", "age", "word")


def parse_name(name: str, folder: str | None = None) -> dict:
    """Fields of one TESS file name, checked against its folder (module docstring).

    ``parse_name("OAF_back_angry.wav", "OAF_angry")`` gives ``{"label": "angry", "speaker":
    "OAF", "gender": "f", "age": 64, "word": "back"}``.

    Parameters
    ----------
    name : str
        File name ``<speaker>_<word>_<emotion>.wav`` (any case).
    folder : str or None
        Name of the folder holding it; a ``<speaker>_<emotion>`` folder must agree with the
        name (case ignored, ``pleasant_surprise(d)`` meaning ``ps``).

    Raises
    ------
    ValueError
        The name is not ``<OAF|YAF>_<word>_<emotion>.wav`` with an emotion of ``EMOTIONS``, or
        its folder names another emotion or speaker; the message names the file and the rule.
    """
    m = NAME_PATTERN.match(name)
    if m is None:
        raise ValueError(f"{name!r} is not <OAF|YAF>_<word>_<emotion>.wav")
    speaker, word, emotion = m.group(1).upper(), m.group(2).lower(), m.group(3).lower()
    problems = []
    if emotion not in EMOTIONS:
        problems.append(f"emotion {emotion!r} is not one of {' '.join(EMOTIONS)}")
    in_folder = FOLDER_PATTERN.match(folder or "")
    if in_folder:
        folder_speaker, folder_emotion = in_folder.group(1).upper(), in_folder.group(2).lower()
        said = FOLDER_EMOTIONS.get(folder_emotion)
        if said is None:
            problems.append(f"its folder {folder!r} names no TESS emotion")
        elif said != emotion:
            problems.append(f"its name says {emotion!r} but its folder {folder!r} says {said!r}")
        if folder_speaker != speaker:
            problems.append(f"its name says speaker {speaker} but its folder {folder!r} says "
                            f"{folder_speaker}")
    if problems:
        raise ValueError(f"{name!r}: " + "; ".join(problems))
    sex, age = SPEAKERS[speaker]
    return {"label": emotion, "speaker": speaker, "gender": sex, "age": age, "word": word}


def read_metadata(root, errors: str = "raise") -> pd.DataFrame:
    """One row per TESS recording under ``root``, parsed from the file and folder names.

    Parameters
    ----------
    root : str or path
        Folder holding the ``OAF_...``/``YAF_...`` folders (found at any depth).
    errors : {"raise", "skip"}
        Files whose name is not TESS's or disagrees with its folder: ``"raise"`` one
        ``ValueError`` giving their number and the first ten with the reason (default), or
        ``"skip"`` them with one warning.

    Returns
    -------
    df : pandas.DataFrame, (N rows)
        Columns ``path`` (str), ``label`` (the file name's emotion, one of ``EMOTIONS``),
        ``speaker`` (``"OAF"``/``"YAF"``), ``gender`` (``"f"``), ``age`` (int 64, 26) and
        ``word``. Rows sorted by path relative to ``root``, index ``0 .. N-1``.

    Raises
    ------
    FileNotFoundError
        ``root`` is missing or holds no TESS ``.wav`` (the message says how to get it).
    ValueError
        ``errors`` is not ``"raise"``/``"skip"``, or bad names with ``errors="raise"``.
    """
    return corpora.read_named_files(root, parse_name, corpus=CORPUS, convention=CONVENTION,
                                    how_to_get=HOW_TO_GET, columns=COLUMNS, errors=errors)
