"""Reconstructions and prior samples, refreshed as training goes.

    panel = SamplesPanel()
    panel.set_preview(preview)                     # trainer.analysis.snapshots.PreviewImages from the worker
    panel.set_images(inputs, recons, samples, step)  # the same from plain arrays (n, C, H, W) in [0, 1]

Inputs and their reconstructions E[x|z=μ(x)] are interleaved in column pairs (input | reconstruction), so
each pair can be compared at a glance. The prior samples use the same z at every refresh (a fixed seed in
the worker), so what changes between refreshes is the decoder, not the draw.
"""

from __future__ import annotations

import math

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtWidgets import QHBoxLayout, QWidget

from explorer.plotting.image_grid import ImageGridView
from trainer.pixels import to_float01

PAIRS_PER_ROW = 4
PSEUDO_SHOWN = 16
"""The VampPrior's pseudo-inputs shown, the first of K."""
"""Input/reconstruction pairs side by side in one row, when the view's shape does not favour another number."""


def _pairs(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Each pair as one wide tile, left | right with a thin light line between them, so the grid's wider gaps
    separate pairs rather than the two halves of one."""
    n = len(left)
    c, h, _ = left.shape[1:]
    line = np.full((n, c, h, 1), 0.45, np.float32)
    return np.concatenate([left.astype(np.float32), line, right[:n].astype(np.float32)], axis=3)


class SamplesPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.recon_view = ImageGridView("Input │ reconstruction", "Reconstructions appear once training starts.")
        self.recon_view.setToolTip("Held-out inputs (left of each pair) and E[x|z = μ(x)], "
                                   "the decoder's mean at the encoder's mean")
        self.samples_view = ImageGridView("Samples from the prior", "Samples appear once training starts.")
        self.samples_view.setToolTip("E[x|z] for fixed draws z ~ p(z) (N(0, I), or the model's VampPrior): what the "
                                     "generative model makes of the prior")
        self.pseudo_view = ImageGridView("Pseudo-inputs │ decoded", "")
        self.pseudo_view.setToolTip(
            "The VampPrior p(z) = (1/K) Σ_k q(z | u_k) (Tomczak & Welling 2018): each pseudo-input u_k is an image\n"
            "the model learned, whose posterior q(z | u_k) is one component of the prior. Beside each,\n"
            "E[x | z = μ(u_k)]: what the decoder makes of that component's centre. The first ones of K are shown.")
        self.pseudo_view.hide()  # only a model with a VampPrior has them
        self._samples_title = "Samples from the prior N(0, I)"
        self.step: int | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.recon_view, 1)
        layout.addWidget(self.samples_view, 1)
        layout.addWidget(self.pseudo_view, 1)

    def set_preview(self, preview) -> None:
        self.set_pseudo_inputs(preview.pseudo_inputs, preview.pseudo_decoded)
        self.set_images(preview.inputs, preview.recons, preview.samples, preview.step)

    def set_pseudo_inputs(self, pseudo: np.ndarray | None, decoded: np.ndarray | None) -> None:
        """A VampPrior's pseudo-inputs and their decodings (n, C, H, W) in [0, 1], in pairs (at most
        PSEUDO_SHOWN); None hides the grid (the model's prior is N(0, I))."""
        self.pseudo_view.setVisible(pseudo is not None)
        self._samples_title = "Samples from the prior N(0, I)" if pseudo is None else "VampPrior samples"
        if pseudo is None:
            return
        pseudo, decoded = pseudo[:PSEUDO_SHOWN], decoded[:PSEUDO_SHOWN]
        self.pseudo_view.set_images(_pairs(pseudo, decoded), ncols=min(PAIRS_PER_ROW, len(pseudo)), pad=4,
                                    pad_value=255, reflow=True)
        self.pseudo_view.title = "Pseudo-inputs │ decoded"

    def set_images(self, inputs: np.ndarray, recons: np.ndarray, samples: np.ndarray, step: int | None = None) -> None:
        inputs, recons = np.asarray(inputs), np.asarray(recons)
        if inputs.dtype == np.uint8:
            inputs = to_float01(inputs)
        n = min(len(inputs), len(recons))
        if n:
            # white gutters (the panel's background) between pairs, a grey hairline inside each
            # as many pairs a row as make them biggest in the view's shape (re-laid out when it is resized)
            self.recon_view.set_images(_pairs(inputs[:n], recons[:n]), ncols=min(PAIRS_PER_ROW, n), pad=4,
                                       pad_value=255, reflow=True)
        samples = np.asarray(samples)
        if len(samples):
            # white gutters like the pairs': sprites on black would otherwise merge into one dark field
            self.samples_view.set_images(samples, ncols=max(1, math.ceil(math.sqrt(len(samples) * 2))), pad=2,
                                         pad_value=255, reflow=True)
        self.step = step
        suffix = f" · step {step:,}" if step is not None else ""
        self.recon_view.title = "Input │ reconstruction" + suffix
        self.samples_view.title = self._samples_title + suffix
        self.update()

    def clear(self) -> None:
        self.recon_view.clear()
        self.samples_view.clear()
        self.pseudo_view.clear()
        self.set_pseudo_inputs(None, None)
        self.step = None
