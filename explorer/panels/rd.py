"""The rate–distortion plane (Alemi et al. 2018): where training is, where it came from, where β pulls it.

    panel = RateDistortionPanel(explored)      # explorer.models.explored_run: its moment rings the trajectory
    panel.add_steps(step, rate, distortion)    # columns from the worker's CurveBatch (kl, recon), nats per example
    panel.show_beta(live_beta.state)           # explorer.models.live_beta: the β to draw, and whether a preview
    panel.set_history(checkpoint.history)      # the trajectory of an opened checkpoint
    # other runs (explorer.models.run_catalog.RunRecord)
    panel.set_runs(catalog.compared(), selected="sweep/beta-4_seed-0.h5")
    panel.sig_run_clicked.connect(catalog.select)                        # a click on a run's end point

Every point of the plane has a loss D + βR; the dashed line through the current point is the set of
(R, D) with the same loss, slope −β: it shows the exchange rate the objective offers, nats of distortion per
nat of rate. The dotted grey line is the same for β = 1, the ELBO's: −ELBO = D + R.

Which β the line uses: the effective β of the latest report (the target times the schedule's factor, what the
loss weighs the rate with). When the user sets a new target, the line previews it at once as the target times
the latest factor (what the trainer will apply at its next step) and says so in the readout; reports keep the
preview, tracking only the factor, until one says the trainer has taken the new target on.

Compared runs (a sweep's, or any opened checkpoints) are drawn in their colours: each trajectory and its end
point, the held-out (R, D) after its last epoch. The empirical frontier joins the end points no mix of other
runs beats: their lower convex envelope (trainer.training.sweep.frontier_indices). When a compared run is selected,
the β line goes through its end point with its β. Two regions the theory names are marked: near R = 0 the
posterior has collapsed onto the prior and the decoder ignores z; at low D and high R the model is close to
a plain autoencoder, paying many nats of rate for little distortion.
"""

from __future__ import annotations

import math

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from explorer.models.explored_run import ExploredRun
from explorer.models.live_beta import BetaState
from explorer.plotting.axes import steady_axes
from explorer.plotting.curve_buffer import CurveBuffer
from explorer.plotting.moment_marks import MomentRing
from explorer.panels.rd_runs import SMOOTHING, ComparedRunsMixin
from trainer.analysis.geometry import rd_line

REDRAW_INTERVAL_MS = 1000
"""Reports arrive up to 30 times a second; the point moves slowly, and the curves are the live view: one
redraw a second suffices (a redraw of the trail costs the GUI thread about as much as the four curves
together)."""
RECENT_FRACTION = 0.6
"""With "Follow", the view frames the newest 60% of the trajectory: the first steps' distortion (hundreds of
nats) would otherwise flatten the part where β matters."""
TRAJECTORY_COLOUR = "#1f77b4"
BETA_COLOUR = "#7b4fa0"
"""β's colour in the curves panel."""
FRONTIER_COLOUR = "#202020"
REGION_COLOUR = "#9a9a9a"
COLLAPSE_RATE = 1.0
"""nats: the band 0 <= R < this is marked as collapse (a rate this low leaves the decoder next to nothing of x)."""


def _frames(lo: float, hi: float, want_lo: float, want_hi: float) -> bool:
    """The shown span [lo, hi] contains the wanted one and is not much wider (so the view moves in jumps)."""
    span = max(want_hi - want_lo, 1e-12)
    return lo <= want_lo and hi >= want_hi and (hi - lo) <= 1.5 * span


class RateDistortionPanel(ComparedRunsMixin, QWidget):
    """Rate on x, distortion on y: the smoothed trajectory, the current point, the β line and compared runs."""

    sig_run_clicked = Signal(str)
    """A compared run's end point was clicked: its key."""

    def __init__(self, explored: ExploredRun | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.explored = explored if explored is not None else ExploredRun(self)
        self._buffer = CurveBuffer(5)  # step, rate, distortion, and their moving averages
        self._ema: tuple[float, float] | None = None
        self._information: float | None = None  # the live run's held-out I(X; Z), nats
        self._beta = 1.0  # the β the line uses: the effective one, or the preview's
        self._beta_state = BetaState(applied=1.0, target=1.0)  # what LiveBeta said last: drawn, never decided here
        self.bound_k: int | None = None
        """IWAE's K when the live run trains on its bound (show_bound), else None."""
        self._runs: list = []  # compared RunRecords, as set_runs gave them
        self._anchor: tuple[str, float, float, float] | None = None  # a selected run: (name, R, D, β)
        self._trails: dict[str, pg.PlotDataItem] = {}  # compared run key -> its trajectory
        self._trail_steps: dict[str, np.ndarray] = {}  # compared run key -> the step of each trajectory point
        self._by_hand = False
        self._build_header()
        self._build_plot()
        self._build_items()
        self.end_points.sigClicked.connect(self._on_end_point_clicked)
        self.moment = MomentRing(self.plot.getPlotItem())
        """The trajectory's point at the explored run's moment (and at moment A)."""
        self.explored.sig_moment_changed.connect(self._show_moment)
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

    def _build_header(self) -> None:
        """The readout and the Follow check box above the plot."""
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

    def _build_plot(self) -> None:
        """The plane itself: axes, labels and the tooltip that explains the lines."""
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

    def _build_items(self) -> None:
        """What the plane draws: the trajectory and its ends, the β and ELBO lines, compared runs, the regions."""
        self.trail = self.plot.plot(pen=pg.mkPen(TRAJECTORY_COLOUR, width=2))
        self.start = pg.ScatterPlotItem(size=8, symbol="s", brush=pg.mkBrush("#ffffff"),
                                        pen=pg.mkPen(TRAJECTORY_COLOUR, width=1.5))
        self.current = pg.ScatterPlotItem(size=13, brush=pg.mkBrush(TRAJECTORY_COLOUR),
                                          pen=pg.mkPen("#ffffff", width=1.5))
        self.current.setZValue(10)
        self.beta_line = pg.PlotDataItem(pen=pg.mkPen(BETA_COLOUR, width=2, style=Qt.DashLine))
        self.elbo_line = pg.PlotDataItem(pen=pg.mkPen("#a0a0a0", width=1.2, style=Qt.DotLine))
        # rides on the line where it enters the view (top or left edge), so it never sits on the data
        self.beta_label = pg.TextItem(color=BETA_COLOUR, anchor=(0, 1.0))
        self.end_points = pg.ScatterPlotItem(size=11, symbol="o", hoverable=True, tip=None)
        self.end_points.setZValue(9)
        self.frontier = pg.PlotDataItem(pen=pg.mkPen(FRONTIER_COLOUR, width=2.2))
        self.frontier.setZValue(8)
        self.collapse_band = pg.LinearRegionItem((0.0, COLLAPSE_RATE), movable=False, brush=pg.mkBrush(200, 60, 60, 28),
                                                 pen=pg.mkPen(None))
        self.collapse_label = pg.TextItem("posterior collapse: R → 0,\nq(z|x) ≈ p(z), the decoder ignores z",
                                          color=REGION_COLOUR, anchor=(0, 0))
        self.autoencoder_label = pg.TextItem("≈ plain autoencoder: low D, many nats of R", color=REGION_COLOUR,
                                             anchor=(1, 1))
        self.frontier_label = pg.TextItem("frontier", color=FRONTIER_COLOUR, anchor=(0, 1))
        for item in (self.collapse_band, self.collapse_label, self.autoencoder_label, self.frontier_label):
            item.setVisible(False)
        self.plot.addItem(self.start)
        self.plot.addItem(self.frontier)
        self.plot.addItem(self.end_points)
        self.plot.addItem(self.collapse_band, ignoreBounds=True)
        for label in (self.collapse_label, self.autoencoder_label, self.frontier_label):
            self.plot.addItem(label, ignoreBounds=True)
        self.plot.addItem(self.current)
        # the lines are drawn across the view; leaving them out of the auto-range keeps the data framed
        self.plot.addItem(self.beta_line, ignoreBounds=True)
        self.plot.addItem(self.elbo_line, ignoreBounds=True)
        self.plot.addItem(self.beta_label, ignoreBounds=True)

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

    def show_beta(self, state: BetaState) -> None:
        """The window's β (explorer.models.live_beta.BetaState): the line's slope is state.shown, and the
        readout says whether that is the effective β or a preview of a target the trainer has not applied yet."""
        force = state.previewing != self._beta_state.previewing or state.requested != self._beta_state.requested
        self._beta_state = state
        if state.shown is not None and (state.shown != self._beta or force):  # every progress batch repeats it
            self._beta = state.shown
            self._draw_lines()

    def set_beta(self, beta: float) -> None:
        """An applied β with nothing pending (a run compared without a live trainer; tests)."""
        self.show_beta(BetaState(applied=float(beta), target=float(beta)))

    def set_runs(self, runs, selected: str | None = None) -> None:
        """The compared runs (explorer.models.run_catalog.RunRecord: key, name, colour, beta, rate, distortion,
        history) and the key of the selected one, whose end point the β line goes through."""
        self._runs = list(runs)
        chosen = next((r for r in self._runs if r.key == selected and math.isfinite(r.rate)), None)
        self._anchor = None if chosen is None else (chosen.name, chosen.rate, chosen.distortion, chosen.beta)
        self._draw_runs()
        self._draw_lines()
        self._schedule()

    def set_history(self, arrays: dict) -> None:
        """Replace the trajectory with a checkpoint's ("steps/step", "steps/kl", "steps/recon", "steps/beta")."""
        self.clear()
        steps = arrays.get("steps/step")
        if steps is not None and len(steps):
            self.add_steps(steps, arrays["steps/kl"], arrays["steps/recon"])
        self.refresh_now()  # its β comes from the window's LiveBeta, reset to the checkpoint's last

    def clear(self) -> None:
        self._buffer.clear()
        self._ema = None
        self._information = None
        self.refresh_now()

    def set_information(self, information: float | None) -> None:
        """The live run's held-out I(X; Z), the part of R that is information about x (InformationPanel)."""
        self._information = information
        self._draw_lines()

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
        return self._beta_state.previewing

    def trajectory(self) -> tuple[np.ndarray, np.ndarray]:
        """(rate, distortion) of the stored reports (raw, decimated when long)."""
        rows = self._buffer.rows()
        return rows[:, 1].copy(), rows[:, 2].copy()

    def current_point(self) -> tuple[float, float] | None:
        """The point the β line goes through: the smoothed latest (R, D)."""
        return self._ema

    def frontier_points(self) -> tuple[np.ndarray, np.ndarray]:
        """(rate, distortion) of the frontier as drawn, by increasing rate."""
        x, y = self.frontier.getData()
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def click_run(self, key: str) -> None:
        """What a click on that run's end point does."""
        self.sig_run_clicked.emit(key)

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
        self._show_moment()
        if not len(rows):
            self.trail.setData([], [])
            self.start.setData([], [])
            self.current.setData([], [])
            if self._runs and self.follow.isChecked():
                self._frame(np.zeros((0, 5)))
            self._draw_lines()
            if self._anchor is None:
                self.readout.setText("The trajectory appears once training starts.")
            return
        self.trail.setData(rows[:, 3], rows[:, 4])
        self.start.setData([rows[0, 3]], [rows[0, 4]])
        r, d = self._ema
        self.current.setData([r], [d])
        if self.follow.isChecked():
            self._frame(rows)
        self._draw_lines()

    def _show_moment(self, _explored=None) -> None:
        self.moment.show(self.explored.value, self._point_at)

    def _point_at(self, step: int) -> tuple[float, float] | None:
        """The explored run's smoothed trajectory (the live one, or a compared run's trail) at the report nearest
        `step`; None where it has none."""
        key = self.explored.value.key
        if self.explored.live:
            rows = self._buffer.rows()
            steps, rate, dist = rows[:, 0], rows[:, 3], rows[:, 4]
        elif key in self._trails:
            steps, (rate, dist) = self._trail_steps[key], self._trails[key].getData()
        else:
            return None
        if not len(steps) or rate is None:
            return None
        i = int(np.clip(np.searchsorted(steps, step), 0, len(steps) - 1))
        if i > 0 and abs(steps[i - 1] - step) <= abs(steps[i] - step):
            i -= 1
        return float(rate[i]), float(dist[i])

    def _frame(self, rows: np.ndarray) -> None:
        """Rate from 0 to past the largest seen; distortion around the recent part and the compared runs' ends."""
        recent = rows[int(len(rows) * (1 - RECENT_FRACTION)):, 3:5]
        ends = [(r.rate, r.distortion) for r in self._runs if math.isfinite(r.rate) and math.isfinite(r.distortion)]
        rates = np.concatenate([rows[:, 3], [r for r, _ in ends]])
        dists = np.concatenate([recent[:, 1], [d for _, d in ends]])
        if not len(rates):
            return
        r_hi = max(float(rates.max()), 1e-3)
        d_lo, d_hi = float(dists.min()), float(dists.max())
        pad = max(0.1 * (d_hi - d_lo), 0.02 * abs(d_hi), 1e-3)
        vb = self.plot.getPlotItem().vb
        x_hi = r_hi * 1.08
        want_x, want_y = (0.0, x_hi), (d_lo - 1.5 * pad, d_hi + pad)
        (cx0, cx1), (cy0, cy1) = vb.viewRange()
        if _frames(cx0, cx1, *want_x) and _frames(cy0, cy1, *want_y):
            return  # the view still frames the data well: re-laying out the axes is most of a repaint's cost
        vb.setRange(xRange=want_x, yRange=want_y, padding=0)

    def _on_range_changed(self, *_args) -> None:
        self._draw_lines()
        self._place_region_labels()

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
        if self._anchor is not None:
            name, r, d, beta = self._anchor
        elif self._ema is not None:
            name, (r, d), beta = None, self._ema, self._beta
        else:
            self.beta_line.setData([], [])
            self.elbo_line.setData([], [])
            self.beta_label.setText("")
            return
        self._draw_beta_line(name, r, d, beta)

    def _draw_beta_line(self, name: str | None, r: float, d: float, beta: float) -> None:
        (x0, x1), _ = self.plot.getPlotItem().vb.viewRange()
        span = (min(x0, 0.0), max(x1, r * 2 + 1))
        xs, ys = rd_line(r, d, beta, span)
        self.beta_line.setData(xs, ys)
        if abs(beta - 1.0) > 1e-9:
            ex, ey = rd_line(r, d, 1.0, span)
            self.elbo_line.setData(ex, ey)
        else:
            self.elbo_line.setData([], [])
        self.beta_label.setText(f"D + {beta:.3g}·R = {d + beta * r:.1f}")
        (vx0, vx1), (vy0, vy1) = self.plot.getPlotItem().vb.viewRange()
        const = d + beta * r
        x = vx0 + 0.02 * (vx1 - vx0)
        y_top = vy1 - 0.04 * (vy1 - vy0)
        anchor = (0, 1.0)  # above the line, where it enters through the left edge
        text_h = self.beta_label.boundingRect().height() * self.plot.getPlotItem().vb.viewPixelSize()[1]
        if beta > 0 and const - beta * x > y_top:
            x = (const - y_top) / beta  # the line leaves through the top: label it there
            anchor = (0, 0.0)  # hanging below the top edge, not clipped above it
        elif const - beta * x + text_h > vy1:
            anchor = (0, 0.0)  # it enters just below the top: no room above it, so below it
        if tuple(self.beta_label.anchor) != anchor:
            self.beta_label.setAnchor(anchor)
        self.beta_label.setPos(x, const - beta * x)
        who = f"<b>{name}</b> (held-out, last epoch): " if name else ""
        source = "its β" if name else self._beta_source()
        info = self._information
        inside = f"(held-out I(X;Z) {info:.2f}) " if info is not None and not name else ""
        line = (f"<b>β = {beta:.3g}</b> ({source}): the loss D + βR is constant along the dashed line (slope −β)"
                if self.bound_k is None or name else
                f"IWAE-{self.bound_k} trains its bound, not D + βR: the dashed line is −ELBO = D + R")
        self.readout.setText(
            f"{who}<b>R</b> {r:.2f} nats {inside}&nbsp; <b>D</b> {d:.2f} nats &nbsp; −ELBO {r + d:.2f} &nbsp; "
            f"<span style='color:{BETA_COLOUR}'>{line}</span>")

    def show_bound(self, k: int | None) -> None:
        """The live run trains on IWAE's bound with K samples (None: on D + βR): the readout says what its line is."""
        self.bound_k = k
        self._draw_lines()

    def _beta_source(self) -> str:
        """Which β the line uses, for the readout (short: a readout that wraps to more lines resizes the plot)."""
        state = self._beta_state
        if not state.previewing:
            return "effective"
        if math.isclose(state.factor, 1.0, rel_tol=1e-9):
            return "preview of your β"
        return f"preview: your β {state.requested:.3g} × schedule {state.factor:.2f}"
