"""Image mosaics for the latent panels: numpy batches in, crisp scaled pixels out, PNG export.

    mosaic = tile(images)                       # (rows, cols, C, H, W) or (n, C, H, W) -> (H', W'[, 3]) uint8
    view = ImageGridView(title="Prior samples")
    view.set_images(images, ncols=8, row_labels=[...], col_labels=[...])
    view.export_png("samples.png")              # the same layout, drawn at an integer zoom

Pixels are drawn nearest-neighbour, so a 28x28 digit scaled up stays sharp, and the layout (labels, title,
mosaic) is drawn by one function for the screen and for the PNG, so an export looks like what is shown.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

PAD_VALUE = 110
"""Grey between tiles: visible against black sprite backgrounds and white digits alike."""
BACKGROUND = QColor("#ffffff")
TEXT = QColor("#404040")
MUTED = QColor("#909090")


def to_uint8(images: np.ndarray) -> np.ndarray:
    """float in [0, 1] (or uint8 already) -> uint8 0..255, same shape."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def as_grid(images: np.ndarray, ncols: int | None = None) -> np.ndarray:
    """(rows, cols, C, H, W) from (rows, cols, C, H, W) or (n, C, H, W) laid out `ncols` wide (padded with blanks)."""
    images = np.asarray(images)
    if images.ndim == 5:
        return images
    if images.ndim != 4:
        raise ValueError(f"images must be (n, C, H, W) or (rows, cols, C, H, W), got shape {images.shape}")
    n = len(images)
    ncols = max(1, min(int(ncols or math.ceil(math.sqrt(max(n, 1)))), max(n, 1)))
    rows = max(1, math.ceil(n / ncols))
    if rows * ncols != n:
        blank = np.zeros((rows * ncols - n, *images.shape[1:]), dtype=images.dtype)
        images = np.concatenate([images, blank])
    return images.reshape(rows, ncols, *images.shape[1:])


def tile(images: np.ndarray, ncols: int | None = None, pad: int = 1, pad_value: int = PAD_VALUE) -> np.ndarray:
    """One uint8 mosaic: (H', W') for 1-channel images, (H', W', 3) for 3-channel ones, `pad` pixels between tiles."""
    grid = to_uint8(as_grid(images, ncols))
    rows, cols, c, h, w = grid.shape
    if c not in (1, 3):
        raise ValueError(f"can only show 1- or 3-channel images, got {c} channels")
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), pad_value, dtype=np.uint8)
    # one strided assignment instead of a Python loop over tiles
    view = out[pad:, pad:].reshape(rows, h + pad, cols, w + pad, c)[:, :h, :, :w]
    view[...] = grid.transpose(0, 3, 1, 4, 2)
    return out[..., 0] if c == 1 else out


def to_qimage(mosaic: np.ndarray) -> QImage:
    """A QImage that owns a copy of a (H, W) grey or (H, W, 3) RGB uint8 array."""
    mosaic = np.ascontiguousarray(mosaic)
    h, w = mosaic.shape[:2]
    fmt = QImage.Format_Grayscale8 if mosaic.ndim == 2 else QImage.Format_RGB888
    return QImage(mosaic.data, w, h, mosaic.strides[0], fmt).copy()


class ImageGridView(QWidget):
    """A grid of images with optional row labels, column labels and title, scaled to fit, pixels kept crisp."""

    def __init__(self, title: str = "", placeholder: str = "No images yet", parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.placeholder = placeholder
        self._images: np.ndarray | None = None  # (rows, cols, C, H, W) as given
        self._mosaic: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._tile = (0, 0)  # (h, w) of one tile in mosaic pixels, pad included
        self._pad = 1
        self.row_labels: list[str] = []
        self.col_labels: list[str] = []
        self.version = 0
        """Increases with every set_images: how tests and benchmarks see that the picture changed."""
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(80, 80)

    # --- data -------------------------------------------------------------------------------------
    def set_images(self, images: np.ndarray, ncols: int | None = None, row_labels: Sequence[str] = (),
                   col_labels: Sequence[str] = (), pad: int = 1, pad_value: int = PAD_VALUE) -> None:
        grid = as_grid(images, ncols)
        self._images = grid
        self._pad = pad
        self._mosaic = tile(grid, pad=pad, pad_value=pad_value)
        # RGB32 once here: Qt scales it about twice as fast as Grayscale8 at every paint
        self._qimage = to_qimage(self._mosaic).convertToFormat(QImage.Format_RGB32)
        self._tile = (grid.shape[3] + pad, grid.shape[4] + pad)
        self.row_labels = list(row_labels)
        self.col_labels = list(col_labels)
        self.version += 1
        self.update()

    def clear(self) -> None:
        self._images = self._mosaic = self._qimage = None
        self.row_labels, self.col_labels = [], []
        self.version += 1
        self.update()

    def images(self) -> np.ndarray | None:
        """What is shown, (rows, cols, C, H, W), as given to set_images."""
        return self._images

    def mosaic(self) -> np.ndarray | None:
        """The uint8 mosaic drawn (before scaling)."""
        return self._mosaic

    def qimage(self) -> QImage | None:
        return self._qimage

    # --- drawing ----------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(320, 240)

    def _fonts(self) -> tuple[QFont, QFont]:
        label = QFont(self.font())
        label.setPointSizeF(max(7.0, label.pointSizeF() * 0.85))
        title = QFont(self.font())
        title.setBold(True)
        return label, title

    def _layout(self, width: int, height: int, zoom: float | None = None) -> tuple[QRectF, float, dict]:
        """Where the mosaic goes in a (width, height) canvas and at what zoom; margins for the labels."""
        label_font, title_font = self._fonts()
        lm, tm = QFontMetrics(label_font), QFontMetrics(title_font)
        top = (tm.height() + 6) if self.title else 4
        left = (max(lm.horizontalAdvance(t) for t in self.row_labels) + 8) if self.row_labels else 4
        col_h = (lm.height() + 2) if self.col_labels else 0
        top += col_h
        mh, mw = self._mosaic.shape[:2]
        if zoom is None:
            zoom = max(0.1, min((width - left - 4) / mw, (height - top - 4) / mh))
            if zoom >= 2:
                zoom = math.floor(zoom)  # integer zoom: every source pixel the same size on screen
            left += max(0.0, (width - left - 4 - mw * zoom) / 2)  # centred in the space left of the labels
        rect = QRectF(left, top, mw * zoom, mh * zoom)
        return rect, zoom, {"top": top, "left": left, "col_h": col_h, "label_font": label_font, "title_font": title_font}

    def _draw(self, painter: QPainter, width: int, height: int, zoom: float | None = None) -> None:
        painter.fillRect(QRect(0, 0, width, height), BACKGROUND)
        if self._qimage is None:
            painter.setPen(MUTED)
            painter.drawText(QRect(0, 0, width, height), Qt.AlignCenter | Qt.TextWordWrap, self.placeholder)
            if self.title:
                painter.setPen(TEXT)
                painter.drawText(QRect(4, 2, width - 8, 20), Qt.AlignLeft | Qt.AlignTop, self.title)
            return
        rect, zoom, m = self._layout(width, height, zoom)
        if self.title:
            painter.setFont(m["title_font"])
            painter.setPen(TEXT)
            painter.drawText(QRect(4, 2, width - 8, m["top"] - m["col_h"]), Qt.AlignLeft | Qt.AlignVCenter, self.title)
        painter.setRenderHint(QPainter.SmoothPixmapTransform, False)
        painter.drawImage(rect, self._qimage)
        painter.setFont(m["label_font"])
        painter.setPen(TEXT)
        th, tw = self._tile[0] * zoom, self._tile[1] * zoom
        pad = self._pad * zoom
        for r, text in enumerate(self.row_labels):
            y = rect.top() + pad + r * th
            painter.drawText(QRectF(0, y, rect.left() - 6, th - pad), Qt.AlignRight | Qt.AlignVCenter, text)
        # every k-th column label when tiles are narrower than the labels, so they never run together
        widest = max((QFontMetrics(m["label_font"]).horizontalAdvance(t) for t in self.col_labels), default=0)
        every = max(1, math.ceil((widest + 6) / max(tw, 1)))
        for c, text in enumerate(self.col_labels):
            if c % every:
                continue
            x = rect.left() + pad + c * tw
            painter.drawText(QRectF(x - 8, rect.top() - m["col_h"], tw - pad + 16, m["col_h"]), Qt.AlignCenter, text)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        self._draw(painter, self.width(), self.height())
        painter.end()

    def tile_rect(self, row: int, col: int) -> QRectF:
        """Where tile (row, col) is drawn in widget coordinates (for tests and tooltips)."""
        rect, zoom, _ = self._layout(self.width(), self.height())
        pad = self._pad * zoom
        return QRectF(rect.left() + pad + col * self._tile[1] * zoom, rect.top() + pad + row * self._tile[0] * zoom,
                      (self._tile[1] - self._pad) * zoom, (self._tile[0] - self._pad) * zoom)

    # --- export -----------------------------------------------------------------------------------
    def render_image(self, zoom: int | None = None) -> QImage:
        """The layout drawn at an integer zoom (default: tiles of at least 96 px), on white."""
        if self._mosaic is None:
            raise RuntimeError("nothing to export yet")
        if zoom is None:
            zoom = max(1, math.ceil(96 / max(1, self._tile[0] - self._pad)))
        probe, _, m = self._layout(10_000, 10_000, zoom)
        width = int(probe.right() + 8)
        height = int(probe.bottom() + 8)
        image = QImage(width, height, QImage.Format_RGB32)
        painter = QPainter(image)
        self._draw(painter, width, height, zoom)
        painter.end()
        return image

    def export_png(self, path: str, zoom: int | None = None) -> bool:
        """Save the grid (with its labels) as a PNG; False if Qt could not write the file."""
        return self.render_image(zoom).save(str(path), "PNG")
