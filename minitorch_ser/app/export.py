"""Export a trained model to PyTorch: its weights as ``.safetensors``, its context as JSON.

Use::

    pip install -e ".[export]"                                   # safetensors (no PyTorch)
    python -m minitorch_ser export runs/baved_random model.safetensors

    # then, in PyTorch, into the model's torch.nn twin (benchmarks/torch_twins.py)
    from safetensors.torch import load_file
    twin.load_state_dict(load_file("model.safetensors"), strict=True)

**What is written.** ``OUT.safetensors`` holds the model's ``state_dict()``: every parameter
and buffer under its PyTorch name (``cnn.0.0.weight``, ``lstm.weight_ih_l0_reverse``,
``cnn.0.1.running_var``, ...) in PyTorch's layout, so a ``torch.nn`` network with the same
modules loads it with ``strict=True`` unchanged. Floating arrays are stored as float32;
integer buffers keep their integer dtype (BatchNorm's step counter ``num_batches_tracked`` is
int64, as in PyTorch: a float32 counter would lose counts above 2^24). Every array is C
contiguous, as safetensors requires. The header's metadata says ``format: pt`` (what
PyTorch-side loaders expect), the producer, the model class and its config.

``OUT.json``, next to it, holds what the weights alone do not say::

    format, version      "minitorch-ser-export", EXPORT_VERSION
    weights              the .safetensors file's name (in the same folder)
    model_class          the model's name in the model registry
    model_config         the keyword arguments that build it (also those of its twin)
    parameters, tensors  trainable parameters; state_dict entries (the file's tensors)
    class_names          the label of each logit, in order
    input_shape          [C, n_mels, n_frames]: the model reads x : (N, C, n_mels, n_frames)
    feature_config       FeatureConfig.to_dict(): how the log-mel is computed
    normalize            "global", "utterance" or "speaker" (meta['normalize'], "global"
                         when the checkpoint has none; see ``inference``)
    standardizer         for "global": {"mode", "eps", "mean", "std"}, the training set's
                         statistics as nested lists of shape (1, C, n_mels, 1) ("per_bin") or
                         (1, C, 1, 1) ("global"), applied as x_hat = (x - mean) / std with
                         std < eps counted as 1; null for the other two normalizations, which
                         use no training statistics
    source               the checkpoint file read (absolute path)
    minitorch_ser_version

**How the checkpoint is read.** As ``Predictor.load`` reads it (``checkpoint.load_checkpoint``,
then ``Predictor.from_checkpoint``): a run folder's ``best.ckpt`` or a checkpoint file, with
the same checks (the model keys and ``meta`` present, weights finite, the model rebuilt from
the registry, class names, features and statistics that fit it). An export carries one model:
a cross-validation folder of folds (``inference.fold_checkpoints``) is refused with the command
that exports one fold; export each fold that way to keep them all.

**Writing.** Each file is written to a temporary file in its folder, flushed to disk, then
renamed over the destination (``os.replace``), so an interrupted export leaves no half file.
An existing ``OUT.safetensors`` or ``OUT.json`` is replaced only with ``overwrite=True``
(``--overwrite``). ``safetensors`` is imported only when ``export`` runs: the package needs
it for nothing else.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError, load_checkpoint, write_atomically
from .inference import Predictor, fold_checkpoints

EXPORT_FORMAT = "minitorch-ser-export"
EXPORT_VERSION = 1
SUFFIX = ".safetensors"
INSTALL = 'pip install -e ".[export]"'


class MissingExtraError(ImportError):
    """An optional dependency of a feature is not installed; the message says how to add it."""


def export(run_or_checkpoint, out_path, overwrite: bool = False) -> dict:
    """Write a checkpoint's model as ``out_path`` (safetensors) and its context as a JSON
    sidecar (``model.safetensors`` -> ``model.json``); see the module docstring.

    Parameters
    ----------
    run_or_checkpoint : str or path
        A run folder (its ``best.ckpt`` is read) or a checkpoint file.
    out_path : str or path
        The weights file, ending in ``.safetensors``; its folder is created if needed.
    overwrite : bool
        Replace an existing ``out_path`` or sidecar (otherwise an error names it).

    Returns
    -------
    dict
        ``{"path", "sidecar", "tensors", "parameters", "model_class", "source"}``: the two
        files written, the number of state_dict entries stored, the trainable parameters, the
        model's registered name and the checkpoint file read.

    Raises
    ------
    ValueError
        If ``out_path`` does not end in ``.safetensors``.
    MissingExtraError
        (an ``ImportError``) If safetensors is not installed; the message has the install line.
    FileExistsError
        If ``out_path`` or its sidecar exists and ``overwrite`` is False (naming the file).
    CheckpointError
        If ``run_or_checkpoint`` is a cross-validation folder of folds, or a checkpoint that
        ``Predictor.load`` refuses (saying why).
    OSError
        If a file cannot be written (nothing is left half written).
    """
    out_path = Path(out_path)
    if out_path.suffix != SUFFIX:
        raise ValueError(f"out_path={str(out_path)!r} must end in {SUFFIX} (the JSON sidecar "
                         f"is written next to it, as {out_path.stem}.json)")
    sidecar = out_path.with_suffix(".json")
    save_file = _safetensors_save_file()
    if not overwrite:
        for path in (out_path, sidecar):
            if path.exists():
                raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) "
                                      f"to replace it")

    source, predictor, checkpoint = _load_one_model(run_or_checkpoint)
    model = predictor.model
    tensors = _tensors(model.state_dict())
    n_parameters = sum(int(p.data.size) for p in model.parameters())
    context = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "weights": out_path.name,
        "model_class": checkpoint["model_class"],
        "model_config": checkpoint["model_config"],
        "parameters": n_parameters,
        "tensors": len(tensors),
        "class_names": list(predictor.class_names),
        "input_shape": list(predictor.feature_config.shape),
        "feature_config": predictor.feature_config.to_dict(),
        "normalize": predictor.normalize,
        "standardizer": _statistics(predictor),
        "source": source,
        "minitorch_ser_version": _version(),
    }
    try:
        sidecar_text = json.dumps(context, indent=1, allow_nan=False) + "\n"
        header = {"format": "pt", "producer": f"minitorch-ser {_version()}",
                  "model_class": checkpoint["model_class"],
                  "model_config": json.dumps(checkpoint["model_config"], allow_nan=False)}
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {source}: its model_config or meta cannot be "
                              f"written as JSON ({exc})") from exc

    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out_path, lambda tmp: save_file(tensors, tmp, metadata=header))
    write_atomically(sidecar, lambda tmp: Path(tmp).write_text(sidecar_text, encoding="utf-8"))
    return {"path": str(out_path), "sidecar": str(sidecar), "tensors": len(tensors),
            "parameters": n_parameters, "model_class": checkpoint["model_class"],
            "source": source}


# ==================================================================================== reading
def _load_one_model(run_or_checkpoint) -> tuple[str, Predictor, dict]:
    """(checkpoint file read, its Predictor, the checkpoint dict); refuses a fold folder."""
    folds = fold_checkpoints(run_or_checkpoint)
    if folds is not None:
        names = ", ".join(f.parent.name for f in folds)
        raise CheckpointError(
            f"{run_or_checkpoint} is a cross-validation folder of {len(folds)} folds ({names}); "
            f"an export holds one model: export one fold, e.g. python -m minitorch_ser export "
            f"{folds[0].parent} {folds[0].parent.name}{SUFFIX} (or each fold in turn)")
    path = Path(run_or_checkpoint)
    source = os.path.abspath(path / "best.ckpt" if path.is_dir() else path)
    checkpoint = load_checkpoint(path)
    try:
        predictor = Predictor.from_checkpoint(checkpoint)
    except CheckpointError as err:
        raise CheckpointError(f"checkpoint {source}: {err}") from err
    return source, predictor, checkpoint


def _safetensors_save_file():
    """``safetensors.numpy.save_file``, or ``MissingExtraError`` with the install line."""
    try:
        from safetensors.numpy import save_file
    except ImportError as exc:
        raise MissingExtraError(f"exporting needs the safetensors package, which is not "
                                f"installed ({exc}); install it with {INSTALL} (or pip "
                                f"install 'safetensors>=0.4')") from exc
    return save_file


def _version() -> str:
    from .. import __version__
    return __version__


# ==================================================================================== writing
def _tensors(state) -> dict[str, np.ndarray]:
    """The state_dict as safetensors takes it: float32 (floating) or integer, C contiguous."""
    out = {}
    for name, value in state.items():
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = array.astype(np.float32, copy=False)
        elif array.dtype.kind not in "iu":
            raise CheckpointError(f"state_dict entry {name!r} has dtype {array.dtype}; an export "
                                  f"holds floating (as float32) and integer arrays only")
        out[name] = np.require(array, requirements="C")   # keeps 0-d arrays 0-d
    return out


def _statistics(predictor: Predictor) -> dict | None:
    """The standardizer as JSON lists for a "global" model; None otherwise."""
    s = predictor.standardizer
    if predictor.normalize != "global" or s is None:
        return None
    return {"mode": s.mode, "eps": float(s.eps),
            "mean": np.asarray(s.mean_, np.float32).tolist(),
            "std": np.asarray(s.std_, np.float32).tolist()}
