"""What the speed benchmarks share to time ours beside a peer (PyTorch, librosa).

- ``torch_peer()`` / ``librosa_peer()``: the peer library, or None when it is not installed
  (the benchmark then prints ours only, with ``missing(...)``'s line saying how to install it);
- ``machine_line()``: CPU model, cores, library versions and thread counts, printed first;
- ``alternate(runs, repeats)``: each contender once per round, in turn (ours, peer, ours,
  peer, ...), so that a change in the machine's speed during the run (another process
  starting, the host's turbo) falls on both alike;
- ``ratio(ours, peer)``: the one ratio every benchmark prints, **time ours / time peer**
  (below 1: ours is faster; 2.0: ours takes twice as long).

The peers come with the optional extra ``pip install -e ".[bench]"`` (PyTorch's CPU build and
librosa); neither the package nor its tests need them.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import re
import time
from typing import Callable

import numpy as np

#: PyTorch runs on as many threads as OpenBLAS uses by default on the 2-core machines the
#: project is measured on
TORCH_THREADS = 2

INSTALL = 'pip install -e ".[bench]"'


def torch_peer():
    """``torch`` with ``TORCH_THREADS`` threads, or None when PyTorch is not installed."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None
    torch.set_num_threads(TORCH_THREADS)
    return torch


def librosa_peer():
    """``librosa``, or None when it is not installed."""
    try:
        return importlib.import_module("librosa")
    except ImportError:
        return None


def missing(peer: str) -> str:
    """The line printed instead of the peer's figures; ``peer`` names one or more libraries
    ("PyTorch", "PyTorch and librosa")."""
    verb = "are" if " and " in peer else "is"
    return f"peer missing: {peer} {verb} not installed, so only ours is timed ({INSTALL} adds it)"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    """NumPy's BLAS and its thread count (threadpoolctl when installed, else the variable)."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # the layout of show_config's dict is NumPy's, not a stable API
        name = "BLAS"
    threads = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    try:
        from threadpoolctl import threadpool_info     # comes with the bench extra (librosa)
        counts = {str(pool["num_threads"]) for pool in threadpool_info()
                  if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", "")}
        if counts:
            threads = "/".join(sorted(counts))
    except ImportError:
        pass
    return f"{name}, {threads or 'default'} threads"


def openblas_kernel() -> str:
    """The kernel set NumPy's OpenBLAS runs (``openblas_get_corename``, under the prefixed
    names of NumPy's wheels), e.g. ``"SkylakeX"`` (AVX-512) or ``"Haswell"`` (AVX2), and
    whether ``OPENBLAS_CORETYPE`` chose it; ``"unknown"`` where the library cannot be asked
    (not OpenBLAS, not Linux). OpenBLAS picks the set for the CPU when it loads unless that
    variable names one."""
    import ctypes
    core = None
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", f.read())))
    except OSError:
        paths = []
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename"):
            function = getattr(library, name, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                core = function().decode()
                break
        if core:
            break
    chosen = os.environ.get("OPENBLAS_CORETYPE")
    return (f"OpenBLAS kernel {core or 'unknown'}"
            + (f" (OPENBLAS_CORETYPE={chosen})" if chosen else " (OpenBLAS's own choice)"))


def machine_line(torch=None) -> str:
    """One line: CPU, cores, Python, NumPy and its BLAS threads, PyTorch and its threads,
    librosa, and the load average (other processes share the cores)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch_text = _version("torch")
    if torch is not None:
        torch_text += f" ({torch.get_num_threads()} threads)"
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"machine: {_cpu_model()}, {os.cpu_count()} cores ({usable} usable), "
            f"Python {platform.python_version()}; numpy {np.__version__} ({_blas()}; "
            f"{openblas_kernel()}); "
            f"torch {torch_text}; librosa {_version('librosa')}; load average {load}")


def wall(fn: Callable[[], object]) -> Callable[[], tuple]:
    """``fn`` as a run for ``alternate``: one part, its wall time."""
    def run() -> tuple:
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start,)
    return run


#: seconds of rest before each timed run (see ``alternate``)
SETTLE_SECONDS = 0.2


def alternate(runs: dict, repeats: int, warmup: int = 1, settle: float = SETTLE_SECONDS) -> dict:
    """Time the contenders in turn, round after round, each after a short rest.

    The rest matters: BLAS and OpenMP worker threads keep spinning for a while after a call
    returns, so a contender timed right after another one shares the cores with the other's
    idle threads (measured: our 256-clip log-mel took 75 ms right after a librosa call and
    60 ms 0.2 s later or alone). Every contender gets the same rest.

    Parameters
    ----------
    runs : dict of str -> callable
        ``run() -> tuple of seconds`` (its parts, e.g. forward and backward; ``wall(fn)`` for
        a whole call), one entry per contender.
    repeats : int > 0
        Timed rounds.
    warmup : int >= 0
        Untimed rounds first.
    settle : float >= 0
        Seconds of sleep before each timed run.

    Returns
    -------
    dict of str -> list of tuples
        Per contender, the parts of each timed round.
    """
    for _ in range(warmup):
        for run in runs.values():
            run()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            time.sleep(settle)
            times[name].append(tuple(run()))
    return times


def best(parts: list) -> tuple:
    """The round with the smallest total, of a list of part tuples."""
    return min(parts, key=sum)


def ratio(ours: float, peer: float) -> float:
    """time ours / time peer: below 1, ours is faster."""
    return ours / peer
