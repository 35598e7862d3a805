"""A ViewBox whose left-drag draws a selection box or lasso instead of panning, when a selection tool is on.

    vb = ShapeViewBox()
    plot = pg.PlotWidget(viewBox=vb)
    vb.tool = "lasso"                     # "pan" (pyqtgraph's own drag), "box" or "lasso"
    vb.sig_shape.connect(on_shape)        # (kind, (K, 2) vertices in view coordinates, how)
    vb.clear_outline()

`how` says what the shape does to the current selection, from the keys held when the drag ended, as in image
editors: "replace" (no key), "add" (Shift) or "remove" (Ctrl, or ⌘ on macOS). The outline stays drawn, dashed,
until clear_outline(), so the user sees what they selected. The wheel still zooms and the right and middle
buttons still pan, so a selection tool never traps the view.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

TOOLS = ("pan", "box", "lasso")
OUTLINE = "#303030"
MIN_VERTEX_PX = 3
"""A lasso takes a new vertex once the mouse has moved this many screen pixels (fewer vertices, same shape)."""


class ShapeViewBox(pg.ViewBox):
    """pyqtgraph's ViewBox plus box and lasso selection on the left button."""

    sig_shape = Signal(str, object, str)
    """A finished shape: ("box" | "lasso", (K, 2) float64 vertices in view coordinates, "replace"|"add"|"remove")."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tool = "pan"
        self._vertices: list[tuple[float, float]] = []
        self._outline = QGraphicsPathItem()
        pen = QPen(QColor(OUTLINE), 1.5, Qt.DashLine)
        pen.setCosmetic(True)  # the same width at any zoom
        self._outline.setPen(pen)
        self._outline.setBrush(QBrush(QColor(40, 40, 40, 22)))
        self._outline.setZValue(30)
        self.addItem(self._outline, ignoreBounds=True)

    def outline(self) -> np.ndarray:
        """(K, 2) vertices of the shape drawn now (empty when none)."""
        return np.array(self._vertices, np.float64).reshape(-1, 2)

    def clear_outline(self) -> None:
        self._vertices = []
        self._outline.setPath(QPainterPath())

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph override)
        if self.tool == "pan" or ev.button() != Qt.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        here = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self._vertices = [(start.x(), start.y())]
        if self.tool == "box":
            x0, y0 = self._vertices[0]
            self._vertices = [(x0, y0), (here.x(), y0), (here.x(), here.y()), (x0, here.y())]
        elif self._far_enough(ev):
            self._vertices.append((here.x(), here.y()))
        self._draw()
        if ev.isFinish():
            mods = ev.modifiers()
            how = "add" if mods & Qt.ShiftModifier else "remove" if mods & Qt.ControlModifier else "replace"
            self.sig_shape.emit(self.tool, self.outline(), how)

    def _far_enough(self, ev) -> bool:
        if ev.isFinish():
            return True
        last = self.mapViewToScene(QPointF(*self._vertices[-1]))
        step = ev.scenePos() - last
        return abs(step.x()) + abs(step.y()) >= MIN_VERTEX_PX

    def _draw(self) -> None:
        path = QPainterPath()
        if self._vertices:
            path.moveTo(*self._vertices[0])
            for v in self._vertices[1:]:
                path.lineTo(*v)
            path.closeSubpath()
        self._outline.setPath(path)
