"""Image mosaics for the latent panels: numpy batches in, crisp scaled pixels out, PNG export.

    mosaic = tile(images)                       # (rows, cols, C, H, W) or (n, C, H, W) -> (H', W'[, 3]) uint8
    view = ImageGridView(title="Prior samples")
    view.set_images(images, ncols=8, row_labels=[...], col_labels=[...])
    view.set_images(images, reflow=True)        # as many columns as make the tiles biggest in the view
    view.tile_size()                            # (h, w) of one tile on screen, px
    view.export_png("samples.png")              # the same layout, drawn at an integer zoom

Tiles fill the space the view has, and follow it when it is resized. Scaled up, they are drawn at a whole
zoom (2x, 3x, ...: every source pixel the same square on screen), nearest-neighbour so a 28x28 digit stays
sharp, and never past MAX_ZOOM or MAX_TILE_PX. Only when the view is smaller than the images themselves are they
scaled down, by averaging (dropping every other pixel instead would erase thin strokes and small sprites).
The layout (labels, title, tiles) is drawn by one function for the screen and for the PNG, so an export looks
like what is shown.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

MAX_ZOOM = 8
"""The largest upscale: a 28x28 digit is at most 224 px on screen."""
MAX_TILE_PX = 320
"""No tile is scaled up past this many px on its longer side (a 64x64 sprite at most 5x)."""
MIN_ZOOM = 0.05
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


def _rgb32(grid: np.ndarray) -> np.ndarray:
    """(rows, cols, C, H, W) images -> the tiles side by side as (rows*H, cols*W) uint32 pixels 0xffRRGGBB:
    QImage's RGB32, which Qt draws and scales fastest."""
    grid = to_uint8(grid)
    rows, cols, c, h, w = grid.shape
    if c not in (1, 3):
        raise ValueError(f"can only show 1- or 3-channel images, got {c} channels")
    side = grid.transpose(0, 3, 1, 4, 2).reshape(rows * h, cols * w, c).astype(np.uint32)
    if c == 1:
        return 0xFF000000 | (side[..., 0] * 0x010101)
    return 0xFF000000 | (side[..., 0] << 16) | (side[..., 1] << 8) | side[..., 2]


def _to_qimage_rgb32(pixels: np.ndarray) -> QImage:
    """A QImage over a C-contiguous (H, W) uint32 array's memory, not a copy: keep the array alive meanwhile."""
    if not pixels.flags.c_contiguous:
        raise ValueError("pixels must be C-contiguous")
    return QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.strides[0], QImage.Format_RGB32)


def _as_array(image: QImage) -> np.ndarray:
    """A (H, W) uint32 copy of an RGB32 QImage's pixels."""
    h, w = image.height(), image.width()
    buffer = np.frombuffer(image.constBits(), np.uint32, count=image.sizeInBytes() // 4)
    return buffer.reshape(h, image.bytesPerLine() // 4)[:, :w].copy()


class ImageGridView(QWidget):
    """A grid of images with optional row labels, column labels and title, scaled to fit, pixels kept crisp.

    `pad` is the gap between tiles (and around them) in screen pixels, drawn in `pad_value` grey.
    """

    def __init__(self, title: str = "", placeholder: str = "No images yet", parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.title_on_screen = True
        """False: the title is drawn in exported PNGs only (a panel's controls already say it on screen)."""
        self.placeholder = placeholder
        self._images: np.ndarray | None = None  # (rows, cols, C, H, W) as laid out now
        self._flat: np.ndarray | None = None  # (n, C, H, W) when the columns follow the view's shape (reflow)
        self._ncols_hint: int | None = None
        self._mosaic: np.ndarray | None = None  # made when asked for (mosaic())
        self._pixels: np.ndarray | None = None  # the tiles side by side without gaps, RGB32: every draw's source
        self._pad = 1
        self._pad_value = PAD_VALUE
        self._screen: tuple[tuple, QImage] | None = None  # (layout key, tiles drawn at that layout's size)
        self.row_labels: list[str] = []
        self.col_labels: list[str] = []
        self.version = 0
        """Increases with every set_images: how tests and benchmarks see that the picture changed."""
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(80, 80)

    # --- data -------------------------------------------------------------------------------------
    def set_images(self, images: np.ndarray, ncols: int | None = None, row_labels: Sequence[str] = (),
                   col_labels: Sequence[str] = (), pad: int = 1, pad_value: int = PAD_VALUE,
                   reflow: bool = False) -> None:
        """Show `images`, (n, C, H, W) laid out `ncols` wide or (rows, cols, C, H, W), floats in [0, 1] or uint8.

        reflow: (n, C, H, W) only, without labels; the number of columns is picked for the view's current shape
        (and again whenever it is resized) so the tiles come out as big as they can, `ncols` breaking ties.
        """
        images = np.asarray(images)
        self._pad = int(pad)
        self._pad_value = int(pad_value)
        self.row_labels = list(row_labels)
        self.col_labels = list(col_labels)
        reflow = reflow and images.ndim == 4 and not self.row_labels and not self.col_labels
        self._flat = images if reflow else None
        self._ncols_hint = ncols
        if reflow:
            ncols = self._best_columns(self.width(), self.height())
        self._set_grid(as_grid(images, ncols))
        self.version += 1
        self.update()

    def _set_grid(self, grid: np.ndarray) -> None:
        self._images = grid
        self._mosaic = None
        self._pixels = _rgb32(grid)
        self._screen = None

    def clear(self) -> None:
        self._images = self._mosaic = self._pixels = self._flat = None
        self._screen = None
        self.row_labels, self.col_labels = [], []
        self.version += 1
        self.update()

    def images(self) -> np.ndarray | None:
        """What is shown, (rows, cols, C, H, W), laid out as on screen."""
        return self._images

    def mosaic(self) -> np.ndarray | None:
        """The uint8 mosaic at 1x, `pad` pixels between and around the tiles."""
        if self._mosaic is None and self._images is not None:
            self._mosaic = tile(self._images, pad=self._pad, pad_value=self._pad_value)
        return self._mosaic

    def tile_size(self) -> tuple[int, int]:
        """(height, width) of one tile on screen now, px; (0, 0) with nothing shown."""
        if self._images is None:
            return (0, 0)
        _, zoom, _ = self._layout(self.width(), self.height())
        return self._tile_px(zoom)

    def height_for_tiles(self, tile_px: int) -> int:
        """The view's height (px) that shows the current rows at tiles `tile_px` high, title and labels included."""
        if self._images is None:
            return 0
        rows = self._images.shape[0]
        return self._margins()["top"] + rows * tile_px + (rows + 1) * self._pad + 4

    # --- drawing ----------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(320, 240)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if self._flat is not None:
            ncols = self._best_columns(self.width(), self.height())
            if ncols != self._images.shape[1]:
                self._set_grid(as_grid(self._flat, ncols))

    def _fonts(self) -> tuple[QFont, QFont]:
        label = QFont(self.font())
        label.setPointSizeF(max(7.0, label.pointSizeF() * 0.85))
        title = QFont(self.font())
        title.setBold(True)
        return label, title

    def _shows_title(self, export: bool) -> bool:
        return bool(self.title) and (export or self.title_on_screen)

    def _margins(self, export: bool = False) -> dict:
        """Room around the tiles for the title and the labels, px."""
        label_font, title_font = self._fonts()
        lm, tm = QFontMetrics(label_font), QFontMetrics(title_font)
        top = (tm.height() + 6) if self._shows_title(export) else 4
        left = (max(lm.horizontalAdvance(t) for t in self.row_labels) + 8) if self.row_labels else 4
        col_h = (lm.height() + 2) if self.col_labels else 0
        return {"top": top + col_h, "left": left, "col_h": col_h, "label_font": label_font, "title_font": title_font}

    def _fit(self, width: int, height: int, rows: int, cols: int, h: int, w: int, m: dict) -> float:
        """The zoom at which `rows` x `cols` tiles of h x w and their gaps would just fill a (width, height) canvas."""
        gap = self._pad
        room_w = width - m["left"] - 4 - (cols + 1) * gap
        room_h = height - m["top"] - 4 - (rows + 1) * gap
        return min(room_w / (cols * w), room_h / (rows * h))

    @staticmethod
    def _zoom_for(fit: float, tile_px: int) -> float:
        """A whole zoom >= 1, capped, when there is room for it (crisp pixels); below 1, the fit itself."""
        if fit >= 1:
            cap = max(1, min(MAX_ZOOM, MAX_TILE_PX // max(tile_px, 1)))
            return float(min(math.floor(fit), cap))
        return max(fit, MIN_ZOOM)

    def _best_columns(self, width: int, height: int) -> int:
        n = len(self._flat)
        preferred = self._ncols_hint or math.ceil(math.sqrt(max(n, 1)))
        m = self._margins()
        h, w = self._flat.shape[2:]
        best = None
        for cols in range(1, max(n, 1) + 1):
            rows = math.ceil(n / cols)
            zoom = self._zoom_for(self._fit(width, height, rows, cols, h, w, m), max(h, w))
            key = (zoom, -abs(cols - preferred))
            if best is None or key > best[0]:
                best = (key, cols)
        return best[1]

    def _tile_px(self, zoom: float) -> tuple[int, int]:
        h, w = self._images.shape[3:]
        return max(1, round(h * zoom)), max(1, round(w * zoom))

    def _layout(self, width: int, height: int, zoom: float | None = None,
                export: bool = False) -> tuple[QRectF, float, dict]:
        """Where the tiles (with their gaps) go in a (width, height) canvas and at what zoom."""
        m = self._margins(export)
        rows, cols, _, h, w = self._images.shape
        centre = zoom is None  # on screen; an export is as wide as it needs
        if zoom is None:
            zoom = self._zoom_for(self._fit(width, height, rows, cols, h, w, m), max(h, w))
        th, tw = self._tile_px(zoom)
        gap = self._pad
        mw, mh = cols * tw + (cols + 1) * gap, rows * th + (rows + 1) * gap
        left = m["left"] + (max(0, (width - m["left"] - 4 - mw) // 2) if centre else 0)  # right of the labels
        return QRectF(left, m["top"], mw, mh), zoom, m

    def _tiles_image(self, zoom: float) -> QImage:
        """Every tile drawn at `zoom` with the gaps between them: built once per layout, then reused by paints.

        Whole arrays, no loop over tiles: a 64-row, 21-step traversal is 1,344 tiles."""
        th, tw = self._tile_px(zoom)
        key = (self.version, self._images.shape[:2], th, tw)
        if self._screen is not None and self._screen[0] == key:
            return self._screen[1]
        rows, cols, _, h, w = self._images.shape
        if th >= h and tw >= w:  # scaled up (by a whole factor): nearest neighbour, crisp
            pixels = self._pixels.repeat(th // h, axis=0).repeat(tw // w, axis=1)
        else:  # scaled down: averaged, so thin strokes and small sprites survive (tile edges stay put:
            # the mosaic scales by exactly th/h and tw/w, so no tile's pixels blend into its neighbour's)
            source = _to_qimage_rgb32(self._pixels)  # a view of the array, which outlives it here
            scaled = source.scaled(cols * tw, rows * th, Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
            if scaled.format() != QImage.Format_RGB32:
                scaled = scaled.convertToFormat(QImage.Format_RGB32)
            pixels = _as_array(scaled)
        gap = self._pad
        out = np.full((rows * (th + gap) + gap, cols * (tw + gap) + gap), 0xFF000000 | (self._pad_value * 0x010101),
                      np.uint32)
        out[gap:, gap:].reshape(rows, th + gap, cols, tw + gap)[:, :th, :, :tw] = pixels.reshape(rows, th, cols, tw)
        image = _to_qimage_rgb32(out).copy()
        self._screen = (key, image)
        return image

    def _draw(self, painter: QPainter, width: int, height: int, zoom: float | None = None,
              export: bool = False) -> None:
        painter.fillRect(QRect(0, 0, width, height), BACKGROUND)
        if self._pixels is None:
            painter.setPen(MUTED)
            painter.drawText(QRect(0, 0, width, height), Qt.AlignCenter | Qt.TextWordWrap, self.placeholder)
            if self._shows_title(export):
                painter.setPen(TEXT)
                painter.drawText(QRect(4, 2, width - 8, 20), Qt.AlignLeft | Qt.AlignTop, self.title)
            return
        rect, zoom, m = self._layout(width, height, zoom, export)
        if self._shows_title(export):
            painter.setFont(m["title_font"])
            painter.setPen(TEXT)
            painter.drawText(QRect(4, 2, width - 8, m["top"] - m["col_h"]), Qt.AlignLeft | Qt.AlignVCenter, self.title)
        painter.drawImage(rect.topLeft(), self._tiles_image(zoom))
        painter.setFont(m["label_font"])
        painter.setPen(TEXT)
        th, tw = self._tile_px(zoom)
        gap = self._pad
        # every k-th row label when rows are shorter than a line of text, so they never overlap
        every_row = max(1, math.ceil(QFontMetrics(m["label_font"]).height() / max(th + gap, 1)))
        for r, text in enumerate(self.row_labels):
            if r % every_row:
                continue
            y = rect.top() + gap + r * (th + gap)
            painter.drawText(QRectF(0, y, rect.left() - 6, th), Qt.AlignRight | Qt.AlignVCenter, text)
        # every k-th column label when tiles are narrower than the labels, so they never run together
        widest = max((QFontMetrics(m["label_font"]).horizontalAdvance(t) for t in self.col_labels), default=0)
        every = max(1, math.ceil((widest + 6) / max(tw + gap, 1)))
        for c, text in enumerate(self.col_labels):
            if c % every:
                continue
            x = rect.left() + gap + c * (tw + gap)
            painter.drawText(QRectF(x - 8, rect.top() - m["col_h"], tw + 16, m["col_h"]), Qt.AlignCenter, text)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        self._draw(painter, self.width(), self.height())
        painter.end()

    def tile_rect(self, row: int, col: int) -> QRectF:
        """Where tile (row, col) is drawn in widget coordinates (for tests and tooltips)."""
        rect, zoom, _ = self._layout(self.width(), self.height())
        th, tw = self._tile_px(zoom)
        gap = self._pad
        return QRectF(rect.left() + gap + col * (tw + gap), rect.top() + gap + row * (th + gap), tw, th)

    # --- export -------------------------------------------------------------------------------------
    def render_image(self, zoom: int | None = None) -> QImage:
        """The layout drawn at an integer zoom (default: tiles of at least 96 px), on white."""
        if self._pixels is None:
            raise RuntimeError("nothing to export yet")
        if zoom is None:
            zoom = max(1, math.ceil(96 / max(1, self._images.shape[3])))
        probe, _, _ = self._layout(10_000, 10_000, zoom, export=True)
        width = int(probe.right() + 8)
        height = int(probe.bottom() + 8)
        image = QImage(width, height, QImage.Format_RGB32)
        painter = QPainter(image)
        self._draw(painter, width, height, zoom, export=True)
        painter.end()
        return image

    def export_png(self, path: str, zoom: int | None = None) -> bool:
        """Save the grid (with its labels) as a PNG; False if Qt could not write the file."""
        return self.render_image(zoom).save(str(path), "PNG")
