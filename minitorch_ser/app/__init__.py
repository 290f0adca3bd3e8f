"""The application: training helpers, checkpoints, run folders, metrics, plots, inference and
the command line (``python -m minitorch_ser``). Built on the library; nothing in the library
imports it."""
