"""Keras conventions that torch.nn has no single layer for, used to port Keras models.

The second paper's models are Keras models. Four of their building blocks have no one-to-one
torch.nn layer, so they are here, each built on a torch-style layer and keeping its parameter
names (``weight``, ``bias``), so that state dicts keep PyTorch's layout:

- ``Conv2dReLU`` and ``LinearReLU``: Keras's ``Conv2D(..., activation='relu')`` and
  ``Dense(..., activation='relu')``, one layer (and one row of a model summary) each, as in
  the paper's tables;
- ``ToSequence``: Keras's ``Reshape((T, F * C))`` of a channels-last feature map, i.e. the
  feature order that lets a Keras kernel of the next layer port without permuting its rows;
- ``Add``: Keras's ``Add`` layer (a residual sum that shows as a row of the summary);
- ``keras_init_``: re-draw a model's weights as Keras initialises its layers.

Keras's attention layer, ``MultiHeadAttention(num_heads, key_dim)``, is
``minitorch_ser.nn.attention.KerasMultiHeadAttention`` (it shares its computation with
PyTorch's ``MultiheadAttention``).
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor, as_tensor
from . import functional as F
from . import init
from .conv import Conv2d
from .linear import Linear
from .module import Module
from .recurrent import GRU, LSTM

__all__ = ["Conv2dReLU", "LinearReLU", "ToSequence", "Add", "keras_init_"]


class Conv2dReLU(Conv2d):
    """``relu(conv2d(x))``: Keras's ``Conv2D(..., activation='relu')``, one row in a summary.

    Same parameters, names, shapes and initialisation as ``Conv2d``:
    x : (N, C, H, W) -> (N, O, Ho, Wo), all values >= 0.
    """

    def forward(self, x) -> Tensor:
        """x : (N, C, H, W) -> ``relu(Conv2d.forward(x))`` : (N, O, Ho, Wo)."""
        return F.relu(super().forward(x))


class LinearReLU(Linear):
    """``relu(x W^T + b)``: Keras's ``Dense(..., activation='relu')``, one row in a summary.

    Same parameters, names, shapes and initialisation as ``Linear``:
    x : (*, in_features) -> (*, out_features), all values >= 0.

    A sequence (N, T, F) is applied as one (N*T, F) @ (F, O) product and reshaped back: a
    batched (N, T, F) @ (F, O) matmul would form dL/dW as N per-sample (F, O) products summed
    afterwards, an (N, F, O) temporary (400 MB for Figure 7's 4096 -> 768 Dense at batch 32).
    """

    def forward(self, x) -> Tensor:
        """x : (*, in_features) -> ``relu(linear(x, weight, bias))`` : (*, out_features)."""
        x = as_tensor(x)
        if x.ndim <= 2:
            return F.relu(super().forward(x))
        lead = x.shape[:-1]
        y = super().forward(x.reshape(-1, x.shape[-1]))         # (N*T, out_features)
        return F.relu(y).reshape(*lead, self.out_features)


class ToSequence(Module):
    """Feature maps to a sequence of vectors, in the order of Keras's ``Reshape``.

    ``seq[n, t, f * C + c] = x[n, c, t, f]``: time stays an axis, and each step's vector lists
    the C channels of frequency bin 0, then those of bin 1, and so on. That is the order of
    Keras's ``Reshape((T, F * C))`` of its channels-last (T, F, C) map, so a Keras kernel of the
    next layer (Dense or LSTM, shape (F * C, units)) ports as its plain transpose.

    Shapes
    ------
    x : (N, C, T, F) -> (N, T, F * C)

    Raises
    ------
    ValueError
        If x is not 4-D.
    """

    def forward(self, x) -> Tensor:
        """x : (N, C, T, F) -> (N, T, F * C), ``x.permute(0, 2, 3, 1)`` flattened per step."""
        x = as_tensor(x)
        if x.ndim != 4:
            raise ValueError(f"ToSequence expects feature maps (N, C, T, F), got shape {x.shape}")
        n, c, t, f = x.shape
        return x.permute(0, 2, 3, 1).reshape(n, t, f * c)   # (N, T, F, C) -> (N, T, F*C)


class Add(Module):
    """Elementwise sum of two tensors of the same shape (Keras's ``Add``): the residual.

    Raises
    ------
    ValueError
        If the shapes differ (no broadcasting, as Keras).
    """

    def forward(self, a, b) -> Tensor:
        """``a + b``.

        Parameters
        ----------
        a, b : Tensor, the same shape (*)

        Returns
        -------
        Tensor (*)
        """
        if a.shape != b.shape:
            raise ValueError(f"Add: shapes {a.shape} and {b.shape} must be equal")
        return a + b


def keras_init_(module: Module, rng: np.random.Generator | None = None) -> Module:
    """Re-draw ``module``'s direct children's weights as Keras initialises its layers.

    - ``Conv2d`` / ``Linear`` (Conv2D / Dense, including the ReLU variants): kernel
      Glorot-uniform, ``U(-b, b)``, ``b = sqrt(6 / (fan_in + fan_out))`` (fan_in = C kh kw,
      fan_out = O kh kw); bias 0.
    - ``LSTM`` / ``GRU``: ``weight_ih`` Glorot-uniform (fan_in = F, fan_out = G H),
      ``weight_hh`` orthogonal (orthonormal columns, as Keras's orthogonal (H, G H) kernel),
      biases 0; the LSTM's forget-gate block (rows [H, 2H)) of its first bias vector is 1
      (Keras's ``unit_forget_bias=True``).
    - ``KerasMultiHeadAttention`` is already initialised as Keras does; norms start at weight
      1, bias 0 in both frameworks. Other children are left unchanged.

    The children are visited in registration order, each drawing from ``rng`` in turn.

    Parameters
    ----------
    module : Module
        The model whose direct children are re-initialised in place.
    rng : numpy.random.Generator, optional
        Source of the draws (default: ``minitorch_ser.autograd.random.default_generator()``).

    Returns
    -------
    Module
        ``module`` itself.
    """
    for child in module.children():
        if isinstance(child, (Conv2d, Linear)):
            init.xavier_uniform_(child.weight, rng=rng)
            if child.bias is not None:
                init.zeros_(child.bias)
        elif isinstance(child, (LSTM, GRU)):
            H = child.hidden_size
            for group in child._flat_weights():
                w_ih, w_hh, biases = group[0], group[1], group[2:]
                init.xavier_uniform_(w_ih, rng=rng)
                init.orthogonal_(w_hh, rng=rng)
                for b in biases:
                    init.zeros_(b)
                if isinstance(child, LSTM) and biases:
                    biases[0].data[H:2 * H] = 1.0
    return module
