"""Background threads for QObject workers: the one pattern every thread of the window uses.

    thread = move_to_new_thread(worker, "vae-explorer file I/O", parent=self)   # worker's slots now run there
    signal.connect(worker.slot)          # signals from the GUI thread reach it queued, in order
    ...
    stop_thread(thread, timeout_ms)      # from shutdown(): ends its event loop after the current slot, joins

The worker has no parent (moveToThread refuses objects that have one); the QThread is a child of a GUI-thread
object, so it is never destroyed while running as long as that object's shutdown joins it first.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, QThread


def move_to_new_thread(worker: QObject, name: str, parent: QObject, start: bool = True) -> QThread:
    """A QThread named `name` (debuggers and py-spy show it) that runs `worker`'s slots; started unless
    `start` is False (connect its `started` signal first, then start it)."""
    thread = QThread(parent)
    thread.setObjectName(name)
    worker.moveToThread(thread)
    if start:
        thread.start()
    return thread


def stop_thread(thread: QThread | None, timeout_ms: int) -> bool:
    """End the thread's event loop once its current slot returns and wait for it; True once it has finished
    (or was not running)."""
    if thread is None or not thread.isRunning():
        return True
    thread.quit()
    return thread.wait(timeout_ms)
