"""The ELBO gap: an importance-weighted estimate of log p(x), computed in the background, against the ELBO.

    panel = ElboGapPanel(LatestJob("vae-explorer IWAE"))   # explorer.runtime.background: runs each estimate
    # trainer.analysis.snapshots.DecoderSnapshot: a frozen CPU copy of all the weights
    panel.set_model(decoder_snapshot)
    panel.set_data(x_test, y_test, meaning)  # held-out images as scored, labels (CVAEs), LikelihoodMeaning
    panel.start()                       # what the button does; Cancel (the same button) stops it
    panel.sig_estimated.connect(...)    # dict: elbo, log_px, gap, k, n, step (nats per example)
    panel.split                         # explorer.panels.gap_split.GapSplitView: approximation + amortization
    panel.point_vi                      # explorer.panels.point_vi.PointViView: optimize q for this point

log p(x) = ELBO + KL(q(z|x) ‖ p(z|x)): the gap is how far the encoder's posterior is from the true one. The
IWAE bound with K samples (Burda et al. 2016) approaches log p(x) from below as K grows, so the gap shown
is itself a lower bound on that KL. The estimate runs in a background QThread on the snapshot's private copy
(trainer.analysis.diagnostics.estimate_log_px_job on the LatestJob the panel is given), reports progress per batch, and
is cancelled between batches; the window never waits for it. The panel only draws what the estimate reports.

The panel calls the estimate log p(x) only when the likelihood is a normalized density of the data as scored
(trainer.model.likelihood.LikelihoodMeaning): log p(x|y) for a CVAE, and for a Bernoulli decoder on grey levels what
it is, a cross-entropy bound with no log-likelihood behind it.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.models.explored_run import ExploredRun
from explorer.models.latent_cursor import LatentCursor
from explorer.models.point_inference import PointInference
from explorer.panels.gap_split import GapSplitView
from explorer.panels.job_button import JobButton
from explorer.panels.point_vi import PointViView

IWAE_NOTE = ("<br><b>This model trained on the IWAE-{k} bound</b>, not the ELBO: IWAE's encoder grows broader than a "
             "VAE's (Burda et al. 2016; Cremer et al. 2017), so its ELBO can be worse while log p(x) is better, and "
             "its gap KL(q(z|x) ‖ p(z|x)) is wider by design. Compare a VAE's run of the same model here.")
DEFAULT_K = 100
DEFAULT_EXAMPLES = 1000


class ElboGapPanel(QWidget):
    """A button that estimates log p(x) with IWAE (K samples) in the background and shows ELBO, log p(x), gap."""

    sig_estimated = Signal(object)
    """A finished estimate: dict with elbo, log_px, gap (nats per example), k, n, step."""

    def __init__(self, jobs, parent: QWidget | None = None, cursor: LatentCursor | None = None,
                 point: PointInference | None = None, split_jobs=None, point_jobs=None,
                 explored: ExploredRun | None = None):
        """`jobs`: the explorer.runtime.background.LatestJob that runs the IWAE estimates; `split_jobs` and
        `point_jobs` the ones for the gap's split and a point's classical VI (None: another of jobs' kind, owned
        here); `cursor`: the latent panels' (its selection, its z); `point`: where a point's classical VI goes."""
        super().__init__(parent)
        cursor = cursor if cursor is not None else LatentCursor(self)
        self.point = point if point is not None else PointInference(self)
        self.split = GapSplitView(split_jobs or type(jobs)("vae-explorer gap split", self), cursor)
        self.point_vi = PointViView(point_jobs or type(jobs)("vae-explorer point VI", self), cursor, self.point)
        self._run = JobButton(jobs, self)
        self.button, self.progress = self._run.button, self._run.progress
        self.explored = explored if explored is not None else ExploredRun(self)
        self.explored.sig_moment_changed.connect(self._on_moment)
        self._snapshot = None
        self._x: np.ndarray | None = None
        self._y: np.ndarray | None = None
        self._meaning = None
        self._result: dict | None = None
        self._started_at = 0.0

        self.k_spin = QSpinBox(minimum=1, maximum=5000, value=DEFAULT_K, singleStep=50)
        self.k_spin.setToolTip("Importance samples per example: K = 1 is the ELBO; "
                               "larger K tightens the bound on log p(x)")
        self.n_spin = QSpinBox(minimum=1, maximum=1_000_000, value=DEFAULT_EXAMPLES, singleStep=100)
        self.n_spin.setToolTip("How many held-out examples to average over (the first N)")
        self.elbo_label = QLabel("—")
        self.logpx_label = QLabel("—")
        self.gap_label = QLabel("—")
        self.published = QLabel("")
        """Under log p(x): the published figures the estimate can stand beside, or the first reason none can."""
        self.published.setWordWrap(True)
        self.published.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._provenance = None
        self.note = QLabel("Estimates log p(x) on held-out data in the background.")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #707070")
        for label in (self.elbo_label, self.logpx_label, self.gap_label):
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)
            label.setWordWrap(True)  # a narrow dock wraps them rather than clipping the panel's right edge
        self._lay_out()

        self._run.sig_clicked_idle.connect(self.start)
        jobs.sig_done.connect(self._on_done)
        jobs.sig_failed.connect(self._on_failed)
        jobs.sig_stopped.connect(self._on_cancelled)
        jobs.sig_finished.connect(self._update_button)
        self.k_spin.valueChanged.connect(self._update_button)
        self._update_button()

    def _lay_out(self) -> None:
        settings = QHBoxLayout()
        settings.addWidget(QLabel("K"))
        settings.addWidget(self.k_spin)
        settings.addSpacing(8)
        settings.addWidget(QLabel("examples"))
        settings.addWidget(self.n_spin)
        settings.addStretch(1)
        form = QFormLayout()
        self.elbo_caption = QLabel("ELBO")
        form.addRow(self.elbo_caption, self.elbo_label)
        self.logpx_caption = QLabel("log p(x) ≈")
        form.addRow(self.logpx_caption, self.logpx_label)
        gap_caption = QLabel("gap")
        gap_caption.setToolTip("log p(x) − ELBO = E_x KL(q(z|x) ‖ p(z|x)); "
                               "with a finite K this estimate is a lower bound")
        form.addRow(gap_caption, self.gap_label)
        # three sections taller than a tabbed dock: they scroll rather than squeeze their wrapped text into the plots
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(settings)
        layout.addWidget(self.button)
        layout.addWidget(self.progress)
        layout.addLayout(form)
        layout.addWidget(self.published)
        layout.addWidget(self.note)
        for title, tip, view in (
                ("Approximation and amortization",
                 "Cremer, Li & Duvenaud (2018): the gap log p(x) − ELBO split by classical VI beside the encoder",
                 self.split),
                ("This point", "Classical VI on the one example the Decoder's sliders show", self.point_vi)):
            header = QLabel(f"<b>{title}</b>")
            header.setToolTip(tip)
            layout.addWidget(QFrame(frameShape=QFrame.HLine, frameShadow=QFrame.Sunken))
            layout.addWidget(header)
            layout.addWidget(view)
        layout.addStretch(1)
        self.scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # wrapped text wraps at the dock's width
        self.scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)

    # --- data in --------------------------------------------------------------------------------
    def set_model(self, snapshot) -> None:
        """The DecoderSnapshot the next estimate will use (a running one keeps its own)."""
        self._snapshot = snapshot
        self.split.set_model(snapshot)
        self.point_vi.set_model(snapshot)
        self._update_button()

    def set_data(self, x: np.ndarray, y: np.ndarray | None = None, meaning=None) -> None:
        """Held-out images (N, C, H, W) as evaluations score them, their labels (for a conditional VAE), and the
        trainer.model.likelihood.LikelihoodMeaning that says what to call the estimate (None: log p(x))."""
        self._x, self._y = x, y
        if meaning != self._meaning:
            self._meaning = meaning
            self._describe_meaning()
        self.n_spin.setMaximum(max(1, len(x)))
        self.split.set_data(x, y, meaning)
        self.point_vi.set_data(x, y)
        self._update_button()

    def set_latents(self, latents) -> None:
        """A LatentSnapshot: its images, labels and meaning (set_data) and the μ the point's classical VI starts
        from (the scatter's points)."""
        self.set_data(latents.x, latents.labels, latents.meaning)
        self._provenance = latents.provenance
        self.point_vi.set_encodings(latents.mu, latents.indices)

    @property
    def marginal(self) -> str:
        """What the estimate is called: log p(x), log p(x|y), or what it is when the likelihood is not one."""
        return self._meaning.marginal if self._meaning is not None else "log p(x)"

    def _describe_meaning(self) -> None:
        normalized = self._meaning is None or self._meaning.normalized
        self.elbo_caption.setText("ELBO" if normalized else "ELBO (no bound)")
        self.logpx_caption.setText(f"{self.marginal} ≈" if normalized else "IWAE ≈")
        self.logpx_caption.setToolTip("" if normalized else self._meaning.note)
        self.elbo_caption.setToolTip("" if normalized else self._meaning.note)
        self.note.setText(f"Estimates {self.marginal} on held-out data in the background." if normalized
                          else f"<span style='color:#9a5b00'>{self._meaning.note}</span>")

    def clear(self) -> None:
        self._run.drop()  # what the cancelled estimate still sends is about the old model
        self._snapshot = self._x = self._y = self._provenance = None
        self._result = None
        for label in (self.elbo_label, self.logpx_label, self.gap_label):
            label.setText("—")
        self.published.setText("")
        self.split.clear()
        self.point_vi.clear()
        self.point.clear()
        self._update_button()

    # --- running --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """The IWAE estimate runs (the split and the point's VI have their own `running`)."""
        return self._run.running

    def result(self) -> dict | None:
        return self._result

    def start(self) -> bool:
        """Start an estimate with the current K and example count; False if one runs or nothing to run on."""
        if self.running or self._snapshot is None or self._x is None:
            return False
        k, n = self.k_spin.value(), min(self.n_spin.value(), len(self._x))
        y = self._y if self._snapshot.num_classes else None
        self._started_at = time.monotonic()
        self.note.setText(f"Estimating with K = {k} on {n:,} examples (model of step {self._snapshot.step:,})…")
        from trainer.analysis.diagnostics import estimate_log_px_job

        self._run.submit(partial(estimate_log_px_job, self._snapshot, self._x, y, k, n), f"0 / {n:,} examples")
        return True

    def cancel(self) -> None:
        self._run.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel and join the estimates' threads (window close); True when no thread is left running."""
        joined = [job.shutdown(timeout_ms) for job in (self._run, self.split, self.point_vi)]
        return all(joined)

    # --- events -----------------------------------------------------------------------------------
    def _on_done(self, _token: int, result: dict) -> None:
        self._result = result

        def pm(key: str) -> str:  # "± SE" of a figure, where the examples give one
            se = result.get(f"{key}_se")
            return f" ± {se:.2f}" if se is not None else ""

        self.elbo_label.setText(f"{result['elbo']:.2f}{pm('elbo')} nats")
        normalized = self._meaning is None or self._meaning.normalized
        self.logpx_caption.setText(f"{self.marginal} ≈ (IWAE, K={result['k']})" if normalized
                                   else f"IWAE, K={result['k']} (not a log-likelihood)")
        self.logpx_label.setText(f"{result['log_px']:.2f}{pm('log_px')} nats")
        self.gap_label.setText(f"<b>{result['gap']:.2f}{pm('gap')} nats</b> = KL(q(z|x) ‖ p(z|x))")
        self._show_published(result, normalized)
        for label in (self.elbo_label, self.logpx_label, self.gap_label):
            label.setToolTip("± the standard error over the examples. IWAE is a lower bound on log p(x) in "
                             "expectation, short of it by roughly the variance of its log-weights over 2K: so the "
                             "gap shown is a lower bound on KL(q(z|x) ‖ p(z|x)); the ELBO gap tab's split can use "
                             "annealed importance sampling, which is tighter")
        took = time.monotonic() - self._started_at
        tail = (f"A larger K tightens {self.marginal} (and the gap) from below." if normalized
                else "On grey levels a Bernoulli decoder has no log-likelihood: these are cross-entropy bounds.")
        bound_k = getattr(self._snapshot, "bound_k", None)
        if bound_k is not None:
            tail += IWAE_NOTE.format(k=bound_k)
        self.note.setText(f"{result['n']:,} held-out examples, model of step {result['step']:,}, {took:.1f} s. {tail}")
        self.sig_estimated.emit(result)

    def _on_moment(self, explored) -> None:
        """The views moved to another moment of the run: figures of another model say so (they are not
        recomputed by themselves, they take seconds to minutes: Estimate does it for the moment shown)."""
        for result, note in ((self._result, self.note), (self.split.result(), self.split.note)):
            if result is None:
                continue
            shown = f"step {explored.moment:,}" if explored.moment is not None else "the newest model"
            if explored.moment != result["step"]:
                note.setText(f"<span style='color:#9a5b00'>These figures are of the model of step "
                             f"{result['step']:,}; the views show {shown}. Estimate again for it.</span>")

    def _show_published(self, result: dict, normalized: bool) -> None:
        """Whether the estimate can stand beside a published figure (trainer.comparability.verdict, as eval judges):
        the closest row and how far, or the first reason none is comparable."""
        if self._provenance is None:
            self.published.setText("")
            return
        from trainer.comparability.verdict import judge

        verdict = judge(self._provenance, {"iwae_log_px": result["log_px"], "iwae_log_px_se": result.get("log_px_se"),
                                           "n": result["n"], "likelihood_normalized": normalized}, result["k"])
        rows = verdict["comparable_to"]
        if not rows:
            self.published.setText(f"<span style='color:#707070'>Not comparable with published figures: "
                                   f"{verdict['not_comparable']}.</span>")
            self.published.setToolTip("A figure stands beside a paper's only when the data (told by its files' "
                                      "checksums), its binarization, the splits, the estimator and its K all match: "
                                      "vae-explorer protocols lists the rows, train --protocol reproduces one")
            return
        best = rows[0]
        self.published.setText(
            f"Comparable with <b>{best['source'].split(',')[0]} et al., {best['row']}</b>: published "
            f"{best['figure']:.2f}, Δ {best['delta']:+.2f} nats; epochs {best['epochs']['ours']:,} here, "
            f"{best['epochs']['row']:,} there" + (f" (and {len(rows) - 1} more rows)" if len(rows) > 1 else ""))
        self.published.setToolTip("\n".join(
            f"{c['protocol']}: {c['figure']:.2f} (Δ {c['delta']:+.2f}); "
            f"{'; '.join(c['differs']) or 'the same model and objective'}" for c in rows))

    def _on_failed(self, _token: int, message: str) -> None:
        self.note.setText(f"<span style='color:#b3261e'>Estimate failed: {message}</span>")

    def _on_cancelled(self, _token: int) -> None:
        self.note.setText("Cancelled.")

    def _update_button(self, *_args) -> None:
        if self.running:
            self.button.setText("Cancel")
            self.button.setEnabled(True)
            return
        normalized = self._meaning is None or self._meaning.normalized
        k = self.k_spin.value()
        self.button.setText(f"Estimate {self.marginal} (IWAE, K={k})" if normalized
                            else f"Estimate the IWAE bound (K={k})")
        ready = self._snapshot is not None and self._x is not None
        self.button.setEnabled(ready)
        self.button.setToolTip("" if ready else "Needs a model and its held-out data: train or open one first")
