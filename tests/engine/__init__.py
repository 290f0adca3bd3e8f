"""Tests of the autograd engine (Tensor, Function, ops, gradcheck) and of the core layers."""
