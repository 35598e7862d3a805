"""The GUI thread's handle on the training thread: it owns the QThread and the TrainWorker that runs in it.

    session = TrainSession()                          # GUI thread: owns the QThread and the worker
    session.worker.sig_progress.connect(window._on_progress)   # the engine's reports: the worker's signals
    session.start(settings)                           # queued into the worker thread; returns at once
    session.set_beta(0.5)                             # thread-safe; the trainer applies it at its next step
    session.shutdown()                                # stop, quit, wait: from closeEvent
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal

from explorer.models.run_settings import RunSettings
from explorer.runtime.messages import TrainRequest
from explorer.runtime.threads import move_to_new_thread, stop_thread
from explorer.runtime.worker import TrainWorker


class TrainSession(QObject):
    """Owns the training thread and its worker; every method returns at once (GUI thread only).

    What the engine reports are the worker's own `sig_*` signals (`session.worker.sig_progress`, documented
    on TrainWorker), emitted in the training thread: a connection to a declared @Slot of a GUI-thread object
    is queued to the GUI thread, and one to an object in another thread (the I/O worker) never passes through
    the GUI thread.
    """

    _sig_train = Signal(object)
    """TrainRequest, queued to TrainWorker.train."""
    _sig_reset = Signal()
    """Queued to TrainWorker.reset."""
    _sig_probe = Signal()
    """Queued to TrainWorker.probe_devices."""
    _sig_refresh = Signal()
    """Queued to TrainWorker.refresh_explore ("Refresh now" while idle)."""
    _sig_drain = Signal()
    """Queued to TrainWorker.drain_jobs: copies for saving while no run is in progress."""
    _sig_adopt = Signal(object)
    """checkpoint_io.LoadedCheckpoint, queued to TrainWorker.adopt_checkpoint."""
    _sig_use_dataset = Signal(object)
    """trainer.data.Dataset, queued to TrainWorker.use_dataset."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.tensorboard = ""
        """The folder each run writes TensorBoard event files into (File ▸ Preferences); empty: none."""
        self.worker = TrainWorker()
        self._thread = move_to_new_thread(self.worker, "vae-explorer training", self)
        # signal-to-slot across threads: queued, so these run in the worker thread in order
        self._sig_train.connect(self.worker.train)
        self._sig_reset.connect(self.worker.reset)
        self._sig_probe.connect(self.worker.probe_devices)
        self._sig_refresh.connect(self.worker.refresh_explore)
        self._sig_drain.connect(self.worker.drain_jobs)
        self._sig_adopt.connect(self.worker.adopt_checkpoint)
        self._sig_use_dataset.connect(self.worker.use_dataset)

    def probe_devices(self) -> None:
        self._sig_probe.emit()

    def start(self, settings: RunSettings, max_steps: int | None = None) -> None:
        self.worker.clear_requests()
        self._sig_train.emit(TrainRequest(settings, max_steps, tensorboard=self.tensorboard))

    def reset(self) -> None:
        self._sig_reset.emit()

    def request_snapshot(self, job) -> None:
        """Copy the model or its history for the I/O thread (sig_snapshot): between steps while a run
        is in progress, else as soon as the worker thread is free. Returns at once."""
        if not self.worker.request_snapshot(job):
            self._sig_drain.emit()

    def drain_after_shutdown(self) -> None:
        """Once the training thread has been joined: make the copies still queued, here (sig_snapshot)."""
        if not self._thread.isRunning():
            self.worker.drain_jobs()

    def adopt_checkpoint(self, loaded) -> None:
        """Make a validated, already read checkpoint the current run (after the current run, if any, stops)."""
        self._sig_adopt.emit(loaded)

    def use_dataset(self, dataset) -> None:
        """Train on this loaded Dataset from now on (after the current run, if any, stops)."""
        self._sig_use_dataset.emit(dataset)

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
        self._sig_refresh.emit()

    def republish(self) -> None:
        """Publish the current model's decoder, previews and encodings again (sig_explore), as request_latents
        does: the latent panels come back to it after showing another run."""
        self.worker.explore.publish_all()
        self._sig_refresh.emit()

    def set_latent_every(self, steps: int) -> None:
        """Re-encode the held-out set every `steps` optimizer steps while training (0: only on request)."""
        self.worker.explore.set_latent_every(steps)

    def pause(self) -> None:
        self.worker.pause()

    def resume(self) -> None:
        self.worker.resume()

    def stop(self) -> None:
        self.worker.request_stop()

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop training, end the thread's event loop and join it; True when the thread has finished."""
        if self._thread.isRunning():
            self.worker.request_stop(closing=True)  # the loop ends once the current slot (training) returns
        return stop_thread(self._thread, timeout_ms)
