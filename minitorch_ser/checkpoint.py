"""Checkpoints: everything needed to resume training or to predict, written atomically.

A checkpoint is a pickled dict with these keys::

    format, version      "minitorch-ser-checkpoint", CHECKPOINT_VERSION
    model_class          "package.module:ClassName" of the model
    model_config         keyword arguments that rebuild the model
    model_state          the model's state_dict (NumPy arrays)
    optimizer_state      optimizer.state_dict()        (training checkpoints)
    scheduler_state      scheduler.state_dict() or None
    rng_state            states of the data-order and default generators
    epoch, history, best, train_config
    meta                 class_names, feature config, normalization statistics, target, ...

Atomic write: the dict is pickled into a temporary file in the same folder, flushed to disk,
then renamed over the destination (``os.replace`` is atomic on POSIX), so an interrupted run
leaves either the old checkpoint or the new one, never half of one.

Checkpoints are pickles: load only files you trust.
"""

from __future__ import annotations

import importlib
import os
import pickle
import tempfile
from pathlib import Path

CHECKPOINT_FORMAT = "minitorch-ser-checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, or from an incompatible version or model."""


def save_checkpoint(path, payload: dict) -> Path:
    """Write ``payload`` (plus format and version) to ``path`` atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by ``save_checkpoint``.

    ``path`` may be a checkpoint file or a run folder (then ``best.ckpt`` in it is read).

    Raises
    ------
    CheckpointError
        If the file is missing, is not a minitorch-ser checkpoint, or has another version.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "best.ckpt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)
    except Exception as exc:  # truncated or not a pickle at all
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); "
                              f"it is corrupt or not a minitorch-ser checkpoint") from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a minitorch-ser checkpoint")
    if data.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {data.get('version')}, "
                              f"this minitorch-ser reads version {CHECKPOINT_VERSION}")
    return data


def class_path(obj) -> str:
    """``"module:ClassName"`` of an object's class, to rebuild it from a checkpoint."""
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def build_model(checkpoint: dict):
    """Rebuild the model of a checkpoint from its class path and config, and load its weights."""
    module_name, _, qualname = checkpoint["model_class"].partition(":")
    if not module_name.startswith("minitorch_ser."):
        raise CheckpointError(f"model class {checkpoint['model_class']!r} is not a "
                              f"minitorch_ser model; refusing to import it")
    try:
        cls = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(f"model class {checkpoint['model_class']!r} of the checkpoint does "
                              f"not exist in this version of minitorch-ser") from exc
    try:
        model = cls(**checkpoint["model_config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{qualname} cannot be built from the checkpoint's model_config "
                              f"{checkpoint['model_config']}: {exc}") from exc
    try:
        model.load_state_dict(checkpoint["model_state"])
    except ValueError as exc:
        raise CheckpointError(f"checkpoint weights do not fit {qualname}"
                              f"({checkpoint['model_config']}): {exc}") from exc
    model.eval()
    return model
