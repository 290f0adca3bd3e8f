"""PyTorch twins of the library's models, for timing side by side and for export.

Usage::

    python benchmarks/torch_twins.py                  # check every twin: counts and logits
    python benchmarks/torch_twins.py --models gru lstm --batch 1
    python benchmarks/torch_twins.py --export-check   # and each model through a .safetensors file

Needs PyTorch (``pip install -e ".[bench]"``), loaded like every peer of the benchmarks through
``side_by_side.torch_peer``; nothing in ``minitorch_ser`` or ``tests`` imports this file. Running
it is the check of the twins: names, shapes and parameter counts (the papers' totals), logits
within 1e-4 of ours, and a twin with one wrong constant caught by that tolerance.

A *twin* is the same network written with ``torch.nn``: the same layers in the same order, the
same shapes, the same parameter and buffer names, so that our weights load into it unchanged::

    twin.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()},
                         strict=True)

and it computes the same function. Where PyTorch has no layer of the Keras kind the second
paper uses, the twin has a small module with our layer's names:

- ``Conv2dReLU`` / ``LinearReLU``: ``nn.Conv2d`` / ``nn.Linear`` followed by ReLU in one module,
  as ``minitorch_ser.nn.keras``;
- ``KerasLSTM``: the LSTM with Keras' single bias ``bias_l0`` (4H,). It runs PyTorch's own LSTM
  kernel (``torch.lstm``, the op behind ``nn.LSTM``) with ``bias_l0`` as the input-side bias
  and a zero, non-persistent buffer as the hidden-side one, so the parameter count stays
  Keras' 4 (F H + H^2 + H);
- ``KerasMultiHeadAttention``: separate ``q_proj``, ``k_proj``, ``v_proj`` (E -> h D) and
  ``out_proj`` (h D -> E) Linears around ``F.scaled_dot_product_attention``, Keras' layout
  with its free head size D (``key_dim``).

The first paper's model uses ``nn.LSTM`` (bidirectional, two biases) and
``nn.MultiheadAttention`` (packed ``in_proj_weight``) as they are: ours have their layouts.

``check_export`` (``--export-check``, off by default: it needs safetensors, ``pip install -e
".[export]"``, besides PyTorch) proves the way out of ``python -m minitorch_ser export``: our
model with random weights is saved as a checkpoint, exported by ``minitorch_ser.app.export``
(weights as ``.safetensors``, read back through the checkpoint exactly as the command does),
and the file is loaded with ``safetensors.torch.load_file`` into a twin built without weights,
``load_state_dict(strict=True)``; the twin's logits must be within 1e-4 of ours on the same
random input, in eval mode. The exit status is 1 when any check fails.

``check_twin`` is the proof: it loads our weights into the twin and compares the logits of
both in eval mode on the same random input. ``randomize_`` first gives biases, norm weights
and BatchNorm running statistics values away from their initial 0 / 1 (Keras' initialisation
sets every bias to 0, which would hide a bias in the wrong place).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import side_by_side as peers
from minitorch_ser.app.checkpoint import class_path, save_checkpoint
from minitorch_ser.app.export import export
from minitorch_ser.autograd.tensor import Tensor, no_grad
from minitorch_ser.data.features import FeatureConfig, Standardizer
from minitorch_ser.models.crnn import (KERAS_BN_MOMENTUM, KERAS_EPS, KERNEL_SIZE,
                                       CNNGRUAttention, CNNLSTMAttention,
                                       CNNLSTMAttentionRegularized)
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention

torch = peers.torch_peer()
if torch is None:
    raise ImportError(peers.missing("PyTorch"))
nn, F = torch.nn, torch.nn.functional

__all__ = ["ParallelCNNLSTMAttentionTwin", "CNNGRUAttentionTwin", "CNNLSTMAttentionTwin",
           "CNNLSTMAttentionRegularizedTwin", "twin_of", "load_weights", "build_ours",
           "randomize_", "check_twin", "check_export", "TwinCheck", "MODEL_NAMES"]


# ============================================================================ Keras-style layers
class Conv2dReLU(nn.Conv2d):
    """``relu(conv2d(x))``: x : (N, C, H, W) -> (N, O, Ho, Wo); names ``weight``, ``bias``."""

    def forward(self, x):
        return F.relu(super().forward(x))


class LinearReLU(nn.Linear):
    """``relu(x W^T + b)``: x : (*, in_features) -> (*, out_features)."""

    def forward(self, x):
        return F.relu(super().forward(x))


class KerasLSTM(nn.Module):
    """One-layer, one-direction LSTM with Keras' single bias, PyTorch's kernel and gate order.

    ``i, f, g, o`` as ``nn.LSTM`` with ``b_ih = bias_l0`` and ``b_hh = 0``. Parameters
    ``weight_ih_l0`` (4H, F), ``weight_hh_l0`` (4H, H), ``bias_l0`` (4H,), as our
    ``LSTM(bias='single')``.

    Shapes
    ------
    x : (N, T, F) (batch first) -> output (N, T, H), (h_n, c_n) each (1, N, H)
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        G, H = 4, hidden_size
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(G * H, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(G * H, H))
        self.bias_l0 = nn.Parameter(torch.empty(G * H))
        # the hidden-side bias PyTorch's kernel expects: zero, not a parameter, not saved
        self.register_buffer("bias_hh_zero", torch.zeros(G * H), persistent=False)
        bound = 1.0 / math.sqrt(H)
        for p in (self.weight_ih_l0, self.weight_hh_l0, self.bias_l0):
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        N = x.shape[0]
        h0 = x.new_zeros(1, N, self.hidden_size)
        weights = [self.weight_ih_l0, self.weight_hh_l0, self.bias_l0, self.bias_hh_zero]
        # torch.lstm(input, hx, params, has_biases, num_layers, dropout, train,
        #            bidirectional, batch_first): the op nn.LSTM calls
        output, h_n, c_n = torch.lstm(x, (h0, h0), weights, True, 1, 0.0, self.training,
                                      False, True)
        return output, (h_n, c_n)


class KerasMultiHeadAttention(nn.Module):
    """Keras' ``MultiHeadAttention(num_heads=h, key_dim=D)`` on (N, L, E), batch first.

    ``Q = x_q W_q^T + b_q`` (E -> h D), likewise K and V; per head
    ``softmax(Q_j K_j^T / sqrt(D)) V_j``; heads side by side, then ``out_proj`` (h D -> E).
    """

    def __init__(self, embed_dim: int, num_heads: int, key_dim: int):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, key_dim
        inner = num_heads * key_dim
        self.q_proj = nn.Linear(embed_dim, inner)
        self.k_proj = nn.Linear(embed_dim, inner)
        self.v_proj = nn.Linear(embed_dim, inner)
        self.out_proj = nn.Linear(inner, embed_dim)

    def forward(self, query, key, value, need_weights: bool = False):
        """(N, L, E), (N, S, E), (N, S, E) -> (output (N, L, E), None)."""
        N, L, _ = query.shape
        S = key.shape[1]
        h, d = self.num_heads, self.head_dim
        q = self.q_proj(query).view(N, L, h, d).transpose(1, 2)     # (N, h, L, d)
        k = self.k_proj(key).view(N, S, h, d).transpose(1, 2)       # (N, h, S, d)
        v = self.v_proj(value).view(N, S, h, d).transpose(1, 2)     # (N, h, S, d)
        heads = F.scaled_dot_product_attention(q, k, v)             # (N, h, L, d), 1/sqrt(d)
        out = heads.transpose(1, 2).reshape(N, L, h * d)            # (N, L, h d)
        return self.out_proj(out), None


def to_sequence(x):
    """(N, C, T, F) -> (N, T, F * C), Keras' Reshape order: ``seq[n, t, f*C + c] = x[n, c, t, f]``."""
    n, c, t, f = x.shape
    return x.permute(0, 2, 3, 1).reshape(n, t, f * c)


# ============================================================================ first paper
class AttentionPooling(nn.Module):
    """``alpha = softmax_t(h w + b)``, ``c = sum_t alpha_t h_t``: (N, T, E) -> (N, E)."""

    def __init__(self, embed_dim: int):
        super().__init__()
        self.score = nn.Linear(embed_dim, 1)

    def forward(self, h):
        alpha = self.score(h).squeeze(-1).softmax(dim=-1)           # (N, T)
        return (h * alpha.unsqueeze(-1)).sum(dim=1)                 # (N, E)


class ParallelCNNLSTMAttentionTwin(nn.Module):
    """``minitorch_ser.models.parallel.ParallelCNNLSTMAttention`` in torch.nn (same arguments)."""

    def __init__(self, n_classes: int = 3, n_mels: int = 128, n_frames: int = 188,
                 hidden: int = 128, attention: str = "mha", heads: int = 4,
                 cnn_dropout: float = 0.3, lstm_dropout: float = 0.1,
                 channels: tuple = (16, 32, 64, 64)):
        super().__init__()
        pools = (2, 4, 4, 4)
        self.cnn = nn.Sequential(*[
            # pooling before the ReLU, as ours (the same function, see models.parallel.conv_block)
            nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1),
                          nn.BatchNorm2d(c_out), nn.MaxPool2d(kernel_size=pool, stride=pool),
                          nn.ReLU(), nn.Dropout(cnn_dropout))
            for c_in, c_out, pool in zip((1,) + tuple(channels[:3]), channels, pools)])
        h, w = n_mels, n_frames
        for pool in pools:
            h, w = h // pool, w // pool
        self.cnn_features = channels[-1] * h * w
        self.lstm_pool = nn.MaxPool2d(kernel_size=(2, 4), stride=(2, 4))
        self.lstm = nn.LSTM(n_mels // 2, hidden, batch_first=True, bidirectional=True)
        self.lstm_dropout = nn.Dropout(lstm_dropout)
        self.attention_type = attention
        if attention == "mha":
            self.mha = nn.MultiheadAttention(2 * hidden, heads, batch_first=True)
        self.pool = AttentionPooling(2 * hidden)
        self.fc = nn.Linear(self.cnn_features + 2 * hidden, n_classes)

    def forward(self, x):
        """x : (N, 1, n_mels, n_frames) -> logits (N, n_classes)."""
        cnn = self.cnn(x).flatten(1)                                # (N, C4 h w)
        s = self.lstm_pool(x).squeeze(1).transpose(1, 2)            # (N, T, n_mels/2)
        h, _ = self.lstm(s)                                         # (N, T, 2 hidden)
        h = self.lstm_dropout(h)
        if self.attention_type == "mha":
            attended, _ = self.mha(h, h, h, need_weights=False)
            h = h + attended                                        # residual
        context = self.pool(h)                                      # (N, 2 hidden)
        return self.fc(torch.cat([cnn, context], dim=1))            # (N, n_classes)


# ============================================================================ second paper
class CNNGRUAttentionTwin(nn.Module):
    """Figure 7, ``minitorch_ser.models.crnn.CNNGRUAttention`` in torch.nn (same arguments,
    without ``init``: load our weights for equal numbers)."""

    _pool = (2, 2)

    def __init__(self, n_classes: int = 6, n_frames: int = 300, n_mels: int = 64,
                 in_channels: int = 3, channels=(128, 256), dense_units: int = 768,
                 hidden_size: int = 128, num_heads: int = 2, key_dim: int = 32,
                 fc_units: int = 64, dropout: float = 0.3):
        super().__init__()
        c1, c2 = channels
        pf = self._pool[1]
        features = (n_mels // pf // pf) * c2                        # F' C2 per step
        self.conv1 = Conv2dReLU(in_channels, c1, KERNEL_SIZE, padding="same")
        self.pool1 = nn.MaxPool2d(self._pool)
        self.conv2 = Conv2dReLU(c1, c2, KERNEL_SIZE, padding="same")
        self.pool2 = nn.MaxPool2d(self._pool)
        self.dense = LinearReLU(features, dense_units)
        self.gru = nn.GRU(dense_units, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.attention = KerasMultiHeadAttention(hidden_size, num_heads, key_dim)
        self.norm = nn.LayerNorm(hidden_size, eps=KERAS_EPS)
        self.fc1 = LinearReLU(hidden_size, fc_units)
        self.fc2 = nn.Linear(fc_units, n_classes)

    def forward(self, x):
        """x : (N, C, n_mels, n_frames) -> logits (N, n_classes)."""
        x = x.transpose(2, 3)                                       # (N, C, T, F)
        x = self.pool1(self.conv1(x))                               # (N, C1, T/2, F/2)
        x = self.pool2(self.conv2(x))                               # (N, C2, T/4, F/4)
        s = self.dense(to_sequence(x))                              # (N, T', dense_units)
        h, _ = self.gru(s)                                          # (N, T', H)
        h = self.dropout(h)
        a, _ = self.attention(h, h, h)
        a = self.norm(h + a)                                        # residual, then LayerNorm
        return self.fc2(self.fc1(a.mean(dim=1)))                    # (N, n_classes)


class CNNLSTMAttentionTwin(nn.Module):
    """Figure 8, ``minitorch_ser.models.crnn.CNNLSTMAttention`` in torch.nn."""

    _pool = (1, 2)

    def __init__(self, n_classes: int = 6, n_frames: int = 300, n_mels: int = 64,
                 in_channels: int = 3, channels=(128, 256), hidden_size: int = 128,
                 num_heads: int = 2, key_dim: int = 128, fc_units: int = 64,
                 dropout: float = 0.3, fc_dropout: float = 0.3, layer_norm: bool = False):
        super().__init__()
        c1, c2 = channels
        pf = self._pool[1]
        features = (n_mels // pf // pf) * c2                        # F' C2 per step
        self.conv1 = Conv2dReLU(in_channels, c1, KERNEL_SIZE, padding="same")
        self.bn1 = nn.BatchNorm2d(c1, eps=KERAS_EPS, momentum=KERAS_BN_MOMENTUM)
        self.pool1 = nn.MaxPool2d(self._pool)
        self.conv2 = Conv2dReLU(c1, c2, KERNEL_SIZE, padding="same")
        self.bn2 = nn.BatchNorm2d(c2, eps=KERAS_EPS, momentum=KERAS_BN_MOMENTUM)
        self.pool2 = nn.MaxPool2d(self._pool)
        self.lstm = KerasLSTM(features, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.attention = KerasMultiHeadAttention(hidden_size, num_heads, key_dim)
        self.norm = nn.LayerNorm(hidden_size, eps=KERAS_EPS) if layer_norm else None
        self.fc1 = LinearReLU(hidden_size, fc_units)
        self.fc_dropout = nn.Dropout(fc_dropout)
        self.fc2 = nn.Linear(fc_units, n_classes)

    def forward(self, x):
        """x : (N, C, n_mels, n_frames) -> logits (N, n_classes)."""
        x = x.transpose(2, 3)                                       # (N, C, T, F)
        x = self.pool1(self.bn1(self.conv1(x)))                     # (N, C1, T, F/2)
        x = self.pool2(self.bn2(self.conv2(x)))                     # (N, C2, T, F/4)
        h, _ = self.lstm(to_sequence(x))                            # (N, T, H)
        h = self.dropout(h)
        a, _ = self.attention(h, h, h)                              # (N, T, H)
        if self.norm is not None:
            a = self.norm(a)
        z = self.fc_dropout(self.fc1(a.mean(dim=1)))                # (N, fc_units)
        return self.fc2(z)


class CNNLSTMAttentionRegularizedTwin(CNNLSTMAttentionTwin):
    """Figure 9, ``minitorch_ser.models.crnn.CNNLSTMAttentionRegularized`` in torch.nn, with
    its L2 penalty ``l2 * (|conv1.weight|^2 + |conv2.weight|^2)``."""

    def __init__(self, n_classes: int = 6, n_frames: int = 300, n_mels: int = 64,
                 in_channels: int = 3, channels=(64, 128), hidden_size: int = 128,
                 num_heads: int = 2, key_dim: int = 32, fc_units: int = 64,
                 dropout: float = 0.5, fc_dropout: float = 0.5, l2: float = 1e-3):
        super().__init__(n_classes, n_frames, n_mels, in_channels, channels, hidden_size,
                         num_heads, key_dim, fc_units, dropout, fc_dropout, layer_norm=True)
        self.l2 = float(l2)

    def regularization_loss(self):
        return self.l2 * (self.conv1.weight.square().sum() + self.conv2.weight.square().sum())


# ============================================================================ ours -> twin
#: our model class name -> (twin class, config keys of ours that the twin does not take)
TWINS = {
    "ParallelCNNLSTMAttention": (ParallelCNNLSTMAttentionTwin, ()),
    "CNNGRUAttention": (CNNGRUAttentionTwin, ("init",)),
    "CNNLSTMAttention": (CNNLSTMAttentionTwin, ("init",)),
    "CNNLSTMAttentionRegularized": (CNNLSTMAttentionRegularizedTwin, ("init",)),
}

#: names for the command line and ``build_ours``
MODEL_NAMES = ("parallel_mha", "parallel_additive", "gru", "lstm", "lstm_reg")


def build_ours(name: str, **kw):
    """One of our models by ``MODEL_NAMES`` entry; ``kw`` goes to its constructor."""
    if name == "parallel_mha":
        return ParallelCNNLSTMAttention(attention="mha", **kw)
    if name == "parallel_additive":
        return ParallelCNNLSTMAttention(attention="additive", **kw)
    models = {"gru": CNNGRUAttention, "lstm": CNNLSTMAttention,
              "lstm_reg": CNNLSTMAttentionRegularized}
    if name not in models:
        raise ValueError(f"name={name!r} must be one of {MODEL_NAMES}")
    return models[name](**kw)


def load_weights(twin: nn.Module, model) -> nn.Module:
    """Copy ``model``'s state_dict into ``twin`` (strict: every name and shape must match)."""
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()},
                         strict=True)
    return twin


def twin_of(model, weights: bool = True) -> nn.Module:
    """The twin of our ``model``, built from ``model.config``, with its weights when
    ``weights``; in the same training / eval mode."""
    name = type(model).__name__
    if name not in TWINS:
        raise ValueError(f"no PyTorch twin of {name}; twins exist for {sorted(TWINS)}")
    cls, dropped = TWINS[name]
    config = {k: v for k, v in model.config.items() if k not in dropped}
    twin = cls(**config)
    if weights:
        load_weights(twin, model)
    return twin.train(model.training)


def parameter_count(model) -> int:
    """Trainable parameters of our model or of a twin (BatchNorm statistics not included)."""
    if isinstance(model, nn.Module):
        return sum(p.numel() for p in model.parameters())
    return sum(p.data.size for p in model.parameters())


def randomize_(model, seed: int = 0):
    """Give ``model``'s 1-D parameters (biases, norm weights) and BatchNorm running statistics
    random values, in place, so that a check sees every one of them; return ``model``.

    ``b <- b + U(-0.2, 0.2)`` for every 1-D parameter, ``running_mean ~ U(-0.5, 0.5)``,
    ``running_var ~ U(0.5, 2)``.
    """
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        if p.data.ndim == 1:
            p.data += rng.uniform(-0.2, 0.2, p.data.shape).astype(p.data.dtype)
    state = model.state_dict()                          # copies
    for name, value in state.items():
        if name.endswith("running_mean"):
            value[...] = rng.uniform(-0.5, 0.5, value.shape)
        elif name.endswith("running_var"):
            value[...] = rng.uniform(0.5, 2.0, value.shape)
    model.load_state_dict(state)
    return model


@dataclass
class TwinCheck:
    """What ``check_twin`` found."""

    model: str
    ours_parameters: int
    twin_parameters: int
    state_entries: int           # state_dict entries loaded (parameters and buffers)
    max_abs_logit: float         # scale of the logits compared
    max_abs_logit_diff: float
    atol: float

    @property
    def ok(self) -> bool:
        return (self.ours_parameters == self.twin_parameters
                and self.max_abs_logit_diff <= self.atol)

    def __str__(self) -> str:
        return (f"{self.model:<35} parameters ours {self.ours_parameters:>9,} twin "
                f"{self.twin_parameters:>9,}, {self.state_entries} state entries loaded; "
                f"max |logit| {self.max_abs_logit:.2f}, max |diff| "
                f"{self.max_abs_logit_diff:.1e} ({'ok' if self.ok else 'FAIL'}: <= {self.atol:g})")


def check_twin(model, batch: int = 2, seed: int = 0, atol: float = 1e-4) -> TwinCheck:
    """Load ``model``'s weights into its twin and compare the logits of both in eval mode.

    Parameters
    ----------
    model : one of our models (``TWINS``)
        Checked as it is (see ``randomize_`` for non-trivial biases and statistics); left in
        eval mode.
    batch : int > 0
        Clips in the random input, drawn from N(0, 1) with the model's input shape.
    seed : int
    atol : float
        Largest absolute logit difference accepted (float32 both sides).

    Returns
    -------
    TwinCheck
        Both parameter counts, the state entries loaded and the largest absolute difference.
    """
    model.eval()
    c = model.config
    shape = (batch, c.get("in_channels", 1), c["n_mels"], c["n_frames"])
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return _compare(model, twin_of(model), x, len(model.state_dict()), atol)


def _compare(model, twin, x: np.ndarray, loaded: int, atol: float) -> TwinCheck:
    """Both models in eval mode on ``x : (B, C, F, T)``: the ``TwinCheck`` of their logits."""
    twin.eval()
    with no_grad():
        ours = model.eval()(Tensor(x)).data
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    c = model.config
    label = type(model).__name__ + (f"({c['attention']})" if "attention" in c else "")
    return TwinCheck(label, parameter_count(model), parameter_count(twin), loaded,
                     float(np.abs(ours).max()), float(np.abs(ours - theirs).max()), atol)


def check_export(model, batch: int = 2, seed: int = 0, atol: float = 1e-4) -> TwinCheck:
    """Export ``model`` as ``python -m minitorch_ser export`` does, load the ``.safetensors``
    file into a twin built without weights, and compare the logits of both in eval mode.

    The model is written as a checkpoint with the ``meta`` a prediction needs (class names, a
    ``FeatureConfig`` of the model's input shape, a ``Standardizer`` fitted on noise), then
    ``minitorch_ser.app.export.export`` reads that checkpoint back and writes the weights; all
    of it in a temporary folder.

    Parameters
    ----------
    model : one of our models (``TWINS``)
        Exported as it is (see ``randomize_``); left in eval mode.
    batch : int > 0
        Clips in the random input, drawn from N(0, 1) with the model's input shape.
    seed : int
    atol : float
        Largest absolute logit difference accepted (float32 both sides).

    Returns
    -------
    TwinCheck
        Both parameter counts, the tensors in the file and the largest absolute difference.

    Raises
    ------
    ImportError
        If safetensors is not installed (the message has the install line).
    """
    from safetensors.torch import load_file      # the export extra; imported only when checked
    model.eval()
    c = model.config
    shape = (c.get("in_channels", 1), c["n_mels"], c["n_frames"])           # (C, F, T)
    features = FeatureConfig(n_mels=shape[1], n_frames=shape[2], deltas=shape[0] == 3)
    rng = np.random.default_rng(seed)
    standardizer = Standardizer().fit(rng.standard_normal((2, *shape)).astype(np.float32))
    n_classes = c["n_classes"]
    meta = {"class_names": [f"class{k}" for k in range(n_classes)],
            "feature_config": features.to_dict(), "standardizer": standardizer.state_dict()}
    with tempfile.TemporaryDirectory(prefix="torch_twins_export.") as tmp:
        ckpt = save_checkpoint(Path(tmp) / "best.ckpt", {
            "model_class": class_path(model), "model_config": dict(model.config),
            "model_state": model.state_dict(), "meta": meta})
        done = export(ckpt, Path(tmp) / "model.safetensors")
        twin = twin_of(model, weights=False)
        twin.load_state_dict(load_file(done["path"]), strict=True)
    x = rng.standard_normal((batch, *shape)).astype(np.float32)
    return _compare(model, twin, x, done["tensors"], atol)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Check the PyTorch twins of the models: "
                                                 "parameter counts and logits in eval mode.")
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--export-check", action="store_true",
                        help="also export each model (minitorch_ser.app.export) and load the "
                             ".safetensors file into its twin (needs safetensors)")
    args = parser.parse_args(argv)
    if args.export_check and importlib.util.find_spec("safetensors") is None:
        print('export check: safetensors is not installed (pip install -e ".[export]" adds it)')
        return 1
    failed = 0
    for name in args.models:
        ours = build_ours(name)
        twin = twin_of(ours)                       # our state_dict, loaded with strict=True
        same = (list(twin.state_dict()) == list(ours.state_dict())
                and parameter_count(twin) == parameter_count(ours) == PAPER_COUNTS[name])
        result = check_twin(randomize_(ours, args.seed), args.batch, args.seed)
        verdict = "as ours and the paper" if same else "DIFFER"
        print(f"{result}; names and parameter count {verdict}", flush=True)
        failed += not (result.ok and same)
        if args.export_check:
            exported = check_export(ours, args.batch, args.seed)
            print(f"  export round trip: {exported}", flush=True)
            failed += not exported.ok
    caught = wrong_constant_is_caught(args.seed)
    print(f"negative control: a twin with LayerNorm eps 1e-5 instead of 1e-3 "
          f"{'fails the tolerance, as it must' if caught else 'PASSES: the check is too loose'}")
    return 1 if failed or not caught else 0


#: trainable parameters of each model at its default (the papers') sizes; the second paper's
#: tables add the BatchNorms' 768 (Figure 8) and 384 (Figure 9) running statistics
PAPER_COUNTS = {"parallel_mha": 523_620, "parallel_additive": 260_452, "gru": 4_030_982,
                "lstm": 2_803_014 - 768, "lstm_reg": 1_283_334 - 384}


def wrong_constant_is_caught(seed: int = 1) -> bool:
    """Whether the 1e-4 tolerance sees a twin computing something else: Figure 9's LayerNorm
    with PyTorch's default eps 1e-5 instead of Keras' 1e-3."""
    ours = randomize_(build_ours("lstm_reg"), seed=seed).eval()
    twin = twin_of(ours).eval()
    twin.norm.eps = 1e-5
    x = np.random.default_rng(seed).standard_normal((2, 3, 64, 300)).astype(np.float32)
    with no_grad():
        expected = ours(Tensor(x)).data
    with torch.no_grad():
        got = twin(torch.from_numpy(x)).numpy()
    return float(np.abs(got - expected).max()) > 1e-4


if __name__ == "__main__":
    raise SystemExit(main())
