"""Test images written with QImage from numpy pixels, so a test knows every pixel it will read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import explorer.qt_compat  # noqa: F401
from PySide6.QtGui import QImage

RNG = np.random.default_rng(0)


def write_image(path: Path, pixels: np.ndarray) -> np.ndarray:
    """Save (H, W) gray or (H, W, 3) RGB uint8 pixels (format from the suffix); returns them for comparison."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.ascontiguousarray(pixels, np.uint8)
    h, w = pixels.shape[:2]
    data = pixels.tobytes()  # kept alive until the copy: a QImage over a buffer does not own it
    if pixels.ndim == 2:
        image = QImage(data, w, h, w, QImage.Format_Grayscale8).copy()
    else:
        image = QImage(data, w, h, 3 * w, QImage.Format_RGB888).copy()
    assert image.save(str(path)), path
    return pixels


def gray(h: int = 28, w: int = 28) -> np.ndarray:
    """Random gray pixels (H, W)."""
    return RNG.integers(0, 256, (h, w), dtype=np.uint8)
