"""The scatter's markers: the A/B rings on clicked points, the draggable z marker of the decoder sliders, and the
path of one point's q from the encoder's guess to q* (classical VI, explorer.models.PointInference).

`MarkersMixin` turns a click on a point into the cursor's z and interpolation end A (Shift+click: end B), rings
the picked points, and keeps the marker on the cursor's z: dragging it moves the cursor to the z it now stands
for. It relies on the panel for `cursor`, `_latents`, `_xy`, `plot`, `_project`, `_lift`, `_nearest`,
`_update_grid` and the point signals.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt

VI_PATH_RGB = "#2ca02c"
VI_PATH_POINTS = 300
"""At most this many steps of a classical-VI path are drawn (evenly spaced, both ends kept)."""


class MarkersMixin:
    """Points picked by a click (A, and B with Shift) and the marker at the decoder sliders' z."""

    def _build_pick_rings(self) -> None:
        self._selected: dict[str, int] = {}
        self._selection_items = {}
        for key, colour in (("a", "#d62728"), ("b", "#1f3fbf")):
            ring = pg.ScatterPlotItem(size=16, pen=pg.mkPen(colour, width=2.5), brush=None, symbol="o")
            # below left: the marker's label is above right
            text = pg.TextItem(key.upper(), color=colour, anchor=(1.4, -0.1))
            ring.hide()
            text.hide()
            self.plot.addItem(ring)
            self.plot.addItem(text)
            self._selection_items[key] = (ring, text)

    def _build_marker(self) -> None:
        self._syncing = False
        self.cursor.sig_moved.connect(self._on_cursor_moved)
        self.marker = pg.TargetItem(pos=(0, 0), size=18, movable=True, pen=pg.mkPen("#111111", width=2),
                                    hoverPen=pg.mkPen("#d62728", width=2.5), label="z",
                                    labelOpts={"color": "#111111", "offset": (10, -10)})
        self.marker.setToolTip("The decoder sliders' z; drag it to decode live")
        self.marker.setZValue(20)
        self.marker.hide()
        self.plot.addItem(self.marker)

    def _build_vi_path(self) -> None:
        self.vi_path = pg.PlotDataItem([], [], pen=pg.mkPen(VI_PATH_RGB, width=3))
        self.vi_path.setToolTip("Classical VI: the path of this point's q from the encoder's guess to q*")
        self.vi_end = pg.ScatterPlotItem(size=15, symbol="star", brush=pg.mkBrush(VI_PATH_RGB),
                                         pen=pg.mkPen("#111111", width=1))
        self.vi_end.setToolTip("q*: the Gaussian classical VI fitted to this example alone")
        for item in (self.vi_path, self.vi_end):
            item.setZValue(25)  # over the z marker, which stands on one of its ends
            item.hide()
            self.plot.addItem(item)
        self.point.sig_changed.connect(self._update_vi_path)

    def vi_path_points(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the classical-VI path as drawn (empty when none is)."""
        if not self.vi_path.isVisible():
            return np.zeros(0), np.zeros(0)
        x, y = self.vi_path.getData()
        return np.asarray(x), np.asarray(y)

    def _update_vi_path(self) -> None:
        """Draw the held trace's path in the current view; not in UMAP/t-SNE, whose maps place no new points."""
        from explorer.panels.latent.views import MAPS

        trace = self.point.trace
        if trace is None or self._latents is None or trace.means.shape[1] != self._latents.latent_dim \
                or self.mode in MAPS:
            self.vi_path.hide()
            self.vi_end.hide()
            return
        keep = np.unique(np.linspace(0, len(trace.means) - 1, VI_PATH_POINTS).round().astype(int))
        xy = np.array([self._project(z) for z in trace.means[keep]], dtype=np.float64)
        self.vi_path.setData(xy[:, 0], xy[:, 1])
        self.vi_end.setData([xy[-1, 0]], [xy[-1, 1]])
        self.vi_path.show()
        self.vi_end.show()

    # --- points picked by a click ---------------------------------------------------------------------
    def selected(self, key: str = "a") -> int | None:
        return self._selected.get(key)

    def select(self, index: int, second: bool = False) -> None:
        """What a click (or Shift+click) on point `index` does."""
        if self._latents is None:
            return
        key = "b" if second else "a"
        self._selected[key] = int(index)
        self._update_selection_items()
        mu = np.array(self._latents.mu[index], dtype=np.float32)
        if not second:
            self.cursor.move_to(mu)
        self.cursor.set_end(key, mu, f"#{int(self._latents.indices[index])}")
        (self.sig_point_b_selected if second else self.sig_point_selected).emit(int(index), mu)

    def _on_scene_clicked(self, event) -> None:
        if event.button() != Qt.LeftButton or event.isAccepted():
            return
        if self.marker.isVisible() and self.marker.sceneBoundingRect().contains(event.scenePos()):
            return
        index = self._nearest(event.scenePos())
        if index is not None:
            self.select(index, second=bool(event.modifiers() & Qt.ShiftModifier))

    def _update_selection_items(self) -> None:
        for key, (ring, text) in self._selection_items.items():
            index = self._selected.get(key)
            if index is None or self._latents is None or index >= len(self._xy):
                ring.hide()
                text.hide()
                continue
            x, y = (float(v) for v in self._xy[index])
            ring.setData([x], [y])
            text.setPos(x, y)
            ring.show()
            text.show()
        self._update_vi_path()  # every view change comes through here

    # --- the decoder sliders' z -----------------------------------------------------------------------
    def _on_cursor_moved(self, _z, origin) -> None:
        if origin is not self:  # a dragged marker stands where the mouse put it
            self._update_marker()
        self._update_grid()

    # --- what tests may read ------------------------------------------------------------------------
    def marker_position(self) -> tuple[float, float]:
        p = self.marker.pos()
        return float(p.x()), float(p.y())

    def _update_marker(self) -> None:
        z = self.cursor.z
        if self._latents is None or len(z) != self._latents.latent_dim:
            self.marker.hide()
            return
        self._syncing = True
        try:
            self.marker.setPos(*self._project(z))
        finally:
            self._syncing = False
        self.marker.show()

    def _on_marker_moved(self, *_args) -> None:
        z = self.cursor.z
        if self._syncing or self._latents is None or len(z) != self._latents.latent_dim:
            return
        p = self.marker.pos()
        self.cursor.move_to(self._lift(z, float(p.x()), float(p.y())), origin=self)
