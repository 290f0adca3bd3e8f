"""Training-step time and peak memory of the second paper's three models (Figures 7-9).

Usage::

    .venv/bin/python benchmarks/bench_crnn.py                       # all three, 3 steps each
    .venv/bin/python benchmarks/bench_crnn.py --models lstm --steps 2
    .venv/bin/python benchmarks/bench_crnn.py --threads 2           # BLAS threads of each run
    .venv/bin/python benchmarks/bench_crnn.py --models gru --profile  # where one step's time goes
    .venv/bin/python benchmarks/bench_crnn.py --allocator both      # with and without reuse
    .venv/bin/python benchmarks/bench_crnn.py --check               # first: twins give our logits
    .venv/bin/python benchmarks/bench_crnn.py --peer none           # ours only, even with PyTorch

One *step* is what ``minitorch_ser.app.training.fit`` does per batch: forward on a float32 batch of
(32, 3, 64, 300) (mel-first), cross-entropy (plus Figure 9's L2 penalty), backward, gradient clipping
(by value 5.0, or by norm 1.0 for Figure 9; ``TRAINING`` in ``experiments/crema_d_crnn.py``),
an Adam update and the learning-rate schedule. The step time is split into forward (including
the loss), backward, and update (clipping + Adam). Each model runs in its own subprocess so that
its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``: weights, data,
activations kept for backward, gradients and temporaries) is its own. The first step also pays
for first-touch page faults; the best of the steps is the steady-state figure.

Side by side with PyTorch (``pip install -e ".[bench]"``; without it ours only, and a line
saying the peer is missing): in the same subprocess, the model's PyTorch twin
(``torch_twins.py``, with our initial weights, on the same batch) takes the same step with
``torch.optim.Adam``, the same clipping (``clip_grad_value_`` / ``clip_grad_norm_``), the same
staircase decay and, for Figure 9, the same L2 penalty, on 2 threads. The steps alternate,
ours then PyTorch's, ``--steps`` of each; the ratio is **time ours / time PyTorch** of the
best steps (below 1: ours faster). Our peak memory is then read after our first step, before
PyTorch is imported (the first step allocates everything; later ones reuse it).

Targets on 2 cores: Figures 7 and 9 <= 4 s per step, Figure 8 <= 8 s, peak memory <= 8 GB.
Memory reuse: like ``fit``, each run first calls ``allocator.keep_freed_memory()`` (glibc keeps
freed blocks instead of unmapping them, so the next 300 MB feature map does not fault in fresh
zeroed pages). ``--allocator system`` measures glibc's default behaviour instead, ``both`` runs
each model both ways, one after the other, so that the ratio comes from one session.

The run prints the load average before and after: other processes on the machine slow every
figure down, so read them with it.

Rough arithmetic (forward multiply-adds per clip): Figure 8's second convolution is
300 x 32 positions x 256 filters x (128 x 5 x 3) = 4.7 GMAC, Figure 7's 2.4 GMAC (time pooled
first), Figure 9's 1.2 GMAC; backward costs two more products of the same size (dW and dX).
At batch 32 a Figure 8 step is therefore about 3 x 2 x 32 x 4.7e9 = 0.9 TFLOP of convolution
alone.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import side_by_side as peers

TARGET_SECONDS = {"gru": 4.0, "lstm": 8.0, "lstm_reg": 4.0}
TARGET_MEMORY_GB = 8.0
FIGURE = {"gru": "Figure 7 CNN+GRU+MHA", "lstm": "Figure 8 CNN+LSTM+MHA",
          "lstm_reg": "Figure 9 CNN+LSTM+MHA reg."}


# ============================================================================ one model (child)
def paper_training() -> dict:
    """The paper's optimisation settings per model, ``TRAINING`` of the experiment script
    (read by the parent, which passes a model's settings to its child as JSON, so that the
    script's imports do not count in the child's memory)."""
    path = Path(__file__).resolve().parents[1] / "experiments" / "crema_d_crnn.py"
    spec = importlib.util.spec_from_file_location("crema_d_crnn", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module            # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.TRAINING


def run_worker(name: str, settings: dict, steps: int, batch: int, profile: bool,
               peer: bool) -> dict:
    """Build model ``name``, run ``steps`` training steps (alternating with its PyTorch twin's
    when ``peer`` and PyTorch is installed), return timings and peak memory."""
    from minitorch_ser import Tensor
    from minitorch_ser.autograd.allocator import keep_freed_memory
    from minitorch_ser.models.crnn import build_crnn
    from minitorch_ser.nn import functional as F
    from minitorch_ser.autograd.random import manual_seed
    from minitorch_ser.app.training import (TrainConfig, clip_gradients, make_optimizer,
                                     make_scheduler, regularization_loss)

    kept = keep_freed_memory()  # as fit() does; False with MINITORCH_SER_KEEP_FREED_MEMORY=0
    manual_seed(0)
    rng = np.random.default_rng(0)
    model = build_crnn(name).train()
    config = TrainConfig(scheduler="exponential", **settings)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)
    x = rng.standard_normal((batch, 3, 64, 300)).astype(np.float32)   # (N, C, n_mels, n_frames)
    y = rng.integers(0, 6, size=batch)

    def step() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        logits = model(Tensor(x))
        loss = F.cross_entropy(logits, y)
        penalty = regularization_loss(model)
        objective = loss if penalty is None else loss + penalty
        objective.item()
        t1 = time.perf_counter()
        optimizer.zero_grad()
        objective.backward()
        t2 = time.perf_counter()
        clip_gradients(model, config)
        optimizer.step()
        scheduler.step()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    def peak_gb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    peer_parts = None
    if not peer:
        parts = [step() for _ in range(steps)]
        maxrss = peak_gb()
    else:
        parts = [step()]
        maxrss = peak_gb()                           # ours alone: PyTorch not imported yet
        torch = peers.torch_peer()
        if torch is not None:
            peer_step = torch_step(torch, model, x, y, config)
            peer_parts = [peer_step()]
        for _ in range(steps - 1):                   # alternately: ours, PyTorch's, ...
            time.sleep(peers.SETTLE_SECONDS)         # the other's idle threads stop spinning
            parts.append(step())
            if peer_parts is not None:
                time.sleep(peers.SETTLE_SECONDS)
                peer_parts.append(peer_step())
    result = {"model": name, "batch": batch, "kept": kept, "maxrss_gb": maxrss,
              **_split(parts), "peer": None if peer_parts is None else _split(peer_parts)}
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        step()
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
        result["profile"] = text.getvalue()
    return result


def _split(parts: list) -> dict:
    """(forward, backward, update) seconds per step -> lists per part and the step totals."""
    return {"forward": [p[0] for p in parts], "backward": [p[1] for p in parts],
            "update": [p[2] for p in parts], "step": [sum(p) for p in parts]}


def torch_step(torch, model, x: np.ndarray, y: np.ndarray, config):
    """The same training step for the PyTorch twin of ``model`` (our current weights), on the
    same batch: ``step() -> (forward s, backward s, update s)``."""
    from torch_twins import twin_of

    twin = twin_of(model).train()
    optimizer = torch.optim.Adam(twin.parameters(), lr=config.lr)
    # Keras' ExponentialDecay, stepped per batch: lr0 * rate ** (step / decay_steps), the
    # exponent floored with staircase=True
    rate, every, stairs = config.decay_rate, config.decay_steps, config.staircase
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: rate ** (s // every if stairs else s / every))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    penalty = getattr(twin, "regularization_loss", None)

    def step() -> tuple[float, float, float]:
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(twin(xt), yt)
        objective = loss if penalty is None else loss + penalty()
        objective.item()
        t1 = time.perf_counter()
        optimizer.zero_grad()
        objective.backward()
        t2 = time.perf_counter()
        if config.clip_grad_value is not None:
            torch.nn.utils.clip_grad_value_(twin.parameters(), config.clip_grad_value)
        if config.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(twin.parameters(), config.clip_grad_norm)
        optimizer.step()
        scheduler.step()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    return step


# ============================================================================ driver (parent)
def run_in_subprocess(name: str, settings: dict, steps: int, batch: int, profile: bool,
                      threads: int | None, keep: bool, peer: bool) -> dict:
    env = dict(os.environ)
    env["MINITORCH_SER_KEEP_FREED_MEMORY"] = "1" if keep else "0"
    if threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--steps", str(steps),
           "--batch", str(batch), "--settings", json.dumps(settings),
           "--peer", "auto" if peer else "none"] + (["--profile"] if profile else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark of {name!r} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["gru", "lstm", "lstm_reg"],
                        choices=["gru", "lstm", "lstm_reg"])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model (>= 1)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads of each run (default: inherit OPENBLAS_NUM_THREADS)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one extra step and print the top functions")
    parser.add_argument("--allocator", choices=["kept", "system", "both"], default="kept",
                        help="freed memory kept for reuse (as fit does), glibc's default, or "
                             "both one after the other")
    parser.add_argument("--peer", choices=["auto", "none"], default="auto",
                        help="time PyTorch beside ours when it is installed (auto), or not")
    parser.add_argument("--check", action="store_true",
                        help="first check that the PyTorch twins give our logits")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 1 or args.batch < 1:
        parser.error(f"--steps={args.steps} and --batch={args.batch} must be >= 1")
    peer = args.peer == "auto"

    if args.worker:  # child: one model, one JSON line on stdout
        print(json.dumps(run_worker(args.worker, json.loads(args.settings), args.steps,
                                    args.batch, args.profile, peer)))
        return

    torch = peers.torch_peer() if peer or args.check else None   # (the children import their own)
    print(peers.machine_line(torch))
    if args.check:
        if torch is None:
            parser.error(f"--check needs PyTorch: {peers.INSTALL}")
        from torch_twins import build_ours, check_twin, randomize_
        for name in args.models:
            result = check_twin(randomize_(build_ours(name)), batch=1)
            print(f"twin check: {result}", flush=True)
            if not result.ok:
                raise SystemExit(1)
    training = paper_training()
    threads = args.threads if args.threads is not None else \
        os.environ.get("OPENBLAS_NUM_THREADS", "(OpenBLAS default)")
    print(f"batch {args.batch} x (3, 64, 300) float32, {args.steps} steps per model, "
          f"BLAS threads: {threads}, {os.cpu_count()} CPUs")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if peer and torch is None:
        print(peers.missing("PyTorch"))
        peer = False
    elif peer:
        print(f"each model's step alternates with its PyTorch twin's ({peers.TORCH_THREADS} "
              f"threads); ratio = best step time ours / PyTorch (below 1: ours faster)")
    header = (f"{'model':<28}{'memory':<8}{'step s (each)':<24}{'best':>7}{'fwd':>7}{'bwd':>7}"
              f"{'upd':>7}{'target':>8}{'peak GB':>9}{'ratio':>7}")
    print(header)
    print("-" * len(header))
    profiles = []
    modes = {"kept": [True], "system": [False], "both": [False, True]}[args.allocator]
    for name, keep in ((name, keep) for name in args.models for keep in modes):
        r = run_in_subprocess(name, training[name], args.steps, args.batch, args.profile,
                              args.threads, keep, peer)
        best = int(np.argmin(r["step"]))
        reuse = "kept" if r["kept"] else "system"  # what the child actually had
        each = " ".join(f"{s:.2f}" for s in r["step"])
        verdict = "ok" if r["step"][best] <= TARGET_SECONDS[name] else "OVER"
        mem = "ok" if r["maxrss_gb"] <= TARGET_MEMORY_GB else "OVER"
        print(f"{FIGURE[name]:<28}{reuse:<8}{each:<24}{r['step'][best]:>7.2f}"
              f"{r['forward'][best]:>7.2f}{r['backward'][best]:>7.2f}{r['update'][best]:>7.2f}"
              f"{TARGET_SECONDS[name]:>6.0f} {verdict:<3}{r['maxrss_gb']:>6.2f} {mem}",
              flush=True)
        t = r["peer"]
        if t is not None:
            top = int(np.argmin(t["step"]))
            each = " ".join(f"{s:.2f}" for s in t["step"])
            print(f"{'  PyTorch twin':<28}{'':<8}{each:<24}{t['step'][top]:>7.2f}"
                  f"{t['forward'][top]:>7.2f}{t['backward'][top]:>7.2f}{t['update'][top]:>7.2f}"
                  f"{'':>20}{peers.ratio(r['step'][best], t['step'][top]):>7.2f}", flush=True)
        if "profile" in r:
            profiles.append((f"{name} ({reuse})", r["profile"]))
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for name, text in profiles:
        print(f"\n==== profile of one {name} step (top functions by own time)")
        print(text)


if __name__ == "__main__":
    main()
