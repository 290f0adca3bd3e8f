"""Slicing a signal into overlapping frames without copying it."""
from __future__ import annotations

import numpy as np

from ._checks import check_int

__all__ = ["frame"]


def frame(x, frame_length, hop_length, axis=-1):
    """Slice ``x`` into overlapping frames, as a read-only strided view (no copy).

    Frame ``t`` holds samples ``x[t * hop_length : t * hop_length + frame_length]``, and

        n_frames = 1 + (n - frame_length) // hop_length

    where ``n = x.shape[axis]``; samples after the last whole frame are dropped (pad first,
    as :func:`dsp.stft` does with ``center=True``, to keep them).

    Parameters
    ----------
    x : ndarray, shape (..., n) for ``axis=-1``
        Signal; leading dimensions are a batch.
    frame_length : int > 0
        Samples per frame.
    hop_length : int > 0
        Samples between the starts of consecutive frames.
    axis : int
        Axis to frame. The frame-length axis goes just before the frame axis when ``axis`` is
        negative and just after it otherwise (librosa's convention): ``axis=-1`` gives
        ``(..., frame_length, n_frames)`` and ``axis=0`` gives ``(n_frames, frame_length, ...)``.

    Returns
    -------
    frames : ndarray view
        ``frames[..., j, t] == x[..., t * hop_length + j]`` for ``axis=-1``. It shares memory
        with ``x`` and is read-only: copy it before writing.

    Raises
    ------
    ValueError
        If ``frame_length`` or ``hop_length`` < 1, or ``n < frame_length``.
    """
    x = np.asarray(x)
    frame_length = check_int("frame_length", frame_length, minimum=1)
    hop_length = check_int("hop_length", hop_length, minimum=1)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension to frame; got a scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis={axis} is out of range for an array of {x.ndim} dimensions")
    n = x.shape[axis]
    if n < frame_length:
        raise ValueError(f"input length x.shape[{axis}]={n} must be >= frame_length={frame_length}")

    # Every window of frame_length consecutive samples, as a view: the window index replaces
    # `axis` (n - frame_length + 1 of them) and the position inside the window is appended last.
    windows = np.lib.stride_tricks.sliding_window_view(x, frame_length, axis=axis)
    # Keep one window in every hop_length: these are the frames.
    keep = [slice(None)] * windows.ndim
    keep[axis % x.ndim] = slice(None, None, hop_length)
    frames = windows[tuple(keep)]
    # Move the in-frame position next to the frame index: just before it for a negative axis
    # ((..., frame_length, n_frames) for axis=-1), just after it for a non-negative one
    # ((n_frames, frame_length, ...) for axis=0), as librosa does.
    target = axis - 1 if axis < 0 else axis + 1
    return np.moveaxis(frames, -1, target)
