"""Multi-head attention layers: PyTorch's ``MultiheadAttention`` and Keras's layout.

Attention lets every query position look at every key position and take a weighted average of
the values there (Vaswani et al., 2017, "Attention is all you need", eq. (1)):

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d)) V

with Q : (L, d) queries, K : (S, d) keys, V : (S, d_v) values; row i of the (L, S) weight matrix
is a probability distribution over the S keys (``F.scaled_dot_product_attention``, in
``functional.py``). Multi-head attention (eq. (4)-(5)) projects the inputs ``h`` times with
different learned matrices, attends in each of these ``h`` subspaces of size ``d``
independently, concatenates the ``h`` results and projects them back:

    head_j = Attention(x_q W_j^Q, x_k W_j^K, x_v W_j^V),   MHA = concat(head_1..head_h) W^O

Everything is composed from engine ops (matmul, softmax, reshape, permute), so the backward
pass comes from the chain rule through those ops; no hand-written gradient is needed here.

Two classes, one computation (``_MultiheadAttentionBase.forward``), two parameter layouts,
because the two papers' frameworks differ:

- ``MultiheadAttention(embed_dim, num_heads, kdim=None, vdim=None)``: PyTorch's
  ``nn.MultiheadAttention``, names, meanings and defaults included. Head size E / h. One packed
  input projection ``in_proj_weight`` (3E, E) holding [W^Q; W^K; W^V] and ``in_proj_bias``
  (3E,), and an output projection ``out_proj``, a ``Linear`` (``out_proj.weight`` (E, E),
  ``out_proj.bias`` (E,)). As in PyTorch, ``kdim`` and ``vdim`` are the *feature sizes of the
  key and value inputs* (default E); when either differs from E the input projections are
  separate, ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim).
- ``KerasMultiHeadAttention(embed_dim, num_heads, key_dim)``: Keras's
  ``MultiHeadAttention(num_heads=h, key_dim=D)``, whose parameter counts the second paper
  reports. Keras's ``key_dim`` is the *size of each head*, D, independent of E (not PyTorch's
  ``kdim``). Separate ``Linear`` projections ``q_proj``, ``k_proj``, ``v_proj`` (E -> h*D,
  with bias) and ``out_proj`` (h*D -> E, with bias). For E = 128, h = 2, D = 32:
  3 (128*64 + 64) + (64*128 + 128) = 33,088 parameters, as in the paper's Figures 7 and 9;
  with D = 128, 131,968 as in its Figure 8.

Both take PyTorch's call (``forward(query, key, value, key_padding_mask, need_weights,
attn_mask, average_attn_weights)``) and PyTorch's default layout ``batch_first=False``:
sequences (L, N, E); the library's models pass ``batch_first=True`` and feed (N, L, E).
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import ops
from ..autograd.tensor import Tensor, as_array, as_tensor
from . import init
from .functional import scaled_dot_product_attention
from .linear import Linear
from .module import Module, Parameter

__all__ = ["MultiheadAttention", "KerasMultiHeadAttention", "scaled_dot_product_attention"]


def _positive_int(value, name: str, layer: str) -> int:
    if isinstance(value, bool) or int(value) != value or value <= 0:
        raise ValueError(f"{layer}: {name}={value} must be a positive int")
    return int(value)


# ============================================================================ the computation
class _MultiheadAttentionBase(Module):
    """What both layouts share: argument checks, layout, head split, attention, head merge.

    A subclass creates the parameters and defines ``_project_inputs``, which maps the inputs
    (N, L, E), (N, S, kdim), (N, S, vdim) to Q (N, L, h*d), K (N, S, h*d), V (N, S, h*d), and
    an ``out_proj`` Linear (h*d -> E).

    Parameters
    ----------
    embed_dim : int > 0
        E, the feature size of the query and of the output.
    num_heads : int > 0
        h, the number of heads.
    dropout : float in [0, 1)
        Dropout probability on the attention weights, in training mode only.
    batch_first : bool
        Inputs and output are (N, L, E) if True, (L, N, E) if False.
    rng : numpy Generator, optional
        Draws the initial weights and the dropout masks.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float, batch_first: bool,
                 rng: np.random.Generator | None):
        super().__init__()
        layer = type(self).__name__
        self.embed_dim = _positive_int(embed_dim, "embed_dim", layer)
        self.num_heads = _positive_int(num_heads, "num_heads", layer)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{layer}: dropout={dropout} must be in [0, 1)")
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.rng = rng
        # feature sizes of the key and value inputs (PyTorch's kdim / vdim); E unless a
        # subclass says otherwise
        self.kdim = self.vdim = self.embed_dim

    # ------------------------------------------------------------------ helpers
    def _combined_mask(self, key_padding_mask, attn_mask, N: int, L: int, S: int, dtype):
        """One additive mask (0 allowed, -inf masked) broadcastable to (N, h, L, S), or None."""
        h, layer = self.num_heads, type(self).__name__
        total = None
        if key_padding_mask is not None:
            kpm = as_array(key_padding_mask)
            if kpm.shape != (N, S):
                raise ValueError(f"{layer}: key_padding_mask must have shape "
                                 f"(N, S) = {(N, S)}, got {kpm.shape}")
            total = _additive(kpm, "key_padding_mask", dtype, layer)[:, None, None, :]  # (N, 1, 1, S)
        if attn_mask is not None:
            am = as_array(attn_mask)
            if am.shape == (L, S):
                add = _additive(am, "attn_mask", dtype, layer)                           # (L, S)
            elif am.shape == (N * h, L, S):
                add = _additive(am, "attn_mask", dtype, layer).reshape(N, h, L, S)
            else:
                raise ValueError(f"{layer}: attn_mask must have shape (L, S) = "
                                 f"{(L, S)} or (N*num_heads, L, S) = {(N * h, L, S)}, "
                                 f"got {am.shape}")
            total = add if total is None else total + add
        return total

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        layer = type(self).__name__
        sizes = (("query", query, self.embed_dim, "embed_dim"), ("key", key, self.kdim, "kdim"),
                 ("value", value, self.vdim, "vdim"))
        for name, x, size, label in sizes:
            if x.ndim != 3:
                layout = "(N, T, features)" if self.batch_first else "(T, N, features)"
                raise ValueError(f"{layer} expects {name} of rank 3 {layout} with "
                                 f"{size} features ({label}), got shape {x.shape}")
            if x.shape[-1] != size:
                raise ValueError(f"{layer}(embed_dim={self.embed_dim}): {name} has "
                                 f"{x.shape[-1]} features, shape {x.shape}; expected "
                                 f"{label}={size}")
        batch_axis = 0 if self.batch_first else 1
        seq_axis = 1 - batch_axis
        if not query.shape[batch_axis] == key.shape[batch_axis] == value.shape[batch_axis]:
            raise ValueError(f"{layer}: query {query.shape}, key {key.shape} and "
                             f"value {value.shape} must have the same batch size "
                             f"(axis {batch_axis})")
        if key.shape[seq_axis] != value.shape[seq_axis]:
            raise ValueError(f"{layer}: key {key.shape} and value {value.shape} "
                             f"must have the same length S (axis {seq_axis})")
        if key.shape[seq_axis] == 0 or query.shape[seq_axis] == 0:
            raise ValueError(f"{layer}: sequences of length 0 are not allowed, got "
                             f"query {query.shape} and key {key.shape}")

    # ------------------------------------------------------------------ forward
    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True):
        """Attend from ``query`` to ``key`` / ``value`` (``torch.nn.MultiheadAttention.forward``).

        Parameters
        ----------
        query : Tensor (L, N, E), or (N, L, E) with ``batch_first=True``
            For self-attention pass the same tensor three times.
        key : Tensor (S, N, kdim), or (N, S, kdim) with ``batch_first=True``
        value : Tensor (S, N, vdim), or (N, S, vdim) with ``batch_first=True``
        key_padding_mask : bool or float array (N, S), optional
            Boolean: True marks a key to ignore (padding). Floating: added to the scores.
        need_weights : bool
            Return the attention weights as the second output (else None).
        attn_mask : bool or float array (L, S) or (N*h, L, S), optional
            Boolean: True marks a (query, key) pair that may not attend. Floating: added.
        average_attn_weights : bool
            Average the weights over heads: (N, L, S); else per head (N, h, L, S).

        Returns
        -------
        output : Tensor (L, N, E), or (N, L, E) with ``batch_first=True``
        weights : Tensor (N, L, S) or (N, h, L, S), or None
            The softmax weights after dropout, as PyTorch returns them (batch first whatever
            ``batch_first`` is). In eval mode each row sums to 1 over the unmasked keys; masked
            keys have weight exactly 0 (a query with every key masked gets all-zero weights
            and outputs only ``out_proj.bias``).

        Raises
        ------
        ValueError
            If an input is not 3-D with its feature size, the batch sizes or key / value
            lengths differ, a length is 0, or a mask has the wrong shape or dtype.
        """
        query, key, value = as_tensor(query), as_tensor(key), as_tensor(value)
        self._check_inputs(query, key, value)
        if not self.batch_first:  # (T, N, E) -> (N, T, E); keep identity for the fast path
            same = query is key and key is value
            query = query.transpose(0, 1)
            key, value = (query, query) if same else (key.transpose(0, 1), value.transpose(0, 1))
        N, L, _ = query.shape
        S = key.shape[1]
        h, d = self.num_heads, self.head_dim

        q, k, v = self._project_inputs(query, key, value)        # (N, L, h*d), (N, S, h*d) x2

        # split the feature axis into heads: (N, T, h*d) -> (N, h, T, d)
        # (contiguous copies, so that the batched matmuls run on BLAS)
        q = ops.contiguous(q.reshape(N, L, h, d).permute(0, 2, 1, 3))   # (N, h, L, d)
        k = ops.contiguous(k.reshape(N, S, h, d).permute(0, 2, 1, 3))   # (N, h, S, d)
        v = ops.contiguous(v.reshape(N, S, h, d).permute(0, 2, 1, 3))   # (N, h, S, d)

        mask = self._combined_mask(key_padding_mask, attn_mask, N, L, S, q.dtype)
        p = self.dropout if self.training else 0.0
        heads, weights = scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=p, rng=self.rng, return_weights=True)
        # heads: (N, h, L, d); weights: (N, h, L, S)

        # concatenate the heads side by side and mix them: (N, h, L, d) -> (N, L, h*d) -> (N, L, E);
        # contiguous here makes the gradient reaching `weights @ v` contiguous in backward
        out = ops.contiguous(heads).permute(0, 2, 1, 3).reshape(N, L, h * d)
        out = self.out_proj(out)                                  # (N, L, E)
        if not self.batch_first:
            out = out.transpose(0, 1)                             # (L, N, E)

        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)                        # (N, L, S)
        return out, weights


# ============================================================================ PyTorch's layout
class MultiheadAttention(_MultiheadAttentionBase):
    """Multi-head scaled dot-product attention, ``torch.nn.MultiheadAttention``.

    For each head j (of ``h = num_heads``) and head size ``d = E / h``::

        Q_j = x_q W_j^Q + b_j^Q,  K_j = x_k W_j^K + b_j^K,  V_j = x_v W_j^V + b_j^V
        A_j = softmax(Q_j K_j^T / sqrt(d) + M)                      (L, S) per batch element
        head_j = A_j V_j                                            (L, d)
        output = concat(head_1, ..., head_h) W^O + b^O              (L, E)

    where ``M`` is 0 for allowed and -inf for masked (query, key) pairs. All heads are computed
    at once as a batched matmul over a (N, h, L, d) tensor. For Keras's layout, with a head
    size of its own, see ``KerasMultiHeadAttention``.

    Parameters
    ----------
    embed_dim : int > 0
        E, the feature size of the query and of the output; divisible by ``num_heads``.
    num_heads : int > 0
        h, the number of heads; each has size E / h.
    dropout : float in [0, 1)
        Dropout on the attention weights, in training mode only.
    bias : bool
        Whether the input and output projections have biases.
    kdim : int > 0, optional
        Feature size of the ``key`` input (PyTorch's meaning); E when None.
    vdim : int > 0, optional
        Feature size of the ``value`` input; E when None.
    batch_first : bool
        Inputs and output are (L, N, ·) if False (PyTorch's default), (N, L, ·) if True (the
        library's models pass True).
    rng : numpy Generator, optional
        Draws the initial weights and the dropout masks; the library's default generator
        (``minitorch_ser.autograd.random``) when None.

    Attributes
    ----------
    in_proj_weight : Parameter (3E, E)
        [W^Q; W^K; W^V] stacked row-wise, when ``kdim == vdim == E``; else None.
    q_proj_weight, k_proj_weight, v_proj_weight : Parameter (E, E), (E, kdim), (E, vdim)
        The separate projections, when ``kdim`` or ``vdim`` differs from E; else None.
    in_proj_bias : Parameter (3E,) or None
    out_proj : Linear (E -> E)

    Initialization (as PyTorch): the input projections Xavier-uniform, ``U(-b, b)`` with
    ``b = sqrt(6 / (fan_in + fan_out))`` (for the packed (3E, E) matrix ``b = sqrt(6 / 4E)``);
    ``out_proj.weight`` as ``nn.Linear``, ``U(-1/sqrt(E), 1/sqrt(E))``; all biases 0.

    Shapes
    ------
    query : (L, N, E), key : (S, N, kdim), value : (S, N, vdim) -> output (L, N, E);
    (N, L, E), (N, S, kdim), (N, S, vdim) -> (N, L, E) with ``batch_first=True``;
    weights (N, L, S) averaged over heads or (N, h, L, S) per head.

    Raises
    ------
    ValueError
        If a size is not a positive int, E is not divisible by h, or dropout is not in [0, 1).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 *, kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 rng: np.random.Generator | None = None):
        super().__init__(embed_dim, num_heads, dropout, batch_first, rng)
        E, h = self.embed_dim, self.num_heads
        if E % h != 0:
            raise ValueError(f"MultiheadAttention: embed_dim={embed_dim} must be divisible by "
                             f"num_heads={num_heads} (head size embed_dim / num_heads); "
                             f"KerasMultiHeadAttention(embed_dim, num_heads, key_dim) has a "
                             f"free head size")
        self.kdim = E if kdim is None else _positive_int(kdim, "kdim", "MultiheadAttention")
        self.vdim = E if vdim is None else _positive_int(vdim, "vdim", "MultiheadAttention")
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        self.head_dim = E // h

        if self._qkv_same_embed_dim:
            # [W^Q; W^K; W^V] packed row-wise, each block (E, E)
            self.in_proj_weight = Parameter(np.zeros((3 * E, E), dtype=np.float32))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(np.zeros((E, E), dtype=np.float32))
            self.k_proj_weight = Parameter(np.zeros((E, self.kdim), dtype=np.float32))
            self.v_proj_weight = Parameter(np.zeros((E, self.vdim), dtype=np.float32))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * E, dtype=np.float32))
        else:
            self.register_parameter("in_proj_bias", None)
        # out_proj keeps nn.Linear's weight init, kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(E))
        self.out_proj = Linear(E, E, bias=bias, rng=rng)
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight, rng=rng)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w, rng=rng)
        # every bias starts at 0 (Linear's own bias init is overwritten)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                init.zeros_(p)

    def extra_repr(self) -> str:
        sizes = "" if self._qkv_same_embed_dim else f", kdim={self.kdim}, vdim={self.vdim}"
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}{sizes}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")

    def _project_inputs(self, query: Tensor, key: Tensor, value: Tensor):
        """Q (N, L, E), K (N, S, E), V (N, S, E) from (N, L, E), (N, S, kdim), (N, S, vdim)."""
        E = self.embed_dim
        b = self.in_proj_bias
        if self._qkv_same_embed_dim and query is key and key is value:
            # self-attention: one (N*L, E) @ (E, 3E) matmul, then split into Q, K, V
            N, L, _ = query.shape
            qkv = query.reshape(N * L, E) @ self.in_proj_weight.T        # (N*L, 3E)
            if b is not None:
                qkv = qkv + b
            q, k, v = ops.split(qkv, E, axis=-1)
            return q.reshape(N, L, E), k.reshape(N, L, E), v.reshape(N, L, E)
        if self._qkv_same_embed_dim:
            W = self.in_proj_weight
            weights = [W[i * E:(i + 1) * E] for i in range(3)]           # (E, E) each
        else:
            weights = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        outs = []
        for i, (x, w) in enumerate(zip((query, key, value), weights)):
            N, T, features = x.shape
            y = x.reshape(N * T, features) @ w.T                         # (N*T, E)
            if b is not None:
                y = y + b[i * E:(i + 1) * E]
            outs.append(y.reshape(N, T, E))
        return tuple(outs)


# ============================================================================ Keras's layout
class KerasMultiHeadAttention(_MultiheadAttentionBase):
    """Multi-head attention with Keras's parameter layout and head size,
    ``keras.layers.MultiHeadAttention(num_heads, key_dim)``, called like PyTorch's layer.

    The equations are ``MultiheadAttention``'s with a head size ``d = key_dim`` chosen freely
    (Keras's ``key_dim`` is the size of each head, not PyTorch's ``kdim``): the projections map
    E -> h*D and back, so h*D need not equal E. Keras's value heads have the key heads' size
    (its default ``value_dim = key_dim``), and query, key and value all have E features.

    Parameters
    ----------
    embed_dim : int > 0
        E, the feature size of query, key, value and output (Keras infers it from the query).
    num_heads : int > 0
        h, the number of heads.
    key_dim : int > 0
        D, the size of each head (Keras's ``key_dim``).
    dropout : float in [0, 1)
        Dropout on the attention weights, in training mode only.
    bias : bool
        Keras's ``use_bias``: whether the four projections have biases.
    batch_first : bool
        Inputs and output are (L, N, E) if False (the library's layer default, PyTorch's),
        (N, L, E) if True (Keras's only layout; the library's models pass True).
    rng : numpy Generator, optional
        Draws the initial weights and the dropout masks.

    Attributes
    ----------
    q_proj, k_proj, v_proj : Linear (E -> h*D)
        ``weight`` (h*D, E), ``bias`` (h*D,). Keras's kernels convert as
        ``query_kernel[e, j, k] = q_proj.weight[j*D + k, e]`` (likewise key and value).
    out_proj : Linear (h*D -> E)
        ``weight`` (E, h*D), ``bias`` (E,); ``output_kernel[j, k, e] = out_proj.weight[e, j*D + k]``.
    head_dim : int
        D.

    Parameter count: ``3 (E h D + h D) + (h D E + E)``: 33,088 for E = 128, h = 2, D = 32
    (the second paper's Figures 7 and 9) and 131,968 for D = 128 (its Figure 8).

    Initialization (as Keras's ``glorot_uniform``, which computes fans on its 3-D kernels):
    q, k, v kernels of shape (E, h, D) have fan_in = E h, fan_out = E D, so
    ``b = sqrt(6 / (E (h + D)))``; the output kernel (h, D, E) has fan_in = h D, fan_out = h E,
    so ``b = sqrt(6 / (h (D + E)))``; all biases 0.

    Shapes
    ------
    As ``MultiheadAttention`` with kdim = vdim = E.

    Raises
    ------
    ValueError
        If a size is not a positive int or dropout is not in [0, 1).
    """

    def __init__(self, embed_dim: int, num_heads: int, key_dim: int, dropout: float = 0.0,
                 bias: bool = True, *, batch_first: bool = False,
                 rng: np.random.Generator | None = None):
        super().__init__(embed_dim, num_heads, dropout, batch_first, rng)
        self.key_dim = _positive_int(key_dim, "key_dim", "KerasMultiHeadAttention")
        self.head_dim = self.key_dim
        E, h, d = self.embed_dim, self.num_heads, self.head_dim
        inner = h * d                                   # size of all heads side by side
        self.q_proj = Linear(E, inner, bias=bias, rng=rng)
        self.k_proj = Linear(E, inner, bias=bias, rng=rng)
        self.v_proj = Linear(E, inner, bias=bias, rng=rng)
        self.out_proj = Linear(inner, E, bias=bias, rng=rng)
        # Keras's glorot_uniform on its 3-D einsum kernels (see the class docstring)
        b_in = math.sqrt(6.0 / (E * (h + d)))
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            init.uniform_(proj.weight, -b_in, b_in, rng=rng)
        b_out = math.sqrt(6.0 / (h * (d + E)))
        init.uniform_(self.out_proj.weight, -b_out, b_out, rng=rng)
        # every bias starts at 0 in Keras (Linear's own bias init is overwritten)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                init.zeros_(p)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"key_dim={self.key_dim}, dropout={self.dropout}, batch_first={self.batch_first}")

    def _project_inputs(self, query: Tensor, key: Tensor, value: Tensor):
        """Q (N, L, h*D), K (N, S, h*D), V (N, S, h*D) from the (N, *, E) inputs."""
        return self.q_proj(query), self.k_proj(key), self.v_proj(value)


def _additive(mask: np.ndarray, name: str, dtype, layer: str) -> np.ndarray:
    """A boolean mask (True = masked) as 0 / -inf, or a floating mask as is, in ``dtype``."""
    if mask.dtype == bool:
        return np.where(mask, -np.inf, 0.0).astype(dtype)
    if np.issubdtype(mask.dtype, np.floating):
        return mask.astype(dtype, copy=False)
    raise ValueError(f"{layer}: {name} must be boolean (True = masked) or floating "
                     f"(added to the scores), got dtype {mask.dtype}")
