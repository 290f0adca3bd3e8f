"""argparse ``type=`` functions that check a number's range where it is parsed.

``p.add_argument("--seed", type=nonnegative_int)`` turns ``--seed -1`` into argparse's own
error, which names the option and the constraint, and exits with status 2::

    error: argument --seed: -1 is not an integer >= 0

instead of a value that fails later, deep in NumPy, with a message that names neither.
Each function takes the option's text and returns the number, or raises
``argparse.ArgumentTypeError`` saying which constraint the value breaks.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["nonnegative_int", "positive_int", "nonnegative_float", "positive_float"]


def _integer(text: str, constraint: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer {constraint}") from None


def _finite(text: str, constraint: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number {constraint}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number {constraint}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (a seed, a patience of 0 = off)."""
    value = _integer(text, ">= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is not an integer >= 0")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (epochs, a batch size)."""
    value = _integer(text, ">= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not an integer >= 1")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number >= 0 (copies per clip)."""
    value = _finite(text, ">= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value:g} is not a number >= 0")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a duration in seconds)."""
    value = _finite(text, "> 0")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} is not a number > 0")
    return value
