"""A folder of PNG/JPEG images as a training set, decoded with Pillow: the engine's one reader, for CLI and window.

    folder = load_image_folder("faces/", size=64)             # uint8 (N, C, H, W), labels from subfolders
    print(folder.summary())   # 412 images, 3 classes, 3x64x64 RGB; 37 resized from 2 other sizes (...)
    dataset, folder = image_folder_dataset("faces/", seed=0)  # trainer.data.Dataset, 90/10 split
    convert_image_folder("faces/", "faces.h5", size=64)      # once, for folders too big to decode every run

Layout: images directly in the folder are one unlabelled set; images in subfolders follow torchvision's
ImageFolder convention, root/<class>/**/*.png, one label per subfolder, classes in sorted name order. Hidden
files and folders (".name") and files of other types are ignored; a folder with images both at the top and in
subfolders is refused rather than guessed at.

Size: every image becomes the size the user chose, or by default the most common size among the files
(ties: the larger). An image of another shape is center-cropped to the target's aspect ratio, then scaled
smoothly: cropping loses a margin, while padding would invent borders that the VAE would have to learn as
part of the data. `strict=True` refuses mixed sizes instead, naming two files that differ.

Colour: "auto" keeps one grayscale channel when every image is gray (RGB files whose pixels are all gray count
too), else three RGB channels; "gray" and "rgb" force it. Alpha is dropped; 16-bit images keep their high byte.
No EXIF rotation: the size in the header is the size trained on. Every problem is a DataError of one line
naming the file.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import h5py
import numpy as np
from PIL import Image, UnidentifiedImageError

from trainer.atomic import atomic_write
from trainer.config import DatasetSpec
from trainer.data.dataset import Dataset, split_indices
from trainer.data.streaming import DEFAULT_BUDGET
from trainer.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = ("auto", "gray", "rgb")
MAX_SIDE = 1024
"""The largest side a model accepts (ModelConfig.input_shape)."""
PROGRESS_EVERY = 64
"""Images between progress calls: the callback may cross threads, so not one call per 28x28 image."""
CHUNK_BYTES = 1 << 20
"""About this many bytes of images per HDF5 chunk in a converted file: the unit a streamed epoch reads."""

Progress = Optional[Callable[[str, float], None]]


@dataclass(frozen=True)
class ImageFolder:
    """The decoded images and what the loader had to do to them."""

    x: np.ndarray
    """uint8 (N, C, H, W), C = 1 (grayscale) or 3 (RGB)."""
    y: np.ndarray | None
    """int64 (N,) subfolder index, or None for a flat folder."""
    class_names: tuple[str, ...]
    """Subfolder names, sorted; empty for a flat folder."""
    files: tuple[str, ...]
    """Paths relative to the folder, in the order of x."""
    resized: int
    """Images whose size differed from the target and were center-cropped and scaled."""
    other_sizes: int
    """Distinct sizes other than the target among the files."""
    colour_images: int
    """Images that were not grayscale (0 means an all-gray folder)."""
    empty_classes: tuple[str, ...] = ()
    """Subfolders that held no image and so became no class."""
    skipped: tuple[str, ...] = ()
    """Images left out for declaring more pixels than Pillow's decompression-bomb limit (not in strict mode)."""

    def summary(self) -> str:
        """One line, e.g. '412 images, 3 classes, 1x28x28 grayscale; 37 resized from 2 other sizes (...)'."""
        n, c, h, w = self.x.shape
        return _summary(n, c, h, w, self.class_names, self.resized, self.other_sizes, self.empty_classes,
                        self.skipped)


def _summary(n, c, h, w, class_names, resized, other_sizes, empty_classes, skipped=()) -> str:
    text = f"{n} images"
    if class_names:
        text += f", {len(class_names)} classes"
    text += f", {c}x{h}x{w} {'grayscale' if c == 1 else 'RGB'}"
    if resized:
        text += (f"; {resized} resized from {other_sizes} other size{'s' * (other_sizes > 1)}"
                 f" (center-cropped, then scaled)")
    if empty_classes:
        text += f"; empty subfolder{'s' * (len(empty_classes) > 1)} skipped: {', '.join(empty_classes)}"
    if skipped:
        text += f"; {skipped_text(skipped)}"
    return text


def skipped_text(skipped: tuple[str, ...]) -> str:
    """'2 images over Pillow's decompression-bomb limit of 89,478,485 pixels skipped: a.png, b.png'."""
    return (f"{len(skipped)} image{'s' * (len(skipped) > 1)} over Pillow's decompression-bomb limit of "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels skipped: {', '.join(skipped[:3])}"
            + (", ..." if len(skipped) > 3 else ""))


@dataclass(frozen=True)
class _Plan:
    """What a folder holds and the size its images become, from the file headers (nothing decoded yet)."""

    folder: Path
    files: list[str]
    labels: list[int]
    class_names: tuple[str, ...]
    empty: tuple[str, ...]
    sizes: list[tuple[int, int]]
    target: tuple[int, int]
    skipped: tuple[str, ...] = ()

    @property
    def other_sizes(self) -> int:
        counts = Counter(self.sizes)
        return len(counts) - (self.target in counts)


def _plan(folder, size, mode: str, strict: bool, progress: Progress) -> _Plan:
    folder = Path(folder).expanduser()
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    files, labels, class_names, empty = _scan(folder)
    if progress is not None:
        progress(f"reading the sizes of {len(files)} images", 0.0)
    sizes, kept, skipped = [], [], []
    for rel, label in zip(files, labels):
        try:
            sizes.append(_header_size(folder / rel))  # (height, width)
            kept.append((rel, label))
        except ImageTooLarge:
            if strict:
                raise
            skipped.append(rel)  # a decompression bomb is left out, and the summary says so
    if not kept:
        raise DataError(f"{folder}: every image is over Pillow's decompression-bomb limit "
                        f"({Image.MAX_IMAGE_PIXELS:,} pixels)")
    files, labels = [rel for rel, _ in kept], [label for _, label in kept]
    counts = Counter(sizes)
    if strict and len(counts) > 1:
        first = files[0]
        i = next(i for i, s in enumerate(sizes) if s != sizes[0])
        raise DataError(f"{folder}: mixed image sizes: {first} is {_wxh(sizes[0])} but {files[i]} is "
                        f"{_wxh(sizes[i])} (strict mode; without it they are resized to one size)")
    return _Plan(folder, files, labels, class_names, empty, sizes, _target_size(size, counts, folder),
                 tuple(skipped))


def _decoded(plan: _Plan, channels: int, progress: Progress) -> Iterator[tuple[int, np.ndarray, bool, bool]]:
    """(index, (C, H, W) uint8 pixels, was it gray, was it resized) for every file, in order."""
    n = len(plan.files)
    for i, rel in enumerate(plan.files):
        image = _decode(plan.folder / rel)
        gray = _is_gray(image)
        resize = plan.sizes[i] != plan.target
        if resize:
            image = _fit(image, plan.target)
        yield i, _to_array(image, channels), gray, resize
        if progress is not None and (i % PROGRESS_EVERY == 0 or i == n - 1):
            progress(f"decoding {rel}", (i + 1) / n)


def load_image_folder(folder, size: int | tuple[int, int] | None = None, mode: str = "auto", strict: bool = False,
                      progress: Progress = None, memory_budget: int | None = None) -> ImageFolder:
    """Decode every PNG/JPEG under `folder` to one size; `size` is a side or (height, width), None = most common.

    The decoded array is checked against the memory budget (bytes; default a quarter of RAM) from the file
    headers, before it is allocated: `convert` writes a folder larger than that to HDF5, which streams."""
    plan = _plan(folder, size, mode, strict, progress)
    n, (h, w) = len(plan.files), plan.target
    budget = DEFAULT_BUDGET if memory_budget is None else int(memory_budget)
    need = n * (1 if mode == "gray" else 3) * h * w
    if need > budget:
        raise DataError(f"{plan.folder}: {n:,} images of {_wxh((h, w))} take {need / 2**20:,.0f} MB, more than the "
                        f"memory budget of {budget / 2**20:,.0f} MB (--memory-budget); convert them to HDF5 with "
                        "`vae-explorer convert`, which streams")
    x = np.empty((n, 3 if mode == "rgb" else 1, h, w), np.uint8)
    colour = resized = 0
    for i, pixels, gray, was_resized in _decoded(plan, 1 if mode == "gray" else 3, progress):
        colour += not gray
        resized += was_resized
        if mode == "auto" and not gray and x.shape[1] == 1:
            # the first colour image: what was read so far becomes RGB (gray in all three channels)
            rgb = np.empty((n, 3, h, w), np.uint8)
            rgb[:i] = x[:i]
            x = rgb
        x[i] = pixels[:1] if x.shape[1] == 1 else pixels
    y = np.asarray(plan.labels, np.int64) if plan.class_names else None
    return ImageFolder(x, y, plan.class_names, tuple(plan.files), resized, plan.other_sizes, colour, plan.empty,
                       plan.skipped)


def image_folder_dataset(folder, size: int | tuple[int, int] | None = None, mode: str = "auto",
                         strict: bool = False, seed: int = 0, progress: Progress = None,
                         memory_budget: int | None = None) -> tuple[Dataset, ImageFolder]:
    """The folder as a trainer Dataset (seeded 90/10 split, like a single .npz) plus the decoding report."""
    loaded = load_image_folder(folder, size, mode, strict, progress, memory_budget)
    spec = DatasetSpec(name="path", path=str(Path(folder).expanduser()), seed=seed,
                       folder_size=_side_of(size), channels=mode)
    train, test = split_indices(len(loaded.x), seed, where=str(folder))
    y = loaded.y
    dataset = Dataset(spec, loaded.x[train], loaded.x[test],
                      None if y is None else y[train], None if y is None else y[test],
                      num_classes=len(loaded.class_names), class_names=loaded.class_names,
                      values="uint8 0..255 scaled to [0, 1]",
                      notes=(f"{spec.path}: {skipped_text(loaded.skipped)}",) if loaded.skipped else ())
    return dataset, loaded


def _side_of(size) -> int:
    """A spec keeps a square side (0 = the most common size); a (height, width) that is not square keeps 0."""
    if size is None:
        return 0
    if isinstance(size, int):
        return size
    h, w = size
    return int(h) if h == w else 0


def convert_image_folder(folder, out, size: int | tuple[int, int] | None = None, mode: str = "auto",
                         strict: bool = False, progress: Progress = None) -> str:
    """Decode the folder once into a chunked HDF5 file `out` (x, and y when there are classes); returns its summary.

    Images are written as they are decoded, so a folder larger than memory converts. The file is written to a
    temporary name and renamed into place: a stopped conversion leaves nothing half-written. In auto mode the
    images are written as RGB and, when every one was gray, copied once more into one channel.
    """
    plan = _plan(folder, size, mode, strict, progress)
    for name in plan.class_names:  # they are stored as text: refused here, before anything is written
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raw = os.fsencode(name).decode("ascii", "backslashreplace")
            raise DataError(f"{plan.folder / raw}: a class folder whose name is not valid UTF-8; rename it "
                            "(class names are stored as text)") from None
    n, (h, w) = len(plan.files), plan.target
    out = Path(out).expanduser()
    colour = resized = 0
    with atomic_write(out) as tmp:
        with h5py.File(tmp, "w") as f:
            channels = 1 if mode == "gray" else 3
            x = _image_dataset(f, "x", (n, channels, h, w))
            rows = np.empty((x.chunks[0], channels, h, w), np.uint8)  # whole chunks: no read-modify-write
            for i, pixels, gray, was_resized in _decoded(plan, channels, progress):
                rows[i % len(rows)] = pixels
                if i % len(rows) == len(rows) - 1 or i == n - 1:
                    start = i - i % len(rows)
                    x[start:i + 1] = rows[: i + 1 - start]
                colour += not gray
                resized += was_resized
            if mode == "auto" and colour == 0:
                gray = _image_dataset(f, "x_gray", (n, 1, h, w))
                step = gray.chunks[0]
                for start in range(0, n, step):
                    gray[start:start + step] = x[start:start + step, :1]
                del f["x"]
                f.move("x_gray", "x")
                channels = 1
            if plan.class_names:
                f.create_dataset("y", data=np.asarray(plan.labels, np.int64))
                f.attrs["class_names"] = list(plan.class_names)
            f.attrs["source"] = str(plan.folder)
            f.attrs["files"] = len(plan.files)
        if mode == "auto" and colour == 0:
            _repack(tmp)  # h5py never shrinks a file: the deleted RGB copy would stay as dead space
    return _summary(n, channels, h, w, plan.class_names, resized, plan.other_sizes, plan.empty, plan.skipped)


def _image_dataset(f: h5py.File, name: str, shape: tuple[int, int, int, int]) -> h5py.Dataset:
    per_image = int(np.prod(shape[1:]))
    rows = max(1, min(shape[0], CHUNK_BYTES // per_image))
    return f.create_dataset(name, shape=shape, dtype=np.uint8, chunks=(rows, *shape[1:]))


def _repack(path: Path) -> None:
    """Copy every object of an HDF5 file into a fresh file of the same name, leaving deleted space behind."""
    fresh = path.with_name(path.name + ".repack")
    try:
        with h5py.File(path, "r") as src, h5py.File(fresh, "w") as dst:
            for key in src:
                src.copy(src[key], dst, name=key)
            for key, value in src.attrs.items():
                dst.attrs[key] = value
        fresh.replace(path)
    finally:
        fresh.unlink(missing_ok=True)


# --- finding the files ---------------------------------------------------------------------------------


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and _visible(path)


def _images_under(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if _is_image(path) and all(_visible(p) for p in path.relative_to(folder).parents if p != Path(".")):
            found.append(path)
    return found


def _scan(folder: Path) -> tuple[list[str], list[int], tuple[str, ...], tuple[str, ...]]:
    """(relative file names, labels, class names, empty class folders); DataError when there is nothing to load."""
    if not folder.exists():
        raise DataError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    try:
        entries = sorted(p for p in folder.iterdir() if _visible(p))
    except OSError as exc:
        raise DataError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    if not entries:
        raise DataError(f"{folder}: the folder is empty")
    top = [p for p in entries if _is_image(p)]
    subfolders = [p for p in entries if p.is_dir()]
    per_class = {d.name: _images_under(d) for d in subfolders}
    classes = tuple(name for name, found in per_class.items() if found)
    if top and classes:
        raise DataError(f"{folder}: images both at the top ({top[0].name}) and in subfolders ({classes[0]}/); "
                        f"put every image in a class subfolder, or none")
    if top:
        return [p.name for p in top], [0] * len(top), (), ()
    if not classes:
        others = [p.name for p in entries if p.is_file()]
        hint = f" (found {len(others)} other file{'s' * (len(others) > 1)}, e.g. {others[0]})" if others else ""
        raise DataError(f"{folder}: no PNG or JPEG images{hint}")
    files, labels = [], []
    for label, name in enumerate(classes):
        for path in per_class[name]:
            files.append(path.relative_to(folder).as_posix())
            labels.append(label)
    empty = tuple(name for name, found in per_class.items() if not found)
    return files, labels, classes, empty


# --- decoding ---------------------------------------------------------------------------------------------


class ImageTooLarge(DataError):
    """An image declares more pixels than Pillow's decompression-bomb limit (Image.MAX_IMAGE_PIXELS)."""


def _open(path: Path) -> Image.Image:
    """The image with its header read (Pillow decides the format from the content, not the suffix)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # over the limit: never decoded
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{path}: too large to decode safely, over Pillow's decompression-bomb limit of "
                            f"{Image.MAX_IMAGE_PIXELS:,} pixels ({exc})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: not a readable PNG or JPEG image ({type(exc).__name__}: {exc})") from None
    if image.format not in ("PNG", "JPEG"):
        image.close()
        raise DataError(f"{path}: not a readable PNG or JPEG image (it is {image.format or 'of unknown type'})")
    w, h = image.size
    if w < 1 or h < 1:
        image.close()
        raise DataError(f"{path}: not a readable PNG or JPEG image (size {w}x{h})")
    return image


def _header_size(path: Path) -> tuple[int, int]:
    with _open(path) as image:
        return image.size[1], image.size[0]


def _decode(path: Path) -> Image.Image:
    image = _open(path)
    if image.format == "JPEG" and _jpeg_cut_short(path):
        image.close()
        raise DataError(f"{path}: the JPEG is truncated (its data stops before the end-of-image marker)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd but readable chunks; errors still raise
            image.load()
    except Exception as exc:  # OSError "image file is truncated", zlib/SyntaxError on a corrupt stream...
        raise DataError(f"{path}: cannot decode the image, it may be truncated or corrupt "
                        f"({type(exc).__name__}: {exc})") from None
    return image


def _jpeg_cut_short(path: Path) -> bool:
    """True when the last scan has no end-of-image marker after it.

    A truncated JPEG can decode "successfully", the missing rows filled with gray, so the cut has to be found in
    the bytes. Inside scan data every 0xFF byte is followed by 0x00 (byte stuffing), so FF DA (start of scan)
    and FF D9 (end of image) are real markers wherever they appear; an EXIF thumbnail's own markers come before
    the main image's scans, and data appended after the end marker is harmless.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    last_scan = data.rfind(b"\xff\xda")
    return last_scan >= 0 and data.find(b"\xff\xd9", last_scan) < 0


def _eight_bit(image: Image.Image) -> Image.Image:
    """The image in L, LA, RGB, RGBA or P: 16- and 32-bit integer gray keeps its high byte (Pillow would clip)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image, dtype=np.uint32)
        return Image.fromarray((values >> 8).clip(0, 255).astype(np.uint8), "L")
    if image.mode == "1":
        return image.convert("L")
    if image.mode not in ("L", "LA", "RGB", "RGBA", "P", "PA"):
        return image.convert("RGB")  # CMYK and YCbCr JPEGs, F
    return image


def _is_gray(image: Image.Image) -> bool:
    """Gray formats, and colour images whose every pixel has R = G = B."""
    image = _eight_bit(image)
    if image.mode in ("L", "LA"):
        return True
    rgb = np.asarray(image.convert("RGB"))
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def _target_size(size, counts: Counter, folder: Path) -> tuple[int, int]:
    if size is None or size == 0:
        # most common; ties go to the larger image (less detail thrown away), then to a fixed order
        return max(counts, key=lambda s: (counts[s], s[0] * s[1], s))
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise DataError(f"{folder}: image size {w}x{h} is out of range (1..{MAX_SIDE} pixels a side)")
    return int(h), int(w)


def _fit(image: Image.Image, target: tuple[int, int]) -> Image.Image:
    """Center-crop to the target's aspect ratio, then scale smoothly to it."""
    image = _eight_bit(image)
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")  # palette indices cannot be interpolated
    th, tw = target
    w, h = image.size
    if w * th > h * tw:  # too wide: keep the middle columns
        cw = max(1, round(h * tw / th))
        box = ((w - cw) // 2, 0, (w - cw) // 2 + cw, h)
    else:  # too tall (or already the right shape): keep the middle rows
        ch = max(1, round(w * th / tw))
        box = (0, (h - ch) // 2, w, (h - ch) // 2 + ch)
    return image.resize((tw, th), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)


def _to_array(image: Image.Image, channels: int) -> np.ndarray:
    """(C, H, W) uint8 copy of the image's pixels; gray for 1 channel (ITU-R 601 luma), else RGB."""
    image = _eight_bit(image).convert("L" if channels == 1 else "RGB")
    pixels = np.asarray(image, dtype=np.uint8)
    return (pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)).copy()


def _wxh(size: tuple[int, int]) -> str:
    return f"{size[1]}x{size[0]}"
