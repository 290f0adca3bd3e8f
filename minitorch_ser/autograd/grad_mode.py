"""Grad mode: the per-thread switch that tells every op whether to record a graph node.

``Function.apply`` reads ``is_grad_enabled()`` before linking its output to its inputs. Inside
``no_grad()`` nothing is recorded and whatever ``forward`` saved is dropped at once (evaluation,
optimizer updates); ``enable_grad()`` turns recording back on inside it. Both restore the
previous mode on exit, also after an exception, and both work as decorators (``torch.no_grad``).

The switch is thread-local, as in PyTorch: ``no_grad()`` in one thread does not stop another
thread's training step from recording its graph.
"""

from __future__ import annotations

import contextlib
import threading


class _GradMode(threading.local):
    """Per-thread switch read by every op: record graph nodes or not."""

    enabled = True  # the class attribute is each thread's starting value


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether ops currently record a graph (False inside ``no_grad()``)."""
    return _grad_mode.enabled


@contextlib.contextmanager
def no_grad():
    """Context manager under which no op records a graph (evaluation, optimizer updates)."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


@contextlib.contextmanager
def enable_grad():
    """Context manager that turns graph recording back on inside ``no_grad()``."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = True
    try:
        yield
    finally:
        _grad_mode.enabled = previous
