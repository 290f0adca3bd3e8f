"""Which OpenBLAS kernels NumPy's matrix products run on, chosen before NumPy loads.

NumPy's wheels ship OpenBLAS built for many CPUs at once (``DYNAMIC_ARCH``); at load time it
picks one set of kernels for the CPU it finds. On AMD EPYC processors with AVX-512 (Zen 4
and later) the OpenBLAS 0.3.31 of NumPy 2.4 picks its AVX2 kernels ("Haswell"), although the
AVX-512 ones ("SkylakeX") run there and are much faster: a float32 2048 x 2048 product
measured 241 GFLOP/s with the default and 441 GFLOP/s with ``OPENBLAS_CORETYPE=SkylakeX`` on
the 2-core EPYC machine of the README's benchmarks. Every convolution and recurrent layer of
the engine is a matrix product, so this one choice moves training speed more than any code.

OpenBLAS reads the variable ``OPENBLAS_CORETYPE`` once, when the library is loaded, that is
at the first ``import numpy`` of the process. :func:`configure` (called first thing by
``import minitorch_ser``) therefore sets it only when

- NumPy is not imported yet (afterwards the choice is made and nothing can change it; the
  command line and the experiment scripts import ``minitorch_ser`` before NumPy),
- the user has not set ``OPENBLAS_CORETYPE`` (their choice wins), nor
  ``MINITORCH_SER_BLAS=default`` (keep OpenBLAS's own choice),
- and the CPU has the five AVX-512 extensions the SkylakeX kernels use (f, cd, bw, dq, vl),
  as listed by Linux in ``/proc/cpuinfo`` (the kernel lists them only when it also saves
  their registers, so listed means usable). Elsewhere (other CPUs, other systems) nothing
  is set.

This module must not import NumPy. Different kernels sum in different orders, so float32
results differ in the last bits from one kernel to another (as they do between BLAS thread
counts); :func:`describe` names the kernel in use, and the benchmarks print it.
"""

from __future__ import annotations

import os
import re
import sys

__all__ = ["AVX512_FLAGS", "configure", "cpu_flags", "describe", "openblas_corename"]

#: the AVX-512 extensions OpenBLAS's SkylakeX kernels need
AVX512_FLAGS = ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")
#: the OpenBLAS kernel set chosen on such CPUs
AVX512_CORETYPE = "SkylakeX"

#: what :func:`configure` did in this process (for :func:`describe`)
_decision = "not configured"


def cpu_flags(cpuinfo: str) -> frozenset:
    """The CPU feature flags of a ``/proc/cpuinfo`` text (its first ``flags`` line).

    Parameters
    ----------
    cpuinfo : str
        The file's text.

    Returns
    -------
    frozenset of str, empty when the text has no ``flags`` line.
    """
    match = re.search(r"^flags\s*:(.*)$", cpuinfo, flags=re.MULTILINE)
    return frozenset(match.group(1).split()) if match else frozenset()


def configure(environ=None, cpuinfo_path: str = "/proc/cpuinfo", numpy_loaded=None) -> str:
    """Set ``OPENBLAS_CORETYPE=SkylakeX`` for an AVX-512 CPU before NumPy loads (see above).

    Parameters
    ----------
    environ : mapping, optional
        The environment to read and change; ``os.environ`` by default.
    cpuinfo_path : str
        Where the CPU flags are read (Linux's ``/proc/cpuinfo``); a missing or unreadable
        file means "unknown CPU": nothing is set.
    numpy_loaded : bool, optional
        Whether NumPy is already imported; by default ``"numpy" in sys.modules``.

    Returns
    -------
    str
        What was decided, in words (also kept for :func:`describe`).
    """
    global _decision
    environ = os.environ if environ is None else environ
    loaded = "numpy" in sys.modules if numpy_loaded is None else numpy_loaded
    if "OPENBLAS_CORETYPE" in environ:
        decision = f"OPENBLAS_CORETYPE={environ['OPENBLAS_CORETYPE']} set by the user"
    elif environ.get("MINITORCH_SER_BLAS", "").lower() == "default":
        decision = "OpenBLAS's own choice (MINITORCH_SER_BLAS=default)"
    elif loaded:
        decision = "OpenBLAS's own choice (NumPy was imported before minitorch_ser)"
    else:
        try:
            with open(cpuinfo_path, encoding="utf-8", errors="replace") as file:
                flags = cpu_flags(file.read())
        except OSError:
            flags = frozenset()
        if all(flag in flags for flag in AVX512_FLAGS):
            environ["OPENBLAS_CORETYPE"] = AVX512_CORETYPE
            decision = f"OPENBLAS_CORETYPE={AVX512_CORETYPE} set by minitorch_ser (AVX-512 CPU)"
        else:
            decision = "OpenBLAS's own choice (no AVX-512 listed for this CPU)"
    _decision = decision
    return decision


def openblas_corename() -> str | None:
    """The kernel set the loaded OpenBLAS runs, e.g. ``'SkylakeX'`` or ``'Haswell'``.

    Asked from the library NumPy loaded (its ``openblas_get_corename``, under the prefixed
    names of NumPy's and SciPy's wheels). Imports NumPy.

    Returns
    -------
    str or None
        None when NumPy does not use OpenBLAS or the library cannot be asked (non-Linux).
    """
    import ctypes

    import numpy  # noqa: F401  (loads its BLAS)

    try:
        with open("/proc/self/maps", encoding="utf-8") as file:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", file.read())))
    except OSError:
        return None
    names = ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
             "openblas_get_corename64_", "openblas_get_corename")
    for path in paths:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            function = getattr(library, name, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return function().decode()
    return None


def describe() -> str:
    """One line: the OpenBLAS kernel in use and why, e.g. ``'OpenBLAS kernel SkylakeX
    (OPENBLAS_CORETYPE=SkylakeX set by minitorch_ser (AVX-512 CPU))'``. Imports NumPy."""
    core = openblas_corename()
    return f"OpenBLAS kernel {core or 'unknown'} ({_decision})"
