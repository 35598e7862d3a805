"""Small real IDX files for tests: synthetic digits with labels, written as MNIST's t10k pair (gzip).

The images are seven-segment digits 0-9, each drawn with its own random shift, size, slant and stroke width
(anti-aliased ink on black, as in MNIST), so a model has something to learn and a label says something about
its image; the files follow the IDX format exactly (magic 0x00000803 / 0x00000801, big-endian sizes).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"

# Segments as (x0, y0, x1, y1) in a unit box, y down: a top, b top right, c bottom right, d bottom,
# e bottom left, f top left, g middle.
_SEGMENTS = {
    "a": (0, 0, 1, 0), "b": (1, 0, 1, 0.5), "c": (1, 0.5, 1, 1), "d": (0, 1, 1, 1),
    "e": (0, 0.5, 0, 1), "f": (0, 0, 0, 0.5), "g": (0, 0.5, 1, 0.5),
}
_DIGITS = ("abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg")


def write_idx(path: Path, array: np.ndarray) -> Path:
    """A gzip IDX file of unsigned bytes: magic 0x00 0x00 0x08 ndim, each size as a big-endian uint32, the data."""
    array = np.ascontiguousarray(array, np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes(), mtime=0))
    return path


def digit_images(n: int, seed: int = 0, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """n (size, size) uint8 images of seven-segment digits and their labels (uint8, 0-9, in a seeded order)."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    images = np.empty((n, size, size), np.uint8)
    for i, label in enumerate(labels):
        w, h = rng.uniform(0.30, 0.42) * size, rng.uniform(0.55, 0.70) * size
        cx, cy = size / 2 + rng.uniform(-2.5, 2.5), size / 2 + rng.uniform(-2, 2)
        slant, width = rng.uniform(-0.25, 0.25), rng.uniform(1.0, 1.8)
        ink = np.zeros((size, size), np.float32)
        for name in _DIGITS[label]:
            u0, v0, u1, v1 = _SEGMENTS[name]
            # unit box -> pixels, leaning by `slant` (x moves with height above the centre)
            y0, y1 = cy + (v0 - 0.5) * h, cy + (v1 - 0.5) * h
            x0 = cx + (u0 - 0.5) * w - slant * (y0 - cy)
            x1 = cx + (u1 - 0.5) * w - slant * (y1 - cy)
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy), 0, 1)
            dist = np.hypot(xx - (x0 + t * dx), yy - (y0 + t * dy))
            ink = np.maximum(ink, np.clip(width + 0.5 - dist, 0, 1))
        images[i] = np.round(ink * 255)
    return images, labels


def write_digit_idx_pair(folder: Path, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Write n synthetic digits as folder/t10k-images-idx3-ubyte.gz and their labels beside; returns (x, y)."""
    folder.mkdir(parents=True, exist_ok=True)
    x, y = digit_images(n, seed)
    write_idx(folder / IMAGES, x)
    write_idx(folder / LABELS, y)
    return x, y
