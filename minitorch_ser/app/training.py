"""Training helpers, each a screen long: the pieces an experiment script's loop calls.

A script writes its own loop (``experiments/baved_parallel.py`` shows it in full; in outline)::

    run = TrainingRun(run_dir, model, optimizer, scheduler, loader, config, meta)
    first = run.resume(seed) if resume else run.start(seed)
    for epoch in range(first, config.epochs + 1):
        if run.should_stop():                               # early stopping
            break
        model.train()
        meter = EpochMeter(len(loader), epoch, config.epochs)
        for i, (xb, yb) in enumerate(loader, start=1):
            loss, logits = batch_loss(model, xb, yb, config)  # forward, cross-entropy
            run.check_loss(loss.item(), xb, epoch, i)       # finite, else TrainingDiverged
            optimizer.zero_grad()
            loss.backward()
            run.check_gradients(epoch, i)
            clip_gradients(model, config)
            optimizer.step()                                # then, with a weight average,
            meter.update(loss.item(), logits, yb)           # averaged.update_parameters(model)
        val = evaluate(run.evaluated, X_val, y_val)         # eval mode, no graph
        lr = optimizer.param_groups[0]["lr"]                # the lr this epoch trained with
        scheduler.step(val.loss)
        run.end_epoch(epoch, meter, val, lr)                # history, best.ckpt, last.ckpt

``fit`` is that loop as one call, for notebooks and tests. ``TrainingRun`` keeps the run
folder::

    last.ckpt      state after the latest finished epoch (resume from here)
    best.ckpt      weights of the best validation epoch (what predict and test use)
    history.csv    one row per epoch: loss, accuracy, lr, seconds

``TrainingRun.resume`` reloads ``last.ckpt`` (model, optimizer, scheduler, generators, epoch,
history, early-stopping counters) so the loop continues exactly as an uninterrupted run would.

Divergence: nothing non-finite is trained on, recorded or saved. ``TrainingDiverged`` is raised,
naming the epoch (and batch) and the first offending parameter, on

- a NaN or infinite training loss (``check_loss``, before ``backward``);
- a non-finite gradient after ``backward``, before clipping and the step (``check_gradients``);
- a non-finite weight, buffer or optimizer moment at the end of an epoch (``end_epoch``);
- a non-finite validation loss or accuracy (``end_epoch``);

all of them before ``last.ckpt`` and ``best.ckpt`` are written, so both keep the previous good
state. The per-step gradient check (``first_non_finite``) is one ``np.isfinite(g).all()`` per
gradient, a single read of the gradients: 35 to 70 us for the 32 gradient arrays of the
parallel model (7 thousand to 520 thousand weights), under 0.1% of a training step, and about
35 times cheaper than the float64 global norm of ``clip_grad_norm_`` on the larger model.

Dataset specifics stay out of this file: the caller passes arrays, class names and whatever
``meta`` a later prediction needs (feature parameters, normalization statistics).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..autograd import random as mt_random
from ..autograd.tensor import Tensor, no_grad
from ..data.loader import DataLoader
from ..data.progress import Progress
from ..nn import functional as F
from ..optim import SGD, Adam, clip_grad_norm_, clip_grad_value_
from ..optim.lr_scheduler import ExponentialDecay, ReduceLROnPlateau
from ..optim.swa_utils import AveragedModel
from . import metrics as M
from .checkpoint import class_path, load_checkpoint, save_checkpoint


class TrainingDiverged(RuntimeError):
    """A loss, gradient, weight or validation figure became NaN or infinite; the last good
    checkpoints are kept."""


def first_non_finite(named_arrays) -> str | None:
    """Name of the first array holding a NaN or an infinity, or None if all are finite.

    Parameters
    ----------
    named_arrays : iterable of (str, ndarray or None)
        Arrays by name; None entries (e.g. a parameter without gradient) are skipped.

    Returns
    -------
    str or None
    """
    for name, array in named_arrays:
        if array is None:
            continue
        if not np.isfinite(array).all():
            return name
    return None


def _state_arrays(model, optimizer):
    """``(name, array)`` of every parameter, buffer and optimizer state array (e.g. Adam's
    moments ``exp_avg`` of ``fc.weight``): what a checkpoint saves."""
    names = {}
    for name, p in model.named_parameters():
        names[id(p)] = name
        yield name, p.data
    for name, b in model.named_buffers():
        yield name, np.asarray(b)
    for p, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                owner = names.get(id(p), "an unnamed parameter")
                yield f"{key} of {owner} (optimizer state)", value


#: selection measures: monitor name -> (EvalResult attribute, True when higher is better)
MONITORS = {"val_loss": ("loss", False), "val_ua": ("ua", True),
            "val_accuracy": ("accuracy", True)}


@dataclass
class TrainConfig:
    """Settings of ``fit``. Defaults follow the first paper (Adam, ReduceLROnPlateau, batch 32).

    Attributes
    ----------
    epochs : int > 0
        Epochs to train (at most: early stopping may end sooner).
    batch_size : int > 0
        Clips per training step.
    optimizer : {'adam', 'sgd'}
        Adam (torch.optim.Adam) or SGD with momentum.
    lr : float > 0
        Learning rate.
    weight_decay : float >= 0
        L2 term added to the gradient (torch.optim semantics).
    momentum : float >= 0
        SGD only (0.8 in the reference notebook).
    scheduler : {'plateau', 'exponential', 'none'}
        plateau: ReduceLROnPlateau on validation loss per epoch; exponential: lr0 *
        decay_rate ** (step / decay_steps) per batch; none: a constant lr.
    plateau_factor : float in (0, 1)
        ReduceLROnPlateau: multiply the lr by this after ``plateau_patience`` flat epochs.
    plateau_patience : int >= 0
        ReduceLROnPlateau: epochs without a lower validation loss before the lr drops.
    min_lr : float >= 0
        ReduceLROnPlateau: the lr never drops below this.
    decay_steps : int > 0
        Exponential decay: steps (batches) per factor ``decay_rate``.
    decay_rate : float > 0
        Exponential decay: the factor per ``decay_steps`` steps.
    staircase : bool
        Exponential decay: whole factors only (``floor(step / decay_steps)``), as Keras.
    patience : int >= 0
        Early stopping: stop after this many epochs without a better ``monitor`` (0: never).
    restore_best : bool
        After training, load the best-validation weights into the model.
    monitor : {'val_loss', 'val_ua', 'val_accuracy'}
        The validation measure that selects the best epoch (``best.ckpt``) and drives early
        stopping: the lowest loss, or the highest unweighted average recall (UA) or accuracy.
        The test set is never looked at. The scripts' speaker-independent runs take val_ua
        when this is not given (--recipe).
    label_smoothing : float in [0, 1)
        Targets mixed with the uniform distribution: ``(1 - eps) onehot + eps / K``.
    class_weights : {'none', 'balanced'}
        'balanced': the loss of a class-c clip is weighted by ``N / (K n_c)`` (``n_c``
        training rows of class c out of N, K classes present), so every class weighs the
        same in total (``class_weight_vector``).
    ema_decay : float in [0, 1)
        Weight averaging, 0 (off) or the decay per step, e.g. 0.99.
        Validation, selection, ``best.ckpt`` and the test then use an exponential moving
        average of the weights (``optim.swa_utils.AveragedModel``, updated after every step
        with this decay and the warm-up ``min(decay, (1 + n) / (10 + n))``); training updates
        the weights themselves.
    clip_grad_norm : float > 0 or None
        Scale the gradients so their global L2 norm is at most this (after value clipping).
    clip_grad_value : float > 0 or None
        Clip every gradient element to [-value, value].
    progress : bool
        Print a progress line during each epoch (with ETA) and one line per epoch.
    """

    epochs: int = 40
    batch_size: int = 32
    optimizer: str = field(default="adam", metadata={"choices": ("adam", "sgd")})
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.8
    scheduler: str = field(default="plateau",
                           metadata={"choices": ("plateau", "exponential", "none")})
    plateau_factor: float = 0.5
    plateau_patience: int = 3
    min_lr: float = 1e-6
    decay_steps: int = 1000
    decay_rate: float = 0.95
    staircase: bool = True
    patience: int = 10
    restore_best: bool = True
    clip_grad_norm: float | None = None
    clip_grad_value: float | None = None
    progress: bool = True
    monitor: str = field(default="val_loss", metadata={"choices": ("val_loss", "val_ua",
                                                                   "val_accuracy")})
    label_smoothing: float = 0.0
    class_weights: str = field(default="none", metadata={"choices": ("none", "balanced")})
    ema_decay: float = 0.0

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"epochs={self.epochs} must be >= 1")
        if self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size} must be >= 1")
        if self.lr <= 0:
            raise ValueError(f"lr={self.lr} must be > 0")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer={self.optimizer!r} must be 'adam' or 'sgd'")
        if self.scheduler not in ("plateau", "exponential", "none"):
            raise ValueError(f"scheduler={self.scheduler!r} must be 'plateau', 'exponential' or 'none'")
        if self.patience < 0:
            raise ValueError(f"patience={self.patience} must be >= 0")
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor={self.monitor!r} must be one of {sorted(MONITORS)}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing={self.label_smoothing} must be in [0, 1)")
        if self.class_weights not in ("none", "balanced"):
            raise ValueError(f"class_weights={self.class_weights!r} must be 'none' or 'balanced'")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay={self.ema_decay} must be in [0, 1) (0: no averaging)")


@dataclass
class EvalResult:
    """Loss, accuracy (WA), unweighted average recall (UA), predicted classes (N,) and class
    probabilities (N, K) of one evaluation."""

    loss: float
    accuracy: float
    predictions: np.ndarray
    probabilities: np.ndarray
    ua: float = 0.0

    def measure(self, monitor: str) -> float:
        """The value of ``monitor`` (a key of ``MONITORS``) for this evaluation."""
        return float(getattr(self, MONITORS[monitor][0]))


@dataclass
class FitResult:
    """The history rows, the best validation epoch and loss, and whether training stopped
    early: what ``fit`` returns and ``TrainingRun.result`` holds."""

    history: list = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stopped_early: bool = False
    best_score: float = math.nan      # the monitored measure at the best epoch


def make_optimizer(model, config: TrainConfig):
    """The optimizer ``config.optimizer`` names, over all of ``model.parameters()``.

    Parameters
    ----------
    model : Module
        Has at least one parameter.
    config : TrainConfig
        ``optimizer`` (``"adam"``; any other value gives SGD), ``lr``, ``weight_decay`` and,
        for SGD, ``momentum``.

    Returns
    -------
    Adam or SGD
        ``Adam(lr, weight_decay)`` with its default betas and eps, or ``SGD(lr, momentum,
        weight_decay)``.

    Raises
    ------
    ValueError
        ``model`` has no parameter, or ``lr``, ``weight_decay`` or ``momentum`` is negative
        (checked by the optimizer).
    """
    if config.optimizer == "adam":
        return Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
               weight_decay=config.weight_decay)


def make_averaged(model, config: TrainConfig):
    """The moving average of ``model``'s weights that ``config.ema_decay`` asks for
    (``optim.swa_utils.AveragedModel`` with warm-up), or None when it is 0."""
    return AveragedModel(model, decay=config.ema_decay) if config.ema_decay else None


def make_scheduler(optimizer, config: TrainConfig):
    """The learning-rate scheduler ``config.scheduler`` names, or None.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose groups' ``"lr"`` the scheduler sets.
    config : TrainConfig
        ``scheduler`` and its settings: ``plateau_factor``, ``plateau_patience`` and
        ``min_lr`` for ``"plateau"``; ``lr``, ``decay_steps``, ``decay_rate`` and
        ``staircase`` for ``"exponential"``.

    Returns
    -------
    ReduceLROnPlateau or ExponentialDecay or None
        ``"plateau"``: ``ReduceLROnPlateau(mode="min")``, to ``step(val_loss)`` once per epoch;
        ``"exponential"``: ``ExponentialDecay`` (which sets the lr to ``config.lr`` now), to
        ``step()`` once per batch; any other value: None.

    Raises
    ------
    ValueError
        A setting the scheduler refuses: ``plateau_factor`` outside ``[0, 1)``,
        ``plateau_patience`` not an int >= 0, ``min_lr < 0``; ``decay_steps <= 0``,
        ``decay_rate <= 0``.
    TypeError
        ``optimizer`` is not an ``Optimizer`` (when a scheduler is made).
    """
    if config.scheduler == "plateau":
        return ReduceLROnPlateau(optimizer, mode="min", factor=config.plateau_factor,
                                 patience=config.plateau_patience, min_lr=config.min_lr)
    if config.scheduler == "exponential":
        return ExponentialDecay(optimizer, config.lr, config.decay_steps, config.decay_rate,
                                staircase=config.staircase)
    return None


def clip_gradients(model, config: TrainConfig) -> None:
    """Clip the gradients as ``config`` says: by value first, then by global norm (each only
    when set).

    ``g <- clip(g, -c, c)`` elementwise with ``c = clip_grad_value``, then
    ``g <- g * min(1, max_norm / (||g||_2 + 1e-6))`` over all gradients joined, with
    ``max_norm = clip_grad_norm`` (``optim.clip_grad_value_``, ``optim.clip_grad_norm_``).

    Parameters
    ----------
    model : Module
        Its parameters' ``grad`` arrays are changed in place (parameters without one are
        skipped).
    config : TrainConfig
        ``clip_grad_value`` and ``clip_grad_norm``: float >= 0, or None to skip that step.

    Raises
    ------
    ValueError
        ``clip_grad_value`` or ``clip_grad_norm`` is negative (or NaN).
    """
    if config.clip_grad_value is not None:
        clip_grad_value_(model.parameters(), config.clip_grad_value)
    if config.clip_grad_norm is not None:
        clip_grad_norm_(model.parameters(), config.clip_grad_norm)


def regularization_loss(model):
    """The model's extra penalty (e.g. an L2 term on chosen layers), or None."""
    penalty = getattr(model, "regularization_loss", None)
    return penalty() if callable(penalty) else None


def evaluate(model, X: np.ndarray, y: np.ndarray, batch_size: int = 64) -> EvalResult:
    """Mean cross-entropy, accuracy, predictions and probabilities, in eval mode, no graph.

    ``loss = (1/N) sum_n -log p[n, y_n]`` with ``p = softmax(model(X))``; the model's training
    mode is restored afterwards.

    Parameters
    ----------
    model : Module
        Maps a batch ``(B, ...)`` to logits ``(B, K)``.
    X : (N, ...) float, ndarray or rows read on demand
        Features, e.g. ``(N, C, n_mels, n_frames)`` standardized; read by slices
        ``X[a:b]``, so features on disk (``data.normalized.NormalizedRows``) work too.
    y : (N,) int
        Class indices in ``[0, K)``.
    batch_size : int > 0
        Examples per forward pass.

    Returns
    -------
    EvalResult
        ``loss`` (0.0 when ``N = 0``), ``accuracy`` in [0, 1] (0.0 when ``N = 0``),
        ``predictions : (N,)`` argmax classes, ``probabilities : (N, K)`` (``(0, 0)`` when
        ``N = 0``).

    Raises
    ------
    ValueError
        ``batch_size`` is 0, or ``cross_entropy`` refuses ``y`` (not integer, wrong length,
        a class outside ``[0, K)`` other than its ``ignore_index`` -100).
    """
    was_training = model.training
    model.eval()
    losses, probs = [], []
    with no_grad():
        for start in range(0, len(X), batch_size):
            xb = Tensor(X[start:start + batch_size])
            yb = y[start:start + batch_size]
            logits = model(xb)
            losses.append(F.cross_entropy(logits, yb, reduction="sum").item())
            probs.append(logits.softmax(axis=-1).data)
    model.train(was_training)
    probabilities = np.concatenate(probs) if probs else np.zeros((0, 0), np.float32)
    predictions = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, np.int64)
    n = max(len(X), 1)
    return EvalResult(loss=sum(losses) / n, accuracy=float((predictions == y).mean()) if len(y) else 0.0,
                      predictions=predictions, probabilities=probabilities,
                      ua=unweighted_recall(y, predictions))


def unweighted_recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """UA: the mean over the classes present in ``y_true`` of their recall,
    ``(1/K') sum_c #{y = c, pred = c} / #{y = c}`` (``metrics``' definition; 0.0 for no clip).

    Parameters
    ----------
    y_true, y_pred : (N,) int
    """
    if len(y_true) == 0:
        return 0.0
    return M.metrics_from_confusion(M.confusion_matrix(y_true, y_pred))["ua"]


def class_weight_vector(y_train, n_classes: int, mode: str = "balanced") -> np.ndarray | None:
    """Per-class loss weights: ``w_c = N / (K' n_c)`` for the K' classes with ``n_c > 0``
    training rows (0 for absent classes), or None for ``mode='none'``.

    Parameters
    ----------
    y_train : (N,) int
        Training labels (augmented copies included: they are trained on).
    n_classes : int
        K, the length of the vector.
    mode : {'balanced', 'none'}

    Returns
    -------
    (K,) float32 or None
    """
    if mode == "none":
        return None
    if mode != "balanced":
        raise ValueError(f"class_weights={mode!r} must be 'none' or 'balanced'")
    counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=n_classes).astype(float)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = len(y_train) / (present.sum() * counts[present])
    return w.astype(np.float32)


def batch_loss(model, xb: np.ndarray, yb: np.ndarray, config: TrainConfig, *,
               weight=None, mixup: float = 0.0, spec_augment=None, rng=None):
    """One training batch's objective (before any model penalty): the recipe in one place.

    Steps: (1) ``spec_augment(xb, rng)`` masks when given (SpecAugment, a fresh draw per
    batch); (2) mixup (Zhang et al., 2018) when ``mixup > 0``: ``lam ~ Beta(mixup, mixup)``,
    a random permutation ``pi`` of the batch, ``x = lam x + (1 - lam) x[pi]`` and targets
    ``t = lam onehot(y) + (1 - lam) onehot(y[pi])``; (3) ``logits = model(x)`` and the
    cross-entropy with ``config.label_smoothing`` and the class weights ``weight``.

    Parameters
    ----------
    model : Module
        (B, ...) -> logits (B, K).
    xb : (B, ...) float32
        The batch's features (not changed: the augmentations work on copies).
    yb : (B,) int
    config : TrainConfig
        ``label_smoothing``.
    weight : (K,) float or None
        Per-class loss weights (``class_weight_vector``).
    mixup : float >= 0
        Beta parameter; 0 turns mixup off.
    spec_augment : callable or None
        ``spec_augment(x, rng) -> x`` (``data.augment.SpecAugment``).
    rng : numpy.random.Generator or None
        Source of the draws; default the library's generator (``autograd.random``), whose
        state checkpoints save, so a resumed run draws what the uninterrupted one would.

    Returns
    -------
    (loss, logits) : Tensor (), Tensor (B, K)
    """
    rng = mt_random.default_generator() if rng is None else rng
    if spec_augment is not None:
        xb = spec_augment(xb, rng)
    target = yb
    if mixup > 0:
        lam = np.float32(rng.beta(mixup, mixup))
        perm = rng.permutation(len(xb))
        xb = lam * xb + (1 - lam) * xb[perm]
        logits = model(Tensor(xb))
        eye = np.eye(logits.shape[-1], dtype=np.float32)
        target = lam * eye[yb] + (1 - lam) * eye[yb[perm]]
    else:
        logits = model(Tensor(xb))
    loss = F.cross_entropy(logits, target, weight=weight,
                           label_smoothing=config.label_smoothing)
    return loss, logits


class EpochMeter:
    """Running training loss and accuracy of one epoch, with its progress line.

    Parameters
    ----------
    n_batches : int >= 1
        Batches in the epoch (for the ETA).
    epoch, epochs : int
        This epoch (1-based) and the last one, for the line.
    enabled : bool
        Print the progress line.
    """

    def __init__(self, n_batches: int, epoch: int, epochs: int, enabled: bool = True):
        self.total_loss, self.correct, self.seen = 0.0, 0, 0
        self.start = time.perf_counter()
        self.progress = Progress(n_batches, f"epoch {epoch}/{epochs}", "batches", enabled)

    def update(self, loss: float, logits: Tensor, y: np.ndarray) -> None:
        """Add one batch: its mean ``loss``, ``logits : (B, K)`` and labels ``y : (B,)``.

        The running figures become ``loss = sum_b loss_b B_b / sum_b B_b`` and ``accuracy =
        #{argmax logits = y} / sum_b B_b``; the progress line advances by one batch.

        Parameters
        ----------
        loss : float
            Mean cross-entropy of the batch (weighted by ``B`` here).
        logits : Tensor, (B, K)
            The model's outputs for the batch; only ``.data`` is read.
        y : (B,) int
            Class indices of the batch.
        """
        self.total_loss += loss * len(y)
        self.correct += int((logits.data.argmax(axis=1) == y).sum())
        self.seen += len(y)
        self.progress.update(self.progress.done + 1,
                             f"loss {self.loss:.4f} acc {self.accuracy:.3f}")

    @property
    def loss(self) -> float:
        """Mean training loss per example over the batches so far (0.0 before the first)."""
        return self.total_loss / max(self.seen, 1)

    @property
    def accuracy(self) -> float:
        """Share in [0, 1] of the examples so far classified correctly (0.0 before the first)."""
        return self.correct / max(self.seen, 1)

    def close(self) -> None:
        """Clear the progress line."""
        self.progress.close()


class TrainingRun:
    """The run folder of one training: resume, checks, best/last checkpoints, history.

    Parameters
    ----------
    run_dir : path
        Folder of ``last.ckpt``, ``best.ckpt`` and ``history.csv`` (created).
    model : Module
        The classifier; must expose ``config`` (its constructor's keyword arguments) and be
        registered (``models.register_model``) so checkpoints can rebuild it.
    optimizer : Optimizer
    scheduler : LRScheduler or None
    loader : DataLoader
        The training batches (its shuffling state is checkpointed).
    config : TrainConfig
        ``epochs``, ``patience`` and ``monitor`` (selection and early stopping), ``progress``.
    meta : dict or None
        Stored in every checkpoint (class names, features, normalization, fingerprint).
    averaged : AveragedModel or None
        The moving average of ``model``'s weights (``config.ema_decay``), updated by the
        caller after each step. With it, ``evaluated`` is the average: the checkpoints'
        ``model_state`` holds its weights (what ``best.ckpt`` serves to prediction), and
        ``last.ckpt`` also keeps the trained weights and the update count
        (``training_state``) so that a resume continues exactly.
    """

    def __init__(self, run_dir, model, optimizer, scheduler, loader, config: TrainConfig,
                 meta: dict | None = None, averaged=None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.model, self.optimizer, self.scheduler, self.loader = model, optimizer, scheduler, loader
        self.config, self.meta = config, dict(meta or {})
        self.last_path, self.best_path = self.run_dir / "last.ckpt", self.run_dir / "best.ckpt"
        self.result, self.bad_epochs = FitResult(), 0
        self.named_params = list(model.named_parameters())
        self.averaged = averaged

    @property
    def evaluated(self):
        """The model to validate and save: the weight average when there is one."""
        return self.model if self.averaged is None else self.averaged.module

    def start(self, seed: int) -> int:
        """A new run: seed the default generator; returns epoch 1.

        The scripts seed it once more before building the model (its initial weights); this
        restarts the draws of training itself (dropout) from the same seed, so they do not
        depend on how many numbers the model's initialization took, and a resume restores
        exactly this generator's state.

        Parameters
        ----------
        seed : int >= 0
        """
        mt_random.manual_seed(seed)
        return 1

    def resume(self, seed: int) -> int:
        """Reload ``last.ckpt`` (or, when there is none, ``start(seed)``); returns the first
        epoch to train.

        Raises
        ------
        TrainingDiverged
            ``last.ckpt`` holds non-finite values.
        ValueError
            ``last.ckpt`` was written with a weight average and this run has none, or the
            reverse.
        """
        if not self.last_path.exists():
            return self.start(seed)
        ckpt = load_checkpoint(self.last_path)
        if (self.averaged is not None) != ("training_state" in ckpt):
            written = "with" if "training_state" in ckpt else "without"
            raise ValueError(f"{self.last_path} was written {written} a weight average "
                             f"(ema_decay): resume with the same setting")
        if self.averaged is None:
            self.model.load_state_dict(ckpt["model_state"])
        else:
            self.model.load_state_dict(ckpt["training_state"]["model_state"])
            self.averaged.module.load_state_dict(ckpt["model_state"])
            self.averaged.n_averaged = int(ckpt["training_state"]["n_averaged"])
        self.optimizer.load_state_dict(ckpt["optimizer_state"])
        if self.scheduler is not None and ckpt["scheduler_state"] is not None:
            self.scheduler.load_state_dict(ckpt["scheduler_state"])
        self.loader.set_state(ckpt["rng_state"]["loader"])
        mt_random.set_state(ckpt["rng_state"]["default"])
        self.result.history = ckpt["history"]
        self.result.best_epoch = ckpt["best"]["epoch"]
        self.result.best_val_loss = ckpt["best"]["val_loss"]
        # checkpoints written before the monitor option selected on the validation loss
        self.result.best_score = ckpt["best"].get("score", ckpt["best"]["val_loss"])
        self.bad_epochs = ckpt["best"]["bad_epochs"]
        bad = first_non_finite(_state_arrays(self.model, self.optimizer))
        if bad is not None:
            raise TrainingDiverged(f"{self.last_path} holds non-finite values in {bad}: a "
                                   f"diverged state cannot be resumed")
        if self.config.progress:
            print(f"resuming from {self.last_path} after epoch {ckpt['epoch']}")
        return ckpt["epoch"] + 1

    def should_stop(self) -> bool:
        """Early stopping: ``patience`` epochs in a row without a better ``config.monitor``."""
        stop = bool(self.config.patience) and self.bad_epochs >= self.config.patience
        self.result.stopped_early = self.result.stopped_early or stop
        return stop

    def _diverged(self, what: str) -> TrainingDiverged:
        kept = (f"the last good state is in {self.last_path}" if self.last_path.exists()
                else "no checkpoint was written yet")
        return TrainingDiverged(f"{what}; stopping, {kept} (try a lower --lr or gradient "
                                f"clipping)")

    def _culprit(self, inputs: np.ndarray, what: str) -> str:
        """Where a non-finite loss comes from: a non-finite weight, buffer or optimizer
        state, else non-finite ``inputs``, else an overflow of the activations."""
        bad = first_non_finite(_state_arrays(self.model, self.optimizer))
        if bad is not None:
            return f"the first non-finite values are in {bad}"
        rows = np.flatnonzero(~np.isfinite(inputs.reshape(len(inputs), -1)).all(axis=1))
        if len(rows):
            return (f"every weight is finite, but {len(rows)} {what} hold NaN or inf features "
                    f"(the first is row {rows[0]})")
        largest, name = max(((float(np.abs(p.data).max(initial=0.0)), name)
                             for name, p in self.named_params), default=(0.0, "no parameter"))
        return (f"every weight and input is finite, so the activations overflow (largest "
                f"|weight| {largest:.3g}, in {name})")

    def check_loss(self, value: float, inputs: np.ndarray, epoch: int, batch: int) -> None:
        """Raise ``TrainingDiverged`` if the batch loss ``value`` is NaN or infinite.

        Call it before ``backward``. The message names the likely cause: the first
        non-finite weight, buffer or optimizer state, else the first batch row with NaN or
        inf features, else an overflow of the activations (with the largest ``|weight|``).

        Parameters
        ----------
        value : float
            The batch's training objective (``loss.item()``).
        inputs : (B, ...) ndarray
            The batch's features (``xb``), searched for non-finite rows.
        epoch, batch : int >= 1
            Where training is (1-based), for the message.

        Raises
        ------
        TrainingDiverged
            ``value`` is NaN or +-inf.
        """
        if not math.isfinite(value):
            raise self._diverged(f"non-finite loss ({value}) at epoch {epoch}, batch {batch}: "
                                 f"{self._culprit(inputs, 'clips of the batch')}")

    def check_gradients(self, epoch: int, batch: int, loss: float | None = None) -> None:
        """Raise ``TrainingDiverged`` if a gradient holds NaN or inf (call it before clipping,
        which would turn an infinity into a finite value); ``loss`` is quoted.

        Parameters
        ----------
        epoch, batch : int >= 1
            Where training is (1-based), for the message.
        loss : float or None
            The batch's loss, quoted in the message when given.

        Raises
        ------
        TrainingDiverged
            Naming the first parameter (in ``model.named_parameters()`` order) whose
            gradient is not finite; parameters without a gradient are skipped.
        """
        bad = first_non_finite((name, p.grad) for name, p in self.named_params)
        if bad is not None:
            at = f" (loss {loss:.4g})" if loss is not None else ""
            raise self._diverged(f"non-finite gradient of {bad} at epoch {epoch}, batch "
                                 f"{batch}{at}, before the optimizer step")

    def end_epoch(self, epoch: int, meter: EpochMeter, val: EvalResult, lr: float,
                  X_val: np.ndarray | None = None) -> dict:
        """Close an epoch: check the state, record the history row, keep the best epoch (by
        ``config.monitor``: the lowest validation loss, or the highest validation UA or
        accuracy; the first epoch on ties), write ``best.ckpt`` (when improved),
        ``last.ckpt``, ``history.csv`` and print one line.

        Parameters
        ----------
        epoch : int
        meter : EpochMeter
            The epoch's training loss and accuracy (closed here).
        val : EvalResult
            The validation evaluation after the epoch.
        lr : float
            The learning rate the epoch trained with.
        X_val : ndarray or None
            Validation features, to name bad rows when the validation loss is not finite.

        Returns
        -------
        dict
            The history row.

        Raises
        ------
        TrainingDiverged
            Non-finite weights, optimizer state, validation loss or accuracy; nothing written.
        """
        meter.close()
        seconds = time.perf_counter() - meter.start
        bad = first_non_finite(_state_arrays(self.model, self.optimizer))
        if bad is not None:
            raise self._diverged(f"non-finite values in {bad} after epoch {epoch} "
                                 f"(last batch {len(self.loader)})")
        if not (math.isfinite(val.loss) and math.isfinite(val.accuracy)):
            rows = np.flatnonzero(~np.isfinite(val.probabilities).all(axis=1))
            where = self._culprit(np.asarray(X_val if X_val is not None else np.zeros((0, 1))),
                                  "validation clips")
            raise self._diverged(f"non-finite validation loss ({val.loss}) or accuracy "
                                 f"({val.accuracy}) after epoch {epoch} ({len(rows)} "
                                 f"validation clip(s) get non-finite probabilities): {where}")
        row = {"epoch": epoch, "train_loss": meter.loss, "train_acc": meter.accuracy,
               "val_loss": val.loss, "val_acc": val.accuracy, "val_ua": val.ua, "lr": lr,
               "seconds": seconds}
        result = self.result
        result.history.append(row)
        score = val.measure(self.config.monitor)
        higher = MONITORS[self.config.monitor][1]
        improved = (result.best_epoch == 0 or
                    (score > result.best_score if higher else score < result.best_score))
        if improved:
            result.best_val_loss, result.best_epoch, self.bad_epochs = val.loss, epoch, 0
            result.best_score = score
        else:
            self.bad_epochs += 1
        state = self.checkpoint(epoch)
        if improved:
            save_checkpoint(self.best_path, state)
        save_checkpoint(self.last_path, state)
        _write_history(self.run_dir / "history.csv", result.history)
        if self.config.progress:
            print(f"epoch {epoch:3d}/{self.config.epochs} | train loss {row['train_loss']:.4f} "
                  f"acc {row['train_acc']:.4f} | val loss {row['val_loss']:.4f} "
                  f"acc {row['val_acc']:.4f} UA {row['val_ua']:.4f} | lr {lr:.3g} | "
                  f"{seconds:.1f}s"
                  + (" *" if improved else ""), flush=True)
        return row

    def checkpoint(self, epoch: int) -> dict:
        """The checkpoint payload after ``epoch`` (``checkpoint.save_checkpoint``)."""
        extra = ({} if self.averaged is None else {"training_state": {
            "model_state": self.model.state_dict(), "n_averaged": self.averaged.n_averaged}})
        return {
            **extra,
            "model_class": class_path(self.model), "model_config": dict(self.model.config),
            "model_state": self.evaluated.state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": (self.scheduler.state_dict() if self.scheduler is not None
                                else None),
            "rng_state": {"loader": self.loader.get_state(), "default": mt_random.get_state()},
            "epoch": epoch, "history": list(self.result.history),
            "train_config": asdict(self.config),
            "best": {"epoch": self.result.best_epoch, "val_loss": self.result.best_val_loss,
                     "score": self.result.best_score, "bad_epochs": self.bad_epochs},
            "meta": self.meta,
        }

    def restore_best(self) -> None:
        """Load the best validation epoch's weights into the model (if one was saved)."""
        if self.best_path.exists():
            self.model.load_state_dict(load_checkpoint(self.best_path)["model_state"])


def fit(model, train: tuple, val: tuple, config: TrainConfig, run_dir, meta: dict | None = None,
        resume: bool = False, seed: int = 0, mixup: float = 0.0,
        spec_augment=None) -> FitResult:
    """Train ``model`` on ``train = (X, y)``, selecting on ``val = (X, y)``: the loop of the
    module docstring in one call (the experiment scripts write it out).

    Parameters
    ----------
    model : Module
        A classifier mapping X batches to logits (N, K); registered, with a ``config``.
    train, val : (ndarray, ndarray)
        Features (N, ...) float32 and integer labels (N,); the features may be rows read on
        demand (``DataLoader``, ``evaluate``), e.g. ``prepare(..., on_disk=True)``'s.
    config : TrainConfig
    run_dir : path
        Folder for last.ckpt, best.ckpt and history.csv.
    meta : dict
        Stored in every checkpoint (class names, feature parameters, normalization statistics).
    resume : bool
        Continue from ``run_dir/last.ckpt`` if it exists.
    seed : int >= 0
        Seeds the data order and, for a new run, the default generator (weights, dropout).
    mixup, spec_augment
        Batch augmentations, as in ``batch_loss``; class weights and label smoothing come
        from ``config``.

    Raises
    ------
    ValueError
        An empty training or validation set.
    TrainingDiverged
        On a non-finite training loss, gradient, weight (or optimizer state), validation loss
        or accuracy, and when resuming from a ``last.ckpt`` with non-finite weights; nothing
        non-finite is written, ``last.ckpt`` and ``best.ckpt`` keep the last good state.
    """
    (X_train, y_train), (X_val, y_val) = train, val
    if len(X_train) == 0:
        raise ValueError("the training set is empty")
    if len(X_val) == 0:
        raise ValueError("the validation set is empty: early stopping and the scheduler need it")
    y_train, y_val = np.asarray(y_train, dtype=np.int64), np.asarray(y_val, dtype=np.int64)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)
    loader = DataLoader(X_train, y_train, batch_size=config.batch_size, shuffle=True, seed=seed)
    weight = class_weight_vector(y_train, int(max(y_train.max(), y_val.max())) + 1,
                                 config.class_weights)
    averaged = make_averaged(model, config)               # None unless config.ema_decay
    run = TrainingRun(run_dir, model, optimizer, scheduler, loader, config, meta, averaged)
    first = run.resume(seed) if resume else run.start(seed)
    for epoch in range(first, config.epochs + 1):
        if run.should_stop():
            break
        model.train()
        meter = EpochMeter(len(loader), epoch, config.epochs, config.progress)
        for i, (xb, yb) in enumerate(loader, start=1):
            loss, logits = batch_loss(model, xb, yb, config, weight=weight, mixup=mixup,
                                      spec_augment=spec_augment)
            penalty = regularization_loss(model)
            objective = loss + penalty if penalty is not None else loss
            value = objective.item()
            run.check_loss(value, xb, epoch, i)
            optimizer.zero_grad()
            objective.backward()
            run.check_gradients(epoch, i, value)
            clip_gradients(model, config)
            optimizer.step()
            if averaged is not None:
                averaged.update_parameters(model)
            if isinstance(scheduler, ExponentialDecay):
                scheduler.step()
            meter.update(loss.item(), logits, yb)
        val_result = evaluate(run.evaluated, X_val, y_val, batch_size=max(config.batch_size, 64))
        lr = optimizer.param_groups[0]["lr"]
        if isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step(val_result.loss)
        run.end_epoch(epoch, meter, val_result, lr, X_val)
    if config.restore_best:
        run.restore_best()
    return run.result


def _write_history(path: Path, history: list) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0].keys()))
        writer.writeheader()
        writer.writerows(history)
    tmp.replace(path)
