"""trainer.load_dataset: a dataset the way the CLI reads it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from trainer.config import DatasetSpec
from trainer.data import spec_for
from trainer.data import load_dataset as _load_spec
from trainer.data.dataset import Dataset
from trainer.errors import ConfigError
from trainer.rules import check_options, number, path_of

DATA_OPTIONS = ("data_dir", "key", "limit", "image_size", "channels", "in_memory", "download", "n")
"""load_dataset's options by name: the CLI's data options (n: how many sprites)."""
MEMORY_BUDGET = number(0.0)
"""MB a dataset may take in memory before an HDF5 file is streamed (--memory-budget)."""


def load_dataset(source: str | Path | DatasetSpec, *, split_seed: int = 0, memory_budget_mb: float | None = None,
                 progress: Callable[[str, float], None] | None = None, **options) -> Dataset:
    """A dataset the way the CLI reads it: "sprites", "mnist", "fashion-mnist" or a path (.npz, .h5, a folder of
    images), with the CLI's data options by name (data_dir, key, limit, image_size, channels, in_memory,
    download; n for the number of sprites), or a DatasetSpec.

    Returns a trainer.data.dataset.Dataset: x_train and x_test (N, C, H, W) uint8 0..255 or float32 in [0, 1]
    (a large HDF5 streamed from disk gives rows you index like an array), y_train / y_test int64 labels or None,
    class_names, factors_train / factors_test (sprites' ground-truth factors) with factor_names and
    factor_sizes. Bad input raises trainer.DataError with one line naming the file and the problem."""
    if isinstance(source, DatasetSpec):
        check_options("load_dataset(DatasetSpec)", options, ())
        spec = source
        spec.validate()
    else:
        check_options("load_dataset", options, DATA_OPTIONS)
        path_of("source", source)  # a name or a path: text or os.PathLike, nothing else
        spec = spec_for(os.fspath(source), seed=split_seed, **options)
    budget = None if memory_budget_mb is None else int(MEMORY_BUDGET.check("memory_budget_mb", memory_budget_mb)
                                                         * 2**20)
    if progress is not None and not callable(progress):
        raise ConfigError(f"progress must be a callable (message, fraction), got {type(progress).__name__}")
    return _load_spec(spec, progress, memory_budget=budget)


def as_dataset(data) -> Dataset:
    """`data` as a loaded Dataset: one already loaded, or a name, path or DatasetSpec loaded here."""
    if isinstance(data, Dataset):
        return data
    if not isinstance(data, (str, os.PathLike, DatasetSpec)):
        raise ConfigError(f"data must be a Dataset (trainer.load_dataset), a dataset name, a path or a DatasetSpec, "
                          f"got {type(data).__name__}; a checkpoint names its data so that it can be evaluated and "
                          f"resumed: save an array with np.savez('data.npz', x=images) and pass 'data.npz'")
    return load_dataset(data)
