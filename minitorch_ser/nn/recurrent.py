"""Recurrent layers: `LSTM` and `GRU`, with backpropagation through time written by hand.

Each (layer, direction) of a recurrent stack is ONE autograd node: `LSTMLayerFunction` or
`GRULayerFunction`. Its ``forward`` runs the whole sequence; its ``backward`` walks the
sequence in reverse, applying the chain rule to the gate equations step by step
(backpropagation through time, BPTT). Compared with composing the cell from elementwise ops
(about 20 graph nodes per time step), this keeps the graph small and lets every matmul that
does not sit on the recurrence run once for the whole sequence:

- forward: the input projections of all T steps are one matmul, ``(N, T, F) @ W_ih^T ->
  (N, T, G*H)`` (G = 4 gates for the LSTM, 3 for the GRU); only ``h_{t-1} @ W_hh^T``, an
  ``(N, H) @ (H, G*H)`` matmul, remains inside the loop over t;
- backward: the loop computes, per step, the gradient with respect to the gate
  pre-activations and one ``(N, G*H) @ (G*H, H)`` matmul for dL/dh_{t-1}; those gate
  gradients are stored in an ``(N, T, G*H)`` array so that dL/dx, dL/dW_ih and dL/dW_hh are
  each one matmul after the loop.

Symbols: N batch size, T sequence length, F input features (``input_size``), H hidden units
(``hidden_size``), L ``num_layers``, D = 2 if ``bidirectional`` else 1.

Layouts, names and defaults follow torch.nn.LSTM / torch.nn.GRU, so PyTorch weights load
unchanged: ``weight_ih_l{k}`` (G*H, F) for layer 0 and (G*H, D*H) above it, ``weight_hh_l{k}``
(G*H, H), ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G*H,), and the same names ending in
``_reverse`` for the backward direction; gate blocks are stacked row-wise in the order
(i, f, g, o) for the LSTM and (r, z, n) for the GRU. The default layout is PyTorch's too,
``batch_first=False``: sequences (T, N, F); the library's models pass ``batch_first=True``
explicitly and feed (N, T, F). Internally every layer runs on (N, T, F) (a (T, N, F) input is
permuted once at the bottom of the stack and the output once at the top), so both layouts
give the same numbers.

The bias variants (``bias=`` argument) exist because the two papers' frameworks differ:

- ``bias=True``: PyTorch's two bias vectors per layer and direction, ``bias_ih_l{k}`` and
  ``bias_hh_l{k}``. For the GRU this is also Keras' default (``reset_after=True``), whose bias
  has shape (2, 3H): a GRU of 128 units on 768 features has 3 (768*128 + 128*128 + 2*128) =
  344,832 parameters, the figure in the second paper's Figure 7.
- ``bias='single'``: one bias vector ``bias_l{k}`` (G*H,), added with the input projection.
  For the LSTM this is Keras' convention and is exactly PyTorch's model with ``b_ih + b_hh``
  merged into one vector: 128 units on 4096 features give 4 (4096*128 + 128*128 + 128) =
  2,163,200 parameters (the second paper's Figure 8). For the GRU it is PyTorch's equations
  with ``b_hh = 0``: the bias of the candidate n sits outside the reset product,
  ``n = tanh(W_in x + b_n + r * (W_hn h))``. (Keras' ``reset_after=False`` GRU has the same
  parameter count but a different equation, ``tanh(W_in x + W_hn (r * h) + b_n)``, which is
  not implemented here.)
- ``bias=False``: no bias at all.

Inside a Function, ``biases`` is therefore a tuple of zero, one (input side) or two (input
side, hidden side) vectors.

Loading Keras weights needs a conversion: Keras stores ``kernel`` (F, G*H) and
``recurrent_kernel`` (H, G*H), i.e. transposed, and orders the GRU gates (z, r, h) instead of
(r, z, n); its LSTM gate order (i, f, c, o) is the same as here.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import ops
from ..autograd.function import Function
from ..autograd.random import default_generator
from ..autograd.tensor import as_tensor
from . import init
from .module import Module, Parameter


# ============================================================================ activations
def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """Logistic sigmoid in place, as ``sigma(a) = (1 + tanh(a / 2)) / 2``.

    The tanh form never overflows (no ``exp`` of a large argument) and is four in-place passes
    over ``a`` with no temporary array, which matters inside the per-step loop.
    """
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _lstm_gate_constants(hidden_size: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Per-column ``scale`` and ``shift`` such that all four LSTM gates are one fused pass.

    With ``scale = (1/2, 1/2, 1, 1/2)`` and ``shift = (1/2, 1/2, 0, 1/2)`` per gate block
    (i, f, g, o), the expression ``shift + scale * tanh(scale * a)`` is ``sigma(a)`` on the i,
    f and o blocks and ``tanh(a)`` on the g block, because ``sigma(a) = (1 + tanh(a/2)) / 2``.
    Each constant has shape (4H,).
    """
    H = hidden_size
    scale = np.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H:3 * H] = 1.0
    shift = np.full(4 * H, 0.5, dtype=dtype)
    shift[2 * H:3 * H] = 0.0
    return scale, shift


def _time_steps(T: int, reverse: bool) -> range:
    """The order in which the recurrence visits the time indices."""
    return range(T - 1, -1, -1) if reverse else range(T)


def _previous_state(states: np.ndarray, initial: np.ndarray, reverse: bool) -> np.ndarray:
    """``prev[:, t]``: the state (h or c) that entered step t, shape (N, T, H).

    ``states[:, t]`` is the state after step t and ``initial`` (N, H) the one before the first
    step. Forward direction: ``(initial, s_0, ..., s_{T-2})``; reverse direction: ``(s_1, ...,
    s_{T-1}, initial)``. Built once so that backward works on whole sequences (e.g. dL/dW_hh
    is a single matmul with the previous hidden states).
    """
    prev = np.empty_like(states)
    if reverse:
        prev[:, :-1] = states[:, 1:]
        prev[:, -1] = initial
    else:
        prev[:, 1:] = states[:, :-1]
        prev[:, 0] = initial
    return prev


# ============================================================================ LSTM layer
class LSTMLayerFunction(Function):
    r"""One LSTM layer in one direction over a whole sequence, with hand-written BPTT.

    Forward equations, with PyTorch's gate order (i, f, g, o) as row blocks of ``W_ih``
    (4H, F), ``W_hh`` (4H, H) and the biases (4H,), and the first paper's numbering (its
    ``W_f [h_{t-1}, x_t]`` is ``W_hf h_{t-1} + W_if x_t`` here, its ``C~_t`` is ``g_t``)::

        i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)         (8)   rows [0, H)
        f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)         (7)   rows [H, 2H)
        g_t = tanh (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)         (9)   rows [2H, 3H)
        o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)         (11)  rows [3H, 4H)
        c_t = f_t * c_{t-1} + i_t * g_t                            (10)
        h_t = o_t * tanh(c_t)                                      (12)

    ``*`` is the elementwise product. With ``reverse=True`` the recurrence runs from t = T-1
    down to 0 (the backward direction of a bidirectional layer); outputs stay indexed by t.

    Backward (BPTT). Write ``a_t`` for the pre-activations (N, 4H) and ``dv`` for dL/dv.
    Going through the steps in the reverse of the forward order, with ``dh`` and ``dc``
    carried from the later step (initialised with dL/dh_n and dL/dc_n)::

        dh   += dL/dout_t                        (dh_t)
        do    = dh * tanh(c_t)                   da_o = do * o (1 - o)
        dc   += dh * o * (1 - tanh(c_t)^2)       (dc_t)
        di    = dc * g                           da_i = di * i (1 - i)
        df    = dc * c_{t-1}                     da_f = df * f (1 - f)
        dg    = dc * i                           da_g = dg (1 - g^2)
        dc    = dc * f                           (-> dc_{t-1})
        dh    = da_t @ W_hh                      (-> dh_{t-1}; (N, 4H) @ (4H, H))

    Every factor that multiplies ``dh`` or ``dc`` above (``g i (1 - i)``, ``tanh(c_t) o (1 -
    o)``, ...) depends only on the forward pass, so the implementation computes them for all
    t in a few whole-array operations and the loop carries just (dh, dc): per step a handful
    of (N, H) products and one matmul. With every ``da_t`` stored in ``dA`` (N, T, 4H) and
    ``h_prev`` the hidden state that entered each step, after the loop::

        dx = dA @ W_ih          dW_ih = dA^T x          dW_hh = dA^T h_prev
        db = sum over (N, T) of dA (for each bias vector)
        dh0, dc0 = dh, dc after the last visited step

    Parameters (positional arrays)
    ------------------------------
    x : (N, T, F)
    h0, c0 : (N, H)
        Initial hidden and cell states.
    w_ih : (4H, F)
    w_hh : (4H, H)
    *biases : zero, one or two arrays of shape (4H,)
        All are added to the pre-activations (two vectors are PyTorch's b_ih and b_hh).
    reverse : bool (keyword)
        Run the recurrence from the last time step to the first.

    Returns
    -------
    out : (N, T, H)
        ``h_t`` for every t.
    h_n, c_n : (N, H)
        Hidden and cell states after the last visited step.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, *biases, reverse=False):
        N, T, F = x.shape
        H = w_hh.shape[1]
        dtype = np.result_type(x, h0, c0, w_ih, w_hh, *biases)
        scale, shift = _lstm_gate_constants(H, dtype)

        # input projections of all time steps in one matmul, biases added once
        x2 = x.reshape(N * T, F)                                   # (N*T, F)
        gates = np.matmul(x2, w_ih.T).astype(dtype, copy=False).reshape(N, T, 4 * H)
        for b in biases:
            gates += b
        w_hh_t = w_hh.T                                            # (H, 4H)

        cells = np.empty((N, T, H), dtype)                         # c_t
        tanh_c = np.empty((N, T, H), dtype)                        # tanh(c_t)
        hs = np.empty((N, T, H), dtype)                            # h_t (the output)
        rec = np.empty((N, 4 * H), dtype)                          # h_{t-1} @ W_hh^T
        ig = np.empty((N, H), dtype)                               # i_t * g_t
        h, c = h0, c0
        for t in _time_steps(T, reverse):
            a = gates[:, t]                                        # (N, 4H) view
            np.matmul(h, w_hh_t, out=rec)
            a += rec
            # i, f, o <- sigma(a), g <- tanh(a): one fused pass over the four gate blocks;
            # the activations overwrite the pre-activations (backward needs only these)
            a *= scale
            np.tanh(a, out=a)
            a *= scale
            a += shift
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c_t, tc_t, h_t = cells[:, t], tanh_c[:, t], hs[:, t]
            np.multiply(f, c, out=c_t)                             # (10)
            np.multiply(i, g, out=ig)
            c_t += ig
            np.tanh(c_t, out=tc_t)
            np.multiply(o, tc_t, out=h_t)                          # (12)
            h, c = h_t, c_t

        ctx.save_for_backward(x2, x.shape, h0, c0, w_ih, w_hh, len(biases), reverse,
                              gates, cells, tanh_c, hs)
        return hs, h.copy(), c.copy()

    @staticmethod
    def backward(ctx, grads):
        g_out, g_hn, g_cn = grads
        (x2, x_shape, h0, c0, w_ih, w_hh, n_biases, reverse,
         gates, cells, tanh_c, hs) = ctx.saved_tensors
        N, T, F = x_shape
        H = w_hh.shape[1]
        dtype = gates.dtype

        # Everything in the step equations that depends only on forward values is computed for
        # all t at once; the loop then carries only (dh, dc) through the recurrence:
        #   dA_t[i, f, g] = dc_t * coef[:, t, :3],   dA_t[o] = dh_t * coef[:, t, 3],
        #   dc_t = dc_{t+1} f_{t+1} + dh_t * k_c[:, t]
        act = gates.reshape(N, T, 4, H)                            # i, f, g, o activations
        i, f, g, o = act[:, :, 0], act[:, :, 1], act[:, :, 2], act[:, :, 3]
        c_prev = _previous_state(cells, c0, reverse)               # c_{t-1} : (N, T, H)
        coef = np.empty((N, T, 4, H), dtype)
        np.multiply(g, i * (1 - i), out=coef[:, :, 0])             # da_i / dc
        np.multiply(c_prev, f * (1 - f), out=coef[:, :, 1])        # da_f / dc
        np.multiply(i, 1 - g * g, out=coef[:, :, 2])               # da_g / dc
        np.multiply(tanh_c, o * (1 - o), out=coef[:, :, 3])        # da_o / dh
        k_c = o * (1 - tanh_c * tanh_c)                            # dc / dh through (12)

        d_gates = np.empty((N, T, 4, H), dtype)                    # dA : (N, T, 4H)
        dh = np.array(g_hn, dtype=dtype)                           # dL/dh, carried back
        dc = np.array(g_cn, dtype=dtype)                           # dL/dc, carried back
        tmp = np.empty((N, H), dtype)
        for t in reversed(_time_steps(T, reverse)):
            dh += g_out[:, t]                                      # dh_t
            np.multiply(dh, k_c[:, t], out=tmp)
            dc += tmp                                              # dc_t
            np.multiply(dc[:, None, :], coef[:, t, :3], out=d_gates[:, t, :3])
            np.multiply(dh, coef[:, t, 3], out=d_gates[:, t, 3])
            dc *= f[:, t]                                          # -> dc_{t-1}
            dh = np.matmul(d_gates[:, t].reshape(N, 4 * H), w_hh)  # -> dh_{t-1}: (N, 4H) @ (4H, H)

        needs = ctx.needs_input_grad
        dA = d_gates.reshape(N * T, 4 * H)
        dx = np.matmul(dA, w_ih).reshape(N, T, F) if needs[0] else None
        dw_ih = np.matmul(dA.T, x2) if needs[3] else None                  # (4H, F)
        dw_hh = None
        if needs[4]:
            h_prev = _previous_state(hs, h0, reverse).reshape(N * T, H)
            dw_hh = np.matmul(dA.T, h_prev)                                 # (4H, H)
        db = dA.sum(axis=0) if n_biases else None
        bias_grads = tuple(db if k == 0 else db.copy() for k in range(n_biases))
        return (dx, dh, dc, dw_ih, dw_hh) + bias_grads


# ============================================================================ GRU layer
class GRULayerFunction(Function):
    r"""One GRU layer in one direction over a whole sequence, with hand-written BPTT.

    Forward equations (PyTorch's definition; gate order (r, z, n) as row blocks of ``W_ih``
    (3H, F), ``W_hh`` (3H, H) and the biases (3H,))::

        r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)                 rows [0, H)
        z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)                 rows [H, 2H)
        n_t = tanh (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))         rows [2H, 3H)
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}  =  n_t + z_t * (h_{t-1} - n_t)

    The reset gate multiplies the hidden-side projection *after* the matmul (Keras calls this
    ``reset_after=True``), so ``b_hn`` sits inside the product and cannot be merged with
    ``b_in``. With one bias vector (``bias='single'``) it is the input-side one and
    ``b_hh = 0``.

    Backward (BPTT), per step in the reverse of the forward order, with ``q_t = W_hn h_{t-1} +
    b_hn`` (N, H) saved by the forward pass and ``dh`` carried from the later step
    (initialised with dL/dh_n)::

        dh    += dL/dout_t                                   (dh_t)
        da_z   = dh * (h_{t-1} - n) * z (1 - z)
        da_n   = dh * (1 - z) * (1 - n^2)                    (input-side n pre-activation)
        dq     = da_n * r                                    (hidden-side n pre-activation)
        da_r   = da_n * q_t * r (1 - r)
        dh     = dh * z + [da_r, da_z, dq] @ W_hh            (-> dh_{t-1})

    Each gate gradient is ``dh_t`` times a factor known from the forward pass; those factors
    are computed for all t at once, so the loop carries only dh (per step: two adds, two
    products and one (N, 3H) @ (3H, H) matmul). Two gate-gradient arrays result:
    ``dA_x = [da_r, da_z, da_n]`` for the input side and ``dA_h = [da_r, da_z, dq]`` for the
    hidden side (both (N, T, 3H)); after the loop::

        dx = dA_x @ W_ih        dW_ih = dA_x^T x        dW_hh = dA_h^T h_prev
        db_ih = sum over (N, T) of dA_x                 db_hh = sum over (N, T) of dA_h
        dh0 = dh after the last visited step

    Parameters (positional arrays)
    ------------------------------
    x : (N, T, F)
    h0 : (N, H)
    w_ih : (3H, F)
    w_hh : (3H, H)
    *biases : zero, one (b_ih) or two (b_ih, b_hh) arrays of shape (3H,)
    reverse : bool (keyword)
        Run the recurrence from the last time step to the first.

    Returns
    -------
    out : (N, T, H)
    h_n : (N, H)
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, *biases, reverse=False):
        N, T, F = x.shape
        H = w_hh.shape[1]
        dtype = np.result_type(x, h0, w_ih, w_hh, *biases)
        b_ih = biases[0] if len(biases) >= 1 else None
        b_hh = biases[1] if len(biases) == 2 else None

        # input projections of all time steps in one matmul
        x2 = x.reshape(N * T, F)                                   # (N*T, F)
        gates = np.matmul(x2, w_ih.T).astype(dtype, copy=False).reshape(N, T, 3 * H)
        if b_ih is not None:
            gates += b_ih
        w_hh_t = w_hh.T                                            # (H, 3H)

        q = np.empty((N, T, H), dtype)                             # W_hn h_{t-1} + b_hn
        hs = np.empty((N, T, H), dtype)
        rec = np.empty((N, 3 * H), dtype)                          # h_{t-1} @ W_hh^T + b_hh
        h = h0
        for t in _time_steps(T, reverse):
            a = gates[:, t]                                        # (N, 3H) view
            np.matmul(h, w_hh_t, out=rec)
            if b_hh is not None:
                rec += b_hh
            rz = a[:, :2 * H]
            rz += rec[:, :2 * H]
            _sigmoid_(rz)                                          # r, z
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
            q[:, t] = rec[:, 2 * H:]
            n += r * q[:, t]
            np.tanh(n, out=n)
            h_t = hs[:, t]
            np.subtract(h, n, out=h_t)                             # h_t = n + z (h_{t-1} - n)
            h_t *= z
            h_t += n
            h = h_t

        ctx.save_for_backward(x2, x.shape, h0, w_ih, w_hh, len(biases), reverse, gates, q, hs)
        return hs, h.copy()

    @staticmethod
    def backward(ctx, grads):
        g_out, g_hn = grads
        x2, x_shape, h0, w_ih, w_hh, n_biases, reverse, gates, q, hs = ctx.saved_tensors
        N, T, F = x_shape
        H = w_hh.shape[1]
        dtype = gates.dtype

        # Every gate gradient of step t is dh_t times a factor known from the forward pass, so
        # the factors are computed for all t at once and the loop carries only dh:
        #   dA_h[:, t] = dh_t * coef[:, t]   (blocks da_r, da_z, dq),   da_n = dh_t * k_n
        act = gates.reshape(N, T, 3, H)                            # r, z, n activations
        r, z, n = act[:, :, 0], act[:, :, 1], act[:, :, 2]
        h_prev = _previous_state(hs, h0, reverse)                  # h_{t-1} : (N, T, H)
        k_n = (1 - z) * (1 - n * n)                                # da_n / dh
        coef = np.empty((N, T, 3, H), dtype)
        np.multiply(k_n * q, r * (1 - r), out=coef[:, :, 0])       # da_r / dh
        np.multiply(h_prev - n, z * (1 - z), out=coef[:, :, 1])    # da_z / dh
        np.multiply(k_n, r, out=coef[:, :, 2])                     # dq / dh

        dgh = np.empty((N, T, 3, H), dtype)                        # dA_h : (N, T, 3H)
        dh_all = np.empty((N, T, H), dtype)                        # dh_t for every t
        carry = np.array(g_hn, dtype=dtype)                        # dL/dh from later steps
        for t in reversed(_time_steps(T, reverse)):
            dh = dh_all[:, t]
            np.add(g_out[:, t], carry, out=dh)                     # dh_t
            np.multiply(dh[:, None, :], coef[:, t], out=dgh[:, t])
            carry = dh * z[:, t]                                   # -> dh_{t-1}, direct path
            carry += np.matmul(dgh[:, t].reshape(N, 3 * H), w_hh)  # (N, 3H) @ (3H, H)

        dgx = dgh.copy()                                           # dA_x : r, z as dA_h ...
        np.multiply(dh_all, k_n, out=dgx[:, :, 2])                 # ... and da_n for n
        needs = ctx.needs_input_grad
        dAx = dgx.reshape(N * T, 3 * H)
        dAh = dgh.reshape(N * T, 3 * H)
        dx = np.matmul(dAx, w_ih).reshape(N, T, F) if needs[0] else None
        dw_ih = np.matmul(dAx.T, x2) if needs[2] else None                 # (3H, F)
        dw_hh = np.matmul(dAh.T, h_prev.reshape(N * T, H)) if needs[3] else None  # (3H, H)
        bias_grads = ()
        if n_biases >= 1:
            bias_grads += (dAx.sum(axis=0),)
        if n_biases == 2:
            bias_grads += (dAh.sum(axis=0),)
        return (dx, carry, dw_ih, dw_hh) + bias_grads


# ============================================================================ stacks (functional)
def _run_stack(mode: str, x, states, weights, bidirectional: bool, batch_first: bool,
               dropout: float, training: bool, rng, name: str):
    """Run a stack of LSTM / GRU layers; shared by `lstm` and `gru`.

    ``states`` is a list of initial-state tensors, each (D*L, N, H) (two for the LSTM, one for
    the GRU), or None for zeros. Returns ``(output, [final state stacked over D*L, ...])``.
    """
    fn = LSTMLayerFunction if mode == "LSTM" else GRULayerFunction
    n_gates = 4 if mode == "LSTM" else 3
    n_states = 2 if mode == "LSTM" else 1
    D = 2 if bidirectional else 1
    if len(weights) == 0 or len(weights) % D:
        raise ValueError(f"{name}: got {len(weights)} weight groups, need a positive multiple "
                         f"of D={D} (one per layer and direction)")
    num_layers = len(weights) // D
    input_size = weights[0][0].shape[1]
    H = weights[0][1].shape[1]
    for k, group in enumerate(weights):
        w_ih, w_hh = group[0], group[1]
        expected_in = input_size if k < D else D * H
        if tuple(w_ih.shape) != (n_gates * H, expected_in) or tuple(w_hh.shape) != (n_gates * H, H):
            raise ValueError(f"{name}: weight group {k} has weight_ih {tuple(w_ih.shape)} and "
                             f"weight_hh {tuple(w_hh.shape)}, expected {(n_gates * H, expected_in)}"
                             f" and {(n_gates * H, H)}")

    # ---- validate the input sequence
    x = as_tensor(x)
    layout = "(N, T, F)" if batch_first else "(T, N, F)"
    if x.ndim != 3:
        raise ValueError(f"{name}: input must be 3-D {layout} with F=input_size={input_size} "
                         f"(batch_first={batch_first}), got shape {x.shape}")
    if x.shape[2] != input_size:
        expected = ("(N, T, " if batch_first else "(T, N, ") + f"{input_size})"
        raise ValueError(f"{name}: input feature size must be input_size={input_size}: expected "
                         f"shape {expected}, got {x.shape}")
    if (x.shape[1] if batch_first else x.shape[0]) == 0:
        raise ValueError(f"{name}: sequence length T=0 (input shape {x.shape} with "
                         f"batch_first={batch_first}); need at least one time step")
    if not batch_first:
        x = x.permute(1, 0, 2)                                     # (T, N, F) -> (N, T, F)
    N, T = x.shape[0], x.shape[1]

    # ---- initial states: (D*L, N, H) each, or zeros
    dtype = np.result_type(x.dtype, weights[0][0].dtype)
    expected_state = (D * num_layers, N, H)
    if states is None:
        initial = [[np.zeros((N, H), dtype)] * n_states for _ in range(D * num_layers)]
    else:
        labels = ("h_0", "c_0") if mode == "LSTM" else ("h_0",)
        states = [as_tensor(s) for s in states]
        for label, s in zip(labels, states):
            if tuple(s.shape) != expected_state:
                raise ValueError(f"{name}: {label} must have shape (D*num_layers, N, H) = "
                                 f"{expected_state}, got {s.shape}")
        initial = [[s[k] for s in states] for k in range(D * num_layers)]  # (N, H) each

    # ---- layers, each direction one Function
    finals = [[] for _ in range(n_states)]
    layer_input = x
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            results = fn.apply(layer_input, *initial[k], *weights[k], reverse=bool(d))
            outs.append(results[0])
            for j in range(n_states):
                finals[j].append(results[1 + j])
        layer_out = outs[0] if D == 1 else ops.concat(outs, axis=-1)     # (N, T, D*H)
        if layer < num_layers - 1 and training and dropout > 0.0:
            layer_out = ops.dropout(layer_out, dropout, True,
                                    rng if rng is not None else default_generator())
        layer_input = layer_out

    output = layer_input if batch_first else layer_input.permute(1, 0, 2)
    return output, [ops.stack(f, axis=0) for f in finals]         # each (D*L, N, H)


def lstm(input, hx, weights, *, bidirectional: bool = False, batch_first: bool = False,
         dropout: float = 0.0, training: bool = False, rng=None, name: str = "lstm"):
    """Multi-layer (bi)LSTM on explicit weights: the functional form behind `LSTM.forward`.

    Each layer and direction is one `LSTMLayerFunction` (equations (7)-(12), hand-written
    BPTT); the directions' outputs are concatenated (forward first) and, between layers,
    dropped out when ``training``.

    Parameters
    ----------
    input : Tensor or ndarray, (T, N, F), or (N, T, F) if ``batch_first``
    hx : tuple (h_0, c_0) of (D*L, N, H) each, or None for zeros
    weights : sequence of D*L tuples ``(w_ih, w_hh, *biases)``
        Ordered layer by layer, forward direction before reverse (PyTorch's order). ``w_ih``
        is (4H, F) for layer 0 and (4H, D*H) above; ``w_hh`` (4H, H); zero, one or two biases
        (4H,).
    bidirectional : bool
        D = 2 if True (the weights alternate forward, reverse), else 1.
    batch_first : bool
        Layout of ``input`` and ``output``: (N, T, ·) if True, (T, N, ·) if False (PyTorch's
        default). States are (D*L, N, H) either way.
    dropout : float in [0, 1)
        Dropout probability on the outputs of every layer except the last, when ``training``.
    training : bool
        Whether the inter-layer dropout is active.
    rng : numpy.random.Generator, optional
        Generator of the dropout masks (default: ``minitorch_ser.autograd.random.default_generator()``).
    name : str
        Layer name used in error messages.

    Returns
    -------
    output : Tensor (T, N, D*H), or (N, T, D*H) if ``batch_first``
    (h_n, c_n) : Tensors (D*L, N, H) each; index ``layer * D + direction``.

    Raises
    ------
    ValueError
        If ``hx`` is not a pair, the weights do not form D*L consistent groups, the input is
        not 3-D with F features or has T = 0, or a state is not (D*L, N, H).
    """
    if hx is not None:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError(f"{name}: hx must be a tuple (h_0, c_0) of two (D*num_layers, N, H) "
                             f"tensors, got {type(hx).__name__}")
        hx = list(hx)
    output, (h_n, c_n) = _run_stack("LSTM", input, hx, weights, bidirectional, batch_first,
                                    dropout, training, rng, name)
    return output, (h_n, c_n)


def gru(input, hx, weights, *, bidirectional: bool = False, batch_first: bool = False,
        dropout: float = 0.0, training: bool = False, rng=None, name: str = "gru"):
    """Multi-layer (bi)GRU on explicit weights: the functional form behind `GRU.forward`.

    Each layer and direction is one `GRULayerFunction` (PyTorch's GRU equations, hand-written
    BPTT). With one bias per group it is b_ih (b_hh = 0).

    Parameters
    ----------
    input : Tensor or ndarray, (T, N, F), or (N, T, F) if ``batch_first``
    hx : Tensor or ndarray (D*L, N, H), or None for zeros
        h_0.
    weights : sequence of D*L tuples ``(w_ih, w_hh, *biases)``
        As in `lstm`, with 3H gate rows (r, z, n) instead of 4H.
    bidirectional, batch_first, dropout, training, rng, name
        As in `lstm`.

    Returns
    -------
    output : Tensor (T, N, D*H), or (N, T, D*H) if ``batch_first``
    h_n : Tensor (D*L, N, H)

    Raises
    ------
    ValueError
        As `lstm`.
    """
    states = None if hx is None else [hx]
    output, (h_n,) = _run_stack("GRU", input, states, weights, bidirectional, batch_first,
                                dropout, training, rng, name)
    return output, h_n


# ============================================================================ modules
class _RNNBase(Module):
    """Parameters, initialisation and validation shared by `LSTM` and `GRU`."""

    _n_gates = 0  # gate blocks stacked in the weights: 4 (LSTM) or 3 (GRU)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias=True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 rng: np.random.Generator | None = None):
        super().__init__()
        cls = type(self).__name__
        for label, value, low in (("input_size", input_size, 1), ("hidden_size", hidden_size, 1),
                                  ("num_layers", num_layers, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{cls}: {label}={value!r} must be an integer >= {low}")
        if not (bias is True or bias is False or bias == "single"):
            raise ValueError(f"{cls}: bias={bias!r} must be True, False or 'single'")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{cls}: dropout={dropout} must be in [0, 1)")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bias
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.rng = rng

        G, H = self._n_gates, self.hidden_size
        D = 2 if self.bidirectional else 1
        bound = 1.0 / math.sqrt(H)
        self._weight_names = []
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else D * H
            for d in range(D):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [(f"weight_ih{suffix}", (G * H, layer_in)),
                          (f"weight_hh{suffix}", (G * H, H))]
                if bias is True:
                    shapes += [(f"bias_ih{suffix}", (G * H,)), (f"bias_hh{suffix}", (G * H,))]
                elif bias == "single":
                    shapes += [(f"bias{suffix}", (G * H,))]
                group = []
                for pname, shape in shapes:
                    p = Parameter(np.empty(shape, dtype=np.float32))
                    init.uniform_(p, -bound, bound, rng)           # U(-1/sqrt(H), 1/sqrt(H))
                    setattr(self, pname, p)
                    group.append(pname)
                self._weight_names.append(tuple(group))

    def _flat_weights(self) -> list:
        """``[(w_ih, w_hh, *biases)]`` per layer and direction, in PyTorch's order."""
        return [tuple(getattr(self, pname) for pname in group) for group in self._weight_names]

    def _name(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias!r}"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class LSTM(_RNNBase):
    r"""Multi-layer long short-term memory network (torch.nn.LSTM's interface and layout).

    Every layer and direction applies, for t = 1..T (or T..1 for the reverse direction), the
    first paper's equations (7)-(12) in PyTorch's gate order (i, f, g, o)::

        i_t = sigma(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)         (8)  input gate
        f_t = sigma(W_if x_t + b_if + W_hf h_{t-1} + b_hf)         (7)  forget gate
        g_t = tanh (W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)         (9)  candidate C~_t
        o_t = sigma(W_io x_t + b_io + W_ho h_{t-1} + b_ho)         (11) output gate
        c_t = f_t * c_{t-1} + i_t * g_t                            (10) cell state C_t
        h_t = o_t * tanh(c_t)                                      (12) hidden state

    The paper's ``W_f [h_{t-1}, x_t] + b_f`` is ``W_hf h_{t-1} + W_if x_t + (b_if + b_hf)``
    here. Layer l > 0 takes as x_t the (dropout-masked, in training) output of layer l-1,
    concatenated over directions. Backpropagation through time is `LSTMLayerFunction`.

    Parameters
    ----------
    input_size : int >= 1
        F, features per time step.
    hidden_size : int >= 1
        H, units per direction.
    num_layers : int >= 1
        L, stacked layers.
    bias : True, False or 'single'
        True: ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (4H,) as in PyTorch. 'single': one
        ``bias_l{k}`` (4H,), Keras' LSTM convention (same model, b_ih + b_hh merged;
        4 (F H + H^2 + H) parameters per direction). False: no bias.
    batch_first : bool
        False (PyTorch's default): input and output are (T, N, ·); True: (N, T, ·), the layout
        the library's models use (they pass ``batch_first=True``). States are (D*L, N, H)
        either way.
    dropout : float in [0, 1)
        Dropout probability on each layer's output except the last, in training mode only
        (no effect when num_layers = 1).
    bidirectional : bool
        Add a reverse-direction layer (``..._reverse`` parameters); D = 2.
    rng : numpy.random.Generator, optional
        Source of the initial weights and the dropout masks (default: the library's default
        generator, see ``minitorch_ser.autograd.random``).

    Attributes
    ----------
    weight_ih_l{k}[_reverse] : (4H, F) for k = 0, (4H, D*H) for k > 0
    weight_hh_l{k}[_reverse] : (4H, H)
    bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (bias=True) or bias_l{k}[_reverse]
    ('single') : (4H,)
        All initialised from U(-1/sqrt(H), 1/sqrt(H)) as PyTorch does.

    Shapes
    ------
    forward(x, hx=None) -> (output, (h_n, c_n))

    - x : (T, N, F), or (N, T, F) with ``batch_first=True``
    - hx : optional tuple (h_0, c_0), each (D*L, N, H); zeros when None
    - output : (T, N, D*H), or (N, T, D*H) with ``batch_first=True``; the last layer's h_t,
      directions concatenated (forward first)
    - h_n, c_n : (D*L, N, H), the states after each layer and direction's last step (for the
      reverse direction, after t = 1); index ``layer * D + direction``

    Raises
    ------
    ValueError
        If x is not 3-D, its feature size is not input_size, T = 0, or h_0 / c_0 do not have
        shape (D*L, N, H).
    """

    _n_gates = 4

    def forward(self, x, hx=None):
        """Run the stack over a sequence: ``lstm`` with this layer's weights and settings.

        Parameters
        ----------
        x : Tensor or ndarray (T, N, F), or (N, T, F) with ``batch_first=True``
        hx : tuple (h_0, c_0) of Tensors (D*L, N, H), optional
            Initial states; zeros when None.

        Returns
        -------
        output : Tensor (T, N, D*H), or (N, T, D*H) with ``batch_first=True``
        (h_n, c_n) : Tensors (D*L, N, H)
        """
        return lstm(x, hx, self._flat_weights(), bidirectional=self.bidirectional,
                    batch_first=self.batch_first, dropout=self.dropout, training=self.training,
                    rng=self.rng, name=self._name())


class GRU(_RNNBase):
    r"""Multi-layer gated recurrent unit network (torch.nn.GRU's interface and layout).

    Every layer and direction applies, for t = 1..T (or T..1 for the reverse direction),
    PyTorch's GRU equations with gate order (r, z, n)::

        r_t = sigma(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)                 reset gate
        z_t = sigma(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)                 update gate
        n_t = tanh (W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))         candidate
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Backpropagation through time is `GRULayerFunction`.

    Parameters
    ----------
    input_size, hidden_size, num_layers, batch_first, dropout, bidirectional, rng
        As in `LSTM`.
    bias : True, False or 'single'
        True: ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (3H,), PyTorch's GRU and also Keras' default
        ``reset_after=True`` GRU (3 (F H + H^2 + 2H) parameters per direction: 344,832 for
        F = 768, H = 128). 'single': one ``bias_l{k}`` (3H,) on the input side, i.e. the
        equations above with b_hh = 0 (so ``n_t = tanh(W_in x_t + b_n + r_t * (W_hn h_{t-1}))``;
        3 (F H + H^2 + H) parameters). False: no bias.

    Attributes
    ----------
    weight_ih_l{k}[_reverse] : (3H, F) for k = 0, (3H, D*H) for k > 0
    weight_hh_l{k}[_reverse] : (3H, H)
    bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] (bias=True) or bias_l{k}[_reverse]
    ('single') : (3H,)
        All initialised from U(-1/sqrt(H), 1/sqrt(H)).

    Shapes
    ------
    forward(x, hx=None) -> (output, h_n)

    - x : (T, N, F), or (N, T, F) with ``batch_first=True``
    - hx : optional h_0 (D*L, N, H); zeros when None
    - output : (T, N, D*H), or (N, T, D*H) with ``batch_first=True``
    - h_n : (D*L, N, H); index ``layer * D + direction``

    Raises
    ------
    ValueError
        If x is not 3-D, its feature size is not input_size, T = 0, or h_0 does not have
        shape (D*L, N, H).
    """

    _n_gates = 3

    def forward(self, x, hx=None):
        """Run the stack over a sequence: ``gru`` with this layer's weights and settings.

        Parameters
        ----------
        x : Tensor or ndarray (T, N, F), or (N, T, F) with ``batch_first=True``
        hx : Tensor (D*L, N, H), optional
            h_0; zeros when None.

        Returns
        -------
        output : Tensor (T, N, D*H), or (N, T, D*H) with ``batch_first=True``
        h_n : Tensor (D*L, N, H)
        """
        return gru(x, hx, self._flat_weights(), bidirectional=self.bidirectional,
                   batch_first=self.batch_first, dropout=self.dropout, training=self.training,
                   rng=self.rng, name=self._name())
