"""keep_freed_memory: large blocks come from glibc's heap and stay mapped after free."""

import ctypes

import numpy as np
import pytest

from minitorch_ser.autograd import allocator


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (all fields size_t)."""
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def _mallinfo2():
    libc = allocator._glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        pytest.skip("needs glibc >= 2.33 (mallinfo2)")
    libc.mallinfo2.restype = _MallInfo2
    return libc.mallinfo2


def test_large_array_comes_from_the_heap_and_is_kept_after_free(monkeypatch):
    monkeypatch.delenv(allocator.ENV_SWITCH, raising=False)
    mallinfo2 = _mallinfo2()
    assert allocator.keep_freed_memory() is True
    assert allocator.is_keeping_freed_memory()
    size = 96 * 2**20  # above glibc's largest default mmap threshold (32 MB)
    before = mallinfo2()
    block = np.ones(size // 4, dtype=np.float32)
    during = mallinfo2()
    # served by the heap (arena grew or reused free heap memory), not by a new mmap
    assert during.hblkhd - before.hblkhd < size
    assert during.uordblks - before.uordblks >= size
    del block
    after = mallinfo2()
    # freed into the heap's free lists, still mapped: the next array reuses these pages
    assert after.fordblks - during.fordblks >= size
    assert after.arena >= during.arena


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(allocator.ENV_SWITCH, "0")
    assert allocator.keep_freed_memory() is False


def test_idempotent(monkeypatch):
    monkeypatch.delenv(allocator.ENV_SWITCH, raising=False)
    if allocator._glibc() is None:
        pytest.skip("needs glibc")
    assert allocator.keep_freed_memory() is allocator.keep_freed_memory() is True
