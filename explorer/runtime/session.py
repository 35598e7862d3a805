"""The GUI thread's handle on the training thread: it owns the QThread and the TrainWorker that runs in it.

    session = TrainSession()                          # GUI thread: owns the QThread and the worker
    session.worker.sig_progress.connect(window._on_progress)   # the engine's reports: the worker's signals
    session.start(settings)                           # queued into the worker thread; returns at once
    session.set_beta(0.5)                             # thread-safe; the trainer applies it at its next step
    session.shutdown()                                # stop, quit, wait: from closeEvent (threads.WorkerHandle)
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject

from explorer.models.run_settings import RunSettings
from explorer.runtime.messages import TrainRequest
from explorer.runtime.threads import WorkerHandle
from explorer.runtime.worker import TrainWorker


class TrainSession(WorkerHandle):
    """Owns the training thread and its worker; every method returns at once (GUI thread only).

    What the engine reports are the worker's own `sig_*` signals (`session.worker.sig_progress`, documented
    on TrainWorker), emitted in the training thread: a connection to a declared @Slot of a GUI-thread object
    is queued to the GUI thread, and one to an object in another thread (the I/O worker) never passes through
    the GUI thread.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(TrainWorker(), "vae-explorer training", parent)
        self.tensorboard = ""
        """The folder each run writes TensorBoard event files into (File ▸ Preferences); empty: none."""

    def probe_devices(self) -> None:
        self.queue(self.worker.probe_devices)

    def start(self, settings: RunSettings, max_steps: int | None = None) -> None:
        self.worker.clear_requests()
        self.queue(self.worker.train, TrainRequest(settings, max_steps, tensorboard=self.tensorboard))

    def reset(self) -> None:
        self.queue(self.worker.reset)

    def request_snapshot(self, job) -> None:
        """Copy the model or its history for the I/O thread (sig_snapshot): between steps while a run
        is in progress, else as soon as the worker thread is free. Returns at once."""
        if not self.worker.request_snapshot(job):
            self.queue(self.worker.drain_jobs)

    def drain_after_shutdown(self) -> None:
        """Once the training thread has been joined: make the copies still queued, here (sig_snapshot)."""
        if not self._thread.isRunning():
            self.worker.drain_jobs()

    def adopt_checkpoint(self, loaded) -> None:
        """Make a validated, already read checkpoint the current run (after the current run, if any, stops)."""
        self.queue(self.worker.adopt_checkpoint, loaded)

    def use_dataset(self, dataset) -> None:
        """Train on this loaded Dataset from now on (after the current run, if any, stops)."""
        self.queue(self.worker.use_dataset, dataset)

    def set_beta(self, beta: float) -> None:
        self.worker.set_beta(beta)

    def set_lr(self, lr: float) -> None:
        self.worker.set_lr(lr)

    def set_free_bits(self, free_bits: float) -> None:
        self.worker.set_free_bits(free_bits)

    def request_latents(self) -> None:
        """Encode the held-out set with the current weights: at the next report while training (a flag the
        loop reads; a queued call would wait behind the whole run), or at once in the worker when idle."""
        self.worker.explore.request_latents()
        self.queue(self.worker.refresh_explore)

    def republish(self) -> None:
        """Publish the current model's decoder, previews and encodings again (sig_explore), as request_latents
        does: the latent panels come back to it after showing another run."""
        self.worker.explore.publish_all()
        self.queue(self.worker.refresh_explore)

    def set_latent_every(self, steps: int) -> None:
        """Re-encode the held-out set every `steps` optimizer steps while training (0: only on request)."""
        self.worker.explore.set_latent_every(steps)

    def pause(self) -> None:
        self.worker.pause()

    def resume(self) -> None:
        self.worker.resume()

    def stop(self) -> None:
        self.worker.request_stop()

    def before_stop(self) -> None:
        self.worker.request_stop(closing=True)  # the loop ends once the current call (training) returns
