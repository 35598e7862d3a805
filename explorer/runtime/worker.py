"""The training worker: a QObject in its own QThread that loads the data, builds the `Trainer` and runs it.

    worker = TrainWorker()                            # no parent: explorer.runtime.session moves it to its thread
    worker.train(TrainRequest(settings))              # a slot: queued from the GUI thread by TrainSession.start
    worker.set_beta(0.5)                              # thread-safe; the trainer applies it at its next step

The window drives it through its handle, explorer.runtime.session.TrainSession. This is where the window runs
the engine. It imports the heavy part of it (torch) inside the worker thread, so the window shows before torch
has loaded, and everything it emits is a frozen dataclass of plain numbers and numpy copies
(explorer.runtime.messages): the GUI thread never sees a live tensor.
"""

from __future__ import annotations

import threading
import time
import traceback
from pathlib import Path

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Signal, Slot

from explorer.models.run_settings import RunSettings
from explorer.runtime.data_cache import DataCache
from explorer.runtime.devices import freeze_long_lived_objects, probe_devices, torch_threads
from explorer.runtime.memory import TRIM_INTERVAL_S, release_free_memory
from explorer.runtime.tensorboard_log import run_log
from explorer.runtime.threads import ThreadWorker
from explorer.runtime.save_copies import CopyRequests
from explorer.runtime.messages import CurveBatch, DatasetChanged, OpenedCheckpoint, RunEnded, RunStarted, TrainRequest
from trainer.errors import VaeExplorerError
from trainer.analysis.publishing import ExplorePublisher  # numpy only: torch loads inside its functions

EMIT_INTERVAL_S = 1 / 30
"""At most ~30 progress signals a second reach the GUI; StepReports in between travel in the same batch."""
STATUS_INTERVAL_S = 0.1
"""Loading progress ("rendering sprites 40%") is a status-bar nicety: 10 updates a second are plenty."""


class _Cancelled(BaseException):
    """Raised from the loading progress callback when a stop arrives; BaseException so no loader swallows it."""


# --- the worker ----------------------------------------------------------------------------------
class TrainWorker(ThreadWorker):
    """Lives in the training thread. Its slots run there; its plain methods are the thread-safe live controls."""

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
    sig_paused = Signal(object)
    """trainer.training.reports.PauseChanged: the steps stopped (Pause, a divergence) or went on again."""
    sig_ended = Signal(object)
    """RunEnded: the worker is idle again."""
    sig_opened = Signal(object)
    """OpenedCheckpoint: a checkpoint was read and will be resumed by the next Start."""
    sig_open_refused = Signal(str)
    """Path of a checkpoint that could not become the current run after all (sig_failed says why); the
    current run is unchanged."""
    sig_explore = Signal(object)
    """DecoderSnapshot | PreviewImages | LatentSnapshot | RunTimeline: copies made between steps, for the latent
    panels."""
    sig_snapshot = Signal(object)
    """checkpoint_io.Snapshot: a copy of the model or its history, made between steps, for the I/O thread."""
    sig_dataset_changed = Signal(object)
    """DatasetChanged: a dataset from File > Open dataset is in use; the next Start trains on it."""
    sig_data_notes = Signal(str)
    """Dataset.notes of data it read (what a loader left out: an image folder's decompression bombs), for the banner."""

    def __init__(self):
        super().__init__()  # no parent: moveToThread refuses objects that have one
        self._lock = threading.Lock()
        self._trainer = None  # assigned in the worker thread, read under the lock by the live controls
        self._live: dict[str, float] = {}  # live values set before the trainer existed
        self._pause_request = False  # Pause pressed before a trainer exists; the trainer owns its pause state
        self._cancel = threading.Event()
        self._closing = threading.Event()  # the window is closing: skip the final (slow) encoding
        self._data = DataCache()  # the last dataset read (Reset + Start reads nothing again) and the pinned one
        self._checkpoint = None  # an opened checkpoint waiting for Start
        self.explore = ExplorePublisher()  # its knobs (refresh interval, "refresh now") are thread-safe
        self._copies = CopyRequests(self._copy_for, self.sig_snapshot.emit)  # saves: copied between steps
        self._run_name: str | None = None  # the run's TensorBoard name: its checkpoint's, or when it began

    # --- live controls: any thread, return at once ------------------------------------------------
    def set_beta(self, beta: float) -> None:
        self._set_live("beta", beta)

    def set_lr(self, lr: float) -> None:
        self._set_live("lr", lr)

    def set_free_bits(self, free_bits: float) -> None:
        self._set_live("free_bits", free_bits)

    def _set_live(self, name: str, value: float) -> None:
        with self._lock:
            self._live[name] = float(value)
            trainer = self._trainer
        if trainer is not None:
            getattr(trainer, f"set_{name}")(float(value))

    def pause(self) -> None:
        with self._lock:
            trainer = self._trainer
            self._pause_request = trainer is None  # delivered by _install to the trainer it builds
        if trainer is not None:
            trainer.pause()

    def resume(self) -> None:
        with self._lock:
            self._pause_request = False
            trainer = self._trainer
        if trainer is not None:
            trainer.resume()

    def request_stop(self, closing: bool = False) -> None:
        """Stop training (or loading) soon; also wakes a paused trainer so it can see the stop."""
        if closing:
            self._closing.set()
        self._cancel.set()
        with self._lock:
            self._pause_request = False
            trainer = self._trainer
        if trainer is not None:
            trainer.stop()

    def clear_requests(self) -> None:
        """Forget stops and live values of an earlier run; the session calls it just before queueing a Start."""
        self._cancel.clear()
        with self._lock:
            self._live.clear()
            self._pause_request = False

    @property
    def trainer(self):
        """The current Trainer or None. Only the worker thread may call its training methods."""
        return self._trainer

    # --- slots: run in the worker thread ------------------------------------------------------------
    @Slot()
    def probe_devices(self) -> None:
        """Load torch (slow: seconds) off the GUI thread and list the devices it sees."""
        try:
            self.sig_devices.emit(probe_devices())
        except Exception as exc:  # a broken torch install must be a message, not a dead thread
            self.sig_failed.emit(f"could not load torch: {type(exc).__name__}: {exc}")

    @Slot(object)
    def train(self, request: TrainRequest) -> None:
        self._copies.begin_run()
        try:
            trainer = self._trainer
            if trainer is None:
                trainer = self._build(request.settings)
            self._install(trainer, request.settings)
            added = 0
            if trainer.finished:
                # Continue on a finished run would end at once: it trains the Epochs value's worth more instead
                # (8 of 8 done, Epochs 8: to 16); an Epochs above the epochs done is a total, as at Start
                added = max(1, int(request.settings.epochs))
                trainer.set_epochs(trainer.epoch + added)
            self.drain_jobs()  # saves asked for while the data loaded
            self.sig_started.emit(
                RunStarted(
                    device=str(trainer.device),
                    dataset=trainer.dataset.describe(),
                    steps_per_epoch=trainer.steps_per_epoch,
                    epochs=trainer.config.epochs,
                    step=trainer.step,
                    epoch=trainer.epoch,
                    threads=torch_threads(),
                    added_epochs=added,
                    iwae_k=trainer.samples_per_example if trainer.config.objective == "iwae" else None,
                )
            )
            self._run(trainer, request.max_steps, request.tensorboard)
        except _Cancelled:
            pass
        except VaeExplorerError as exc:
            self.sig_failed.emit(str(exc))
        except Exception as exc:  # never let an error vanish with the thread; the trainer (if any) is kept
            traceback.print_exc()
            self.sig_failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self._copies.end_run()
            self.drain_jobs()  # saves asked for as the run ended: the model holds still now
            trainer = self._trainer
            self.sig_ended.emit(
                RunEnded(
                    step=trainer.step if trainer else 0,
                    epoch=trainer.epoch if trainer else 0,
                    has_model=trainer is not None or self._checkpoint is not None,
                    finished=bool(trainer is not None and trainer.finished),
                    epoch_progress=trainer.batch_in_epoch / trainer.steps_per_epoch if trainer else 0.0,
                )
            )

    @property
    def opened_checkpoint(self):
        """The opened checkpoint waiting for Start (trainer.checkpoints.hdf5.Checkpoint), or None."""
        return self._checkpoint

    @Slot(object)
    def adopt_checkpoint(self, loaded) -> None:
        """A checkpoint_io.LoadedCheckpoint, read and validated in the I/O thread: it replaces the current run.

        Queued behind a stopping run, so it lands once that run has ended; a Stop sent before it was queued
        must not cancel loading the checkpoint's data for the latent panels.
        """
        if not self._closing.is_set():
            self._cancel.clear()
        self._adopt(loaded.path, loaded.checkpoint)

    def _adopt(self, path: str, ckpt) -> None:
        opened = False
        try:
            settings = RunSettings.from_configs(ckpt.model_config, ckpt.train_config, ckpt.dataset, ckpt.progress)
            from explorer.runtime.checkpoint_io import drawable_history

            history = drawable_history(ckpt.history)  # a valid file may still hold columns no plot can draw
            step, epoch = int(ckpt.progress["step"]), int(ckpt.progress["epoch"])
            # nothing above changed the current run: a failure there leaves it as it was
            with self._lock:
                self._trainer = None  # the opened run replaces the current one; only read while idle
            self._checkpoint = ckpt
            self._run_name = Path(path).stem
            self.sig_opened.emit(OpenedCheckpoint(path=str(path), settings=settings, history=history, step=step,
                                                  epoch=epoch))
            opened = True
            self._publish_opened(ckpt, step)
        except VaeExplorerError as exc:
            self.sig_failed.emit(str(exc))
        except Exception as exc:
            traceback.print_exc()
            self.sig_failed.emit(f"{path}: {type(exc).__name__}: {exc}")
        if not opened:
            self.sig_open_refused.emit(str(path))

    @Slot()
    def reset(self) -> None:
        """Forget the model (the dataset stays cached); called only while idle."""
        with self._lock:
            self._trainer = None
        self._checkpoint = None
        self._run_name = None
        self.explore.reset()

    @Slot(object)
    def use_dataset(self, dataset) -> None:
        """Train on a trainer.data.Dataset from File > Open dataset (already loaded there: no second read).
        A model or opened checkpoint of the same source and image shape is kept; any other is dropped."""
        if not self._closing.is_set():
            self._cancel.clear()
        self._data.pin(dataset)
        trainer, ckpt = self._trainer, self._checkpoint
        if trainer is not None:
            current, shape = trainer.dataset.spec, tuple(trainer.model_config.input_shape)
        elif ckpt is not None:
            current, shape = ckpt.dataset, tuple(ckpt.model_config.input_shape)
        else:
            current, shape = None, None
        from trainer.data.dataset import same_source  # here: the trainer.data package loads torch

        keep = current is not None and same_source(current, dataset.spec) and shape == tuple(dataset.input_shape)
        if not keep:
            self.reset()
        self.sig_dataset_changed.emit(DatasetChanged(dataset.describe(), dataset.spec, keep, len(dataset.x_train)))

    # --- copies for saving and exporting: any thread asks, the training thread copies -----------------
    def request_snapshot(self, job) -> bool:
        """Queue a copy of the model (job.kind "checkpoint") or of its history ("history") for the I/O thread:
        True when the run's trainer makes it between steps, False when the caller must queue drain_jobs into the
        idle worker thread (save_copies.CopyRequests.add)."""
        return self._copies.add(job, lambda: self._trainer)

    @Slot()
    def drain_jobs(self) -> None:
        """Make the queued copies and hand each on (sig_snapshot): between steps, or in the idle worker thread."""
        self._copies.drain()

    def _copy_for(self, kind: str):
        trainer, ckpt = self._trainer, self._checkpoint
        if trainer is not None:
            step = trainer.step
            return (trainer.checkpoint() if kind == "checkpoint" else trainer.history.arrays()), step
        if ckpt is not None:  # opened, not trained since: what was read is what there is
            step = int(ckpt.progress["step"])
            return (ckpt if kind == "checkpoint" else {k: np.array(v) for k, v in ckpt.history.items()}), step
        return None, 0

    @Slot()
    def refresh_explore(self) -> None:
        """"Refresh now" while idle: what the publisher has due (the requested encoding), from the kept trainer.

        Queued behind a training run, it lands after the run's final publish and finds little or nothing due.
        An opened checkpoint was encoded when it was opened, and its weights have not changed since.
        """
        trainer = self._trainer
        if trainer is None:
            if self._checkpoint is not None and self.explore.take_publish_all():
                self._publish_opened(self._checkpoint, int(self._checkpoint.progress["step"]))
            return
        try:
            self._publish(trainer)
        except Exception as exc:
            traceback.print_exc()
            self.sig_failed.emit(f"latent refresh: {type(exc).__name__}: {exc}")

    # --- the work ---------------------------------------------------------------------------------
    def _build(self, settings: RunSettings):
        from trainer.training.opening import open_trainer

        ckpt = self._checkpoint
        spec = settings.dataset_spec()
        if ckpt is not None and spec.name != ckpt.dataset.name:
            spec = ckpt.dataset  # the checkpoint's model only fits its own data
        dataset = self._load(spec)
        self.sig_status.emit("Building the model…")
        # one front door with the CLI and the API (trainer.training.opening): a checkpoint resumes where the
        # Controls say (its settings are its own: the panel shows them); on divergence the engine restores the
        # last good weights and pauses, so nothing trained is lost
        if ckpt is not None:
            trainer = open_trainer(dataset, checkpoint=ckpt, device=settings.device, on_divergence="pause")
        else:
            trainer = open_trainer(dataset, on_divergence="pause", train=settings.train_config(),
                                   **settings.model_kwargs())
        trainer.epoch_analyses.beside = True  # each epoch's evaluation on a copy of the weights: no pause to train
        self._checkpoint = None
        self.explore.reset()  # a new model: publish everything at its first report
        freeze_long_lived_objects()
        return trainer

    def _load(self, spec):
        cached = self._data.cached(spec)
        if cached is not None:
            return cached
        last = [0.0]

        def progress(message: str, fraction: float) -> None:
            if self._cancel.is_set():
                raise _Cancelled()
            now = time.monotonic()
            if now - last[0] >= STATUS_INTERVAL_S:
                last[0] = now
                self.sig_status.emit(f"{message[:1].upper()}{message[1:]}… {fraction:.0%}")

        self.sig_status.emit(f"Loading {spec.describe()}…")
        dataset = self._data.load(spec, progress)
        if self._cancel.is_set():
            raise _Cancelled()
        if dataset.notes:  # said once, when read: a kept or pinned dataset was said when it was read
            self.sig_data_notes.emit("\n".join(dataset.notes))
        return dataset

    def _install(self, trainer, settings: RunSettings) -> None:
        """Make `trainer` current with the run's live values; values changed since Start was pressed win."""
        trainer.set_beta(settings.beta)
        trainer.set_lr(settings.lr)
        trainer.set_free_bits(settings.free_bits)
        trainer.set_epochs(settings.epochs)
        with self._lock:
            self._trainer = trainer
            live, paused = dict(self._live), self._pause_request
            self._pause_request = False
        for name, value in live.items():
            getattr(trainer, f"set_{name}")(value)
        if paused and not trainer.paused:
            trainer.pause()
        if self._cancel.is_set():
            raise _Cancelled()

    def _run(self, trainer, max_steps: int | None, tensorboard: str = "") -> None:
        if self._run_name is None:  # what the run's TensorBoard events are filed under: its file, or its start
            self._run_name = time.strftime("run-%Y%m%d-%H%M%S")
        with run_log(tensorboard, self._run_name, trainer) as log:  # TensorBoard events, when asked for
            self._train_steps(trainer, max_steps, log)

    def _train_steps(self, trainer, max_steps: int | None, log) -> None:
        from trainer.training.reports import BetaChanged, DivergedReport, EpochReport, PauseChanged, StepReport

        pending: list = []
        changes: list[tuple[int, float]] = []  # BetaChanged events not yet sent; they ride with the next batch
        last_emit = 0.0

        def flush() -> None:
            nonlocal pending, changes
            if not pending:
                return
            self.sig_progress.emit(
                CurveBatch(
                    step=np.array([r.step for r in pending], dtype=np.int64),
                    recon=np.array([r.recon for r in pending]),
                    kl=np.array([r.kl for r in pending]),
                    elbo=np.array([r.elbo for r in pending]),
                    beta=np.array([r.beta for r in pending]),
                    loss=np.array([r.loss for r in pending]),
                    beta_changes=tuple(changes),
                    latest=pending[-1],
                    batch_tc=np.array([r.batch_tc for r in pending]),
                )
            )
            pending, changes = [], []

        last_trim = time.monotonic()
        for report in trainer.run(max_steps=max_steps):
            log.add(report)
            if self._cancel.is_set():
                trainer.stop()  # a stop that arrived before run() began (run() clears the engine's flag)
            if isinstance(report, BetaChanged):
                changes.append((report.step, report.value))
            elif isinstance(report, StepReport):
                pending.append(report)
                now = time.monotonic()
                if now - last_emit >= EMIT_INTERVAL_S:
                    flush()
                    last_emit = now
                if now - last_trim >= TRIM_INTERVAL_S:
                    release_free_memory()  # here, between steps: a few ms of the training thread, none of the GUI's
                    last_trim = now
            elif isinstance(report, EpochReport):
                flush()
                self.sig_epoch.emit(report)
            elif isinstance(report, DivergedReport):
                flush()  # the trainer paused itself: a PauseChanged follows
                self.sig_diverged.emit(report.message)
            elif isinstance(report, PauseChanged):
                flush()  # the curves show every step taken before the pause
                self.sig_paused.emit(report)
            self._publish(trainer)  # between steps: the only time the weights hold still
        flush()
        if not self._closing.is_set():  # the final weights, encoded, unless the window is going away
            self._publish(trainer, force=True)

    def _publish(self, trainer, force: bool = False) -> None:
        """Decoder snapshots (~4/s), previews (~1/s) and held-out encodings (every N steps or on request)."""
        for item in self.explore.poll(trainer, force=force):
            self.sig_explore.emit(item)

    def _publish_opened(self, ckpt, step: int) -> None:
        """An opened checkpoint: its decoder at once (sliders work before Start), then the scatter and previews.

        The dataset is loaded (and cached for Start) and encoded here in the worker thread, never in the GUI's.
        Without it the sliders still work; the status line says why the scatter stays empty.
        """
        from trainer.analysis.moments import RunTimeline
        from trainer.analysis.publishing import checkpoint_snapshots

        pub = self.explore
        self.sig_explore.emit(RunTimeline.of_checkpoint(ckpt))
        try:
            for item in checkpoint_snapshots(ckpt, step, self._load, pub.n_preview, pub.n_samples, pub.seed,
                                                pub.max_points):
                self.sig_explore.emit(item)  # the last one: the held-out LatentSnapshot
            self.sig_status.emit(f"Encoded {len(item):,} held-out examples.")  # the window adds what Continue does
        except _Cancelled:
            pass
        except Exception as exc:  # bad or missing data: a status line, the opened model stays usable
            self.sig_status.emit(f"No latent scatter for this checkpoint: {exc}")
