"""Synthetic speech in BAVED's (and CREMA-D's) file layout, for tests and the demo.

A vowel is synthesised the way a source-filter model of speech describes it (Fant, 1960):

1. **Source.** A glottal pulse train: one impulse per pitch period, its instantaneous
   frequency following an f0 contour ``f0(t)``. The impulse instants are where the running
   phase ``phi[n] = sum_{m <= n} f0[m] / sr`` crosses an integer. The impulses are smoothed by a
   double real pole at ``z = a`` (``H(z) = 1 / (1 - a z^-1)^2``, a -12 dB/octave roll-off above
   ``(1 - a) sr / 2 pi`` Hz: the glottal spectral tilt) and differentiated
   (``1 - z^-1``, +6 dB/octave: radiation at the lips).
2. **Filter.** A cascade of formant resonators, each the two-pole filter

   ``y[n] = g x[n] + 2 r cos(theta) y[n-1] - r^2 y[n-2]``,
   ``r = exp(-pi B / sr)``, ``theta = 2 pi F / sr``, ``g = 1 - 2 r cos(theta) + r^2``

   (unit gain at 0 Hz), with centre frequency ``F`` and bandwidth ``B`` (``scipy.signal.lfilter``
   with ``b = [g]``, ``a = [1, -2 r cos(theta), r^2]``).
3. **Envelope.** Raised-cosine onset and offset, breath noise (white, at a level relative to
   the voiced peak), silence around the word, and a peak amplitude set by the vocal effort.

What each label moves (so a classifier has something real to learn):

- **emotion level** (BAVED's 0 low, 1 neutral, 2 high): the pitch (x0.85, x1, x1.3), the depth
  of the pitch movement (4 %, 10 %, 25 %), the energy (peak 0.25, 0.5, 0.9), the spectral tilt
  (a steeper roll-off for low effort) and the breathiness (noise at 1.5 %, 1 %, 0.7 % of the
  voiced peak). Log-mel features scaled by each clip's maximum (``ref=np.max``) no longer see the
  energy; tilt, breathiness and pitch movement are what lets a model generalise across speakers
  (a linear probe on time-averaged log-mel reaches about 95 % on a speaker split of 10 speakers);
- **gender**: the pitch (about 125 Hz male, 215 Hz female) and the formants (x1.15 female);
- **word**: the vowel's formants ``F1, F2, F3`` (one vowel per word);
- **speaker**: a personal pitch and formant scale, and the random seed of every clip.

These files are for testing the pipeline and for a demo that runs without downloads; figures
obtained on them say nothing about real speech and are never reported as results.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np

# F1, F2, F3 (Hz) of one vowel per BAVED word 0..6 (adult male averages of /a i u e o ae er/).
WORD_FORMANTS = np.array([
    [730.0, 1090.0, 2440.0],
    [270.0, 2290.0, 3010.0],
    [300.0, 870.0, 2240.0],
    [530.0, 1840.0, 2480.0],
    [570.0, 840.0, 2410.0],
    [660.0, 1720.0, 2410.0],
    [490.0, 1350.0, 1690.0],
])
FORMANT_BANDWIDTHS = np.array([80.0, 100.0, 140.0])


@dataclass(frozen=True)
class Prosody:
    """How one emotion moves the voice.

    Attributes
    ----------
    f0_scale : float > 0
        Multiplies the speaker's base pitch.
    f0_depth : float in [0, 1)
        Relative depth of the pitch movement over the word.
    gain : float in (0, 1]
        Peak amplitude of the clip (vocal effort).
    tilt : float in (0, 1)
        Pole ``a`` of the glottal smoothing filter; nearer 1 = steeper roll-off (softer voice).
    rate : float > 0
        Pitch movements per second.
    breath : float >= 0
        Level of the breath noise relative to the voiced peak (aspiration).
    """

    f0_scale: float
    f0_depth: float
    gain: float
    tilt: float
    rate: float = 2.0
    breath: float = 0.01


# BAVED's emotion levels 0 (low), 1 (neutral), 2 (high).
BAVED_PROSODY = (
    Prosody(f0_scale=0.85, f0_depth=0.04, gain=0.25, tilt=0.990, rate=1.0, breath=0.015),
    Prosody(f0_scale=1.00, f0_depth=0.10, gain=0.50, tilt=0.975, rate=2.0, breath=0.010),
    Prosody(f0_scale=1.30, f0_depth=0.25, gain=0.90, tilt=0.950, rate=3.0, breath=0.007),
)

# CREMA-D's six emotions, in the same terms (a caricature of the usual acoustic findings).
CREMA_D_PROSODY = {
    "ANG": Prosody(f0_scale=1.25, f0_depth=0.20, gain=0.95, tilt=0.940, rate=3.0, breath=0.005),
    "DIS": Prosody(f0_scale=0.95, f0_depth=0.15, gain=0.55, tilt=0.975, rate=1.0, breath=0.012),
    "FEA": Prosody(f0_scale=1.40, f0_depth=0.08, gain=0.60, tilt=0.960, rate=6.0, breath=0.020),
    "HAP": Prosody(f0_scale=1.30, f0_depth=0.30, gain=0.80, tilt=0.955, rate=2.5, breath=0.007),
    "NEU": Prosody(f0_scale=1.00, f0_depth=0.08, gain=0.50, tilt=0.975, rate=1.5, breath=0.010),
    "SAD": Prosody(f0_scale=0.85, f0_depth=0.04, gain=0.25, tilt=0.990, rate=0.8, breath=0.015),
}
CREMA_D_SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS",
                     "TSI", "WSI")


def lfilter(b, a, x: np.ndarray) -> np.ndarray:
    """``scipy.signal.lfilter(b, a, x)``, with SciPy imported on the first call: importing
    this module (as test modules and the package's lazy ``data`` do) needs no SciPy."""
    from scipy.signal import lfilter as scipy_lfilter

    return scipy_lfilter(b, a, x)


def _resonator(x: np.ndarray, freq: float, bandwidth: float, sr: int) -> np.ndarray:
    """Two-pole formant resonator with unit gain at 0 Hz (equation in the module docstring)."""
    r = np.exp(-np.pi * bandwidth / sr)
    c = 2.0 * r * np.cos(2.0 * np.pi * freq / sr)
    return lfilter([1.0 - c + r * r], [1.0, -c, r * r], x)


def synthesize_vowel(duration: float, f0: float, formants, prosody: Prosody, sr: int,
                     rng: np.random.Generator) -> np.ndarray:
    """One synthetic vowel of ``round(duration * sr)`` samples.

    Parameters
    ----------
    duration : float > 0
        Length in seconds, silence included.
    f0 : float > 0
        The speaker's base pitch in Hz (before ``prosody.f0_scale``).
    formants : sequence of float
        Formant centre frequencies in Hz, all below ``sr / 2``.
    prosody : Prosody
        Pitch, pitch range, energy and tilt of the emotion.
    sr : int > 0
        Sample rate.
    rng : numpy.random.Generator
        Source of the random phase, pause lengths and breath noise.

    Returns
    -------
    y : (L,) float64
        Peak amplitude ``prosody.gain``.
    """
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    # silence before and after the voiced part, 5-15 % of the clip each
    lead, tail = rng.uniform(0.05, 0.15, size=2) * n
    voiced = (t * sr >= lead) & (t * sr < n - tail)
    # f0 contour: base pitch, a slow declination and a sinusoidal movement of the chosen depth
    phase0 = rng.uniform(0, 2 * np.pi)
    f0_t = (f0 * prosody.f0_scale * (1.0 - 0.08 * t / duration)
            * (1.0 + prosody.f0_depth * np.sin(2 * np.pi * prosody.rate * t + phase0)))
    # glottal impulses where the running phase crosses an integer
    cycles = np.cumsum(f0_t / sr)
    pulses = (np.diff(np.floor(cycles), prepend=0.0) > 0).astype(np.float64) * voiced
    # glottal tilt (double pole at a), then lip radiation (first difference)
    a = prosody.tilt
    source = lfilter([(1.0 - a) ** 2], [1.0, -2.0 * a, a * a], pulses)
    source = np.diff(source, prepend=0.0)
    y = source
    for freq, bw in zip(formants, FORMANT_BANDWIDTHS):
        y = _resonator(y, freq, bw, sr)
    # raised-cosine onset and offset of 40 ms over the voiced part, plus breath noise
    ramp = int(0.04 * sr)
    env = voiced.astype(np.float64)
    idx = np.flatnonzero(voiced)
    if idx.size > 2 * ramp:
        rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        env[idx[:ramp]] = rise
        env[idx[-ramp:]] = rise[::-1]
    y = y * env
    y = y / (np.max(np.abs(y)) + 1e-12)
    y = y + prosody.breath * rng.standard_normal(n) * env
    return prosody.gain * y / (np.max(np.abs(y)) + 1e-12)


def _speakers(n_speakers: int, rng: np.random.Generator):
    """Gender, age, base pitch and formant scale of each synthetic speaker."""
    genders = np.where(np.arange(n_speakers) % 2 == 0, "m", "f")
    rng.shuffle(genders)
    ages = rng.integers(18, 26, size=n_speakers)
    f0 = np.where(genders == "m", rng.uniform(110, 140, n_speakers),
                  rng.uniform(190, 240, n_speakers))
    scale = np.where(genders == "m", 1.0, 1.15) * rng.uniform(0.95, 1.05, n_speakers)
    return genders, ages, f0, scale


def _check_common(n_speakers: int, clips_per: int, sr: int, duration) -> tuple[float, float]:
    if n_speakers < 1:
        raise ValueError(f"n_speakers={n_speakers} must be >= 1")
    if clips_per < 1:
        raise ValueError(f"clips_per={clips_per} must be >= 1")
    if sr < 8000:
        raise ValueError(f"sr={sr} must be >= 8000 (the formants reach 3.5 kHz)")
    lo, hi = (float(duration), float(duration)) if np.isscalar(duration) else map(float, duration)
    if not 0.2 <= lo <= hi:
        raise ValueError(f"duration range ({lo}, {hi}) must satisfy 0.2 <= low <= high")
    return lo, hi


def make_dataset(root, n_speakers: int = 6, n_words: int = 7, clips_per: int = 1,
                 sr: int = 16000, seed: int = 0, duration=(0.8, 2.0)) -> list[str]:
    """Write a synthetic dataset in BAVED's layout.

    Files are ``root/<word>/<speaker>-<gender>-<age>-<word>-<level>-<id>.wav``.

    Every speaker says every word at every emotion level ``clips_per`` times, so the set holds
    ``n_speakers * n_words * 3 * clips_per`` clips (126 with the defaults, written in about a
    second). Record ids count up from 0 over the whole set, so every name is unique.

    Parameters
    ----------
    root : str or path
        Output folder (created; existing files with the same names are overwritten).
    n_speakers : int >= 1
        Speakers ``0 .. n_speakers - 1``, alternately male and female (shuffled).
    n_words : int in [1, 7]
        Words ``0 .. n_words - 1``, one folder each.
    clips_per : int >= 1
        Recordings per (speaker, word, level).
    sr : int >= 8000
        Sample rate of the 16-bit PCM files.
    seed : int
        Everything random (speakers, durations, phases, noise) follows from it.
    duration : float or (float, float)
        Clip length in seconds, or a range drawn uniformly per clip.

    Returns
    -------
    paths : list of str
        The files written, in the order generated.

    Raises
    ------
    ValueError
        ``n_words`` outside ``[1, 7]``, ``n_speakers < 1``, ``clips_per < 1``, ``sr < 8000``,
        or a ``duration`` range not satisfying ``0.2 <= low <= high``.
    """
    if not 1 <= n_words <= len(WORD_FORMANTS):
        raise ValueError(f"n_words={n_words} must be in [1, {len(WORD_FORMANTS)}]")
    lo, hi = _check_common(n_speakers, clips_per, sr, duration)
    rng = np.random.default_rng(seed)
    genders, ages, f0, scale = _speakers(n_speakers, rng)
    paths = []
    record = 0
    for word in range(n_words):
        folder = os.path.join(os.fspath(root), str(word))
        os.makedirs(folder, exist_ok=True)
        for spk in range(n_speakers):
            formants = WORD_FORMANTS[word] * scale[spk]
            for level, prosody in enumerate(BAVED_PROSODY):
                for _ in range(clips_per):
                    y = synthesize_vowel(rng.uniform(lo, hi), f0[spk], formants, prosody, sr, rng)
                    name = f"{spk}-{genders[spk]}-{ages[spk]}-{word}-{level}-{record}.wav"
                    path = os.path.join(folder, name)
                    _write_pcm16(path, y, sr)
                    paths.append(path)
                    record += 1
    return paths


def make_crema_d(root, n_actors: int = 4, sentences=("DFA", "IEO", "ITH"),
                 emotions=tuple(CREMA_D_PROSODY), clips_per: int = 1, sr: int = 16000,
                 seed: int = 0, duration=(1.5, 3.0), demographics: bool = True) -> list[str]:
    """Write synthetic files named like CREMA-D's ``AudioWAV`` folder.

    Files are ``root/<actor>_<sentence>_<emotion>_<intensity>.wav``.

    Actors are numbered from 1001 as in CREMA-D; the intensity is ``XX`` (unspecified), or
    ``LO``, ``MD``, ``HI`` in turn when ``clips_per > 1`` (CREMA-D records those only for
    ``IEO``; here they simply keep names unique). With ``demographics`` a
    ``VideoDemographics.csv`` (``ActorID, Age, Sex, Race, Ethnicity``) is written beside the audio.

    Parameters
    ----------
    root : str or path
        Output folder (created).
    n_actors : int >= 1
        Actors ``1001 .. 1000 + n_actors``.
    sentences : sequence of str
        Sentence codes from ``CREMA_D_SENTENCES``; each selects a vowel (its formants).
    emotions : sequence of str
        Codes from ``ANG DIS FEA HAP NEU SAD``.
    clips_per : int in [1, 4]
        Intensities per (actor, sentence, emotion): ``XX`` first, then ``LO``, ``MD``, ``HI``.
    sr, seed, duration
        As in ``make_dataset``.
    demographics : bool
        Also write ``VideoDemographics.csv``.

    Returns
    -------
    paths : list of str
        The audio files written.

    Raises
    ------
    ValueError
        ``n_actors < 1``, ``clips_per`` outside ``[1, 4]``, ``sr < 8000``, a bad ``duration``
        range (as ``make_dataset``), or an unknown sentence or emotion code.
    """
    lo, hi = _check_common(n_actors, clips_per, sr, duration)
    if clips_per > 4:
        raise ValueError(f"clips_per={clips_per} must be <= 4 (intensities XX, LO, MD, HI)")
    unknown = [s for s in sentences if s not in CREMA_D_SENTENCES]
    if unknown:
        raise ValueError(f"unknown sentence codes {unknown}; expected some of {CREMA_D_SENTENCES}")
    unknown = [e for e in emotions if e not in CREMA_D_PROSODY]
    if unknown:
        raise ValueError(f"unknown emotion codes {unknown}; expected some of {tuple(CREMA_D_PROSODY)}")
    rng = np.random.default_rng(seed)
    genders, ages, f0, scale = _speakers(n_actors, rng)
    os.makedirs(os.fspath(root), exist_ok=True)
    paths = []
    for a in range(n_actors):
        actor = 1001 + a
        for sentence in sentences:
            vowel = CREMA_D_SENTENCES.index(sentence) % len(WORD_FORMANTS)
            formants = WORD_FORMANTS[vowel] * scale[a]
            for emotion in emotions:
                for intensity in ("XX", "LO", "MD", "HI")[:clips_per]:
                    y = synthesize_vowel(rng.uniform(lo, hi), f0[a], formants,
                                         CREMA_D_PROSODY[emotion], sr, rng)
                    path = os.path.join(os.fspath(root), f"{actor}_{sentence}_{emotion}_{intensity}.wav")
                    _write_pcm16(path, y, sr)
                    paths.append(path)
    if demographics:
        races = ("Caucasian", "African American", "Asian", "Unknown")
        with open(os.path.join(os.fspath(root), "VideoDemographics.csv"), "w") as f:
            f.write("ActorID,Age,Sex,Race,Ethnicity\n")
            for a in range(n_actors):
                sex = "Male" if genders[a] == "m" else "Female"
                eth = "Hispanic" if rng.random() < 0.2 else "Not Hispanic"
                f.write(f"{1001 + a},{ages[a]},{sex},{races[rng.integers(len(races))]},{eth}\n")
    return paths


def demo_folder(cache_dir, name: str, make, **kwargs) -> str:
    """A generated dataset kept under ``cache_dir`` and reused by every later call.

    The folder is ``<cache_dir>/demo/<name>-<key>``, ``key`` a digest of ``make``'s name and
    ``kwargs``. It is written once (into a temporary sibling, then renamed, with a
    ``.complete`` marker), so an interrupted generation is redone rather than half reused.

    Parameters
    ----------
    cache_dir : str or path
        The feature cache folder of the run.
    name : str
        Readable part of the folder name (e.g. ``"baved"``).
    make : callable
        ``make(root, **kwargs)``: ``make_dataset`` or ``make_crema_d``.
    **kwargs
        Passed to ``make``.

    Returns
    -------
    str
        The folder holding the generated audio.
    """
    key = hashlib.sha256(f"{make.__name__}{sorted(kwargs.items())}".encode()).hexdigest()[:10]
    base = os.path.join(os.fspath(cache_dir), "demo")
    folder = os.path.join(base, f"{name}-{key}")
    if os.path.isfile(os.path.join(folder, ".complete")):
        return folder
    os.makedirs(base, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=base)
    try:
        make(tmp, **kwargs)
        open(os.path.join(tmp, ".complete"), "w").close()
        if os.path.isdir(folder):                     # an earlier, unfinished attempt
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _write_pcm16(path, y: np.ndarray, sr: int) -> None:
    """Write ``y`` (n,) as 16-bit PCM WAV; soundfile is imported here, on the first write, so
    that importing this module (and collecting the tests that do) needs no libsndfile."""
    import soundfile as sf
    sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
