"""The GUI thread's handle on the training thread: it owns the QThread and the TrainWorker that runs in it.

    session = TrainSession()                          # GUI thread: owns the QThread and the worker
    session.sig_progress.connect(window._on_progress) # the worker's reports, re-emitted by the session
    session.start(settings)                           # queued into the worker thread; returns at once
    session.set_beta(0.5)                             # thread-safe; the trainer applies it at its next step
    session.shutdown()                                # stop, quit, wait: from closeEvent
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Qt, Signal

from explorer.models.run_settings import RunSettings
from explorer.runtime.messages import TrainRequest
from explorer.runtime.threads import move_to_new_thread, stop_thread
from explorer.runtime.worker import TrainWorker


# TrainWorker signals the session re-emits under the same names (documented below)
RELAYED = ("sig_devices", "sig_status", "sig_started", "sig_progress", "sig_epoch", "sig_diverged", "sig_failed",
           "sig_ended", "sig_opened", "sig_open_refused", "sig_explore", "sig_snapshot", "sig_dataset_changed")


class TrainSession(QObject):
    """Owns the training thread and its worker; every method returns at once (GUI thread only).

    Its public `sig_*` signals are the worker's, relayed directly: they are emitted in the training thread, as
    the worker's were, so a connection to a declared @Slot of a GUI-thread object is queued to the GUI thread
    and one to an object in another thread (the I/O worker) never passes through the GUI thread.
    """

    sig_devices = Signal(object)
    """list[str] of devices this machine can train on ("auto", "cpu", "cuda", ...), once torch has loaded."""
    sig_status = Signal(str)
    """One short line about slow preparation (generating sprites, reading MNIST) for the status bar."""
    sig_started = Signal(object)
    """RunStarted: the dataset and model are ready and steps are about to run."""
    sig_progress = Signal(object)
    """CurveBatch: the StepReports since the last batch, at most ~30 a second."""
    sig_epoch = Signal(object)
    """trainer.training.loop.EpochReport: held-out distortion, rate and ELBO after an epoch."""
    sig_diverged = Signal(str)
    """The loss went NaN/Inf: last good weights restored and training paused; the engine's message."""
    sig_failed = Signal(str)
    """A one-line error (bad dataset folder, bad setting, unreadable checkpoint); the window stays usable."""
    sig_ended = Signal(object)
    """RunEnded: the worker is idle again."""
    sig_opened = Signal(object)
    """OpenedCheckpoint: a checkpoint was read and will be resumed by the next Start."""
    sig_open_refused = Signal(str)
    """Path of a read checkpoint the worker could not make the current run (sig_failed says why)."""
    sig_explore = Signal(object)
    """DecoderSnapshot | PreviewImages | LatentSnapshot: copies made between steps, for the latent panels."""
    sig_snapshot = Signal(object)
    """checkpoint_io.Snapshot: a copy of the model or its history, made between steps, for the I/O thread."""
    sig_dataset_changed = Signal(object)
    """DatasetChanged: a dataset from File > Open dataset is in use; the next Start trains on it."""

    _sig_train = Signal(object)
    """TrainRequest, queued to TrainWorker.train."""
    _sig_open = Signal(str)
    """Checkpoint path, queued to TrainWorker.open_checkpoint."""
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
        self.worker = TrainWorker()
        self._thread = move_to_new_thread(self.worker, "vae-explorer training", self)
        # signal-to-slot across threads: queued, so these run in the worker thread in order
        self._sig_train.connect(self.worker.train)
        self._sig_open.connect(self.worker.open_checkpoint)
        self._sig_reset.connect(self.worker.reset)
        self._sig_probe.connect(self.worker.probe_devices)
        self._sig_refresh.connect(self.worker.refresh_explore)
        self._sig_drain.connect(self.worker.drain_jobs)
        self._sig_adopt.connect(self.worker.adopt_checkpoint)
        self._sig_use_dataset.connect(self.worker.use_dataset)
        # worker -> session: direct, so each relayed signal is emitted in the thread the worker emitted it in
        for name in RELAYED:
            getattr(self.worker, name).connect(getattr(self, name), Qt.DirectConnection)

    def probe_devices(self) -> None:
        self._sig_probe.emit()

    def start(self, settings: RunSettings, max_steps: int | None = None) -> None:
        self.worker.clear_requests()
        self._sig_train.emit(TrainRequest(settings, max_steps))

    def open_checkpoint(self, path: str) -> None:
        self.worker.clear_requests()  # an earlier Stop must not cancel loading the checkpoint's data
        self._sig_open.emit(str(path))

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
