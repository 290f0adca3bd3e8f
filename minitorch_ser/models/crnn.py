"""The second paper's three models: CNN + GRU / LSTM + multi-head self-attention.

Saparova and Makhrinov, "Exploring the Effectiveness of CNN-GRU and Attention-Enhanced CNN-LSTM
Architectures for Speech Emotion Recognition" (sections 3.3-3.5, Figures 7-9), on CREMA-D's
3-channel features x : (N, 3, n_mels, n_frames) = (N, 3, 64, 300): log-mel, delta and
delta-delta over 64 mel bins and 300 frames (3 s at a 10 ms hop), in the library's (and
librosa's) mel-first layout.

Layouts. The paper's Keras models are channels-last and time-first: its input (None, 300, 64,
3) has time before frequency. Each model therefore transposes its input once, at the top of
``forward``, ``(N, C, n_mels, n_frames) -> (N, C, n_frames, n_mels)``, and every layer below
works on time-first maps (N, C, T, F) as the paper's do: the 5 x 3 kernels span 5 frames and
3 mel bins, the weights keep the paper's layout, and the numbers are those of a time-first
model fed the transposed input. Every 4-D row of the paper's tables maps as
``(None, T, F, C) -> (N, C, T, F)`` (e.g. ``(None, 300, 64, 128)`` is our
``(None, 128, 300, 64)``); sequence rows ``(None, T, E)`` and vector rows ``(None, E)`` are the
same in both. ``model.summary((3, 64, 300))`` prints the tables below with exactly the paper's
parameter counts and totals.

From feature maps to a sequence (``nn.keras.ToSequence``). After the convolutions,
(N, C, T', F') becomes (N, T', F' * C): one vector per remaining time step. The features are
ordered as Keras' ``Reshape((T', F' * C))`` of its (T', F', C) map orders them, mel bin major
and channel minor::

    seq[n, t, f * C + c] = x[n, c, t, f]

so a Keras kernel for the next layer (Dense or LSTM, shape (F' * C, units)) ports as its plain
transpose, with no permutation of its rows.

Figure 7, CNN + GRU + MHA (``CNNGRUAttention``), 4,030,982 parameters::

    layer                          output (NCHW)         Keras (NHWC)           parameters
    input                          (N, 3, 64, 300)       (None, 300, 64, 3)              0
    transpose (in forward)         (N, 3, 300, 64)                                        0
    conv1  Conv 5x3 same + ReLU    (N, 128, 300, 64)     (None, 300, 64, 128)        5,888
    pool1  MaxPool 2x2             (N, 128, 150, 32)     (None, 150, 32, 128)            0
    conv2  Conv 5x3 same + ReLU    (N, 256, 150, 32)     (None, 150, 32, 256)      491,776
    pool2  MaxPool 2x2             (N, 256, 75, 16)      (None, 75, 16, 256)             0
    reshape                        (N, 75, 4096)                                          0
    dense  Linear + ReLU           (N, 75, 768)                                  3,146,496
    gru    GRU 128, all steps      (N, 75, 128)                                    344,832
    dropout 0.3                    (N, 75, 128)                                          0
    attention  2 heads, key_dim 32 (N, 75, 128)                                     33,088
    add    dropout + attention     (N, 75, 128)                                          0
    norm   LayerNorm               (N, 75, 128)                                        256
    global_pool  mean over time    (N, 128)                                              0
    fc1    Linear + ReLU           (N, 64)                                           8,256
    fc2    Linear -> logits        (N, 6)                                              390

Figure 8, CNN + LSTM + MHA (``CNNLSTMAttention``), 2,803,014 parameters of which 768 are the
BatchNorms' running statistics (Keras counts them as non-trainable)::

    conv1  Conv 5x3 same + ReLU    (N, 128, 300, 64)                                 5,888
    bn1    BatchNorm               (N, 128, 300, 64)                                   512
    pool1  MaxPool (1, 2)          (N, 128, 300, 32)     only frequency is pooled        0
    conv2  Conv 5x3 same + ReLU    (N, 256, 300, 32)                               491,776
    bn2    BatchNorm               (N, 256, 300, 32)                                 1,024
    pool2  MaxPool (1, 2)          (N, 256, 300, 16)                                     0
    reshape                        (N, 300, 4096)                                        0
    lstm   LSTM 128, single bias   (N, 300, 128)                                 2,163,200
    dropout 0.3                    (N, 300, 128)                                         0
    attention  2 heads, key_dim 128 (N, 300, 128)                                  131,968
    global_pool                    (N, 128)                                              0
    fc1    Linear + ReLU           (N, 64)                                           8,256
    fc_dropout 0.3                 (N, 64)                                               0
    fc2    Linear -> logits        (N, 6)                                              390

Figure 9, the fine-tuned CNN + LSTM + MHA (``CNNLSTMAttentionRegularized``), 1,283,334
parameters (384 non-trainable): Figure 8 with 64 and 128 filters, an L2 penalty on both
convolution kernels, dropout 0.5 after the LSTM and after fc1, MHA with key_dim 32 and a
LayerNorm on its output (no residual: the table has no Add row)::

    conv1  Conv 5x3 same + ReLU    (N, 64, 300, 64)                                  2,944
    bn1    BatchNorm               (N, 64, 300, 64)                                    256
    pool1  MaxPool (1, 2)          (N, 64, 300, 32)                                      0
    conv2  Conv 5x3 same + ReLU    (N, 128, 300, 32)                               123,008
    bn2    BatchNorm               (N, 128, 300, 32)                                   512
    pool2  MaxPool (1, 2)          (N, 128, 300, 16)                                     0
    reshape                        (N, 300, 2048)                                        0
    lstm   LSTM 128, single bias   (N, 300, 128)                                 1,114,624
    dropout 0.5                    (N, 300, 128)                                         0
    attention  2 heads, key_dim 32 (N, 300, 128)                                    33,088
    norm   LayerNorm               (N, 300, 128)                                       256
    global_pool                    (N, 128)                                              0
    fc1    Linear + ReLU           (N, 64)                                           8,256
    fc_dropout 0.5                 (N, 64)                                               0
    fc2    Linear -> logits        (N, 6)                                              390

(The text of section 3.5 says the LSTM was reduced "to 62" units; the table, whose counts
only 128 units reproduce, is followed here.)

Where the tables leave choices open, Keras' defaults are used, since the paper's models are
Keras models: the activation of a Conv2D / Dense sits inside its row (ReLU, as section 3.3
says; the BatchNorm of Figures 8-9 therefore follows the ReLU), BatchNorm and LayerNorm use
Keras' epsilon 1e-3 and BatchNorm Keras' momentum 0.99 (``momentum=0.01`` in PyTorch's
convention), the GRU is Keras' ``reset_after=True`` GRU (PyTorch's equations, two bias
vectors), the LSTM has Keras' single bias, the attention is Keras' ``MultiHeadAttention``
(``nn.attention.KerasMultiHeadAttention``, whose ``key_dim`` is the size of each head). With ``init='keras'`` (the default) the weights
are drawn as Keras draws them: Glorot-uniform kernels and zero biases for Conv2D and Dense,
Glorot-uniform input weights, orthogonal recurrent weights, zero biases and a forget-gate bias
of 1 (``unit_forget_bias``) for the recurrent layers; ``init='torch'`` keeps the layers'
PyTorch initialisation. The models return logits; the paper's final softmax is applied by the
cross-entropy loss (or ``logits.softmax(-1)`` for probabilities).

Input sizes other than 300 x 64 are accepted: with T' and F' the sizes left by the two
poolings (T' = n_frames // 4, F' = n_mels // 4 in Figure 7; T' = n_frames, F' = n_mels // 4
in Figures 8-9), the recurrent layer reads F' * C2 features per step (C2 the second
convolution's filters). The widths (``channels``, ``hidden_size`` ...) are parameters so that
tests can build tiny copies; their defaults are the paper's.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor, as_tensor
from ..nn.attention import KerasMultiHeadAttention
from ..nn.dropout import Dropout
from ..nn.keras import Add, Conv2dReLU, LinearReLU, ToSequence, keras_init_
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.norm import BatchNorm2d, LayerNorm
from ..nn.pool import GlobalAvgPool1d, MaxPool2d
from ..nn.recurrent import GRU, LSTM

__all__ = ["CNNGRUAttention", "CNNLSTMAttention", "CNNLSTMAttentionRegularized", "build_crnn",
           "MODELS"]

#: The paper's convolution kernel: 5 frames by 3 mel bins, 'same' padding (section 3.3).
KERNEL_SIZE = (5, 3)

#: Keras' BatchNormalization / LayerNormalization defaults: epsilon 1e-3, moving averages with
#: weight 0.99 on the old value (PyTorch's momentum counts the new value: 1 - 0.99).
KERAS_EPS = 1e-3
KERAS_BN_MOMENTUM = 0.01

# ============================================================================ validation
def _int_at_least(name: str, value, low: int, model: str, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{model}: {name}={value!r} must be an int >= {low}{why}")
    return int(value)


def _probability(name: str, value, model: str) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{model}: {name}={value} must be in [0, 1)")
    return float(value)


def _channels(value, model: str) -> tuple[int, int]:
    channels = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(channels) != 2:
        raise ValueError(f"{model}: channels={value!r} must be 2 filter counts (conv1, conv2)")
    return tuple(_int_at_least("channels", c, 1, model) for c in channels)


class _CRNN(Module):
    """Shared checks of the three models: sizes, input shape and initialisation choice."""

    #: Pooling of each max-pool layer, (time, frequency).
    _pool = (2, 2)

    def _check_sizes(self, n_classes, in_channels, n_frames, n_mels, init_name) -> None:
        model = type(self).__name__
        _int_at_least("n_classes", n_classes, 2, model)
        _int_at_least("in_channels", in_channels, 1, model)
        pt, pf = self._pool
        # two max-poolings must leave at least one frame and one mel bin
        _int_at_least("n_frames", n_frames, pt * pt, model,
                      f" (two max-poolings of {pt} along time must leave a frame)")
        _int_at_least("n_mels", n_mels, pf * pf, model,
                      f" (two max-poolings of {pf} along frequency must leave a mel bin)")
        if init_name not in ("keras", "torch"):
            raise ValueError(f"{model}: init={init_name!r} must be 'keras' or 'torch'")

    def sequence_shape(self) -> tuple[int, int]:
        """(T', F' * C2): steps and features per step that the recurrent part receives."""
        pt, pf = self._pool
        t = self.config["n_frames"] // pt // pt
        f = self.config["n_mels"] // pf // pf
        return t, f * self.config["channels"][1]

    def _time_first(self, x) -> Tensor:
        """Check x : (N, C, n_mels, n_frames) and return it as (N, C, n_frames, n_mels).

        The library's features are mel-first, as librosa's; the layers below follow the
        paper's Keras model, whose maps are time-first (its input is (None, 300, 64, 3)), so
        the 5 x 3 kernels span 5 frames and 3 mel bins. One transposition (a view) here keeps
        every weight in the paper's layout.
        """
        x = as_tensor(x)
        c = self.config
        expected = (c["in_channels"], c["n_mels"], c["n_frames"])
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"{type(self).__name__} expects input (N, in_channels, n_mels, "
                             f"n_frames) = (N, {expected[0]}, {expected[1]}, {expected[2]}), "
                             f"got shape {x.shape}")
        return x.transpose(2, 3)                       # (N, C, n_frames, n_mels)


# ============================================================================ Figure 7
class CNNGRUAttention(_CRNN):
    """Figure 7: CNN + GRU + multi-head self-attention (see the module docstring for shapes).

    ``x (N, C, n_mels, n_frames) -> transpose to (N, C, T, F) -> [Conv 5x3 + ReLU,
    MaxPool 2x2] x 2 -> (N, T', F' C2) -> Dense + ReLU -> GRU -> Dropout -> h``; then
    ``a = LayerNorm(h + MHA(h, h, h))``, ``logits = fc2(relu(fc1(mean_t a)))``.

    Parameters
    ----------
    n_classes : int >= 2
        Emotions (6 for CREMA-D).
    n_frames, n_mels : int >= 4
        Input frames (300) and mel bins (64); both are halved twice.
    in_channels : int >= 1
        Input channels (3: log-mel, delta, delta-delta).
    channels : (int, int)
        Filters of the two convolutions (128, 256).
    dense_units : int >= 1
        Width of the Dense layer before the GRU (768).
    hidden_size : int >= 1
        GRU units (128), also the attention's embedding size.
    num_heads, key_dim : int >= 1
        Attention heads (2) and the size of each head (32): Keras' ``MultiHeadAttention``
        layout and meaning of ``key_dim`` (``nn.attention.KerasMultiHeadAttention``).
    fc_units : int >= 1
        Width of the hidden Dense layer of the head (64).
    dropout : float in [0, 1)
        Dropout after the GRU (0.3).
    init : {'keras', 'torch'}
        Keras' initialisation (see ``nn.keras.keras_init_``) or the layers' PyTorch one.

    Shapes
    ------
    x : (N, in_channels, n_mels, n_frames) -> logits (N, n_classes)
    """

    _pool = (2, 2)

    def __init__(self, n_classes: int = 6, n_frames: int = 300, n_mels: int = 64,
                 in_channels: int = 3, channels=(128, 256), dense_units: int = 768,
                 hidden_size: int = 128, num_heads: int = 2, key_dim: int = 32,
                 fc_units: int = 64, dropout: float = 0.3, init: str = "keras"):
        super().__init__()
        name = type(self).__name__
        self._check_sizes(n_classes, in_channels, n_frames, n_mels, init)
        c1, c2 = _channels(channels, name)
        self.config = dict(n_classes=int(n_classes), n_frames=int(n_frames), n_mels=int(n_mels),
                           in_channels=int(in_channels), channels=(c1, c2),
                           dense_units=_int_at_least("dense_units", dense_units, 1, name),
                           hidden_size=_int_at_least("hidden_size", hidden_size, 1, name),
                           num_heads=_int_at_least("num_heads", num_heads, 1, name),
                           key_dim=_int_at_least("key_dim", key_dim, 1, name),
                           fc_units=_int_at_least("fc_units", fc_units, 1, name),
                           dropout=_probability("dropout", dropout, name), init=init)
        _, features = self.sequence_shape()
        H = self.config["hidden_size"]
        self.conv1 = Conv2dReLU(in_channels, c1, KERNEL_SIZE, padding="same")
        self.pool1 = MaxPool2d(self._pool)
        self.conv2 = Conv2dReLU(c1, c2, KERNEL_SIZE, padding="same")
        self.pool2 = MaxPool2d(self._pool)
        self.reshape = ToSequence()
        self.dense = LinearReLU(features, self.config["dense_units"])
        self.gru = GRU(self.config["dense_units"], H, bias=True, batch_first=True)
        self.dropout = Dropout(self.config["dropout"])
        self.attention = KerasMultiHeadAttention(H, self.config["num_heads"],
                                                 self.config["key_dim"], batch_first=True)
        self.add = Add()
        self.norm = LayerNorm(H, eps=KERAS_EPS)
        self.global_pool = GlobalAvgPool1d(axis=1)
        self.fc1 = LinearReLU(H, self.config["fc_units"])
        self.fc2 = Linear(self.config["fc_units"], n_classes)
        if init == "keras":
            keras_init_(self)

    def forward(self, x) -> Tensor:
        """x : (N, in_channels, n_mels, n_frames) -> logits (N, n_classes).

        Raises
        ------
        ValueError
            If x is not (N, in_channels, n_mels, n_frames) with the configured sizes.
        """
        x = self._time_first(x)                        # (N, C, T, F): T frames, F mel bins
        x = self.pool1(self.conv1(x))                  # (N, C1, T/2, F/2)
        x = self.pool2(self.conv2(x))                  # (N, C2, T/4, F/4)
        s = self.dense(self.reshape(x))                # (N, T', dense_units)
        h, _ = self.gru(s)                             # (N, T', H)
        h = self.dropout(h)
        a, _ = self.attention(h, h, h, need_weights=False)   # (N, T', H)
        a = self.norm(self.add(h, a))                  # residual, then LayerNorm
        z = self.fc1(self.global_pool(a))              # (N, fc_units)
        return self.fc2(z)                             # (N, n_classes)


# ============================================================================ Figures 8 and 9
class CNNLSTMAttention(_CRNN):
    """Figure 8: CNN (with BatchNorm) + LSTM + multi-head self-attention.

    ``x (N, C, n_mels, n_frames) -> transpose to (N, C, T, F) -> [Conv 5x3 + ReLU, BatchNorm,
    MaxPool (1, 2)] x 2 -> (N, T, F' C2) -> LSTM -> Dropout -> h``; then ``a = MHA(h, h, h)`` (no residual, no norm), ``logits =
    fc2(dropout(relu(fc1(mean_t a))))``. Only frequency is pooled: the LSTM runs over all
    n_frames steps.

    Parameters
    ----------
    n_classes : int >= 2
    n_frames : int >= 1
    n_mels : int >= 4
        Halved twice.
    in_channels : int >= 1
    channels : (int, int)
        Filters of the two convolutions (128, 256).
    hidden_size : int >= 1
        LSTM units (128), Keras' single bias.
    num_heads, key_dim : int >= 1
        2 heads of size 128 (Keras' ``key_dim``, the head size).
    fc_units : int >= 1
        64.
    dropout, fc_dropout : float in [0, 1)
        After the LSTM (0.3) and after fc1 (0.3).
    init : {'keras', 'torch'}

    Shapes
    ------
    x : (N, in_channels, n_mels, n_frames) -> logits (N, n_classes)
    """

    _pool = (1, 2)

    def __init__(self, n_classes: int = 6, n_frames: int = 300, n_mels: int = 64,
                 in_channels: int = 3, channels=(128, 256), hidden_size: int = 128,
                 num_heads: int = 2, key_dim: int = 128, fc_units: int = 64,
                 dropout: float = 0.3, fc_dropout: float = 0.3, init: str = "keras"):
        super().__init__()
        self._build(n_classes, n_frames, n_mels, in_channels, channels, hidden_size, num_heads,
                    key_dim, fc_units, dropout, fc_dropout, init, layer_norm=False)

    def _build(self, n_classes, n_frames, n_mels, in_channels, channels, hidden_size, num_heads,
               key_dim, fc_units, dropout, fc_dropout, init_name, layer_norm: bool) -> None:
        """The layers of Figures 8 and 9, which differ in widths and in the LayerNorm only."""
        name = type(self).__name__
        self._check_sizes(n_classes, in_channels, n_frames, n_mels, init_name)
        c1, c2 = _channels(channels, name)
        self.config = dict(n_classes=int(n_classes), n_frames=int(n_frames), n_mels=int(n_mels),
                           in_channels=int(in_channels), channels=(c1, c2),
                           hidden_size=_int_at_least("hidden_size", hidden_size, 1, name),
                           num_heads=_int_at_least("num_heads", num_heads, 1, name),
                           key_dim=_int_at_least("key_dim", key_dim, 1, name),
                           fc_units=_int_at_least("fc_units", fc_units, 1, name),
                           dropout=_probability("dropout", dropout, name),
                           fc_dropout=_probability("fc_dropout", fc_dropout, name),
                           init=init_name)
        _, features = self.sequence_shape()
        H = self.config["hidden_size"]
        self.conv1 = Conv2dReLU(in_channels, c1, KERNEL_SIZE, padding="same")
        self.bn1 = BatchNorm2d(c1, eps=KERAS_EPS, momentum=KERAS_BN_MOMENTUM)
        self.pool1 = MaxPool2d(self._pool)
        self.conv2 = Conv2dReLU(c1, c2, KERNEL_SIZE, padding="same")
        self.bn2 = BatchNorm2d(c2, eps=KERAS_EPS, momentum=KERAS_BN_MOMENTUM)
        self.pool2 = MaxPool2d(self._pool)
        self.reshape = ToSequence()
        self.lstm = LSTM(features, H, bias="single", batch_first=True)
        self.dropout = Dropout(self.config["dropout"])
        self.attention = KerasMultiHeadAttention(H, self.config["num_heads"],
                                                 self.config["key_dim"], batch_first=True)
        self.norm = LayerNorm(H, eps=KERAS_EPS) if layer_norm else None
        self.global_pool = GlobalAvgPool1d(axis=1)
        self.fc1 = LinearReLU(H, self.config["fc_units"])
        self.fc_dropout = Dropout(self.config["fc_dropout"])
        self.fc2 = Linear(self.config["fc_units"], n_classes)
        if init_name == "keras":
            keras_init_(self)

    def forward(self, x) -> Tensor:
        """x : (N, in_channels, n_mels, n_frames) -> logits (N, n_classes).

        Raises
        ------
        ValueError
            If x is not (N, in_channels, n_mels, n_frames) with the configured sizes.
        """
        x = self._time_first(x)                        # (N, C, T, F): T frames, F mel bins
        x = self.pool1(self.bn1(self.conv1(x)))        # (N, C1, T, F/2)
        x = self.pool2(self.bn2(self.conv2(x)))        # (N, C2, T, F/4)
        h, _ = self.lstm(self.reshape(x))              # (N, T, H)
        h = self.dropout(h)
        a, _ = self.attention(h, h, h, need_weights=False)   # (N, T, H)
        if self.norm is not None:
            a = self.norm(a)
        z = self.fc_dropout(self.fc1(self.global_pool(a)))   # (N, fc_units)
        return self.fc2(z)                             # (N, n_classes)


class CNNLSTMAttentionRegularized(CNNLSTMAttention):
    """Figure 9: the fine-tuned CNN + LSTM + MHA, with an L2 penalty on the convolutions.

    As ``CNNLSTMAttention`` with 64 and 128 filters, key_dim 32, dropout 0.5 after the LSTM and
    after fc1, and a LayerNorm on the attention's output: ``a = LayerNorm(MHA(h, h, h))``.
    Keras' ``kernel_regularizer=l2(l2)`` on both convolutions becomes ``regularization_loss()``,
    which ``minitorch_ser.app.training.fit`` adds to the batch loss.

    Parameters
    ----------
    n_classes, n_frames, n_mels, in_channels, num_heads, fc_units, init
        As in ``CNNLSTMAttention``.
    channels : (int, int)
        (64, 128).
    hidden_size : int >= 1
        128 (the table's count; the text's "62" does not reproduce it).
    key_dim : int >= 1
        32.
    dropout, fc_dropout : float in [0, 1)
        0.5 and 0.5 (section 3.5: "dropouts of 0.5 after the LSTM and dense layer").
    l2 : float >= 0
        L2 factor lambda of the convolution kernels. The paper does not state it; 1e-3 is this
        library's choice (Keras' ``l2()`` without an argument would be 0.01).

    Shapes
    ------
    x : (N, in_channels, n_mels, n_frames) -> logits (N, n_classes)
    """

    def __init__(self, n_classes: int = 6, n_frames: int = 300, n_mels: int = 64,
                 in_channels: int = 3, channels=(64, 128), hidden_size: int = 128,
                 num_heads: int = 2, key_dim: int = 32, fc_units: int = 64,
                 dropout: float = 0.5, fc_dropout: float = 0.5, l2: float = 1e-3,
                 init: str = "keras"):
        Module.__init__(self)
        if not float(l2) >= 0.0:
            raise ValueError(f"{type(self).__name__}: l2={l2} must be >= 0")
        self._build(n_classes, n_frames, n_mels, in_channels, channels, hidden_size, num_heads,
                    key_dim, fc_units, dropout, fc_dropout, init, layer_norm=True)
        self.l2 = float(l2)
        self.config["l2"] = self.l2

    def regularized_weights(self) -> list:
        """The kernels under the L2 penalty: ``conv1.weight`` and ``conv2.weight``."""
        return [self.conv1.weight, self.conv2.weight]

    def regularization_loss(self) -> Tensor:
        """Keras' L2 kernel penalty, ``l2 * sum_k sum(W_k ** 2)`` over the conv kernels.

        A scalar Tensor in the graph (its gradient is ``2 l2 W_k`` on each kernel), added to
        the cross-entropy of every training batch. Keras adds no penalty on biases here.
        """
        total = None
        for w in self.regularized_weights():
            term = (w * w).sum()
            total = term if total is None else total + term
        return total * self.l2


# ============================================================================ registry
#: The three models by the experiment's ``--model`` name.
MODELS = {"gru": CNNGRUAttention, "lstm": CNNLSTMAttention,
          "lstm_reg": CNNLSTMAttentionRegularized}


def build_crnn(name: str, n_classes: int = 6, n_frames: int = 300, n_mels: int = 64, **kw):
    """One of the paper's models by name: 'gru' (Figure 7), 'lstm' (Figure 8) or 'lstm_reg'
    (Figure 9). The paper's training settings per model are in
    ``experiments/crema_d_crnn.py`` (``TRAINING``).

    Parameters
    ----------
    name : {'gru', 'lstm', 'lstm_reg'}
    n_classes : int >= 2
        Emotions (6 for CREMA-D).
    n_frames, n_mels : int
        Input size: the model takes x : (N, in_channels, n_mels, n_frames).
    **kw
        Other arguments of the model's constructor (``channels``, ``hidden_size``, ...).

    Returns
    -------
    CNNGRUAttention, CNNLSTMAttention or CNNLSTMAttentionRegularized

    Raises
    ------
    ValueError
        For an unknown name or an invalid size.
    """
    if name not in MODELS:
        raise ValueError(f"build_crnn: name={name!r} must be one of {sorted(MODELS)}")
    return MODELS[name](n_classes=n_classes, n_frames=n_frames, n_mels=n_mels, **kw)
