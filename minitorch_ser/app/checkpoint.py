"""Checkpoints: everything needed to resume training or to predict, as arrays and JSON only.

A checkpoint is a dict with these keys::

    format, version      "minitorch-ser-checkpoint", CHECKPOINT_VERSION
    model_class          the model's name in the model registry (``models.registry``)
    model_config         keyword arguments that rebuild the model
    model_state          the model's state_dict (NumPy arrays)
    optimizer_state      optimizer.state_dict()        (training checkpoints)
    scheduler_state      scheduler.state_dict() or None
    rng_state            states of the data-order and default generators
    epoch, history, best, train_config
    meta                 class_names, feature config, normalization statistics, target, ...

**File.** One uncompressed zip file, the layout of NumPy's ``.npz`` (``np.load`` lists its
arrays)::

    checkpoint.json      the dict as a JSON tree, each array replaced by a reference
    a0.npy, a1.npy, ...  one array per member, in the order the tree meets them

Arrays are written and read by ``np.lib.format`` with ``allow_pickle=False``, and the JSON by
``json``, so reading a checkpoint runs no code from it (a pickle runs whatever its author put
in it). The model class is looked up by name in the registry, never imported by a name read
from the file. Each member carries its CRC-32, checked on reading: a flipped bit is an error,
not a silently wrong weight.

**The JSON tree** maps each value to one JSON value and back to the same Python value::

    None, bool, int, str, finite float, list     themselves (a float as its shortest repr,
                                                 which reads back bit for bit)
    dict with str keys                           an object, key order kept
    np.ndarray                                   {"__ndarray__": "a3"}    (member a3.npy)
    NumPy scalar (np.float32(0.5), np.int64(2))  {"__scalar__": "a4"}     (a 0-d array)
    inf, -inf, nan                               {"__float__": "inf"}, ... (JSON has none)
    tuple                                        {"__tuple__": [...]}
    dict with other keys (the optimizer's state  {"__dict__": [[key, value], ...]}
    is keyed by int), or using a marker as key

Mappings come back as ``dict`` (an ``OrderedDict`` state_dict included, order kept). Anything
else (an object, an array of dtype object, a subclass of list, tuple or ndarray) is refused
when writing, naming where it is in the dict.

**Atomic write.** The file is written to a temporary file in the same folder, flushed to disk,
then renamed over the destination (``os.replace`` is atomic on POSIX), so an interrupted run
leaves either the old checkpoint or the new one, never half of one; the temporary file is
removed on any exception, KeyboardInterrupt included. Member timestamps are fixed, so the same
dict gives the same bytes.

**Version 1** checkpoints were pickles. ``load_checkpoint`` recognizes one by its first two
bytes, without unpickling it, and refuses it with the command that converts it;
``convert_legacy`` (``python -m minitorch_ser convert OLD [NEW] --trusted``) reads it only
when told the file is trusted, and even then with an unpickler that rebuilds nothing but
containers, numbers, strings and NumPy arrays (``_ArraysOnlyUnpickler``): a pickle that names
any other function or class is refused, so no code from the file runs.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..models.registry import get_model_class, model_name, registered_models

CHECKPOINT_FORMAT = "minitorch-ser-checkpoint"
CHECKPOINT_VERSION = 2
LEGACY_VERSION = 1

JSON_MEMBER = "checkpoint.json"
MARKERS = ("__ndarray__", "__scalar__", "__float__", "__tuple__", "__dict__")
_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)           # the earliest zip date: identical bytes per dict
_MEMBER_NAME = re.compile(r"a(0|[1-9][0-9]*)")
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, unsafe, or from an incompatible version or
    model."""


# ===================================================================================== public
def save_checkpoint(path, payload: dict) -> Path:
    """Write ``payload`` (plus format and version) to ``path`` atomically; return the path.

    Parameters
    ----------
    path : str or path
        The checkpoint file; its folder is created if needed.
    payload : dict
        The checkpoint keys (module docstring). Its own ``format`` and ``version``, if any,
        are replaced by this version's.

    Raises
    ------
    CheckpointError
        If a value cannot be stored as arrays and JSON (naming where it is); the file at
        ``path`` is then left as it was.
    """
    body = {k: v for k, v in payload.items() if k not in ("format", "version")}
    return write_archive(path, {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                                **body})


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by ``save_checkpoint``.

    ``path`` may be a checkpoint file or a run folder (then ``best.ckpt`` in it is read).

    Raises
    ------
    CheckpointError
        Naming the file: if it is missing; a pickle (a version-1 checkpoint, refused with the
        command that converts it); not a zip file, truncated, or failing a member's CRC-32;
        not a minitorch-ser checkpoint; of another format version; or holding a malformed
        tree or an array NumPy can only read by unpickling.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "best.ckpt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    head = _head(path)
    if is_pickle(head):
        raise CheckpointError(
            f"{path} is a pickle, the format of older minitorch-ser checkpoints; pickles can "
            f"run code when read, so it is not loaded. If you trust the file, convert it: "
            f"python -m minitorch_ser convert {path} --trusted [OUT]")
    return _read_archive(path, _check_header)


def write_archive(path, tree: dict) -> Path:
    """Write a dict of arrays and JSON values as one zip file, atomically (module docstring).

    The container of ``save_checkpoint``, without its ``format`` and ``version`` keys.

    Parameters
    ----------
    path : str or path
    tree : dict
        Values as listed in the module docstring, nested to any depth.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    CheckpointError
        If a value cannot be stored (naming the file and where the value is); nothing is
        written then.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        encoded = _encode(tree, arrays, "checkpoint")
        text = json.dumps(encoded, allow_nan=False, indent=1)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp):
        with open(tmp, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr(_member_info(JSON_MEMBER), text.encode("utf-8"))
                for name, array in arrays.items():
                    with zf.open(_member_info(f"{name}.npy"), "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)

    write_atomically(path, write, "checkpoint ")
    return path


def write_atomically(path, write, what: str = "") -> None:
    """``write(tmp)`` into a temporary file in ``path``'s folder, flushed to disk, then renamed
    over ``path``, so ``path`` holds the old content or the new one, never a part.

    Parameters
    ----------
    path : str or path
        The destination (its folder must exist).
    write : callable
        ``write(tmp: str)`` writes the whole content to the file ``tmp``.
    what : str
        Words before the path in an error message (``"checkpoint "``).

    Raises
    ------
    OSError
        A write fails; one without a file name (a full disk) is re-raised naming ``path``.
        The temporary file is removed on any exception, an interruption included.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:   # e.g. disk full: name the file
            raise OSError(exc.errno, f"cannot write {what}{path}: {exc.strerror or exc}",
                          str(path)) from exc
        raise


def is_pickle(head: bytes) -> bool:
    """Whether bytes start like a pickle of protocol 2 to 5 (``0x80``, then the protocol).

    Version-1 checkpoints were written with ``pickle.HIGHEST_PROTOCOL`` (4 or 5).
    """
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def class_path(model) -> str:
    """The registered name of a model's class, stored as a checkpoint's ``model_class``.

    Raises
    ------
    CheckpointError
        If the class is not registered (``models.register_model``): its checkpoints could
        not rebuild it.
    """
    try:
        return model_name(model)
    except LookupError as exc:
        raise CheckpointError(str(exc)) from exc


def build_model(checkpoint: dict):
    """Rebuild the model of a checkpoint from its registered class and config, load its
    weights, and switch it to eval mode.

    Raises
    ------
    CheckpointError
        If ``model_class`` is not a registered name (the message lists the registered ones),
        or the config or the weights do not fit the class.
    """
    name = checkpoint["model_class"]
    try:
        cls = get_model_class(name)
    except LookupError as exc:
        raise CheckpointError(str(exc)) from exc
    try:
        model = cls(**checkpoint["model_config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{name} cannot be built from the checkpoint's model_config "
                              f"{checkpoint['model_config']}: {exc}") from exc
    try:
        model.load_state_dict(checkpoint["model_state"])
    except ValueError as exc:
        raise CheckpointError(f"checkpoint weights do not fit {name}"
                              f"({checkpoint['model_config']}): {exc}") from exc
    model.eval()
    return model


# ============================================================================ version 1 files
def convert_legacy(src, dst=None, *, trusted: bool) -> Path:
    """Rewrite a version-1 (pickle) checkpoint in the current format.

    The one place a pickle is read, refused unless ``trusted`` is True, and read by
    ``_ArraysOnlyUnpickler``: only containers, numbers, strings and NumPy arrays, dtypes and
    scalars are rebuilt; a file naming any other global is refused before anything of it
    runs. The old ``model_class`` (``"module:ClassName"``) is mapped to the name under which
    that class is registered; nothing is imported by it.

    Parameters
    ----------
    src : str or path
        The pickle checkpoint.
    dst : str or path, optional
        Where to write (default: ``src``, replaced atomically once the new file is complete).
    trusted : bool
        Must be True: the caller vouches for the file.

    Returns
    -------
    Path
        ``dst``.

    Raises
    ------
    CheckpointError
        Without ``trusted``; if ``src`` is missing, not a pickle, names a global other than
        NumPy's array constructors, holds an object array, is not a version-1 minitorch-ser
        checkpoint, or names a model class that is not registered.
    """
    src = Path(src)
    dst = src if dst is None else Path(dst)
    if not trusted:
        raise CheckpointError(f"{src}: converting unpickles the file, and a pickle can run any "
                              f"code when read; pass trusted=True (--trusted) only for a file "
                              f"you or a source you trust wrote")
    if not src.is_file():
        raise CheckpointError(f"checkpoint {src} does not exist")
    if not is_pickle(_head(src)):
        raise CheckpointError(f"{src} is not a pickle, so not a version-{LEGACY_VERSION} "
                              f"checkpoint; there is nothing to convert")
    try:
        with open(src, "rb") as f:
            data = _ArraysOnlyUnpickler(f).load()
    except CheckpointError as exc:
        raise CheckpointError(f"{src}: {exc}") from None
    except Exception as exc:  # truncated, or a pickle of objects this Python cannot rebuild
        raise CheckpointError(f"{src} cannot be unpickled ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{src} is a pickle but not a minitorch-ser checkpoint")
    if data.get("version") != LEGACY_VERSION:
        raise CheckpointError(f"{src} is a pickle checkpoint of format version "
                              f"{data.get('version')}; convert reads version {LEGACY_VERSION}")
    if "model_class" in data:
        data["model_class"] = _registered_name_of_path(data["model_class"], src)
    return save_checkpoint(dst, data)


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Reads a version-1 checkpoint rebuilding only what one held: dicts, lists, tuples,
    numbers, strings and NumPy arrays, dtypes and scalars. Any other global a pickle names
    (a function to call, a class to build: how a pickle runs code) is refused by name, as
    ``torch.load(weights_only=True)`` does. The elements of an object array go through the
    same check, and ``save_checkpoint`` then refuses the object array itself."""

    _ARRAYS = {"_reconstruct", "_frombuffer", "scalar"}
    _MODULES = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
                "numpy._core.numeric")

    def find_class(self, module: str, name: str):
        if module in self._MODULES and name in self._ARRAYS:
            return super().find_class(module, name)
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype") or module == "numpy.dtypes":
            return super().find_class(module, name)
        if (module, name) == ("collections", "OrderedDict"):
            return super().find_class(module, name)
        raise CheckpointError(f"names {module}.{name}, which a checkpoint does not hold (only "
                              f"arrays, numbers, strings and containers are rebuilt); not "
                              f"converted")


def _registered_name_of_path(model_class, src: Path) -> str:
    """The registry name of the class a version-1 checkpoint named ``"module:ClassName"``."""
    for name, cls in registered_models().items():
        if model_class in (f"{cls.__module__}:{cls.__qualname__}", name):
            return name
    raise CheckpointError(f"{src} names the model class {model_class!r}, which is not in the "
                          f"model registry (registered: {', '.join(sorted(registered_models()))}"
                          f"); register it with minitorch_ser.models.register_model and "
                          f"convert again")


# ==================================================================================== writing
def _member_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _encode(value, arrays: dict, where: str):
    """The JSON value of ``value`` (module docstring); arrays go into ``arrays`` (name ->
    array) in the order they are met. ``where`` names the value in error messages."""
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        if math.isfinite(value):
            return value
        return {"__float__": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, (np.ndarray, np.generic)):
        return _encode_array(value, arrays, where)
    if type(value) is list:
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if type(value) is tuple:
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        plain = all(type(k) is str for k in value) and not any(k in MARKERS for k in value)
        if plain:
            return {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}
        return {"__dict__": [[_encode(k, arrays, f"{where} key {k!r}"),
                              _encode(v, arrays, f"{where}[{k!r}]")] for k, v in value.items()]}
    raise TypeError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}; a "
                    f"checkpoint holds only None, bool, int, float, str, list, tuple, dict, "
                    f"NumPy arrays and NumPy scalars")


def _encode_array(value, arrays: dict, where: str) -> dict:
    if isinstance(value, np.ndarray) and type(value) is not np.ndarray:
        raise TypeError(f"{where} is a {type(value).__name__} (an ndarray subclass); store "
                        f"np.asarray(...) of it")
    if value.dtype.hasobject:
        raise TypeError(f"{where} has dtype {value.dtype}, which holds Python objects that only "
                        f"a pickle could store; convert it to numbers or strings")
    name = f"a{len(arrays)}"
    if isinstance(value, np.ndarray):
        arrays[name] = value
        return {"__ndarray__": name}
    arrays[name] = np.asarray(value)          # a 0-d array of the scalar's dtype
    return {"__scalar__": name}


# ==================================================================================== reading
def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(4)
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read ({exc})") from exc


def _check_header(tree, path: Path) -> None:
    """Refuse a tree that is not a minitorch-ser checkpoint of this version."""
    if not isinstance(tree, dict) or tree.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a minitorch-ser checkpoint")
    if tree.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {tree.get('version')}, "
                              f"this minitorch-ser reads version {CHECKPOINT_VERSION}")


def _read_archive(path: Path, check_header) -> dict:
    """Read a file written by ``write_archive``; ``check_header(tree, path)`` sees the raw JSON
    tree before any array is read."""
    if _head(path) != _ZIP_MAGIC:
        raise CheckpointError(f"checkpoint {path} cannot be read (it does not start like a "
                              f"zip file); it is corrupt or not a minitorch-ser checkpoint")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if len(set(names)) != len(names):
                raise CheckpointError(f"checkpoint {path} has duplicate zip members")
            if JSON_MEMBER not in names:
                raise CheckpointError(f"{path} is a zip file without {JSON_MEMBER}, so not a "
                                      f"minitorch-ser checkpoint (members: {names[:5]})")
            tree = json.loads(zf.read(JSON_MEMBER).decode("utf-8"),
                              parse_constant=_refuse_constant)
            check_header(tree, path)
            members = {n[:-len(".npy")] for n in names if n != JSON_MEMBER}
            wrong = sorted(n for n in names if n != JSON_MEMBER
                           and not (n.endswith(".npy") and _MEMBER_NAME.fullmatch(n[:-4])))
            if wrong:
                raise CheckpointError(f"checkpoint {path} has members {wrong} that are neither "
                                      f"{JSON_MEMBER} nor arrays a<k>.npy")
            used: set[str] = set()
            data = _decode(tree, lambda name: _read_member(zf, name, members, used, path))
            unused = sorted(members - used)
            if unused:
                raise CheckpointError(f"checkpoint {path} holds arrays {unused[:5]} that its "
                                      f"{JSON_MEMBER} does not reference")
            return data
    except CheckpointError:
        raise
    except Exception as exc:  # bad zip structure, CRC mismatch, bad JSON, bad .npy header, ...
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); "
                              f"it is corrupt or not a minitorch-ser checkpoint") from exc


def _refuse_constant(name: str):
    raise ValueError(f"the JSON holds {name}, which strict JSON (and this format) does not")


def _read_member(zf: zipfile.ZipFile, name: str, members: set, used: set, path: Path):
    """Array ``name`` of the archive, read without unpickling; each is referenced once."""
    if not isinstance(name, str) or name not in members:
        raise CheckpointError(f"checkpoint {path}: the tree references array {name!r}, which "
                              f"the file does not hold")
    if name in used:
        raise CheckpointError(f"checkpoint {path}: array {name!r} is referenced twice")
    used.add(name)
    raw = io.BytesIO(zf.read(f"{name}.npy"))            # zf.read checks the CRC-32
    try:
        array = np.lib.format.read_array(raw, allow_pickle=False)
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {path}: array {name} cannot be read without "
                              f"unpickling, or is malformed ({exc})") from exc
    if raw.read(1):
        raise CheckpointError(f"checkpoint {path}: array {name} has bytes after its data")
    return array


def _decode(node, read_array):
    """The Python value of a JSON tree written by ``_encode``; ``read_array(name)`` reads a
    member."""
    if isinstance(node, list):
        return [_decode(v, read_array) for v in node]
    if not isinstance(node, dict):
        return node                                     # None, bool, int, float, str
    marker = [k for k in node if k in MARKERS]
    if not marker:
        return {k: _decode(v, read_array) for k, v in node.items()}
    if len(node) != 1:
        raise ValueError(f"an object mixes the marker {marker[0]!r} with other keys "
                         f"{sorted(node)[:5]}")
    kind, arg = marker[0], node[marker[0]]
    if kind == "__ndarray__":
        return read_array(arg)
    if kind == "__scalar__":
        array = read_array(arg)
        if array.ndim != 0:
            raise ValueError(f"scalar {arg!r} is an array of shape {array.shape}")
        return array[()]
    if kind == "__float__":
        if arg not in _NON_FINITE:
            raise ValueError(f"__float__ {arg!r} must be one of {sorted(_NON_FINITE)}")
        return _NON_FINITE[arg]
    if not isinstance(arg, list):
        raise ValueError(f"{kind} holds a {type(arg).__name__}, expected a list")
    if kind == "__tuple__":
        return tuple(_decode(v, read_array) for v in arg)
    out = {}
    for pair in arg:                                    # "__dict__": [[key, value], ...]
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValueError(f"__dict__ entries must be [key, value] pairs, got {pair!r:.60}")
        out[_decode(pair[0], read_array)] = _decode(pair[1], read_array)
    return out
