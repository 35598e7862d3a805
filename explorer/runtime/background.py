"""Background work where only the newest request matters: maps, densities, sample comparisons, exports, and
the dataset dialog's loading.

    jobs = LatestJob("vae-explorer projection", parent)         # GUI thread
    jobs.sig_done.connect(on_done)                               # (token, result), in the GUI thread
    jobs.submit(token, work)      # work(progress, should_stop) -> result, run in a background QThread
    jobs.drop()                   # what the running job still sends is about something gone: it never arrives
    jobs.shutdown()               # window close: ask it to stop, join

`work` is GUI-free (a trainer function with its arguments bound): it reports through progress(message,
fraction) and checks should_stop() between its phases, raising trainer.errors.Stopped to end early, which is not
an error (sig_stopped). sig_finished says no job runs or waits any more (`running` is False by then).
A request that arrives while one runs asks the running one to stop and runs next;
only the newest waiting request is kept, so a fast-training model or a restless slider never queues work.
Only the newest submission reports: the progress, result, failure or stop of one that a later `submit` or a
`drop` superseded is dropped here, so no subscriber compares tokens (the token names what the result answers).
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
    """One run of `work` in a QThread; what it reports reaches LatestJob._on_event, which re-emits the newest's."""

    sig_event = Signal(int, str, object)
    """(token, kind, payload): progress (message, fraction), done (result), failed (one line) or stopped (None)."""
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
            self.sig_event.emit(self._token, "progress", (message, float(fraction)))

    @Slot()
    def run(self) -> None:
        try:
            result = self._work(self._progress, self._stop.is_set)
        except Stopped:
            self.sig_event.emit(self._token, "stopped", None)
        except VaeExplorerError as exc:  # the engine's own errors already name the file and the problem
            self.sig_event.emit(self._token, "failed", " ".join(str(exc).split()))
        except Exception as exc:  # a failure is a line in the panel, never a dead thread
            self.sig_event.emit(self._token, "failed", f"{type(exc).__name__}: {exc}")
        else:
            self.sig_event.emit(self._token, "done", result)
        finally:
            self.sig_finished.emit()


class LatestJob(QObject):
    """The GUI thread's handle on one kind of background work: runs the newest request, re-emits its reports."""

    sig_progress = Signal(int, str, float)
    """(token, what it is doing, fraction done) of the newest submission."""
    sig_done = Signal(int, object)
    """(token, what `work` returned) of the newest submission."""
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
        self._newest: int | None = None  # the token whose reports are passed on; None after drop()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def submit(self, token: int, work: Work) -> None:
        """Run `work` next: at once, or once the running job (asked to stop) has ended. From now on only this
        submission's reports arrive."""
        self._newest = token
        if self.running:
            self._waiting = (token, work)
            self._job.cancel()
            return
        self._start(token, work)

    def cancel(self) -> None:
        """Forget what waits and ask the running job to stop: it ends with sig_stopped (or sig_done/sig_failed,
        if it was past its last check)."""
        self._waiting = None
        if self._job is not None:
            self._job.cancel()

    def drop(self) -> None:
        """Cancel, and let nothing the running submission still sends arrive (it is about something gone)."""
        self.cancel()
        self._newest = None

    def _start(self, token: int, work: Work) -> None:
        self._job = _Job(token, work)
        self._thread = move_to_new_thread(self._job, self._name, self, start=False)
        self._thread.started.connect(self._job.run)
        self._job.sig_event.connect(self._on_event)
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

    @Slot(int, str, object)
    def _on_event(self, token: int, kind: str, payload) -> None:
        if token != self._newest:
            return  # a superseded or dropped submission's
        if kind == "progress":
            self.sig_progress.emit(token, *payload)
        elif kind == "done":
            self.sig_done.emit(token, payload)
        elif kind == "failed":
            self.sig_failed.emit(token, payload)
        else:
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
