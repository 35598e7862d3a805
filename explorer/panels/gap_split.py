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
the scatter's selection: approximation below, amortization above, so its height is the whole gap.
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
        layout.addWidget(self.readout)
        layout.addWidget(self.note)

        self._run.sig_clicked_idle.connect(self.start)
        self._run.sig_done.connect(self._on_done)
        self._run.sig_failed.connect(self._on_failed)
        self._run.sig_cancelled.connect(self._on_cancelled)
        self._run.sig_finished.connect(self._update_button)
        self.source_combo.currentIndexChanged.connect(self._update_button)
        self.cursor.sig_selection_changed.connect(self._update_button)
        self._update_button()

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
    def _on_done(self, result) -> None:
        summary = dict(result.summary(), source=self._running_source, step=self._step,
                       seconds=time.monotonic() - self._started_at)
        self._results[self._running_source] = summary
        self._draw()
        self.sig_split.emit(summary)

    def _on_failed(self, message: str) -> None:
        self.note.setText(f"<span style='color:#b3261e'>Split failed: {message}</span>")

    def _on_cancelled(self) -> None:
        self.note.setText("Cancelled.")

    # --- drawing --------------------------------------------------------------------------------------
    def _draw(self) -> None:
        xs = [SOURCES.index(s) for s in SOURCES if s in self._results]
        approx = [max(self._results[s]["approximation_gap"], 0.0) for s in SOURCES if s in self._results]
        amort = [max(self._results[s]["amortization_gap"], 0.0) for s in SOURCES if s in self._results]
        self.approximation_bars.setOpts(x=xs, y0=[0.0] * len(xs), height=approx)
        self.amortization_bars.setOpts(x=xs, y0=approx, height=amort)
        if xs:
            self.plot.setYRange(0, max(a + b for a, b in zip(approx, amort)) * 1.15 or 1.0, padding=0)
        text = "<br>".join(self._describe(s) for s in SOURCES if s in self._results)
        if text and self._meaning is not None and not self._meaning.normalized:
            text += f"<br><span style='color:#9a5b00'>{self._meaning.note}</span>"
        self.readout.setText(text)

    def _describe(self, source: str) -> str:
        r = self._results[source]
        marginal = self._meaning.marginal if self._meaning is not None else "log p(x)"
        amort, approx = r["amortization_gap"], r["approximation_gap"]
        larger = ("mostly <b>amortization</b>: a better encoder would close most of it" if amort > approx else
                  "mostly <b>approximation</b>: the diagonal Gaussian itself is the limit")
        slower = r["seconds_per_example_classical"] / max(r["seconds_per_example_amortized"], 1e-12)
        proposal = "q*" if r["log_px_proposal"] == "optimized" else "q_φ"
        return "<br>".join((
            f"<b>{source}</b> · {r['n']:,} examples · model of step {r['step']:,}",
            f"<span style='color:rgb{AMORTIZATION_RGB}'>■</span> amortization <b>{amort:.2f}</b> ± "
            f"{r['amortization_gap_se']:.2f} nats = ELBO(q*) − ELBO(q_φ)",
            f"<span style='color:rgb{APPROXIMATION_RGB}'>■</span> approximation <b>{approx:.2f}</b> ± "
            f"{r['approximation_gap_se']:.2f} nats = {marginal} − ELBO(q*)",
            f"→ {larger}.",
            f"ELBO(q_φ) {r['elbo_encoder']:.2f} · ELBO(q*) {r['elbo_optimized']:.2f} · {marginal} ≈ "
            f"{r['log_px']:.2f} (IWAE, K={r['k']:,}, proposal {proposal})",
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
