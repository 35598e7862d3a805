"""The KL strip: per-dimension KL as bars, active units, total rate, and a posterior-collapse warning.

    panel = KlPanel(activity)                                # draws an explorer.models.latent_activity.LatentActivity
    panel.set_kl(report.kl_per_dim, step=report.step)        # (shortcuts that feed that model)
    panel.set_mu_variance(latents.mu_variance, step=...)
    panel.collapsed                                          # what the banner says

Which dimensions are active is decided by the LatentActivity it is given (its own without one), the same one
the decoder's sliders draw, so the headline, the bar colours and the sliders' labels always agree. The banner
appears when the rate or the active-unit count falls to about zero: the posterior q(z|x) has collapsed onto the
prior and z carries (almost) no information about x.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from explorer.models.latent_activity import ActivityState, LatentActivity
from explorer.plotting.axes import steady_axes
from explorer.plotting.moment_marks import PINNED_COLOUR
from trainer.analysis.diagnostics import ACTIVE_KL_NATS

ACTIVE_COLOUR = "#d62728"
"""The rate's colour in the curves panel: these bars split that curve by dimension."""
INACTIVE_COLOUR = "#c8c8c8"


def _count(state) -> str:
    """A CollapseState's active units, or "—" when none are counted (no encoding describes the model)."""
    return str(state.n_active) if state.counted else "—"


def _count_of(states) -> str:
    states = list(states)
    return str(sum(s.n_active for s in states)) if all(s.counted for s in states) else "—"


def _nats(value: float) -> str:
    """Two decimals, or three significant digits for small values: a collapsed rate is not "0.00"."""
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.2g}"


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 5, 7.5 times a power of ten that is >= value (value > 0)."""
    scale = 10.0 ** np.floor(np.log10(value))
    for step in (1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0):
        if step * scale >= value * (1 - 1e-9):
            return float(step * scale)
    return float(10 * scale)


STANDARD_TIP = ("KL(q(z_j|x) ‖ p(z_j)) per latent dimension, nats per example; the bars sum to the rate.\n"
                "Grey bars: inactive dimensions (they carry no information about x).")
MARGINAL_TIP = ("Under the VampPrior p(z) = (1/K) Σ_k q(z | u_k), a mixture, no KL belongs to one dimension: each bar\n"
                "is KL(q(z_j|x) ‖ p_j(z_j)) to the prior's marginal p_j, by Monte Carlo, nats per example. The bars\n"
                "need not add up to the rate (the curves' rate is the Monte Carlo KL to the whole mixture).\n"
                "Grey bars: inactive dimensions (they carry no information about x).")


class KlPanel(QWidget):
    """Bars of KL(q(z_j|x) ‖ p(z_j)) per dimension, the active-unit count, the total rate, a collapse banner."""

    sig_collapse_changed = Signal(bool)
    """The posterior collapsed (True) or recovered (False); the window repeats the warning where it is seen."""

    def __init__(self, activity: LatentActivity | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.activity = activity if activity is not None else LatentActivity(self)
        self._kl = np.zeros(0)
        self.state = None  # CollapseState drawn now
        self._collapsed_layers: list[int] = []  # a hierarchy's layers (0 = bottom) drawn as collapsed
        self._whole_collapsed = False  # the banner says the whole posterior collapsed
        self._separators: list[pg.InfiniteLine] = []  # between a hierarchy's layers
        self._axes: tuple[int, float] | None = None  # (dimensions, y top) the axes show
        self._active_brush = pg.mkBrush(ACTIVE_COLOUR)
        self._inactive_brush = pg.mkBrush(INACTIVE_COLOUR)
        self._bar_pen = pg.mkPen(None)

        self.banner = QFrame()
        self.banner.setObjectName("CollapseBanner")
        self.banner.setStyleSheet("#CollapseBanner { background: #fdecea; border: 1px solid #e6a5a1; "
                                  "border-radius: 4px; }"
                                  "#CollapseBanner QLabel { color: #b3261e; }")
        self.banner_label = QLabel(wordWrap=True)
        self.banner_label.setTextFormat(Qt.RichText)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(8, 4, 8, 4)
        banner_layout.addWidget(self.banner_label)
        self.banner.hide()

        self.summary = QLabel("Per-dimension KL appears once training starts.")
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setWordWrap(True)  # a narrow dock wraps the line instead of growing the window
        self.summary.setMinimumHeight(2 * self.summary.fontMetrics().lineSpacing())  # re-wrapping: no plot resize
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.getPlotItem().hideButtons()
        steady_axes(self.plot.getPlotItem())  # also: no "nats (x0.001)", which reads badly
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMinimumHeight(140)
        self.plot.showGrid(y=True, alpha=0.15)
        self.plot.setLabel("left", "KL (nats)")
        self.plot.setLabel("bottom", "latent dimension")
        self.plot.setToolTip(STANDARD_TIP)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.75, brushes=[], pen=self._bar_pen)
        self.plot.addItem(self.bars)
        self.pinned_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush=pg.mkBrush(None),
                                           pen=pg.mkPen(PINNED_COLOUR, width=1.5))
        self.plot.addItem(self.pinned_bars)
        self._pinned: tuple[np.ndarray, int] | None = None  # moment A's per-dimension KL and step
        self.threshold = pg.InfiniteLine(pos=ACTIVE_KL_NATS, angle=0, movable=False,
                                         pen=pg.mkPen("#909090", width=1, style=Qt.DotLine))
        self.plot.addItem(self.threshold)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.banner)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot, 1)

        self.activity.sig_changed.connect(self._on_activity_changed)
        if self.activity.state is not None:
            self._show(self.activity.state)

    # --- data in (to the activity model, which decides and tells every view) ------------------------
    def set_kl(self, kl_per_dim, step: int | None = None) -> None:
        """Per-dimension KL in nats per example (a training report's or a held-out evaluation's)."""
        self.activity.set_kl(kl_per_dim, step)

    def set_pinned(self, kl_per_dim, step: int | None = None) -> None:
        """Moment A's per-dimension KL (its held-out encodings), drawn as outlined bars beside the current ones;
        None: no moment pinned."""
        self._pinned = None if kl_per_dim is None else (np.asarray(kl_per_dim, dtype=np.float64).reshape(-1),
                                                         int(step or 0))
        self._show(self.activity.state)

    def pinned_heights(self) -> np.ndarray:
        """Moment A's bars as drawn (empty when none is pinned or its dimensions differ)."""
        return np.asarray(self.pinned_bars.opts.get("height", []), dtype=np.float64)

    def set_mu_variance(self, variance, step: int | None = None) -> None:
        """Var_x(μ_j) of a held-out encoding: switches the active-unit count to Burda's measure."""
        self.activity.set_mu_variance(variance, step)

    def set_latents(self, latents) -> None:
        """A LatentSnapshot: its held-out KL and Var(μ) together."""
        self.activity.set_latents(latents)

    def clear(self) -> None:
        self.activity.clear()
        self._show(None)

    # --- what tests and the window may read ------------------------------------------------------
    @property
    def collapsed(self) -> bool:
        """The posterior collapsed: the whole code, or (a hierarchy) one of its layers."""
        return self._whole_collapsed or bool(self._collapsed_layers)

    def warning_text(self) -> str:
        return "" if self.banner.isHidden() else self.banner_label.text()

    def bar_heights(self) -> np.ndarray:
        return self._kl.copy()

    def active(self) -> np.ndarray:
        """Per dimension, whether its bar is drawn as active (the rate's red) rather than grey."""
        return np.array([brush is self._active_brush for brush in self.bars.opts.get("brushes") or []], bool)

    # --- drawing ----------------------------------------------------------------------------------
    def _on_activity_changed(self, activity: ActivityState | None) -> None:
        self._show(activity)

    def _show(self, activity: ActivityState | None) -> None:
        was_collapsed = self.collapsed
        if activity is None:
            self._kl = np.zeros(0)
            self.state = None
            self._collapsed_layers = []
            self._whole_collapsed = False
            self._show_layer_separators(())
            if was_collapsed:
                self.sig_collapse_changed.emit(False)
            self.bars.setOpts(x=[], height=[], brushes=[])
            self.pinned_bars.setOpts(x=[], height=[])
            self.banner.hide()
            self.summary.setText("Per-dimension KL appears once training starts.")
            self.summary.setToolTip("")
            return
        kl = np.asarray(activity.kl, dtype=np.float64)
        self._kl = kl
        learned = activity.prior != "standard"
        self.plot.setToolTip(MARGINAL_TIP if learned else STANDARD_TIP)
        self.plot.setLabel("left", "KL to p_j (nats)" if learned else "KL (nats)")
        state = activity.collapse
        self.state = state
        self._collapsed_layers = activity.collapsed_layers
        self._whole_collapsed = activity.collapsed
        self._show_layer_separators(tuple(len(layer.active) for layer in activity.layers))
        pinned = self._draw_bars(kl, state)
        if state.counted:
            held_out = (f"held-out encoding at step {activity.variance_step:,}" if activity.variance_step is not None
                        else "held-out encoding")
            how = f"Var<sub>x</sub>(μ) &gt; 0.01, {held_out}"
        else:
            why = activity.stale_reason or "none yet"
            how = f"counted as Var<sub>x</sub>(μ) &gt; 0.01 on a held-out encoding that describes this model: {why}"
        at = f" · step {activity.step:,}" if activity.step is not None else ""
        self.summary.setToolTip(
            "Active unit (Burda et al. 2016, as everywhere in vae-explorer): Var_x(μ_j) > 0.01 over the held-out "
            "encodings. A dimension can pay KL without being active: its σ differs from the prior's while its μ "
            "ignores x." + (f"\nNot counted now: {activity.stale_reason}." if activity.stale_reason else ""))
        per_layer = "".join(
            f" &nbsp;·&nbsp; <b>z<sub>{i + 1}</sub></b> {_nats(layer.rate)} nats, {_count(layer)}/{len(layer.active)}"
            for i, layer in enumerate(activity.layers))
        total = "Σ<sub>j</sub> KL to p<sub>j</sub>" if learned else "rate"  # a mixture's KLs do not add up to it
        self.summary.setText(
            f"<b>{total}</b> {_nats(state.rate)} nats &nbsp;·&nbsp; <b>active units</b> {_count(state)} / {len(kl)}"
            f"{per_layer} <span style='color:#808080'>({how}){at}</span>")
        if pinned is not None:
            self.summary.setText(self.summary.text() + f"<br><span style='color:{PINNED_COLOUR}'>▯ moment A, step "
                                 f"{pinned[1]:,}: rate {_nats(float(pinned[0].sum()))} nats</span> (outlined, left "
                                 "of each bar)")
        if activity.withheld:
            self.summary.setText(self.summary.text() + f"<br><span style='color:#808080'>No collapse is judged yet: "
                                                       f"{activity.withheld}.</span>")
        if self._whole_collapsed:
            self.banner_label.setText(
                f"<b>Posterior collapse</b>: rate {_nats(state.rate)} nats, "
                f"{_count(state)} of {len(kl)} units active. "
                "q(z|x) ≈ p(z), so z tells the decoder almost nothing about x. Try a lower β, a β warm-up, "
                "or free bits.")
            self.banner.show()
        elif self._collapsed_layers:
            top = len(activity.layers) - 1
            names = ", ".join(f"z<sub>{i + 1}</sub>" + (" (top)" if i == top else " (bottom)" if i == 0 else "")
                              for i in self._collapsed_layers)
            rates = ", ".join(f"{_nats(activity.layers[i].rate)} nats" for i in self._collapsed_layers)
            self.banner_label.setText(
                f"<b>Layer collapse</b>: {names} — KL to its conditional prior {rates}, "
                f"{_count_of(activity.layers[i] for i in self._collapsed_layers)} units active. "
                "q(z_l | ·) ≈ p(z_l | z_{l+1}): the lower layers and the decoder model x without it. "
                "Warm that layer's KL up (Layers: warm-up steps per layer), or give it free bits.")
            self.banner.show()
        else:
            self.banner.hide()
        if self.collapsed != was_collapsed:
            self.sig_collapse_changed.emit(self.collapsed)

    def _draw_bars(self, kl: np.ndarray, state) -> tuple[np.ndarray, int] | None:
        """The bars (and moment A's beside them, when pinned with the same dimensions, which it returns)."""
        brushes = [self._active_brush if a else self._inactive_brush for a in state.active]
        pinned = self._pinned if self._pinned is not None and len(self._pinned[0]) == len(kl) else None
        shift = 0.2 if pinned is not None else 0.0  # side by side: moment A on the left, the moment shown right
        self.bars.setOpts(x=np.arange(len(kl)) + shift, height=np.maximum(kl, 0.0), brushes=brushes,
                          width=0.38 if pinned is not None else 0.75)
        self.pinned_bars.setOpts(x=np.arange(len(kl)) - shift if pinned is not None else [],
                                 height=np.maximum(pinned[0], 0.0) if pinned is not None else [])
        # axes change only when they must: re-laying out ticks and labels is most of a repaint's cost, and live
        # KL arrives several times a second
        most = max(float(kl.max()) if len(kl) else 0.0, float(pinned[0].max()) if pinned is not None else 0.0)
        top = _nice_ceiling(max(most, 0.05) * 1.1)
        if self._axes != (len(kl), top):
            self._axes = (len(kl), top)
            self.plot.getPlotItem().getAxis("bottom").setTicks(
                [[(i, str(i)) for i in range(0, len(kl), max(1, len(kl) // 16))]])
            self.plot.setXRange(-0.6, max(len(kl), 1) - 0.4, padding=0)
            self.plot.setYRange(0, top, padding=0)
        return pinned

    def _show_layer_separators(self, dims: tuple[int, ...]) -> None:
        """Dashed lines between a hierarchy's layers (bottom first), and the axis title that says so."""
        bounds = np.cumsum(dims)[:-1] if len(dims) > 1 else []
        if len(self._separators) == len(bounds) and all(
                line.value() == b - 0.5 for line, b in zip(self._separators, bounds)):
            return
        for line in self._separators:
            self.plot.removeItem(line)
        self._separators = []
        for b in bounds:
            line = pg.InfiniteLine(pos=b - 0.5, angle=90, movable=False,
                                   pen=pg.mkPen("#606060", width=1, style=Qt.DashLine))
            self.plot.addItem(line)
            self._separators.append(line)
        title = ("latent dimension: " + " | ".join(f"z{i + 1}" for i in range(len(dims))) + " (bottom first)"
                 if len(dims) > 1 else "latent dimension")
        self.plot.setLabel("bottom", title)
