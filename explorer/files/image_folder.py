"""A folder of PNG/JPEG images as a training set, decoded with QImage (QtGui only, safe in a worker thread).

    folder = load_image_folder("faces/")                      # uint8 (N, C, H, W), labels from subfolders
    print(folder.summary())   # 412 images, 3 classes, 1x28x28 grayscale; 37 resized from 2 other sizes
    dataset, folder = image_folder_dataset("faces/", seed=0)  # trainer.data.Dataset, 90/10 split

Layout: images directly in the folder are one unlabelled set; images in subfolders follow torchvision's
ImageFolder convention, root/<class>/**/*.png, one label per subfolder, classes in sorted name order. Hidden
files and folders (".name") and files of other types are ignored; a folder with images both at the top and in
subfolders is refused rather than guessed at.

Size: every image becomes the size the user chose, or by default the most common size among the files
(ties: the larger). An image of another shape is center-cropped to the target's aspect ratio, then scaled
smoothly: cropping loses a margin, while padding would invent borders that the VAE would have to learn as
part of the data. `strict=True` refuses mixed sizes instead, naming two files that differ.

Colour: "auto" keeps one grayscale channel when every image is gray (QImage.isGrayscale, so RGB files whose
pixels are all gray count too), else three RGB channels; "gray" and "rgb" force it. Alpha is dropped.

QImage, not QPixmap: QPixmap belongs to the GUI thread, while QImage and QImageReader work in any thread
and without a QApplication. Every problem is a DataError of one line naming the file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QImageReader

from trainer.config import DatasetSpec
from trainer.data.dataset import Dataset, split_indices
from trainer.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MODES = ("auto", "gray", "rgb")
MAX_SIDE = 1024
"""The largest side a model accepts (ModelConfig.input_shape)."""
PROGRESS_EVERY = 64
"""Images between progress calls: the callback may cross threads, so not one call per 28x28 image."""

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

    def summary(self) -> str:
        """One line for the dialog, e.g. '412 images, 3 classes, 1x28x28 grayscale; 37 resized (center-cropped)'."""
        n, c, h, w = self.x.shape
        text = f"{n} images"
        if self.class_names:
            text += f", {len(self.class_names)} classes"
        text += f", {c}x{h}x{w} {'grayscale' if c == 1 else 'RGB'}"
        if self.resized:
            text += (f"; {self.resized} resized from {self.other_sizes} other size{'s' * (self.other_sizes > 1)}"
                     f" (center-cropped, then scaled)")
        if self.empty_classes:
            text += f"; empty subfolder{'s' * (len(self.empty_classes) > 1)} skipped: {', '.join(self.empty_classes)}"
        return text


def load_image_folder(folder, size: int | tuple[int, int] | None = None, mode: str = "auto", strict: bool = False,
                      progress: Progress = None) -> ImageFolder:
    """Decode every PNG/JPEG under `folder` to one size; `size` is a side or (height, width), None = most common."""
    folder = Path(folder).expanduser()
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    files, labels, class_names, empty = _scan(folder)
    if progress is not None:
        progress(f"reading the sizes of {len(files)} images", 0.0)
    sizes = [_header_size(folder, rel) for rel in files]  # (height, width), from headers: nothing decoded yet
    counts = Counter(sizes)
    if strict and len(counts) > 1:
        first = files[0]
        other = next(rel for rel, s in zip(files, sizes) if s != sizes[0])
        raise DataError(f"{folder}: mixed image sizes: {first} is {_wxh(sizes[0])} but {other} is "
                        f"{_wxh(sizes[files.index(other)])} (strict mode; without it they are resized to one size)")
    target = _target_size(size, counts, folder)

    n, (h, w) = len(files), target
    x = np.empty((n, 1 if mode != "rgb" else 3, h, w), np.uint8)
    colour = 0
    resized = 0
    for i, rel in enumerate(files):
        image = _decode(folder, rel)
        gray = image.isGrayscale()
        colour += not gray
        if mode == "auto" and not gray and x.shape[1] == 1:
            # the first colour image: what was read so far becomes RGB (gray in all three channels)
            rgb = np.empty((n, 3, h, w), np.uint8)
            rgb[:i] = x[:i]
            x = rgb
        if sizes[i] != target:
            image = _fit(image, target)
            resized += 1
        x[i] = _to_array(image, x.shape[1])
        if progress is not None and (i % PROGRESS_EVERY == 0 or i == n - 1):
            progress(f"decoding {rel}", (i + 1) / n)
    y = np.asarray(labels, np.int64) if class_names else None
    return ImageFolder(x, y, class_names, tuple(files), resized, len(counts) - (target in counts), colour, empty)


def image_folder_dataset(folder, size: int | tuple[int, int] | None = None, mode: str = "auto",
                         strict: bool = False, seed: int = 0, progress: Progress = None
                         ) -> tuple[Dataset, ImageFolder]:
    """The folder as a trainer Dataset (seeded 90/10 split, like a single .npz) plus the decoding report."""
    loaded = load_image_folder(folder, size, mode, strict, progress)
    spec = DatasetSpec(name="path", path=str(Path(folder).expanduser()), seed=seed)
    train, test = split_indices(len(loaded.x), seed, where=str(folder))
    y = loaded.y
    dataset = Dataset(spec, loaded.x[train], loaded.x[test],
                      None if y is None else y[train], None if y is None else y[test],
                      num_classes=len(loaded.class_names), class_names=loaded.class_names)
    return dataset, loaded


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


def _reader(folder: Path, rel: str) -> QImageReader:
    reader = QImageReader(str(folder / rel))
    reader.setDecideFormatFromContent(True)  # a PNG saved as .jpg is still a PNG
    reader.setAutoTransform(False)  # the size in the header is the size we get: no EXIF rotation
    return reader


def _header_size(folder: Path, rel: str) -> tuple[int, int]:
    reader = _reader(folder, rel)
    size = reader.size()
    if not size.isValid() or size.isEmpty():
        raise DataError(f"{folder / rel}: not a readable PNG or JPEG image ({reader.errorString()})")
    return size.height(), size.width()


def _decode(folder: Path, rel: str) -> QImage:
    reader = _reader(folder, rel)
    if bytes(reader.format()) == b"jpeg" and _jpeg_cut_short(folder / rel):
        raise DataError(f"{folder / rel}: the JPEG is truncated (its data stops before the end-of-image marker)")
    image = reader.read()
    if image.isNull():  # a header that parses over data that does not: truncated or corrupt
        raise DataError(f"{folder / rel}: cannot decode the image, it may be truncated or corrupt "
                        f"({reader.errorString()})")
    return image


def _jpeg_cut_short(path: Path) -> bool:
    """True when the last scan has no end-of-image marker after it.

    libjpeg decodes a truncated JPEG "successfully", filling the missing rows with gray (and only logs a
    warning), so the cut has to be found in the bytes. Inside scan data every 0xFF byte is followed by 0x00
    (byte stuffing), so FF DA (start of scan) and FF D9 (end of image) are real markers wherever they appear;
    an EXIF thumbnail's own markers come before the main image's scans, and data appended after the end marker
    is harmless.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    last_scan = data.rfind(b"\xff\xda")
    return last_scan >= 0 and data.find(b"\xff\xd9", last_scan) < 0


def _target_size(size, counts: Counter, folder: Path) -> tuple[int, int]:
    if size is None:
        # most common; ties go to the larger image (less detail thrown away), then to a fixed order
        return max(counts, key=lambda s: (counts[s], s[0] * s[1], s))
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise DataError(f"{folder}: image size {w}x{h} is out of range (1..{MAX_SIDE} pixels a side)")
    return int(h), int(w)


def _fit(image: QImage, target: tuple[int, int]) -> QImage:
    """Center-crop to the target's aspect ratio, then scale smoothly to it."""
    th, tw = target
    w, h = image.width(), image.height()
    if w * th > h * tw:  # too wide: keep the middle columns
        cw = max(1, round(h * tw / th))
        crop = QRect((w - cw) // 2, 0, cw, h)
    else:  # too tall (or already the right shape): keep the middle rows
        ch = max(1, round(w * th / tw))
        crop = QRect(0, (h - ch) // 2, w, ch)
    return image.copy(crop).scaled(tw, th, Qt.IgnoreAspectRatio, Qt.SmoothTransformation)


def _to_array(image: QImage, channels: int) -> np.ndarray:
    """(C, H, W) uint8 copy of the image's pixels."""
    fmt = QImage.Format_Grayscale8 if channels == 1 else QImage.Format_RGB888
    image = image.convertToFormat(fmt)
    h, w = image.height(), image.width()
    # rows are padded to 4-byte multiples: read whole lines, then drop the padding
    lines = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h).reshape(h, -1)
    # copy now: the view points into `image`, freed when this function returns
    return lines[:, : w * channels].reshape(h, w, channels).transpose(2, 0, 1).copy()


def _wxh(size: tuple[int, int]) -> str:
    return f"{size[1]}x{size[0]}"
