"""Scatters of tens of thousands of points, rasterised in numpy at paint time, and the colours they are drawn in.

    cloud = PointCloudItem()                   # a pyqtgraph item: plot.addItem(cloud)
    cloud.set_points(xy, argb_words(palette(10))[labels])   # (N, 2) view coordinates, one ARGB32 word each
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRect, QRectF
from PySide6.QtGui import QColor, QImage, QPainter

TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
"""Categorical colours (matplotlib's tab10): distinguishable, and familiar from papers' latent plots."""


def colour_rgb(colour: str) -> tuple[int, int, int]:
    c = QColor(colour)
    return c.red(), c.green(), c.blue()


def argb_words(rgb: np.ndarray) -> np.ndarray:
    """(K, 3) uint8 -> (K,) opaque premultiplied ARGB32 words."""
    rgb = np.asarray(rgb, dtype=np.uint32)
    return (0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32)


def palette(n: int) -> np.ndarray:
    """(n, 3) uint8: tab10 for up to 10 categories, otherwise viridis sampled evenly (ordered factors)."""
    if n <= len(TAB10):
        return np.array([colour_rgb(c) for c in TAB10[: max(n, 1)]], dtype=np.uint8)
    lut = pg.colormap.get("viridis").getLookupTable(0.0, 0.92, nPts=n, alpha=False)  # the top is too pale on white
    return np.asarray(lut, dtype=np.uint8)[:, :3]


def device_area(item: pg.GraphicsObject, painter: QPainter, bounds: QRectF) -> tuple[QRect, float] | None:
    """The part of the paint device an item's visible view covers (device-independent px) and the device pixel
    ratio, or None when nothing of it is on the device: where a rasterising item's buffer goes."""
    device = painter.device()
    dpr = device.devicePixelRatioF() if hasattr(device, "devicePixelRatioF") else 1.0
    visible = painter.transform().mapRect(item.viewRect() if item.getViewBox() is not None else bounds)
    area = visible.toAlignedRect().intersected(QRect(0, 0, device.width(), device.height()))
    return None if area.isEmpty() else (area, dpr)


def draw_buffer(painter: QPainter, buf: np.ndarray, area: QRect, dpr: float) -> None:
    """Draw an (h, w) ARGB32 premultiplied buffer of device pixels at `area`'s top left, untransformed."""
    h, w = buf.shape
    image = QImage(buf.data, w, h, w * 4, QImage.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(dpr)
    painter.save()
    painter.resetTransform()
    painter.drawImage(QPointF(area.left(), area.top()), image)
    painter.restore()


def _stamp(radius: float) -> list[tuple[int, int]]:
    r = int(np.ceil(radius))
    return [(dx, dy) for dy in range(-r, r + 1) for dx in range(-r, r + 1)
            if dx * dx + dy * dy <= radius * radius + 0.5]


class PointCloudItem(pg.GraphicsObject):
    """Many same-sized dots drawn by rasterising them in numpy at paint time; one colour word per point.

    Points are drawn in a fixed shuffled order so that no class systematically hides another where they
    overlap. The dot radius (screen pixels) shrinks as the count grows so that 70k points stay legible.
    """

    def __init__(self):
        super().__init__()
        self._xy = np.zeros((0, 2), np.float64)
        self._colours = np.zeros(0, np.uint32)
        self._order = np.zeros(0, np.int64)
        self._bounds = QRectF()
        self.radius = 1.5

    def set_points(self, xy: np.ndarray, colours: np.ndarray) -> None:
        """xy (N, 2) in view coordinates; colours (N,) ARGB32 words."""
        xy = np.asarray(xy, dtype=np.float64)
        self.prepareGeometryChange()
        if len(xy) != len(self._order):
            self._order = np.random.default_rng(0).permutation(len(xy))
        self._xy = xy[self._order]
        self._colours = np.asarray(colours, dtype=np.uint32)[self._order]
        n = len(xy)
        self.radius = 3.0 if n <= 500 else 2.2 if n <= 3000 else 1.5 if n <= 20000 else 1.0
        if n:
            lo, hi = self._xy.min(0), self._xy.max(0)
            self._bounds = QRectF(lo[0], lo[1], max(hi[0] - lo[0], 1e-9), max(hi[1] - lo[1], 1e-9))
        else:
            self._bounds = QRectF()
        self.update()

    def set_colours(self, colours: np.ndarray) -> None:
        self._colours = np.asarray(colours, dtype=np.uint32)[self._order]
        self.update()

    def colours(self) -> np.ndarray:
        """A copy of the (N,) ARGB32 colour words, in the order the points were given."""
        out = np.empty_like(self._colours)
        out[self._order] = self._colours
        return out

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        if not len(self._xy):
            return None
        col = self._xy[:, ax]
        return float(col.min()), float(col.max())

    def pixelPadding(self) -> float:
        return self.radius + 1

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not len(self._xy):
            return
        placed = device_area(self, painter, self._bounds)
        if placed is None:
            return
        area, dpr = placed
        tr = painter.transform()
        w, h = int(area.width() * dpr), int(area.height() * dpr)
        x = (tr.m11() * self._xy[:, 0] + tr.m21() * self._xy[:, 1] + tr.m31() - area.left()) * dpr
        y = (tr.m12() * self._xy[:, 0] + tr.m22() * self._xy[:, 1] + tr.m32() - area.top()) * dpr
        r = int(np.ceil(self.radius * dpr))
        inside = (x >= r) & (x < w - r) & (y >= r) & (y < h - r)
        ix = x[inside].astype(np.intp)
        iy = y[inside].astype(np.intp)
        colours = self._colours[inside]
        buf = np.zeros((h, w), np.uint32)
        for dx, dy in _stamp(self.radius * dpr):
            buf[iy + dy, ix + dx] = colours  # later points overwrite earlier ones: the shuffled order decides
        draw_buffer(painter, buf, area, dpr)
