"""Engine benchmark: Python overhead per small op, an MLP training step, memory across steps.

Run from the repository root::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_engine.py     # ~30 s
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_engine.py --steps 200

One BLAS thread gives stable figures on a shared or small machine: with several threads
competing for busy cores, OpenBLAS's matmuls slow down erratically (5-10x here), which would
swamp what this script measures. The setting in effect is printed with the figures.

What is measured
----------------
1. Overhead per elementwise op on (4, 4) float32 tensors, where NumPy's own arithmetic costs
   well under a microsecond, so the time is the engine's Python work: wrapping, the graph
   node, the backward walk. Reported as the time per op minus the time of the bare NumPy
   expression. Target: < 15 us.
2. One training step of a 512-256-10 MLP (Linear, ReLU, Linear) on a (256, 512) batch:
   forward, cross_entropy, backward, SGD update (``p.data -= lr * p.grad``), next to the same
   step written by hand in NumPy.
3. Memory held after 10 and after ``--steps`` training steps (tracemalloc, which also tracks
   NumPy's buffers). Target: no growth, i.e. the graph of each step is freed.

Times are the best of 5 repeats (see ``per_call_us``).

Side by side with PyTorch (``pip install -e ".[bench]"``; without it ours only, and a line
saying the peer is missing): sections 1 and 2 are also taken for the same ops and the same MLP
step (our initial weights, SGD on ``p.data``) in PyTorch, on as many threads as
``OPENBLAS_NUM_THREADS`` gives NumPy (2 when unset), each repeat of ours followed by one of
PyTorch's; the ratio is **time ours / time PyTorch** (below 1: ours faster).
"""

from __future__ import annotations

import argparse
import gc
import os
import time
import tracemalloc

import numpy as np

from minitorch_ser.nn import functional as F
from minitorch_ser.nn.activation import ReLU
from minitorch_ser.nn.container import Sequential
from minitorch_ser.nn.linear import Linear
from minitorch_ser.autograd.tensor import Tensor, no_grad

import side_by_side as peers


def per_call_us(fn, number: int, repeat: int = 5) -> float:
    """Time of one call of ``fn`` in microseconds: the best of ``repeat`` runs of ``number``.

    As ``timeit`` advises, the minimum is reported: other processes only ever add time.
    """
    fn()  # warm up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return min(runs) * 1e6


def per_call_us_side_by_side(fns: dict, number: int, repeat: int = 5) -> dict:
    """``per_call_us`` of each contender, their repeats alternating: {name: us per call}."""
    def batch(fn):
        def run():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            return ((time.perf_counter() - start) / number,)
        return run
    times = peers.alternate({name: batch(fn) for name, fn in fns.items()}, repeat)
    return {name: 1e6 * min(t[0] for t in runs) for name, runs in times.items()}


# ------------------------------------------------------------------ 1. overhead per op
def bench_overhead(number: int = 20_000, chain: int = 100) -> dict:
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=True)
    seed = np.ones((4, 4), dtype=np.float32)
    an, bn = a.data, b.data

    def fwd_bwd():
        (a + b).backward(seed)

    def chain_fwd_bwd():               # a chain amortises the fixed cost of one backward() call
        y = a
        for _ in range(chain):
            y = y + b
        y.backward(seed)

    numpy_add = per_call_us(lambda: an + bn, number)
    with no_grad():                      # entered once: time the op, not the context manager
        no_grad_add = per_call_us(lambda: a + b, number)
    figures = {
        "numpy a + b": numpy_add,
        "add, forward (graph recorded)": per_call_us(lambda: a + b, number),
        "mul, forward (graph recorded)": per_call_us(lambda: a * b, number),
        "add, forward under no_grad": no_grad_add,
        "add, forward + backward (one op)": per_call_us(fwd_bwd, number),
        f"add, forward + backward (per op, chain of {chain})":
            per_call_us(chain_fwd_bwd, max(number // chain, 10)) / chain,
    }
    return {name: (t, t - numpy_add) for name, t in figures.items()}


def bench_overhead_torch(torch, number: int = 20_000, chain: int = 100) -> dict:
    """Section 1's ops, ours and PyTorch's alternately: {name: (ours us, PyTorch us)}."""
    rng = np.random.default_rng(0)
    an = rng.standard_normal((4, 4)).astype(np.float32)
    bn = rng.standard_normal((4, 4)).astype(np.float32)
    seed = np.ones((4, 4), dtype=np.float32)
    a, b = Tensor(an, requires_grad=True), Tensor(bn, requires_grad=True)
    at = torch.tensor(an, requires_grad=True)
    bt = torch.tensor(bn, requires_grad=True)
    seed_t = torch.ones(4, 4)

    def chained(x, y, g):
        def run():
            z = x
            for _ in range(chain):
                z = z + y
            z.backward(g)
        return run

    cases = {
        "add, forward (graph recorded)": (lambda: a + b, lambda: at + bt),
        "mul, forward (graph recorded)": (lambda: a * b, lambda: at * bt),
        "add, forward + backward (one op)": (lambda: (a + b).backward(seed),
                                             lambda: (at + bt).backward(seed_t)),
    }
    out = {}
    for name, (ours, theirs) in cases.items():
        t = per_call_us_side_by_side({"ours": ours, "PyTorch": theirs}, number)
        out[name] = (t["ours"], t["PyTorch"])
    with no_grad(), torch.no_grad():
        t = per_call_us_side_by_side({"ours": lambda: a + b, "PyTorch": lambda: at + bt}, number)
    out["add, forward under no_grad"] = (t["ours"], t["PyTorch"])
    t = per_call_us_side_by_side({"ours": chained(a, b, seed), "PyTorch": chained(at, bt, seed_t)},
                                 max(number // chain, 10))
    out[f"add, forward + backward (per op, chain of {chain})"] = (t["ours"] / chain,
                                                                  t["PyTorch"] / chain)
    return out


# ------------------------------------------------------------------ 2. MLP training step
class MLPStep:
    """One SGD step of a 512-256-10 MLP with cross-entropy on a fixed (256, 512) batch."""

    def __init__(self, lr: float = 0.01):
        rng = np.random.default_rng(0)
        self.model = Sequential(Linear(512, 256, rng=rng), ReLU(), Linear(256, 10, rng=rng))
        self.params = list(self.model.parameters())
        self.x = Tensor(rng.standard_normal((256, 512)).astype(np.float32))
        self.y = rng.integers(0, 10, size=256)
        self.lr = lr

    def __call__(self) -> float:
        for p in self.params:
            p.grad = None
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        for p in self.params:                       # plain SGD on the arrays
            p.data -= self.lr * p.grad
        return loss.item()


def numpy_mlp_step(w1, b1, w2, b2, x, y, lr: float = 0.01) -> float:
    """The same step with forward and backward written out in NumPy (the lower bound)."""
    n = x.shape[0]
    h = x @ w1.T + b1                               # (N, 256)
    a = np.maximum(h, 0)
    z = a @ w2.T + b2                               # (N, 10)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()
    dz = p
    dz[np.arange(n), y] -= 1
    dz /= n                                         # dL/dz = (softmax - one_hot) / N
    dw2, db2 = dz.T @ a, dz.sum(0)
    dh = (dz @ w2) * (h > 0)
    dw1, db1 = dh.T @ x, dh.sum(0)
    for param, grad in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
        param -= lr * grad
    return float(loss)


def torch_mlp_step(torch, step: MLPStep):
    """The same SGD step in PyTorch, from ``step``'s current weights and batch."""
    m = step.model
    layers = [torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)]
    model = torch.nn.Sequential(*layers)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    params = list(model.parameters())
    x, y = torch.from_numpy(step.x.data), torch.from_numpy(step.y)

    def run() -> float:
        for p in params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= step.lr * p.grad
        return loss.item()
    return run


def bench_mlp(number: int = 20) -> tuple[float, float]:
    step = MLPStep()
    engine_ms = per_call_us(step, number) / 1e3
    m = step.model
    arrays = [m[0].weight.data.copy(), m[0].bias.data.copy(), m[2].weight.data.copy(),
              m[2].bias.data.copy()]
    numpy_ms = per_call_us(lambda: numpy_mlp_step(*arrays, step.x.data, step.y), number) / 1e3
    return engine_ms, numpy_ms


# ------------------------------------------------------------------ 3. memory across steps
def bench_memory(steps: int) -> tuple[float, float, float, float, float]:
    """Traced memory (KiB) after 10 and after ``steps`` steps, the peak, first and last loss.

    Only the first and last losses are kept: a list of every loss would itself grow.
    """
    step = MLPStep(lr=0.05)
    gc.collect()
    tracemalloc.start()
    first_loss = step()
    for _ in range(9):
        step()
    gc.collect()
    after_10 = tracemalloc.get_traced_memory()[0]
    for _ in range(steps - 11):
        step()
    last_loss = step()
    gc.collect()
    after_n, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return after_10 / 1024, after_n / 1024, peak / 1024, first_loss, last_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps for the memory test")

    parser.add_argument("--peer", choices=["auto", "none"], default="auto",
                        help="time PyTorch beside ours when it is installed (auto), or not")
    args = parser.parse_args()
    if args.steps < 10:
        parser.error(f"--steps={args.steps} must be >= 10")

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset (OpenBLAS uses every core)")
    torch = peers.torch_peer() if args.peer == "auto" else None
    if torch is not None and threads.isdigit():
        torch.set_num_threads(int(threads))            # the same threads as NumPy's BLAS
    print(peers.machine_line(torch))
    print(f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={threads}\n")
    print("1. Overhead per op on (4, 4) float32 tensors (best of 5 runs)")
    print(f"   {'':52s} {'us/op':>8s} {'overhead':>9s}")
    for name, (t, overhead) in bench_overhead().items():
        print(f"   {name:52s} {t:8.2f} {overhead:9.2f}")
    print("   target: overhead < 15 us per op")
    if torch is None:
        print("   " + peers.missing("PyTorch"))
    else:
        print(f"\n   side by side, alternately ({torch.get_num_threads()} PyTorch thread(s)); "
              f"ratio = time ours / time PyTorch")
        print(f"   {'':52s} {'ours us':>8s} {'PyTorch':>8s} {'ratio':>6s}")
        for name, (ours, theirs) in bench_overhead_torch(torch).items():
            print(f"   {name:52s} {ours:8.2f} {theirs:8.2f} {peers.ratio(ours, theirs):6.2f}")

    engine_ms, numpy_ms = bench_mlp()
    print("\n2. MLP 512-256-10 training step on a (256, 512) float32 batch (best of 5 x 20)")
    print(f"   engine (forward, cross_entropy, backward, SGD)    {engine_ms:8.2f} ms")
    print(f"   same step hand-written in NumPy                   {numpy_ms:8.2f} ms")
    print(f"   engine overhead                                   {engine_ms - numpy_ms:8.2f} ms "
          f"({100 * (engine_ms / numpy_ms - 1):.0f}%)")
    if torch is None:
        print("   " + peers.missing("PyTorch"))
    else:
        step = MLPStep()
        t = per_call_us_side_by_side({"ours": step, "PyTorch": torch_mlp_step(torch, step)}, 20)
        print(f"   side by side, alternately: ours {t['ours'] / 1e3:.2f} ms, PyTorch "
              f"{t['PyTorch'] / 1e3:.2f} ms; time ours / PyTorch "
              f"{peers.ratio(t['ours'], t['PyTorch']):.2f}")

    after_10, after_n, peak, first_loss, last_loss = bench_memory(args.steps)
    print("\n3. Memory held between training steps (tracemalloc, includes NumPy buffers)")
    print(f"   after 10 steps                                    {after_10:10.1f} KiB")
    print(f"   after {args.steps:<5d} steps                                {after_n:10.1f} KiB")
    print(f"   growth                                            {after_n - after_10:10.1f} KiB")
    print(f"   peak during a step                                {peak:10.1f} KiB")
    print(f"   loss: step 1 {first_loss:.4f} -> step {args.steps} {last_loss:.4f} "
          f"(fixed batch: it must fall)")


if __name__ == "__main__":
    main()
