"""Where the explored run's moment (and moment A) sits on a plot over training: a vertical line on a curve plot,
a ring on the rate–distortion trajectory.

    lines = MomentLines([plot_item, ...])         # one vertical line per plot, hidden while the views follow
    lines.show(explored.value)                    # explorer.models.explored_run.Explored: its moment and pinned
    ring = MomentRing(plot_item)
    ring.show(explored.value, lambda step: (rate, distortion) or None)

Both draw only; the moment's one owner is explorer.models.explored_run.ExploredRun.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt

MOMENT_COLOUR = "#d62728"
PINNED_COLOUR = "#2ca02c"


def _label(explored, pinned: bool) -> str:
    return f"A · step {explored.pinned:,}" if pinned else f"step {explored.moment:,}"


class MomentLines:
    """A vertical line at the moment's step (and a dashed one at moment A's) on each of `plots`."""

    def __init__(self, plots: list[pg.PlotItem]):
        self.lines: list[tuple[pg.InfiniteLine, pg.InfiniteLine]] = []
        for plot in plots:
            moment = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(MOMENT_COLOUR, width=1.6))
            pinned = pg.InfiniteLine(angle=90, movable=False,
                                     pen=pg.mkPen(PINNED_COLOUR, width=1.4, style=Qt.DashLine))
            for line in (moment, pinned):
                line.setZValue(20)
                line.setVisible(False)
                plot.addItem(line, ignoreBounds=True)
            self.lines.append((moment, pinned))

    def show(self, explored) -> None:
        for moment, pinned in self.lines:
            for line, step in ((moment, explored.moment), (pinned, explored.pinned)):
                line.setVisible(step is not None)
                if step is not None:
                    line.setValue(float(step))

    @property
    def moment_step(self) -> float | None:
        """Where the moment's line stands (None: hidden)."""
        line = self.lines[0][0] if self.lines else None
        return float(line.value()) if line is not None and line.isVisible() else None


class MomentRing:
    """A ring around the trajectory's point at the moment's step, and a labelled one at moment A's."""

    def __init__(self, plot: pg.PlotItem):
        self.rings = {}
        self.labels = {}
        for name, colour in (("moment", MOMENT_COLOUR), ("pinned", PINNED_COLOUR)):
            ring = pg.ScatterPlotItem(size=18, symbol="o", brush=pg.mkBrush(None), pen=pg.mkPen(colour, width=2.2))
            ring.setZValue(12)
            label = pg.TextItem(color=colour, anchor=(-0.15, 1.1))
            plot.addItem(ring)
            plot.addItem(label, ignoreBounds=True)
            self.rings[name], self.labels[name] = ring, label

    def show(self, explored, point_at) -> None:
        """`point_at(step)`: the trajectory's (x, y) at that step, or None where it has none."""
        for name, step in (("moment", explored.moment), ("pinned", explored.pinned)):
            where = point_at(step) if step is not None else None
            ring, label = self.rings[name], self.labels[name]
            ring.setData(*(([where[0]], [where[1]]) if where is not None else ([], [])))
            label.setVisible(where is not None)
            if where is not None:
                label.setText(_label(explored, name == "pinned"))
                label.setPos(*where)

    def position(self, name: str = "moment") -> tuple[float, float] | None:
        """Where a ring is drawn (None: not drawn)."""
        x, y = self.rings[name].getData()
        return (float(x[0]), float(y[0])) if len(x) else None
