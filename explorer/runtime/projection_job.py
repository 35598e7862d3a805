"""UMAP and t-SNE maps of the latent space off the GUI thread: the latest request runs, older ones are stopped.

    projection = LatentProjection(parent)                      # GUI thread
    projection.sig_done.connect(panel.set_projection)          # (token, xy, faithfulness), in the GUI thread
    projection.request(ProjectionRequest(token, mu, params, previous))   # returns at once
    projection.shutdown()                                      # window close: stop and join

Each map runs trainer.projection.project in its own QThread at background priority. A request that arrives
while one runs asks the running one to stop (t-SNE stops within 10 iterations, UMAP after its current phase)
and runs next; only the newest waiting request is kept, so a fast-training model never queues maps.
"""

from __future__ import annotations

import threading
import time

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, QThread, Signal, Slot

from explorer.runtime.threads import move_to_new_thread, stop_thread

PROGRESS_INTERVAL_S = 0.1
"""Progress signals at most 10 a second."""


class ProjectionJob(QObject):
    """One map, run in a QThread. GUI-free work: trainer.projection.project and faithfulness."""

    sig_progress = Signal(int, str, float)
    """(token, what it is doing, fraction done)."""
    sig_done = Signal(int, object, float)
    """(token, (N, 2) float32 map, faithfulness)."""
    sig_failed = Signal(int, str)
    sig_finished = Signal()
    """Emitted last, whatever happened."""

    def __init__(self, request):
        super().__init__()  # no parent: it is moved to the job's thread
        self._request = request
        self._stop = threading.Event()
        self._last = 0.0

    def cancel(self) -> None:
        """Any thread: stop at the next chance."""
        self._stop.set()

    def _progress(self, message: str, fraction: float) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self.sig_progress.emit(self._request.token, message, float(fraction))

    @Slot()
    def run(self) -> None:
        req = self._request
        try:
            from trainer.projection import ProjectionStopped, faithfulness, project

            try:
                xy = project(req.mu, req.params, previous=req.previous, progress=self._progress,
                             should_stop=self._stop.is_set)
                kept = faithfulness(req.mu, xy)
            except ProjectionStopped:
                pass
            else:
                self.sig_done.emit(req.token, xy, kept)
        except Exception as exc:  # a failure is a line in the panel, never a dead thread
            self.sig_failed.emit(req.token, f"{type(exc).__name__}: {exc}")
        finally:
            self.sig_finished.emit()


class LatentProjection(QObject):
    """The GUI thread's handle on the maps: runs the newest request, re-emits what its job reports."""

    sig_progress = Signal(int, str, float)
    """(token, what it is doing, fraction done)."""
    sig_done = Signal(int, object, float)
    """(token, (N, 2) float32 map, share of 10 latent neighbours kept on the map)."""
    sig_failed = Signal(int, str)
    """(token, one line)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._job: ProjectionJob | None = None
        self._thread: QThread | None = None
        self._waiting = None  # the newest request that arrived while a job ran

    @property
    def running(self) -> bool:
        return self._thread is not None

    @Slot(object)
    def request(self, req) -> None:
        """Compute this map next: at once, or once the running job (asked to stop) has ended."""
        if self.running:
            self._waiting = req
            self._job.cancel()
            return
        self._start(req)

    def _start(self, req) -> None:
        self._job = ProjectionJob(req)
        self._thread = move_to_new_thread(self._job, "vae-explorer projection", self, start=False)
        self._thread.started.connect(self._job.run)
        self._job.sig_progress.connect(self._on_progress)
        self._job.sig_done.connect(self._on_done)
        self._job.sig_failed.connect(self._on_failed)
        self._job.sig_finished.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_finished)
        self._thread.start()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop and join the running map (window close); True when no thread is left running."""
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

    @Slot(int, object, float)
    def _on_done(self, token: int, xy, kept: float) -> None:
        self.sig_done.emit(token, xy, kept)

    @Slot(int, str)
    def _on_failed(self, token: int, message: str) -> None:
        self.sig_failed.emit(token, message)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._thread is not None:
            self._thread.deleteLater()
            self._job.deleteLater()
        self._job = self._thread = None
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self._start(waiting)
