"""`gradcheck`: compare a function's analytic gradients with float64 central differences.

For a scalar probe ``L(x) = sum(f(x) * c)`` with a fixed random cotangent ``c`` (so every output
element matters), the numerical derivative of element ``j`` of input ``x`` is

    (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)            (error O(eps^2))

and it must match the analytic ``dL/dx_j`` from ``backward`` within ``atol + rtol * |numerical|``.
Public, so that a user adding a layer checks it the way the library's own tests do.
"""

from __future__ import annotations

import numpy as np

from .grad_mode import no_grad
from .tensor import Tensor, as_array


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
              max_elements: int | None = None, seed: int = 0, name: str | None = None) -> bool:
    """Check ``fn``'s gradients with respect to every floating input, element by element.

    Parameters
    ----------
    fn : callable
        ``fn(*tensors)`` returning a Tensor or a tuple of Tensors.
    inputs : sequence of Tensor or ndarray
        Floating inputs are converted to float64 and checked; others are passed unchanged.
    eps : float > 0
        Central-difference step.
    atol, rtol : float >= 0
        Tolerance ``|analytic - numerical| <= atol + rtol * |numerical|``.
    max_elements : int > 0, optional
        Check at most this many elements per input (a seeded random subset); all by default.
    seed : int
        Seed of the cotangent and of the subset.
    name : str, optional
        Name used in the failure message (defaults to ``fn.__name__``).

    Returns
    -------
    bool
        True when every checked element agrees (otherwise it raises).

    Raises
    ------
    AssertionError
        Naming the function, the input, the element index, the numerical and analytic values;
        also when no output depends on a floating input.
    """
    label = name or getattr(fn, "__name__", repr(fn))
    rng = np.random.default_rng(seed)
    tensors = []
    for x in inputs:
        arr = as_array(x)
        if arr.dtype.kind == "f":
            # an own C-contiguous float64 copy: reshape(-1) below must be a view to perturb it
            tensors.append(Tensor(np.array(arr, dtype=np.float64, order="C"), requires_grad=True))
        else:
            tensors.append(Tensor(arr))

    def outputs(ts):
        out = fn(*ts)
        return out if isinstance(out, (tuple, list)) else (out,)

    outs = outputs(tensors)
    cotangents = [rng.standard_normal(o.shape) for o in outs]

    def probe() -> float:
        """L(x) = sum_k <out_k, c_k>, evaluated without recording a graph."""
        with no_grad():
            outs_now = outputs(tensors)
        return float(sum((o.data.astype(np.float64) * c).sum() for o, c in zip(outs_now, cotangents)))

    # analytic: one backward of sum_k <out_k, c_k>
    loss = None
    for o, c in zip(outs, cotangents):
        if o.requires_grad:
            term = (o * Tensor(c)).sum()
            loss = term if loss is None else loss + term
    if loss is None:
        raise AssertionError(f"gradcheck({label}): no output depends on a differentiable input")
    loss.backward()

    for i, t in enumerate(tensors):
        if not t.requires_grad:
            continue
        analytic = t.grad if t.grad is not None else np.zeros_like(t.data)
        flat = t.data.reshape(-1)  # a view: perturbing it perturbs the input
        idx = np.arange(flat.size)
        if max_elements is not None and flat.size > max_elements:
            idx = np.sort(rng.choice(flat.size, size=max_elements, replace=False))
        for j in idx:
            orig = flat[j]
            flat[j] = orig + eps
            plus = probe()
            flat[j] = orig - eps
            minus = probe()
            flat[j] = orig
            numerical = (plus - minus) / (2 * eps)
            got = analytic.reshape(-1)[j]
            if not abs(got - numerical) <= atol + rtol * abs(numerical):
                where = np.unravel_index(j, t.shape)
                raise AssertionError(
                    f"gradcheck({label}): input {i} of shape {t.shape}, element {tuple(int(w) for w in where)}: "
                    f"numerical {numerical:.8g} vs analytic {got:.8g} "
                    f"(|diff| {abs(got - numerical):.3g} > atol {atol} + rtol {rtol} * |numerical|)")
    return True
