"""Reading runs for the comparison views, and exploring one of them, off the GUI thread.

    runs = RunLoading(parent=window)
    runs.worker.sig_record.connect(catalog.put)          # one RunRecord per checkpoint read
    runs.worker.sig_folder_done.connect(...)             # (folder, runs read, ["file: why", ...] refused)
    runs.worker.sig_explore.connect(explore.on_explore)  # DecoderSnapshot, PreviewImages, LatentSnapshot of a run
    runs.open_folder("sweep/")                     # every *.h5 in it (and its summary.csv's statuses)
    runs.explore("sweep/beta-1_seed-0.h5")         # the latent panels show that run; a newer request wins
    runs.shutdown()

Each checkpoint is read and validated in full (trainer.checkpoints.hdf5.load_checkpoint), so a damaged file is one
line in the refused list, never a half-drawn run. The datasets runs were trained on are loaded once and kept
for exploring the next run of the same sweep.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal, Slot

from explorer.models.run_catalog import data_label, RunRecord
from explorer.runtime.threads import ThreadWorker, WorkerHandle
from trainer.errors import VaeExplorerError

def record_from_checkpoint(path: str, ckpt, status: str = "", message: str = "") -> RunRecord:
    """What the comparison views need of a checkpoint: settings, progress and history, as one RunRecord."""
    from trainer.analysis.rd import final_rd

    history = {k: v for k, v in ckpt.history.items()
               if k.startswith(("steps/", "epochs/", "beta_changes/", "rate_split/", "rate_split_layers/",
                                "batch_tc/"))}
    rate, distortion, elbo = final_rd(history)
    information = history.get("rate_split/mutual_information")
    epoch, epochs = int(ckpt.progress["epoch"]), int(ckpt.train_config.epochs)
    if not status:
        status = "done" if epoch >= epochs else "unfinished"
    return RunRecord(key=str(Path(path).resolve()), name=Path(path).stem, beta=float(ckpt.train_config.beta),
                     seed=int(ckpt.train_config.seed), status=status, epoch=epoch, epochs=epochs,
                     progress=min(1.0, epoch / epochs) if epochs else 1.0, rate=rate, distortion=distortion,
                     elbo=elbo, history=history, message=message, data=data_label(ckpt.dataset),
                     information=float(information[-1]) if information is not None and len(information) else math.nan)


class RunLoadingWorker(ThreadWorker):
    """Lives in its own thread; its slots run there, one after another."""

    sig_record = Signal(object)
    """A RunRecord read from a checkpoint."""
    sig_folder_done = Signal(str, int, object)
    """(folder, or "" for single files; how many runs were read; ["file: why", ...] for those refused)."""
    sig_explore = Signal(object)
    """A RunTimeline, DecoderSnapshot, PreviewImages or LatentSnapshot of the run asked for last."""
    sig_explore_failed = Signal(str, str)
    """(checkpoint path, one-line reason): the run's decoder may be shown, its scatter is not."""

    def __init__(self):
        super().__init__()
        self._datasets: dict[str, object] = {}  # DatasetSpec JSON -> Dataset
        self._wanted = ""  # the run the user asked to explore last (any thread writes it)
        self._lock = threading.Lock()

    def want(self, path: str) -> None:
        with self._lock:
            self._wanted = path

    @Slot(str)
    def open_folder(self, folder: str) -> None:
        from trainer.training.sweep import SUMMARY_NAME, read_summary

        paths = sorted(Path(folder).glob("*.h5"))
        rows = read_summary(Path(folder) / SUMMARY_NAME)
        read, refused = self._read(paths, rows)
        if not paths:
            refused.append(f"{folder}: no checkpoints (*.h5) in this folder")
        self.sig_folder_done.emit(str(folder), read, refused)

    @Slot(object)
    def open_files(self, paths: list) -> None:
        read, refused = self._read([Path(p) for p in paths], {})
        self.sig_folder_done.emit("", read, refused)

    def _read(self, paths: list[Path], rows: dict) -> tuple[int, list[str]]:
        from trainer.checkpoints.hdf5 import load_checkpoint

        read, refused = 0, []
        for path in paths:
            try:
                ckpt = load_checkpoint(path)
            except (VaeExplorerError, OSError) as exc:
                refused.append(str(exc).splitlines()[0] if str(path) in str(exc) else f"{path.name}: {exc}")
                continue
            row = rows.get(path.stem)
            status, message = (row.status, row.message) if row is not None else ("", "")
            self.sig_record.emit(record_from_checkpoint(str(path), ckpt, status, message))
            read += 1
        return read, refused

    @Slot(str)
    def explore(self, path: str) -> None:
        from trainer.analysis.moments import RunTimeline
        from trainer.analysis.publishing import ExplorePublisher, checkpoint_snapshots
        from trainer.checkpoints.hdf5 import load_checkpoint

        with self._lock:
            if path != self._wanted:
                return  # the user has clicked another run since
        try:
            ckpt = load_checkpoint(path)
            step = int(ckpt.progress["step"])
            self.sig_explore.emit(RunTimeline.of_checkpoint(ckpt))  # what the timeline scrubs
            pub = ExplorePublisher()  # the live run's previews, samples and encodings, so the views compare alike
            for item in checkpoint_snapshots(ckpt, step, self._dataset, pub.n_preview, pub.n_samples, pub.seed,
                                             pub.max_points):
                with self._lock:
                    if path != self._wanted:
                        return
                self.sig_explore.emit(item)
        except Exception as exc:  # a bad file or missing data: one line, the window goes on
            self.sig_explore_failed.emit(path, f"{Path(path).name}: {exc}".splitlines()[0])

    def _dataset(self, spec):
        from trainer.data import load_dataset

        key = spec.to_dict().__repr__()
        if key not in self._datasets:
            self._datasets.clear()  # one sweep's data at a time: they can be large
            self._datasets[key] = load_dataset(spec)
        return self._datasets[key]


class RunLoading(WorkerHandle):
    """The GUI thread's handle on the run-loading thread; every method returns at once except shutdown().
    What it reads arrives as its worker's signals (`loading.worker.sig_record`, ...), emitted in that thread."""

    SHUTDOWN_MS = 30_000

    def __init__(self, parent: QObject | None = None):
        super().__init__(RunLoadingWorker(), "vae-explorer runs", parent)

    def open_folder(self, folder: str) -> None:
        self.queue(self.worker.open_folder, str(folder))

    def open_files(self, paths: list[str]) -> None:
        self.queue(self.worker.open_files, [str(p) for p in paths])

    def explore(self, path: str) -> None:
        self.worker.want(str(path))
        self.queue(self.worker.explore, str(path))

    def stop_exploring(self) -> None:
        self.worker.want("")

    def before_stop(self) -> None:
        self.worker.want("")  # a run being explored stops at its next snapshot
