"""Layers: ``Module`` and its subclasses, with PyTorch's names, arguments, defaults and weight
layouts.

Where each layer lives (one file per concern): ``module.py`` (Module, Parameter),
``linear.py``, ``activation.py``, ``dropout.py``, ``container.py``, ``conv.py``, ``pool.py``,
``norm.py`` (BatchNorm, LayerNorm), ``recurrent.py`` (LSTM, GRU), ``attention.py``
(MultiheadAttention, KerasMultiHeadAttention), ``keras.py`` (Keras's fused-activation layers,
reshape order, Add and initialisation), ``functional.py`` (the functional form of every layer,
as ``torch.nn.functional``, and the losses), ``init.py``, ``summary.py``.

Every layer is written one way: ``Module.forward`` -> its functional form in ``functional`` ->
ops, or a ``Function`` whose backward is written by hand (Conv2d, pooling, BatchNorm,
LayerNorm, LSTM, GRU).
"""

from . import functional, init
from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .attention import KerasMultiHeadAttention, MultiheadAttention
from .container import ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .keras import Add, Conv2dReLU, LinearReLU, ToSequence, keras_init_
from .linear import Flatten, Identity, Linear
from .module import Module, Parameter
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .pool import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool1d, MaxPool2d
from .recurrent import GRU, LSTM
from .summary import summary
