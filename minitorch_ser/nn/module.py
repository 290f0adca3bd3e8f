"""`Module` and `Parameter`: the containers every layer and model is built from.

As in torch.nn, assigning a ``Parameter``, a ``Module`` or (through ``register_buffer``) a
buffer to an attribute registers it, so ``parameters()``, ``state_dict()`` and ``train()``
find it without any bookkeeping by the layer author::

    class Affine(Module):
        def __init__(self, n):
            super().__init__()
            self.weight = Parameter(np.ones(n, dtype=np.float32))   # registered parameter
            self.register_buffer("calls", np.zeros((), np.int64))    # registered buffer

        def forward(self, x):
            return x * self.weight

State dicts are flat dicts ``{"block.0.weight": ndarray}`` with PyTorch's dotted names, so a
PyTorch state_dict converted to NumPy arrays loads unchanged.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..autograd.tensor import Tensor, as_array


class Parameter(Tensor):
    """A Tensor that is a trainable weight of a Module (``torch.nn.Parameter``).

    Assigning one to a Module attribute registers it (``parameters()``, ``state_dict()``).

    Parameters
    ----------
    data : array-like (any shape)
        The weight's values; Python floats become float32, an ndarray keeps its dtype.
    requires_grad : bool
        Whether backward accumulates a gradient into ``.grad`` (False freezes it).
    dtype : numpy dtype, optional
        Cast the data to this dtype.
    """

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models: subclasses define ``__init__`` and ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning "
                f"attribute {name!r}")
        if isinstance(value, Parameter):
            kind = self._parameters
        elif self._parameters.get(name) is not None and value is not None:
            raise TypeError(f"cannot assign {type(value).__name__} to parameter {name!r} of "
                            f"{type(self).__name__}: a Parameter or None is expected "
                            f"(to change its values in place, assign to .data[...])")
        elif isinstance(value, Module):
            kind = self._modules
        elif name in self.__dict__.get("_buffer_names", ()):
            kind = self._buffers
        else:
            kind = None
        # drop the name from the other registries; re-assigning within the same registry keeps
        # its position (so replacing layer "1" of a Sequential keeps the order of state_dict)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not kind:
                registry.pop(name, None)
        if kind is self._buffers:
            self._buffers[name] = value if value is None else np.asarray(value)
            return
        if kind is not None:
            kind[name] = value
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # only called when normal lookup fails: parameters, buffers and modules live here
        for registry in ("_parameters", "_buffers", "_modules"):
            d = self.__dict__.get(registry)
            if d is not None and name in d:
                return d[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                break
        if name in self.__dict__:
            object.__delattr__(self, name)

    def register_buffer(self, name: str, value) -> None:
        """Register a non-trainable array (e.g. BatchNorm's running mean) saved in state_dict.

        Parameters
        ----------
        name : str
            Attribute and state_dict name; later assignments to it stay a buffer.
        value : array-like or None
            Stored as an ndarray; None registers an absent buffer (left out of state_dict).
        """
        if "_buffer_names" not in self.__dict__:
            object.__setattr__(self, "_buffer_names", set())
        self._buffer_names.add(name)
        self.__dict__.pop(name, None)
        self._buffers[name] = value if value is None else np.asarray(value)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (``torch.nn.Module.register_parameter``).

        Parameters
        ----------
        name : str
            Attribute and state_dict name.
        param : Parameter or None
            None registers an absent optional parameter (e.g. ``bias=False``): the attribute
            reads None and state_dict leaves it out.
        """
        if param is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: "Module") -> None:
        """Register ``module`` as the child ``name`` (the same as ``setattr(self, name, module)``).

        Parameters
        ----------
        name : str
            The child's name: the prefix of its entries in state_dict (``"name.weight"``).
        module : Module
        """
        setattr(self, name, module)

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        """The layer's computation; every subclass defines it (``module(x)`` calls it).

        Parameters
        ----------
        *args, **kwargs
            The inputs, as the subclass defines them.

        Raises
        ------
        NotImplementedError
            If the subclass did not define ``forward``.
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = ""):
        """Yield ``(dotted_name, module)`` for this module and every submodule, depth first."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            children = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for k, m in self._modules.items():
            if m is not None:
                yield k, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix: str = ""):
        """Yield ``(dotted_name, Parameter)``, each shared parameter once."""
        seen = set()
        for mname, mod in self.named_modules(prefix):
            for pname, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self, prefix: str = ""):
        for mname, mod in self.named_modules(prefix):
            for bname, b in mod._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active, BatchNorm uses batch statistics) recursively."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad[...] = 0

    def requires_grad_(self, flag: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = flag
        return self

    # ------------------------------------------------------------------ state
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameters and buffers as copies of their arrays, with PyTorch's dotted names."""
        out = OrderedDict()
        for mname, mod in self.named_modules():
            for pname, p in mod._parameters.items():
                if p is not None:
                    out[f"{mname}.{pname}" if mname else pname] = p.data.copy()
            for bname, b in mod._buffers.items():
                if b is not None:
                    out[f"{mname}.{bname}" if mname else bname] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays from ``state_dict`` into parameters and buffers (in place).

        Parameters
        ----------
        state_dict : mapping of str to ndarray, Tensor or array-like
            PyTorch's dotted names (``"conv1.weight"``); each array has its target's shape
            and is cast to its dtype.
        strict : bool
            Require exactly the model's names: none missing, none unexpected.

        Raises
        ------
        ValueError
            Listing every missing, unexpected (when ``strict``) and wrongly shaped entry.

        Returns
        -------
        (missing_keys, unexpected_keys) when ``strict`` is False.
        """
        targets = {}
        for mname, mod in self.named_modules():
            for pname, p in mod._parameters.items():
                if p is not None:
                    targets[f"{mname}.{pname}" if mname else pname] = (mod, pname, "param")
            for bname, b in mod._buffers.items():
                if b is not None:
                    targets[f"{mname}.{bname}" if mname else bname] = (mod, bname, "buffer")
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        wrong = []
        for k, (mod, name, kind) in targets.items():
            if k in state_dict:
                cur = mod._parameters[name].data if kind == "param" else mod._buffers[name]
                new = as_array(state_dict[k])
                if new.shape != cur.shape:
                    wrong.append(f"{k}: expected {cur.shape}, got {new.shape}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if wrong:
            problems.append("wrong shapes: " + "; ".join(wrong))
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__} failed; " + " | ".join(problems))
        for k, (mod, name, kind) in targets.items():
            if k not in state_dict:
                continue
            new = as_array(state_dict[k])
            if kind == "param":  # copied into the existing array, cast to its dtype
                np.copyto(mod._parameters[name].data, new, casting="unsafe")
            else:
                b = mod._buffers[name]
                mod._buffers[name] = new.astype(b.dtype, copy=True)
        return missing, unexpected

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        """One-line description of the layer's settings, shown inside its repr."""
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        children = list(self.named_children())
        if not children:
            return lines[0] + ")"
        for name, child in children:
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return "\n".join(lines) + "\n)"

    def summary(self, input_shape, **kwargs) -> str:
        """A table of layer, type, output shape and parameters (``nn.summary.summary``).

        Parameters
        ----------
        input_shape : tuple of int, or list of them
            One example's shape without the batch axis, e.g. ``(3, 64, 300)``.
        **kwargs
            ``batch_size``, ``dtype``, ``depth``: see ``nn.summary.summary``.

        Returns
        -------
        str
        """
        from .summary import summary
        return summary(self, input_shape, **kwargs)
