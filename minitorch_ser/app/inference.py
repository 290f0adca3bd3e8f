"""Using a trained model: predict on files, stream long recordings, explain a decision.

A run folder (or its ``best.ckpt``) holds everything a prediction needs (see ``checkpoint``):
the model's class, config and weights, and in ``meta`` the class names, the ``FeatureConfig``
and the training set's ``Standardizer`` statistics. ``Predictor.load`` rebuilds the three
and never reads training data. A clip then goes through exactly the training chain::

    file ──dsp.load(sr)──> y : (L,)  mono, resampled to the checkpoint's rate
         ──normalize? ──fix_length──> (n_samples,)   zero-pad or trim the end, as in training
         ──waves_to_features──> (C, n_mels, n_frames) log-mel (dB)
         ──Standardizer.transform──> x_hat = (x - mean) / std     (training statistics)
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
a checkpoint without the model keys or without ``meta['class_names' | 'feature_config' |
'standardizer']`` (e.g. written by ``fit`` without ``meta``); feature parameters this version's
``FeatureConfig`` does not have or lacks; weights holding NaN or infinity (naming the first such
entry of the state_dict); a model class that is not in the model registry, or a config or
weights that do not fit this version's code; statistics whose shape does not fit the features;
a model built for another ``n_mels`` or ``n_frames`` than the features have; a model whose
output size is not the number of class names or that rejects the features (checked with one
forward pass of zeros).

Checkpoints hold only arrays and JSON (``checkpoint``): loading one runs no code from the file,
and the model class is looked up by name in ``models.registry``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
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
    "standardizer": "the normalization statistics, Standardizer.state_dict()",
}
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
        Maps standardized features ``(B, *feature_config.shape)`` to logits ``(B, K)``.
    class_names : sequence of str, (K,)
    feature_config : FeatureConfig
    standardizer : Standardizer
        Fitted on the training features.
    batch_size : int > 0
        Clips (or stream windows) featurized and scored together.

    Attributes
    ----------
    model, class_names (tuple), feature_config, standardizer, batch_size
        As given (the model switched to eval mode).
    source : str or None
        The path ``load`` read.

    Raises
    ------
    ValueError
        If the parts do not fit together (see ``check_compatible``).
    """

    def __init__(self, model, class_names, feature_config: FeatureConfig,
                 standardizer: Standardizer, batch_size: int = 16):
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be a positive integer")
        self.model = model.eval()
        self.class_names = tuple(str(c) for c in class_names)
        self.feature_config = feature_config
        self.standardizer = standardizer
        self.batch_size = int(batch_size)
        self.source = None
        check_compatible(self.model, self.class_names, feature_config, standardizer)

    # ------------------------------------------------------------------------- loading
    @classmethod
    def load(cls, path, batch_size: int = 16) -> "Predictor":
        """Rebuild a predictor from a run folder (its ``best.ckpt``) or a checkpoint file.

        Parameters
        ----------
        path : str or path
            A run folder or a checkpoint file (``checkpoint.load_checkpoint``).
        batch_size : int > 0
            Clips (or stream windows) featurized and scored together.

        Returns
        -------
        Predictor
            With ``source`` set to ``path``; the model in eval mode.

        Raises
        ------
        CheckpointError
            Naming the file and what differs from what this version expects (module docstring);
            also for a ``batch_size`` that is not a positive integer (``from_checkpoint``).
        """
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
            ``class_names``, ``feature_config`` (``FeatureConfig.to_dict()``) and
            ``standardizer`` (``Standardizer.state_dict()``).
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
            required key or ``meta`` entry missing, ``meta`` not a dict, feature parameters
            unknown, missing or invalid, standardizer statistics missing or invalid, non-finite
            weights, a model that cannot be built; and, converted from ``ValueError``, parts
            that do not fit together (``check_compatible``) or a ``batch_size`` that is not a
            positive integer.
        """
        missing = [k for k in REQUIRED_KEYS if k not in checkpoint]
        if missing:
            raise CheckpointError(f"has no {', '.join(map(repr, missing))}: it does not hold a "
                                  f"model (keys present: {sorted(checkpoint)})")
        meta = checkpoint["meta"]
        if not isinstance(meta, dict):
            raise CheckpointError(f"meta is a {type(meta).__name__}, expected a dict")
        missing = [k for k in REQUIRED_META if k not in meta]
        if missing:
            needed = "; ".join(f"{k!r}: {REQUIRED_META[k]}" for k in missing)
            raise CheckpointError(f"meta lacks {needed}. Prediction needs them; checkpoints "
                                  f"written by experiment.run have them")
        config = _feature_config(meta["feature_config"])
        standardizer = _standardizer(meta["standardizer"])
        check_finite_weights(checkpoint["model_state"])
        model = build_model(checkpoint)  # CheckpointError when class, config or weights differ
        try:
            return cls(model, meta["class_names"], config, standardizer, batch_size=batch_size)
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
        """Standardized features of prepared clips: (B, n_samples) -> (B, *feature_config.shape)."""
        X = feat.waves_to_features(waves, self.feature_config)
        return self.standardizer.transform(X, copy=False)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (B, K) of standardized features (B, *shape), eval mode, no graph."""
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
        for start in range(0, len(paths), self.batch_size):
            chunk = paths[start:start + self.batch_size]
            waves, kept, failed, seconds = feat.load_waves(chunk, self.feature_config)
            probs = self.predict_proba(self.features(waves))
            for i, p, length in zip(kept, probs, seconds):  # each file decoded once
                results[start + i] = self._result(chunk[i], p, float(length))
            bad = sorted(set(range(len(chunk))) - set(kept.tolist()))
            for i, (path, reason) in zip(bad, failed):  # load_waves keeps the input order
                results[start + i] = Prediction(source=path, error=reason)
        return results

    def predict_waves(self, waves, sr: int) -> list[Prediction]:
        """Predictions for in-memory mono clips at sample rate ``sr``.

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
        results = []
        for start in range(0, len(clips), self.batch_size):
            part = clips[start:start + self.batch_size]
            prepared = np.stack([self.prepare_wave(y, sr) for y in part])
            probs = self.predict_proba(self.features(prepared))
            results += [self._result(f"wave[{start + i}]", p, len(y) / sr)
                        for i, (y, p) in enumerate(zip(part, probs))]
        return results

    # ------------------------------------------------------------------------ streaming
    def stream(self, source, window: float | None = None, hop: float = 0.5,
               sr: int | None = None, stats: StreamStats | None = None) -> Iterator[StreamWindow]:
        """Slide a window over a recording and yield class probabilities per window.

        Windows are defined in the module docstring (full windows every ``hop`` seconds, the
        last one zero-padded). They are scored in batches of ``batch_size`` as soon as their
        samples have arrived, so chunked live input gets each window when its last chunk
        arrives. Arguments are checked and a file is loaded when ``stream`` is called; the
        windows are computed as the returned generator is iterated.

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
            For a window longer than the training clip, a hop outside ``(0, window]``, a bad
            ``sr``; ``dsp.AudioLoadError`` (a ValueError) for an unreadable file.
        """
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
            probs = self.predict_proba(self.features(waves))
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
        one forward pass; the weights are the model's ``attention_weights()`` of that pass.

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
        probs = self.predict_proba(self.standardizer.transform(raw))     # (1, K)
        weights = np.asarray(weights_of())[0]                            # (T_steps,)
        mel = raw[0, 0]                                                  # (n_mels, n_frames)
        n_frames, n_steps = mel.shape[-1], len(weights)
        per_step = n_frames // n_steps
        hop_s = cfg.hop_length / cfg.sr
        steps = np.arange(n_steps)
        return Explanation(prediction=self._result("wave", probs[0], len(y) / sr),
                           weights=weights, step_start_s=steps * per_step * hop_s,
                           step_end_s=(steps + 1) * per_step * hop_s, mel=mel, hop_seconds=hop_s)


# ============================================================================ compatibility
def check_compatible(model, class_names, config: FeatureConfig, standardizer: Standardizer):
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
    standardizer : Standardizer
        Fitted: ``mean_`` and ``std_`` broadcast to ``(1, C, n_mels, n_frames)`` unchanged.

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
    for name in ("mean_", "std_"):
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
