"""Loading a dataset for File > Open dataset, in a worker thread: requests, progress, results and the worker.

    worker = DatasetLoadWorker()               # moved to a QThread by DatasetDialog
    worker.want(7); worker.load(LoadRequest(7, "/data/mnist", "idx"))   # -> sig_progress, sig_loaded | sig_failed

A newer request supersedes an older one: `want` names the request that still matters, and the older one is
cancelled between images. Everything sent back is numpy and plain values (LoadedData), never a Qt object.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal, Slot

from trainer.errors import LoadFailed, VaeExplorerError

KINDS = {
    "idx": "IDX folder (MNIST, Fashion-MNIST)",
    "npz": "NumPy file (.npz, .npy)",
    "hdf5": "HDF5 file (.h5, .hdf5)",
    "images": "Image folder (PNG, JPEG)",
}
"""Source kinds, as load_path takes them, and as the Source box names them."""
PREVIEW_COUNT = 32
PREVIEW_COLUMNS = 8
PREVIEW_TILE = 64
"""Larger images are shown subsampled to at most this many pixels a side; the preview is for recognising data."""
PROGRESS_INTERVAL_S = 0.1




# --- what crosses the thread boundary --------------------------------------------------------------------
@dataclass(frozen=True)
class LoadRequest:
    """One thing to load; `request_id` tells a current answer from a superseded one."""

    request_id: int
    path: str
    kind: str
    key: str = ""
    """HDF5: the dataset inside the file; empty picks the only (or first) 3D/4D one."""
    idx_name: str = "mnist"
    """IDX: mnist or fashion-mnist, which only changes the class names."""
    size: int = 0
    """Image folder: side in pixels, 0 = the most common size."""
    mode: str = "auto"
    strict: bool = False
    seed: int = 0
    """Seeds the 90/10 split of a single-file dataset, as the window's run seed does."""


@dataclass(frozen=True)
class LoadProgress:
    request_id: int
    message: str
    fraction: float


@dataclass(frozen=True)
class LoadedData:
    """A loaded dataset with everything the dialog shows about it (numpy arrays only, no Qt objects)."""

    request_id: int
    dataset: object = field(repr=False)
    """trainer.data.Dataset."""
    preview: np.ndarray = field(repr=False)
    """uint8 grid of the first training images, (H, W) gray or (H, W, 3) RGB."""
    notes: str = ""
    """What the loader had to do (image folders: how many images were resized)."""
    hdf5_datasets: tuple = ()
    """HDF5: every (name, shape, dtype) in the file, for the chooser."""
    key: str = ""
    """HDF5: the dataset that was loaded."""


class _Superseded(BaseException):
    """Raised from the progress callback when a newer request came; BaseException so no loader swallows it."""


# --- the worker: lives in the loading thread -----------------------------------------------------------
class DatasetLoadWorker(QObject):
    """Loads one LoadRequest at a time in its thread; `want` (any thread) says which request still matters."""

    sig_progress = Signal(object)
    """LoadProgress, at most ~10 a second."""
    sig_loaded = Signal(object)
    """LoadedData for a request that was still wanted."""
    sig_failed = Signal(object)
    """LoadFailed: the request's one-line error."""

    def __init__(self):
        super().__init__()  # no parent: moveToThread refuses objects that have one
        self._wanted = 0
        self._lock = threading.Lock()

    def want(self, request_id: int) -> None:
        """Only `request_id` matters from now on (-1: none); thread-safe, checked between images."""
        with self._lock:
            self._wanted = request_id

    def _is_wanted(self, request_id: int) -> bool:
        with self._lock:
            return self._wanted == request_id

    @Slot(object)
    def load(self, request: LoadRequest) -> None:
        if not self._is_wanted(request.request_id):
            return  # superseded while it waited in the queue
        last = [0.0]

        def progress(message: str, fraction: float) -> None:
            if not self._is_wanted(request.request_id):
                raise _Superseded()
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL_S or fraction >= 1.0:
                last[0] = now
                self.sig_progress.emit(LoadProgress(request.request_id, message, float(fraction)))

        try:
            result = _load(request, progress)
        except _Superseded:
            return
        except VaeExplorerError as exc:
            self._fail(request, str(exc))
        except Exception as exc:  # never let an error vanish with the thread
            traceback.print_exc()
            self._fail(request, " ".join(f"{type(exc).__name__}: {exc}".split()))
        else:
            if self._is_wanted(request.request_id):
                self.sig_loaded.emit(result)

    def _fail(self, request: LoadRequest, message: str) -> None:
        if self._is_wanted(request.request_id):
            self.sig_failed.emit(LoadFailed(request.request_id, message))


def _load(request: LoadRequest, progress) -> LoadedData:
    """The GUI-free part: read the source, build the Dataset and its preview (runs in the worker thread)."""
    from trainer.config import DatasetSpec
    from trainer.data import load_dataset
    from trainer.data.array_files import list_hdf5_datasets

    path = request.path.strip()
    if not path:
        raise VaeExplorerError("choose a file or folder first")
    notes, listing, key = "", (), ""
    if request.kind == "idx":
        dataset = load_dataset(DatasetSpec(name=request.idx_name, data_dir=path, seed=request.seed), progress)
    elif request.kind == "npz":
        dataset = load_dataset(DatasetSpec(name="path", path=path, seed=request.seed), progress)
    elif request.kind == "hdf5":
        listing = tuple(list_hdf5_datasets(path))
        key = request.key or _default_key(listing)
        dataset = load_dataset(DatasetSpec(name="path", path=path, key=key, seed=request.seed), progress)
    elif request.kind == "images":
        from trainer.data.image_folder import image_folder_dataset

        dataset, folder = image_folder_dataset(path, size=request.size or None, mode=request.mode,
                                               strict=request.strict, seed=request.seed, progress=progress)
        notes = folder.summary()
    else:
        raise ValueError(f"unknown source kind {request.kind!r}; expected one of {tuple(KINDS)}")
    return LoadedData(request.request_id, dataset, preview_grid(dataset.x_train), notes, listing, key)


def _default_key(listing) -> str:
    """The first 3D/4D dataset (load_hdf5 refuses to guess among several; the chooser shows the others)."""
    images = [name for name, shape, _ in listing if len(shape) in (3, 4)]
    return images[0] if images else (listing[0][0] if listing else "")


def preview_grid(x: np.ndarray, count: int = PREVIEW_COUNT, columns: int = PREVIEW_COLUMNS,
                 tile: int = PREVIEW_TILE, gap: int = 2) -> np.ndarray:
    """The first `count` images of (N, C, H, W) uint8 or float [0, 1] as one uint8 grid, (H, W) or (H, W, 3)."""
    x = np.asarray(x[:count])
    n, c, h, w = x.shape
    step = max(1, -(-max(h, w) // tile))  # subsample big images: a preview, not a resample
    x = x[:, :, ::step, ::step]
    if x.dtype != np.uint8:
        x = (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)
    if c == 4:
        x = x[:, :3]  # alpha is not shown
    if c == 2:
        x = x[:, :1]
    h, w = x.shape[2:]
    rows = max(1, -(-n // columns))
    cols = min(columns, max(n, 1))
    channels = 1 if x.shape[1] == 1 else 3
    grid = np.full((rows * h + (rows + 1) * gap, cols * w + (cols + 1) * gap, channels), 96, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = gap + r * (h + gap), gap + col * (w + gap)
        grid[top:top + h, left:left + w] = x[i].transpose(1, 2, 0)
    return grid[:, :, 0] if channels == 1 else grid
