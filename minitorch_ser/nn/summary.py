"""`summary`: a Keras-style table of a model's layers, output shapes and parameter counts.

The table is built by running the model once, in evaluation mode and under ``no_grad()``, on
zeros of the given input shape, while every submodule's ``forward`` is temporarily wrapped to
note the shape it returns. Nothing about the model changes: the wrappers are instance
attributes removed afterwards, each module's train/eval flag is restored, and eval mode keeps
BatchNorm's running statistics and the dropout generator untouched.

Counting, as Keras does (the second paper's Figures 7-9)::

    Total params         = Trainable params + Non-trainable params
    Trainable params     = sizes of the parameters with requires_grad=True
    Non-trainable params = sizes of frozen parameters (requires_grad=False)
                           + sizes of the floating-point buffers (BatchNorm's running_mean
                             and running_var: Keras's "moving_mean" / "moving_variance")

Integer buffers such as BatchNorm's ``num_batches_tracked`` are a step counter, not a weight
(Keras has no such variable), and are not counted. A BatchNorm over C channels therefore shows
4 C in its row (weight, bias, running_mean, running_var), of which 2 C are non-trainable: Figure
8's ``batch_normalization`` (C = 128) shows 512, and its two BatchNorms give the 768
non-trainable parameters of that table.
"""

from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor, no_grad

__all__ = ["summary"]


def summary(model, input_shape, batch_size: int = 1, dtype=np.float32, depth: int = 1) -> str:
    """The table of ``model``'s layers, their output shapes and parameter counts, with totals.

    Parameters
    ----------
    model : Module
        The model; it is called as ``model(x)`` (or ``model(x1, x2, ...)`` for several inputs).
    input_shape : tuple of int, or list of tuples of int
        The shape of one example, **without the batch axis** (as Keras's ``Input(shape=...)``),
        e.g. ``(3, 300, 64)`` for a batch of (N, 3, 300, 64). A list gives one shape per input.
    batch_size : int > 0
        Size of the batch of zeros the model runs on. In the table the batch axis (axis 0 of
        an output whose first size equals ``batch_size``) is shown as ``None``, as in Keras.
    dtype : numpy dtype
        dtype of the zeros (float32 like the models' parameters).
    depth : int > 0
        How deep to list nested modules: 1 lists the model's direct children (Keras's view of
        a functional model; an attention layer's projections are counted in its row), 2 also
        lists their children, and so on. A row whose children are listed shows only the
        parameters it owns directly (``--`` if none), so the column adds up to the total when
        every module takes part in the forward pass and the model itself owns no parameters
        (the totals always count every parameter and buffer of the model).

    Returns
    -------
    str
        The table, ready to ``print``. Rows follow the order in which modules are called;
        a module called several times is listed once, with the shape of its first call. For a
        module returning a tuple (an LSTM's ``(output, (h_n, c_n))``, attention's
        ``(output, weights)``) the first tensor, the layer's output, is shown. Operations that
        are not modules (a reshape or residual add written inline in ``forward``) have no row.

    Raises
    ------
    ValueError
        For a malformed ``input_shape``, ``batch_size`` or ``depth``.
    """
    shapes = _normalize_input_shapes(input_shape)
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"summary: batch_size={batch_size} must be a positive int")
    if int(depth) != depth or depth < 1:
        raise ValueError(f"summary: depth={depth} must be a positive int")
    batch_size, depth = int(batch_size), int(depth)

    calls = _record_output_shapes(model, shapes, batch_size, dtype)

    # ------------------------------------------------------------ rows: called modules <= depth
    rows = []
    for name, module, out_shape in calls:
        level = name.count(".") + 1
        if level > depth:
            continue
        rows.append((name, module, out_shape))
    shown = {name for name, _, _ in rows}

    input_shapes = ", ".join(_format_shape(s, prefix_batch=True) for s in shapes)
    table = [("input (Input)", input_shapes, "0")]
    for name, module, out_shape in rows:
        expanded = any(other.startswith(name + ".") for other in shown)
        if expanded:
            own = _count_own(module)
            count = f"{own:,}" if own else "--"
        else:
            count = f"{_count_tree(module):,}"
        table.append((f"{name} ({type(module).__name__})",
                      _format_shape(out_shape, batch_size=batch_size), count))

    # ------------------------------------------------------------ totals over the whole model
    trainable, frozen, buffers = _totals(model)
    total = trainable + frozen + buffers
    sizes = _byte_sizes(model)

    headers = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(headers[i]), *(len(r[i]) for r in table)) + 2 for i in range(3)]
    width = sum(widths)
    lines = [f'Model: "{type(model).__name__}"', "_" * width,
             "".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), "=" * width]
    for i, row in enumerate(table):
        lines.append("".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        lines.append("_" * width if i < len(table) - 1 else "=" * width)
    lines += [f"Total params: {total:,} ({_readable_bytes(sum(sizes))})",
              f"Trainable params: {trainable:,} ({_readable_bytes(sizes[0])})",
              f"Non-trainable params: {frozen + buffers:,} "
              f"({_readable_bytes(sizes[1] + sizes[2])})",
              "_" * width]
    return "\n".join(lines)


# ============================================================================ helpers
def _normalize_input_shapes(input_shape) -> list:
    """``(3, 300, 64)`` -> ``[(3, 300, 64)]``; a list of shapes stays a list; validate."""
    if isinstance(input_shape, (tuple, list)) and input_shape and \
            all(isinstance(s, (tuple, list)) for s in input_shape):
        shapes = [tuple(s) for s in input_shape]
    elif isinstance(input_shape, (tuple, list)):
        shapes = [tuple(input_shape)]
    else:
        raise ValueError(f"summary: input_shape={input_shape!r} must be a tuple of ints (one "
                         f"example, without the batch axis) or a list of such tuples")
    for s in shapes:
        if not all(isinstance(v, (int, np.integer)) and v > 0 for v in s):
            raise ValueError(f"summary: input shape {s} must hold positive ints (one example, "
                             f"without the batch axis)")
    return shapes


def _record_output_shapes(model, shapes: list, batch_size: int, dtype) -> list:
    """Run ``model`` once on zeros; return ``[(name, module, output_shape)]`` in call order."""
    named = [(name, mod) for name, mod in model.named_modules() if mod is not model]
    calls: dict[int, list] = {}   # id(module) -> [order, name, module, shape]
    saved_modes = [(mod, mod.training) for mod in model.modules()]
    wrapped = []

    def wrap(name, mod):
        original = mod.forward  # the bound class method (or an instance override)

        def recording_forward(*args, **kwargs):
            entry = calls.get(id(mod))
            if entry is None:  # note the call order at entry, so a block precedes its layers
                entry = calls[id(mod)] = [len(calls), name, mod, None]
            out = original(*args, **kwargs)
            if entry[3] is None:
                entry[3] = _first_tensor_shape(out)
            return out

        had_own = "forward" in mod.__dict__
        wrapped.append((mod, had_own, mod.__dict__.get("forward")))
        object.__setattr__(mod, "forward", recording_forward)

    try:
        for name, mod in named:
            wrap(name, mod)
        model.eval()  # no dropout draws, no BatchNorm running-statistic updates
        inputs = [Tensor(np.zeros((batch_size,) + s, dtype=dtype)) for s in shapes]
        with no_grad():
            model(*inputs)
    finally:
        for mod, had_own, previous in wrapped:
            if had_own:
                object.__setattr__(mod, "forward", previous)
            else:
                del mod.__dict__["forward"]
        for mod, mode in saved_modes:
            object.__setattr__(mod, "training", mode)
    ordered = sorted(calls.values(), key=lambda e: e[0])
    return [(name, mod, shape) for _, name, mod, shape in ordered]


def _first_tensor_shape(out):
    """Shape of the first Tensor / ndarray in a (possibly nested) output, or None."""
    if isinstance(out, (Tensor, np.ndarray)):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        for item in out:
            shape = _first_tensor_shape(item)
            if shape is not None:
                return shape
    return None


def _format_shape(shape, batch_size: int | None = None, prefix_batch: bool = False) -> str:
    """``(2, 75, 128)`` -> ``(None, 75, 128)`` (Keras's spelling of the batch axis)."""
    if shape is None:
        return "--"
    if prefix_batch:
        dims = ["None"] + [str(s) for s in shape]
    else:
        dims = [str(s) for s in shape]
        if dims and shape[0] == batch_size:
            dims[0] = "None"
    return "(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")")


def _counted_buffers(module):
    """A module's own floating-point buffers (integer counters are not model state)."""
    return [b for b in module._buffers.values()
            if b is not None and np.issubdtype(np.asarray(b).dtype, np.floating)]


def _count_own(module) -> int:
    """Parameters and counted buffers held by ``module`` itself, not by its children."""
    params = sum(p.size for p in module._parameters.values() if p is not None)
    return params + sum(np.asarray(b).size for b in _counted_buffers(module))


def _count_tree(module) -> int:
    """Parameters (each shared one once) and counted buffers of ``module`` and its children."""
    params = sum(p.size for p in module.parameters())
    return params + sum(np.asarray(b).size for m in module.modules() for b in _counted_buffers(m))


def _totals(model) -> tuple[int, int, int]:
    """(trainable parameters, frozen parameters, counted buffer elements) of the model."""
    trainable = sum(p.size for p in model.parameters() if p.requires_grad)
    frozen = sum(p.size for p in model.parameters() if not p.requires_grad)
    buffers = sum(np.asarray(b).size for m in model.modules() for b in _counted_buffers(m))
    return trainable, frozen, buffers


def _byte_sizes(model) -> tuple[int, int, int]:
    """Bytes of the trainable parameters, frozen parameters and counted buffers."""
    trainable = sum(p.data.nbytes for p in model.parameters() if p.requires_grad)
    frozen = sum(p.data.nbytes for p in model.parameters() if not p.requires_grad)
    buffers = sum(np.asarray(b).nbytes for m in model.modules() for b in _counted_buffers(m))
    return trainable, frozen, buffers


def _readable_bytes(n: int) -> str:
    """Bytes in powers of 1024 with two decimals, as Keras prints them: 16123928 -> 15.38 MB."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
