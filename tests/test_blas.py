"""OpenBLAS kernel choice: set before NumPy loads, only for CPUs listing AVX-512, never over
the user's own setting, and in effect in a fresh process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minitorch_ser import blas

AVX512_CPU = ("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 fma "
              "avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni\n\nprocessor\t: 1\n")
AVX2_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"


def cpuinfo(tmp_path, text):
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return str(path)


def test_cpu_flags_reads_the_flags_line():
    assert blas.cpu_flags(AVX512_CPU) >= set(blas.AVX512_FLAGS) | {"avx2"}
    assert "avx512f" not in blas.cpu_flags(AVX2_CPU)
    assert blas.cpu_flags("processor\t: 0\n") == frozenset()


def test_avx512_cpu_gets_the_skylakex_kernels(tmp_path):
    env = {}
    decision = blas.configure(env, cpuinfo(tmp_path, AVX512_CPU), numpy_loaded=False)
    assert env == {"OPENBLAS_CORETYPE": "SkylakeX"}
    assert "set by minitorch_ser" in decision


@pytest.mark.parametrize("text", [AVX2_CPU, AVX512_CPU.replace(" avx512vl", "")])
def test_cpu_without_all_five_extensions_is_left_alone(tmp_path, text):
    env = {}
    assert "no AVX-512" in blas.configure(env, cpuinfo(tmp_path, text), numpy_loaded=False)
    assert env == {}


def test_missing_cpuinfo_is_left_alone(tmp_path):
    env = {}
    blas.configure(env, str(tmp_path / "absent"), numpy_loaded=False)
    assert env == {}


def test_the_users_choice_and_the_opt_out_win(tmp_path):
    path = cpuinfo(tmp_path, AVX512_CPU)
    env = {"OPENBLAS_CORETYPE": "Zen"}
    assert "set by the user" in blas.configure(env, path, numpy_loaded=False)
    assert env == {"OPENBLAS_CORETYPE": "Zen"}
    env = {"MINITORCH_SER_BLAS": "default"}
    assert "MINITORCH_SER_BLAS=default" in blas.configure(env, path, numpy_loaded=False)
    assert "OPENBLAS_CORETYPE" not in env


def test_too_late_once_numpy_is_loaded(tmp_path):
    env = {}
    decision = blas.configure(env, cpuinfo(tmp_path, AVX512_CPU), numpy_loaded=True)
    assert env == {} and "imported before" in decision


def test_a_fresh_process_runs_the_chosen_kernels():
    """``import minitorch_ser`` first, then NumPy: on a CPU listing AVX-512 the loaded
    OpenBLAS reports the SkylakeX kernels, elsewhere the variable stays unset."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "MINITORCH_SER_BLAS")}
    code = ("import os, minitorch_ser; from minitorch_ser import blas; "
            "print(os.environ.get('OPENBLAS_CORETYPE')); print(blas.openblas_corename())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    path = Path("/proc/cpuinfo")
    flags = blas.cpu_flags(path.read_text()) if path.exists() else frozenset()
    if set(blas.AVX512_FLAGS) <= flags:
        assert out[0] == "SkylakeX"
        assert out[1] in ("SkylakeX", "None")  # None: NumPy's BLAS is not OpenBLAS
    else:
        assert out[0] == "None"
