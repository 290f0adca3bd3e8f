"""Layer benchmark: forward / backward time of the layers the two papers' models are made of.

Usage::

    .venv/bin/python benchmarks/bench_layers.py                 # everything, 1 round
    .venv/bin/python benchmarks/bench_layers.py --rounds 3      # best and worst of 3 rounds
    .venv/bin/python benchmarks/bench_layers.py --only conv     # cases whose name contains 'conv'
    .venv/bin/python benchmarks/bench_layers.py --only model    # only the model, side by side
    .venv/bin/python benchmarks/bench_layers.py --skip-big      # without the CREMA-D conv
    .venv/bin/python benchmarks/bench_layers.py --repeats 1     # one timed run per figure
    .venv/bin/python benchmarks/bench_layers.py --check         # first: twins give our logits
    .venv/bin/python benchmarks/bench_layers.py --peer none     # ours only, even with PyTorch

Side by side with PyTorch (``pip install -e ".[bench]"``; without it ours only, and a line
saying the peer is missing): after the cases, the first paper's model is timed block by block
(forward and backward ms of each block of ``ParallelCNNLSTMAttention``, ours and its PyTorch
twin from ``torch_twins.py`` with our weights, both in training mode), then one whole training
step (forward, cross-entropy, backward, Adam) at batch 32. Ours and PyTorch's run alternately
in this one process, each figure the best of ``--repeats`` rounds; the ratio is **time ours /
time PyTorch** (below 1: ours faster). PyTorch runs on 2 threads.

Each *case* builds its layers and inputs (float32, batch 32) and returns a ``run()`` that
performs the forward pass and returns the output; the benchmark then calls ``backward`` with a
fixed random cotangent. Reported per case: best forward and backward ms over ``repeats`` runs
(after one warm-up run, which also records the peak memory allocated by one forward +
backward: output, gradients, temporaries; not the inputs and weights, allocated before),
and for cases with a FLOP count the achieved GFLOP/s, as a fraction of this machine's float32
matmul rate: one 2048 x 2048 ``np.matmul``, probed before each round and at the end. The
per-round tables divide by that round's probe; the final best / worst table divides by the best
probe (contention from other processes only lowers a probe, so the best is the machine's rate
and the fractions there are the conservative ones).

FLOPs of a convolution: ``2 * MACs``, ``MACs = N * Ho * Wo * O * C * kh * kw`` for the forward;
backward computes dW and dX, each one more product of the same size, so forward + backward is
counted as 3x the forward (2x when the input needs no gradient, as for a model's first layer).

Cases (add more to ``CASES``):

- the first paper's BAVED CNN branch on (32, 1, 128, 188): four blocks
  [Conv 3x3 pad 1 -> BatchNorm2d -> ReLU -> MaxPool], 16, 32, 64, 64 filters, pools 2, 4, 4, 4,
  giving (16, 64, 94), (32, 16, 23), (64, 4, 5), (64, 1, 1); each conv alone (with dX, counted
  3x, GFLOP/s reported) and each whole block (ms only; block 1 as in a model: its input, the
  spectrogram, needs no gradient);
- the first paper's BiLSTM on (32, 47, 64), hidden 128 per direction, and its multi-head
  self-attention on (32, 47, 256), 4 heads (both with dX);
- the whole first-paper model: one training step (forward, cross-entropy, backward, Adam) on a
  batch of (32, 1, 128, 188), printed after the table;
- the CREMA-D model's largest conv: (32, 128, 300, 64) -> 256 channels, 5x3 kernel, 'same'.

Memory reuse: the benchmark first calls ``allocator.keep_freed_memory()``, as ``fit`` does
(freed blocks are reused instead of unmapped, so a new 49 MB output does not fault in fresh
zeroed pages); ``--allocator system`` keeps glibc's default to measure the difference.

Other processes on the machine slow everything down, unevenly: use ``--rounds 3`` and read the
best and worst columns.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
import tracemalloc
from dataclasses import dataclass
from typing import Callable

import numpy as np

from minitorch_ser import Tensor
from minitorch_ser.autograd.allocator import keep_freed_memory
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention
from minitorch_ser.nn import functional as F
from minitorch_ser.nn.attention import MultiheadAttention
from minitorch_ser.nn.conv import Conv2d
from minitorch_ser.nn.norm import BatchNorm2d
from minitorch_ser.nn.pool import MaxPool2d
from minitorch_ser.nn.recurrent import LSTM
from minitorch_ser.optim import Adam

import side_by_side as peers

BATCH = 32


@dataclass
class Case:
    """One benchmarked computation.

    Attributes
    ----------
    name : str
        Row label.
    make : callable
        ``make(rng) -> run``; ``run()`` performs the forward pass and returns the output Tensor
        (everything that should not be timed, building layers and inputs, happens in make).
    flops : float
        Forward FLOPs of the matmul-shaped work (2 * MACs); 0 for no GFLOP/s column.
    backward_factor : float
        Backward FLOPs as a multiple of ``flops`` (2: dX and dW; 1: dW only).
    repeats : int
        Timed runs (the best is reported).
    warmup : bool
        Run once untimed first (that run also records peak memory). Without warm-up the first
        timed run records the memory.
    target : str
        Printed next to the result (the issue's goal for this case), for reading only.
    big : bool
        A long case (seconds per run), left out by ``--skip-big``.
    """

    name: str
    make: Callable[[np.random.Generator], Callable[[], Tensor]]
    flops: float = 0.0
    backward_factor: float = 2.0
    repeats: int = 5
    warmup: bool = True
    target: str = ""
    big: bool = False


# ============================================================================ the cases
BAVED_INPUT = (BATCH, 1, 128, 188)
#: (in_channels, out_channels, pool, input (H, W)) of the four BAVED CNN blocks
BAVED_BLOCKS = [(1, 16, 2, (128, 188)), (16, 32, 4, (64, 94)), (32, 64, 4, (16, 23)),
                (64, 64, 4, (4, 5))]


def conv_flops(n: int, c: int, o: int, out_hw: tuple, kernel: tuple) -> float:
    """Forward FLOPs of a convolution: 2 * N * Ho * Wo * O * C * kh * kw."""
    return 2.0 * n * out_hw[0] * out_hw[1] * o * c * kernel[0] * kernel[1]


def conv_alone(c_in: int, c_out: int, hw: tuple) -> Callable:
    def make(rng):
        conv = Conv2d(c_in, c_out, 3, padding=1, rng=rng)
        x = Tensor(rng.standard_normal((BATCH, c_in) + hw).astype(np.float32), requires_grad=True)
        return lambda: conv(x)
    return make


def conv_block(c_in: int, c_out: int, pool: int, hw: tuple, input_grad: bool) -> Callable:
    """[Conv 3x3 pad 1 -> BatchNorm2d -> MaxPool(pool) -> ReLU] in training mode (the model's
    order: the paper's ReLU -> MaxPool, swapped, see ``models.parallel.conv_block``)."""
    def make(rng):
        conv = Conv2d(c_in, c_out, 3, padding=1, rng=rng)
        norm, pooling = BatchNorm2d(c_out), MaxPool2d(pool)
        x = Tensor(rng.standard_normal((BATCH, c_in) + hw).astype(np.float32),
                   requires_grad=input_grad)
        return lambda: pooling(norm(conv(x))).relu()
    return make


def crema_conv(rng):
    conv = Conv2d(128, 256, (5, 3), padding="same", rng=rng)
    x = Tensor(rng.standard_normal((BATCH, 128, 300, 64)).astype(np.float32), requires_grad=True)
    return lambda: conv(x)


def baved_cases() -> list[Case]:
    cases = []
    for k, (c_in, c_out, pool, hw) in enumerate(BAVED_BLOCKS, start=1):
        flops = conv_flops(BATCH, c_in, c_out, hw, (3, 3))
        cases.append(Case(f"conv{k} {c_in}->{c_out} 3x3 on {hw}", conv_alone(c_in, c_out, hw),
                          flops, target=">= 30% of matmul"))
    for k, (c_in, c_out, pool, hw) in enumerate(BAVED_BLOCKS, start=1):
        first = k == 1  # a model's first layer: the spectrogram needs no gradient
        cases.append(Case(f"block{k} conv-bn-pool{pool}-relu" + (" (no dX)" if first else ""),
                          conv_block(c_in, c_out, pool, hw, input_grad=not first)))
    return cases


def bilstm(rng):
    lstm = LSTM(64, 128, bidirectional=True, batch_first=True, rng=rng)
    x = Tensor(rng.standard_normal((BATCH, 47, 64)).astype(np.float32), requires_grad=True)
    return lambda: lstm(x)[0]


def self_attention(rng):
    mha = MultiheadAttention(256, 4, batch_first=True, rng=rng)
    x = Tensor(rng.standard_normal((BATCH, 47, 256)).astype(np.float32), requires_grad=True)
    return lambda: mha(x, x, x, need_weights=False)[0]


def sequence_cases() -> list[Case]:
    return [Case("BiLSTM 64->2x128 on (32, 47, 64)", bilstm, target="< 60 ms"),
            Case("MHA 4 heads on (32, 47, 256)", self_attention)]


def model_steps(rng: np.random.Generator, torch=None) -> dict:
    """One training step of the first paper's model on a batch of 32 (forward, cross-entropy,
    backward, Adam update): ``{"ours": step}``, plus ``"PyTorch"``, its twin with our initial
    weights and the same batch, when ``torch`` is given."""
    model = ParallelCNNLSTMAttention()
    x = rng.standard_normal(BAVED_INPUT).astype(np.float32)
    y = rng.integers(0, 3, BATCH)
    steps = {"ours": _step(model, Adam(model.parameters(), lr=1e-3),
                           lambda: F.cross_entropy(model(Tensor(x)), y))}
    if torch is not None:
        from torch_twins import twin_of
        twin = twin_of(model)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        steps["PyTorch"] = _step(twin, torch.optim.Adam(twin.parameters(), lr=1e-3),
                                 lambda: torch.nn.functional.cross_entropy(twin(xt), yt))
    return steps


def _step(model, optimizer, loss_fn):
    """``zero_grad``, forward and loss, ``backward``, ``step``: the same four calls in either
    framework."""
    def step():
        optimizer.zero_grad()
        loss_fn().backward()
        optimizer.step()
    return step


# ============================================================================ block by block
#: the blocks of ParallelCNNLSTMAttention as (label, submodule path, input shape, input needs
#: a gradient in the model); "lstm" stands for the LSTM branch, "mha" for self-attention plus
#: the residual
MODEL_BLOCKS = [
    ("cnn.0 conv-bn-pool2-relu-drop 1->16", "cnn.0", BAVED_INPUT, False),
    ("cnn.1 conv-bn-pool4-relu-drop 16->32", "cnn.1", (BATCH, 16, 64, 94), True),
    ("cnn.2 conv-bn-pool4-relu-drop 32->64", "cnn.2", (BATCH, 32, 16, 23), True),
    ("cnn.3 conv-bn-pool4-relu-drop 64->64", "cnn.3", (BATCH, 64, 4, 5), True),
    ("pool (2,4) + BiLSTM 64->2x128 + drop", "lstm", BAVED_INPUT, False),
    ("MHA 4 heads + residual on (47, 256)", "mha", (BATCH, 47, 256), True),
    ("attention pooling on (47, 256)", "pool", (BATCH, 47, 256), True),
    ("fc 320->3", "fc", (BATCH, 320), True),
]


def _block_forward(model, path: str):
    """The function that block ``path`` of ``model`` (ours or the twin, which share their
    attribute names) computes in ``ParallelCNNLSTMAttention.forward``."""
    if path.startswith("cnn."):
        return model.cnn[int(path[4:])]
    if path == "lstm":
        def lstm_branch(x):
            s = model.lstm_pool(x).squeeze(1).transpose(1, 2)     # (N, T, 64)
            return model.lstm_dropout(model.lstm(s)[0])           # (N, T, 256)
        return lstm_branch
    if path == "mha":
        return lambda h: h + model.mha(h, h, h, need_weights=False)[0]
    return getattr(model, path)


def block_runs(rng: np.random.Generator, torch=None) -> list:
    """Per block: (label, {"ours": run, "PyTorch": run}); ``run()`` returns (forward s,
    backward s), the backward from a fixed random cotangent, both models in training mode."""
    model = ParallelCNNLSTMAttention().train()
    twin = None
    if torch is not None:
        from torch_twins import twin_of
        twin = twin_of(model).train()
    rows = []
    for label, path, shape, input_grad in MODEL_BLOCKS:
        x = rng.standard_normal(shape).astype(np.float32)
        # (default arguments bind this row's input: the runs are called after the loop)
        runs = {"ours": _fwd_bwd(_block_forward(model, path),
                                 lambda x=x, g=input_grad: Tensor(x, requires_grad=g), rng)}
        if twin is not None:
            runs["PyTorch"] = _fwd_bwd(
                _block_forward(twin, path),
                lambda x=torch.from_numpy(x), g=input_grad: x.detach().requires_grad_(g), rng,
                to_peer=torch.from_numpy)
        rows.append((label, runs))
    return rows


def _fwd_bwd(forward, make_input, rng, to_peer=None):
    """A run timing ``out = forward(input)`` and ``out.backward(cotangent)`` apart."""
    cotangent = {}

    def run():
        x = make_input()
        t_fwd, out = _timed(lambda: forward(x))
        if "g" not in cotangent:  # drawn once, in the output's shape
            g = rng.standard_normal(tuple(out.shape)).astype(np.float32)
            cotangent["g"] = g if to_peer is None else to_peer(g)
        t_bwd, _ = _timed(lambda: out.backward(cotangent["g"]))
        return t_fwd, t_bwd
    return run


def side_by_side(args, torch) -> None:
    """The block table and the model step, ours beside PyTorch (or ours alone)."""
    print(f"\nthe first paper's model block by block, training mode, batch {BATCH}, best of "
          f"{args.repeats or 5} rounds" + ("" if torch is None else
                                           ", alternating; ratio = time ours / time PyTorch"))
    if torch is None:
        print(peers.missing("PyTorch"))
    names = ["ours"] + (["PyTorch"] if torch is not None else [])
    header = f"  {'block':<38}" + "".join(f" {n + ' fwd':>12} {n + ' bwd':>12}" for n in names)
    print(header + (f" {'ratio':>6}" if torch is not None else ""))
    rng = np.random.default_rng(args.seed)
    for label, runs in block_runs(rng, torch):
        times = peers.alternate(runs, args.repeats or 5)
        parts = {name: peers.best(times[name]) for name in names}
        line = f"  {label:<38}" + "".join(
            f" {1e3 * parts[n][0]:12.2f} {1e3 * parts[n][1]:12.2f}" for n in names)
        if torch is not None:
            line += f" {peers.ratio(sum(parts['ours']), sum(parts['PyTorch'])):6.2f}"
        print(line, flush=True)

    steps = model_steps(np.random.default_rng(args.seed), torch)
    times = peers.alternate({n: peers.wall(s) for n, s in steps.items()}, args.repeats or 5)
    best = {n: 1e3 * sum(peers.best(t)) for n, t in times.items()}
    line = (f"\nfirst paper's model, one training step (forward + cross-entropy + backward + "
            f"Adam), batch {BATCH}: ours {best['ours']:.0f} ms (target < 500 ms)")
    if torch is not None:
        line += (f", PyTorch {best['PyTorch']:.0f} ms; time ours / PyTorch "
                 f"{peers.ratio(best['ours'], best['PyTorch']):.2f}")
    print(line)


def big_cases() -> list[Case]:
    return [Case("CREMA-D conv 128->256 5x3 same on (300, 64)", crema_conv,
                 conv_flops(BATCH, 128, 256, (300, 64), (5, 3)), repeats=1, warmup=False,
                 target=">= 30% of matmul", big=True)]


CASES: list[Case] = baved_cases() + sequence_cases() + big_cases()


# ============================================================================ measuring
def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """float32 GFLOP/s of one ``size x size`` matmul (2 size^3 FLOPs), best of ``repeats``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    a @ b  # warm-up: threads started, pages touched
    best = min(_timed(lambda: a @ b)[0] for _ in range(repeats))
    return 2.0 * size**3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


@dataclass
class Result:
    forward_ms: float
    backward_ms: float
    peak_mb: float

    @property
    def total_ms(self) -> float:
        return self.forward_ms + self.backward_ms


def measure(case: Case, rng: np.random.Generator) -> Result:
    """Best forward and backward ms over the timed runs, and the peak of the memory allocated
    during one forward + backward (tracemalloc: the inputs and weights, allocated before, are
    not counted; the output, its gradient and every temporary are)."""
    run = case.make(rng)
    cotangents = {}
    forward, backward = [], []

    def once(record_memory: bool):
        if record_memory:
            tracemalloc.start()
        t_fwd, out = _timed(run)
        if out.shape not in cotangents:  # the loss gradient, drawn once, in the output dtype
            cotangents[out.shape] = rng.standard_normal(out.shape, dtype=np.float32).astype(
                out.dtype, copy=False)
        t_bwd, _ = _timed(lambda: out.backward(cotangents[out.shape]))
        peak = 0.0
        if record_memory:
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        return t_fwd, t_bwd, peak

    first = once(record_memory=True)
    if not case.warmup:
        forward.append(first[0])
        backward.append(first[1])
    for _ in range(case.repeats if case.warmup else case.repeats - 1):
        t_fwd, t_bwd, _ = once(record_memory=False)
        forward.append(t_fwd)
        backward.append(t_bwd)
    return Result(1e3 * min(forward), 1e3 * min(backward), first[2])


def rate(case: Case, result: Result) -> float:
    """Achieved GFLOP/s of forward + backward."""
    return case.flops * (1 + case.backward_factor) / (result.total_ms / 1e3) / 1e9


# ============================================================================ main
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole suite")
    parser.add_argument("--only", default="", help="run the cases whose name contains this; 'model': only the "
                             "first paper's model, block by block and one step")
    parser.add_argument("--skip-big", action="store_true", help="skip the CREMA-D conv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--allocator", choices=["kept", "system"], default="kept",
                        help="freed memory kept for reuse (as fit does) or glibc's default")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs of every figure (default: each case's own, 5 for "
                             "the side-by-side figures)")
    parser.add_argument("--peer", choices=["auto", "none"], default="auto",
                        help="time PyTorch beside ours when it is installed (auto), or not")
    parser.add_argument("--check", action="store_true",
                        help="first check that the PyTorch twins give our logits")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error(f"--repeats={args.repeats} must be >= 1")
    kept = args.allocator == "kept" and keep_freed_memory()
    torch = peers.torch_peer() if args.peer == "auto" else None
    print(peers.machine_line(torch))
    if args.check:
        if torch is None:
            parser.error(f"--check needs PyTorch: {peers.INSTALL}")
        from torch_twins import build_ours, check_twin, randomize_
        for name in ("parallel_mha", "parallel_additive"):
            result = check_twin(randomize_(build_ours(name), args.seed), seed=args.seed)
            print(f"twin check: {result}")
            if not result.ok:
                raise SystemExit(1)

    cases = [dataclasses.replace(c, repeats=args.repeats) if args.repeats else c
             for c in CASES if args.only in c.name]
    if args.skip_big:
        cases = [c for c in cases if not c.big]
    print(f"numpy {np.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"batch {BATCH}, float32, freed memory "
          f"{'kept for reuse' if kept else 'returned (glibc default)'}")

    rounds = []  # per round: {name: Result}
    probes = []  # matmul GFLOP/s, before each round and at the end
    for r in range(args.rounds):
        probes.append(matmul_gflops())
        print(f"\nround {r + 1}/{args.rounds}: float32 matmul 2048^3: {probes[-1]:.1f} GFLOP/s")
        print(f"  {'case':<46} {'fwd ms':>8} {'bwd ms':>8} {'total':>8} {'GFLOP/s':>8} "
              f"{'of mm':>6} {'peak MB':>8}")
        results = {}
        rng = np.random.default_rng(args.seed)
        for case in cases:
            results[case.name] = measure(case, rng)
            print("  " + _row(case, results[case.name], probes[-1]), flush=True)
        rounds.append(results)
    probes.append(matmul_gflops())
    reference = max(probes)
    print(f"\nmatmul probes (GFLOP/s): {', '.join(f'{p:.1f}' for p in probes)}; the machine's "
          f"rate is taken as the best, {reference:.1f}")
    print(f"best / worst over {args.rounds} round(s), fractions of {reference:.1f} GFLOP/s")
    print(f"  {'case':<46} {'total ms':>17} {'GFLOP/s':>15} {'of matmul':>13}  target")
    for case in cases:
        totals = [res[case.name].total_ms for res in rounds]
        line = f"  {case.name:<46} {min(totals):8.1f} {max(totals):8.1f}"
        if case.flops:
            rates = [rate(case, res[case.name]) for res in rounds]
            line += (f" {max(rates):7.1f} {min(rates):7.1f} {max(rates) / reference:6.0%} "
                     f"{min(rates) / reference:6.0%}  {case.target}")
        print(line)
    if not args.only or args.only == "model":
        side_by_side(args, torch)


def _row(case: Case, res: Result, peak: float) -> str:
    line = f"{case.name:<46} {res.forward_ms:8.2f} {res.backward_ms:8.2f} {res.total_ms:8.2f}"
    if case.flops:
        achieved = rate(case, res)
        line += f" {achieved:8.1f} {achieved / peak:6.0%}"
    else:
        line += f" {'':>8} {'':>6}"
    return line + f" {res.peak_mb:8.0f}"


if __name__ == "__main__":
    main()
