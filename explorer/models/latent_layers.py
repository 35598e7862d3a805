"""Which layer of a hierarchical VAE the latent panels show: one choice, shared by every panel that offers it.

    layers = LatentLayers()
    layers.set_dims(decoder.config.layer_dims)   # (16, 16): bottom first; a one-layer model gives (D,)
    layers.choose(1)                             # the top layer of two; None: every layer
    layers.slice(); layers.name(dim)             # slice(16, 32); "z2·3" (layer 2, its dimension 3)
    layers.sig_changed.connect(...)              # the dims or the choice changed

The latent vector the panels hold is u, every layer in its prior's coordinates (trainer.model.hierarchy), so a
layer is a slice of it. The traversal sweeps the chosen layer's dimensions with the layers above at the
selected point and the layers below at u = 0, their conditional means under p(z_l | z_{l+1}).
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal


class LatentLayers(QObject):
    """The model's layer sizes and the layer chosen for the panels; GUI thread only."""

    sig_changed = Signal()
    """The layer sizes or the chosen layer changed."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.dims: tuple[int, ...] = ()
        """Each layer's dimensions, bottom first."""
        self.chosen: int | None = None
        """The layer shown (0 = bottom), or None for every layer."""

    @property
    def count(self) -> int:
        return len(self.dims)

    def set_dims(self, dims) -> None:
        dims = tuple(int(d) for d in dims)
        if dims != self.dims:
            self.dims = dims
            self.chosen = None if len(dims) < 2 else len(dims) - 1  # a hierarchy opens on its top layer
            self.sig_changed.emit()

    def choose(self, layer: int | None) -> None:
        layer = None if layer is None or self.count < 2 else max(0, min(int(layer), self.count - 1))
        if layer != self.chosen:
            self.chosen = layer
            self.sig_changed.emit()

    def bounds(self, layer: int) -> tuple[int, int]:
        start = sum(self.dims[:layer])
        return start, start + self.dims[layer]

    def slice(self) -> slice:
        """The chosen layer's dimensions in the latent vector (every dimension when none is chosen)."""
        if self.chosen is None:
            return slice(0, sum(self.dims))
        return slice(*self.bounds(self.chosen))

    def layer_of(self, dim: int) -> int:
        start = 0
        for layer, d in enumerate(self.dims):
            if dim < start + d:
                return layer
            start += d
        return max(self.count - 1, 0)

    def name(self, dim: int) -> str:
        """"z3" for one layer; "z2·3" (layer 2 counted from the bottom, its dimension 3) for a hierarchy."""
        if self.count < 2:
            return f"z{dim}"
        layer = self.layer_of(dim)
        return f"z{layer + 1}·{dim - self.bounds(layer)[0]}"

    def label(self, layer: int) -> str:
        top = " (top)" if layer == self.count - 1 else " (bottom)" if layer == 0 else ""
        return f"z{layer + 1}{top}, {self.dims[layer]} dims"
