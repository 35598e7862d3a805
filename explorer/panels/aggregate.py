"""Prior samples beside samples of the aggregate posterior, and how far each lands from the data's codes.

    panel = AggregatePanel()
    panel.sig_compare_requested.connect(...)   # (seed, mixture components): compute off the GUI thread, then
    # trainer.analysis.aggregate.SampleComparison + decodes
    panel.set_result(comparison, prior_images, aggregate_images)
    panel.mark_stale()                          # the model or its encodings changed: redo when next shown

The generative model is p(z) p(x|z), so a VAE makes new images by decoding z ~ N(0, I). The decoder only learnt
what to do where the encoder sent inputs, that is on the aggregate posterior q(z) = (1/N) Σ q(z|x_n). The KL term
pulls every q(z|x) toward the prior so that q(z) covers it; where it does not, prior samples fall into holes
and decode to blurs and mixtures. Left, z drawn from the prior; right, z drawn from a Gaussian mixture fitted to
the encoder means (an estimate of q(z)); the figure is how far each set lands from the nearest encoder mean.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import time

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from explorer.plotting.image_grid import ImageGridView
from explorer.plotting.seen import in_view

AUTO_INTERVAL_S = 10.0
"""While training re-encodes the held-out set, an automatic comparison at most this often (a fit of 10,000 means
takes about a second of a core the training would otherwise have)."""

EXPLANATION = (
    "The KL term pulls each q(z|x) toward the prior N(0, I), so that the aggregate posterior "
    "q(z) = (1/N) Σ q(z|x<sub>n</sub>) covers it and a z drawn from the prior decodes to something like the data. "
    "Where q(z) leaves holes, prior samples land where the encoder never sent an input, and decode to blurs or "
    "mixtures; samples from q(z) itself do not. Too little KL pressure (small β, an autoencoder) leaves holes; "
    "the scatter's <i>q(z) vs prior</i> view shows them in two dimensions.")


class AggregatePanel(QWidget):
    """Decoded z ~ p(z) against decoded z ~ (a mixture fit of) q(z), with their distances to the encoder means."""

    sig_compare_requested = Signal(int, int)
    """(seed, mixture components): draw both sets and decode them, off the GUI thread."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._seed = 0
        self._stale = False
        self._result = None
        self._last_auto = -AUTO_INTERVAL_S  # time.monotonic() of the last automatic comparison
        self._auto_timer = QTimer(self, singleShot=True)
        self._auto_timer.timeout.connect(self._on_auto_due)
        self.explanation = QLabel(EXPLANATION)
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.RichText)
        self.explanation.setStyleSheet("color: #505050")
        self.figure = QLabel("Open or train a model to compare its prior with its aggregate posterior.")
        self.figure.setWordWrap(True)
        self.figure.setTextFormat(Qt.RichText)
        self.figure.setToolTip("Euclidean distance in latent space from each sample's z to the nearest posterior "
                               "mean μ of a held-out example,\naveraged over the samples; the data's own spacing is "
                               "the mean distance from a μ to its nearest other μ")
        self.prior_view = ImageGridView("z ~ p(z) = N(0, I)", "Samples appear once a model is open.")
        self.prior_view.setToolTip("E[x|z] for z drawn from the prior: what sampling the VAE makes")
        self.aggregate_view = ImageGridView("z ~ q(z) (mixture fit)", "")
        self.aggregate_view.setToolTip("E[x|z] for z drawn from a Gaussian mixture fitted to the encoder means μ of "
                                       "the held-out set:\nwhat the decoder makes of codes like the ones it was "
                                       "trained on")
        self.components_spin = QSpinBox(minimum=1, maximum=50, value=10)
        self.components_spin.setPrefix("mixture of ")
        self.components_spin.setSuffix(" Gaussians")
        self.components_spin.setToolTip("Components of the Gaussian mixture fitted to the encoder means "
                                        "(full covariance)")
        self.components_spin.setKeyboardTracking(False)
        self.again_button = QPushButton("Draw again")
        self.again_button.setToolTip("New samples from both (another seed)")
        self.status = QLabel()
        self.status.setStyleSheet("color: #707070")

        grids = QHBoxLayout()
        grids.addWidget(self.prior_view, 1)
        grids.addWidget(self.aggregate_view, 1)
        controls = QHBoxLayout()
        controls.addWidget(self.components_spin)
        controls.addWidget(self.again_button)
        controls.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.explanation)
        layout.addWidget(self.figure)
        layout.addLayout(grids, 1)
        layout.addLayout(controls)

        self.again_button.clicked.connect(self._on_again)
        self.components_spin.valueChanged.connect(lambda _v: self._request())

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        # two image grids' own hints side by side would widen the window past the screen when it first opens
        return QSize(460, 320)

    # --- in ---------------------------------------------------------------------------------------
    def mark_stale(self, now: bool = True) -> None:
        """The model or its encodings changed: compare again now if the panel is shown (and `now`), else when it
        is next shown."""
        self._stale = True
        if now and in_view(self) and not self._auto_timer.isActive():
            wait = self._last_auto + AUTO_INTERVAL_S - time.monotonic()
            self._auto_timer.start(max(0, int(1000 * wait)))

    def set_progress(self, message: str, fraction: float) -> None:
        self.status.setText(f"{message} {100 * fraction:.0f}%")

    def set_failed(self, message: str) -> None:
        self.status.setText(f"Failed: {message}")

    def set_result(self, comparison, prior_images, aggregate_images) -> None:
        self._result = comparison
        c = comparison
        columns = 8
        self.prior_view.set_images(prior_images, ncols=columns, pad=2, pad_value=255, reflow=True)
        self.aggregate_view.set_images(aggregate_images, ncols=columns, pad=2, pad_value=255, reflow=True)
        self.prior_view.title = f"z ~ p(z) · {c.prior_mean_distance:.2f} to the nearest μ"
        self.aggregate_view.title = f"z ~ q(z) fit · {c.aggregate_mean_distance:.2f} to the nearest μ"
        ratio = c.prior_mean_distance / max(c.aggregate_mean_distance, 1e-12)
        self.figure.setText(
            f"Average distance from a sample's z to the nearest encoder mean μ: "
            f"<b>prior {c.prior_mean_distance:.2f}</b>, "
            f"<b>q(z) fit {c.aggregate_mean_distance:.2f}</b> ({ratio:.1f}×); a held-out μ lies "
            f"{c.mean_spacing:.2f} from its nearest other μ. {len(c.prior_z)} samples each, {c.n_points:,} means.")
        self.status.setText(f"seed {c.seed}")

    def clear(self) -> None:
        self._result = None
        self._stale = False
        self._auto_timer.stop()
        self.prior_view.clear()
        self.aggregate_view.clear()
        self.figure.setText("Open or train a model to compare its prior with its aggregate posterior.")
        self.status.clear()

    # --- what tests may read ----------------------------------------------------------------------
    def result(self):
        """The trainer.analysis.aggregate.SampleComparison shown, or None."""
        return self._result

    # --- workings ---------------------------------------------------------------------------------
    def on_shown(self, shown: bool = True) -> None:
        """The panel came into view (QDockWidget.visibilityChanged, e.g. its tab was selected)."""
        if shown and self._stale:
            self._request()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.on_shown()

    def _on_auto_due(self) -> None:
        if self._stale and in_view(self):
            self._last_auto = time.monotonic()
            self._request()

    def _on_again(self) -> None:
        self._seed += 1
        self._request()

    def _request(self) -> None:
        self._stale = False
        self.status.setText("Fitting q(z) and drawing samples…")
        self.sig_compare_requested.emit(self._seed, self.components_spin.value())
