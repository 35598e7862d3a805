"""Estimating log p(x) with IWAE off the GUI thread: one estimate at a time, each in its own QThread.

    estimate = LogPxEstimate(parent)           # GUI thread: owns the job and its thread while one runs
    estimate.sig_done.connect(panel._on_done)  # every signal arrives in the GUI thread
    estimate.start(decoder_snapshot, x, y, k=100, n=1000)   # returns at once; False if one is running
    estimate.cancel()                          # stops between batches: sig_cancelled, then sig_finished
    estimate.shutdown()                        # window close: cancel and join

The job runs trainer.diagnostics.estimate_log_px on the snapshot's private copy of the weights, so training goes
on meanwhile; ElboGapPanel draws what it reports.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, QThread, Signal, Slot

from explorer.runtime.threads import move_to_new_thread, stop_thread

PROGRESS_INTERVAL_S = 0.05
"""Progress signals at most 20 a second; the last batch always reports."""


class GapJob(QObject):
    """One estimate, run in a QThread. GUI-free work: trainer.diagnostics.estimate_log_px on a snapshot."""

    sig_progress = Signal(int, int)
    """(examples done, examples in all)."""
    sig_done = Signal(object)
    """The result dict of estimate_log_px."""
    sig_failed = Signal(str)
    sig_cancelled = Signal()
    sig_finished = Signal()
    """Emitted last, whatever happened."""

    def __init__(self, snapshot, x: np.ndarray, y: np.ndarray | None, k: int, n: int):
        super().__init__()  # no parent: it is moved to the job's thread
        self._snapshot, self._x, self._y, self._k, self._n = snapshot, x, y, k, n
        self._stop = threading.Event()
        self._last = 0.0

    def cancel(self) -> None:
        """Any thread: stop after the current batch."""
        self._stop.set()

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self.sig_progress.emit(done, total)

    @Slot()
    def run(self) -> None:
        try:
            from trainer.diagnostics import Cancelled, estimate_log_px

            try:
                result = estimate_log_px(self._snapshot, self._x, self._y, k=self._k, n=self._n,
                                         progress=self._progress, should_stop=self._stop.is_set)
            except Cancelled:
                self.sig_cancelled.emit()
            else:
                self.sig_done.emit(result)
        except Exception as exc:  # a failure is a message in the panel, never a dead thread
            self.sig_failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self.sig_finished.emit()


class LogPxEstimate(QObject):
    """The GUI thread's handle on the estimates: starts a GapJob in a new thread and re-emits what it reports."""

    sig_progress = Signal(int, int)
    """(examples done, examples in all)."""
    sig_done = Signal(object)
    """The result dict of estimate_log_px: elbo, log_px, gap (nats per example), k, n, step."""
    sig_failed = Signal(str)
    """One line: why the estimate failed."""
    sig_cancelled = Signal()
    """The estimate stopped between batches, as asked."""
    sig_finished = Signal()
    """Emitted last, whatever happened: the thread has ended and `running` is False."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._job: GapJob | None = None
        self._thread: QThread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, snapshot, x: np.ndarray, y: np.ndarray | None, k: int, n: int) -> bool:
        """Estimate on `snapshot` (a DecoderSnapshot) with K samples on the first n of x; False if one runs."""
        if self.running:
            return False
        self._job = GapJob(snapshot, x, y, k, n)
        self._thread = move_to_new_thread(self._job, "vae-explorer IWAE", self, start=False)
        self._thread.started.connect(self._job.run)
        # job -> handle: queued to methods of this GUI-thread object, which re-emit in the GUI thread
        self._job.sig_progress.connect(self._on_progress)
        self._job.sig_done.connect(self._on_done)
        self._job.sig_failed.connect(self._on_failed)
        self._job.sig_cancelled.connect(self._on_cancelled)
        self._job.sig_finished.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_finished)
        self._thread.start()
        return True

    def cancel(self) -> None:
        """Any time: the running estimate stops after its current batch."""
        if self._job is not None:
            self._job.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel and join the estimate's thread (window close); True when no thread is left running."""
        if self._thread is None:
            return True
        self.cancel()
        finished = stop_thread(self._thread, timeout_ms)
        if finished:
            self._on_thread_finished()
        return finished

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.sig_progress.emit(done, total)

    @Slot(object)
    def _on_done(self, result: dict) -> None:
        self.sig_done.emit(result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.sig_failed.emit(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.sig_cancelled.emit()

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is None:
            return
        self._thread.deleteLater()
        self._job.deleteLater()
        self._thread, self._job = None, None
        self.sig_finished.emit()
