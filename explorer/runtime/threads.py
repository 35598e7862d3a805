"""Background threads for QObject workers: the one pattern every thread of the window uses.

    class IoThread(WorkerHandle):                     # the GUI thread's handle on one long-lived worker
        def __init__(self, parent=None):
            super().__init__(IoWorker(), "vae-explorer file I/O", parent)   # IoWorker(ThreadWorker)
        def load(self, request_id, path):
            self.queue(self.worker.load, (request_id, path))   # runs there, after every call queued before
        def before_stop(self):                        # what the worker must hear before its thread ends
            ...
    io.worker.sig_done.connect(view.on_done)          # what the worker reports: its own sig_* signals
    io.shutdown()                                     # before_stop(), end its event loop, join

    thread = move_to_new_thread(worker, "vae-explorer projection", parent=self)   # the bare pattern underneath
    stop_thread(thread, timeout_ms)      # ends its event loop after the current slot, joins

The worker has no parent (moveToThread refuses objects that have one); the QThread is a child of a GUI-thread
object, so it is never destroyed while running as long as that object's shutdown joins it first.

Every such thread runs at a lower priority than the GUI thread (see BACKGROUND_NICE), and so do the threads it
starts, such as torch's OpenMP pool.
"""

from __future__ import annotations

import os
import sys
import threading

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from explorer.runtime.memory import collect_garbage_in_the_gui_thread

BACKGROUND_NICE = 10
"""How much nicer (Linux) the worker threads are than the GUI thread.

With training on every core, the GUI thread used to share the cores with the trainer's threads as an equal,
so a full window repaint spent about as long waiting for a core as painting. Ten steps nicer (scheduler
weight 1024 against 110), the trainer's threads give the GUI thread a core at once, nearly as much as 19 steps
would, and the trainer takes back whatever the GUI thread leaves idle, so training loses only what the GUI
actually uses."""


def move_to_new_thread(worker: QObject, name: str, parent: QObject, start: bool = True) -> QThread:
    """A QThread named `name` (debuggers and py-spy show it) that runs `worker`'s slots at background priority;
    started unless `start` is False (connect its `started` signal first, then start it). Called on the GUI
    thread, it also makes sure Python's garbage collector runs only there from now on (memory module)."""
    collect_garbage_in_the_gui_thread()
    thread = QThread(parent)
    thread.setObjectName(name)
    # direct: runs in the new thread as it starts, before any of the worker's slots
    thread.started.connect(run_in_background, Qt.DirectConnection)
    worker.moveToThread(thread)
    if start:
        thread.start()
    return thread


def run_in_background() -> None:
    """Lower the calling thread's priority below the GUI thread's, and that of the threads it starts later."""
    QThread.currentThread().setPriority(QThread.LowPriority)  # Windows and macOS; Linux ignores it
    if sys.platform.startswith("linux"):
        tid = threading.get_native_id()  # Linux keeps a niceness per thread; new threads inherit it
        try:
            inherited = os.getpriority(os.PRIO_PROCESS, tid)  # the GUI thread's, which started this one
            os.setpriority(os.PRIO_PROCESS, tid, min(19, inherited + BACKGROUND_NICE))
        except OSError:  # not fatal: the window stays usable, only less smooth while training
            pass


def stop_thread(thread: QThread | None, timeout_ms: int) -> bool:
    """End the thread's event loop once its current slot returns and wait for it; True once it has finished
    (or was not running)."""
    if thread is None or not thread.isRunning():
        return True
    thread.quit()
    return thread.wait(timeout_ms)


class ThreadWorker(QObject):
    """A long-lived worker living in its own thread; its WorkerHandle queues calls to its methods."""

    @Slot(object)
    def perform(self, call: tuple) -> None:
        """(method, args) queued by WorkerHandle.queue: run here, in the worker's thread, in the order queued."""
        method, args = call
        method(*args)


class WorkerHandle(QObject):
    """The GUI thread's handle on a ThreadWorker in a thread of its own: owns both; every method returns at once
    except shutdown(). What the worker reports are its own sig_* signals (`handle.worker.sig_done`), emitted in
    its thread: a subscriber connects to them where it lives (a GUI-thread object's declared slot is called
    queued in the GUI thread; another worker's, in that worker's thread)."""

    SHUTDOWN_MS = 60_000
    """How long shutdown() waits for the worker's current call to end, by default."""

    _sig_call = Signal(object)
    """(method, args), queued to the worker's perform()."""

    def __init__(self, worker: ThreadWorker, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = worker
        self._thread = move_to_new_thread(worker, name, self)
        self._sig_call.connect(worker.perform)

    def queue(self, method, *args) -> None:
        """Call `method` (one of the worker's) with `args` in the worker's thread, after the calls queued before."""
        self._sig_call.emit((method, args))

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    def before_stop(self) -> None:
        """What the worker must be told before its thread is ended (stop training, drop a wish); nothing here."""

    def shutdown(self, timeout_ms: int | None = None) -> bool:
        """before_stop(), end the thread's event loop once its current call returns, and join it; True when the
        thread has finished."""
        if self._thread.isRunning():
            self.before_stop()
        return stop_thread(self._thread, self.SHUTDOWN_MS if timeout_ms is None else timeout_ms)
