"""Input images drawn at their points' positions, as many as fit side by side without overlapping at the zoom shown.

    thumbs = ThumbnailItem()                   # a pyqtgraph item: plot.addItem(thumbs), after the PointCloudItem
    thumbs.set_images(images)                  # (N, C, H, W) uint8, C = 1 (grey) or 3 (colour), the points' order
    thumbs.set_points(xy, argb_words(palette(10))[labels])   # (N, 2) view coordinates; frame colours (N,) ARGB32
    thumbs.set_size(32)                        # side of one thumbnail on screen, device-independent pixels
    thumbs.shown()                             # indices (into the points' order) drawn at the last paint

Which thumbnails are drawn is decided at paint time, in screen pixels, so zooming in shows more of them. With
70,000 points a paint has to take milliseconds, so `pick_non_overlapping` chooses them in numpy: the screen is
cut into cells about one thumbnail wide, each cell keeps its highest-priority point (priority is a fixed,
seeded permutation of the points), and only those few hundred candidates go through a Python greedy pass that
drops any square overlapping an already accepted one; two squares less than one cell apart can only be in
neighbouring cells, so each check looks at eight cells at most. The cells are anchored at (0, 0) in view units
and their side in view units comes from a fixed ladder (2 ** (k / 4)), so panning, and zooming within one rung,
keep exactly the same cells and the same winners: the chosen thumbnails stay put instead of flickering.

The chosen images are resampled to the on-screen side with index arrays (nearest neighbour, one vectorised
gather for the batch), framed in their point's colour so that classes stay visible, pasted into one ARGB32
buffer and drawn as one QImage, as PointCloudItem draws its dots.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter

from explorer.plotting.point_cloud import device_area, draw_buffer

DEFAULT_SIZE_PX = 32
"""On-screen side of one thumbnail: a 28x28 digit inside a 2 px frame at its own resolution on a plain screen."""
FRAME_GREY = 0xFF808080
"""The frame's ARGB32 word when the points came without colours."""
CELL_LADDER = 4
"""Rungs of the cells' side per doubling of zoom: fewer rungs keep the choice still longer but leave more gaps."""


def pick_non_overlapping(x_px: np.ndarray, y_px: np.ndarray, priority: np.ndarray, size_px: float,
                         cell_px: float | tuple[float, float] | None = None) -> np.ndarray:
    """Indices of points whose size_px squares centred at (x_px, y_px) do not overlap, densely, by priority.

    Lower priority values are chosen first (ties: the lower index). The grid of cells (side `cell_px`, at least
    `size_px`; default `size_px`; one value or (x, y)) is anchored at x_px = y_px = 0. Each non-empty cell
    offers its first point, and a candidate is dropped only if its square overlaps that of a better one
    accepted in a neighbouring cell, so every point has a chosen one within two cells in x and in y. Two
    chosen squares never overlap: |dx| >= size_px or |dy| >= size_px (touching edges are allowed). The result
    is in priority order.
    """
    x = np.asarray(x_px, dtype=np.float64)
    y = np.asarray(y_px, dtype=np.float64)
    priority = np.asarray(priority, dtype=np.float64)
    size = float(size_px)
    if size <= 0:
        raise ValueError(f"size_px must be positive, got {size_px}")
    cw, ch = (size, size) if cell_px is None else np.broadcast_to(np.asarray(cell_px, np.float64), 2)
    if cw < size or ch < size:
        raise ValueError(f"cells ({cw}, {ch}) must be at least size_px ({size}) wide: checks look one cell around")
    if not len(x):
        return np.zeros(0, np.intp)
    cx = np.floor(x / cw).astype(np.int64)
    cy = np.floor(y / ch).astype(np.int64)
    cx -= cx.min()
    cy -= cy.min()
    rows = int(cy.max()) + 1
    key = cx * rows + cy

    # the best point of each cell: a dense per-cell minimum while the grid is small (it is, for points in view)
    cells = int(key.max()) + 1
    if cells <= max(4 * len(key), 1 << 16):
        best = np.full(cells, np.inf)
        np.minimum.at(best, key, priority)
        first = np.flatnonzero(priority == best[key])  # ascending, so ties keep their lowest index first
        _, at = np.unique(key[first], return_index=True)
        candidates = first[at]
    else:
        order = np.lexsort((np.arange(len(key)), priority, key))
        keys = key[order]
        candidates = order[np.r_[True, keys[1:] != keys[:-1]]]
    candidates = candidates[np.lexsort((candidates, priority[candidates]))]

    # greedy, in priority order: only the neighbouring cells can hold a square closer than one cell
    accepted: dict[tuple[int, int], tuple[float, float]] = {}
    chosen = []
    for i, gx, gy, px, py in zip(candidates.tolist(), cx[candidates].tolist(), cy[candidates].tolist(),
                                 x[candidates].tolist(), y[candidates].tolist()):
        clear = True
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                other = accepted.get((gx + dx, gy + dy))
                if other is not None and abs(other[0] - px) < size and abs(other[1] - py) < size:
                    clear = False
                    break
            if not clear:
                break
        if clear:
            accepted[(gx, gy)] = (px, py)
            chosen.append(i)
    return np.asarray(chosen, dtype=np.intp)


def _frame_px(size_px: float) -> int:
    """The frame's width in device-independent pixels: 2, or 1 on thumbnails too small to spare it."""
    return 1 if size_px < 24 else 2


class ThumbnailItem(pg.GraphicsObject):
    """Each point's input image at its position, framed in the point's colour, as many as fit without overlap.

    Draw it over a PointCloudItem holding the same points. Auto-ranging sees only the points, padded by half a
    thumbnail so that the outermost ones fit.
    """

    def __init__(self):
        super().__init__()
        self._xy = np.zeros((0, 2), np.float64)
        self._colours = np.zeros(0, np.uint32)
        self._priority = np.zeros(0, np.int64)
        self._images: np.ndarray | None = None
        self._bounds = QRectF()
        self._size = float(DEFAULT_SIZE_PX)
        self._shown = np.zeros(0, np.intp)

    # --- data
    def set_images(self, images: np.ndarray | None) -> None:
        """(N, C, H, W) uint8 with C = 1 (grey) or 3 (RGB), in the points' order; None draws none."""
        if images is not None:
            images = np.asarray(images)
            if images.ndim != 4 or images.shape[1] not in (1, 3) or images.dtype != np.uint8:
                raise ValueError(f"images must be (N, 1 or 3, H, W) uint8, got {images.shape} {images.dtype}")
        self._images = images
        self.update()

    def set_points(self, xy: np.ndarray, colours: np.ndarray) -> None:
        """xy (N, 2) in view coordinates; colours (N,) ARGB32 words for the frames (an empty array: grey)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self.prepareGeometryChange()
        if len(xy) != len(self._priority):  # the same points keep their priority across refreshes
            self._priority = np.random.default_rng(0).permutation(len(xy))
        self._xy = xy
        colours = np.asarray(colours, dtype=np.uint32)
        self._colours = colours if len(colours) == len(xy) else np.full(len(xy), FRAME_GREY, np.uint32)
        if len(xy):
            lo, hi = xy.min(0), xy.max(0)
            self._bounds = QRectF(lo[0], lo[1], max(hi[0] - lo[0], 1e-9), max(hi[1] - lo[1], 1e-9))
        else:
            self._bounds = QRectF()
        self.update()

    def set_size(self, px: float) -> None:
        """On-screen side of one thumbnail, frame included, in device-independent pixels (at least 6)."""
        self.prepareGeometryChange()
        self._size = max(6.0, float(px))
        self.update()

    def shown(self) -> np.ndarray:
        """Indices (into the points' order) of the thumbnails drawn at the last paint; none while hidden."""
        return self._shown.copy() if self.isVisible() else np.zeros(0, np.intp)

    # --- pyqtgraph item
    def boundingRect(self) -> QRectF:
        if self._bounds.isNull():
            return QRectF()
        px, py = self.pixelVectors()  # the thumbnails reach half a side past the outermost points
        pad = self.pixelPadding()
        ex = 0.0 if px is None else px.length() * pad
        ey = 0.0 if py is None else py.length() * pad
        return self._bounds.adjusted(-ex, -ey, ex, ey)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()  # the padding is in pixels, so the bounds in view units change with zoom
        super().viewTransformChanged()

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        if not len(self._xy):
            return None
        col = self._xy[:, ax]
        return float(col.min()), float(col.max())

    def pixelPadding(self) -> float:
        return self._size / 2 + 1

    def paint(self, painter: QPainter, option, widget=None) -> None:
        self._shown = np.zeros(0, np.intp)
        images = self._images
        if not len(self._xy) or images is None or len(images) != len(self._xy):
            return
        placed = device_area(self, painter, self._bounds)
        if placed is None:
            return
        area, dpr = placed
        tr = painter.transform()
        w, h = int(area.width() * dpr), int(area.height() * dpr)
        side = max(6, int(round(self._size * dpr)))
        # device pixels measured from the view's origin (the cells' anchor), then shifted into the buffer
        ax = (tr.m11() * self._xy[:, 0] + tr.m21() * self._xy[:, 1]) * dpr
        ay = (tr.m12() * self._xy[:, 0] + tr.m22() * self._xy[:, 1]) * dpr
        ox, oy = (tr.m31() - area.left()) * dpr, (tr.m32() - area.top()) * dpr
        half = side / 2
        near = np.flatnonzero((ax + ox > -half) & (ax + ox < w + half) & (ay + oy > -half) & (ay + oy < h + half))
        if not len(near):
            return
        cells = (self._cell_px(np.hypot(tr.m11(), tr.m12()) * dpr, side),
                 self._cell_px(np.hypot(tr.m21(), tr.m22()) * dpr, side))
        chosen = near[pick_non_overlapping(ax[near], ay[near], self._priority[near], side, cells)]

        frame = max(1, int(round(_frame_px(self._size) * dpr)))
        tiles = self._tiles(images, chosen, side, frame)
        lefts = np.floor(ax[chosen] + ox - half).astype(np.intp)  # floor keeps squares >= side apart disjoint
        tops = np.floor(ay[chosen] + oy - half).astype(np.intp)
        buf = np.zeros((h, w), np.uint32)
        for tile, left, top in zip(tiles, lefts.tolist(), tops.tolist()):
            x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + side, w), min(top + side, h)
            if x0 < x1 and y0 < y1:
                buf[y0:y1, x0:x1] = tile[y0 - top:y1 - top, x0 - left:x1 - left]
        self._shown = chosen
        draw_buffer(painter, buf, area, dpr)

    # --- helpers
    @staticmethod
    def _cell_px(px_per_unit: float, side: int) -> float:
        """The cells' side in device pixels: the smallest rung of the ladder (in view units) at least `side` wide."""
        if not np.isfinite(px_per_unit) or px_per_unit <= 0:
            return float(side)
        rung = np.ceil(np.log2(side / px_per_unit) * CELL_LADDER) / CELL_LADDER
        return max(float(side), float(2.0 ** rung * px_per_unit))

    def _tiles(self, images: np.ndarray, chosen: np.ndarray, side: int, frame: int) -> np.ndarray:
        """(k, side, side) ARGB32: the chosen images resampled (nearest) inside a frame of their points' colour."""
        inner = side - 2 * frame
        _, c, hi, wi = images.shape
        rows = np.minimum(((np.arange(inner) + 0.5) * hi / inner).astype(np.intp), hi - 1)
        cols = np.minimum(((np.arange(inner) + 0.5) * wi / inner).astype(np.intp), wi - 1)
        pixels = images[chosen][:, :, rows[:, None], cols[None, :]].astype(np.uint32)  # (k, C, inner, inner)
        if c == 1:
            words = pixels[:, 0] * np.uint32(0x010101)
        else:
            words = (pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2]
        tiles = np.empty((len(chosen), side, side), np.uint32)
        tiles[:] = self._colours[chosen][:, None, None]
        tiles[:, frame:side - frame, frame:side - frame] = words | np.uint32(0xFF000000)
        return tiles
