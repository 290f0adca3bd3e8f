"""benchmarks/side_by_side.py, and the benchmarks running without the optional peers.

The peers (PyTorch, librosa) come with the ``bench`` extra; without them every benchmark
still runs and prints ours only, with a line saying what is missing. That case is made here
by putting packages named ``torch`` and ``librosa`` that fail to import first on the path.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def peers():
    spec = importlib.util.spec_from_file_location("side_by_side", BENCHMARKS / "side_by_side.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_alternate_calls_the_contenders_in_turn_after_the_warmup(peers):
    calls = []
    runs = {"ours": lambda: calls.append("ours") or (1.0, 2.0),
            "peer": lambda: calls.append("peer") or (0.5,)}
    times = peers.alternate(runs, repeats=3, warmup=1)
    assert calls == ["ours", "peer"] * 4
    assert times == {"ours": [(1.0, 2.0)] * 3, "peer": [(0.5,)] * 3}


def test_best_is_the_round_with_the_smallest_total_and_ratio_is_ours_over_peer(peers):
    assert peers.best([(3.0, 1.0), (1.0, 2.0), (2.5, 0.0)]) == (2.5, 0.0)
    assert peers.ratio(3.0, 1.5) == 2.0          # ours takes twice as long


def test_machine_line_names_cores_and_versions(peers):
    import numpy as np

    line = peers.machine_line()
    assert line.startswith("machine: ") and f"{os.cpu_count()} cores" in line
    assert f"numpy {np.__version__}" in line and "torch " in line and "librosa " in line


def _without_peers(tmp_path, *argv):
    """Run a benchmark where ``import torch`` and ``import librosa`` fail."""
    for name in ("torch", "librosa"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"raise ImportError('{name} is hidden from this test')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, *argv], cwd=BENCHMARKS, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_bench_dsp_without_librosa_prints_ours_and_how_to_add_the_peer(tmp_path):
    out = _without_peers(tmp_path, "bench_dsp.py", "--batch", "2", "--repeats", "1")
    assert "log-mel, one batched call (N=2)" in out
    assert "peer missing: librosa is not installed" in out and '".[bench]"' in out
    assert "time ours / librosa" not in out


def test_bench_crnn_without_torch_prints_ours_and_how_to_add_the_peer(tmp_path):
    out = _without_peers(tmp_path, "bench_crnn.py", "--models", "lstm_reg", "--steps", "1",
                         "--batch", "1")
    assert "peer missing: PyTorch is not installed" in out
    assert "Figure 9 CNN+LSTM+MHA reg." in out and "PyTorch twin" not in out


def test_the_machine_line_names_the_openblas_kernel_and_who_chose_it():
    """A fresh process with OPENBLAS_CORETYPE=Haswell runs (and reports) the Haswell set."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import side_by_side as p; "
            "print(p.openblas_kernel())")
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    out = subprocess.run([sys.executable, "-c", code, str(BENCHMARKS)], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out in ("OpenBLAS kernel Haswell (OPENBLAS_CORETYPE=Haswell)",
                   "OpenBLAS kernel unknown (OPENBLAS_CORETYPE=Haswell)")  # not OpenBLAS
    env.pop("OPENBLAS_CORETYPE")
    out = subprocess.run([sys.executable, "-c", code, str(BENCHMARKS)], env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out.endswith("(OpenBLAS's own choice)")
