"""A hash of exactly the arrays a run trains and evaluates on: what tells a checkpoint's data from other data."""

from __future__ import annotations

import hashlib

import numpy as np

from trainer.data.dataset import Dataset
from trainer.data.streaming import H5Rows, sampled_fingerprint


def data_fingerprint(dataset: Dataset) -> str:
    """A hash of the exact arrays trained and evaluated on (split and order included): 32 hex digits.

    Rows streamed from disk are hashed by their shape, row numbers and a sample of their chunks."""
    h = hashlib.blake2b(digest_size=16)
    for arr in (dataset.x_train, dataset.x_test, dataset.y_train, dataset.y_test):
        if arr is None:
            h.update(b"none")
            continue
        if isinstance(arr, H5Rows):
            sampled_fingerprint(arr, h)  # streamed from disk: no pass over a file larger than memory
            continue
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(memoryview(arr.reshape(-1)).cast("B"))
    return h.hexdigest()
