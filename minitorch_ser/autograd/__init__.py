"""The autograd core: ``Tensor``, ``Function``, the differentiable ops, ``gradcheck``, seeding.

It knows no layer, dataset or model: ``nn``, ``optim``, ``data`` and ``models`` are built on it.
"""
