"""Layers: ``Module`` and its subclasses, with PyTorch's names, arguments and weight layouts.

Where each layer lives (one file per concern): ``module.py`` (Module, Parameter),
``linear.py``, ``activation.py``, ``dropout.py``, ``container.py``, ``conv.py``, ``pool.py``,
``norm.py`` (BatchNorm, LayerNorm), ``recurrent.py`` (LSTM, GRU), ``attention.py``,
``functional.py`` (losses and stateless functions), ``init.py``, ``summary.py``.
"""

from . import functional, init
from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .attention import MultiheadAttention, scaled_dot_product_attention
from .container import ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .linear import Flatten, Identity, Linear
from .module import Module, Parameter
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .pool import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool1d, MaxPool2d
from .recurrent import GRU, LSTM
from .summary import summary
