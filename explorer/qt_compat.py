"""Workarounds for the Qt binding, applied once on import; every explorer module that loads Qt imports this first.

PySide6 6.12.0 on CPython 3.11 and older drops references it does not own: `SignalInstance.emit()` returns
`True` without a new reference, and calling a Python slot loses a reference to `None`. Every emit, ours and
pyqtgraph's (two per `PlotDataItem.setData`), therefore lowers the reference counts of `True` and `None`; after
about a thousand redraws one of them reaches zero and CPython aborts with "Fatal Python error: bool_dealloc"
(or none_dealloc), often only at exit. CPython 3.12 made these singletons immortal, which hides the bug; this
module does the same by hand, raising their counts by 2**40, which no number of leaked references will use up.
It runs only where `refcount_bug_applies` says so: CPython before 3.12 with PySide6 up to the 6.12 series, the
series the bug was found in (6.12.0; no fixed release was known when this was written). A later series is
taken to be fixed: if one still aborts with bool_dealloc, raise LAST_AFFECTED_PYSIDE6. Remove this module once
the project requires a fixed PySide6 or Python >= 3.12.
"""

from __future__ import annotations

import ctypes
import re
import sys

import PySide6  # the package only (version numbers); nothing here loads Qt or emits a signal

_HEADROOM = 1 << 40
LAST_AFFECTED_PYSIDE6 = (6, 12)
"""Newest PySide6 (major, minor) series the workaround is applied on."""


def version_series(version: str) -> tuple[int, int]:
    """(major, minor) of a version string: "6.12.0" -> (6, 12), "0.14.1.dev0" -> (0, 14); (0, 0) if unreadable."""
    match = re.match(r"\s*(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else (0, 0)


def refcount_bug_applies(python: tuple[int, ...] | None = None, implementation: str | None = None,
                         pyside: str | None = None) -> bool:
    """Whether this interpreter and PySide6 (default: the running ones) need the singletons' headroom."""
    python = tuple(sys.version_info[:2]) if python is None else tuple(python)
    implementation = sys.implementation.name if implementation is None else implementation
    pyside = PySide6.__version__ if pyside is None else pyside
    return implementation == "cpython" and python < (3, 12) and version_series(pyside) <= LAST_AFFECTED_PYSIDE6


def _immortalise_singletons() -> bool:
    """True if the counts were raised; False where it is not needed or the object layout is not the expected one."""
    if not refcount_bug_applies():
        return False
    for obj in (True, False, None):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))
        # ob_refcnt is the first field of a PyObject in release builds; check before writing to it
        if abs(refcnt.value - (sys.getrefcount(obj) - 1)) > 4:
            return False
        refcnt.value += _HEADROOM
    return True


APPLIED = _immortalise_singletons()
