"""Datasets for the trainer: procedural sprites, MNIST/Fashion-MNIST IDX files, .npz and HDF5 files.

Every loader returns plain numpy arrays in memory, laid out (N, C, H, W): uint8 0..255 for image data,
or float32 in [0, 1]. The trainer moves them to torch itself; `to_float01` is the one conversion.
Binary images (bool, or integers whose largest value is 1) are stored as uint8 0/255, so every consumer
reads them as 0/1; `Dataset.values` says how a source's values were read.

    from trainer.config import DatasetSpec
    from trainer.data import load_dataset
    ds = load_dataset(DatasetSpec(name="mnist", data_dir="../shared/datasets/mnist"))
    print(ds.describe())   # mnist: 9000 train / 1000 test, 1x28x28, 10 classes, uint8 0..255 scaled to [0, 1]

Anything wrong with the data raises `DataError` with one line naming the file and the problem; raw
numpy/zlib/h5py exceptions never escape. Nothing here unpickles (`allow_pickle=False` everywhere).

`progress`, where accepted, is an optional callable `progress(message: str, fraction: float)` with the
fraction of the current step done in [0, 1]; it is called from whatever thread does the loading.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import h5py
import numpy as np

from trainer.config import DatasetSpec
from trainer.errors import DataError

Progress = Optional[Callable[[str, float], None]]

TEST_FRACTION = 0.1
"""Share of a single-file dataset held out as the test split (seeded, so a spec reproduces it)."""


# --------------------------------------------------------------------------------------------------
# The Dataset container


@dataclass
class Dataset:
    """Train and test arrays plus whatever ground truth the source has (labels, generative factors)."""

    spec: DatasetSpec
    x_train: np.ndarray
    """(N, C, H, W), uint8 0..255 or float32 in [0, 1]."""
    x_test: np.ndarray
    """Same layout and dtype as x_train: the held-out split."""
    y_train: np.ndarray | None
    """int64 (N,) class labels, or None."""
    y_test: np.ndarray | None
    num_classes: int = 0
    """0 when there are no labels."""
    class_names: tuple[str, ...] = ()
    factors_train: np.ndarray | None = None
    """int64 (N, F) ground-truth factor indices (sprites), for disentanglement metrics such as MIG."""
    factors_test: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    values: str = ""
    """How the source's pixel values were read, e.g. 'int64 0/1 read as binary'; filled in when empty."""

    def __post_init__(self) -> None:
        # Checked once here so every consumer (loop, metrics, GUI) can trust the layout.
        for split, x in (("train", self.x_train), ("test", self.x_test)):
            if x.ndim != 4:
                raise DataError(f"{self._label()}: x_{split} must be (N, C, H, W), got shape {x.shape}")
        if self.x_train.shape[1:] != self.x_test.shape[1:] or self.x_train.dtype != self.x_test.dtype:
            raise DataError(f"{self._label()}: train {self.x_train.shape[1:]} {self.x_train.dtype} and "
                            f"test {self.x_test.shape[1:]} {self.x_test.dtype} differ")
        for split, x, extra in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test),
                                ("train", self.x_train, self.factors_train),
                                ("test", self.x_test, self.factors_test)):
            if extra is not None and len(extra) != len(x):
                raise DataError(f"{self._label()}: {len(x)} {split} examples but {len(extra)} labels/factors")
        # Whoever built the arrays (a loader, the window's image folders, a caller), every consumer gets
        # uint8 0..255 or float32 in [0, 1]. float32 is trusted as is: scanning it again would cost a pass.
        if self.x_train.dtype == np.float32:
            note = "float32 in [0, 1]"
        else:
            (self.x_train, self.x_test), note = _as_pixels((self.x_train, self.x_test), self._label())
        self.values = self.values or note

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one example."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    def describe(self) -> str:
        """One line, e.g. 'sprites: 18000 train / 2000 test, 1x64x64, 5 factors, uint8 0..255 scaled to [0, 1]'."""
        c, h, w = self.input_shape
        text = f"{self._label()}: {len(self.x_train)} train / {len(self.x_test)} test, {c}x{h}x{w}"
        if self.num_classes:
            text += f", {self.num_classes} classes"
        if self.factor_names:
            text += f", {len(self.factor_names)} factors"
        return f"{text}, {self.values}"

    def _label(self) -> str:
        if self.spec.name == "path":
            return Path(self.spec.path).name + (f"[{self.spec.key}]" if self.spec.key else "")
        return self.spec.name


def load_dataset(spec: DatasetSpec, progress: Progress = None) -> Dataset:
    """Load the dataset a spec names; `spec.limit` > 0 keeps only the first `limit` training examples."""
    spec.validate()
    if spec.name == "sprites":
        ds = _load_sprites(spec, progress)
    elif spec.name in IDX_SOURCES:
        ds = _load_idx_dataset(spec, progress)
    else:
        ds = _load_path(spec, progress)
    if spec.limit and spec.limit < len(ds.x_train):
        ds.x_train = ds.x_train[: spec.limit]
        if ds.y_train is not None:
            ds.y_train = ds.y_train[: spec.limit]
        if ds.factors_train is not None:
            ds.factors_train = ds.factors_train[: spec.limit]
    return ds


def to_float01(x: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1]; float data (already in [0, 1]) -> float32 without a copy if possible."""
    if x.dtype == np.uint8:
        out = x.astype(np.float32)
        out /= np.float32(255.0)   # in place: one float copy of the data, not two
        return out
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32, copy=False)
    raise TypeError(f"to_float01 expects uint8 or float data, got {x.dtype}")


def split_indices(n: int, seed: int, test_fraction: float = TEST_FRACTION, where: str = "dataset"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic held-out split of range(n): (train, test) index arrays, each in ascending order.

    Ascending order keeps the source order inside each split (the trainer shuffles per epoch anyway).
    """
    if n < 2:
        raise DataError(f"{where}: {n} example(s) is too few to hold out a test split (need at least 2)")
    n_test = max(1, int(round(n * test_fraction)))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _split_dataset(spec: DatasetSpec, x: np.ndarray, y: np.ndarray | None, values: str = "") -> Dataset:
    train, test = split_indices(len(x), spec.seed, where=spec.path)
    num_classes = int(y.max()) + 1 if y is not None else 0
    return Dataset(spec, x[train], x[test], None if y is None else y[train], None if y is None else y[test],
                   num_classes=num_classes, class_names=tuple(str(i) for i in range(num_classes)), values=values)


# --------------------------------------------------------------------------------------------------
# Sprites: procedural dSprites-style images (Matthey et al. 2017), generated from a seed with numpy only

SPRITE_SHAPES = ("square", "ellipse", "heart")
SPRITE_FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
SPRITE_FACTOR_SIZES = (3, 6, 40, 32, 32)
SPRITE_SCALES = np.linspace(0.5, 1.0, 6)
SPRITE_ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
"""Radians, counter-clockwise; endpoint excluded so the 40 values are 40 distinct angles."""

_HALF_SIZE = 0.15
"""Half side of a scale-1 shape as a fraction of the image side (dSprites-like proportions)."""
_ELLIPSE_MINOR = 0.5
"""Minor/major axis ratio: elongated enough that its orientation is visible."""
# The heart (x²+y²-1)³ - x²y³ <= 0 spans x in ±1.139, y in [-1, 1.236]; these map it onto the unit box
# like the square, so scale means the same thing for every shape.
_HEART_X, _HEART_Y, _HEART_DY = 1.139, 1.118, 0.118


def make_sprites(n: int, image_size: int = 64, seed: int = 0, progress: Progress = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """n sprites with factors drawn uniformly at random: (uint8 (n, 1, S, S), int64 factor indices (n, 5))."""
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, SPRITE_FACTOR_SIZES, size=(int(n), len(SPRITE_FACTOR_SIZES)), dtype=np.int64)
    return render_sprites(factors, image_size, progress), factors


def render_sprites(factors: np.ndarray, image_size: int = 64, progress: Progress = None) -> np.ndarray:
    """Draw one white shape on black per row of factor indices; uint8 (n, 1, S, S), 0 or 255.

    Binary like dSprites (no anti-aliasing), which suits a Bernoulli likelihood.
    """
    factors = np.asarray(factors, dtype=np.int64).reshape(-1, len(SPRITE_FACTOR_SIZES))
    if np.any(factors < 0) or np.any(factors >= np.asarray(SPRITE_FACTOR_SIZES)):
        raise ValueError(f"sprite factor indices must be below {SPRITE_FACTOR_SIZES}")
    size = int(image_size)
    out = np.zeros((len(factors), 1, size, size), dtype=np.uint8)
    # Chunks keep the float temporaries near 16 MB whatever n is.
    chunk = max(1, (1 << 22) // (size * size))
    for start in range(0, len(factors), chunk):
        f = factors[start:start + chunk]
        out[start:start + len(f), 0] = _render_chunk(f, size) * np.uint8(255)
        if progress is not None:
            progress("rendering sprites", min(1.0, (start + len(f)) / len(factors)))
    return out


def _render_chunk(factors: np.ndarray, size: int) -> np.ndarray:
    half = np.float32(_HALF_SIZE * size) * SPRITE_SCALES[factors[:, 1]].astype(np.float32)
    angle = SPRITE_ORIENTATIONS[factors[:, 2]]
    cos, sin = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
    # Centres stay one rotated scale-1 square (half-diagonal) away from the border, so no shape is clipped.
    margin = _HALF_SIZE * size * math.sqrt(2) + 0.5
    grid = np.linspace(margin, size - margin, SPRITE_FACTOR_SIZES[3], dtype=np.float32)
    cx, cy = grid[factors[:, 3]], grid[factors[:, 4]]

    pix = np.arange(size, dtype=np.float32) + np.float32(0.5)            # pixel centres
    dx = (pix[None, None, :] - cx[:, None, None]) / half[:, None, None]   # (n, 1, S), in shape units
    dy = (cy[:, None, None] - pix[None, :, None]) / half[:, None, None]   # (n, S, 1), y up
    # Rotating the shape by +angle = sampling the canonical shape at points rotated by -angle.
    u = dx * cos[:, None, None] + dy * sin[:, None, None]
    v = dy * cos[:, None, None] - dx * sin[:, None, None]

    mask = np.zeros(u.shape, dtype=bool)
    for k in range(len(SPRITE_SHAPES)):
        rows = np.flatnonzero(factors[:, 0] == k)
        if len(rows):
            mask[rows] = _inside(k, u[rows], v[rows])
    return mask


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points (u, v) in shape units (the shape spans about [-1, 1]²) inside the canonical shape."""
    if shape == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= 1
    if shape == 1:  # ellipse, major axis along u
        return u * u + (v / _ELLIPSE_MINOR) ** 2 <= 1
    x, y = u * _HEART_X, v * _HEART_Y + _HEART_DY
    x2 = x * x
    r = x2 + y * y - 1
    return r * r * r <= x2 * y * y * y


def _load_sprites(spec: DatasetSpec, progress: Progress) -> Dataset:
    x, factors = make_sprites(spec.n, spec.image_size, spec.seed, progress)
    train, test = split_indices(len(x), spec.seed, where="sprites")
    return Dataset(spec, x[train], x[test], None, None,
                   factors_train=factors[train], factors_test=factors[test],
                   factor_names=SPRITE_FACTOR_NAMES, factor_sizes=SPRITE_FACTOR_SIZES)


# --------------------------------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST): http://yann.lecun.com/exdb/mnist/ describes the format

_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_READ_CHUNK = 1 << 22


def read_idx(path, ndim: int | None = None) -> np.ndarray:
    """One IDX file, gzip-compressed or raw (told apart by content, not by name).

    `ndim`, if given, is the number of dimensions expected (3 for images, 1 for labels). The declared
    size is checked against the data actually there before anything that large is allocated.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with open(path, "rb") as raw:
            if raw.read(2) == b"\x1f\x8b":
                raw.seek(0)
                with gzip.GzipFile(fileobj=raw) as stream:
                    return _read_idx_stream(path, stream, None, ndim)
            raw.seek(0)
            return _read_idx_stream(path, raw, path.stat().st_size, ndim)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _read_idx_stream(path: Path, stream, file_size: int | None, ndim: int | None) -> np.ndarray:
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
    if file_size is not None:
        # Raw file: its size alone says whether the header is honest.
        payload = file_size - 4 - 4 * dims_count
        if payload != nbytes:
            problem = "truncated" if payload < nbytes else "trailing data"
            raise DataError(f"{path}: {problem}: {declared} but {payload} bytes follow")
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
        if len(buf) != nbytes:
            problem = "truncated" if len(buf) < nbytes else "trailing data"
            raise DataError(f"{path}: {problem}: {declared} but the data "
                            f"{'ends after ' + str(len(buf)) + ' bytes' if len(buf) < nbytes else 'goes on'}")
    array = np.frombuffer(buf, dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False) if dtype.itemsize > 1 else array


@dataclass(frozen=True)
class IdxSource:
    """Where an IDX dataset is published, its checksums and its class names."""

    mirrors: tuple[str, ...]
    md5: dict[str, str]
    """File name (.gz) -> published MD5."""
    class_names: tuple[str, ...]


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
        class_names=tuple(str(i) for i in range(10))),
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


def _load_idx_dataset(spec: DatasetSpec, progress: Progress) -> Dataset:
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
    parts = {}
    for i, split in enumerate(splits):
        images_stem, labels_stem = IDX_SPLITS[split]
        if progress is not None:
            progress(f"reading {found[images_stem].name}", i / len(splits))
        x = read_idx(found[images_stem], ndim=3)
        if x.dtype != np.uint8:
            raise DataError(f"{found[images_stem]}: images must be uint8, got {x.dtype}")
        y = None
        if with_labels:
            labels_path = found[labels_stem]
            y = read_idx(labels_path, ndim=1)
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
    else:
        x, y = next(iter(parts.values()))
        train, test = split_indices(len(x), spec.seed, where=str(folder))
        x_tr, x_te = x[train], x[test]
        y_tr, y_te = (y[train], y[test]) if y is not None else (None, None)
    n_classes = len(source.class_names) if with_labels else 0
    return Dataset(spec, x_tr, x_te, y_tr, y_te, num_classes=n_classes,
                   class_names=source.class_names if with_labels else ())


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
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, _open_url(url, timeout) as response:
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
        os.replace(tmp_name, dest)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)


# --------------------------------------------------------------------------------------------------
# Files named by path: .npz/.npy and HDF5. Image folders are decoded by the window (Qt), not here.

_LABEL_KEYS = ("y", "labels")
_NPZ_SUFFIXES = (".npz", ".npy")
_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")


def _load_path(spec: DatasetSpec, progress: Progress) -> Dataset:
    path = Path(spec.path).expanduser()
    if path.is_dir():
        raise DataError(f"{path}: image folders are opened from the window (File > Open dataset); "
                        f"for the command line, save the images as an .npz with arrays x and y")
    if not path.exists():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if progress is not None:
        progress(f"reading {path.name}", 0.0)
    if suffix in _NPZ_SUFFIXES:
        x, y, values = _read_npz(path)
    elif suffix in _HDF5_SUFFIXES:
        x, y, values = _read_hdf5(path, spec.key)
    else:
        raise DataError(f"{path}: unknown file type {suffix or '(none)'}; expected .npz, .npy, .h5 or .hdf5")
    if progress is not None:
        progress(f"read {path.name}", 1.0)
    return _split_dataset(spec, x, y, values)


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
            y = _labels(loaded[label_key], len(x), f"{path}[{label_key}]") if label_key else None
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
    label_key = next((k for k in siblings if k in names and k != key), None)
    try:
        with h5py.File(path, "r") as f:
            x, values = _images(f[key][()], f"{path}[{key}]")
            y = _labels(f[label_key][()], len(x), f"{path}[{label_key}]") if label_key else None
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}[{key}]: cannot read ({type(exc).__name__}: {exc})") from None
    return x, y, values


def _check_hdf5(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if not h5py.is_hdf5(str(path)):
        raise DataError(f"{path}: not an HDF5 file")


def _images(x: np.ndarray, where: str) -> tuple[np.ndarray, str]:
    """Check and normalise image data to (N, C, H, W), uint8 or float32 in [0, 1], and say how it was read.

    Accepted: (N, H, W); (N, H, W, C) or (N, C, H, W) with C in 1, 3, 4 (channels-last wins when both
    ends could be channels, as image libraries write it). The values are read by `_as_pixels`.
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
    (x,), values = _as_pixels((x,), where)
    return x, values


def _as_pixels(arrays: tuple[np.ndarray, ...], where: str) -> tuple[tuple[np.ndarray, ...], str]:
    """Arrays of one dtype (a whole source, or its train and test splits) as uint8 0..255 or float32 in [0, 1].

    Returns the arrays (contiguous, uncopied where already so) and one phrase saying how the values were
    read. bool, and integers whose largest value is 1, are binary images: 0/1 becomes uint8 0/255, so the
    training loop, the metrics and the window, which all divide uint8 by 255, read 0/1 (int 0/1 read as
    0..255 pixels would train on inputs of at most 1/255). Other integers and integer-valued floats in
    0..255 are pixel values; other floats must lie in [0, 1]. Anything else is rejected rather than
    silently rescaled, because a guess there would train on the wrong data without saying so. The range
    is taken over all the arrays together, so train and test are always read the same way.
    """
    dtype = arrays[0].dtype
    if dtype.kind == "b":
        return tuple(np.ascontiguousarray(a, dtype=np.uint8) * np.uint8(255) for a in arrays), "bool read as binary"
    if dtype.kind == "f":
        bad = sum(np.size(a) - np.count_nonzero(np.isfinite(a)) for a in arrays)
        if bad:
            raise DataError(f"{where}: {bad} NaN/Inf values")
    filled = [a for a in arrays if a.size]
    if not filled:
        return arrays, f"{dtype} (no values)"
    lo, hi = min(a.min() for a in filled), max(a.max() for a in filled)
    if dtype.kind in "iu" and lo >= 0 and hi == 1:
        return (tuple(np.ascontiguousarray(a, dtype=np.uint8) * np.uint8(255) for a in arrays),
                f"{dtype} 0/1 read as binary")
    if dtype.kind == "f" and lo >= 0 and hi <= 1:
        return tuple(np.ascontiguousarray(a, dtype=np.float32) for a in arrays), f"{dtype} in [0, 1]"
    if lo >= 0 and hi <= 255 and (dtype.kind in "iu" or all(np.array_equal(a, np.round(a)) for a in filled)):
        return (tuple(np.ascontiguousarray(a, dtype=np.uint8) for a in arrays),
                f"{dtype} 0..255 scaled to [0, 1]")
    raise DataError(f"{where}: values span [{lo:g}, {hi:g}]; expected floats in [0, 1] or pixel values 0..255")


def _labels(y: np.ndarray, n: int, where: str) -> np.ndarray:
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
    return y.astype(np.int64)
