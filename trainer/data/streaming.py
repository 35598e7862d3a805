"""HDF5 training sets larger than memory: rows read from disk in chunks, a background thread reading ahead.

    rows = H5Rows("faces.h5", "x", train_rows)      # a lazy (N, C, H, W) view of some rows of a dataset
    rows[10:20], rows[np.array([5, 3])]             # numpy arrays, read on demand (any order of indices)
    order = chunk_order(rows, seed, epoch)          # the epoch's order: a shuffle of chunks, then within a buffer
    reader = Prefetcher(rows)                       # batches read ahead in a thread: reader.take(idx, next_idx)

`--in-memory auto|always|never` (DatasetSpec.in_memory) chooses: auto streams an HDF5 dataset whose training
rows exceed the memory budget (`--memory-budget`, by default a quarter of this machine's RAM, DEFAULT_BUDGET),
and reads smaller ones into memory. A checkpoint's spec records what was chosen, so a resume reads the same way.

The epoch order depends only on (seed, epoch): the chunks holding training rows are shuffled, their rows laid
out chunk after chunk, and then shuffled within windows of BUFFER_CHUNKS chunks. A batch therefore needs a few
neighbouring chunks, which h5py's chunk cache (sized to the window) serves after one read each.
The held-out split is a seeded tenth of the file's chunks (whole chunks, so loading reads a tenth of the file), read
into memory: every epoch evaluates it. So a streamed file is split differently from the same file read into
memory, and a checkpoint's fingerprint tells them apart; the spec's in_memory makes a resume read it as trained.

The file is opened on first read by the process that reads, never inherited across a fork. A chunk that cannot
be read (truncated, corrupt) raises DataError naming the file and the rows.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor

import h5py
import numpy as np
import torch

from trainer.config import DatasetSpec
from trainer.data.dataset import TEST_FRACTION, Dataset, split_indices
from trainer.errors import DataError

BUFFER_CHUNKS = 8
"""Chunks whose rows are shuffled together: more mixes better, and needs more chunk cache."""
READ_AHEAD = 2
"""Batches the prefetch thread reads ahead of the one being trained."""
CACHED_CHUNKS = 2 * BUFFER_CHUNKS + 2
"""Whole chunks kept in memory: the buffer window's being trained and the next one's being read ahead, so each
chunk is read once an epoch."""


def default_budget() -> int:
    """A quarter of this machine's physical memory in bytes (4 GiB where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (ValueError, OSError, AttributeError):
        return 4 << 30


DEFAULT_BUDGET = default_budget()


def streamable(shape: tuple[int, ...], dtype: np.dtype) -> str:
    """Why a dataset of this shape and dtype cannot be streamed, or "" when it can."""
    if np.dtype(dtype) not in (np.uint8, np.float32):
        return f"streaming reads uint8 (0..255) or float32 (0..1) images, not {np.dtype(dtype)}"
    if len(shape) == 3 or (len(shape) == 4 and shape[1] in (1, 3, 4)):
        return ""
    return (f"streaming reads (N, H, W) or (N, C, H, W) images, not shape {shape}; "
            f"`vae-explorer convert` writes that layout")


def stream_hdf5(spec: DatasetSpec, path, key: str, y: np.ndarray | None, memory_budget: int | None = None) -> Dataset:
    """A Dataset whose training rows stay in the file (H5Rows) and whose held-out rows are read into memory:
    refused in one line when those alone would take more than max(memory_budget, DEFAULT_BUDGET) bytes."""
    with h5py.File(path, "r") as f:
        n = len(f[key])
    everything = H5Rows(path, key, np.arange(n))
    train, test = split_chunks(n, everything.chunk_rows, spec.seed, where=str(path))
    # the budget says when to stream (0 streams everything); the held-out rows are read in any case, so they
    # may take the larger of it and the default, a quarter of RAM
    limit = max(DEFAULT_BUDGET, 0 if memory_budget is None else int(memory_budget))
    held = len(test) * int(np.prod(everything.shape[1:])) * everything.dtype.itemsize
    if held > limit:  # checked from the declared shape: nothing that large is allocated first
        raise DataError(f"{path}[{key}]: its held-out split ({len(test):,} rows, {held / 2**20:,.0f} MB) is read "
                        f"into memory, more than the {limit / 2**20:,.0f} MB it may take (the larger of "
                        "--memory-budget and a quarter of RAM)")
    x_train = everything.with_rows(train)
    x_test = everything.with_rows(test)[:]
    if x_test.dtype == np.uint8 and x_test.size and x_test.max() <= 1:
        raise DataError(f"{path}[{key}]: the values look like 0/1 binary images, which are read as 0/255 only in "
                        f"memory; store them as 0/255, or use --in-memory always")
    if x_test.dtype == np.float32 and x_test.size and not (np.isfinite(x_test).all() and 0 <= x_test.min()
                                                          and x_test.max() <= 1):
        raise DataError(f"{path}[{key}]: float images must lie in [0, 1]")
    num_classes = int(y.max()) + 1 if y is not None and len(y) else 0
    values = f"{x_test.dtype} {'0..255 scaled to [0, 1]' if x_test.dtype == np.uint8 else 'in [0, 1]'}, " \
             f"streamed from disk"
    return Dataset(spec, x_train, x_test, None if y is None else y[train], None if y is None else y[test],
                   num_classes=num_classes, class_names=tuple(str(i) for i in range(num_classes)), values=values)


def split_chunks(n: int, chunk_rows: int, seed: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """A seeded held-out split of whole chunks (about TEST_FRACTION of them): (train rows, test rows), ascending.

    Whole chunks, so that reading the held-out rows at load reads a tenth of the file, not a tenth of every
    chunk (which is all of it); with fewer than two chunks, the rows themselves are split."""
    chunks = -(-n // chunk_rows)
    if chunks < 2:
        return split_indices(n, seed, where=where)
    held = np.sort(np.random.default_rng([seed, 0xC4]).permutation(chunks)[: max(1, round(chunks * TEST_FRACTION))])
    is_test = np.isin(np.arange(n) // chunk_rows, held)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def sampled_fingerprint(rows: "H5Rows", h) -> None:
    """Feed `h` the view's shape, rows and the bytes of up to 16 evenly spaced chunks of it: a streamed set's
    fingerprint, which a save must not pay a pass over a file larger than memory for."""
    h.update(f"{rows.dtype.str}{rows.shape}{rows.chunk_rows}".encode())
    h.update(memoryview(np.ascontiguousarray(rows.rows)).cast("B"))
    groups = rows.chunks()
    for i in np.unique(np.linspace(0, len(groups) - 1, num=min(16, len(groups))).astype(int)):
        h.update(memoryview(np.ascontiguousarray(rows.read(groups[i])).reshape(-1)).cast("B"))


class H5Rows:
    """Rows `rows` (ascending file row numbers) of HDF5 dataset `key`, as a read-only array-like of images.

    (N, H, W) files read as (N, 1, H, W)."""

    def __init__(self, path: str, key: str, rows: np.ndarray):
        self.path, self.key = str(path), key
        self.rows = np.asarray(rows, dtype=np.int64)
        with h5py.File(self.path, "r") as f:
            ds = f[key]
            self._file_shape = tuple(ds.shape[1:])
            self.shape = (len(self.rows), *((1, *ds.shape[1:]) if ds.ndim == 3 else ds.shape[1:]))
            self.dtype = ds.dtype
            self.chunk_rows = (int(ds.chunks[0]) if ds.chunks
                               else max(1, (1 << 20) // max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:])))))
        self._local = threading.local()  # one open file per thread and process (h5py handles do not cross forks)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()  # whole chunks, shared by the threads
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def with_rows(self, rows: np.ndarray) -> "H5Rows":
        """Other rows of the same dataset."""
        return H5Rows(self.path, self.key, rows)

    def head(self, n: int) -> "H5Rows":
        """The first n rows of this view (a --limit)."""
        return self.with_rows(self.rows[:n])

    # --- what an array offers -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, slice):
            return self.read(np.arange(len(self))[index])
        if np.isscalar(index):
            return self.read(np.asarray([index]))[0]
        return self.read(np.asarray(index))

    def __array__(self, dtype=None, copy=None):
        x = self.read(np.arange(len(self)))  # the whole split: only for callers that asked for all of it
        return x if dtype is None else x.astype(dtype)

    # --- reading ----------------------------------------------------------------------------------------------
    def _file(self) -> h5py.Dataset:
        """This thread's open dataset (h5py handles are per thread here, and never inherited across a fork)."""
        self._after_fork()
        ds = getattr(self._local, "ds", None)
        if ds is None:
            self._local.file = h5py.File(self.path, "r")
            ds = self._local.ds = self._local.file[self.key]
        return ds

    def _after_fork(self) -> None:
        if os.getpid() != self._pid:
            self._local, self._pid = threading.local(), os.getpid()
            self._cache, self._lock = OrderedDict(), threading.Lock()

    def chunk(self, c: int) -> np.ndarray:
        """File chunk c as an array: read whole (one HDF5 call), then kept while the buffer window needs it."""
        self._after_fork()
        with self._lock:
            got = self._cache.get(c)
            if got is not None:
                self._cache.move_to_end(c)
                return got
        try:
            ds = self._file()
            lo, hi = c * self.chunk_rows, min((c + 1) * self.chunk_rows, ds.shape[0])
            got = np.empty((hi - lo, *self._file_shape), dtype=self.dtype)
            ds.read_direct(got, np.s_[lo:hi])
        except Exception as exc:  # OSError from a corrupt or truncated chunk, KeyError from a vanished dataset...
            lo, hi = c * self.chunk_rows, (c + 1) * self.chunk_rows - 1
            raise DataError(f"{self.path}[{self.key}]: cannot read rows {lo}..{hi} (a truncated or corrupt chunk?): "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        with self._lock:
            self._cache[c] = got
            while len(self._cache) > CACHED_CHUNKS:
                self._cache.popitem(last=False)
        return got

    def chunk_ids(self, positions: np.ndarray) -> np.ndarray:
        """The file chunks holding these positions, ascending."""
        return np.unique(self.rows[np.asarray(positions, dtype=np.int64)] // self.chunk_rows)

    def cached(self, c: int) -> bool:
        with self._lock:
            return c in self._cache

    def read(self, positions: np.ndarray) -> np.ndarray:
        """The images at `positions` (indices into this view's rows, any order), as one array in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        out = np.empty((len(positions), *self._file_shape), dtype=self.dtype)
        file_rows = self.rows[positions]
        chunk_of = file_rows // self.chunk_rows
        for c in np.unique(chunk_of):
            mine = np.flatnonzero(chunk_of == c)
            out[mine] = self.chunk(int(c))[file_rows[mine] - c * self.chunk_rows]
        return out.reshape(len(positions), *self.shape[1:])

    def chunks(self) -> list[np.ndarray]:
        """This view's positions grouped by the file chunk that holds them, in file order."""
        chunk_of = self.rows // self.chunk_rows
        cuts = np.flatnonzero(np.diff(chunk_of)) + 1
        return np.split(np.arange(len(self.rows)), cuts)


def chunk_order(rows: H5Rows, seed: int, epoch: int) -> np.ndarray:
    """The epoch's permutation of positions: the chunks shuffled, then rows shuffled within BUFFER_CHUNKS chunks."""
    rng = np.random.default_rng([seed, epoch, 0x5EED])
    groups = rows.chunks()
    laid_out = [groups[i] for i in rng.permutation(len(groups))]
    out = []
    for start in range(0, len(laid_out), BUFFER_CHUNKS):
        window = np.concatenate(laid_out[start:start + BUFFER_CHUNKS])
        out.append(window[rng.permutation(len(window))])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


class Prefetcher:
    """Reads the chunks the next batches need in a background thread, while the current batch trains.

    The batch itself is gathered from chunks already in memory on the training thread (a copy of a few hundred
    kB); only the disk reads, which can take milliseconds on a cold file, go to the thread.
    """

    def __init__(self, rows: H5Rows, pin: bool = False):
        """pin: hand back page-locked tensors (for a CUDA device: the copy to it then runs asynchronously)."""
        self.rows = rows
        self._pin = pin
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vae-prefetch")
        self._pending: dict[int, Future] = {}

    def take(self, positions: np.ndarray, upcoming: list[np.ndarray] = ()) -> torch.Tensor:
        """The images at `positions`, and start reading the chunks of the `upcoming` batches."""
        for c in self.rows.chunk_ids(positions):
            future = self._pending.pop(int(c), None)
            if future is not None:
                future.result()  # wait for a read already under way (its error, if any, is raised here)
        x = torch.from_numpy(self.rows.read(positions))
        for batch in upcoming[:READ_AHEAD]:
            for c in self.rows.chunk_ids(batch):
                c = int(c)
                if c not in self._pending and not self.rows.cached(c):
                    self._pending[c] = self._pool.submit(self.rows.chunk, c)
        for c in [c for c, f in self._pending.items() if f.done() and f.exception() is None]:
            del self._pending[c]
        return x.pin_memory() if self._pin else x

    def close(self) -> None:
        for f in self._pending.values():
            f.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=False)
