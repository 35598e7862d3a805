"""Axes for plots that redraw while data streams in: steady widths, two tick levels, cached, opaque grids.

    configure_pyqtgraph()                      # once, before the first plot: light plots, no antialiasing
    steady_axes(plot)                          # SteadyAxis left and bottom, drawn behind the data
    steady_axes(plot, left=PlainLogAxis)       # a log-scale y axis labelled 0.5, 30, 400
"""

from __future__ import annotations

import math

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFontMetricsF, QPen
from PySide6.QtWidgets import QGraphicsItem


def configure_pyqtgraph() -> None:
    """Light plots that sit well in a standard Qt window.

    No antialiasing: Qt's raster engine draws antialiased lines many times slower, and the curves redraw
    while training.
    """
    pg.setConfigOptions(background="w", foreground="#404040", antialias=False)


class SteadyAxis(pg.AxisItem):
    """An axis that costs the GUI thread little while data streams in.

    - No auto SI prefix: a changing "(x1e3)" re-lays out the label.
    - Two tick levels, not three: the finest level's short ticks and faint grid lines were a third of the
      cost of regenerating an axis when its range changes.
    - Room for tick labels only grows: pyqtgraph also shrank it whenever the labels got shorter ("-10" to
      "5"), and every change of an axis's width re-lays out its plot and repaints it whole, in the same turn.
    - A pixmap cache: a plot whose range did not change repaints its axes without regenerating ticks and
      text (pyqtgraph's slowest paint, in Python).
    - Opaque grid lines: pyqtgraph fades grid lines with alpha, and Qt's raster engine draws a translucent
      line far slower than an opaque one; the faded colour is mixed with the
      background instead, which looks the same on the plots' opaque background.
    """

    def __init__(self, orientation: str, **kwargs):
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setStyle(autoReduceTextSpace=False, maxTickLevel=1)

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):  # noqa: N802 (pyqtgraph override)
        background = pg.getConfigOption("background")
        if background is not None:
            background = pg.mkColor(background)
            tickSpecs = [(_mixed_with(pen, background), p1, p2) for pen, p1, p2 in tickSpecs]
        super().drawPicture(p, axisSpec, tickSpecs, textSpecs)


def _mixed_with(pen: QPen, background: QColor) -> QPen:
    """The pen, made opaque: its translucent colour composited over an opaque background colour."""
    colour = pen.color()
    alpha = colour.alphaF()
    if alpha >= 1.0 or background.alpha() < 255:
        return pen
    opaque = QPen(pen)
    opaque.setColor(QColor.fromRgbF(*(alpha * c + (1 - alpha) * b for c, b in (
        (colour.redF(), background.redF()), (colour.greenF(), background.greenF()),
        (colour.blueF(), background.blueF())))))
    return opaque


def steady_axes(plot: pg.PlotItem, left: type[SteadyAxis] = SteadyAxis) -> None:
    """Give a plot SteadyAxis axes (before its labels and grid are set: they belong to the axes), drawn behind
    the data (pyqtgraph draws them above it), so that the now opaque grid lines never cover a point."""
    plot.setAxisItems({"left": left("left"), "bottom": SteadyAxis("bottom")})
    for name in ("left", "bottom"):
        plot.getAxis(name).setZValue(plot.vb.zValue() - 1)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten that is >= value (limits that read well)."""
    if not value > 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(value))
    return next(m * base for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * base >= value * (1 - 1e-12))


class PlainLogAxis(SteadyAxis):
    """Log-scale ticks read 0.5, 30, 400 instead of pyqtgraph's 5·10⁻¹, 3·10¹, 4·10².

    Labels are thinned so they never pile up: over more than a decade only 1, 2 and 5 times a power of ten are
    labelled, and when the axis is too short for the labels of a tier (a plot squeezed by docked panels) the
    next sparser one is used: every tick, then 1-2-5, then powers of ten.
    """

    TIERS = (None, (1, 2, 5, 10), (1, 10))
    """Mantissas that keep their label, richest first; None keeps every tick's."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph override)
        values = np.asarray(values, dtype=float)
        numbers = [10.0 ** v * scale if np.isfinite(v) else math.nan for v in values]
        mantissas = [n / 10.0 ** math.floor(math.log10(n)) if n > 0 else math.nan for n in numbers]
        room = self.geometry().height() if self.orientation in ("left", "right") else 0.0
        line = QFontMetricsF(self.style.get("tickFont") or self.font()).height() + 2
        first = 1 if abs(self.range[1] - self.range[0]) > 1.0 else 0
        for tier in self.TIERS[first:]:
            keep = [math.isfinite(m) and (tier is None or min(abs(m - t) for t in tier) < 1e-6) for m in mantissas]
            if room <= 0 or sum(keep) * line <= room:
                break
        return [f"{n:g}" if k else "" for n, k in zip(numbers, keep)]
