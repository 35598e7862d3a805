"""The training curves: distortion, rate, −ELBO and β against the optimizer step.

    panel = CurvesPanel()
    panel.add_steps(step, recon, kl, elbo, beta)        # numpy columns from the worker's CurveBatch
    panel.add_epoch(step, test_recon, test_kl, test_elbo)
    panel.add_beta_changes([(step, beta), ...])
    panel.set_history(checkpoint.history)               # the same, all at once, from a checkpoint
    panel.set_overlays(catalog.compared())              # other runs' smoothed curves in their colours

Each plot shows the train value per report (faint), its exponential moving average (bold) and the held-out
value after each epoch (dots). Histories live in a `CurveBuffer` that halves its resolution when full, so a
run of 10^6 steps draws as fast as one of 10^3; the per-report curve draws each bin's min and max, so a lone
spike (the kind that comes before a divergence) keeps its height however long the run. Drawing is what costs
the GUI thread (and, through the GIL, the training), so it is rationed: one plot per timer tick, axes that
move in coarse jumps instead of every frame (explorer.panels.curve_ranges), no antialiasing, and ticks that
stretch when a paint was slow (see REDRAW_DUTY).
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from explorer.models.explored_run import ExploredRun
from explorer.panels.curve_ranges import SteadyRanges
from explorer.panels.curve_specs import (BOUND_COLOR, BOUND_TOOLTIP, COLUMN_INDEX, COLUMNS, EMA_COLUMNS, PLOTS,
                                        SMOOTHED, PlotSpec, ema, overlay_values)
from explorer.plotting.axes import PlainLogAxis, configure_pyqtgraph, steady_axes
from explorer.plotting.curve_buffer import CurveBuffer
from explorer.plotting.moment_marks import MomentLines

REDRAW_INTERVAL_MS = (50, 1000)
"""Bounds of the pause between redraw ticks (one plot per tick): at most ~5 refreshes per plot a second."""
REDRAW_DUTY = 0.05
"""Share of the GUI thread's time the curves may spend drawing; the pause stretches to keep it, so a slow or
busy machine redraws less often instead of stalling the window (and, through the GIL, the training)."""
EMPTY_Y_RANGES = {"distortion": (10.0, 1000.0), "rate": (0.1, 100.0), "nelbo": (10.0, 1000.0), "beta": (0.01, 100.0)}
"""What an empty plot shows: the usual scale of each quantity for small images (β: the slider's range)."""
TITLE_PX = 20
"""Height of a plot's title row (pyqtgraph reserves 30 px): the plots need the height more."""
MIN_PLOT_PX = 90
"""Each curve plot's data area keeps at least this height: docked panels squeezed it to ~40 px, unreadable."""
MAX_BETA_MARKERS = 100
"""β-change lines kept per plot (the newest); the β curve itself still shows every change."""


# --- view ------------------------------------------------------------------------------------
class _TimedGraphicsLayout(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that remembers how long its last paint took (wall seconds)."""

    last_paint_s = 0.0

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        started = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_s = time.perf_counter() - started


class CurvesPanel(QWidget):
    """Four plots over the same steps under one legend, with a log-y toggle, EMA smoothing and a crosshair."""

    def __init__(self, explored: ExploredRun | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        configure_pyqtgraph()
        self.explored = explored if explored is not None else ExploredRun(self)
        self._buffer = CurveBuffer(len(COLUMNS))
        self._ema_state: dict[str, tuple[float, float]] = {}  # key -> (step, smoothed value) at the end
        self._epochs = {key: [] for key in ("step", "distortion", "rate", "nelbo")}
        self._beta_changes: list[tuple[int, float]] = []
        self._markers: dict[str, list[pg.InfiniteLine]] = {spec.key: [] for spec in PLOTS}
        self._hovering = False  # the mouse is over a plot and the readout follows it
        self._stale: set[str] = set()  # plots whose data changed since they were last drawn
        self._last_drawn = ""
        self._ranges = SteadyRanges()  # the plots' views, following the data in coarse jumps
        self._overlays: dict[str, dict[str, np.ndarray]] = {}  # run key -> "step" and each plot's smoothed values
        self._overlay_items: dict[str, dict[str, pg.PlotDataItem]] = {}  # run key -> plot key -> its line

        # shared pens and brushes: pyqtgraph caches by identity, and one definition keeps the look consistent
        self._marker_pen = pg.mkPen("#7b4fa0", width=1, style=Qt.DashLine)
        self._cross_pen = pg.mkPen("#909090", width=1, style=Qt.DotLine)
        self._epoch_pen = pg.mkPen("w", width=1.2)

        self.smoothing = QDoubleSpinBox(minimum=0.0, maximum=0.999, singleStep=0.05, decimals=2, value=0.6)
        self.smoothing.setToolTip("Exponential moving average of the train curve, per 10 steps (0 = raw reports).\n"
                                  "The faint line is the raw reports; held-out dots are never smoothed.")
        self.log_y = QCheckBox("Log y")
        self.log_y.setToolTip("Logarithmic y axes: shows the early fast drop and the late slow gains together.\n"
                              "Turns itself off when a value is <= 0 (e.g. a Gaussian likelihood's distortion).")
        self.readout = QLabel()
        self.readout.setTextFormat(Qt.RichText)
        self.readout.setMinimumWidth(200)

        self.graphics = _TimedGraphicsLayout()
        self.graphics.ci.setSpacing(6)
        self.plots: dict[str, pg.PlotItem] = {}
        self._train: dict[str, pg.PlotDataItem] = {}
        self._raw: dict[str, pg.PlotDataItem] = {}
        self._heldout: dict[str, pg.PlotDataItem] = {}
        self._cross: dict[str, pg.InfiniteLine] = {}
        self.legend = self._make_legend()
        self.graphics.addItem(self.legend, row=0, col=0, colspan=2)
        for i, spec in enumerate(PLOTS):
            self._add_plot(spec, row=1 + i // 2, col=i % 2)
        self.bound_k: int | None = None
        """IWAE's K when the run trains on its bound: the loss is then drawn beside −ELBO (show_bound)."""
        self._bound = self.plots["nelbo"].plot(pen=pg.mkPen(BOUND_COLOR, width=2, style=Qt.DashLine))
        self._bound.hide()
        self.graphics.setMinimumHeight(self._min_graphics_height())
        self.moment_lines = MomentLines(list(self.plots.values()))
        """A line at the explored run's moment (and a dashed one at moment A) on every plot."""
        self.explored.sig_moment_changed.connect(self.moment_lines.show)

        header = QHBoxLayout()
        header.setContentsMargins(6, 4, 6, 0)
        header.addWidget(self.readout, 1)
        header.addWidget(QLabel("Smoothing"))
        header.addWidget(self.smoothing)
        header.addSpacing(12)
        header.addWidget(self.log_y)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.graphics, 1)

        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_INTERVAL_MS[0])
        self._redraw_timer.timeout.connect(self._on_redraw_due)
        self.log_y.toggled.connect(self._on_log_y_toggled)
        self.smoothing.valueChanged.connect(self._on_smoothing_changed)
        self.log_y.setChecked(True)  # the first steps' drop is 10-50x the later gains: linear hides the latter
        self._mouse_proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved)
        self._show_readout(None)

    def _add_plot(self, spec: PlotSpec, row: int, col: int) -> None:
        plot = self.graphics.addPlot(row=row, col=col)
        steady_axes(plot, left=PlainLogAxis)
        plot.setTitle(spec.title, size="10pt")
        plot.titleLabel.setMaximumHeight(TITLE_PX)
        plot.layout.setRowFixedHeight(0, TITLE_PX)
        if row == 2:  # the plots share their steps: the axis title under the lower row says it for both rows
            plot.setLabel("bottom", "step")
        plot.setLabel("left", "nats" if spec.key != "beta" else "β")
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setToolTip(spec.tooltip)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        self._ranges.add_plot(spec.key, plot, empty=EMPTY_Y_RANGES[spec.key])
        color = pg.mkColor(spec.color)
        faint = pg.mkColor(spec.color)
        faint.setAlpha(60)
        self._raw[spec.key] = plot.plot(pen=pg.mkPen(faint, width=1))
        self._train[spec.key] = plot.plot(pen=pg.mkPen(color, width=2))
        if spec.key == "beta":
            self._raw[spec.key].hide()  # a faint β line would only double the bold one
            plot.setLogMode(y=True)  # the β control is logarithmic (0.01 to 100), so is its plot
        else:
            self._heldout[spec.key] = plot.plot(
                pen=None, symbol="o", symbolSize=7, symbolBrush=pg.mkBrush(color.darker(130)),
                symbolPen=self._epoch_pen,
            )
        cross = pg.InfiniteLine(angle=90, movable=False, pen=self._cross_pen)
        cross.hide()
        plot.addItem(cross, ignoreBounds=True)
        self.plots[spec.key] = plot
        self._cross[spec.key] = cross

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        # pyqtgraph cannot shrink the legend's row of four entries: in a narrower centre (the latent panels
        # docked beside it) it takes two rows instead of overflowing the plots
        columns = 4 if event.size().width() >= self._legend_one_row_px else 2
        if self.legend.columnCount != columns:
            self.legend.setColumnCount(columns)
        super().resizeEvent(event)

    def _min_graphics_height(self) -> int:
        """Legend (two rows at most) and two rows of plots whose data areas keep MIN_PLOT_PX."""
        line = QFontMetricsF(self.font()).height()
        axis = 2 * line + 12  # tick labels and the axis title (the rows are given equal heights: both count it)
        legend = 2 * (line + 9)
        return int(legend + 2 * (TITLE_PX + MIN_PLOT_PX + axis) + 30)

    def _make_legend(self) -> pg.LegendItem:
        """One legend for all four plots, in neutral grey: each plot's title already names its colour."""
        legend = pg.LegendItem(colCount=4, labelTextSize="9pt", horSpacing=12)
        legend.layout.setContentsMargins(2, 0, 2, 0)
        samples = (
            (pg.PlotDataItem(pen=pg.mkPen("#505050", width=2)), "train, smoothed"),
            (pg.PlotDataItem(pen=pg.mkPen("#c8c8c8", width=1)), "per report"),
            (pg.PlotDataItem(pen=None, symbol="o", symbolSize=7, symbolBrush="#505050", symbolPen=self._epoch_pen),
             "held-out, each epoch"),
            (pg.PlotDataItem(pen=self._marker_pen), "β changed"),
        )
        for item, name in samples:
            legend.addItem(item, name)
        self._legend_one_row_px = int(legend.layout.preferredWidth()) + 40  # plus the margins around it
        self._legend_samples = [item for item, _ in samples]  # the legend only draws them; keep them alive
        return legend

    # --- feeding data (GUI thread) ------------------------------------------------------------
    def clear(self) -> None:
        self._buffer.clear()
        self._ema_state.clear()
        for values in self._epochs.values():
            values.clear()
        self._beta_changes.clear()
        for key, lines in self._markers.items():
            for line in lines:
                self.plots[key].removeItem(line)
            lines.clear()
        self._ranges.reset()
        self._redraw()

    def show_bound(self, k: int | None) -> None:
        """The run trains on IWAE's bound with K samples (None: it does not): its loss is drawn, dashed, on the
        −ELBO plot as −bound, with the plot's title and tooltip saying so."""
        self.bound_k = k
        spec = next(spec for spec in PLOTS if spec.key == "nelbo")
        bound = f"<span style='color:{BOUND_COLOR}'>−IWAE-{k} bound</span>"
        title = spec.title if k is None else f"−ELBO and {bound} (the loss)"
        self.plots["nelbo"].setTitle(title, size="10pt")
        self.plots["nelbo"].setToolTip(spec.tooltip if k is None else f"{spec.tooltip}\n\n{BOUND_TOOLTIP}")
        self._bound.setVisible(k is not None)
        self._ranges.reset_y("nelbo")
        self._schedule_redraw()

    def add_steps(self, step, recon, kl, elbo, beta, loss=None) -> None:
        """Train values per report: columns of equal length, nats per example (recon = distortion, kl = rate;
        loss: the training loss, drawn when it is IWAE's negative bound)."""
        step = np.asarray(step, dtype=float)
        if not len(step):
            return
        values = {"distortion": np.asarray(recon, float), "rate": np.asarray(kl, float),
                  "nelbo": -np.asarray(elbo, float),
                  "loss": np.full(len(step), np.nan) if loss is None else np.asarray(loss, float)}
        smoothing = self.smoothing.value()
        rows = np.empty((len(step), len(COLUMNS)))
        rows[:, COLUMN_INDEX["step"]] = step
        rows[:, COLUMN_INDEX["beta"]] = beta
        for key, column in values.items():
            rows[:, COLUMN_INDEX[key]] = column
            smooth = ema(step, column, smoothing, self._ema_state.get(key))
            rows[:, COLUMN_INDEX[key + "_ema"]] = smooth
            self._ema_state[key] = (float(step[-1]), float(smooth[-1]))
        self._buffer.append(rows)
        drawn = [*SMOOTHED, "loss"] if self.bound_k is not None else SMOOTHED
        if self.log_y.isChecked() and (rows[:, [COLUMN_INDEX[key] for key in drawn]] <= 0).any():
            self.log_y.setChecked(False)  # log10 would silently drop those points
        self._schedule_redraw()

    def add_epoch(self, step: int, test_recon: float, test_kl: float, test_elbo: float) -> None:
        """One held-out evaluation (nats per example) at the step where an epoch ended."""
        for key, value in (("step", step), ("distortion", test_recon), ("rate", test_kl), ("nelbo", -test_elbo)):
            self._epochs[key].append(float(value))
        if self.log_y.isChecked() and min(test_recon, test_kl, -test_elbo) <= 0:
            self.log_y.setChecked(False)
        self._schedule_redraw()

    def add_beta_changes(self, changes) -> None:
        """(step, β target) pairs: a dashed line on every plot at the step where the change took effect."""
        for step, value in changes:
            self._beta_changes.append((int(step), float(value)))
            for spec in PLOTS:
                label = f"β → {value:.3g}" if spec.key == "beta" else None
                line = pg.InfiniteLine(
                    pos=step, angle=90, movable=False, pen=self._marker_pen, label=label,
                    labelOpts={"position": 0.92, "color": "#7b4fa0", "fill": (255, 255, 255, 200)},
                )
                self.plots[spec.key].addItem(line, ignoreBounds=True)
                lines = self._markers[spec.key]
                lines.append(line)
                if len(lines) > MAX_BETA_MARKERS:
                    self.plots[spec.key].removeItem(lines.pop(0))

    def set_history(self, arrays: dict[str, np.ndarray]) -> None:
        """Replace everything with a checkpoint's history ("steps/recon", "epochs/test_elbo", ...)."""
        self.clear()
        steps = arrays.get("steps/step")
        if steps is not None and len(steps):
            self.add_steps(steps, arrays["steps/recon"], arrays["steps/kl"], arrays["steps/elbo"],
                           arrays["steps/beta"], arrays.get("steps/loss"))
        epochs = arrays.get("epochs/step")
        if epochs is not None:
            for i in range(len(epochs)):
                self.add_epoch(epochs[i], arrays["epochs/test_recon"][i], arrays["epochs/test_kl"][i],
                               arrays["epochs/test_elbo"][i])
        if "beta_changes/step" in arrays:
            self.add_beta_changes(zip(arrays["beta_changes/step"].tolist(), arrays["beta_changes/value"].tolist()))
        self.refresh_now()

    def set_overlays(self, runs) -> None:
        """Other runs' curves, smoothed like the live one, each in its colour (explorer.models.run_catalog.RunRecord:
        key, colour, history with "steps/step", "steps/recon", "steps/kl", "steps/beta"). Replaces the previous set."""
        wanted = {}
        for run in runs:
            values = overlay_values(run.history, self.smoothing.value())
            if values is not None:
                wanted[run.key] = (run.colour, values)
        for key in [k for k in self._overlay_items if k not in wanted]:
            for plot_key, item in self._overlay_items.pop(key).items():
                self.plots[plot_key].removeItem(item)
        self._overlays = {key: values for key, (_, values) in wanted.items()}
        for key, (colour, values) in wanted.items():
            items = self._overlay_items.setdefault(key, {})
            for plot_key in self.plots:
                if plot_key not in items:
                    items[plot_key] = self.plots[plot_key].plot(pen=pg.mkPen(colour, width=1.4))
                    items[plot_key].setZValue(-1)  # under the live run's curves
                items[plot_key].setPen(pg.mkPen(colour, width=1.4))
                items[plot_key].setData(values["step"], values[plot_key])
        self._ranges.reset()
        self._schedule_redraw()  # one plot per tick, as live updates: a sweep's runs report several times a second

    def overlay_keys(self) -> list[str]:
        """The runs drawn over the live curves."""
        return list(self._overlay_items)

    # --- what tests and later panels may read -------------------------------------------------
    def curve(self, key: str, smoothed: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(step, value) of a stored train curve: distortion, rate, nelbo or beta."""
        rows = self._buffer.rows()
        col = key + "_ema" if smoothed and key in SMOOTHED else key
        return rows[:, 0].copy(), rows[:, COLUMN_INDEX[col]].copy()

    def plotted(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(step, value) the faint per-report curve of a plot draws: each bin's min and max once bins merge."""
        x, y = self._raw[key].xData, self._raw[key].yData
        return (np.zeros(0), np.zeros(0)) if x is None else (np.array(x), np.array(y))

    def bound_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(step, −bound) the dashed IWAE line draws (smoothed); empty while the run trains no bound."""
        x, y = self._bound.xData, self._bound.yData
        if x is None or not self._bound.isVisible():
            return np.zeros(0), np.zeros(0)
        return np.array(x), np.array(y)

    def title(self, key: str) -> str:
        """A plot's title as shown (rich text)."""
        return self.plots[key].titleLabel.text

    def heldout(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self._epochs["step"]), np.array(self._epochs[key])

    def beta_changes(self) -> list[tuple[int, float]]:
        return list(self._beta_changes)

    def marker_steps(self, key: str = "distortion") -> list[float]:
        """Steps of the β-change lines drawn on one plot."""
        return [line.value() for line in self._markers[key]]

    # --- drawing ------------------------------------------------------------------------------
    def _schedule_redraw(self) -> None:
        self._stale.update(self.plots)
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def refresh_now(self) -> None:
        """Draw every plot at once (screenshots, loading a history); live updates go one plot per tick."""
        self._redraw_timer.stop()
        self._redraw()

    def _on_redraw_due(self) -> None:
        if not self._stale:
            return
        # One plot per tick, in turn: four short paints keep the GUI thread responsive where one paint of
        # all four plots held it (and the GIL) four times as long.
        order = list(self.plots)
        start = order.index(self._last_drawn) + 1 if self._last_drawn in order else 0
        key = next(order[(start + i) % len(order)] for i in range(len(order))
                   if order[(start + i) % len(order)] in self._stale)
        started = time.perf_counter()
        self._redraw([key])
        cost = time.perf_counter() - started + self.graphics.last_paint_s
        low, high = REDRAW_INTERVAL_MS
        self._redraw_timer.setInterval(int(min(max(1000 * cost / REDRAW_DUTY, low), high)))
        if self._stale:
            self._redraw_timer.start()

    def _redraw(self, keys=None) -> None:
        keys = list(self.plots) if keys is None else keys
        rows = self._buffer.rows()
        x = rows[:, 0]
        for key in keys:
            self._raw[key].setData(*self._buffer.peaks(COLUMN_INDEX[key]))  # min and max per bin: spikes stay
            smooth_col = key + "_ema" if key in SMOOTHED else key
            self._train[key].setData(x, rows[:, COLUMN_INDEX[smooth_col]])
            if key in self._heldout:
                self._heldout[key].setData(self._epochs["step"], self._epochs[key])
            if key == "nelbo" and self.bound_k is not None:
                self._bound.setData(x, rows[:, COLUMN_INDEX["loss_ema"]])
            self._stale.discard(key)
            self._last_drawn = key
        self._follow_ranges(rows, keys)
        if not self._hovering:
            self._show_readout(None)

    def _follow_ranges(self, rows: np.ndarray, keys) -> None:
        """Keep the plots' views around their data (live rows and other runs' overlays), or typical scales."""
        if not len(rows) and not self._overlays:
            self._ranges.show_empty()
            return
        ends = [float(v["step"][-1]) for v in self._overlays.values()]
        x_max = max(ends + ([float(rows[-1, 0])] if len(rows) else []))
        self._ranges.follow(keys, x_max, partial(self._drawn_values, rows))

    def _drawn_values(self, rows: np.ndarray, key: str) -> np.ndarray:
        """Every value one plot draws: the faint curve (spikes included), the smoothed one, the dots, overlays."""
        columns = [self._buffer.peaks(COLUMN_INDEX[key])[1]]
        if key in SMOOTHED:
            columns += [rows[:, COLUMN_INDEX[key + "_ema"]], np.asarray(self._epochs[key])]
        if key == "nelbo" and self.bound_k is not None:
            columns.append(rows[:, COLUMN_INDEX["loss_ema"]])
        columns += [values[key] for values in self._overlays.values()]
        return np.concatenate(columns)

    def _on_log_y_toggled(self, on: bool) -> None:
        for key in SMOOTHED:
            self.plots[key].setLogMode(y=on)
            self._ranges.reset_y(key)  # new units: fit again
        self._redraw()

    def _on_smoothing_changed(self, smoothing: float) -> None:
        # recomputed on the stored points; decimated ones cover more steps and ema() weighs them so
        rows = self._buffer.rows()
        if not len(rows):
            return
        for key in EMA_COLUMNS:
            smooth = ema(rows[:, 0], rows[:, COLUMN_INDEX[key]], smoothing)
            self._buffer.replace_column(COLUMN_INDEX[key + "_ema"], smooth)
            self._ema_state[key] = (float(rows[-1, 0]), float(smooth[-1]))
        self._redraw()

    # --- crosshair ----------------------------------------------------------------------------
    def _on_mouse_moved(self, event) -> None:
        pos = event[0]
        for plot in self.plots.values():
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                for cross in self._cross.values():
                    cross.setPos(x)
                    cross.show()
                self._hovering = True
                self._show_readout(x)
                return
        for cross in self._cross.values():
            cross.hide()
        self._hovering = False
        self._show_readout(None)

    def _show_readout(self, x: float | None) -> None:
        rows = self._buffer.rows()
        if x is None or not len(rows):
            hint = ("Hover a plot to read the values at a step." if len(rows)
                    else "Press Start to train; the curves fill in live.")
            self.readout.setText(f"<span style='color:#808080'>{hint}</span>")
            return
        i = int(np.clip(np.searchsorted(rows[:, 0], x), 0, len(rows) - 1))
        if i > 0 and abs(rows[i - 1, 0] - x) < abs(rows[i, 0] - x):
            i -= 1
        row = rows[i]
        parts = [f"<b>step {row[0]:,.0f}</b>"]
        for spec in PLOTS:
            col = spec.key + "_ema" if spec.key in SMOOTHED else spec.key
            name = spec.title.split()[0]
            value = row[COLUMN_INDEX[col]]
            text = f"{value:.3g}" if spec.key == "beta" else f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"
            parts.append(f"<span style='color:{spec.color}'>{name} {text}</span>")
        if self.bound_k is not None:
            parts.append(f"<span style='color:{BOUND_COLOR}'>−bound {row[COLUMN_INDEX['loss_ema']]:.2f}</span>")
        self.readout.setText("&nbsp;&nbsp;&nbsp;".join(parts))
