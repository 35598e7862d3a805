"""The ELBO gap split in two by classical VI beside the encoder (Cremer, Li & Duvenaud 2018), drawn stacked.

    view = GapSplitView(LatestJob("vae-explorer gap split"), cursor)   # cursor: its box/lasso selection
    view.set_model(decoder_snapshot); view.set_data(x_test, y_test, meaning)
    view.start()                      # the button; Cancel (the same button) stops it between windows of steps
    view.sig_split.connect(...)       # a GapResult.summary() dict, with "source": "held-out" or "selection"

log p(x) − ELBO(q_φ) = KL(q_φ(z|x) ‖ p(z|x)) (seed 001 §6) is the sum of

    the approximation gap   log p(x) − ELBO(q*)        what no diagonal Gaussian can express for this x
    the amortization gap    ELBO(q*) − ELBO(q_φ)       what the encoder loses by guessing q in one pass

with q* the Gaussian that classical variational inference (seed 001 §9) fits to each x alone, started from the
encoder's guess (trainer.analysis.inference_gaps). Each column of the chart is one set, the held-out examples or
the scatter's selection: approximation below, amortization above, so its height is the whole gap. Below it, a
strip shows each example's two gaps, the set last split: log p(x) is a stochastic lower bound (AIS from q*, or
IWAE, whichever is the larger on the set), so an example's approximation gap can come out below 0, which is
estimator noise; it is drawn where it falls and counted, never clamped.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.models.latent_cursor import LatentCursor
from explorer.panels.job_button import JobButton
from explorer.plotting.axes import steady_axes
from trainer.analysis.svi_settings import SviSettings

DEFAULT_EXAMPLES = 100
"""Held-out examples a split runs on: classical VI costs hundreds of decoder passes each."""
IWAE_K = 1000
"""Importance samples of each proposal for log p(x)."""
ESTIMATOR_NAMES = {"ais": "AIS from q*", "iwae-optimized": "IWAE, proposal q*", "iwae-encoder": "IWAE, proposal q_φ"}
"""What each of GapResult.estimator's names means, as the readout says it."""
APPROXIMATION_RGB = (31, 119, 180)
AMORTIZATION_RGB = (255, 127, 14)
SOURCES = ("held-out", "selection")


class GapSplitView(QWidget):
    """Runs classical VI on a set in the background and draws its approximation and amortization gaps stacked."""

    sig_split = Signal(object)
    """A finished split: GapResult.summary() with "source" ("held-out" or "selection") and "step"."""

    def __init__(self, jobs, cursor: LatentCursor | None = None, parent: QWidget | None = None):
        """`jobs`: the LatestJob that runs the splits; `cursor`: whose selection "the selection" means."""
        super().__init__(parent)
        self._run = JobButton(jobs, self)
        self.button, self.progress = self._run.button, self._run.progress
        self.cursor = cursor if cursor is not None else LatentCursor(self)
        self._snapshot = None
        self._x: np.ndarray | None = None
        self._y: np.ndarray | None = None
        self._meaning = None
        self._results: dict[str, dict] = {}
        self._started_at = 0.0
        self._running_source = "held-out"
        self._step = 0

        self.source_combo = QComboBox()
        self.source_combo.addItem("held-out examples", "held-out")
        self.source_combo.addItem("the selection", "selection")
        self.source_combo.setToolTip("Which examples to split the gap of: the first N held-out examples, or the "
                                     "box/lasso selection of the latent scatter")
        self.n_spin = QSpinBox(minimum=1, maximum=100_000, value=DEFAULT_EXAMPLES, singleStep=50)
        self.n_spin.setToolTip("At most this many examples (classical VI costs hundreds of decoder passes each)")
        self.steps_spin = QSpinBox(minimum=1, maximum=100_000, value=SviSettings().max_steps, singleStep=100)
        self.steps_spin.setToolTip("At most this many Adam steps of classical VI per example; it stops sooner "
                                   "once the ELBO stops improving")
        self._build_chart()
        self._build_strip()
        self.legend = QLabel(f"<span style='color:rgb{AMORTIZATION_RGB}'>■</span> amortization &nbsp; "
                             f"<span style='color:rgb{APPROXIMATION_RGB}'>■</span> approximation")
        self.legend.setWordWrap(True)
        self.readout = QLabel("")
        self.readout.setWordWrap(True)
        self.readout.setTextFormat(Qt.RichText)
        self.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.note = QLabel("Classical VI fits q to each x alone, from the encoder's guess: what it gains is the "
                           "encoder's loss (amortization); what is left is the family's (approximation).")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #707070")

        form = QFormLayout()
        form.addRow("on", self.source_combo)
        form.addRow("at most", self.n_spin)
        form.addRow("SVI steps", self.steps_spin)
        self.n_spin.setSuffix(" examples")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.button)
        layout.addWidget(self.progress)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.strip)
        layout.addWidget(self.strip_caption)
        layout.addWidget(self.readout)
        layout.addWidget(self.note)

        self._run.sig_clicked_idle.connect(self.start)
        jobs.sig_done.connect(self._on_done)
        jobs.sig_failed.connect(self._on_failed)
        jobs.sig_stopped.connect(self._on_cancelled)
        jobs.sig_finished.connect(self._update_button)
        self.source_combo.currentIndexChanged.connect(self._update_button)
        self.cursor.sig_selection_changed.connect(self._update_button)
        self._update_button()

    def _build_chart(self) -> None:
        """The stacked bars: one column per set, approximation from 0 (below it when negative), amortization on top."""
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(150)
        self.plot.setMaximumHeight(240)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        steady_axes(self.plot.getPlotItem())
        self.plot.setLabel("left", "nats per example")
        self.plot.getAxis("bottom").setTicks([[(i, s) for i, s in enumerate(SOURCES)]])
        self.plot.setXRange(-0.6, 1.6, padding=0)
        self.approximation_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=pg.mkBrush(*APPROXIMATION_RGB),
                                                  pen=None)
        self.amortization_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=pg.mkBrush(*AMORTIZATION_RGB),
                                                 pen=None)
        self.plot.addItem(self.approximation_bars)
        self.plot.addItem(self.amortization_bars)
        self.plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#808080", width=1)))

    def _build_strip(self) -> None:
        """Each example of the last split as a point on its gap's row, a dashed line at 0."""
        self.strip = pg.PlotWidget()
        self.strip.setMinimumHeight(90)
        self.strip.setMaximumHeight(150)
        self.strip.setMenuEnabled(False)
        self.strip.setMouseEnabled(False, False)
        steady_axes(self.strip.getPlotItem())
        self.strip.setLabel("bottom", "each example's gap, nats")
        self.strip.getAxis("left").setTicks([[(0, "approx."), (1, "amort.")]])
        self.strip.setYRange(-0.6, 1.6, padding=0)
        self.strip.addItem(pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#808080", width=1, style=Qt.DashLine)))
        self.strip_points = {name: pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(*rgb, 150))
                             for name, rgb in (("approximation", APPROXIMATION_RGB),
                                               ("amortization", AMORTIZATION_RGB))}
        for item in self.strip_points.values():
            self.strip.addItem(item)
        self.strip.setToolTip("Each point is one example's gap (approximation below, amortization above), for the "
                              "set split last. Points left of the dashed zero are estimator noise: log p(x) is a "
                              "stochastic lower bound, so an example whose q* is nearly exact can read below 0.")
        self._per_example: dict[str, np.ndarray] = {}
        self.strip_caption = QLabel("")
        self.strip_caption.setWordWrap(True)
        self.strip_caption.setStyleSheet("color: #707070")

    # --- data in --------------------------------------------------------------------------------------
    def set_model(self, snapshot) -> None:
        self._snapshot = snapshot
        self._update_button()

    def set_data(self, x: np.ndarray, y: np.ndarray | None = None, meaning=None) -> None:
        """The held-out images as scored (the order of the scatter's points), their labels, their meaning."""
        self._x, self._y, self._meaning = x, y, meaning
        self._update_button()

    def clear(self) -> None:
        self._run.drop()
        self._snapshot = self._x = self._y = None
        self._results.clear()
        self._per_example = {}
        self._draw()
        self._update_button()

    # --- running --------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._run.running

    @property
    def source(self) -> str:
        return self.source_combo.currentData()

    def set_source(self, source: str) -> None:
        self.source_combo.setCurrentIndex(SOURCES.index(source))

    def result(self, source: str = "held-out") -> dict | None:
        return self._results.get(source)

    def _positions(self) -> np.ndarray:
        """The positions into the held-out images the next split runs on."""
        if self._x is None:
            return np.zeros(0, np.int64)
        limit = self.n_spin.value()
        if self.source == "selection":
            picked = self.cursor.selection
            return picked[picked < len(self._x)][:limit]
        return np.arange(min(limit, len(self._x)))

    def start(self) -> bool:
        """Split the gap of the chosen set; False if one runs or there is nothing to run on."""
        positions = self._positions()
        if self.running or self._snapshot is None or not len(positions):
            return False
        from trainer.analysis.inference_gaps import gaps_job

        x = np.asarray(self._x)[positions]
        y = np.asarray(self._y)[positions] if self._y is not None and self._snapshot.num_classes else None
        settings = SviSettings(max_steps=self.steps_spin.value())
        self._running_source = self.source
        self._started_at = time.monotonic()
        self._step = self._snapshot.step
        self._run.submit(partial(gaps_job, self._snapshot, x, y, settings, IWAE_K, 0),
                         f"optimizing q: 0 / {len(x):,} examples")
        return True

    def cancel(self) -> None:
        self._run.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        return self._run.shutdown(timeout_ms)

    # --- events ---------------------------------------------------------------------------------------
    def _on_done(self, _token: int, result) -> None:
        summary = dict(result.summary(), source=self._running_source, step=self._step,
                       seconds=time.monotonic() - self._started_at)
        self._results[self._running_source] = summary
        self._per_example = {"source": self._running_source,
                             "approximation": np.asarray(result.log_px - result.elbo_optimized, dtype=float),
                             "amortization": np.asarray(result.elbo_optimized - result.elbo_encoder, dtype=float)}
        self._draw()
        self.sig_split.emit(summary)

    def _on_failed(self, _token: int, message: str) -> None:
        self.note.setText(f"<span style='color:#b3261e'>Split failed: {message}</span>")

    def _on_cancelled(self, _token: int) -> None:
        self.note.setText("Cancelled.")

    # --- drawing --------------------------------------------------------------------------------------
    def per_example(self) -> dict:
        """The last split's per-example gaps: {"source", "approximation": (N,), "amortization": (N,)}, or {}."""
        return dict(self._per_example)

    def _draw(self) -> None:
        shown = [s for s in SOURCES if s in self._results]
        xs = [SOURCES.index(s) for s in shown]
        approx = [self._results[s]["approximation_gap"] for s in shown]
        amort = [self._results[s]["amortization_gap"] for s in shown]
        # stacked from 0 when both are positive; a negative mean is drawn below 0, never clamped away
        self.approximation_bars.setOpts(x=xs, y0=[0.0] * len(xs), height=approx)
        self.amortization_bars.setOpts(x=xs, y0=[max(a, 0.0) for a in approx], height=amort)
        if xs:
            top = max(max(a, 0.0) + max(b, 0.0) for a, b in zip(approx, amort))
            bottom = min(min(a, 0.0) + min(b, 0.0) for a, b in zip(approx, amort))
            self.plot.setYRange(bottom * 1.15, top * 1.15 or 1.0, padding=0)
        self._draw_strip()
        text = "<br>".join(self._describe(s) for s in shown)
        if text and self._meaning is not None and not self._meaning.normalized:
            text += f"<br><span style='color:#9a5b00'>{self._meaning.note}</span>"
        self.readout.setText(text)

    def _draw_strip(self) -> None:
        """Each example of the last split as a point on its gap's row, jittered so that they do not hide each
        other; the caption counts the ones below 0 and says why they are there."""
        if not self._per_example:
            for item in self.strip_points.values():
                item.setData([], [])
            self.strip_caption.setText("")
            return
        jitter = np.random.default_rng(0)
        counts = []
        for row, name in enumerate(("approximation", "amortization")):
            values = self._per_example[name]
            self.strip_points[name].setData(values, row + jitter.uniform(-0.25, 0.25, len(values)))
            counts.append(int(np.sum(values < 0)))
        n = len(self._per_example["approximation"])
        below = (f"{counts[0]} of {n:,} approximation gaps and {counts[1]} amortization gaps are below 0: estimator "
                 "noise (log p(x) is a stochastic lower bound, classical VI a stochastic optimizer), not a "
                 "q* better than the exact posterior" if any(counts) else "every gap is ≥ 0")
        self.strip_caption.setText(f"Per example ({self._per_example['source']}): {below}.")

    def _describe(self, source: str) -> str:
        r = self._results[source]
        marginal = self._meaning.marginal if self._meaning is not None else "log p(x)"
        amort, approx = r["amortization_gap"], r["approximation_gap"]
        larger = ("mostly <b>amortization</b>: a better encoder would close most of it" if amort > approx else
                  "mostly <b>approximation</b>: the diagonal Gaussian itself is the limit")
        slower = r["seconds_per_example_classical"] / max(r["seconds_per_example_amortized"], 1e-12)
        estimator = r.get("log_px_estimator") or ("iwae-optimized" if r["log_px_proposal"] == "optimized"
                                                  else "iwae-encoder")
        how = ESTIMATOR_NAMES.get(estimator, estimator)
        if estimator == "ais" and "ais_steps" in r:
            how += f", {r['ais_steps']:,} steps × {r['ais_chains']} chains"
        else:
            how += f", K={r['k']:,}"
        return "<br>".join((
            f"<b>{source}</b> · {r['n']:,} examples · model of step {r['step']:,}",
            f"<span style='color:rgb{AMORTIZATION_RGB}'>■</span> amortization <b>{amort:.2f}</b> ± "
            f"{r['amortization_gap_se']:.2f} nats = ELBO(q*) − ELBO(q_φ)",
            f"<span style='color:rgb{APPROXIMATION_RGB}'>■</span> approximation <b>{approx:.2f}</b> ± "
            f"{r['approximation_gap_se']:.2f} nats = {marginal} − ELBO(q*)",
            f"→ {larger}." + (" A mean below 0 is estimator noise: the gap is within it of 0." if min(amort, approx)
                              < 0 else ""),
            f"ELBO(q_φ) {r['elbo_encoder']:.2f} · ELBO(q*) {r['elbo_optimized']:.2f} · {marginal} ≈ "
            f"{r['log_px']:.2f} ± {r['log_px_se']:.2f} ({how}: the largest of the split's estimates on this set; each "
            "is a lower bound in expectation, so the approximation gap may read short, not long)",
            f"per example: encoder {1e3 * r['seconds_per_example_amortized']:.3f} ms · classical VI "
            f"{1e3 * r['seconds_per_example_classical']:.1f} ms ({slower:,.0f}× slower, {r['svi_steps']:.0f} steps)"))

    def _update_button(self, *_args) -> None:
        if self.running:
            self.button.setText("Cancel")
            self.button.setEnabled(True)
            return
        n = len(self._positions())
        self.button.setText(f"Split the gap ({n:,} examples)" if n else "Split the gap")
        ready = self._snapshot is not None and n > 0
        self.button.setEnabled(ready)
        if self._snapshot is None or self._x is None:
            self.button.setToolTip("Needs a model and its held-out data: train or open one first")
        elif not n:
            self.button.setToolTip("Select points in the latent scatter with the box or lasso first")
        else:
            self.button.setToolTip("Optimize each example's q by classical VI in the background, from the "
                                   "encoder's guess, and split log p(x) − ELBO into its two parts")
