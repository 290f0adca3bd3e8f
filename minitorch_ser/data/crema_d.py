"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset: metadata and features.

CREMA-D (Cao et al., 2014; https://github.com/CheyneyComputerScience/CREMA-D) holds 7,442
clips of 91 actors (ids 1001 .. 1091) saying 12 sentences with 6 emotions. The audio lives in
the repository's ``AudioWAV`` folder, one file per clip named

    ``<actor>_<sentence>_<emotion>_<intensity>.wav``   e.g. ``1001_DFA_ANG_XX.wav``

with a 4-digit actor id, a sentence code (``SENTENCES``), an emotion code ``ANG DIS FEA HAP NEU
SAD`` and an intensity ``LO MD HI`` or ``XX`` (unspecified; the graded levels were recorded
for the sentence ``IEO`` only). The actors' age, sex, race and ethnicity are in
``VideoDemographics.csv`` at the repository's top level, i.e. *beside* ``AudioWAV``.

Quirks of the real files worth knowing:

- the media are stored with git-lfs: a clone without ``git lfs`` (or GitHub's zip download)
  holds 130-byte text pointers instead of audio. ``read_metadata`` recognises them and says
  to run ``git lfs pull``;
- old clones contain ``1040_ITH_SAD_X.wav`` (one ``X``), since renamed upstream; it does not
  follow the pattern, so it is an error by default and left out with ``errors="skip"``;
- ``1076_MTI_NEU_XX.wav`` and ``1076_MTI_SAD_XX.wav`` are reported (upstream issue #8) as
  unplayable or silent. An unreadable file is skipped by ``features.extract`` with a warning
  naming it; a silent one z-normalizes to zeros and gives constant features.

Features of the second paper (``FEATURES``): 16 kHz, z-normalized clip, zero-padded or trimmed
to 3 s, log-mel with 25 ms Hamming windows and a 10 ms hop (``n_fft = win_length = 400``,
``hop_length = 160``), 64 mel bands, ``power_to_db(ref=np.max)``, and the delta and
delta-delta stacked as 3 channels, laid out ``(3, 64, 300)`` = (channel, mel, time), the
project's one layout; the paper's Keras models read ``(300, 64, 3)`` (time first), so the
CRNN models transpose once at their input. With ``center=True`` a 3 s clip gives
``1 + 48000 // 160 = 301`` frames; the deltas are computed on all 301 and the last frame is
then dropped (``n_frames=300``), the shape the paper's model tables start from.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pandas as pd

from .features import FeatureConfig

EMOTIONS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")        # class index = position (sorted)
EMOTION_NAMES = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy",
                 "NEU": "neutral", "SAD": "sad"}
INTENSITIES = ("LO", "MD", "HI", "XX")
# The 12 sentences, in the order of CREMA-D's README, with their three-letter codes.
SENTENCES = {
    "IEO": "It's eleven o'clock.",
    "TIE": "That is exactly what happened.",
    "IOM": "I'm on my way to the meeting.",
    "IWW": "I wonder what this is about.",
    "TAI": "The airplane is almost full.",
    "MTI": "Maybe tomorrow it will be cold.",
    "IWL": "I would like a new alarm clock.",
    "ITH": "I think I have a doctor's appointment.",
    "DFA": "Don't forget a jacket.",
    "ITS": "I think I've seen this before.",
    "TSI": "The surface is slick.",
    "WSI": "We'll stop in a couple of minutes.",
}
FIRST_ACTOR, LAST_ACTOR = 1001, 1091
DEMOGRAPHICS_FILE = "VideoDemographics.csv"
DEMOGRAPHIC_COLUMNS = {"Age": "age", "Sex": "sex", "Race": "race", "Ethnicity": "ethnicity"}
COLUMNS = ("path", "actor", "sentence", "emotion", "intensity")
CREMA_D_URL = "https://github.com/CheyneyComputerScience/CREMA-D"
HOW_TO_GET = (
    "CREMA-D is free to download. Its audio is stored with git-lfs, so install git-lfs first, "
    f"then `git lfs install && git clone {CREMA_D_URL}` (or `git lfs pull` inside an existing "
    "clone), and pass its AudioWAV folder (`--data CREMA-D/AudioWAV`). The Kaggle copy "
    "(https://www.kaggle.com/datasets/ejlok1/cremad) holds the same AudioWAV files.")

# actor _ sentence _ emotion _ intensity .wav; each field is checked against its code list
NAME_PATTERN = re.compile(r"^(\d{4})_([A-Za-z]{3})_([A-Za-z]{3})_([A-Za-z]{2})\.wav$",
                          re.IGNORECASE)
LFS_POINTER_PREFIX = b"version https://git-lfs"


def feature_config(duration: float = 3.0, sr: int = 16000) -> FeatureConfig:
    """The second paper's features for clips of ``duration`` seconds at ``sr`` Hz.

    25 ms Hamming windows (``n_fft = win_length = round(0.025 sr)``), 10 ms hop
    (``hop_length = round(0.010 sr)``), 64 mel bands up to ``sr / 2``, ``power_to_db(ref=max)``
    floored 80 dB below the clip's peak, z-normalized audio, delta and delta-delta channels,
    and ``n_frames = n_samples // hop_length`` frames (the centred STFT gives one more; module
    docstring). ``feature_config()`` is ``FEATURES``: ``shape == (3, 64, 300)``.

    Parameters
    ----------
    duration : float > 0
        Clip length in seconds after zero-padding or trimming (``n_samples = round(sr *
        duration)``).
    sr : int > 50
        Sampling rate (Hz); the window is ``round(0.025 sr)`` samples and the hop
        ``round(0.010 sr)``, which must come out >= 1.

    Returns
    -------
    FeatureConfig
        ``shape == (3, 64, max(1, n_samples // hop_length))`` (channels, mel bins, frames).

    Raises
    ------
    ValueError
        From ``FeatureConfig``'s checks: ``duration <= 0`` or ``sr`` not a positive integer.
    ZeroDivisionError
        ``sr <= 50``: the 10 ms hop rounds to 0 samples (not checked before the division).
    """
    n_fft = int(round(0.025 * sr))
    hop = int(round(0.010 * sr))
    n_samples = int(round(sr * duration))
    return FeatureConfig(sr=sr, duration=duration, n_fft=n_fft, win_length=n_fft,
                         hop_length=hop, window="hamming", n_mels=64, fmin=0.0, fmax=None,
                         center=True, top_db=80.0, deltas=True, normalize_audio=True,
                         n_frames=max(1, n_samples // hop))


FEATURES = feature_config()


def parse_name(name: str) -> dict:
    """Fields of one CREMA-D file name.

    ``parse_name("1001_DFA_ANG_XX.wav")`` gives ``{"actor": 1001, "sentence": "DFA",
    "emotion": 0, "intensity": "XX"}`` (``emotion`` indexes ``EMOTIONS``). Codes are read
    case-insensitively and returned in upper case.

    Raises
    ------
    ValueError
        The name does not follow ``<actor>_<sentence>_<emotion>_<intensity>.wav``, or a field
        is outside CREMA-D's codes; the message names the file and the field.
    """
    m = NAME_PATTERN.match(name)
    if m is None:
        raise ValueError(f"{name!r} does not follow CREMA-D's pattern "
                         "<actor>_<sentence>_<emotion>_<intensity>.wav (e.g. 1001_DFA_ANG_XX.wav)")
    actor, sentence, emotion, intensity = m.groups()
    sentence, emotion, intensity = sentence.upper(), emotion.upper(), intensity.upper()
    problems = []
    if not FIRST_ACTOR <= int(actor) <= LAST_ACTOR:
        problems.append(f"actor {actor} is outside {FIRST_ACTOR}-{LAST_ACTOR}")
    if sentence not in SENTENCES:
        problems.append(f"sentence {sentence!r} is not one of {' '.join(SENTENCES)}")
    if emotion not in EMOTIONS:
        problems.append(f"emotion {emotion!r} is not one of {' '.join(EMOTIONS)}")
    if intensity not in INTENSITIES:
        problems.append(f"intensity {intensity!r} is not one of {' '.join(INTENSITIES)}")
    if problems:
        raise ValueError(f"{name!r}: " + "; ".join(problems))
    return {"actor": int(actor), "sentence": sentence, "emotion": EMOTIONS.index(emotion),
            "intensity": intensity}


def _is_lfs_pointer(path: str) -> bool:
    """True for a git-lfs pointer file (a short text file standing in for the audio)."""
    if os.path.getsize(path) > 1024:
        return False
    with open(path, "rb") as f:
        return f.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX


def audio_folder(root) -> str:
    """The folder holding the ``.wav`` files: ``root`` itself, or ``root/AudioWAV`` when
    ``root`` is a whole CREMA-D clone (no ``.wav`` of its own but an ``AudioWAV`` folder).

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder; the message says how to get CREMA-D.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"CREMA-D folder {root!r} does not exist. {HOW_TO_GET}")
    inner = os.path.join(root, "AudioWAV")
    has_wav = any(n.lower().endswith(".wav") for n in os.listdir(root))
    return inner if not has_wav and os.path.isdir(inner) else root


def find_demographics(audio_dir) -> str | None:
    """``VideoDemographics.csv`` inside ``audio_dir``, else beside it (in its parent, where
    CREMA-D's clone keeps it), else ``None``."""
    audio_dir = os.path.abspath(os.fspath(audio_dir))
    for folder in (audio_dir, os.path.dirname(audio_dir)):
        candidate = os.path.join(folder, DEMOGRAPHICS_FILE)
        if os.path.isfile(candidate):
            return candidate
    return None


def read_demographics(path) -> pd.DataFrame:
    """The actors' table of ``VideoDemographics.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``actor`` (int), ``age`` (int), ``sex``, ``race``, ``ethnicity`` (str), one row
        per actor.

    Raises
    ------
    ValueError
        A column of ``ActorID, Age, Sex, Race, Ethnicity`` is missing, or an actor is listed
        twice (the message names the file).
    """
    path = os.fspath(path)
    table = pd.read_csv(path, skipinitialspace=True)
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("ActorID", *DEMOGRAPHIC_COLUMNS) if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected ActorID, Age, Sex, "
                         f"Race, Ethnicity (found {list(table.columns)})")
    table = table.rename(columns={"ActorID": "actor", **DEMOGRAPHIC_COLUMNS})
    table = table[["actor", *DEMOGRAPHIC_COLUMNS.values()]]
    repeated = table["actor"][table["actor"].duplicated()].tolist()
    if repeated:
        raise ValueError(f"{path}: actor(s) {sorted(set(repeated))} are listed more than once")
    return table.astype({"actor": np.int64})


def read_metadata(root, errors: str = "raise", demographics="auto") -> pd.DataFrame:
    """One row per clip of CREMA-D's ``AudioWAV`` folder, parsed from the file names.

    Parameters
    ----------
    root : str or path
        The ``AudioWAV`` folder (or the clone holding it). Only ``.wav`` files directly in it
        are read; other files (``VideoDemographics.csv``, ``.DS_Store``) are ignored.
    errors : {"raise", "skip"}
        ``.wav`` files whose name is not CREMA-D's: ``"raise"`` one ``ValueError`` listing all
        of them with the reason (default), or ``"skip"`` them with one warning giving their
        number and names.
    demographics : "auto", str, path or None
        ``"auto"``: join ``VideoDemographics.csv`` when ``find_demographics`` finds it (inside
        the audio folder, else in its parent); a path: that file (it must exist); ``None``:
        no join.

    Returns
    -------
    df : pandas.DataFrame, (N rows)
        Columns ``path`` (str), ``actor`` (int), ``sentence`` (code), ``emotion`` (int, an index
        into ``EMOTIONS``: 0 ANG .. 5 SAD), ``intensity`` (``LO MD HI XX``), plus ``age``,
        ``sex``, ``race``, ``ethnicity`` when demographics are joined (missing actors give
        NaN, with a warning). Rows sorted by file name, index ``0 .. N-1``. ``df.attrs`` holds
        ``root`` and ``demographics`` (the file joined, or ``None``).

    Raises
    ------
    FileNotFoundError
        ``root`` is missing or holds no ``.wav`` files (the message says how to get CREMA-D),
        or an explicit ``demographics`` file is missing.
    ValueError
        Names that are not CREMA-D's (``errors="raise"``), or git-lfs pointer files instead of
        audio (the message says to run ``git lfs pull``).
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors={errors!r} must be 'raise' or 'skip'")
    folder = audio_folder(root)
    rows, bad, pointers = [], [], []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not name.lower().endswith(".wav") or not os.path.isfile(path):
            continue
        try:
            fields = parse_name(name)
        except ValueError as err:
            bad.append(f"{path}: {err}")
            continue
        if _is_lfs_pointer(path):
            pointers.append(path)
        rows.append({"path": path, **fields})
    if bad:
        listing = "\n  ".join(bad)
        if errors == "raise":
            raise ValueError(f"{len(bad)} file name(s) are not CREMA-D's:\n  {listing}\n"
                             "Rename or remove them, or pass errors='skip' to leave them out.")
        warnings.warn(f"skipped {len(bad)} file(s) whose name is not CREMA-D's:\n  {listing}",
                      stacklevel=2)
    if not rows:
        raise FileNotFoundError(f"no CREMA-D clips found in {folder!r} (expected files such as "
                                f"1001_DFA_ANG_XX.wav). {HOW_TO_GET}")
    if pointers:
        shown = "\n  ".join(pointers[:10]) + ("\n  ..." if len(pointers) > 10 else "")
        raise ValueError(f"{len(pointers)} of {len(rows)} .wav files in {folder!r} are git-lfs "
                         f"pointers, not audio:\n  {shown}\nRun `git lfs install && git lfs pull` "
                         "inside the CREMA-D clone to fetch the audio.")
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    source = find_demographics(folder) if demographics == "auto" else demographics
    if source is not None:
        source = os.fspath(source)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"demographics file {source!r} does not exist")
        df = _join_demographics(df, read_demographics(source), source)
    df.attrs["root"] = folder
    df.attrs["demographics"] = source
    return df


def _join_demographics(df: pd.DataFrame, table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Left join of the actor table on ``actor``, keeping the clip order; warn on gaps."""
    joined = df.merge(table, on="actor", how="left", validate="many_to_one")
    absent = sorted(set(df["actor"]) - set(table["actor"]))
    if absent:
        warnings.warn(f"{source} has no row for actor(s) {absent}; their demographics are NaN",
                      stacklevel=3)
    return joined
