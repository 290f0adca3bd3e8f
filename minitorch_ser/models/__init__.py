"""The two papers' models, built from ``minitorch_ser.nn`` layers."""

from .parallel import ParallelCNNLSTMAttention
