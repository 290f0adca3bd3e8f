"""The training loop shared by every experiment: fit, evaluate, checkpoint, resume.

``fit`` trains a classifier on arrays ``(X, y)`` with cross-entropy, an optimizer (Adam or SGD),
an optional learning-rate scheduler (ReduceLROnPlateau on validation loss, or a per-batch
exponential decay), early stopping on validation loss, optional gradient clipping, and writes
into a run folder::

    last.ckpt      state after the latest finished epoch (resume from here)
    best.ckpt      weights of the best validation epoch (what predict and test use)
    history.csv    one row per epoch: loss, accuracy, lr, seconds

Resuming (``resume=True``) reloads ``last.ckpt`` (model, optimizer, scheduler, generators,
epoch, history, early-stopping counters) and continues exactly as an uninterrupted run would.

Divergence: nothing non-finite is trained on, recorded or saved. ``TrainingDiverged`` is raised,
naming the epoch (and batch) and the first offending parameter, on

- a NaN or infinite training loss (checked before ``backward``);
- a non-finite gradient after ``backward``, before clipping and before the optimizer step;
- a non-finite weight, buffer or optimizer moment at the end of an epoch;
- a non-finite validation loss or accuracy;

all of them before ``last.ckpt`` and ``best.ckpt`` are written, so both keep the previous good
state. The per-step gradient check (``first_non_finite``) is one ``np.isfinite(g).all()`` per
gradient, a single read of the gradients: 35 to 70 us for the 32 gradient arrays of the
parallel model (7 thousand to 520 thousand weights), under 0.1% of a training step, and about
35 times cheaper than the float64 global norm of ``clip_grad_norm_`` on the larger model.

Large temporaries: ``fit`` first calls ``allocator.keep_freed_memory()`` so that the feature
maps freed after each step are reused by the next one instead of being unmapped and faulted in
again (see ``minitorch_ser/allocator.py``; ``MINITORCH_SER_KEEP_FREED_MEMORY=0`` turns it off).

Dataset specifics stay out of this file: the caller passes arrays, class names and whatever
``meta`` a later prediction needs (feature parameters, normalization statistics).
"""

from __future__ import annotations

import csv
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..autograd import random as mt_random
from ..autograd.allocator import keep_freed_memory
from .checkpoint import class_path, load_checkpoint, save_checkpoint
from ..data.loader import DataLoader
from ..nn import functional as F
from ..optim import SGD, Adam, clip_grad_norm_, clip_grad_value_
from ..optim.lr_scheduler import ExponentialDecay, ReduceLROnPlateau
from ..autograd.tensor import Tensor, no_grad


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


@dataclass
class TrainConfig:
    """Settings of ``fit``. Defaults follow the first paper (Adam, ReduceLROnPlateau, batch 32).

    Attributes
    ----------
    epochs : int > 0
    batch_size : int > 0
    optimizer : {'adam', 'sgd'}
    lr : float > 0
    weight_decay : float >= 0
        L2 term added to the gradient (torch.optim semantics).
    momentum : float >= 0
        SGD only (0.8 in the reference notebook).
    scheduler : {'plateau', 'exponential', 'none'}
        'plateau': ReduceLROnPlateau(factor, patience) on validation loss, once per epoch.
        'exponential': lr = lr0 * decay_rate ** (step / decay_steps), once per batch.
    patience : int >= 0
        Early stopping: stop after this many epochs without a lower validation loss (0: never).
    restore_best : bool
        After training, load the best-validation weights into the model.
    clip_grad_norm, clip_grad_value : float > 0 or None
    seed : int
        Seeds the data order and the default generator (weights, dropout).
    progress : bool
        Print a progress line during each epoch (with ETA) and one line per epoch.
    """

    epochs: int = 40
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.8
    scheduler: str = "plateau"
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
    seed: int = 0
    progress: bool = True

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


@dataclass
class EvalResult:
    """Loss, accuracy, predicted classes (N,) and class probabilities (N, K) of one evaluation."""

    loss: float
    accuracy: float
    predictions: np.ndarray
    probabilities: np.ndarray


@dataclass
class FitResult:
    """What ``fit`` returns: the history rows and the best validation epoch and loss."""

    history: list = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stopped_early: bool = False


def make_optimizer(model, config: TrainConfig):
    if config.optimizer == "adam":
        return Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
               weight_decay=config.weight_decay)


def make_scheduler(optimizer, config: TrainConfig):
    if config.scheduler == "plateau":
        return ReduceLROnPlateau(optimizer, mode="min", factor=config.plateau_factor,
                                 patience=config.plateau_patience, min_lr=config.min_lr)
    if config.scheduler == "exponential":
        return ExponentialDecay(optimizer, config.lr, config.decay_steps, config.decay_rate,
                                staircase=config.staircase)
    return None


def clip_gradients(model, config: TrainConfig) -> None:
    """Clip the gradients as ``config`` says: by value first, then by global norm (each only
    when set)."""
    if config.clip_grad_value is not None:
        clip_grad_value_(model.parameters(), config.clip_grad_value)
    if config.clip_grad_norm is not None:
        clip_grad_norm_(model.parameters(), config.clip_grad_norm)


def regularization_loss(model):
    """The model's extra penalty (e.g. an L2 term on chosen layers), or None."""
    penalty = getattr(model, "regularization_loss", None)
    return penalty() if callable(penalty) else None


def evaluate(model, X: np.ndarray, y: np.ndarray, batch_size: int = 64) -> EvalResult:
    """Mean cross-entropy, accuracy, predictions and probabilities, in eval mode, no graph."""
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
                      predictions=predictions, probabilities=probabilities)


class _Progress:
    """One self-overwriting progress line per epoch (a full line per ~10% when not a terminal)."""

    def __init__(self, total: int, epoch: int, epochs: int, enabled: bool):
        self.total, self.epoch, self.epochs, self.enabled = total, epoch, epochs, enabled
        self.start = time.perf_counter()
        self.tty = sys.stdout.isatty()
        self.last_decile = -1

    def update(self, done: int, loss: float, acc: float) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * (self.total - done)
        line = (f"epoch {self.epoch}/{self.epochs} batch {done}/{self.total} loss {loss:.4f} "
                f"acc {acc:.3f} {elapsed:.0f}s elapsed, ETA {eta:.0f}s")
        if self.tty:
            print("\r" + line, end="", flush=True)
        else:
            decile = done * 10 // self.total
            if decile != self.last_decile and done < self.total:
                self.last_decile = decile
                print(line, flush=True)

    def close(self) -> None:
        if self.enabled and self.tty:
            print("\r" + " " * 100 + "\r", end="", flush=True)


def fit(model, train: tuple, val: tuple, config: TrainConfig, run_dir, meta: dict | None = None,
        resume: bool = False) -> FitResult:
    """Train ``model`` on ``train = (X, y)``, selecting on ``val = (X, y)``; see the module doc.

    Parameters
    ----------
    model : Module
        A classifier mapping X batches to logits (N, K). Must expose ``config`` (the keyword
        arguments that rebuild it) so checkpoints can recreate it.
    train, val : (ndarray, ndarray)
        Features (N, ...) float32 and integer labels (N,).
    config : TrainConfig
    run_dir : path
        Folder for last.ckpt, best.ckpt and history.csv.
    meta : dict
        Stored in every checkpoint (class names, feature parameters, normalization statistics).
    resume : bool
        Continue from ``run_dir/last.ckpt`` if it exists.

    Raises
    ------
    TrainingDiverged
        On a non-finite training loss, gradient, weight (or optimizer state), validation loss
        or accuracy, and when resuming from a ``last.ckpt`` with non-finite weights; nothing
        non-finite is written, ``last.ckpt`` and ``best.ckpt`` keep the last good state.
    """
    keep_freed_memory()  # reuse the pages of freed feature maps (module docstring)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    X_train, y_train = train
    X_val, y_val = val
    if len(X_train) == 0:
        raise ValueError("the training set is empty")
    if len(X_val) == 0:
        raise ValueError("the validation set is empty: early stopping and the scheduler need it")
    y_train = np.asarray(y_train, dtype=np.int64)
    y_val = np.asarray(y_val, dtype=np.int64)

    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)
    loader = DataLoader(X_train, y_train, batch_size=config.batch_size, shuffle=True, seed=config.seed)
    result = FitResult()
    bad_epochs, start_epoch = 0, 1

    last_path, best_path = run_dir / "last.ckpt", run_dir / "best.ckpt"
    if resume and last_path.exists():
        ckpt = load_checkpoint(last_path)
        model.load_state_dict(ckpt["model_state"])
        optimizer.load_state_dict(ckpt["optimizer_state"])
        if scheduler is not None and ckpt["scheduler_state"] is not None:
            scheduler.load_state_dict(ckpt["scheduler_state"])
        loader.set_state(ckpt["rng_state"]["loader"])
        mt_random.set_state(ckpt["rng_state"]["default"])
        result.history = ckpt["history"]
        result.best_epoch, result.best_val_loss = ckpt["best"]["epoch"], ckpt["best"]["val_loss"]
        bad_epochs = ckpt["best"]["bad_epochs"]
        start_epoch = ckpt["epoch"] + 1
        bad = first_non_finite(_state_arrays(model, optimizer))
        if bad is not None:
            raise TrainingDiverged(f"{last_path} holds non-finite values in {bad}: a "
                                   f"diverged state cannot be resumed")
        if config.progress:
            print(f"resuming from {last_path} after epoch {ckpt['epoch']}")
    else:
        mt_random.manual_seed(config.seed)

    named_params = list(model.named_parameters())

    def diverged(what: str) -> TrainingDiverged:
        kept = (f"the last good state is in {last_path}" if last_path.exists()
                else "no checkpoint was written yet")
        return TrainingDiverged(f"{what}; stopping, {kept} (try a lower --lr or gradient "
                                f"clipping)")

    def culprit(inputs: np.ndarray, what: str) -> str:
        """Where a non-finite loss comes from (searched only once one is found): a non-finite
        weight, buffer or optimizer state, else non-finite ``inputs``, else an overflow."""
        bad = first_non_finite(_state_arrays(model, optimizer))
        if bad is not None:
            return f"the first non-finite values are in {bad}"
        rows = np.flatnonzero(~np.isfinite(inputs.reshape(len(inputs), -1)).all(axis=1))
        if len(rows):
            return (f"every weight is finite, but {len(rows)} {what} hold NaN or inf features "
                    f"(the first is row {rows[0]})")
        largest, name = max(((float(np.abs(p.data).max(initial=0.0)), name)
                             for name, p in named_params), default=(0.0, "no parameter"))
        return (f"every weight and input is finite, so the activations overflow (largest "
                f"|weight| {largest:.3g}, in {name})")

    def checkpoint(epoch: int) -> dict:
        return {
            "model_class": class_path(model), "model_config": dict(model.config),
            "model_state": model.state_dict(), "optimizer_state": optimizer.state_dict(),
            "scheduler_state": scheduler.state_dict() if scheduler is not None else None,
            "rng_state": {"loader": loader.get_state(), "default": mt_random.get_state()},
            "epoch": epoch, "history": list(result.history), "train_config": asdict(config),
            "best": {"epoch": result.best_epoch, "val_loss": result.best_val_loss,
                     "bad_epochs": bad_epochs},
            "meta": dict(meta or {}),
        }

    for epoch in range(start_epoch, config.epochs + 1):
        if config.patience and bad_epochs >= config.patience:
            result.stopped_early = True
            break
        model.train()
        t0 = time.perf_counter()
        progress = _Progress(len(loader), epoch, config.epochs, config.progress)
        total_loss, correct, seen = 0.0, 0, 0
        for i, (xb, yb) in enumerate(loader, start=1):
            logits = model(Tensor(xb))
            loss = F.cross_entropy(logits, yb)
            penalty = regularization_loss(model)
            objective = loss + penalty if penalty is not None else loss
            value = objective.item()
            if not math.isfinite(value):
                progress.close()
                raise diverged(f"non-finite loss ({value}) at epoch {epoch}, batch {i}: "
                               f"{culprit(xb, 'clips of the batch')}")
            optimizer.zero_grad()
            objective.backward()
            # before clipping, which would turn an infinity into a finite value
            bad = first_non_finite((name, p.grad) for name, p in named_params)
            if bad is not None:
                progress.close()
                raise diverged(f"non-finite gradient of {bad} at epoch {epoch}, batch {i} "
                               f"(loss {value:.4g}), before the optimizer step")
            clip_gradients(model, config)
            optimizer.step()
            if isinstance(scheduler, ExponentialDecay):
                scheduler.step()
            total_loss += loss.item() * len(yb)
            correct += int((logits.data.argmax(axis=1) == yb).sum())
            seen += len(yb)
            progress.update(i, total_loss / seen, correct / seen)
        progress.close()
        bad = first_non_finite(_state_arrays(model, optimizer))
        if bad is not None:
            raise diverged(f"non-finite values in {bad} after epoch {epoch} "
                           f"(last batch {len(loader)})")

        val_result = evaluate(model, X_val, y_val, batch_size=max(config.batch_size, 64))
        if not (math.isfinite(val_result.loss) and math.isfinite(val_result.accuracy)):
            rows = np.flatnonzero(~np.isfinite(val_result.probabilities).all(axis=1))
            raise diverged(f"non-finite validation loss ({val_result.loss}) or accuracy "
                           f"({val_result.accuracy}) after epoch {epoch} ({len(rows)} "
                           f"validation clip(s) get non-finite probabilities): "
                           f"{culprit(np.asarray(X_val), 'validation clips')}")
        lr = optimizer.param_groups[0]["lr"]
        if isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step(val_result.loss)
        seconds = time.perf_counter() - t0
        row = {"epoch": epoch, "train_loss": total_loss / seen, "train_acc": correct / seen,
               "val_loss": val_result.loss, "val_acc": val_result.accuracy, "lr": lr,
               "seconds": seconds}
        result.history.append(row)
        improved = val_result.loss < result.best_val_loss
        if improved:
            result.best_val_loss, result.best_epoch, bad_epochs = val_result.loss, epoch, 0
        else:
            bad_epochs += 1
        state = checkpoint(epoch)
        if improved:
            save_checkpoint(best_path, state)
        save_checkpoint(last_path, state)
        _write_history(run_dir / "history.csv", result.history)
        if config.progress:
            print(f"epoch {epoch:3d}/{config.epochs} | train loss {row['train_loss']:.4f} "
                  f"acc {row['train_acc']:.4f} | val loss {row['val_loss']:.4f} "
                  f"acc {row['val_acc']:.4f} | lr {lr:.3g} | {seconds:.1f}s"
                  + (" *" if improved else ""), flush=True)

    if config.restore_best and best_path.exists():
        model.load_state_dict(load_checkpoint(best_path)["model_state"])
    return result


def _write_history(path: Path, history: list) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0].keys()))
        writer.writeheader()
        writer.writerows(history)
    tmp.replace(path)
