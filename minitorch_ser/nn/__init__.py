"""Layers: ``Module`` and its subclasses, with PyTorch's names and weight layouts."""

from .module import Module, Parameter
