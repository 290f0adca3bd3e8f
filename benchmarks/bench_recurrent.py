"""Speed of the recurrent layers (float32): forward and forward+backward wall time.

Run::

    .venv/bin/python benchmarks/bench_recurrent.py            # all three cases
    .venv/bin/python benchmarks/bench_recurrent.py --repeats 5 --only bilstm

Cases (batch 32, the papers' shapes):

- ``bilstm``: the first paper's BiLSTM, input (32, 47, 64), hidden 128 per direction
  (target on 2 cores: forward+backward under 60 ms);
- ``lstm4096``: the second paper's LSTM, 128 units on (32, 300, 4096), ``bias='single'``;
- ``gru768``: the second paper's GRU, 128 units on (32, 75, 768).

The input requires a gradient (as it does inside the models, where it comes from a CNN or a
dense layer), so "forward+backward" includes dL/dx. Each figure is the median of ``--repeats``
runs after one warm-up run; the machine may be shared, so the minimum is printed too.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from minitorch_ser.nn.recurrent import GRU, LSTM
from minitorch_ser.autograd.tensor import Tensor, no_grad

CASES = {
    "bilstm": dict(layer=LSTM, shape=(32, 47, 64), hidden=128, kwargs=dict(bidirectional=True)),
    "lstm4096": dict(layer=LSTM, shape=(32, 300, 4096), hidden=128, kwargs=dict(bias="single")),
    "gru768": dict(layer=GRU, shape=(32, 75, 768), hidden=128, kwargs=dict()),
}


def _timed(fn, repeats: int) -> tuple[float, float]:
    """(median, min) wall time of ``fn()`` in ms over ``repeats`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), float(np.min(times))


def bench_case(name: str, repeats: int) -> dict:
    spec = CASES[name]
    rng = np.random.default_rng(0)
    layer = spec["layer"](spec["shape"][2], spec["hidden"], batch_first=True, rng=rng,
                          **spec["kwargs"])
    x = Tensor(rng.standard_normal(spec["shape"]).astype(np.float32), requires_grad=True)

    def forward_only():
        with no_grad():
            layer(x)

    def forward_backward():
        layer.zero_grad()
        x.grad = None
        out = layer(x)
        output, h_n = out[0], out[1] if spec["layer"] is GRU else out[1][0]
        loss = output.sum() + h_n.sum()
        loss.backward()

    fwd = _timed(forward_only, repeats)
    both = _timed(forward_backward, repeats)
    return {"case": name, "shape": spec["shape"], "hidden": spec["hidden"],
            "forward": fwd, "forward_backward": both}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=sorted(CASES), action="append",
                        help="run only this case (may be repeated)")
    args = parser.parse_args()
    for name in args.only or list(CASES):
        r = bench_case(name, args.repeats)
        fwd_med, fwd_min = r["forward"]
        fb_med, fb_min = r["forward_backward"]
        print(f"{r['case']:9s} x{r['shape']} H={r['hidden']}: forward {fwd_med:8.1f} ms "
              f"(min {fwd_min:8.1f}), forward+backward {fb_med:8.1f} ms (min {fb_min:8.1f})")


if __name__ == "__main__":
    main()
