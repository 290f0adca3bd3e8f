"""SAVEE, the Surrey Audio-Visual Expressed Emotion database: metadata from names, and its EDA.

SAVEE (Haq & Jackson, 2009; http://kahlan.eps.surrey.ac.uk/savee/) holds 480 British English
utterances of four male speakers, DC, JE, JK and KL, in 7 emotions: per speaker 15 sentences
in each of six emotions and 30 neutral ones. A file is named by an emotion code and a sentence
number, in one of two layouts:

    ``AudioData/DC/a01.wav``   (the official archive: one folder per speaker)
    ``DC_a01.wav``             (the Kaggle copy: speaker prefix, all in one folder)

with the codes a anger, d disgust, f fear, h happiness, n neutral, sa sadness, su surprise.
Two codes have two letters, so a name is matched against ``sa``/``su`` before ``a`` (``sa01``
is sadness, never anger). The sentence number runs 01 .. 15, and 01 .. 30 for neutral.

Classes: the seven emotions (``EMOTIONS``, in the order of the codes above). Onto the four
shared classes (``corpora.FOUR_CLASS["savee"]``): anger, happiness, sadness, neutral keep their
name; disgust, fear and surprise are dropped. The sentence number is not a text id: sentences
are numbered within each emotion.

Read with ``corpora.read_named_files``: ``.wav`` files at any depth, bad names listed or
skipped, the download text when nothing is found. A name without a speaker prefix must lie in
a speaker's folder; a prefixed name in a speaker's folder must name that speaker.
"""

from __future__ import annotations

import re

import pandas as pd

from . import corpora

CORPUS = "SAVEE"
CODES = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "n": "neutral",
         "sa": "sadness", "su": "surprise"}
EMOTIONS = tuple(CODES.values())                  # class order: the codes' order
SPEAKERS = ("DC", "JE", "JK", "KL")               # all male
N_SENTENCES = {"neutral": 30}                     # sentences per emotion; 15 for the others
CONVENTION = "<DC|JE|JK|KL>/<code><NN>.wav or <DC|JE|JK|KL>_<code><NN>.wav (e.g. DC_sa01.wav)"
SAVEE_URL = "http://kahlan.eps.surrey.ac.uk/savee/"
HOW_TO_GET = (
    f"SAVEE is free for research after registering at {SAVEE_URL} (Download page: "
    "AudioData.zip). Unzip it and pass the AudioData folder, which holds the speaker folders "
    "DC, JE, JK, KL of files such as a01.wav (`--data DIR` or the SAVEE_DIR environment "
    "variable). The Kaggle copy (https://www.kaggle.com/datasets/ejlok1/"
    "surrey-audiovisual-expressed-emotion-savee) holds the same audio as DC_a01.wav etc. in one "
    "folder.")

# the two-letter codes come first in the alternation
_CODE = "(sa|su|a|d|f|h|n)"
PREFIXED_PATTERN = re.compile(rf"^({'|'.join(SPEAKERS)})_{_CODE}(\d{{2}})\.wav$", re.IGNORECASE)
BARE_PATTERN = re.compile(rf"^{_CODE}(\d{{2}})\.wav$", re.IGNORECASE)
COLUMNS = ("path", "label", "speaker", "gender", "sentence")


def parse_name(name: str, folder: str | None = None) -> dict:
    """Fields of one SAVEE file name in either layout (module docstring).

    ``parse_name("DC_sa01.wav")`` and ``parse_name("sa01.wav", "DC")`` give ``{"label":
    "sadness", "speaker": "DC", "gender": "m", "sentence": 1}``.

    Parameters
    ----------
    name : str
        ``<speaker>_<code><NN>.wav`` or ``<code><NN>.wav`` (any case).
    folder : str or None
        Name of the folder holding it: the speaker of a name without prefix.

    Raises
    ------
    ValueError
        The name follows neither layout; a bare name is outside a speaker folder; a prefixed
        name's folder is another speaker's; or the sentence number is outside 01 .. 15
        (01 .. 30 for neutral). The message names the file and the rule.
    """
    folder_speaker = (folder or "").upper()
    problems = []
    m = PREFIXED_PATTERN.match(name)
    if m is not None:
        speaker, code, number = m.group(1).upper(), m.group(2).lower(), int(m.group(3))
        if folder_speaker in SPEAKERS and folder_speaker != speaker:
            problems.append(f"it is in speaker {folder_speaker}'s folder but names {speaker}")
    else:
        m = BARE_PATTERN.match(name)
        if m is None:
            raise ValueError(f"{name!r} is not [<speaker>_]<emotion code><NN>.wav with a speaker "
                             f"of {' '.join(SPEAKERS)} and a code of {' '.join(CODES)}")
        speaker, code, number = folder_speaker, m.group(1).lower(), int(m.group(2))
        if speaker not in SPEAKERS:
            problems.append(f"it has no speaker prefix and its folder {folder!r} is not one of "
                            f"{' '.join(SPEAKERS)}")
    label = CODES[code]
    last = N_SENTENCES.get(label, 15)
    if not 1 <= number <= last:
        problems.append(f"sentence {number:02d} is outside 01 .. {last} for {label}")
    if problems:
        raise ValueError(f"{name!r}: " + "; ".join(problems))
    return {"label": label, "speaker": speaker, "gender": "m", "sentence": number}


def read_metadata(root, errors: str = "raise") -> pd.DataFrame:
    """One row per SAVEE utterance under ``root``, parsed from the file (and folder) names.

    Parameters
    ----------
    root : str or path
        The ``AudioData`` folder (speaker folders) or a folder of prefixed files; ``.wav``
        files are found at any depth.
    errors : {"raise", "skip"}
        ``.wav`` files whose name is not SAVEE's: ``"raise"`` one ``ValueError`` giving their
        number and the first ten with the reason (default), or ``"skip"`` them with one warning.

    Returns
    -------
    df : pandas.DataFrame, (N rows)
        Columns ``path`` (str), ``label`` (emotion name, one of ``EMOTIONS``), ``speaker``
        (``"DC"``, ``"JE"``, ``"JK"``, ``"KL"``), ``gender`` (``"m"``) and ``sentence`` (int,
        numbered within the emotion). Rows sorted by path relative to ``root``, index
        ``0 .. N-1``.

    Raises
    ------
    FileNotFoundError
        ``root`` is missing or holds no SAVEE ``.wav`` (the message says how to get it).
    ValueError
        ``errors`` is not ``"raise"``/``"skip"``, or bad names with ``errors="raise"``.
    """
    return corpora.read_named_files(root, parse_name, corpus=CORPUS, convention=CONVENTION,
                                    how_to_get=HOW_TO_GET, columns=COLUMNS, errors=errors)
