"""Handing memory freed by training back to the operating system, so a long session's footprint stays flat.

    release_free_memory()      # glibc: malloc_trim(0); elsewhere nothing (returns False)

Training allocates and frees tensors of many sizes in two threads every step. glibc keeps freed blocks in its
heaps for reuse, and the mix of sizes fragments them, so the window's resident memory crept up by a few KB per
step without any object being kept alive: benchmarks/soak.py measured about +200 MB over ten minutes of
training, which tracemalloc did not see in Python objects and malloc_trim(0) returned to the system at once.
The training worker calls this every TRIM_INTERVAL_S between two steps: a trim takes a few milliseconds of the
training thread (and none of the GUI thread's).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

TRIM_INTERVAL_S = 5.0

_trim = None
if sys.platform.startswith("linux"):
    try:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _trim = getattr(_libc, "malloc_trim", None)  # glibc only (musl has none)
    except OSError:
        _trim = None


def release_free_memory() -> bool:
    """Return the heaps' free memory to the system where the C library can (glibc); True if it was asked to."""
    if _trim is None:
        return False
    _trim(0)
    return True
