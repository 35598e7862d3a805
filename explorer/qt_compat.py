"""Workarounds for the Qt binding, applied once on import; every explorer module that loads Qt imports this first.

PySide6 6.12.0 on CPython 3.11 and older drops references it does not own: `SignalInstance.emit()` returns
`True` without a new reference, and calling a Python slot loses a reference to `None`. Every emit, ours and
pyqtgraph's (two per `PlotDataItem.setData`), therefore lowers the reference counts of `True` and `None`; after
about a thousand redraws one of them reaches zero and CPython aborts with "Fatal Python error: bool_dealloc"
(or none_dealloc), often only at exit. CPython 3.12 made these singletons immortal, which hides the bug; this
module does the same by hand, raising their counts by 2**40, which no number of leaked references will use up.
Remove it once the project requires PySide6 > 6.12.0 or Python >= 3.12.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 40


def _immortalise_singletons() -> bool:
    """True if the counts were raised; False where it is not needed or the object layout is not the expected one."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    for obj in (True, False, None):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))
        # ob_refcnt is the first field of a PyObject in release builds; check before writing to it
        if abs(refcnt.value - (sys.getrefcount(obj) - 1)) > 4:
            return False
        refcnt.value += _HEADROOM
    return True


APPLIED = _immortalise_singletons()
