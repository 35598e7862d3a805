"""The rate–distortion plane (Alemi et al. 2018): where training is, where it came from, where β pulls it.

    panel = RateDistortionPanel()
    panel.add_steps(step, rate, distortion)    # columns from the worker's CurveBatch (kl, recon), nats per example
    panel.set_beta(beta, beta_target)          # a report: the effective β (target times the schedule factor)
    panel.preview_beta(target)                 # the user set a β target: the line previews it at once
    panel.add_reference("beta4.h5", rate, distortion)   # another checkpoint, for comparison
    panel.set_history(checkpoint.history)      # the trajectory of an opened checkpoint

Every point of the plane has a loss D + βR; the dashed line through the current point is the set of
(R, D) with the same loss, slope −β: it shows the exchange rate the objective offers, nats of distortion per
nat of rate. The dotted grey line is the same for β = 1, the ELBO's: −ELBO = D + R.

Which β the line uses: the effective β of the latest report (the target times the schedule's factor, what the
loss weighs the rate with). When the user sets a new target, the line previews it at once as the target times
the latest factor (what the trainer will apply at its next step) and says so in the readout; reports keep the
preview, tracking only the factor, until one says the trainer has taken the new target on.
"""

from __future__ import annotations

import math

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from explorer.plotting.axes import steady_axes
from explorer.plotting.curve_buffer import CurveBuffer
from trainer.geometry import rd_line

REDRAW_INTERVAL_MS = 1000
"""Reports arrive up to 30 times a second; the point moves slowly, and the curves are the live view: one
redraw a second suffices (a redraw of the trail costs the GUI thread about as much as the four curves
together)."""
RECENT_FRACTION = 0.6
"""With "Follow", the view frames the newest 60% of the trajectory: the first steps' distortion (hundreds of
nats) would otherwise flatten the part where β matters."""
SMOOTHING = 0.8
"""EMA per report for the drawn trajectory: single reports are noisy batch averages."""
TRAJECTORY_COLOUR = "#1f77b4"
BETA_COLOUR = "#7b4fa0"
"""β's colour in the curves panel."""


def _frames(lo: float, hi: float, want_lo: float, want_hi: float) -> bool:
    """The shown span [lo, hi] contains the wanted one and is not much wider (so the view moves in jumps)."""
    span = max(want_hi - want_lo, 1e-12)
    return lo <= want_lo and hi >= want_hi and (hi - lo) <= 1.5 * span


class RateDistortionPanel(QWidget):
    """Rate on x, distortion on y: the smoothed trajectory, the current point, the β line and reference points."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._buffer = CurveBuffer(5)  # step, rate, distortion, and their moving averages
        self._ema: tuple[float, float] | None = None
        self._beta = 1.0  # the β the line uses: the effective one, or the preview's
        self._factor = 1.0  # the schedule's factor in the latest report (effective β / target)
        self._preview: float | None = None  # a β target the user set that no report has shown applied yet
        self._references: list[tuple[str, float, float]] = []
        self._by_hand = False

        self.readout = QLabel("The trajectory appears once training starts.")
        self.readout.setTextFormat(Qt.RichText)
        self.readout.setWordWrap(True)
        # room for three lines from the start: a readout that re-wrapped to another line count resized the plot,
        # and a plot's resize re-lays out its axes, a stall of the GUI thread while training
        self.readout.setMinimumHeight(3 * self.readout.fontMetrics().lineSpacing())
        self.follow = QCheckBox("Follow")
        self.follow.setChecked(True)
        self.follow.setToolTip("Frame the recent part of the trajectory, the β line and the reference points.\n"
                               "Zooming or panning by hand turns this off.")
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.getPlotItem().hideButtons()
        steady_axes(self.plot.getPlotItem())
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "rate R = KL(q‖p) (nats)")
        self.plot.setLabel("left", "distortion D (nats)")
        self.plot.setMinimumSize(260, 200)
        self.plot.setToolTip(
            "Rate R = KL(q(z|x) ‖ p(z)), distortion D = −E log p(x|z), nats per example.\n"
            "The line is the moving average of the training reports' (R, D).\n"
            "Dashed: the β-VAE loss D + βR is constant along it (slope −β). Dotted: the same for β = 1 (−ELBO).")
        self.trail = self.plot.plot(pen=pg.mkPen(TRAJECTORY_COLOUR, width=2))
        self.start = pg.ScatterPlotItem(size=8, symbol="s", brush=pg.mkBrush("#ffffff"), pen=pg.mkPen(TRAJECTORY_COLOUR, width=1.5))
        self.current = pg.ScatterPlotItem(size=13, brush=pg.mkBrush(TRAJECTORY_COLOUR), pen=pg.mkPen("#ffffff", width=1.5))
        self.current.setZValue(10)
        self.beta_line = pg.PlotDataItem(pen=pg.mkPen(BETA_COLOUR, width=2, style=Qt.DashLine))
        self.elbo_line = pg.PlotDataItem(pen=pg.mkPen("#a0a0a0", width=1.2, style=Qt.DotLine))
        # rides on the line where it enters the view (top or left edge), so it never sits on the data
        self.beta_label = pg.TextItem(color=BETA_COLOUR, anchor=(0, 1.0))
        self.references = pg.ScatterPlotItem(size=10, symbol="d", brush=pg.mkBrush("#ff7f0e"), pen=pg.mkPen("#804000"))
        self.plot.addItem(self.start)
        self.plot.addItem(self.references)
        self.plot.addItem(self.current)
        # the lines are drawn across the view; leaving them out of the auto-range keeps the data framed
        self.plot.addItem(self.beta_line, ignoreBounds=True)
        self.plot.addItem(self.elbo_line, ignoreBounds=True)
        self.plot.addItem(self.beta_label, ignoreBounds=True)
        self._reference_labels: list[pg.TextItem] = []
        vb = self.plot.getPlotItem().vb
        vb.sigRangeChanged.connect(self._on_range_changed)
        vb.sigRangeChangedManually.connect(self._on_range_changed_by_hand)
        self.follow.toggled.connect(self._on_follow_toggled)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        header = QHBoxLayout()
        header.addWidget(self.readout, 1)
        header.addWidget(self.follow, 0, Qt.AlignTop)
        layout.addLayout(header)
        layout.addWidget(self.plot, 1)

        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_INTERVAL_MS)
        self._redraw_timer.timeout.connect(self._on_redraw_due)

    # --- data in --------------------------------------------------------------------------------
    def add_steps(self, step, rate, distortion) -> None:
        """Per-report columns (nats per example): rate = KL, distortion = recon."""
        step = np.asarray(step, dtype=float).reshape(-1)
        rate = np.asarray(rate, dtype=float).reshape(-1)
        distortion = np.asarray(distortion, dtype=float).reshape(-1)
        if not len(step):
            return
        rows = np.empty((len(step), 5))
        rows[:, 0], rows[:, 1], rows[:, 2] = step, rate, distortion
        r_s, d_s = self._ema if self._ema is not None else (rate[0], distortion[0])
        for i in range(len(step)):
            r_s = SMOOTHING * r_s + (1 - SMOOTHING) * rate[i]
            d_s = SMOOTHING * d_s + (1 - SMOOTHING) * distortion[i]
            rows[i, 3], rows[i, 4] = r_s, d_s
        self._ema = (float(r_s), float(d_s))
        self._buffer.append(rows)
        self._schedule()

    def set_beta(self, beta: float, target: float | None = None) -> None:
        """A report's effective β (the objective's now) and its β target. While a preview is pending and the
        report's target is not the previewed one, the line keeps previewing (times the report's factor)."""
        beta = float(beta)
        if target is not None and float(target) > 0:
            self._factor = beta / float(target)
        if self._preview is not None:
            if target is None or not math.isclose(float(target), self._preview, rel_tol=1e-9):
                self._show(self._preview * self._factor)  # not applied yet: keep the preview
                return
            self._preview = None  # the trainer took the previewed target on
        self._show(beta)

    def preview_beta(self, target: float) -> None:
        """The user set a β target: the line shows at once the β it will give (target times the latest schedule
        factor), and keeps it until a report's target says the trainer applied it."""
        self._preview = float(target)
        self._show(self._preview * self._factor, force=True)

    def _show(self, beta: float, force: bool = False) -> None:
        if beta == self._beta and not force:
            return  # every progress batch repeats it
        self._beta = beta
        self._draw_lines()

    def add_reference(self, name: str, rate: float, distortion: float) -> None:
        """Another model's (R, D), e.g. a loaded checkpoint's held-out evaluation."""
        self._references.append((str(name), float(rate), float(distortion)))
        self._draw_references()
        self._schedule()

    def clear_references(self) -> None:
        self._references.clear()
        self._draw_references()

    def set_history(self, arrays: dict) -> None:
        """Replace the trajectory with a checkpoint's ("steps/step", "steps/kl", "steps/recon", "steps/beta")."""
        self.clear()
        steps = arrays.get("steps/step")
        if steps is not None and len(steps):
            self.add_steps(steps, arrays["steps/kl"], arrays["steps/recon"])
            if "steps/beta" in arrays and len(arrays["steps/beta"]):
                self._beta = float(np.asarray(arrays["steps/beta"])[-1])
        self._preview = None  # another run: its β is the one to show
        self._factor = 1.0
        self.refresh_now()

    def clear(self) -> None:
        self._buffer.clear()
        self._ema = None
        self.refresh_now()

    def refresh_now(self) -> None:
        self._redraw_timer.stop()
        self._redraw()

    # --- what tests may read --------------------------------------------------------------------
    @property
    def beta(self) -> float:
        """The β the line uses (slope −β): the latest report's effective β, or a pending preview's."""
        return self._beta

    @property
    def previewing(self) -> bool:
        """True while the line previews a β target the trainer has not applied yet."""
        return self._preview is not None

    def trajectory(self) -> tuple[np.ndarray, np.ndarray]:
        """(rate, distortion) of the stored reports (raw, decimated when long)."""
        rows = self._buffer.rows()
        return rows[:, 1].copy(), rows[:, 2].copy()

    def current_point(self) -> tuple[float, float] | None:
        """The point the β line goes through: the smoothed latest (R, D)."""
        return self._ema

    def beta_line_points(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.beta_line.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    # --- drawing ----------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def _on_redraw_due(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        rows = self._buffer.rows()
        if not len(rows):
            self.trail.setData([], [])
            self.start.setData([], [])
            self.current.setData([], [])
            self._draw_lines()
            self.readout.setText("The trajectory appears once training starts.")
            return
        self.trail.setData(rows[:, 3], rows[:, 4])
        self.start.setData([rows[0, 3]], [rows[0, 4]])
        r, d = self._ema
        self.current.setData([r], [d])
        if self.follow.isChecked():
            self._frame(rows)
        self._draw_lines()

    def _frame(self, rows: np.ndarray) -> None:
        """Rate from 0 to past the largest seen; distortion around the recent part and the references."""
        recent = rows[int(len(rows) * (1 - RECENT_FRACTION)):, 3:5]
        rates = np.concatenate([rows[:, 3], [r for _, r, _ in self._references]])
        dists = np.concatenate([recent[:, 1], [d for _, _, d in self._references]])
        r_hi = max(float(rates.max()), 1e-3)
        d_lo, d_hi = float(dists.min()), float(dists.max())
        pad = max(0.1 * (d_hi - d_lo), 0.02 * abs(d_hi), 1e-3)
        vb = self.plot.getPlotItem().vb
        x_hi = r_hi * 1.08
        if self._references:  # room for the names written to the right of their points
            x_hi = max(x_hi, max(r for _, r, _ in self._references) * 1.3)
        want_x, want_y = (0.0, x_hi), (d_lo - 1.5 * pad, d_hi + pad)
        (cx0, cx1), (cy0, cy1) = vb.viewRange()
        if _frames(cx0, cx1, *want_x) and _frames(cy0, cy1, *want_y):
            return  # the view still frames the data well: re-laying out the axes is most of a repaint's cost
        vb.setRange(xRange=want_x, yRange=want_y, padding=0)

    def _on_range_changed(self, *_args) -> None:
        self._draw_lines()

    def _on_range_changed_by_hand(self, *_args) -> None:
        self._by_hand = True  # keep the user's zoom: untick Follow without re-framing
        self.follow.setChecked(False)
        self._by_hand = False

    def _on_follow_toggled(self, on: bool) -> None:
        if on:
            self._redraw()
        elif not self._by_hand:
            self.plot.getPlotItem().vb.autoRange(padding=0.05)  # unticked: the whole trajectory

    def _draw_lines(self) -> None:
        if self._ema is None:
            self.beta_line.setData([], [])
            self.elbo_line.setData([], [])
            self.beta_label.setText("")
            return
        r, d = self._ema
        (x0, x1), _ = self.plot.getPlotItem().vb.viewRange()
        span = (min(x0, 0.0), max(x1, r * 2 + 1))
        xs, ys = rd_line(r, d, self._beta, span)
        self.beta_line.setData(xs, ys)
        if abs(self._beta - 1.0) > 1e-9:
            ex, ey = rd_line(r, d, 1.0, span)
            self.elbo_line.setData(ex, ey)
        else:
            self.elbo_line.setData([], [])
        self.beta_label.setText(f"D + {self._beta:.3g}·R = {d + self._beta * r:.1f}")
        (vx0, vx1), (vy0, vy1) = self.plot.getPlotItem().vb.viewRange()
        const = d + self._beta * r
        x = vx0 + 0.02 * (vx1 - vx0)
        y_top = vy1 - 0.04 * (vy1 - vy0)
        anchor = (0, 1.0)  # above the line, where it enters through the left edge
        if self._beta > 0 and const - self._beta * x > y_top:
            x = (const - y_top) / self._beta  # the line leaves through the top: label it there
            anchor = (0, 0.0)  # hanging below the top edge, not clipped above it
        if tuple(self.beta_label.anchor) != anchor:
            self.beta_label.setAnchor(anchor)
        self.beta_label.setPos(x, const - self._beta * x)
        self.readout.setText(
            f"<b>R</b> {r:.2f} nats &nbsp; <b>D</b> {d:.2f} nats &nbsp; −ELBO {r + d:.2f} &nbsp; "
            f"<span style='color:{BETA_COLOUR}'><b>β = {self._beta:.3g}</b> ({self._beta_source()}): the loss "
            f"D + βR is constant along the dashed line (slope −β)</span>")

    def _beta_source(self) -> str:
        """Which β the line uses, for the readout (short: a readout that wraps to more lines resizes the plot)."""
        if self._preview is None:
            return "effective"
        if math.isclose(self._factor, 1.0, rel_tol=1e-9):
            return "preview of your β"
        return f"preview: your β {self._preview:.3g} × schedule {self._factor:.2f}"

    def _draw_references(self) -> None:
        for label in self._reference_labels:
            self.plot.removeItem(label)
        self._reference_labels = []
        if not self._references:
            self.references.setData([], [])
            return
        self.references.setData([r for _, r, _ in self._references], [d for _, _, d in self._references])
        for name, r, d in self._references:
            label = pg.TextItem(name, color="#804000", anchor=(-0.1, 0.5))
            label.setPos(r, d)
            self.plot.addItem(label)
            self._reference_labels.append(label)
