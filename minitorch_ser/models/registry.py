"""The model registry: the model classes a checkpoint may name, by name.

A checkpoint stores its model as a name (``"ParallelCNNLSTMAttention"``) and the keyword
arguments that rebuild it. Loading looks the name up here, so only a class registered in this
process can be built: nothing is ever imported by a name read from a file::

    checkpoint["model_class"] = "CNNGRUAttention"
    cls = get_model_class("CNNGRUAttention")          # minitorch_ser.models.crnn.CNNGRUAttention
    model = cls(**checkpoint["model_config"])

The two papers' models are registered below. A model of your own (or a tiny one in a test)
is registered with the decorator before it is trained or loaded::

    @register_model
    class MeanOverTime(Module):
        ...

Names are one-to-one: a name belongs to one class and a class has one name (its ``__name__``
unless ``name=`` is given), so a checkpoint names the same class in every process that
registers it.
"""

from __future__ import annotations

from .crnn import CNNGRUAttention, CNNLSTMAttention, CNNLSTMAttentionRegularized
from .parallel import ParallelCNNLSTMAttention

_MODELS: dict[str, type] = {}


def register_model(cls: type | None = None, *, name: str | None = None):
    """Add a model class to the registry; usable as ``@register_model`` or
    ``@register_model(name="...")``.

    Parameters
    ----------
    cls : type
        The model class (a ``Module`` whose ``config`` holds its constructor's arguments).
    name : str, optional
        Its name in checkpoints (default: ``cls.__name__``).

    Returns
    -------
    type
        ``cls`` itself (so the decorator leaves the class unchanged).

    Raises
    ------
    ValueError
        If ``name`` already belongs to another class, or ``cls`` is registered under another
        name. Registering the same class under the same name again does nothing.
    """
    if cls is None:
        return lambda c: register_model(c, name=name)
    if not isinstance(cls, type):
        raise TypeError(f"register_model takes a class, got {type(cls).__name__} {cls!r}")
    name = cls.__name__ if name is None else name
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_model: name={name!r} must be a non-empty string")
    owner = _MODELS.get(name)
    if owner is not None and owner is not cls:
        raise ValueError(f"register_model: the name {name!r} already belongs to "
                         f"{_qualified(owner)}; register {_qualified(cls)} under another name "
                         f"(register_model(name=...))")
    for other, registered in _MODELS.items():
        if registered is cls and other != name:
            raise ValueError(f"register_model: {_qualified(cls)} is already registered as "
                             f"{other!r}; a class has one name so checkpoints agree on it")
    _MODELS[name] = cls
    return cls


def get_model_class(name: str) -> type:
    """The class registered under ``name``.

    Raises
    ------
    LookupError
        If no class has that name; the message lists the registered names.
    """
    cls = _MODELS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise LookupError(f"model class {name!r} is not in the model registry (registered: "
                          f"{', '.join(sorted(_MODELS))}); a model of your own must be "
                          f"registered with minitorch_ser.models.register_model before loading")
    return cls


def model_name(model) -> str:
    """The registered name of a model's class (or of a class).

    The class must be registered itself: a subclass of a registered class is not accepted,
    since its checkpoint would rebuild the parent class.

    Raises
    ------
    LookupError
        If the class is not registered; the message says how to register it.
    """
    cls = model if isinstance(model, type) else type(model)
    for name, registered in _MODELS.items():
        if registered is cls:
            return name
    raise LookupError(f"{_qualified(cls)} is not in the model registry, so a checkpoint could "
                      f"not rebuild it; register it with minitorch_ser.models.register_model "
                      f"(registered: {', '.join(sorted(_MODELS))})")


def registered_models() -> dict[str, type]:
    """A copy of the registry: ``{name: class}`` in registration order."""
    return dict(_MODELS)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# the project's models: the first paper's (parallel.py) and the second paper's three (crnn.py)
for _cls in (ParallelCNNLSTMAttention, CNNGRUAttention, CNNLSTMAttention,
             CNNLSTMAttentionRegularized):
    register_model(_cls)
del _cls
