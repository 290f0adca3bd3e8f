"""Scaled dot-product attention and the multi-head attention layer.

Attention lets every query position look at every key position and take a weighted average of
the values there (Vaswani et al., 2017, "Attention is all you need", eq. (1)):

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d)) V

with Q : (L, d) queries, K : (S, d) keys, V : (S, d_v) values; row i of the (L, S) weight matrix
is a probability distribution over the S keys. Multi-head attention (eq. (4)-(5)) projects the
inputs ``h`` times with different learned matrices, attends in each of these ``h`` subspaces of
size ``d`` independently, concatenates the ``h`` results and projects them back:

    head_j = Attention(x_q W_j^Q, x_k W_j^K, x_v W_j^V),   MHA = concat(head_1..head_h) W^O

Everything is composed from engine ops (matmul, softmax, reshape, permute), so the backward
pass comes from the chain rule through those ops; no hand-written gradient is needed here.

Two parameter layouts are offered, because the two papers' frameworks differ:

- ``key_dim=None``: PyTorch's ``nn.MultiheadAttention``: one packed input projection
  ``in_proj_weight`` (3E, E) holding [W^Q; W^K; W^V] and ``in_proj_bias`` (3E,), and an
  output projection ``out_proj``, a ``Linear`` (``out_proj.weight`` (E, E), ``out_proj.bias``
  (E,)); head size E / h.
- ``key_dim=D``: Keras's ``MultiHeadAttention(num_heads=h, key_dim=D)``, whose parameter counts
  the second paper reports: separate ``Linear`` projections ``q_proj``, ``k_proj``, ``v_proj``
  (E -> h*D, with bias) and ``out_proj`` (h*D -> E, with bias); head size D, independent of E.
  For E = 128, h = 2, D = 32: 3 (128*64 + 64) + (64*128 + 128) = 33,088 parameters, as in the
  paper's Figures 7 and 9; with D = 128, 131,968 as in its Figure 8.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import ops
from ..autograd.function import Function
from ..autograd.random import default_generator
from ..autograd.tensor import Tensor
from . import init
from .linear import Linear
from .module import Module, Parameter


# ============================================================================ the function
class _Contiguous(Function):
    """Identity that lays its input out C-contiguously in memory, and its gradient too.

    np.matmul hands a stack of matrices to BLAS only when each matrix has a unit stride along
    one axis; the head-split views made by ``permute`` (N, h, T, d) do not, and a batched
    matmul on them falls back to a loop about 20x slower. One copy here keeps every attention
    matmul, forward and backward, on BLAS.
    """

    @staticmethod
    def forward(ctx, a):
        return np.ascontiguousarray(a)

    @staticmethod
    def backward(ctx, g):
        return np.ascontiguousarray(g)


def _contiguous(x: Tensor) -> Tensor:
    return _Contiguous.apply(x)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 rng: np.random.Generator | None = None,
                                 return_weights: bool = False):
    """Attention of every query over every key: ``softmax(Q K^T * scale + M) V``.

    Parameters
    ----------
    query : Tensor (..., L, d)
        Queries; ``...`` are batch axes (e.g. ``N, heads``), broadcast against key and value.
    key : Tensor (..., S, d)
        Keys, one per value.
    value : Tensor (..., S, d_v)
        Values that are averaged.
    attn_mask : ndarray or Tensor broadcastable to (..., L, S), optional
        Which keys each query may see. **PyTorch's convention for this function**: a boolean
        mask is True where attention is *allowed* (the opposite of ``MultiheadAttention``'s
        masks); a floating mask is added to the scores (use ``-inf`` to forbid a position).
    dropout_p : float in [0, 1)
        Probability of zeroing an attention weight (inverted dropout on the weights). Applied
        whenever > 0: pass 0 in evaluation mode.
    is_causal : bool
        Forbid query i to see keys j > i (an upper-triangular mask); excludes ``attn_mask``.
    scale : float > 0, optional
        Multiplier of the scores; ``1 / sqrt(d)`` by default, which keeps the scores of
        unit-variance inputs at unit variance whatever ``d`` is.
    rng : numpy Generator, optional
        Draws the dropout mask; ``minitorch_ser.autograd.random.default_generator()`` by default.
    return_weights : bool
        Also return the attention weights (PyTorch's function returns only the output).

    Returns
    -------
    output : Tensor (..., L, d_v)
        ``weights @ value``.
    weights : Tensor (..., L, S)
        Only when ``return_weights``: ``softmax(Q K^T * scale + M)`` along S (after dropout when
        ``dropout_p > 0``). Each row sums to 1 over the allowed keys, and forbidden keys get
        exactly 0. A query whose every key is forbidden gets all-zero weights and a zero output
        (PyTorch returns NaN there), so that padded batches never produce NaN gradients.
    """
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention needs query, key, value of rank >= 2, "
                         f"got shapes {query.shape}, {key.shape}, {value.shape}")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query's last axis {query.shape} must "
                         f"equal key's last axis {key.shape}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: key {key.shape} and value "
                         f"{value.shape} must have the same number of positions S (axis -2)")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either is_causal=True or "
                         "attn_mask, not both")
    L, S = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])

    # scores: how well each query matches each key, scaled so softmax does not saturate
    scores = (query * scale) @ key.transpose(-2, -1)                    # (..., L, S)

    if is_causal:
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        try:
            np.broadcast_shapes(mask.shape, scores.shape)
        except ValueError:
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {mask.shape} "
                             f"does not broadcast to the scores' shape {scores.shape} "
                             f"(..., L={L}, S={S})") from None
        if mask.dtype == bool:
            scores = scores.masked_fill(~mask, -np.inf)
        elif np.issubdtype(mask.dtype, np.floating):
            scores = scores + Tensor(mask.astype(scores.dtype, copy=False))
        else:
            raise ValueError(f"scaled_dot_product_attention: attn_mask must be boolean or "
                             f"floating, got dtype {mask.dtype}")

    # rows whose every score is -inf have no key to attend to: softmax would give 0/0 = NaN;
    # give them all-zero weights instead
    dead = np.isneginf(scores.data).all(axis=-1, keepdims=True)          # (..., L, 1)
    if dead.any():
        scores = scores.masked_fill(dead, 0.0)
    weights = scores.softmax(axis=-1)                                    # (..., L, S)
    if dead.any():
        weights = weights.masked_fill(dead, 0.0)

    if dropout_p > 0.0:
        weights = ops.dropout(weights, p=dropout_p, training=True, rng=rng or default_generator())
    output = weights @ value                                             # (..., L, d_v)
    return (output, weights) if return_weights else output


# ============================================================================ the layer
class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention (PyTorch's or Keras's parameter layout).

    For each head j (of ``h = num_heads``) and head size ``d``::

        Q_j = x_q W_j^Q + b_j^Q,  K_j = x_k W_j^K + b_j^K,  V_j = x_v W_j^V + b_j^V
        A_j = softmax(Q_j K_j^T / sqrt(d) + M)                      (L, S) per batch element
        head_j = A_j V_j                                            (L, d)
        output = concat(head_1, ..., head_h) W^O + b^O              (L, E)

    where ``M`` is 0 for allowed and -inf for masked (query, key) pairs. All heads are computed
    at once as a batched matmul over a (N, h, L, d) tensor.

    Parameters
    ----------
    embed_dim : int > 0
        E, the feature size of query, key and value and of the output.
    num_heads : int > 0
        h, the number of heads. With ``key_dim=None``, E must be divisible by h.
    dropout : float in [0, 1)
        Dropout on the attention weights, in training mode only.
    bias : bool
        Whether the input and output projections have biases.
    batch_first : bool
        Inputs and output are (N, L, E) if True (the library's layout), (L, N, E) if False.
    key_dim : int > 0, optional
        None: PyTorch's layout, head size ``d = E / h``, parameters ``in_proj_weight`` (3E, E),
        ``in_proj_bias`` (3E,), ``out_proj.weight`` (E, E), ``out_proj.bias`` (E,).
        An int D: Keras's layout, head size ``d = D``, parameters ``q_proj.weight``,
        ``k_proj.weight``, ``v_proj.weight`` (h*D, E) with biases (h*D,), ``out_proj.weight``
        (E, h*D) and ``out_proj.bias`` (E,). Keras's kernels convert as
        ``query_kernel[e, j, k] = q_proj.weight[j*D + k, e]`` and
        ``output_kernel[j, k, e] = out_proj.weight[e, j*D + k]``.
    rng : numpy Generator, optional
        Draws the initial weights and the dropout masks; the library's default generator
        (``minitorch_ser.autograd.random``) when None.

    Initialization
    --------------
    PyTorch layout (as ``nn.MultiheadAttention``): ``in_proj_weight`` Xavier-uniform,
    ``U(-b, b)`` with ``b = sqrt(6 / (E + 3E))``; ``out_proj.weight`` as ``nn.Linear``,
    ``U(-1/sqrt(E), 1/sqrt(E))``; all biases 0.
    Keras layout (as ``MultiHeadAttention``'s ``glorot_uniform``, which computes fans on its
    3-D kernels): q, k, v kernels of shape (E, h, D) have fan_in = E h, fan_out = E D, so
    ``b = sqrt(6 / (E (h + D)))``; the output kernel (h, D, E) has fan_in = h D, fan_out = h E,
    so ``b = sqrt(6 / (h (D + E)))``; all biases 0.

    Shapes (batch_first=True)
    -------------------------
    query : (N, L, E), key : (N, S, E), value : (N, S, E) -> output (N, L, E),
    weights (N, L, S) averaged over heads or (N, h, L, S) per head.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True, key_dim: int | None = None,
                 rng: np.random.Generator | None = None):
        super().__init__()
        if int(embed_dim) != embed_dim or embed_dim <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim={embed_dim} must be a positive int")
        if int(num_heads) != num_heads or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: num_heads={num_heads} must be a positive int")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiheadAttention: dropout={dropout} must be in [0, 1)")
        if key_dim is None and embed_dim % num_heads != 0:
            raise ValueError(f"MultiheadAttention: embed_dim={embed_dim} must be divisible by "
                             f"num_heads={num_heads} (head size embed_dim / num_heads), "
                             f"or pass key_dim for Keras's layout")
        if key_dim is not None and (int(key_dim) != key_dim or key_dim <= 0):
            raise ValueError(f"MultiheadAttention: key_dim={key_dim} must be a positive int")
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.key_dim = None if key_dim is None else int(key_dim)
        self.head_dim = self.embed_dim // self.num_heads if key_dim is None else self.key_dim
        self.rng = rng
        E, h, d = self.embed_dim, self.num_heads, self.head_dim
        inner = h * d                                   # size of all heads side by side

        if self.key_dim is None:
            # PyTorch: [W^Q; W^K; W^V] packed row-wise, each block (E, E)
            self.in_proj_weight = Parameter(np.zeros((3 * E, E), dtype=np.float32))
            if bias:
                self.in_proj_bias = Parameter(np.zeros(3 * E, dtype=np.float32))
            else:
                self.register_parameter("in_proj_bias", None)
            # out_proj keeps nn.Linear's weight init, kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(E))
            self.out_proj = Linear(E, E, bias=bias, rng=rng)
            init.xavier_uniform_(self.in_proj_weight, rng=rng)
        else:
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
        # every bias starts at 0 in both frameworks (Linear's own bias init is overwritten)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                init.zeros_(p)

    def extra_repr(self) -> str:
        layout = "" if self.key_dim is None else f", key_dim={self.key_dim}"
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}{layout}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")

    # ------------------------------------------------------------------ helpers
    def _project_inputs(self, query: Tensor, key: Tensor, value: Tensor):
        """Q (N, L, h*d), K (N, S, h*d), V (N, S, h*d) from the (N, *, E) inputs."""
        if self.key_dim is not None:
            return self.q_proj(query), self.k_proj(key), self.v_proj(value)
        E = self.embed_dim
        W, b = self.in_proj_weight, self.in_proj_bias
        if query is key and key is value:
            # self-attention: one (N*L, E) @ (E, 3E) matmul, then split into Q, K, V
            N, L, _ = query.shape
            qkv = query.reshape(N * L, E) @ W.T                          # (N*L, 3E)
            if b is not None:
                qkv = qkv + b
            q, k, v = ops.split(qkv, E, axis=-1)
            return q.reshape(N, L, E), k.reshape(N, L, E), v.reshape(N, L, E)
        outs = []
        for i, x in enumerate((query, key, value)):
            rows = slice(i * E, (i + 1) * E)
            N, T, _ = x.shape
            y = x.reshape(N * T, E) @ W[rows].T                          # (N*T, E)
            if b is not None:
                y = y + b[rows]
            outs.append(y.reshape(N, T, E))
        return tuple(outs)

    def _combined_mask(self, key_padding_mask, attn_mask, N: int, L: int, S: int, dtype):
        """One additive mask (0 allowed, -inf masked) broadcastable to (N, h, L, S), or None."""
        h = self.num_heads
        total = None
        if key_padding_mask is not None:
            kpm = _as_array(key_padding_mask)
            if kpm.shape != (N, S):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape "
                                 f"(N, S) = {(N, S)}, got {kpm.shape}")
            total = _additive(kpm, "key_padding_mask", dtype)[:, None, None, :]  # (N, 1, 1, S)
        if attn_mask is not None:
            am = _as_array(attn_mask)
            if am.shape == (L, S):
                add = _additive(am, "attn_mask", dtype)                           # (L, S)
            elif am.shape == (N * h, L, S):
                add = _additive(am, "attn_mask", dtype).reshape(N, h, L, S)
            else:
                raise ValueError(f"MultiheadAttention: attn_mask must have shape (L, S) = "
                                 f"{(L, S)} or (N*num_heads, L, S) = {(N * h, L, S)}, "
                                 f"got {am.shape}")
            total = add if total is None else total + add
        return total

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.ndim != 3:
                layout = "(N, T, E)" if self.batch_first else "(T, N, E)"
                raise ValueError(f"MultiheadAttention expects {name} of rank 3 {layout} with "
                                 f"E={self.embed_dim}, got shape {x.shape}")
            if x.shape[-1] != self.embed_dim:
                raise ValueError(f"MultiheadAttention(embed_dim={self.embed_dim}): {name} has "
                                 f"{x.shape[-1]} features, shape {x.shape}")
        batch_axis = 0 if self.batch_first else 1
        seq_axis = 1 - batch_axis
        if not query.shape[batch_axis] == key.shape[batch_axis] == value.shape[batch_axis]:
            raise ValueError(f"MultiheadAttention: query {query.shape}, key {key.shape} and "
                             f"value {value.shape} must have the same batch size "
                             f"(axis {batch_axis})")
        if key.shape[seq_axis] != value.shape[seq_axis]:
            raise ValueError(f"MultiheadAttention: key {key.shape} and value {value.shape} "
                             f"must have the same length S (axis {seq_axis})")
        if key.shape[seq_axis] == 0 or query.shape[seq_axis] == 0:
            raise ValueError(f"MultiheadAttention: sequences of length 0 are not allowed, got "
                             f"query {query.shape} and key {key.shape}")

    # ------------------------------------------------------------------ forward
    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None,
                need_weights: bool = True, average_attn_weights: bool = True, attn_mask=None):
        """Attend from ``query`` to ``key`` / ``value``.

        Parameters
        ----------
        query : Tensor (N, L, E)
            (L, N, E) when ``batch_first=False``. For self-attention pass the same tensor
            three times.
        key : Tensor (N, S, E)
        value : Tensor (N, S, E)
        key_padding_mask : bool or float array (N, S), optional
            Boolean: True marks a key to ignore (padding). Floating: added to the scores.
        need_weights : bool
            Return the attention weights as the second output (else None).
        average_attn_weights : bool
            Average the weights over heads: (N, L, S); else per head (N, h, L, S).
        attn_mask : bool or float array (L, S) or (N*h, L, S), optional
            Boolean: True marks a (query, key) pair that may not attend. Floating: added.

        Returns
        -------
        output : Tensor (N, L, E)
            (L, N, E) when ``batch_first=False``.
        weights : Tensor (N, L, S) or (N, h, L, S), or None
            The softmax weights after dropout, as PyTorch returns them. In eval mode each row
            sums to 1 over the unmasked keys; masked keys have weight exactly 0 (a query with
            every key masked gets all-zero weights and outputs only ``out_proj.bias``).
        """
        query, key, value = (x if isinstance(x, Tensor) else Tensor(x) for x in (query, key, value))
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
        q = _contiguous(q.reshape(N, L, h, d).permute(0, 2, 1, 3))  # (N, h, L, d)
        k = _contiguous(k.reshape(N, S, h, d).permute(0, 2, 1, 3))  # (N, h, S, d)
        v = _contiguous(v.reshape(N, S, h, d).permute(0, 2, 1, 3))  # (N, h, S, d)

        mask = self._combined_mask(key_padding_mask, attn_mask, N, L, S, q.dtype)
        p = self.dropout if self.training else 0.0
        heads, weights = scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=p, rng=self.rng, return_weights=True)
        # heads: (N, h, L, d); weights: (N, h, L, S)

        # concatenate the heads side by side and mix them: (N, h, L, d) -> (N, L, h*d) -> (N, L, E);
        # _contiguous here makes the gradient reaching `weights @ v` contiguous in backward
        out = _contiguous(heads).permute(0, 2, 1, 3).reshape(N, L, h * d)
        out = self.out_proj(out)                                  # (N, L, E)
        if not self.batch_first:
            out = out.transpose(0, 1)                             # (L, N, E)

        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)                        # (N, L, S)
        return out, weights


def _as_array(mask) -> np.ndarray:
    return mask.data if isinstance(mask, Tensor) else np.asarray(mask)


def _additive(mask: np.ndarray, name: str, dtype) -> np.ndarray:
    """A boolean mask (True = masked) as 0 / -inf, or a floating mask as is, in ``dtype``."""
    if mask.dtype == bool:
        return np.where(mask, -np.inf, 0.0).astype(dtype)
    if np.issubdtype(mask.dtype, np.floating):
        return mask.astype(dtype, copy=False)
    raise ValueError(f"MultiheadAttention: {name} must be boolean (True = masked) or floating "
                     f"(added to the scores), got dtype {mask.dtype}")
