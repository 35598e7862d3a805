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


_collector = None
"""The process's GUI-thread garbage collector, once a window made one (collect_garbage_in_the_gui_thread)."""


def collect_garbage_in_the_gui_thread():
    """From now on, Python's cyclic garbage collector runs only in the GUI thread: automatic collection is turned
    off and a one-second timer collects instead (pyqtgraph's GarbageCollector, the generations as the thresholds
    say). Without it a collection triggered by an allocation in a worker thread (training, a background job) can
    free a Qt object there: its destructor then waits for the GIL while the GUI thread waits on that worker, and
    the window hangs (seen in CI: the training thread stuck in ~QObject inside gc during Module.__init__).
    Idempotent; returns the collector, whose check() collects at once if due (the tests call it between tests)."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=1.0)
    return _collector


def gui_thread_collector():
    """The collector if a window installed one, else None."""
    return _collector
