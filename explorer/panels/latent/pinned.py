"""Moment A on the scatter: where the selected examples' μ were at the pinned moment, an arrow to where they are.

`PinnedMixin` draws, for the cursor's selection, a line from each example's position at moment A (a ring) to its
position now, projected into the current linear view (the chosen dimensions, or the PCA plane the scatter shows).
A UMAP or t-SNE map has no position for another model's μ, so no arrows are drawn there and the caption says so.
It relies on the panel for `cursor`, `_latents`, `_xy`, `_pca`, `_dims`, `mode`, `layers` and `plot`.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg

from explorer.plotting.moment_marks import PINNED_COLOUR

MAX_ARROWS = 2000
"""Arrows drawn at most (the first of a larger selection): beyond that they hide the points they join."""


class PinnedMixin:
    """Arrows from moment A's positions to the current ones, for the selected examples."""

    def _build_pinned(self) -> None:
        self._pinned = None  # LatentSnapshot of moment A
        self.pinned_paths = pg.PlotDataItem(pen=pg.mkPen(PINNED_COLOUR, width=1.3), connect="pairs")
        self.pinned_tails = pg.ScatterPlotItem(size=7, symbol="o", brush=pg.mkBrush(None),
                                               pen=pg.mkPen(PINNED_COLOUR, width=1.3))
        for item in (self.pinned_paths, self.pinned_tails):
            item.setZValue(6)
            self.plot.addItem(item)
        self._pinned_segments = np.zeros((0, 2, 2))

    def set_pinned(self, latents) -> None:
        """Moment A's held-out encodings (a LatentSnapshot), or None: no moment pinned."""
        self._pinned = latents
        self._draw_pinned()

    def pinned_segments(self) -> np.ndarray:
        """(N, 2, 2): each drawn arrow's (from A, to now) in plot coordinates (tests read it)."""
        return self._pinned_segments

    def _plane(self, mu: np.ndarray) -> np.ndarray | None:
        """Latent means (N, D) in the current linear view's plane; None on a nonlinear map."""
        if self.mode == "pca" and self._pca.axes is not None:
            layers = self.layers
            if layers.chosen is not None and sum(layers.dims) == mu.shape[1]:
                shown = np.zeros_like(mu)
                shown[:, layers.slice()] = mu[:, layers.slice()]
                mu = shown
            return self._pca.transform(mu)
        if self.mode == "dims":
            i, j = self._dims()
            return np.stack([mu[:, i], mu[:, j] if mu.shape[1] > 1 else np.zeros(len(mu))], axis=1)
        return None

    def _draw_pinned(self) -> None:
        segments = np.zeros((0, 2, 2))
        now, then = self._latents, self._pinned
        picked = self.cursor.selection[:MAX_ARROWS]
        if now is not None and then is not None and len(picked) and then.latent_dim == now.latent_dim:
            # the same held-out examples, found by their index in the dataset
            order = np.argsort(then.indices)
            at = np.searchsorted(then.indices, now.indices[picked], sorter=order).clip(0, len(order) - 1)
            rows = order[at]
            found = then.indices[rows] == now.indices[picked]
            plane = self._plane(np.asarray(then.mu[rows[found]], dtype=np.float32))
            if plane is not None:
                segments = np.stack([plane, self._xy[picked[found]]], axis=1)
        self._pinned_segments = segments
        self.pinned_paths.setData(segments[:, :, 0].reshape(-1), segments[:, :, 1].reshape(-1))
        self.pinned_tails.setData(segments[:, 0, 0], segments[:, 0, 1])
