"""Array files named by path: .npz/.npy and HDF5, with a seeded train/test split.

    x, y = load_npz("faces.npz")                 # array x (and optional y or labels), or an .npy of x alone
    x, y = load_hdf5("shapes.h5", key="images")  # any 3D/4D dataset; labels from a sibling y or labels
    names = list_hdf5_datasets("shapes.h5")      # [(name, shape, dtype)], for choosing the key

Image folders are read by trainer.data.image_folder.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np

from trainer.config import MAX_CLASSES, DatasetSpec
from trainer.data.dataset import Dataset, Progress, as_pixels, split_dataset
from trainer.data.streaming import DEFAULT_BUDGET, stream_hdf5, streamable
from trainer.errors import DataError

_LABEL_KEYS = ("y", "labels")
_NPZ_SUFFIXES = (".npz", ".npy")
_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")


def load_path(spec: DatasetSpec, progress: Progress, memory_budget: int | None = None) -> Dataset:
    path = Path(spec.path).expanduser()
    if path.is_dir():
        from trainer.data.image_folder import image_folder_dataset  # Pillow only when a folder is read

        return image_folder_dataset(path, size=spec.folder_size or None, mode=spec.channels, seed=spec.seed,
                                    progress=progress, memory_budget=memory_budget)[0]
    if not path.exists():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if progress is not None:
        progress(f"reading {path.name}", 0.0)
    if path.name.lower().endswith((".amat", ".amat.gz")):
        from trainer.data.amat import read_amat

        x, _ = read_amat(path)
        dataset = split_dataset(spec, x[:, None], None)
        dataset.prebinarized = True
        if progress is not None:
            progress(f"read {path.name}", 1.0)
        return dataset
    if suffix in _NPZ_SUFFIXES:
        x, y, values = _read_npz(path)
    elif suffix in _HDF5_SUFFIXES:
        key, label_key = _hdf5_keys(path, spec.key)
        streamed = _choose_streaming(spec, path, key, memory_budget)
        spec = dataclasses.replace(spec, in_memory="never" if streamed else "always")  # what auto chose
        if streamed:
            dataset = stream_hdf5(spec, path, key, _read_labels(path, key, label_key), memory_budget)
            dataset.class_names = _class_names(path, dataset.num_classes) or dataset.class_names
            if progress is not None:
                progress(f"streaming {path.name}", 1.0)
            return dataset
        x, y, values = _read_hdf5(path, spec.key)
    else:
        raise DataError(f"{path}: unknown file type {suffix or '(none)'}; expected .npz, .npy, .h5, .hdf5 or .amat")
    if progress is not None:
        progress(f"read {path.name}", 1.0)
    dataset = split_dataset(spec, x, y, values)
    if suffix in _HDF5_SUFFIXES and y is not None:
        names = _class_names(path, dataset.num_classes)
        dataset.class_names = names or dataset.class_names
    return dataset


def load_npz(path) -> tuple[np.ndarray, np.ndarray | None]:
    """An .npz with array x (and optional y or labels), or an .npy holding x alone: (x NCHW, y or None)."""
    return _read_npz(path)[:2]


def _read_npz(path) -> tuple[np.ndarray, np.ndarray | None, str]:
    """load_npz plus how the pixel values were read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    # np.load takes anything that is not zip or .npy for a pickle; say what the file really is instead.
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:1] == b"\x80":
        raise DataError(f"{path}: is a Python pickle, which is never loaded; save numeric arrays with np.savez")
    if not (magic.startswith(b"PK") or magic == b"\x93NUMPY"):
        raise DataError(f"{path}: not a readable .npz/.npy file (starts with {magic!r})")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):   # .npy: x alone
            x, values = _images(loaded, f"{path}")
            return x, None, values
        with loaded:
            keys = set(loaded.files)
            if "x" not in keys:
                raise DataError(f"{path}: no array named x (found {sorted(keys) or 'none'})")
            x, values = _images(loaded["x"], f"{path}[x]")
            label_key = next((k for k in _LABEL_KEYS if k in keys), None)
            y = check_labels(loaded[label_key], len(x), f"{path}[{label_key}]") if label_key else None
            return x, y, values
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object arrays" in str(exc).lower():
            raise DataError(f"{path}: holds Python objects (an object array or pickle), which are never "
                            f"loaded; save numeric arrays") from None
        raise DataError(f"{path}: not a readable .npz/.npy file ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile, EOFError, zlib.error, OSError...: all one message
        raise DataError(f"{path}: not a readable .npz/.npy file ({type(exc).__name__}: {exc})") from None


def list_hdf5_datasets(path) -> list[tuple[str, tuple[int, ...], str]]:
    """Every dataset in an HDF5 file as (name, shape, dtype), for choosing `spec.key`."""
    path = Path(path)
    _check_hdf5(path)
    found = []
    try:
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    found.append((name, tuple(int(s) for s in obj.shape), str(obj.dtype)))
            f.visititems(visit)
    except Exception as exc:
        raise DataError(f"{path}: cannot read the HDF5 file ({type(exc).__name__}: {exc})") from None
    return found


def load_hdf5(path, key: str = "") -> tuple[np.ndarray, np.ndarray | None]:
    """x from dataset `key` (or the only 3D/4D dataset when key is empty), y from a sibling y or labels."""
    return _read_hdf5(path, key)[:2]


def _read_hdf5(path, key: str = "") -> tuple[np.ndarray, np.ndarray | None, str]:
    """load_hdf5 plus how the pixel values were read."""
    path = Path(path)
    key, label_key = _hdf5_keys(path, key)
    try:
        with h5py.File(path, "r") as f:
            x, values = _images(f[key][()], f"{path}[{key}]")
            y = check_labels(f[label_key][()], len(x), f"{path}[{label_key}]") if label_key else None
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}[{key}]: cannot read ({type(exc).__name__}: {exc})") from None
    return x, y, values


def _read_labels(path: Path, key: str, label_key: str | None) -> np.ndarray | None:
    """The labels beside dataset `key` (read whole: one integer per image), or None."""
    if label_key is None:
        return None
    try:
        with h5py.File(path, "r") as f:
            return check_labels(f[label_key][()], len(f[key]), f"{path}[{label_key}]")
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}[{label_key}]: cannot read ({type(exc).__name__}: {exc})") from None


def _hdf5_keys(path: Path, key: str) -> tuple[str, str | None]:
    """(the images' dataset, its labels' sibling y or labels or None); DataError when the key is not there."""
    datasets = list_hdf5_datasets(path)
    if not key:
        candidates = [name for name, shape, _ in datasets if len(shape) in (3, 4)]
        if len(candidates) != 1:
            raise DataError(f"{path}: {'several' if candidates else 'no'} 3D/4D datasets "
                            f"({', '.join(candidates) or 'none'}); choose one with --key")
        key = candidates[0]
    key = key.strip("/")
    names = {name for name, _, _ in datasets}
    if key not in names:
        raise DataError(f"{path}: no dataset {key!r}; it holds {', '.join(sorted(names)) or 'no datasets'}")
    parent = key.rpartition("/")[0]
    siblings = [f"{parent}/{k}".strip("/") for k in _LABEL_KEYS]
    return key, next((k for k in siblings if k in names and k != key), None)


def _choose_streaming(spec: DatasetSpec, path: Path, key: str, memory_budget: int | None) -> bool:
    """Whether to stream this HDF5 dataset: never/always as asked, auto when it exceeds the memory budget."""
    if spec.in_memory == "always":
        return False
    budget = DEFAULT_BUDGET if memory_budget is None else memory_budget
    try:
        with h5py.File(path, "r") as f:
            ds = f[key]
            shape, dtype = tuple(int(s) for s in ds.shape), ds.dtype
    except Exception as exc:
        raise DataError(f"{path}[{key}]: cannot read ({type(exc).__name__}: {exc})") from None
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if spec.in_memory == "auto" and nbytes <= budget:
        return False
    why = streamable(shape, dtype)
    if why:
        size = f"{nbytes / 2**30:.1f} GiB, over the memory budget of {budget / 2**30:.1f} GiB"
        raise DataError(f"{path}[{key}]: cannot stream it ({why})" +
                        ("" if spec.in_memory == "never" else f", and it is too large to read into memory ({size})"))
    return True


def _class_names(path: Path, n: int) -> tuple[str, ...]:
    """The file's class_names attribute (vae-explorer convert writes the subfolder names), if it names n classes."""
    try:
        with h5py.File(path, "r") as f:
            names = f.attrs.get("class_names")
            names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names) if names is not None else ()
    except Exception:
        return ()
    return names if len(names) == n else ()


def _check_hdf5(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if not h5py.is_hdf5(str(path)):
        raise DataError(f"{path}: not an HDF5 file")


def _images(x: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """Check and normalise image data to (N, C, H, W), uint8 or float32 in [0, 1], and say how it was read.

    Accepted: (N, H, W); (N, H, W, C) or (N, C, H, W) with C in 1, 3, 4 (channels-last wins when both
    ends could be channels, as image libraries write it). The values are read by `as_pixels`.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: dtype {x.dtype} is not numeric image data")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4:
        if x.shape[-1] in (1, 3, 4) and x.shape[1] not in (1, 3, 4):
            x = x.transpose(0, 3, 1, 2)
        elif x.shape[1] not in (1, 3, 4):
            raise DataError(f"{where}: shape {x.shape} has no channel axis of size 1, 3 or 4")
    else:
        raise DataError(f"{where}: x must be 3D (N, H, W) or 4D (N, H, W, C) / (N, C, H, W), got shape {x.shape}")
    if x.size == 0:
        raise DataError(f"{where}: empty dataset (shape {x.shape})")
    (x,), values = as_pixels((x,), where)
    return x, values



def check_labels(y: np.ndarray, n: int, where: str) -> np.ndarray:
    """Class labels as int64 (N,): non-negative integers, one per image."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{where}: expected {n} labels (one per image), got shape {y.shape}")
    if y.dtype.kind == "f":
        if not (np.all(np.isfinite(y)) and np.array_equal(y, np.round(y))):
            raise DataError(f"{where}: labels must be whole numbers")
    elif y.dtype.kind not in "iu":
        raise DataError(f"{where}: labels must be integers, got dtype {y.dtype}")
    if y.min() < 0:
        raise DataError(f"{where}: negative label {y.min():g}")
    if y.max() >= MAX_CLASSES:
        raise DataError(f"{where}: label {y.max():g} is out of range: a dataset may have at most {MAX_CLASSES} "
                        f"classes, labelled 0..{MAX_CLASSES - 1}")
    return y.astype(np.int64)
