"""The two papers' models, built from ``minitorch_ser.nn`` layers: ``parallel.py`` (BAVED,
first paper) and ``crnn.py`` (CREMA-D, second paper: Figures 7-9); ``registry.py`` names the
model classes a checkpoint may rebuild."""

from .parallel import ParallelCNNLSTMAttention
from .crnn import (MODELS, CNNGRUAttention, CNNLSTMAttention,
                   CNNLSTMAttentionRegularized, build_crnn)
from .registry import get_model_class, model_name, register_model, registered_models
