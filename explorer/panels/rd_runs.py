"""The rate–distortion plane's compared runs: each run's trail and end point in its colour, the empirical frontier
of the end points, and the regions the theory names (explorer.panels.rd composes it).

`ComparedRunsMixin` relies on the panel for `plot`, `_runs`, `_anchor`, `_trails`, `_trail_steps`, `end_points`,
`frontier`, the region items, `sig_run_clicked` and `_show_moment`.
"""

from __future__ import annotations

import math

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg

from trainer.analysis.rd import frontier_indices

SMOOTHING = 0.8
"""EMA per report for the drawn trajectory: single reports are noisy batch averages."""
MAX_TRAIL_POINTS = 400
"""A compared run's trajectory is drawn with at most this many points."""


class ComparedRunsMixin:
    """Draws the compared runs (set_runs) on the plane."""

    def _draw_runs(self) -> None:
        ends = [r for r in self._runs if math.isfinite(r.rate) and math.isfinite(r.distortion)]
        keep = set()
        for run in self._runs:
            steps = run.history.get("steps/step")
            if steps is None or not len(steps):
                continue
            pick = slice(None, None, max(1, len(steps) // MAX_TRAIL_POINTS))  # thinned first: a bounded cost
            rate = _smoothed(np.asarray(run.history["steps/kl"], dtype=float)[pick])
            dist = _smoothed(np.asarray(run.history["steps/recon"], dtype=float)[pick])
            trail = self._trails.get(run.key)
            if trail is None:  # items are kept and updated: adding to the scene is what costs
                trail = self._trails[run.key] = pg.PlotDataItem(pen=pg.mkPen(run.colour, width=1.3))
                trail.setOpacity(0.55)
                self.plot.addItem(trail)
            trail.setData(rate, dist)
            self._trail_steps[run.key] = np.asarray(steps, dtype=float)[pick]
            keep.add(run.key)
        for key in [k for k in self._trails if k not in keep]:
            self.plot.removeItem(self._trails.pop(key))
            self._trail_steps.pop(key, None)
        self._show_moment()
        selected = None if self._anchor is None else self._anchor[0]
        self.end_points.setData(
            [r.rate for r in ends], [r.distortion for r in ends], data=[r.key for r in ends],
            brush=[pg.mkBrush(r.colour) for r in ends],
            pen=[pg.mkPen("#000000", width=2.2) if r.name == selected else pg.mkPen("#ffffff", width=1.2)
                 for r in ends],
            size=[15 if r.name == selected else 11 for r in ends])
        self.end_points.setToolTip("\n".join(f"{r.name}: β {r.beta:g}, R {r.rate:.2f}, D {r.distortion:.2f}"
                                             for r in ends))
        on = frontier_indices([r.rate for r in ends], [r.distortion for r in ends])
        self.frontier.setData([ends[i].rate for i in on], [ends[i].distortion for i in on])
        shown = bool(ends)
        for item in (self.collapse_band, self.collapse_label, self.autoencoder_label):
            item.setVisible(shown)
        self.frontier_label.setVisible(len(on) >= 2)
        if len(on) >= 2:
            mid = on[len(on) // 2]
            self.frontier_label.setPos(ends[mid].rate, ends[mid].distortion)
        self._place_region_labels()

    def _place_region_labels(self) -> None:
        (x0, x1), (y0, y1) = self.plot.getPlotItem().vb.viewRange()
        self.collapse_label.setPos(max(x0, 0.0) + 0.01 * (x1 - x0), y1 - 0.02 * (y1 - y0))
        self.autoencoder_label.setPos(x1 - 0.01 * (x1 - x0), y0 + 0.03 * (y1 - y0))

    def _on_end_point_clicked(self, _item, points, *_args) -> None:
        if len(points):
            self.sig_run_clicked.emit(str(points[0].data()))


def _smoothed(values: np.ndarray) -> np.ndarray:
    """The same moving average as the live trajectory's (SMOOTHING per report)."""
    out = np.empty(len(values))
    acc = values[0] if len(values) else 0.0
    for i, v in enumerate(values):
        acc = SMOOTHING * acc + (1 - SMOOTHING) * v
        out[i] = acc
    return out
