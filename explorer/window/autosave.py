"""Autosave: a copy of the run every few minutes while it trains, when it stops and when the window closes.

    autosave = Autosave(run, session, store, banner, next_job_id)
    autosave.autosave()                    # <autosave folder>/<name>.autosave.h5 now; never the user's own file
    autosave.on_run_ended(info)            # the autosave on stop, unless another run replaced this one
    autosave.set_interval_ms(2_000)        # tests and benchmarks use seconds, not minutes

Writing goes the way of every save (the training thread copies between steps, the I/O thread writes), and what
it wrote reaches the RunModel (run.autosaved) through explorer.window.file_actions, which owns the I/O thread.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, QTimer, Slot

from explorer.models.run_model import RunModel
from explorer.models.run_state import RunState
from explorer.runtime.checkpoint_io import IoJob

TRAINING = (RunState.TRAINING, RunState.PAUSED)


class Autosave(QObject):
    """The autosave timer, file and rules of one window's run (GUI thread)."""

    def __init__(self, run: RunModel, session, store, banner, next_job_id: Callable[[], int],
                 parent: QObject | None = None):
        super().__init__(parent)
        self.run, self.session, self.store, self.banner = run, session, store, banner
        self._next_job_id = next_job_id
        self.path: str | None = None
        """Where this run autosaves: chosen at its first autosave, forgotten when the run changes."""
        self._skip_on_end = False  # the run ends because another replaces it (the user said so)
        self._closing = False
        self._pending: set[int] = set()  # autosave jobs asked for and not written yet
        self._end_waits = False  # the run ended while one was pending: whether its end needs a save of its own
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_due)
        self.apply_interval()
        run.sig_state_changed.connect(self._on_state_changed)
        run.sig_run_replaced.connect(self._on_run_replaced)

    def autosave(self) -> int | None:
        """Write the current run to <autosave folder>/<name>.autosave.h5; the job id, or None."""
        if not self.run.has_model:
            return None
        if self.path is None:
            current = self.run.current_path
            stem = Path(current).stem if current else f"untitled-{datetime.now():%Y%m%d-%H%M%S}"
            self.path = str(Path(self.store.autosave_folder()) / f"{stem}.autosave.h5")
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.banner.show_message(f"Autosave failed: {self.path}: {exc.strerror or exc}", "warning")
            return None
        job = IoJob(self._next_job_id(), "checkpoint", self.path, "autosave")
        self._pending.add(job.job_id)
        self.session.request_snapshot(job)
        return job.job_id

    def written(self, job_id: int) -> None:
        """An autosave job was written (or failed; the RunModel has heard of it first)."""
        self._pending.discard(job_id)
        if self._end_waits and not self._pending:
            self._end_waits = False
            if self.store.autosave_on_stop and self.run.unsaved_since_any_save and not self._closing:
                self.autosave()  # the pending copy was made before the run's last step

    # --- when ------------------------------------------------------------------------------------------------
    def apply_interval(self) -> None:
        """Take the interval from the preferences (0 minutes: never)."""
        minutes = self.store.autosave_minutes
        self._timer.setInterval(max(minutes, 0) * 60_000)
        if minutes <= 0:
            self._timer.stop()
        elif self.run.state in TRAINING and not self._timer.isActive():
            self._timer.start()

    @property
    def interval_ms(self) -> int:
        """How often autosave runs while training, ms (0: never)."""
        return self._timer.interval() if self.store.autosave_minutes > 0 else 0

    def set_interval_ms(self, ms: int) -> None:
        """Autosave this often while training."""
        self._timer.setInterval(int(ms))
        if self.run.state in TRAINING:
            self._timer.start()

    def skip_next_end(self) -> None:
        """The run is stopped to make way for another the user chose: no autosave of its end."""
        self._skip_on_end = True

    def on_run_ended(self, info) -> None:
        """After the RunModel has heard of the end (same event): autosave what no save holds, if asked to."""
        skip, self._skip_on_end = self._skip_on_end, False
        if skip or self._closing or not info.has_model:
            return
        if self.store.autosave_on_stop and self.run.unsaved_since_any_save:
            if self._pending:  # its copy may already hold the last step: decide once it is written
                self._end_waits = True
            else:
                self.autosave()

    def before_close(self) -> None:
        """Closing with steps no save holds: queue an autosave; the training thread copies the model as it stops."""
        if self.store.autosave_on_stop and self.run.unsaved_since_any_save:
            self.autosave()
        self.shutdown()

    def shutdown(self) -> None:
        self._closing = True
        self._timer.stop()

    @Slot(object)
    def _on_state_changed(self, state: RunState) -> None:
        if state in TRAINING:
            if not self._timer.isActive() and self._timer.interval() > 0 and self.store.autosave_minutes:
                self._timer.start()
        else:
            self._timer.stop()

    @Slot()
    def _on_run_replaced(self) -> None:
        self.path = None  # another run: its autosaves go to a file named after it

    def _on_due(self) -> None:
        if self.run.busy and self.run.latest_step > self.run.autosaved_step:
            self.autosave()
