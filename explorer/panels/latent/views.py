"""The scatter's views: two chosen dimensions, a stable PCA, or a UMAP / t-SNE map computed off the GUI thread.

`ViewsMixin` turns the snapshot's μ into the plotted positions `_xy`, maps a latent z to the plane (`_project`)
and a plane position back to a z (`_lift`), and keeps the axis titles and the info line's projection note.
It relies on the panel for `_latents`, `_z`, `plot`, `shapes`, the drawing and overlay methods, and
`sig_projection_requested`.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox

from trainer.analysis.geometry import StablePCA
from trainer.analysis.projection import ProjectionParams, ProjectionRequest

MAPS = {"umap": "UMAP", "tsne": "t-SNE"}
"""The nonlinear views, computed in the background."""


class ViewsMixin:
    """View modes of LatentScatterPanel: the view controls, projection requests and results, and axis labels."""

    def _build_view_controls(self) -> None:
        self._xy = np.zeros((0, 2), np.float32)
        self._projection_note = ""  # PCA: the variance the two axes explain, shown in the info line
        self._pca = StablePCA()
        self._token = 0  # the latest map asked for; results of older ones are dropped
        self._map: np.ndarray | None = None  # the last UMAP/t-SNE map of the current points
        self._map_key: tuple | None = None  # (method, params, N) it was computed with
        self._framed_by_hand = False
        self.view_combo = QComboBox()
        self.view_combo.addItem("PCA (stable)", "pca")
        self.view_combo.addItem("Two dimensions", "dims")
        self.view_combo.addItem("UMAP", "umap")
        self.view_combo.addItem("t-SNE", "tsne")
        self.view_combo.setToolTip(
            "PCA: the plane of largest spread of μ, re-fitted at each refresh but turned to match the previous\n"
            "one so the picture does not jump. Two dimensions: plot z_i against z_j directly.\n"
            "UMAP, t-SNE: nonlinear maps of every point, computed in the background; each refresh starts from\n"
            "the last map, so points glide. They keep neighbourhoods, not distances: a click decodes the point's\n"
            "true μ, and the line above the plot says how many latent neighbours each point keeps on the map.")
        self._build_map_spins()
        self.x_combo = QComboBox()
        self.y_combo = QComboBox()
        for combo, axis in ((self.x_combo, "horizontal"), (self.y_combo, "vertical")):
            combo.setToolTip(f"Latent dimension on the {axis} axis")
            combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)

    def _build_map_spins(self) -> None:
        self.neighbours_spin = QSpinBox(minimum=2, maximum=200, value=15)
        self.neighbours_spin.setPrefix("neighbours ")
        self.neighbours_spin.setToolTip("UMAP n_neighbors: small values show fine local clusters, large ones more of\n"
                                        "the global arrangement")
        self.min_dist_spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, value=0.1, decimals=2)
        self.min_dist_spin.setPrefix("min-dist ")
        self.min_dist_spin.setToolTip("UMAP min_dist: how tightly points may pack together on the map")
        self.perplexity_spin = QDoubleSpinBox(minimum=2.0, maximum=500.0, singleStep=5.0, value=30.0, decimals=0)
        self.perplexity_spin.setPrefix("perplexity ")
        self.perplexity_spin.setToolTip("t-SNE perplexity: about how many neighbours each point's affinities cover")
        for spin in (self.neighbours_spin, self.min_dist_spin, self.perplexity_spin):
            spin.setKeyboardTracking(False)  # one new map once the number is typed, not one per digit

    # --- what tests and the window may read ------------------------------------------------------
    def coordinates(self) -> np.ndarray:
        """(N, 2) plotted position of every point, in snapshot order."""
        return self._xy

    @property
    def map_ready(self) -> bool:
        """False while a UMAP/t-SNE view waits for its first map (the scatter shows PCA meanwhile)."""
        return self.mode not in MAPS or self._latents is None or self._map is not None

    @property
    def prior_rings_shown(self) -> bool:
        """N(0, I)'s 1σ and 2σ rings are drawn (a linear view of a model with that prior)."""
        return any(ring.isVisible() for ring, _ in self._rings)

    def project(self, z) -> tuple[float, float]:
        """Where latent `z` lands in the current view (plot coordinates): its PCA or chosen-dimension position."""
        return self._project(np.asarray(z, dtype=np.float32))

    def set_view(self, mode: str, dims: tuple[int, int] | None = None) -> None:
        """mode "pca" or "dims" (with dims = (i, j))."""
        if dims is not None:
            self.x_combo.setCurrentIndex(dims[0])
            self.y_combo.setCurrentIndex(dims[1])
        self.view_combo.setCurrentIndex(self.view_combo.findData(mode))
        self._on_view_changed()

    @property
    def mode(self) -> str:
        if self._latents is not None and self._latents.latent_dim < 2:
            return "dims"
        if self._latents is not None and self._latents.latent_dim == 2 and self.view_combo.currentData() == "pca":
            return "dims"  # two dimensions are their own plane; no projection needed
        return self.view_combo.currentData()

    # --- the view controls --------------------------------------------------------------------------
    def _on_view_changed(self, *_args) -> None:
        self._update_grid()
        self._update_view_controls()
        self._request_density()
        if self._latents is None:
            return
        self._refresh_projection()
        self._update_info()
        self._draw_points()
        self.shapes.clear_outline()  # drawn in the previous view's coordinates
        self._update_selection_items()
        self._update_marker()
        self._framed_by_hand = False
        self.plot.autoRange(padding=0.05)

    def _dims(self) -> tuple[int, int]:
        return max(self.x_combo.currentIndex(), 0), max(self.y_combo.currentIndex(), 0)

    def _fill_dim_combos(self, d: int) -> None:
        for combo, default in ((self.x_combo, 0), (self.y_combo, min(1, d - 1))):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([self.layers.name(i) for i in range(d)])
            combo.setCurrentIndex(default)
            combo.blockSignals(False)
        self._update_view_controls()

    def _update_view_controls(self) -> None:
        mode = self.mode
        dims = mode == "dims"
        self.x_combo.setVisible(dims)
        self.y_combo.setVisible(dims)
        self.grid_check.setVisible(dims)
        self.holes_check.setVisible(dims)
        self.neighbours_spin.setVisible(mode == "umap")
        self.min_dist_spin.setVisible(mode == "umap")
        self.perplexity_spin.setVisible(mode == "tsne")
        linear = mode not in MAPS
        self._show_prior()
        self.marker.movable = linear  # a position on a map is not a latent vector (pyqtgraph reads it per drag)
        self.marker.setToolTip("The decoder sliders' z; drag it to decode live" if linear else
                               "The data point nearest to the decoder sliders' z (in latent space)")
        self.view_combo.setEnabled(self._latents is None or self._latents.latent_dim > 2)

    def _show_prior(self) -> None:
        """The prior in a linear view: N(0, I)'s 1σ and 2σ rings, or a learned prior's component centres μ(u_k) (a
        mixture has no rings); on a nonlinear map neither means anything."""
        linear = self.mode not in MAPS
        components = None if self._latents is None else self._latents.prior_components
        for ring, label in self._rings:
            ring.setVisible(linear and components is None)
            label.setVisible(linear and components is None)
        if not linear or components is None:
            self.prior_centres.hide()
            return
        self.prior_centres.setData(pos=np.array([self._project(m) for m in np.asarray(components[0])]))
        self.prior_centres.show()

    # --- UMAP and t-SNE maps, computed off the GUI thread --------------------------------------------
    def _params(self) -> ProjectionParams:
        return ProjectionParams(method=self.mode, neighbours=self.neighbours_spin.value(),
                                min_dist=round(self.min_dist_spin.value(), 2), perplexity=self.perplexity_spin.value())

    def _shown_mu(self) -> np.ndarray:
        """μ as the views use it: a hierarchy's chosen layer alone (the other layers' columns at 0, so PCA's axes
        and UMAP's neighbours are that layer's), else every dimension."""
        mu = self._latents.mu
        layers = self.layers
        if layers.chosen is None or sum(layers.dims) != mu.shape[1]:
            return mu
        shown = np.zeros_like(mu)
        shown[:, layers.slice()] = mu[:, layers.slice()]
        return shown

    def _on_layers_changed(self) -> None:
        if self._latents is not None:
            self._fill_dim_combos(self._latents.latent_dim)
            self._pca.reset()
            self._on_view_changed()

    def _request_map(self) -> None:
        """Ask for a UMAP/t-SNE map of the current points; show the last one (or PCA) until it comes."""
        mu = self._shown_mu()
        params = self._params()
        key = (params, len(mu))
        previous = self._map if self._map is not None and self._map_key == key else None
        if previous is None:
            self._map, self._map_key = None, None
        self._token += 1
        self.sig_projection_requested.emit(ProjectionRequest(self._token, np.array(mu, np.float32), params, previous))
        name = MAPS[self.mode]
        if previous is not None:
            self._xy = previous
            self._projection_note = f"{name}: updating from the last map…"
        else:
            self._xy = self._pca.project(mu)
            self._projection_note = f"{name}: computing (PCA until then)…"
        self._set_axis_labels(f"{name} 1", f"{name} 2")

    def set_projection(self, token: int, xy, kept: float) -> None:
        """A map asked for with `token` has arrived: draw it (a stale one is dropped)."""
        if token != self._token or self._latents is None or self.mode not in MAPS or len(xy) != len(self._latents):
            return
        self._map, self._map_key = np.asarray(xy, np.float32), (self._params(), len(xy))
        self._xy = self._map
        self.shapes.clear_outline()
        self._projection_note = (f"{MAPS[self.mode]} · each point keeps {100 * kept:.0f}% of its 10 nearest "
                                 f"latent neighbours")
        self._draw_points()
        self._update_selection_items()
        self._update_marker()
        self._update_info()
        if not self._framed_by_hand and not self._view_frames_points():
            self.plot.autoRange(padding=0.05)

    def set_projection_progress(self, token: int, message: str, fraction: float) -> None:
        if token == self._token and self.mode in MAPS:
            self._projection_note = f"{message} {100 * fraction:.0f}%"
            self._update_info()

    def set_projection_failed(self, token: int, message: str) -> None:
        if token == self._token and self.mode in MAPS:
            self._projection_note = f"{MAPS[self.mode]} failed: {message}"
            self._update_info()

    # --- latent space <-> the plane ------------------------------------------------------------------
    def _refresh_projection(self) -> None:
        mu = self._shown_mu()
        if self.mode in MAPS:
            self._request_map()
        elif self.mode == "pca":
            self._xy = self._pca.project(mu)
            ex = self._pca.explained
            # the shares change with every refresh: in the line above the plot, since a changed axis label
            # re-lays out the whole plot
            self._projection_note = f"PC1, PC2 explain {100 * ex[0]:.0f}%, {100 * ex[1]:.0f}% of Var μ"
            if self.layers.chosen is not None:
                self._projection_note += f" of layer {self.layers.label(self.layers.chosen)}"
            self._set_axis_labels("PC1", "PC2")
        else:
            i, j = self._dims()
            y = mu[:, j] if mu.shape[1] > 1 else np.zeros(len(mu), np.float32)
            self._xy = np.stack([mu[:, i], y], axis=1).astype(np.float32)
            self._projection_note = ""
            self._set_axis_labels(self.layers.name(i), self.layers.name(j) if mu.shape[1] > 1 else "")
        self._show_prior()

    def _project(self, z: np.ndarray) -> tuple[float, float]:
        if self.mode in MAPS:
            if self._latents is None or not len(self._xy):
                return 0.0, 0.0
            nearest = int(np.argmin(((self._latents.mu - z[None]) ** 2).sum(1)))  # in latent space, not on the map
            x, y = self._xy[nearest]
            return float(x), float(y)
        if self.mode == "pca" and self._pca.axes is not None:
            x, y = self._pca.transform(z[None])[0]
            return float(x), float(y)
        i, j = self._dims()
        return float(z[i]), float(z[j]) if len(z) > 1 else 0.0

    def _lift(self, z: np.ndarray, x: float, y: float) -> np.ndarray:
        if self.mode in MAPS:
            return z  # the marker is not movable there; a map position has no latent vector
        if self.mode == "pca" and self._pca.axes is not None:
            return self._pca.lift(z, (x, y))
        out = z.copy()
        i, j = self._dims()
        out[i] = x
        if len(z) > 1:
            out[j] = y
        return out

    # --- framing and axis titles ---------------------------------------------------------------------
    def _view_frames_points(self) -> bool:
        """Every point is in view and fills at least half of it along one axis (the aspect lock widens the other)."""
        if not len(self._xy):
            return True
        lo, hi = self._xy.min(0), self._xy.max(0)
        (x0, x1), (y0, y1) = self.plot.getPlotItem().vb.viewRange()
        inside = x0 <= lo[0] and hi[0] <= x1 and y0 <= lo[1] and hi[1] <= y1
        filled = max((hi[0] - lo[0]) / max(x1 - x0, 1e-12), (hi[1] - lo[1]) / max(y1 - y0, 1e-12))
        return bool(inside and filled >= 0.5)

    def _set_axis_labels(self, bottom: str, left: str) -> None:
        item = self.plot.getPlotItem()
        for name, text in (("bottom", bottom), ("left", left)):
            if item.getAxis(name).labelText != text:  # an unchanged label would still re-lay out the axis
                item.setLabel(name, text)

    def _on_range_changed_by_hand(self, *_args) -> None:
        self._framed_by_hand = True
