"""Background work where only the newest request matters: maps, densities, sample comparisons, exports, and
the dataset dialog's loading.

    jobs = LatestJob("vae-explorer projection", parent)         # GUI thread
    jobs.sig_done.connect(on_done)                               # (token, result), in the GUI thread
    jobs.submit(token, work)      # work(progress, should_stop) -> result, run in a background QThread
    jobs.shutdown()               # window close: ask it to stop, join

`work` is GUI-free (a trainer function with its arguments bound): it reports through progress(message,
fraction) and checks should_stop() between its phases, raising trainer.errors.Stopped to end early, which is not
an error (sig_stopped). sig_finished says no job runs or waits any more (`running` is False by then).
A request that arrives while one runs asks the running one to stop and runs next;
only the newest waiting request is kept, so a fast-training model or a restless slider never queues work.
Each run gets its own QThread at background priority (explorer.runtime.threads).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, QThread, Signal, Slot

from explorer.runtime.threads import move_to_new_thread, stop_thread
from trainer.errors import Stopped, VaeExplorerError

PROGRESS_INTERVAL_S = 0.1
"""Progress signals at most 10 a second."""

Work = Callable[[Callable[[str, float], None], Callable[[], bool]], object]


class _Job(QObject):
    """One run of `work` in a QThread."""

    sig_progress = Signal(int, str, float)
    """(token, what it is doing, fraction done)."""
    sig_done = Signal(int, object)
    sig_failed = Signal(int, str)
    sig_stopped = Signal(int)
    sig_finished = Signal()
    """Emitted last, whatever happened."""

    def __init__(self, token: int, work: Work):
        super().__init__()  # no parent: it is moved to the job's thread
        self._token = token
        self._work = work
        self._stop = threading.Event()
        self._last = 0.0

    def cancel(self) -> None:
        """Any thread: stop at the next chance."""
        self._stop.set()

    def _progress(self, message: str, fraction: float) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self.sig_progress.emit(self._token, message, float(fraction))

    @Slot()
    def run(self) -> None:
        try:
            result = self._work(self._progress, self._stop.is_set)
        except Stopped:
            self.sig_stopped.emit(self._token)
        except VaeExplorerError as exc:  # the engine's own errors already name the file and the problem
            self.sig_failed.emit(self._token, " ".join(str(exc).split()))
        except Exception as exc:  # a failure is a line in the panel, never a dead thread
            self.sig_failed.emit(self._token, f"{type(exc).__name__}: {exc}")
        else:
            self.sig_done.emit(self._token, result)
        finally:
            self.sig_finished.emit()


class LatestJob(QObject):
    """The GUI thread's handle on one kind of background work: runs the newest request, re-emits its reports."""

    sig_progress = Signal(int, str, float)
    """(token, what it is doing, fraction done)."""
    sig_done = Signal(int, object)
    """(token, what `work` returned)."""
    sig_failed = Signal(int, str)
    """(token, one line)."""
    sig_stopped = Signal(int)
    """(token): the job stopped early, as asked (cancel, or a newer request); not an error."""
    sig_finished = Signal()
    """The last job ended and none waits: `running` is False."""

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._name = name
        self._job: _Job | None = None
        self._thread: QThread | None = None
        self._waiting: tuple[int, Work] | None = None  # the newest request that arrived while a job ran

    @property
    def running(self) -> bool:
        return self._thread is not None

    def submit(self, token: int, work: Work) -> None:
        """Run `work` next: at once, or once the running job (asked to stop) has ended."""
        if self.running:
            self._waiting = (token, work)
            self._job.cancel()
            return
        self._start(token, work)

    def cancel(self) -> None:
        """Forget what waits and ask the running job to stop: it ends with sig_stopped (or sig_done/sig_failed,
        if it was past its last check); a caller that no longer wants its result drops it by token."""
        self._waiting = None
        if self._job is not None:
            self._job.cancel()

    def _start(self, token: int, work: Work) -> None:
        self._job = _Job(token, work)
        self._thread = move_to_new_thread(self._job, self._name, self, start=False)
        self._thread.started.connect(self._job.run)
        self._job.sig_progress.connect(self._on_progress)
        self._job.sig_done.connect(self._on_done)
        self._job.sig_failed.connect(self._on_failed)
        self._job.sig_stopped.connect(self._on_stopped)
        self._job.sig_finished.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_finished)
        self._thread.start()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop and join the running job (window close); True when no thread is left running."""
        self._waiting = None
        if self._thread is None:
            return True
        self._job.cancel()
        finished = stop_thread(self._thread, timeout_ms)
        if finished:
            self._job = self._thread = None
        return finished

    @Slot(int, str, float)
    def _on_progress(self, token: int, message: str, fraction: float) -> None:
        self.sig_progress.emit(token, message, fraction)

    @Slot(int, object)
    def _on_done(self, token: int, result) -> None:
        self.sig_done.emit(token, result)

    @Slot(int, str)
    def _on_failed(self, token: int, message: str) -> None:
        self.sig_failed.emit(token, message)

    @Slot(int)
    def _on_stopped(self, token: int) -> None:
        self.sig_stopped.emit(token)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is not None:
            self._thread.deleteLater()
            self._job.deleteLater()
        self._job = self._thread = None
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self._start(*waiting)
        else:
            self.sig_finished.emit()
