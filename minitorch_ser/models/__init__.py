"""The two papers' models, built from ``minitorch_ser.nn`` layers: ``parallel.py`` (BAVED,
first paper) and ``crnn.py`` (CREMA-D, second paper: Figures 7-9)."""

from .parallel import ParallelCNNLSTMAttention
from .crnn import (MODELS, TRAINING, CNNGRUAttention, CNNLSTMAttention,
                   CNNLSTMAttentionRegularized, build_crnn)
