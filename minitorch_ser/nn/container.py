"""Containers: `Sequential` (chain of layers) and `ModuleList` (indexable list of layers).

Children are registered under the names "0", "1", ..., so state_dict keys read
``"0.weight"``, ``"2.bias"`` exactly as in torch.nn.
"""

from __future__ import annotations

from collections import OrderedDict

from .module import Module


def _check_module(value, owner: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{owner} holds Modules only, got {type(value).__name__}")
    return value


def _index(i: int, n: int, owner: str) -> int:
    """Normalise a (possibly negative) index into [0, n)."""
    if not -n <= i < n:
        raise IndexError(f"{owner} index {i} is out of range for {n} module(s)")
    return i % n


class Sequential(Module):
    """Apply modules in order: ``y = m_k(... m_2(m_1(x)))``.

    Parameters
    ----------
    *modules : Module, or a single OrderedDict of name -> Module
        The layers, registered as "0", "1", ... (or under the OrderedDict's names).
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, _check_module(m, "Sequential"))
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), _check_module(m, "Sequential"))

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end under the next free integer name."""
        self.add_module(str(len(self._modules)), _check_module(module, "Sequential"))
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):  # a new Sequential sharing the selected layers
            return Sequential(OrderedDict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]


class ModuleList(Module):
    """A list of modules, registered so that their parameters are found (torch.nn.ModuleList).

    It has no ``forward``: the owning module decides how its entries are called.

    Parameters
    ----------
    modules : iterable of Module, optional
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _renumber(self, modules: list) -> None:
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self._modules)), _check_module(module, "ModuleList"))
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``, renumbering the entries "0", "1", ...

        Parameters
        ----------
        index : int
            Position, as ``list.insert`` (negative counts from the end; past the end appends).
        module : Module

        Raises
        ------
        TypeError
            If ``module`` is not a Module.
        """
        mods = list(self._modules.values())
        mods.insert(index, _check_module(module, "ModuleList"))
        self._renumber(mods)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[_index(idx, len(mods), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        i = _index(idx, len(self._modules), "ModuleList")
        self.add_module(str(i), _check_module(module, "ModuleList"))

    def __delitem__(self, idx) -> None:
        mods = list(self._modules.values())
        del mods[idx if isinstance(idx, slice) else _index(idx, len(mods), "ModuleList")]
        self._renumber(mods)

    def forward(self, *args, **kwargs):
        """Not callable (``torch.nn.ModuleList`` has no forward either).

        Parameters
        ----------
        *args, **kwargs
            Ignored.

        Raises
        ------
        TypeError
            Always: iterate over the list and call its modules.
        """
        raise TypeError("ModuleList is not callable: iterate over it and call its modules")
