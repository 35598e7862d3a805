"""A button that runs one piece of background work and cancels it, with its progress bar.

    run = JobButton(jobs, parent)          # jobs: an explorer.runtime.background.LatestJob
    run.sig_clicked_idle.connect(start)    # the button was clicked while nothing runs: start something
    run.submit(work, "0 / 100 examples")   # work(progress, should_stop), shown with its progress
    jobs.sig_done.connect(on_done)         # the owner subscribes to the job itself: (token, result) of the newest
                                           # submission only; sig_failed, sig_stopped (cancelled), sig_finished
    run.drop()                             # what a running submission still sends is about an old model: ignore it

While work runs the button reads "Cancel" and cancels it (the work notices between its units); results of a
submission that `drop` or a later `submit` superseded never arrive (LatestJob drops them). The owner sets the
idle button's text on the job's `sig_finished` (and whenever what it would start changes).
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QProgressBar, QPushButton


class JobButton(QObject):
    """One button and progress bar over a LatestJob; GUI thread only."""

    sig_clicked_idle = Signal()
    """The button was clicked while nothing ran."""

    def __init__(self, jobs, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs = jobs
        self._token = 0  # names each submission (LatestJob passes on only the newest's reports)
        self.button = QPushButton()
        self.progress = QProgressBar(textVisible=True)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.hide()
        self.button.clicked.connect(self._on_clicked)
        # the job's signals arrive in the GUI thread (LatestJob emits them there), the newest submission's only
        jobs.sig_progress.connect(self._on_progress)
        jobs.sig_finished.connect(self.progress.hide)

    @property
    def running(self) -> bool:
        return self._jobs.running

    def submit(self, work, message: str) -> None:
        self._token += 1
        self.progress.setValue(0)
        self.progress.setFormat(message)
        self.progress.show()
        self._jobs.submit(self._token, work)
        self.button.setText("Cancel")
        self.button.setEnabled(True)

    def cancel(self) -> None:
        self._jobs.cancel()

    def drop(self) -> None:
        """Cancel, and ignore whatever the running submission still sends."""
        self._jobs.drop()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        return self._jobs.shutdown(timeout_ms)

    def _on_clicked(self) -> None:
        if self.running:
            self.cancel()
            self.button.setEnabled(False)  # until the job notices, between its units of work
            self.button.setText("Cancelling…")
        else:
            self.sig_clicked_idle.emit()

    def _on_progress(self, _token: int, message: str, fraction: float) -> None:
        self.progress.setValue(int(100 * fraction))
        self.progress.setFormat(message)
