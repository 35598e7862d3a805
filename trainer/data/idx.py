"""IDX files (MNIST, Fashion-MNIST), read from a folder and, opt-in, downloaded into the user's cache.

    x = read_idx("t10k-images-idx3-ubyte.gz", ndim=3)      # uint8 (N, 28, 28); gzipped or raw
    download_idx_files("mnist", folder, ["t10k-images-idx3-ubyte.gz"])   # MD5-checked, atomic

http://yann.lecun.com/exdb/mnist/ describes the format.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.atomic import atomic_write
from trainer.config import DatasetSpec
from trainer.data.dataset import Dataset, Progress, split_indices
from trainer.data.streaming import DEFAULT_BUDGET
from trainer.errors import DataError

_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_READ_CHUNK = 1 << 22


def read_idx(path, ndim: int | None = None, memory_budget: int | None = None, digest=None) -> np.ndarray:
    """One IDX file, gzip-compressed or raw (told apart by content, not by name).

    `ndim`, if given, is the number of dimensions expected (3 for images, 1 for labels). `digest`, if given (a
    hashlib object), is fed the uncompressed file, the bytes the published checksums are of. The declared
    size is checked against the memory budget (bytes; default a quarter of RAM) and against the data actually
    there before anything that large is allocated: a sparse file as long as its header claims costs nothing.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with open(path, "rb") as raw:
            if raw.read(2) == b"\x1f\x8b":
                raw.seek(0)
                with gzip.GzipFile(fileobj=raw) as stream:
                    return _read_idx_stream(path, stream, None, ndim, memory_budget, digest)
            raw.seek(0)
            return _read_idx_stream(path, raw, path.stat().st_size, ndim, memory_budget, digest)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _read_idx_stream(path: Path, stream, file_size: int | None, ndim: int | None,
                     memory_budget: int | None = None, digest=None) -> np.ndarray:
    header = stream.read(4)
    if len(header) < 4:
        raise DataError(f"{path}: truncated: {len(header)} bytes, shorter than an IDX header")
    magic = int.from_bytes(header, "big")
    code, dims_count = header[2], header[3]
    if header[:2] != b"\0\0" or code not in _IDX_DTYPES or dims_count == 0:
        raise DataError(f"{path}: wrong magic number 0x{magic:08x}, expected an IDX header "
                        f"0x000008NN..0x00000eNN (0x00000803 for images, 0x00000801 for labels)")
    if ndim is not None and dims_count != ndim:
        want = "0x00000803 (images)" if ndim == 3 else "0x00000801 (labels)" if ndim == 1 else f"{ndim} dims"
        raise DataError(f"{path}: wrong magic number 0x{magic:08x} ({dims_count}-D data), expected {want}")
    dims_raw = stream.read(4 * dims_count)
    if len(dims_raw) < 4 * dims_count:
        raise DataError(f"{path}: truncated inside the IDX header")
    dims = struct.unpack(f">{dims_count}I", dims_raw)
    dtype = _IDX_DTYPES[code]
    nbytes = math.prod(dims) * dtype.itemsize
    declared = f"header declares {'x'.join(map(str, dims))} {dtype.name} ({nbytes} bytes)"
    budget = DEFAULT_BUDGET if memory_budget is None else int(memory_budget)
    over_budget = DataError(f"{path}: {declared}, more than the memory budget of {budget / 2**20:,.0f} MB "
                            "(--memory-budget; IDX files are read whole)")
    if file_size is not None:
        # Raw file: its size alone says whether the header is honest.
        payload = file_size - 4 - 4 * dims_count
        if payload != nbytes:
            problem = "truncated" if payload < nbytes else "trailing data"
            raise DataError(f"{path}: {problem}: {declared} but {payload} bytes follow")
        if nbytes > budget:  # an honest header on a (perhaps sparse) file that large: refused before allocating
            raise over_budget
        # A bytearray, not bytes, so the array is writable (torch.from_numpy warns on read-only memory).
        buf = bytearray(nbytes)
        if stream.readinto(buf) != nbytes:
            raise DataError(f"{path}: truncated while reading")
    else:
        # Compressed: the true size is only known by decompressing, so grow a buffer chunk by chunk
        # (a lying header then costs at most what the file really holds) and read one byte past the end.
        buf = bytearray()
        while len(buf) <= nbytes:
            piece = stream.read(min(_READ_CHUNK, nbytes + 1 - len(buf)))
            if not piece:
                break
            buf += piece
            if len(buf) > budget:
                raise over_budget
        if len(buf) != nbytes:
            problem = "truncated" if len(buf) < nbytes else "trailing data"
            raise DataError(f"{path}: {problem}: {declared} but the data "
                            f"{'ends after ' + str(len(buf)) + ' bytes' if len(buf) < nbytes else 'goes on'}")
    if digest is not None:
        digest.update(header + dims_raw)
        digest.update(buf)
    array = np.frombuffer(buf, dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False) if dtype.itemsize > 1 else array


@dataclass(frozen=True)
class IdxSource:
    """Where an IDX dataset is published, its checksums and its class names."""

    mirrors: tuple[str, ...]
    md5: dict[str, str]
    """File name (.gz) -> published MD5."""
    class_names: tuple[str, ...]
    images_md5: dict[str, str] = field(default_factory=dict)
    """Split -> MD5 of its uncompressed images file, as published: what makes images this dataset for any
    comparison with published figures (trainer.comparability), whatever the files are called or compressed as."""


# The four standard files, (images, labels) per split.
IDX_SPLITS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "t10k": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IDX_FILES = tuple(stem for pair in IDX_SPLITS.values() for stem in pair)

IDX_SOURCES = {
    "mnist": IdxSource(
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        md5={"train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
             "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
             "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
        class_names=tuple(str(i) for i in range(10)),
        images_md5={"train": "6bbc9ace898e44ae57da46a324031adb", "t10k": "2646ac647ad5339dbf082846283269ea"}),
    "fashion-mnist": IdxSource(
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"),
        md5={"train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
             "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
             "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
             "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")),
}


def cache_dir(name: str) -> Path:
    """~/.cache/vae-explorer/<name>, or under $XDG_CACHE_HOME when that is set (and absolute, per XDG)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "vae-explorer" / name


def idx_folder(spec: DatasetSpec) -> Path:
    """The folder an mnist/fashion-mnist spec reads (and downloads into): data_dir, else the user cache."""
    return Path(spec.data_dir).expanduser() if spec.data_dir else cache_dir(spec.name)


def mnist_files_hint(name: str, folder, files=None) -> str:
    """What to put where for an IDX dataset, as one line for error messages and the window.

    `files` narrows the list to the ones still missing; by default all four are named.
    """
    note = "gzipped or not" if files else "gzipped or not; one images file with its labels is enough"
    files = ", ".join(files or (f"{stem}.gz" for stem in IDX_FILES))
    return f"put {files} ({note}) from {IDX_SOURCES[name].mirrors[0]} into {folder}"


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def load_idx_dataset(spec: DatasetSpec, progress: Progress, memory_budget: int | None = None) -> Dataset:
    source = IDX_SOURCES[spec.name]
    folder = idx_folder(spec)
    found = {stem: _find_idx(folder, stem) for stem in IDX_FILES}
    if spec.download:
        missing = [f"{stem}.gz" for stem, p in found.items() if p is None]
        if missing:
            download_idx_files(spec.name, folder, missing, progress)
            found = {stem: _find_idx(folder, stem) for stem in IDX_FILES}
    splits = [s for s, (images, _) in IDX_SPLITS.items() if found[images] is not None]
    if not splits:
        raise DataError(f"{spec.name}: no IDX files in {folder}: {mnist_files_hint(spec.name, folder)}; "
                        f"or pass --data-dir FOLDER to read another folder, or --download to fetch them")
    # Labels only if every split used has them: a half-labelled dataset would mislead a conditional VAE.
    with_labels = all(found[IDX_SPLITS[s][1]] is not None for s in splits)
    parts, published = {}, []
    for i, split in enumerate(splits):
        images_stem, labels_stem = IDX_SPLITS[split]
        if progress is not None:
            progress(f"reading {found[images_stem].name}", i / len(splits))
        digest = hashlib.md5()
        x = read_idx(found[images_stem], ndim=3, memory_budget=memory_budget, digest=digest)
        published.append(digest.hexdigest() == source.images_md5.get(split))
        if x.dtype != np.uint8:
            raise DataError(f"{found[images_stem]}: images must be uint8, got {x.dtype}")
        y = None
        if with_labels:
            labels_path = found[labels_stem]
            y = read_idx(labels_path, ndim=1, memory_budget=memory_budget)
            if len(y) != len(x):
                raise DataError(f"{labels_path}: {len(y)} labels for {len(x)} images in {found[images_stem].name}")
            if y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= len(source.class_names))):
                raise DataError(f"{labels_path}: labels must be integers 0..{len(source.class_names) - 1}")
            y = y.astype(np.int64)
        if len(x) == 0:
            raise DataError(f"{found[images_stem]}: no images")
        parts[split] = (x[:, None], y)   # (N, H, W) -> (N, 1, H, W)
    if progress is not None:
        progress("read", 1.0)

    if len(parts) == 2:
        (x_tr, y_tr), (x_te, y_te) = parts["train"], parts["t10k"]
        if x_tr.shape[1:] != x_te.shape[1:]:
            raise DataError(f"{spec.name}: train images {x_tr.shape[2:]} and t10k images {x_te.shape[2:]} differ "
                            f"in {folder}")
        split = "standard"
    else:
        x, y = next(iter(parts.values()))
        train, test = split_indices(len(x), spec.seed, where=str(folder))
        x_tr, x_te = x[train], x[test]
        y_tr, y_te = (y[train], y[test]) if y is not None else (None, None)
        split = f"a seeded split of {splits[0]}"
    n_classes = len(source.class_names) if with_labels else 0
    # told by content: files named like MNIST's but holding other images are not MNIST for any comparison
    identity = spec.name if source.images_md5 and all(published) else ""
    return Dataset(spec, x_tr, x_te, y_tr, y_te, num_classes=n_classes,
                   class_names=source.class_names if with_labels else (), identity=identity, split=split)



# --------------------------------------------------------------------------------------------------
# Downloading (opt-in): temp file, MD5 check, then rename, so the cache never holds a partial file


def _open_url(url: str, timeout: float):
    """The network seam: tests replace it, so they never touch the network."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (fixed https/http mirrors only)


def download_idx_files(name: str, folder, files, progress: Progress = None, timeout: float = 30.0) -> None:
    """Fetch `files` (names ending .gz) of an IDX dataset into `folder`, trying each mirror in turn."""
    source = IDX_SOURCES[name]
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{folder}: cannot create the download folder ({exc.strerror or exc})") from None
    files = list(files)
    for i, filename in enumerate(files):
        network_errors = []
        for mirror in source.mirrors:
            try:
                _fetch_verified(mirror + filename, folder / filename, source.md5[filename], progress, timeout)
                break
            except OSError as exc:   # URLError, HTTPError, timeouts and resets are all OSErrors
                network_errors.append(f"{mirror}: {getattr(exc, 'reason', None) or exc}")
        else:
            raise DataError(f"{name}: could not download {filename} (offline? {network_errors[-1]}); "
                            f"{mnist_files_hint(name, folder, files[i:])}, then run again without --download")



def _fetch_verified(url: str, dest: Path, md5: str, progress: Progress, timeout: float) -> None:
    digest = hashlib.md5()
    with atomic_write(dest) as tmp, open(tmp, "wb") as out, _open_url(url, timeout) as response:
        total = int(getattr(response, "headers", {}).get("Content-Length") or 0)
        done = 0
        while True:
            piece = response.read(1 << 16)
            if not piece:
                break
            out.write(piece)
            digest.update(piece)
            done += len(piece)
            if progress is not None and total:
                progress(f"downloading {dest.name}", min(1.0, done / total))
        if digest.hexdigest() != md5:
            # Not an OSError: a wrong file must stop everything, not quietly fall through to another mirror.
            raise DataError(f"{dest.name} from {url}: MD5 {digest.hexdigest()} does not match the published "
                            f"{md5}; the download is corrupt or the mirror changed")
