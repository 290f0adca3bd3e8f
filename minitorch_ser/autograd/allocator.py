"""Keep freed memory in the process: why large NumPy temporaries cost more than their arithmetic.

A training step of the second paper's models makes dozens of temporaries of 300 MB each (a
(32, 128, 300, 64) float32 feature map) and frees them a moment later. glibc's ``malloc``
serves every block above its *mmap threshold* (at most 32 MB by default) with a fresh ``mmap``
and gives it back to the kernel with ``munmap`` on ``free``. The next array of the same size
then gets brand-new pages, which the kernel must zero (and, for NumPy's huge-page-advised
arrays, possibly compact memory for) on first touch. Measured on the 2-core machine of the
README: filling a freshly allocated 314 MB array takes 31 ms against 12 ms for reused memory,
and a run of three Figure 8 training steps spent 10.4 s in the kernel (5.6 s with this fix).

``keep_freed_memory()`` asks glibc (through ``mallopt``) to serve large blocks from its heap
and to keep freed heap memory for reuse::

    M_MMAP_THRESHOLD = 1 GiB    blocks below this come from the heap, not from mmap
    M_TRIM_THRESHOLD = 2 GiB    free memory at the top of the heap is returned to the OS only
                                beyond this (the largest value mallopt's int argument takes)

so a freed feature map's pages are handed to the next one already mapped. The price: the
process keeps its peak heap size until it exits, and its peak resident memory grows a little
because freed blocks are not always reused at the same sizes (measured: 1.03 -> 1.23 GB for a
Figure 7 step, 2.07 -> 2.14 GB for Figure 8). This is the same trade PyTorch users make when
they preload jemalloc or tcmalloc for CPU training.

``minitorch_ser.app.training.fit`` calls it once; the benchmarks call it (and print whether it is on).
It does nothing, and returns False, on a C library other than glibc or when the environment
variable ``MINITORCH_SER_KEEP_FREED_MEMORY`` is ``0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

#: mallopt parameter numbers from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Blocks smaller than this are served from the heap (and reused after free).
MMAP_THRESHOLD_BYTES = 2**30
#: Free memory at the top of the heap is given back to the OS only above this.
TRIM_THRESHOLD_BYTES = 2**31 - 1

#: Environment variable that turns ``keep_freed_memory`` off when set to "0".
ENV_SWITCH = "MINITORCH_SER_KEEP_FREED_MEMORY"

_state = {"enabled": False}


def _glibc():
    """The process' glibc as a ctypes library, or None (musl, macOS, Windows, ...)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # present only in glibc
        libc.mallopt
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Make glibc keep freed large blocks for reuse (see the module docstring).

    Idempotent: the first successful call sets both thresholds, later calls only report.

    Returns
    -------
    bool
        True when the setting is in effect, False when it could not be applied (not glibc,
        ``mallopt`` refused a value) or was switched off with ``MINITORCH_SER_KEEP_FREED_MEMORY=0``.
    """
    if os.environ.get(ENV_SWITCH, "1").strip() == "0":
        return False
    if _state["enabled"]:
        return True
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    # trim threshold first: once the mmap threshold is raised, blocks land on the heap
    ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    ok = ok and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    _state["enabled"] = ok
    return ok


def is_keeping_freed_memory() -> bool:
    """Whether ``keep_freed_memory`` is in effect in this process."""
    return _state["enabled"]
