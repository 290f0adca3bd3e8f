"""The first paper's model: a CNN branch and a BiLSTM + attention branch in parallel.

Alsallaq et al., "Arabic Emotion Speech Recognition Using Parallel CNN with LSTM and Attention
Mechanisms" (section 3), on a log-mel input x : (N, 1, n_mels, n_frames), BAVED's (N, 1, 128, 188):

CNN branch, four blocks of [Conv 3x3, padding 1 -> BatchNorm -> ReLU -> MaxPool -> Dropout 0.3]
(ReLU and MaxPool swapped, an identical function that is cheaper: see ``conv_block``)::

    (N, 1, 128, 188) -> block1 (16 filters, pool 2) -> (N, 16, 64, 94)
                     -> block2 (32 filters, pool 4) -> (N, 32, 16, 23)
                     -> block3 (64 filters, pool 4) -> (N, 64, 4, 5)
                     -> block4 (64 filters, pool 4) -> (N, 64, 1, 1) -> flatten (N, 64)

LSTM branch::

    x -> MaxPool (2, 4), stride (2, 4)  -> (N, 1, 64, 47) -> (N, 47, 64)   # time-major rows
      -> BiLSTM(64 -> 128 per direction) -> h : (N, 47, 256) -> Dropout 0.1

Attention (``attention='mha'``): multi-head self-attention over h, added back to it (residual),
then a learned score per step pools the sequence into one context vector::

    a = h + MHA(h, h, h)                  # (N, T, 256)
    alpha = softmax_t(a w + b)            # (N, T)   one score per time step
    c = sum_t alpha_t a_t                 # (N, 256)

``attention='additive'`` skips the self-attention (a = h): the single-score softmax pooling of
the reference notebook the paper builds on.

Head: concat [CNN 64, context 256] -> Linear(320 -> n_classes) -> logits; softmax for
probabilities (``predict_proba``).
"""

from __future__ import annotations

import numpy as np

from ..nn.activation import ReLU
from ..nn.attention import MultiheadAttention
from ..nn.container import Sequential
from ..nn.conv import Conv2d
from ..nn.dropout import Dropout
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.norm import BatchNorm2d
from ..nn.pool import MaxPool2d
from ..nn.recurrent import LSTM
from ..autograd.ops import concat


def conv_block(in_channels: int, out_channels: int, pool: int, dropout: float = 0.3) -> Sequential:
    """[Conv 3x3 padding 1 -> BatchNorm2d -> ReLU -> MaxPool(pool) -> Dropout(dropout)],
    built as [Conv -> BatchNorm2d -> MaxPool(pool) -> ReLU -> Dropout].

    Max pooling and ReLU commute exactly: ``max_w relu(x) = relu(max_w x)`` because ReLU is
    non-decreasing, and the gradients agree too (a window whose maximum is positive sends its
    gradient to the same first maximum either way; one whose maximum is <= 0 sends none either
    way). Pooling first runs the ReLU on a map ``pool**2`` times smaller (4x after block 1's
    2x2 pool, 16x after the 4x4 ones). The parameter names are unchanged (ReLU and MaxPool
    hold none), so a state_dict of the paper's order loads as it is. The PyTorch twin in
    ``benchmarks/torch_twins.py`` uses the same order, so that the timings compare the same
    work; ``tests/models`` checks the swap against the paper's order, values and gradients.

    Parameters
    ----------
    in_channels, out_channels : int > 0
        C_in and C_out, the filters of the convolution.
    pool : int > 0
        Square max-pooling window and stride.
    dropout : float in [0, 1]
        Dropout probability after the pooling.

    Returns
    -------
    Sequential
        (N, C_in, H, W) -> (N, C_out, H // pool, W // pool).
    """
    return Sequential(
        Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1),
        BatchNorm2d(out_channels),
        MaxPool2d(kernel_size=pool, stride=pool),
        ReLU(),
        Dropout(dropout),
    )


class AttentionPooling(Module):
    """Softmax pooling over time with one learned score per step.

    ``alpha = softmax_t(h w + b)``, ``c = sum_t alpha_t h_t``; h : (N, T, E) -> c : (N, E),
    alpha : (N, T). The weights of the last call are kept in ``last_weights`` for ``explain``.
    """

    def __init__(self, embed_dim: int):
        super().__init__()
        self.score = Linear(embed_dim, 1)
        self.last_weights = None

    def forward(self, h):
        scores = self.score(h).squeeze(-1)               # (N, T)
        alpha = scores.softmax(axis=-1)                  # (N, T)
        self.last_weights = alpha.data
        return (h * alpha.unsqueeze(-1)).sum(axis=1)     # (N, E)


class ParallelCNNLSTMAttention(Module):
    """Parallel CNN + BiLSTM + attention classifier (see the module docstring for shapes).

    Parameters
    ----------
    n_classes : int > 1
        Number of output classes (3 emotion levels for BAVED).
    n_mels, n_frames : int > 0
        Input size (mel bins, frames). Both must be >= 128 for the four CNN poolings
        (2 * 4 * 4 * 4) to leave a non-empty map; other sizes than 128 x 188 give a flattened
        CNN feature of 64 * h * w.
    hidden : int > 0
        LSTM hidden size per direction (the context vector has 2 * hidden features).
    attention : {'mha', 'additive'}
        Self-attention + pooling, or pooling alone.
    heads : int > 0
        Attention heads; 2 * hidden must be divisible by it.
    cnn_dropout, lstm_dropout : float in [0, 1)
        Dropout after each CNN block (0.3) and after the BiLSTM (0.1).
    channels : 4 ints > 0
        Filters of the four CNN blocks (the paper's 16, 32, 64, 64; smaller for tests).
    """

    def __init__(self, n_classes: int = 3, n_mels: int = 128, n_frames: int = 188,
                 hidden: int = 128, attention: str = "mha", heads: int = 4,
                 cnn_dropout: float = 0.3, lstm_dropout: float = 0.1,
                 channels: tuple = (16, 32, 64, 64)):
        super().__init__()
        if attention not in ("mha", "additive"):
            raise ValueError(f"attention={attention!r} must be 'mha' or 'additive'")
        if n_classes < 2:
            raise ValueError(f"n_classes={n_classes} must be >= 2")
        if n_mels < 128 or n_frames < 128:
            raise ValueError(f"input (n_mels={n_mels}, n_frames={n_frames}) must be at least "
                             f"128 x 128: the CNN branch pools by 2 * 4 * 4 * 4 = 128 in each axis")
        channels = tuple(int(c) for c in channels)
        if len(channels) != 4 or min(channels) < 1:
            raise ValueError(f"channels={channels} must be 4 positive filter counts")
        self.config = dict(n_classes=n_classes, n_mels=n_mels, n_frames=n_frames, hidden=hidden,
                           attention=attention, heads=heads, cnn_dropout=cnn_dropout,
                           lstm_dropout=lstm_dropout, channels=channels)
        # CNN branch
        pools = (2, 4, 4, 4)
        self.cnn = Sequential(*[conv_block(c_in, c_out, pool, cnn_dropout)
                                for c_in, c_out, pool in zip((1,) + channels[:3], channels, pools)])
        h, w = n_mels, n_frames
        for pool in pools:
            h, w = h // pool, w // pool
        self.cnn_features = channels[-1] * h * w
        # LSTM branch
        self.lstm_pool = MaxPool2d(kernel_size=(2, 4), stride=(2, 4))
        self.lstm = LSTM(n_mels // 2, hidden, batch_first=True, bidirectional=True)
        self.lstm_dropout = Dropout(lstm_dropout)
        # attention
        self.attention_type = attention
        if attention == "mha":
            self.mha = MultiheadAttention(2 * hidden, heads, batch_first=True)
        self.pool = AttentionPooling(2 * hidden)
        # head
        self.fc = Linear(self.cnn_features + 2 * hidden, n_classes)

    def forward(self, x):
        """x : (N, 1, n_mels, n_frames) -> logits (N, n_classes)."""
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"ParallelCNNLSTMAttention expects input (N, 1, n_mels, n_frames), "
                             f"got shape {x.shape}")
        cnn = self.cnn(x).flatten(1)                          # (N, C4 h w)
        s = self.lstm_pool(x)                                 # (N, 1, n_mels/2, n_frames/4)
        s = s.squeeze(1).transpose(1, 2)                      # (N, T, n_mels/2)
        h, _ = self.lstm(s)                                   # (N, T, 2 hidden)
        h = self.lstm_dropout(h)
        if self.attention_type == "mha":
            attended, _ = self.mha(h, h, h, need_weights=False)
            h = h + attended                                  # residual
        context = self.pool(h)                                # (N, 2 hidden)
        return self.fc(concat([cnn, context], axis=1))        # (N, n_classes)

    def attention_weights(self) -> np.ndarray | None:
        """Pooling weights over time of the last forward, (N, T), or None before any call."""
        return self.pool.last_weights
