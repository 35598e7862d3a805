"""The curve plots' view ranges: they follow the data in coarse jumps until the user zooms or pans.

    ranges = SteadyRanges()
    ranges.add_plot("rate", plot, empty=(0.1, 100.0))   # each plot as it is made; its y range before any data
    ranges.follow(keys, x_max, y_values)                # after a redraw of `keys`: y_values(key) -> what they draw
    ranges.show_empty()                                 # before any data
    ranges.reset()                                      # new data (cleared, other runs overlaid): follow again

pyqtgraph's continuous auto-range re-lays out ticks, labels and grid every frame, and that made up most of a
frame's cost; here an axis changes only when the data outgrows it (or shrinks far inside it), with headroom so
the next change is a while off. Zooming or panning by hand stops following on the axes moved; a plot's "A"
button resumes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import partial

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg

from explorer.plotting.axes import nice_ceiling

EMPTY_X_RANGE = (0, 1000)
"""Steps an empty plot shows."""


class SteadyRanges:
    """The x range shared by a set of plots over the same steps, and each plot's own y range."""

    def __init__(self) -> None:
        self._plots: dict[str, pg.PlotItem] = {}
        self._empty: dict[str, tuple[float, float]] = {}  # key -> y range before any data, in data units
        self._follow_x = True
        self._x_limit = 0.0
        self._x_applied: dict[str, float] = {}  # x limit each plot shows while following
        self._follow_y: dict[str, bool] = {}
        self._y_limits: dict[str, tuple[float, float] | None] = {}

    def add_plot(self, key: str, plot: pg.PlotItem, empty: tuple[float, float]) -> None:
        """Take over `plot`'s range; `empty` is the y range it shows before any data (data units, lo > 0)."""
        # x is kept in step by hand (follow, _on_range_changed_by_hand), not by setXLink: a linked change
        # repaints every linked plot in one go, which with the four curve plots stalled the GUI thread for the
        # length of four paints
        plot.vb.disableAutoRange()
        plot.vb.sigRangeChangedManually.connect(partial(self._on_range_changed_by_hand, key))
        self._plots[key] = plot
        self._empty[key] = empty
        self._follow_y[key], self._y_limits[key] = True, None

    def reset(self) -> None:
        """Follow the data again on every axis, fitting afresh."""
        self._follow_x, self._x_limit = True, 0.0
        self._x_applied.clear()
        for key in self._follow_y:
            self.reset_y(key)

    def reset_y(self, key: str) -> None:
        """Follow one plot's y again, fitting afresh (e.g. its units changed to log10)."""
        self._follow_y[key], self._y_limits[key] = True, None

    def show_empty(self) -> None:
        """Before any data: each plot's typical scale instead of 0..1 (from 0 on a linear axis)."""
        self._take_over_auto_range()
        for key, plot in self._plots.items():
            lo, hi = self._empty[key]
            if plot.vb.state["logMode"][1]:
                lo, hi = math.log10(lo), math.log10(hi)
            else:
                lo = 0.0
            plot.vb.setRange(xRange=EMPTY_X_RANGE, yRange=(lo, hi), padding=0)

    def follow(self, keys: Iterable[str], x_max: float, y_values: Callable[[str], np.ndarray]) -> None:
        """Keep the views of `keys` around their data, changing the axes only when the data outgrows them.

        `x_max` is the last step any plot draws; `y_values(key)` is every value one plot draws, asked for only
        while that plot's y follows.
        """
        self._take_over_auto_range()
        if self._follow_x and (x_max > self._x_limit or self._x_limit > 6 * x_max):
            self._x_limit = nice_ceiling(x_max * 1.25)  # headroom, so the axis changes now and then
        for key in keys:
            vb = self._plots[key].vb
            if self._follow_x and self._x_applied.get(key) != self._x_limit:
                vb.setXRange(0, self._x_limit, padding=0.01)  # each plot on its own tick
                self._x_applied[key] = self._x_limit
            if self._follow_y[key]:
                self._fit_y(key, y_values(key))

    def _take_over_auto_range(self) -> None:
        """The "A" button turns pyqtgraph's auto-range on: turn it off again and follow instead."""
        for key, plot in self._plots.items():
            x_auto, y_auto = plot.vb.autoRangeEnabled()
            if x_auto or y_auto:
                plot.vb.disableAutoRange()
            if x_auto:
                self._follow_x, self._x_limit = True, 0.0
                self._x_applied.clear()
            if y_auto:
                self.reset_y(key)

    def _fit_y(self, key: str, values: np.ndarray) -> None:
        log = self._plots[key].vb.state["logMode"][1]
        if log:  # the view works in log10 units; values <= 0 are not drawn
            values = np.log10(values[values > 0])
        values = values[np.isfinite(values)]
        if not len(values):
            return
        lo, hi = float(values.min()), float(values.max())
        span = hi - lo if hi > lo else (0.3 if log else max(abs(hi) * 0.1, 1e-3))
        current = self._y_limits[key]
        if (current is not None and current[0] <= lo and hi <= current[1]
                and current[1] - current[0] < 3 * span + 1e-12):
            return
        bottom = lo - 0.25 * span  # losses fall: room below means fewer axis changes
        if not log and lo >= 0:
            bottom = max(bottom, -0.02 * span)  # rate and distortion are >= 0: no empty band below zero
        limits = (bottom, hi + 0.06 * span)
        self._y_limits[key] = limits
        self._plots[key].vb.setYRange(*limits, padding=0)

    def _on_range_changed_by_hand(self, key: str, mask) -> None:
        """The user zoomed or panned: stop following on the axes they moved, and move the others' x along."""
        if mask[0]:
            self._follow_x = False
            lo, hi = self._plots[key].vb.viewRange()[0]
            for other, plot in self._plots.items():
                if other != key:
                    plot.vb.setXRange(lo, hi, padding=0)
        if mask[1]:
            self._follow_y[key] = False
