"""A combo box over explorer.models.latent_layers.LatentLayers: which layer of a hierarchy the panels show.

    chooser = LayerChooser(layers)      # hidden for a one-layer model; every chooser of one LatentLayers agrees
    bar.addWidget(chooser.caption); bar.addWidget(chooser)
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtWidgets import QComboBox, QLabel

from explorer.models.latent_layers import LatentLayers

EVERY_LAYER = -1
"""The item for "every layer" (None in LatentLayers; a combo's item data cannot be None)."""


class LayerChooser(QComboBox):
    """"every layer", then each layer top first; shown only for a hierarchy."""

    def __init__(self, layers: LatentLayers, tooltip: str = ""):
        super().__init__()
        self.layers = layers
        self.caption = QLabel("Layer")
        for widget in (self, self.caption):
            widget.setToolTip(tooltip)
        self.currentIndexChanged.connect(self._on_picked)
        layers.sig_changed.connect(self._on_layers_changed)
        self._on_layers_changed()

    def _on_layers_changed(self) -> None:
        self.blockSignals(True)
        self.clear()
        if self.layers.count > 1:
            self.addItem("every layer", EVERY_LAYER)
            for layer in reversed(range(self.layers.count)):
                self.addItem(self.layers.label(layer), layer)
            chosen = EVERY_LAYER if self.layers.chosen is None else self.layers.chosen
            self.setCurrentIndex(max(self.findData(chosen), 0))
        self.blockSignals(False)
        self.setVisible(self.layers.count > 1)
        self.caption.setVisible(self.layers.count > 1)

    def _on_picked(self, index: int) -> None:
        layer = self.itemData(index)
        self.layers.choose(None if layer is None or layer == EVERY_LAYER else layer)
