"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song: metadata and EDA.

RAVDESS (Livingstone & Russo, 2018, PLoS ONE 13(5): e0196391; https://zenodo.org/record/1188976)
holds 24 professional actors (12 female, 12 male) saying two statements in a neutral North
American accent. Its audio-only archives unzip into one folder per actor, each file named by
seven two-digit fields:

    ``Actor_NN/MM-VV-EE-II-SS-RR-AA.wav``   e.g. ``Actor_12/03-01-06-01-02-01-12.wav``

- ``MM`` modality: 01 full-AV, 02 video-only, 03 audio-only;
- ``VV`` vocal channel: 01 speech, 02 song;
- ``EE`` emotion: 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust,
  08 surprised (song has only the first six);
- ``II`` intensity: 01 normal, 02 strong (neutral has no strong intensity);
- ``SS`` statement: 01 "Kids are talking by the door", 02 "Dogs are sitting by the door";
- ``RR`` repetition: 01, 02;
- ``AA`` actor: 01 .. 24, odd numbers male, even female.

The speech archive holds 1,440 files (60 per actor), the song archive 1,012 (44 per actor; actor
18 has no song). Classes: the eight emotions above. Onto the four shared classes
(``corpora.FOUR_CLASS["ravdess"]``): angry -> anger, happy -> happiness, sad -> sadness,
neutral -> neutral; calm, fearful, disgust and surprised are dropped. Calm is *not* neutral:
the actors produced it as a distinct state.

**Only ``.wav`` files are listed**, i.e. the audio-only modality 03 (and 01 when someone has
extracted the audio track of a full-AV ``.mp4`` into a ``.wav`` of the same name; 02 has no audio
and is an error). The full-AV and the audio-only file of one performance are the same
recording; the ``take`` column identifies the performance whatever the modality (the name
without its modality field, ``VV-EE-II-SS-RR-AA``). Give it to ``duplicates.annotate(...,
same_recording_col="take")`` so that a split never puts two files of one take on different
sides (a speaker split already cannot: a take belongs to one actor).

Read with ``corpora.read_named_files``: ``.wav`` files at any depth (the Kaggle copy nests a
second ``audio_speech_actors_01-24`` tree, whose files are copies, found again by their
content and take), bad names listed or skipped, download text when nothing is found. A file in
a folder ``Actor_NN`` whose actor field is not ``NN`` is a bad name.
"""

from __future__ import annotations

import re

import pandas as pd

from . import corpora

CORPUS = "RAVDESS"
MODALITIES = {"01": "full-AV", "02": "video-only", "03": "audio-only"}
VOCAL_CHANNELS = {"01": "speech", "02": "song"}
CODES = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
         "06": "fearful", "07": "disgust", "08": "surprised"}
EMOTIONS = tuple(CODES.values())                  # class order: the emotion codes' order
SONG_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful")
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
N_ACTORS = 24
CONVENTION = "Actor_NN/MM-VV-EE-II-SS-RR-AA.wav (e.g. Actor_12/03-01-06-01-02-01-12.wav)"
RAVDESS_URL = "https://zenodo.org/record/1188976"
HOW_TO_GET = (
    f"RAVDESS is free for non-commercial use (CC BY-NC-SA 4.0) from Zenodo: {RAVDESS_URL}. "
    "Download Audio_Speech_Actors_01-24.zip (and Audio_Song_Actors_01-24.zip for the song), "
    "unzip them into one folder, which then holds Actor_01 .. Actor_24 folders of .wav files, "
    "and pass that folder (`--data DIR` or the RAVDESS_DIR environment variable). The Kaggle "
    "copy (https://www.kaggle.com/datasets/uwrfkaggler/ravdess-emotional-speech-audio) holds "
    "the same speech files.")

NAME_PATTERN = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})\.wav$",
                          re.IGNORECASE)
ACTOR_FOLDER = re.compile(r"^actor_(\d+)$", re.IGNORECASE)
COLUMNS = ("path", "label", "speaker", "gender", "modality", "vocal_channel", "intensity",
           "statement", "repetition", "take")


def parse_name(name: str, folder: str | None = None) -> dict:
    """Fields of one RAVDESS file name (module docstring).

    ``parse_name("03-01-06-01-02-01-12.wav", "Actor_12")`` gives ``{"label": "fearful",
    "speaker": 12, "gender": "f", "modality": "audio-only", "vocal_channel": "speech",
    "intensity": "normal", "statement": 2, "repetition": 1, "take": "01-06-01-02-01-12"}``.

    Parameters
    ----------
    name : str
        File name, ``MM-VV-EE-II-SS-RR-AA.wav``.
    folder : str or None
        Name of the folder holding it; an ``Actor_NN`` folder must agree with the actor field.

    Raises
    ------
    ValueError
        The name does not have seven two-digit fields, or a field is outside RAVDESS's codes
        (modality 02 has no audio; neutral has no strong intensity; song has no disgust or
        surprised), or the folder names another actor; the message names the file and rule.
    """
    m = NAME_PATTERN.match(name)
    if m is None:
        raise ValueError(f"{name!r} does not have seven two-digit fields MM-VV-EE-II-SS-RR-AA")
    modality, channel, emotion, intensity, statement, repetition, actor = m.groups()
    problems = []
    if modality == "02":
        problems.append("modality 02 is video-only and has no audio")
    elif modality not in MODALITIES:
        problems.append(f"modality {modality} is not one of 01 (full-AV), 03 (audio-only)")
    if channel not in VOCAL_CHANNELS:
        problems.append(f"vocal channel {channel} is not 01 (speech) or 02 (song)")
    if emotion not in CODES:
        problems.append(f"emotion {emotion} is not one of 01 .. 08")
    if intensity not in INTENSITIES:
        problems.append(f"intensity {intensity} is not 01 (normal) or 02 (strong)")
    elif emotion == "01" and intensity == "02":
        problems.append("neutral (01) has no strong intensity (02)")
    if channel == "02" and CODES.get(emotion, "neutral") not in SONG_EMOTIONS:
        problems.append(f"song (02) has no {CODES[emotion]} ({emotion})")
    if statement not in ("01", "02"):
        problems.append(f"statement {statement} is not 01 or 02")
    if repetition not in ("01", "02"):
        problems.append(f"repetition {repetition} is not 01 or 02")
    if not 1 <= int(actor) <= N_ACTORS:
        problems.append(f"actor {actor} is outside 01 .. {N_ACTORS}")
    in_folder = ACTOR_FOLDER.match(folder or "")
    if in_folder and int(in_folder.group(1)) != int(actor):
        problems.append(f"it is in folder {folder} but its actor field is {actor}")
    if problems:
        raise ValueError(f"{name!r}: " + "; ".join(problems))
    return {"label": CODES[emotion], "speaker": int(actor),
            "gender": "m" if int(actor) % 2 == 1 else "f",
            "modality": MODALITIES[modality], "vocal_channel": VOCAL_CHANNELS[channel],
            "intensity": INTENSITIES[intensity], "statement": int(statement),
            "repetition": int(repetition),
            "take": f"{channel}-{emotion}-{intensity}-{statement}-{repetition}-{actor}"}


def read_metadata(root, errors: str = "raise") -> pd.DataFrame:
    """One row per RAVDESS ``.wav`` under ``root``, parsed from the file names.

    Parameters
    ----------
    root : str or path
        Folder holding the ``Actor_NN`` folders (found at any depth).
    errors : {"raise", "skip"}
        ``.wav`` files whose name is not RAVDESS's: ``"raise"`` one ``ValueError`` giving
        their number and the first ten with the reason (default), or ``"skip"`` them with one
        warning saying the same.

    Returns
    -------
    df : pandas.DataFrame, (N rows)
        Columns ``path`` (str, as found under ``root``), ``label`` (emotion name, one of
        ``EMOTIONS``), ``speaker`` (actor, int 1 .. 24), ``gender`` (``"m"`` odd actor, ``"f"``
        even), ``modality`` (``"audio-only"`` or ``"full-AV"``), ``vocal_channel``
        (``"speech"``/``"song"``), ``intensity`` (``"normal"``/``"strong"``), ``statement``
        and ``repetition`` (int 1, 2) and ``take`` (str ``VV-EE-II-SS-RR-AA``: equal for the
        files of one performance, whatever the modality). Rows sorted by path relative to
        ``root``, index ``0 .. N-1``.

    Raises
    ------
    FileNotFoundError
        ``root`` is missing or holds no RAVDESS ``.wav`` (the message says how to get it).
    ValueError
        ``errors`` is not ``"raise"``/``"skip"``, or bad names with ``errors="raise"``.
    """
    return corpora.read_named_files(root, parse_name, corpus=CORPUS, convention=CONVENTION,
                                    how_to_get=HOW_TO_GET, columns=COLUMNS, errors=errors)
