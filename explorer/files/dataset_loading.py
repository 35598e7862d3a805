"""Loading a dataset for File > Open dataset: the request, what comes back, and the work that loads it.

    jobs = LatestJob("vae-explorer dataset loading", dialog)     # explorer.runtime.background
    jobs.submit(7, load_work(LoadRequest(7, "/data/mnist", "idx")))   # -> sig_progress, sig_done | sig_failed

A newer request supersedes an older one (LatestJob asks the running load to stop, and it stops between
images). Everything sent back is numpy and plain values (LoadedData), never a Qt object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trainer.errors import Stopped, VaeExplorerError

KINDS = {
    "idx": "IDX folder (MNIST, Fashion-MNIST)",
    "amat": "Binarized MNIST folder (Larochelle's .amat files)",
    "npz": "NumPy or .amat file (.npz, .npy, .amat)",
    "hdf5": "HDF5 file (.h5, .hdf5)",
    "images": "Image folder (PNG, JPEG)",
}
"""Source kinds, as load_path takes them, and as the Source box names them."""
PREVIEW_COUNT = 32
PREVIEW_COLUMNS = 8
PREVIEW_TILE = 64
"""Larger images are shown subsampled to at most this many pixels a side; the preview is for recognising data."""


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


def load_work(request: LoadRequest):
    """What LatestJob runs for `request`: work(progress, should_stop) -> LoadedData, stopping between images
    once a newer request (or the dialog closing) asks it to."""

    def work(progress, should_stop) -> LoadedData:
        def checked(message: str, fraction: float) -> None:
            if should_stop():
                raise Stopped()
            progress(message, fraction)

        return _load(request, checked)

    return work


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
    elif request.kind == "amat":
        dataset = load_dataset(DatasetSpec(name="binarized-mnist", data_dir=path), progress)
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
