"""Using a trained model: predict on files, stream long recordings, explain a decision.

A run folder (or its ``best.ckpt``) holds everything a prediction needs (see ``checkpoint``):
the model's class, config and weights, and in ``meta`` the class names, the ``FeatureConfig``,
the feature normalization (``meta['normalize']``) and, for the global one, the training set's
``Standardizer`` statistics. ``Predictor.load`` rebuilds them and never reads training data. A
clip then goes through exactly the training chain::

    file ──dsp.load(sr)──> y : (L,)  mono, resampled to the checkpoint's rate
         ──normalize? ──fix_length──> (n_samples,)   zero-pad or trim the end, as in training
         ──waves_to_features──> (C, n_mels, n_frames) log-mel (dB)
         ──normalize_features──> x_hat = (x - m) / s  (m, s: see "Feature normalization")
         ──model──> logits (K,) ──softmax──> p_k = exp(z_k) / sum_j exp(z_j)

Files go through ``features.load_waves``, the very function training used; in-memory waves
(``predict_waves``, ``stream``) through the same steps written out here (``prepare_wave``).

Use::

    p = Predictor.load("runs/baved_random")             # run folder or checkpoint file
    for r in p.predict_files(["a.wav", "b.flac"]):     # unreadable files: r.error, no raise
        print(r.source, r.label, r.probabilities)      # probabilities (K,) in p.class_names order
    for start_s, end_s, probs in p.stream("talk.wav", window=3.0, hop=0.5):
        ...                                            # one window every 0.5 s, in time order
    ex = p.explain("a.wav")                            # ex.weights (T,) sum to 1; ex.mel (F, frames)

    cv = Predictor.load("runs/baved_cv")               # fold1..foldK: an EnsemblePredictor
    cv.n_models, cv.predict_files(["a.wav"])           # the mean of the K folds' probabilities

**Feature normalization.** ``meta['normalize']`` names how training normalized the log-mel
``x[c, f, t]`` of a clip (per channel ``c`` and mel bin ``f``, ``x_hat = (x - m[c, f]) /
s[c, f]``, ``s < eps`` counted as 1); a checkpoint without the key is ``"global"``:

- ``"global"``: ``m``, ``s`` are the training set's statistics (``meta['standardizer']``, a
  ``Standardizer``); every input is normalized alike.
- ``"utterance"``: ``m``, ``s`` are the mean and standard deviation of the clip's own frames
  (``features.normalize_utterances``); each input (file, clip, stream window) on its own.
- ``"speaker"``: ``m``, ``s`` are pooled over all the frames of all the clips of one speaker
  (``features.normalize_speakers``). A file carries no speaker label, so the inputs of one
  ``predict_files`` / ``predict_waves`` call are normalized together as ONE speaker: the
  prediction of a file depends on the other files given with it (transductive). Pass one
  speaker's files together, and enough of them for the statistics to settle (one file alone is
  normalized as ``"utterance"`` would). ``stream`` refuses such a model: one window at a time
  is not a speaker's recordings.

**Fold ensembles.** A K-fold cross-validation writes ``OUT/fold1 .. OUT/foldK``, each a run
folder (with a learning-rate sweep ``OUT/lr0.001/fold1 ..``). ``Predictor.load(OUT)`` on such
a folder (one without a ``best.ckpt`` of its own; ``fold_checkpoints`` finds the folds) returns
an ``EnsemblePredictor`` of the K models, whose probabilities are the mean of theirs::

    p_k(x) = (1/K) sum_{m=1..K} softmax(z^(m)(x_hat^(m)))_k

with ``x_hat^(m)`` the log-mel normalized as fold ``m`` was trained (its own statistics for
``"global"``) and ``z^(m)`` that fold's logits. The folds must agree on class names, feature
configuration and normalization. ``explain`` needs one model and refuses an ensemble.

**Long and short clips.** ``predict`` treats a recording as training treated clips: a shorter
one is zero-padded at the end, a longer one is trimmed to its first ``duration`` seconds
(``Prediction.duration`` keeps the real length so a caller can say so). To follow a long
recording, ``stream`` slides a window over it instead.

**Windows of ``stream``.** With window ``W`` and hop ``H`` seconds over a recording of ``L``
seconds (in samples ``w = round(W sr)``, ``h = round(H sr)``), window ``k`` covers samples
``[k h, k h + w)`` for ``k = 0 .. K`` where ``K = max(0, ceil((L - w) / h))``, the first
window reaching the end. Every window but possibly the last is full; the last one (and the only
one when ``L < w``) holds the remaining ``L - K h`` samples and is zero-padded at the end, the
way training padded short clips (and each window is z-normalized on its own when training
normalized clips). Its ``end_s`` is the end of the audio, ``L / sr``. Windows
shorter than the training clip (``W < duration``) are padded the same way; longer ones are
refused, since the model would only see their first ``duration`` seconds.

**Compatibility.** ``Predictor.load`` refuses, with a ``CheckpointError`` saying what differs:
a missing, corrupt or foreign file or another format version (``checkpoint.load_checkpoint``);
a pickle checkpoint of an older version (with the command that converts it);
a checkpoint without the model keys or without ``meta['class_names' | 'feature_config']``, or
without ``meta['standardizer']`` when it normalizes ``"global"`` (e.g. written by ``fit``
without ``meta``); a ``meta['normalize']`` other than the three above; feature parameters this
version's ``FeatureConfig`` does not have or lacks; weights holding NaN or infinity (naming the
first such entry of the state_dict); a model class that is not in the model registry, or a
config or weights that do not fit this version's code; statistics whose shape does not fit the
features; a model built for another ``n_mels`` or ``n_frames`` than the features have; a model
whose output size is not the number of class names or that rejects the features (checked with
one forward pass of zeros). For a fold folder, also: several sweep folders holding folds (which
one is meant?), a fold folder without ``best.ckpt``, folds that disagree (naming the first).

Checkpoints hold only arrays and JSON (``checkpoint``): loading one runs no code from the file,
and the model class is looked up by name in ``models.registry``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

import numpy as np

import dsp

from .checkpoint import CheckpointError, build_model, load_checkpoint
from ..data import features as feat
from ..data.features import FeatureConfig, Standardizer
from ..autograd.tensor import Tensor, no_grad

REQUIRED_KEYS = ("model_class", "model_config", "model_state", "meta")
REQUIRED_META = {
    "class_names": "the label of each output",
    "feature_config": "the feature parameters, FeatureConfig.to_dict()",
    "standardizer": "the normalization statistics, Standardizer.state_dict()",  # "global" only
}
#: ``meta['normalize']`` of a checkpoint that has none (written before the key existed)
DEFAULT_NORMALIZE = "global"
#: a fold folder of a cross-validation: ``fold1``, ``fold2``, ...
FOLD_NAME = re.compile(r"fold(\d+)")
STANDARDIZER_KEYS = ("mode", "eps", "mean", "std")


# ==================================================================================== results
@dataclass
class Prediction:
    """The prediction for one input, or why there is none.

    Attributes
    ----------
    source : str
        The file path, or ``"wave[i]"`` for in-memory input.
    label : str or None
        ``class_names[argmax p]``; None when ``error`` is set.
    index : int or None
        ``argmax p``.
    probabilities : (K,) float32 or None
        Softmax of the logits, in ``class_names`` order; sums to 1.
    class_names : tuple of str
    duration : float or None
        Length of the recording in seconds (before padding or trimming).
    clip_duration : float or None
        The training clip length the model saw (``FeatureConfig.duration``).
    error : str or None
        Why the input could not be read (then every other field but ``source`` is None).
    """

    source: str
    label: str | None = None
    index: int | None = None
    probabilities: np.ndarray | None = None
    class_names: tuple = ()
    duration: float | None = None
    clip_duration: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether there is a prediction (no error)."""
        return self.error is None

    @property
    def trimmed(self) -> bool:
        """Whether the recording was longer than the training clip (only its start was seen)."""
        return (self.ok and self.duration is not None
                and self.duration > self.clip_duration + 1e-9)

    def to_dict(self) -> dict:
        """JSON-ready: ``{"file", "label", "probabilities": {name: p}, "duration_s"}`` or
        ``{"file", "error"}``."""
        if not self.ok:
            return {"file": self.source, "error": self.error}
        return {"file": self.source, "label": self.label,
                "probabilities": {name: float(p) for name, p in
                                  zip(self.class_names, self.probabilities)},
                "duration_s": self.duration, "trimmed": self.trimmed}


class StreamWindow(NamedTuple):
    """One window of ``Predictor.stream``: its span in seconds and the class probabilities (K,)."""

    start_s: float
    end_s: float
    probabilities: np.ndarray


@dataclass
class StreamStats:
    """Counters a ``stream`` call updates as it goes (pass one in to read them afterwards).

    Attributes
    ----------
    windows : int
        Windows scored so far.
    audio_seconds : float
        Audio received so far.
    compute_seconds : float
        Time spent loading, resampling, computing features and running the model (time spent
        waiting for live input is not counted).
    """

    windows: int = 0
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0

    @property
    def real_time_factor(self) -> float:
        """``compute_seconds / audio_seconds``: below 1 keeps up with live audio."""
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else math.nan


@dataclass
class Explanation:
    """What ``explain`` returns: the decision, the attention pooling weights and the input.

    Attributes
    ----------
    prediction : Prediction
    weights : (T,) float32
        Attention pooling weights ``alpha_t`` over the model's T time steps; sum to 1.
    step_start_s, step_end_s : (T,) float64
        Time span of each step: step t pools frames ``[t r, (t + 1) r)`` with
        ``r = n_frames // T`` (4 for the BAVED model), frame f centred at ``f hop / sr``.
    mel : (n_mels, n_frames) float32
        The log-mel (dB, channel 0) of the padded/trimmed clip, before standardization.
    hop_seconds : float
        Seconds between frames, ``hop_length / sr``.
    """

    prediction: Prediction
    weights: np.ndarray
    step_start_s: np.ndarray
    step_end_s: np.ndarray
    mel: np.ndarray
    hop_seconds: float


# ================================================================================== predictor
class Predictor:
    """A trained classifier with its feature chain (module docstring), ready to predict.

    Parameters
    ----------
    model : Module
        Maps normalized features ``(B, *feature_config.shape)`` to logits ``(B, K)``.
    class_names : sequence of str, (K,)
    feature_config : FeatureConfig
    standardizer : Standardizer or None
        Fitted on the training features; needed (and used) only when ``normalize="global"``.
    batch_size : int > 0
        Clips (or stream windows) featurized and scored together.
    normalize : {"global", "utterance", "speaker"}
        The feature normalization training used (module docstring). ``"speaker"`` normalizes
        the clips of one ``predict_files`` / ``predict_waves`` call together as one speaker
        (transductive) and cannot ``stream``.

    Attributes
    ----------
    model, class_names (tuple), feature_config, standardizer, batch_size, normalize
        As given (the model switched to eval mode).
    source : str or None
        The path ``load`` read.
    n_models : int
        1 (an ``EnsemblePredictor`` averages more).

    Raises
    ------
    ValueError
        If ``normalize`` is not one of the three, ``"global"`` comes without a standardizer,
        or the parts do not fit together (see ``check_compatible``).
    """

    n_models = 1

    def __init__(self, model, class_names, feature_config: FeatureConfig,
                 standardizer: Standardizer | None, batch_size: int = 16,
                 normalize: str = DEFAULT_NORMALIZE):
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be a positive integer")
        if normalize not in feat.NORMALIZATIONS:
            raise ValueError(f"normalize={normalize!r} must be one of {feat.NORMALIZATIONS}")
        if normalize == "global" and standardizer is None:
            raise ValueError("normalize='global' needs the training Standardizer, got None")
        self.model = model.eval()
        self.class_names = tuple(str(c) for c in class_names)
        self.feature_config = feature_config
        self.standardizer = standardizer
        self.batch_size = int(batch_size)
        self.normalize = normalize
        self.source = None
        check_compatible(self.model, self.class_names, feature_config,
                         standardizer if normalize == "global" else None)

    @property
    def checkpoints(self) -> tuple:
        """The paths the model(s) were read from, ``(source,)`` here (one per fold for an
        ensemble)."""
        return (self.source,)

    # ------------------------------------------------------------------------- loading
    @classmethod
    def load(cls, path, batch_size: int = 16) -> "Predictor":
        """Rebuild a predictor from a run folder (its ``best.ckpt``), a checkpoint file, or a
        cross-validation folder of fold run folders (then an ``EnsemblePredictor``).

        Parameters
        ----------
        path : str or path
            A run folder or a checkpoint file (``checkpoint.load_checkpoint``); or a folder
            without ``best.ckpt`` holding ``fold1 .. foldK`` run folders, directly or in its
            only sweep folder (``fold_checkpoints``).
        batch_size : int > 0
            Clips (or stream windows) featurized and scored together.

        Returns
        -------
        Predictor
            With ``source`` set to ``path``; the model in eval mode. For a folder of folds an
            ``EnsemblePredictor`` (a ``Predictor``) of the K folds' models.

        Raises
        ------
        CheckpointError
            Naming the file and what differs from what this version expects (module docstring),
            among which a ``meta['normalize']`` this version does not know; also for a
            ``batch_size`` that is not a positive integer (``from_checkpoint``). For a folder
            of folds, see ``EnsemblePredictor.load``.
        """
        if fold_checkpoints(path) is not None:
            return EnsemblePredictor.load(path, batch_size=batch_size)
        checkpoint = load_checkpoint(path)
        name = os.fspath(path)
        try:
            predictor = cls.from_checkpoint(checkpoint, batch_size=batch_size)
        except CheckpointError as err:
            raise CheckpointError(f"checkpoint {name}: {err}") from err
        predictor.source = name
        return predictor

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, batch_size: int = 16) -> "Predictor":
        """Rebuild a predictor from a loaded checkpoint dict (``checkpoint.load_checkpoint``).

        Parameters
        ----------
        checkpoint : dict
            Needs ``model_class``, ``model_config``, ``model_state`` and ``meta``, a dict with
            ``class_names``, ``feature_config`` (``FeatureConfig.to_dict()``), optionally
            ``normalize`` (``"global"`` when absent) and, for ``"global"``, ``standardizer``
            (``Standardizer.state_dict()``; ignored for the other normalizations).
        batch_size : int > 0
            Clips (or stream windows) featurized and scored together.

        Returns
        -------
        Predictor
            ``source`` is None (``load`` sets it).

        Raises
        ------
        CheckpointError
            Saying what is missing or differs (module docstring), without the file's name: a
            required key or ``meta`` entry missing, ``meta`` not a dict, an unknown
            ``meta['normalize']``, feature parameters unknown, missing or invalid,
            standardizer statistics missing or invalid, non-finite weights, a model that
            cannot be built; and, converted from ``ValueError``, parts that do not fit
            together (``check_compatible``) or a ``batch_size`` that is not a positive integer.
        """
        missing = [k for k in REQUIRED_KEYS if k not in checkpoint]
        if missing:
            raise CheckpointError(f"has no {', '.join(map(repr, missing))}: it does not hold a "
                                  f"model (keys present: {sorted(checkpoint)})")
        meta = checkpoint["meta"]
        if not isinstance(meta, dict):
            raise CheckpointError(f"meta is a {type(meta).__name__}, expected a dict")
        normalize = _normalize_mode(meta)
        needed = [k for k in REQUIRED_META if k != "standardizer" or normalize == "global"]
        missing = [k for k in needed if k not in meta]
        if missing:
            needed = "; ".join(f"{k!r}: {REQUIRED_META[k]}" for k in missing)
            raise CheckpointError(f"meta lacks {needed}. Prediction needs them; checkpoints "
                                  f"written by experiment.run have them")
        config = _feature_config(meta["feature_config"])
        standardizer = _standardizer(meta["standardizer"]) if normalize == "global" else None
        check_finite_weights(checkpoint["model_state"])
        model = build_model(checkpoint)  # CheckpointError when class, config or weights differ
        try:
            return cls(model, meta["class_names"], config, standardizer, batch_size=batch_size,
                       normalize=normalize)
        except CheckpointError:
            raise
        except ValueError as err:
            raise CheckpointError(str(err)) from err

    # ------------------------------------------------------------------ the signal chain
    def prepare_wave(self, y: np.ndarray, sr: int) -> np.ndarray:
        """One mono clip at rate ``sr`` -> ``(n_samples,)`` float32 at the checkpoint's rate.

        Resample to ``feature_config.sr``, then ``features.fit_wave`` (z-normalize if the
        checkpoint says so, zero-pad or trim the end to ``n_samples``), as training did.

        Parameters
        ----------
        y : (L,) float, L >= 1
            Mono samples, all finite (converted to float32).
        sr : int > 0
            Their sample rate in Hz (truncated by ``int()``: ``16000.0`` is accepted).

        Returns
        -------
        (feature_config.n_samples,) float32
            ``n_samples = round(sr * duration)`` at the checkpoint's rate.

        Raises
        ------
        ValueError
            ``y`` not 1-D, empty, or holding NaN or inf; ``sr`` not convertible by ``int()``
            or below 1 (``dsp.resample``).
        """
        cfg = self.feature_config
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1:
            raise ValueError(f"a clip must be mono (n_samples,), got shape {y.shape}; "
                             f"downmix with y.mean(axis=0) first")
        if y.size == 0:
            raise ValueError("a clip must hold at least one sample, got 0")
        if not np.isfinite(y).all():
            raise ValueError("a clip holds NaN or infinite samples")
        return feat.fit_wave(dsp.resample(y, int(sr), cfg.sr), cfg)

    def features(self, waves: np.ndarray) -> np.ndarray:
        """Normalized features of prepared clips: (B, n_samples) -> (B, *feature_config.shape).

        ``waves_to_features`` then ``normalize_features`` (for ``"speaker"``: the B clips
        together, as one speaker).
        """
        return self.normalize_features(feat.waves_to_features(waves, self.feature_config))

    def normalize_features(self, X: np.ndarray) -> np.ndarray:
        """Normalize log-mel features as training did (``normalize``, module docstring).

        ``x_hat[n, c, f, t] = (x[n, c, f, t] - m[c, f]) / s[c, f]`` where ``m``, ``s`` are

        - ``"global"``: the training set's (``standardizer.transform``);
        - ``"utterance"``: clip ``n``'s own over its frames (``features.normalize_utterances``);
        - ``"speaker"``: pooled over all N clips and their frames, the N clips taken as one
          speaker (``features.normalize_speakers`` with one label for every row): each row's
          result depends on the others (transductive).

        Parameters
        ----------
        X : (N, C, F, T) float
            Log-mel features in dB (``features.waves_to_features``); not modified.

        Returns
        -------
        (N, C, F, T) float32, a new array.

        Raises
        ------
        ValueError
            ``X`` not 4-D (from the normalization functions).
        """
        # "speaker": every row one speaker (module docstring)
        return feat.normalize(X, self.normalize, self.standardizer, np.zeros(len(X), np.int64))

    def predict_logmel(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) of log-mel features (N, C, F, T) before normalization.

        ``predict_proba(normalize_features(X))``; an ``EnsemblePredictor`` averages its
        members' instead. For ``"speaker"`` the N clips are normalized together as one speaker.
        """
        return self.predict_proba(self.normalize_features(X))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (B, K) of normalized features (B, *shape), eval mode, no graph."""
        out = []
        with no_grad():
            for start in range(0, len(X), self.batch_size):
                logits = self.model(Tensor(X[start:start + self.batch_size]))
                out.append(logits.softmax(axis=-1).data)
        if not out:
            return np.zeros((0, len(self.class_names)), np.float32)
        return np.concatenate(out)

    def _result(self, source: str, p: np.ndarray, duration: float | None) -> Prediction:
        k = int(p.argmax())
        return Prediction(source=source, label=self.class_names[k], index=k, probabilities=p,
                          class_names=self.class_names, duration=duration,
                          clip_duration=self.feature_config.duration)

    # ----------------------------------------------------------------------- predicting
    def predict_files(self, paths) -> list[Prediction]:
        """One ``Prediction`` per file, in order; unreadable files get an ``error``, not an
        exception, so one bad file does not stop the batch.

        With ``normalize="speaker"`` the readable files are normalized together as one speaker
        (module docstring): give one speaker's files in one call. Their log-mel features are
        then all held in memory at once, ``N C n_mels n_frames`` float32.

        Parameters
        ----------
        paths : sequence of str or path, (N,)
            Audio files of any rate and channel count (resampled, downmixed).

        Returns
        -------
        list of Prediction, (N,)
        """
        paths = [os.fspath(p) for p in paths]
        results: list[Prediction | None] = [None] * len(paths)
        pending = []                    # (positions, seconds, log-mel) not scored yet
        for start in range(0, len(paths), self.batch_size):
            chunk = paths[start:start + self.batch_size]
            waves, kept, failed, seconds = feat.load_waves(chunk, self.feature_config)
            bad = sorted(set(range(len(chunk))) - set(kept.tolist()))
            for i, (path, reason) in zip(bad, failed):  # load_waves keeps the input order
                results[start + i] = Prediction(source=path, error=reason)
            pending.append((start + kept, seconds,       # each file decoded once
                            feat.waves_to_features(waves, self.feature_config)))
            if self.normalize != "speaker":             # else: all files together, below
                self._score_pending(pending, paths, results)
        self._score_pending(pending, paths, results)
        return results

    def predict_waves(self, waves, sr: int) -> list[Prediction]:
        """Predictions for in-memory mono clips at sample rate ``sr``.

        With ``normalize="speaker"`` all the clips are normalized together as one speaker
        (module docstring).

        Parameters
        ----------
        waves : (L,) or (B, L) array, or a sequence of (L_i,) arrays
            One clip, a batch of equal-length clips, or clips of any lengths.
        sr : int > 0
            Their sample rate (resampled to the checkpoint's).

        Returns
        -------
        list of Prediction, (B,)
            Sources are named ``"wave[i]"``.

        Raises
        ------
        ValueError
            For a clip that is not 1-D, is empty or holds NaN / inf.
        """
        if isinstance(waves, np.ndarray) and waves.ndim == 1:
            waves = [waves]
        clips = list(waves)
        sources = [f"wave[{i}]" for i in range(len(clips))]
        results: list[Prediction | None] = [None] * len(clips)
        pending = []
        for start in range(0, len(clips), self.batch_size):
            part = clips[start:start + self.batch_size]
            prepared = np.stack([self.prepare_wave(y, sr) for y in part])
            pending.append((np.arange(start, start + len(part)),
                            np.array([len(y) / sr for y in part]),
                            feat.waves_to_features(prepared, self.feature_config)))
            if self.normalize != "speaker":
                self._score_pending(pending, sources, results)
        self._score_pending(pending, sources, results)
        return results

    def _score_pending(self, pending: list, sources: list, results: list) -> None:
        """Score the batches ``(positions, seconds, log-mel)`` of ``pending`` together (one
        ``predict_logmel`` call), write their ``Prediction``s into ``results``, empty it."""
        if pending:
            where = np.concatenate([b[0] for b in pending])
            seconds = np.concatenate([b[1] for b in pending])
            X = np.concatenate([b[2] for b in pending])                 # (N, C, F, T) dB
            pending.clear()
            if len(X):
                for i, p, length in zip(where, self.predict_logmel(X), seconds):
                    results[i] = self._result(sources[i], p, float(length))

    # ------------------------------------------------------------------------ streaming
    def stream(self, source, window: float | None = None, hop: float = 0.5,
               sr: int | None = None, stats: StreamStats | None = None) -> Iterator[StreamWindow]:
        """Slide a window over a recording and yield class probabilities per window.

        Windows are defined in the module docstring (full windows every ``hop`` seconds, the
        last one zero-padded). They are scored in batches of ``batch_size`` as soon as their
        samples have arrived, so chunked live input gets each window when its last chunk
        arrives. Arguments are checked and a file is loaded when ``stream`` is called; the
        windows are computed as the returned generator is iterated. A model normalized per
        utterance normalizes each window on its own; one normalized per speaker is refused.

        Parameters
        ----------
        source : str or path, (L,) array, or iterable of (n,) arrays
            An audio file (loaded at the checkpoint's rate), a mono recording, or successive
            chunks of one (e.g. ``read_pcm16(stdin)``), of any sizes.
        window : float > 0 or None
            Window length in seconds, at most the training clip length (``None``: equal to it).
        hop : float in (0, window]
            Seconds between window starts.
        sr : int > 0 or None
            Sample rate of an array or chunks (``None``: the checkpoint's). Not for files.
        stats : StreamStats, optional
            Updated in place (windows, audio and compute seconds, real-time factor).

        Returns
        -------
        iterator of StreamWindow
            ``(start_s, end_s, probabilities (K,))`` in time order.

        Raises
        ------
        ValueError
            For a model normalized per speaker (``normalize="speaker"``: one window is not a
            speaker's clips), a window longer than the training clip, a hop outside
            ``(0, window]``, a bad ``sr``; ``dsp.AudioLoadError`` (a ValueError) for an
            unreadable file.
        """
        if self.normalize == "speaker":
            raise ValueError(
                f"{self.source or 'this model'} normalizes features per speaker "
                f"(meta['normalize']='speaker'), which needs a speaker's clips together; "
                f"stream scores one window at a time, so it cannot. Use predict with one "
                f"speaker's files, or a model trained with normalize 'global' or 'utterance'")
        cfg = self.feature_config
        window = cfg.duration if window is None else float(window)
        hop = float(hop)
        if not window > 0:
            raise ValueError(f"window={window} must be > 0 seconds")
        if window > cfg.duration + 1e-9:
            raise ValueError(f"window={window} s must be <= the training clip length "
                             f"{cfg.duration} s: the model sees only that much")
        if not 0 < hop <= window:
            raise ValueError(f"hop={hop} must satisfy 0 < hop <= window={window} so the "
                             f"windows cover the recording")
        stats = StreamStats() if stats is None else stats
        t0 = time.perf_counter()
        if isinstance(source, (str, os.PathLike)):
            if sr is not None:
                raise ValueError(f"sr={sr} applies to arrays and chunks; a file has its own rate")
            y, sr = dsp.load(source, sr=cfg.sr)
            chunks = [y]
        else:
            sr = cfg.sr if sr is None else sr
            if isinstance(sr, bool) or int(sr) != sr or sr < 1:
                raise ValueError(f"sr={sr} must be a positive integer")
            sr = int(sr)
            chunks = [source] if isinstance(source, np.ndarray) else source
        stats.compute_seconds += time.perf_counter() - t0
        w, h = int(round(window * sr)), int(round(hop * sr))
        if h < 1:
            raise ValueError(f"hop={hop} s is less than one sample at sr={sr}")
        return self._windows(chunks, w, h, sr, stats)

    def _windows(self, chunks, w: int, h: int, sr: int, stats) -> Iterator[StreamWindow]:
        """The generator behind ``stream``: windows of ``w`` samples every ``h`` samples."""
        buf = np.zeros(0, np.float32)   # samples from the next window's start on
        buf_start = 0                   # absolute index of buf[0]
        received = 0
        k = 0                           # next window to emit
        for chunk in chunks:
            chunk = np.asarray(chunk, dtype=np.float32)
            if chunk.ndim != 1:
                raise ValueError(f"stream chunks must be mono (n,), got shape {chunk.shape}")
            if not np.isfinite(chunk).all():
                raise ValueError(f"stream chunk at {received / sr:.3f} s holds NaN or inf")
            buf = np.concatenate([buf, chunk]) if len(buf) else chunk
            received += len(chunk)
            stats.audio_seconds = received / sr
            spans = []
            while k * h + w <= received:                      # every window now complete
                spans.append((k * h, k * h + w))
                k += 1
            yield from self._score_spans(buf, buf_start, spans, sr, stats)
            buf, buf_start = buf[k * h - buf_start:], k * h   # drop what no window needs
        if received == 0:
            return
        last = max(0, math.ceil((received - w) / h))          # the first window reaching the end
        spans = [(j * h, min(j * h + w, received)) for j in range(k, last + 1)]
        yield from self._score_spans(buf, buf_start, spans, sr, stats)

    def _score_spans(self, buf, buf_start, spans, sr, stats) -> Iterator[StreamWindow]:
        """Score windows ``[a, b)`` (absolute samples, ``buf`` starting at ``buf_start``)."""
        for i in range(0, len(spans), self.batch_size):
            t0 = time.perf_counter()
            part = spans[i:i + self.batch_size]
            waves = np.stack([self.prepare_wave(buf[a - buf_start:b - buf_start], sr)
                              for a, b in part])
            probs = self.predict_logmel(feat.waves_to_features(waves, self.feature_config))
            stats.compute_seconds += time.perf_counter() - t0
            stats.windows += len(part)
            for (a, b), p in zip(part, probs):
                yield StreamWindow(a / sr, b / sr, p)

    # ----------------------------------------------------------------------- explaining
    def explain(self, path) -> Explanation:
        """Prediction, attention weights over time and input log-mel of one audio file.

        Raises
        ------
        dsp.AudioLoadError
            If the file cannot be read.
        ValueError
            If the model has no ``attention_weights()`` (see ``explain_wave``).
        """
        y, sr = dsp.load(path, sr=self.feature_config.sr)
        explanation = self.explain_wave(y, sr)
        explanation.prediction.source = os.fspath(path)
        return explanation

    def explain_wave(self, y: np.ndarray, sr: int) -> Explanation:
        """``explain`` for an in-memory mono clip at rate ``sr``.

        The clip goes through ``prepare_wave`` (padded or trimmed to the training clip), then
        one forward pass; the weights are the model's ``attention_weights()`` of that pass. A
        model normalized per speaker sees the clip as its speaker's only one (its own
        statistics), as ``predict_files`` of that one file would.

        Parameters
        ----------
        y : (L,) float, L >= 1
            Mono samples, all finite.
        sr : int > 0
            Their sample rate in Hz (resampled to the checkpoint's).

        Returns
        -------
        Explanation
            ``weights : (T,)``, ``step_start_s, step_end_s : (T,)`` in seconds, ``mel :
            (n_mels, n_frames)`` in dB; ``prediction.source`` is ``"wave"`` and
            ``prediction.duration`` is ``L / sr`` seconds (before padding or trimming).

        Raises
        ------
        ValueError
            If the model has no ``attention_weights()``: only models that pool over time with
            attention weights (``ParallelCNNLSTMAttention``) can be explained this way; or for
            a clip or ``sr`` that ``prepare_wave`` refuses.
        """
        weights_of = getattr(self.model, "attention_weights", None)
        if not callable(weights_of):
            raise ValueError(f"{type(self.model).__name__} has no attention_weights(): explain "
                             f"needs a model that pools over time with attention, such as "
                             f"ParallelCNNLSTMAttention")
        cfg = self.feature_config
        wave = self.prepare_wave(y, sr)[None]                            # (1, n_samples)
        raw = feat.waves_to_features(wave, cfg)                          # (1, C, F, T) dB
        probs = self.predict_proba(self.normalize_features(raw))         # (1, K)
        weights = np.asarray(weights_of())[0]                            # (T_steps,)
        mel = raw[0, 0]                                                  # (n_mels, n_frames)
        n_frames, n_steps = mel.shape[-1], len(weights)
        per_step = n_frames // n_steps
        hop_s = cfg.hop_length / cfg.sr
        steps = np.arange(n_steps)
        return Explanation(prediction=self._result("wave", probs[0], len(y) / sr),
                           weights=weights, step_start_s=steps * per_step * hop_s,
                           step_end_s=(steps + 1) * per_step * hop_s, mel=mel, hop_seconds=hop_s)


# =================================================================================== ensemble
class EnsemblePredictor(Predictor):
    """Several predictors of one task whose class probabilities are averaged (fold ensemble).

    For an input with log-mel ``x`` and M members::

        p_k(x) = (1/M) sum_{m=1..M} softmax(z^(m)(x_hat^(m)))_k

    where ``x_hat^(m)`` is ``x`` normalized by member m (``Predictor.normalize_features``, its
    own training statistics for ``"global"``) and ``z^(m)`` its logits: the mean of the M
    softmax outputs, not the softmax of the mean logits. The features are computed once and
    shared; everything else a ``Predictor`` does (files, waves, ``stream``) works the same,
    except ``explain`` (the attention of which model?), ``features`` and ``predict_proba``
    (no single normalization), which raise ``ValueError``.

    Parameters
    ----------
    members : sequence of Predictor, M >= 1
        Agreeing on ``class_names``, ``feature_config`` and ``normalize``; scored with the
        first member's ``batch_size``.

    Attributes
    ----------
    members : list of Predictor, (M,)
    class_names, feature_config, normalize, batch_size
        The members' (common) values.
    n_models : int
        M.
    source : str or None
        The folder ``load`` read.
    model, standardizer : None
        Each member has its own.

    Raises
    ------
    ValueError
        No member, a member that is itself an ensemble, or a member that differs from the
        first in class names, feature configuration or normalization (naming that member by
        its ``source``, and what differs).
    """

    def __init__(self, members):
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one member predictor, got 0")
        first = members[0]
        for i, member in enumerate(members):
            if isinstance(member, EnsemblePredictor):
                raise ValueError(f"member {i} ({member.source}) is itself an ensemble; pass "
                                 f"its members instead, so that every model weighs the same")
            differ = _disagreement(first, member)
            if differ:
                raise ValueError(f"{_name(member, i)} differs from {_name(first, 0)} in "
                                 f"{differ}: an ensemble averages the probabilities of models "
                                 f"of the same classes, features and normalization")
        self.members = members
        self.class_names = first.class_names
        self.feature_config = first.feature_config
        self.normalize = first.normalize
        self.batch_size = first.batch_size
        self.model = self.standardizer = None
        self.source = None

    @property
    def n_models(self) -> int:
        """M, the number of models averaged."""
        return len(self.members)

    @property
    def checkpoints(self) -> tuple:
        """The members' ``source`` paths, in order (one ``best.ckpt`` per fold)."""
        return tuple(m.source for m in self.members)

    @classmethod
    def load(cls, path, batch_size: int = 16) -> "EnsemblePredictor":
        """The ensemble of the folds of a cross-validation folder (``fold_checkpoints``).

        Parameters
        ----------
        path : str or path
            A folder without ``best.ckpt`` holding run folders ``fold1 .. foldK``, directly or
            in its only sweep folder (``OUT/lr0.001/fold1``).
        batch_size : int > 0

        Returns
        -------
        EnsemblePredictor
            K members in fold order, each with ``source`` its ``best.ckpt``; ``source`` is
            ``path``.

        Raises
        ------
        CheckpointError
            ``path`` holds no fold folders, or several sweep folders with folds (listing them),
            or a fold folder without ``best.ckpt``; a fold's checkpoint that ``Predictor.load``
            refuses; folds that disagree (a ``ValueError`` naming the first fold that differs
            from fold 1, converted).
        """
        name = os.fspath(path)
        files = fold_checkpoints(path)
        if files is None:
            raise CheckpointError(f"{name} is not a cross-validation folder: it holds no "
                                  f"fold1 .. foldK run folders (nor one folder that does)")
        members = [Predictor.load(f, batch_size=batch_size) for f in files]
        try:
            ensemble = cls(members)
        except ValueError as err:
            raise CheckpointError(f"ensemble {name}: {err}") from err
        ensemble.source = name
        return ensemble

    def predict_logmel(self, X: np.ndarray) -> np.ndarray:
        """The mean of the members' probabilities (class docstring): (N, C, F, T) -> (N, K)."""
        total = np.zeros((len(X), len(self.class_names)), np.float64)
        for member in self.members:
            total += member.predict_logmel(X)                # each normalizes X its own way
        return (total / len(self.members)).astype(np.float32)

    def _refuse(self, what: str):
        raise ValueError(f"{what} needs one model, and {self.source or 'this ensemble'} "
                         f"averages {self.n_models}; use one of its folds, e.g. "
                         f"{self.members[0].source}")

    def features(self, waves: np.ndarray) -> np.ndarray:
        """Refused: each member normalizes the log-mel its own way (use ``predict_logmel``)."""
        self._refuse("features (normalized as one model's training did)")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Refused: normalized features belong to one member (use ``predict_logmel``)."""
        self._refuse("predict_proba (of features normalized for one model)")

    def explain(self, path) -> Explanation:
        """Refused before the file is read: attention weights belong to one model."""
        self._refuse("explain")

    def explain_wave(self, y: np.ndarray, sr: int) -> Explanation:
        """Refused: attention weights belong to one model."""
        self._refuse("explain")


def fold_checkpoints(path) -> list[Path] | None:
    """The ``best.ckpt`` of each fold of a cross-validation folder; None for anything else.

    A cross-validation folder is a folder without a ``best.ckpt`` of its own that holds fold
    folders ``fold1 .. foldK`` (any ``fold<number>``), or holds exactly one folder that does
    (a learning-rate sweep writes ``OUT/lr0.001/fold1 ..``).

    Parameters
    ----------
    path : str or path

    Returns
    -------
    list of Path, (K,), or None
        ``<fold folder>/best.ckpt`` ordered by fold number; None for a file, a run folder (it
        has ``best.ckpt``), or a folder with no fold folders at either depth.

    Raises
    ------
    CheckpointError
        Several sub-folders hold fold folders (listing them: name the one meant); a fold
        folder without ``best.ckpt`` (an unfinished cross-validation; naming them).
    """
    root = Path(path)
    if not root.is_dir() or (root / "best.ckpt").exists():
        return None
    folds = _fold_folders(root)
    if not folds:
        sweeps = [d for d in sorted(root.iterdir()) if d.is_dir() and _fold_folders(d)]
        if not sweeps:
            return None
        if len(sweeps) > 1:
            raise CheckpointError(
                f"{root} has no best.ckpt and {len(sweeps)} folders of folds: "
                f"{', '.join(d.name for d in sweeps)}; name the one to load, e.g. {sweeps[0]}")
        root, folds = sweeps[0], _fold_folders(sweeps[0])
    missing = [d.name for d in folds if not (d / "best.ckpt").is_file()]
    if missing:
        raise CheckpointError(f"{root}: fold folder(s) {', '.join(missing)} hold no best.ckpt "
                              f"(an unfinished cross-validation?); the ensemble needs every "
                              f"fold, or load single folds by their folder")
    return [d / "best.ckpt" for d in folds]


def _fold_folders(root: Path) -> list[Path]:
    """Sub-folders of ``root`` named ``fold<number>``, by number."""
    found = []
    for d in root.iterdir():
        match = FOLD_NAME.fullmatch(d.name)
        if match and d.is_dir():
            found.append((int(match.group(1)), d))
    return [d for _, d in sorted(found)]


def _name(predictor: Predictor, i: int) -> str:
    """How an error names a member: its source path, else its position."""
    return predictor.source or f"member {i}"


def _disagreement(a: Predictor, b: Predictor) -> str:
    """What ``b`` has that ``a`` has not, among the things an ensemble's members share; ''."""
    if a.class_names != b.class_names:
        return f"class_names: {list(b.class_names)} vs {list(a.class_names)}"
    if a.normalize != b.normalize:
        return f"normalize: {b.normalize!r} vs {a.normalize!r}"
    fa, fb = a.feature_config.to_dict(), b.feature_config.to_dict()
    differ = [f"{k}={fb.get(k)!r} vs {fa.get(k)!r}" for k in sorted(set(fa) | set(fb))
              if fa.get(k) != fb.get(k)]
    if differ:
        return f"feature_config: {', '.join(differ)}"
    return ""


# ============================================================================ compatibility
def check_compatible(model, class_names, config: FeatureConfig,
                     standardizer: Standardizer | None):
    """Raise ``ValueError`` saying what differs if the parts of a predictor do not fit.

    Checks: at least two distinct class names; statistics that broadcast to the feature shape
    ``(1, *config.shape)`` without changing it; the model's ``config['n_mels' | 'n_frames']``
    (when it has them) equal to the features'; one forward pass of zeros of that shape giving
    logits ``(1, len(class_names))``.

    Parameters
    ----------
    model : Module
        The classifier; put back in the training mode it had after the forward pass (run in
        eval mode under ``no_grad``).
    class_names : sequence of str, (K,), K >= 2
        Distinct names of the outputs.
    config : FeatureConfig
        Gives the feature shape ``(C, n_mels, n_frames) = config.shape``.
    standardizer : Standardizer or None
        Fitted: ``mean_`` and ``std_`` broadcast to ``(1, C, n_mels, n_frames)`` unchanged.
        None for a normalization without training statistics (``"utterance"``,
        ``"speaker"``): nothing to check.

    Returns
    -------
    None

    Raises
    ------
    ValueError
        Fewer than two or repeated class names; an unfitted standardizer or statistics of
        another shape; ``model.config['n_mels' | 'n_frames']`` differing from the features';
        a forward pass that raises ``ValueError`` or ``IndexError``; logits of another shape
        than ``(1, K)``.
    """
    if len(class_names) < 2 or len(set(class_names)) != len(class_names):
        raise ValueError(f"class_names={list(class_names)} must be >= 2 distinct names")
    shape = (1, *config.shape)
    for name in ("mean_", "std_") if standardizer is not None else ():
        stat = getattr(standardizer, name)
        if stat is None:
            raise ValueError("the standardizer is not fitted (no mean / std)")
        try:
            fits = np.broadcast_shapes(stat.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"standardizer {name.rstrip('_')} has shape {stat.shape}, which does "
                             f"not fit features of shape {shape} (FeatureConfig: "
                             f"n_mels={config.n_mels}, frames={config.frames}, "
                             f"channels={config.channels})")
    built_for = getattr(model, "config", None) or {}
    given = {"n_mels": config.n_mels, "n_frames": config.frames}
    differ = [f"{k}={built_for[k]} (model) vs {v} (features)" for k, v in given.items()
              if k in built_for and built_for[k] != v]
    if differ:
        raise ValueError(f"{type(model).__name__} was built for other features: "
                         f"{', '.join(differ)}; FeatureConfig: duration={config.duration} s, "
                         f"sr={config.sr}, hop_length={config.hop_length}")
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            logits = model(Tensor(np.zeros(shape, np.float32)))
    except (ValueError, IndexError) as err:
        raise ValueError(f"{type(model).__name__} rejects features of shape {shape} from the "
                         f"feature config: {err}") from err
    finally:
        model.train(was_training)
    if logits.shape != (1, len(class_names)):
        raise ValueError(f"{type(model).__name__} outputs logits of shape {logits.shape} but the "
                         f"checkpoint names {len(class_names)} classes {list(class_names)}")


def check_finite_weights(state) -> None:
    """Raise ``CheckpointError`` naming the first entry of a state_dict that holds NaN or inf.

    A model whose weights are not finite outputs NaN probabilities for every input (training
    that diverged can leave such weights); refusing it at load time says why at once.

    Parameters
    ----------
    state : dict of str -> ndarray
        The checkpoint's ``model_state``, in state_dict order.
    """
    if not isinstance(state, dict):
        raise CheckpointError(f"model_state is a {type(state).__name__}, expected the dict of "
                              f"the model's state_dict()")
    for name, value in state.items():
        array = np.asarray(value)
        if array.dtype.kind not in "fc":
            continue                                 # integer counters cannot be non-finite
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise CheckpointError(
                f"weights {name!r} {array.shape} hold {int(bad.sum())} non-finite value(s) "
                f"(first: {array[first]} at index {first}); the model would output NaN. The "
                f"training that wrote it diverged; use an earlier checkpoint")


def _feature_config(d) -> FeatureConfig:
    """FeatureConfig of a checkpoint, refusing missing or unknown fields (no silent defaults)."""
    if not isinstance(d, dict):
        raise CheckpointError(f"meta['feature_config'] is a {type(d).__name__}, expected the dict "
                              f"of FeatureConfig.to_dict()")
    fields = {f.name for f in dataclasses.fields(FeatureConfig)}
    unknown, missing = sorted(set(d) - fields), sorted(fields - set(d))
    parts = []
    if unknown:
        parts.append(f"has field(s) {unknown} this version's FeatureConfig does not know")
    if missing:
        parts.append(f"lacks field(s) {missing} this version's FeatureConfig has")
    if parts:
        raise CheckpointError("meta['feature_config'] " + " and ".join(parts) + ": it was "
                              "written by another version of minitorch-ser")
    try:
        return FeatureConfig.from_dict(d)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"meta['feature_config'] is invalid: {err}") from err


def _normalize_mode(meta: dict) -> str:
    """``meta['normalize']``, ``"global"`` when absent; an unknown value is refused."""
    mode = meta.get("normalize", DEFAULT_NORMALIZE)
    if not isinstance(mode, str) or mode not in feat.NORMALIZATIONS:
        raise CheckpointError(f"meta['normalize']={mode!r} is not a feature normalization this "
                              f"version knows ({', '.join(feat.NORMALIZATIONS)}): it was "
                              f"written by another version of minitorch-ser")
    return mode


def _standardizer(state) -> Standardizer:
    """Standardizer of a checkpoint, naming missing keys."""
    if not isinstance(state, dict):
        raise CheckpointError(f"meta['standardizer'] is a {type(state).__name__}, expected the "
                              f"dict of Standardizer.state_dict()")
    missing = [k for k in STANDARDIZER_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"meta['standardizer'] lacks {missing} (has {sorted(state)})")
    try:
        return Standardizer.from_state_dict(state)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"meta['standardizer'] is invalid: {err}") from err


# ==================================================================================== input
def read_pcm16(fileobj, chunk_samples: int) -> Iterable[np.ndarray]:
    """Chunks of raw 16-bit little-endian mono PCM from a binary file object, as float32.

    ``x = int16 / 32768`` (libsndfile's scaling, so a WAV file and its raw samples give the same
    floats). Each read asks for ``chunk_samples`` samples and yields what arrived; an odd
    trailing byte at the end of the input is dropped.

    Parameters
    ----------
    fileobj : binary file object
        E.g. ``sys.stdin.buffer``.
    chunk_samples : int > 0

    Yields
    ------
    (n,) float32, n <= chunk_samples
    """
    if int(chunk_samples) != chunk_samples or chunk_samples < 1:
        raise ValueError(f"chunk_samples={chunk_samples} must be a positive integer")
    leftover = b""
    while True:
        data = fileobj.read(2 * int(chunk_samples))
        if not data:
            return
        data = leftover + data
        n = len(data) // 2 * 2
        leftover = data[n:]
        if n:
            yield np.frombuffer(data[:n], dtype="<i2").astype(np.float32) / np.float32(32768.0)
