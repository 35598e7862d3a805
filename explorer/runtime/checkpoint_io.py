"""The file I/O thread: checkpoints are read and written here, never on the GUI thread or between training steps.

    io = IoThread(parent)                                   # GUI thread: owns the QThread and the IoWorker
    session.worker.sig_snapshot.connect(io.worker.write)           # training thread -> I/O thread (queued)
    io.worker.sig_done.connect(controller._on_io_done)      # IoResult, queued back to the GUI thread
    io.load(request_id, "run.h5")                           # -> sig_loaded(LoadedCheckpoint) | sig_load_failed
    io.shutdown()                                           # finish queued writes, then join

Saving is split in two so training never waits for a disk: the training thread copies the model between
steps (Trainer.checkpoint(): plain numpy arrays) and hands the copy here as a `Snapshot`; this thread writes
it with save_checkpoint (temp file, fsync, rename: a crash leaves the old file or the new one). Opening is
validated here before the current run is touched, so a bad file costs the user nothing but a message.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import numpy as np

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QMetaObject, QObject, Qt, Signal, Slot

from explorer.runtime.threads import ThreadWorker, WorkerHandle
from trainer.errors import LoadFailed, VaeExplorerError


# --- what crosses the thread boundaries -----------------------------------------------------------
@dataclass(frozen=True)
class IoJob:
    """Something to write: a checkpoint of the current model, or its history as CSV."""

    job_id: int
    kind: str
    """checkpoint (an HDF5 checkpoint) or history (CSV tables)."""
    path: str
    reason: str = "save"
    """save, autosave or export: only changes how the result is reported."""


@dataclass(frozen=True)
class Snapshot:
    """The copy the training thread made for a job: a trainer.checkpoints.hdf5.Checkpoint or history arrays."""

    job: IoJob
    payload: object = field(repr=False)
    """Checkpoint (kind checkpoint), {"group/name": ndarray} (kind history), or None: no model to copy."""
    step: int = 0
    error: str = ""
    """One line when the copy itself failed."""


@dataclass(frozen=True)
class IoResult:
    job: IoJob
    ok: bool
    message: str
    """One line: what was written, or why not (naming the file)."""
    step: int = 0
    files: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint read and fully validated; the training worker adopts it (TrainWorker.adopt_checkpoint)."""

    request_id: int
    path: str
    checkpoint: object = field(repr=False)
    """trainer.checkpoints.hdf5.Checkpoint (numpy arrays, no live tensors)."""


DRAWN_COLUMNS = {
    "steps": ("step", "recon", "kl", "elbo", "beta"),
    "epochs": ("step", "test_recon", "test_kl", "test_elbo"),
    "beta_changes": ("step", "value"),
}
"""The history columns the panels draw, per group."""


def drawable_history(history: dict) -> dict[str, np.ndarray]:
    """A checkpoint's history as the panels may draw it (copies; any thread).

    load_checkpoint accepts any numeric 1-D or 2-D history, which is right for a file format but not enough
    for a plot: a group the panels draw is kept only when its columns are all there, 1-D and of one length,
    and its rows with NaN or Inf are dropped. Anything else is passed through untouched.
    """
    out = {str(k): np.array(v, copy=True) for k, v in history.items()}
    for group, names in DRAWN_COLUMNS.items():
        members = [k for k in out if k.split("/", 1)[0] == group]
        if not members:
            continue
        cols = [out.get(f"{group}/{name}") for name in names]
        if (any(c is None or c.ndim != 1 or c.dtype.kind not in "biuf" for c in cols)
                or len({len(c) for c in cols}) != 1 or len({len(out[k]) for k in members}) != 1):
            for k in members:  # its rows no longer line up: none of it can be drawn
                del out[k]
            continue
        finite = np.logical_and.reduce([np.isfinite(c.astype(np.float64)) for c in cols])
        if not finite.all():
            for k in members:
                out[k] = out[k][finite]
    return out


# --- the worker ------------------------------------------------------------------------------------
class IoWorker(ThreadWorker):
    """Lives in the I/O thread; one job at a time, in the order they were queued."""

    sig_done = Signal(object)
    """IoResult of a write."""
    sig_loaded = Signal(object)
    """LoadedCheckpoint: read and valid."""
    sig_load_failed = Signal(object)
    """LoadFailed: one line naming the file; nothing else changed."""

    def __init__(self):
        super().__init__()  # no parent: moveToThread refuses objects that have one

    @Slot(object)
    def write(self, snapshot: Snapshot) -> None:
        job = snapshot.job
        started = time.perf_counter()
        try:
            if snapshot.error:
                raise VaeExplorerError(f"{job.path}: {snapshot.error}")
            if snapshot.payload is None:
                raise VaeExplorerError(f"{job.path}: nothing to save yet: train or open a model first")
            if job.kind == "checkpoint":
                from trainer.checkpoints.hdf5 import save_checkpoint

                save_checkpoint(job.path, snapshot.payload)
                files = (job.path,)
            elif job.kind == "history":
                from trainer.analysis.export import history_to_csv

                files = tuple(str(p) for p in history_to_csv(snapshot.payload, job.path))
            else:
                raise ValueError(f"unknown job kind {job.kind!r}")
        except VaeExplorerError as exc:
            self.sig_done.emit(IoResult(job, False, " ".join(str(exc).split()), snapshot.step))
            return
        except Exception as exc:  # never let an error vanish with the thread
            traceback.print_exc()
            self.sig_done.emit(IoResult(job, False, f"{job.path}: {type(exc).__name__}: {' '.join(str(exc).split())}",
                                        snapshot.step))
            return
        seconds = time.perf_counter() - started
        self.sig_done.emit(IoResult(job, True, f"{job.path}", snapshot.step, files, seconds))

    @Slot(object)
    def load(self, request: tuple[int, str]) -> None:
        request_id, path = request
        try:
            from trainer.checkpoints.hdf5 import load_checkpoint

            from trainer.training.evaluation import model_from_checkpoint

            ckpt = load_checkpoint(path)
            # what the window will make of it, checked here too: a refusal must come before the run is touched
            from explorer.models.run_settings import RunSettings

            RunSettings.from_configs(ckpt.model_config, ckpt.train_config, ckpt.dataset, ckpt.progress)
            model_from_checkpoint(ckpt, "cpu", where=str(path))  # weights that load but give NaN are refused
        except VaeExplorerError as exc:
            self.sig_load_failed.emit(LoadFailed(request_id, " ".join(str(exc).split()), path))
            return
        except Exception as exc:  # load_checkpoint promises CheckpointError; anything else is still one line
            traceback.print_exc()
            message = f"{path}: {type(exc).__name__}: {' '.join(str(exc).split())}"
            self.sig_load_failed.emit(LoadFailed(request_id, message, path))
            return
        self.sig_loaded.emit(LoadedCheckpoint(request_id, path, ckpt))

    @Slot()
    def flush(self) -> None:
        """Does nothing: a blocking call to it returns once every job queued before it is done."""


class IoThread(WorkerHandle):
    """The GUI thread's handle on the I/O thread; every method returns at once except shutdown()."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(IoWorker(), "vae-explorer file I/O", parent)

    def load(self, request_id: int, path: str) -> None:
        self.queue(self.worker.load, (request_id, str(path)))

    def write(self, snapshot: Snapshot) -> None:
        """A snapshot made on this thread (e.g. of an idle model); training threads connect to worker.write."""
        self.queue(self.worker.write, snapshot)

    def before_stop(self) -> None:
        """Let queued writes finish: a save asked for at close must reach the disk."""
        # blocking: returns once the I/O thread has handled every job queued before this call
        QMetaObject.invokeMethod(self.worker, "flush", Qt.BlockingQueuedConnection)
