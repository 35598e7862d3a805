"""What the scatter draws besides its points: the prior's contours, the decoded grid, q(z) vs prior, thumbnails.

`OverlaysMixin` builds these controls and plot items and keeps them up to date. The decoded grid and the
q(z)-vs-prior density share the space under the points, so only one of them is on at a time; thumbnails of the
inputs are drawn over the points. It relies on the panel for `_latents`, `_decoder`, `_z`, `_xy`, `_codes`,
`_lut`, `plot`, `mode`, `_dims`, `_update_info` and `sig_density_requested`.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QSpinBox

from explorer.plotting.image_grid import tile, to_uint8
from explorer.plotting.thumbnails import DEFAULT_SIZE_PX, ThumbnailItem
from trainer.analysis.holes import HOLE_RATIO, PRIOR_RADIUS, HolesRequest
from trainer.analysis.geometry import prior_contour
from trainer.pixels import to_float01

GRID_SIDE = 12
"""Decoded grid: images per side."""
GRID_SPAN = 3.0
"""Decoded grid: it covers -3σ..+3σ of the prior in both chosen dimensions."""
HOLE_RGBA = (214, 39, 40, 120)
"""q(z) vs prior: where the prior's density is at least 1/HOLE_RATIO times the aggregate posterior's."""
DENSITY_RGB = (31, 119, 180)
"""q(z) vs prior: the aggregate posterior's density, as the opacity of this blue."""


class OverlaysMixin:
    """The decoded grid, the q(z)-vs-prior density and holes, the input thumbnails and the prior's contours."""

    # --- construction ---------------------------------------------------------------------------------
    def _build_overlay_controls(self) -> None:
        self.thumbs_check = QCheckBox("Thumbnails")
        self.thumbs_check.setToolTip("Draw the inputs themselves at their points: as many as fit without overlapping,\n"
                                     "more as you zoom in (wheel), framed in their point's colour")
        self.thumbs_spin = QSpinBox(minimum=12, maximum=128, singleStep=4, value=DEFAULT_SIZE_PX)
        self.thumbs_spin.setSuffix(" px")
        self.thumbs_spin.setToolTip("Side of one thumbnail on screen")
        self.thumbs_spin.setVisible(False)
        self.grid_check = QCheckBox("Decoded grid")
        self.grid_check.setToolTip(
            "Under the points, the decoder's output E[x|z] on a regular 12 x 12 grid of the two\n"
            "chosen dimensions from -3σ to +3σ, the other dimensions held at the sliders' z:\n"
            "the 'manifold' picture of Kingma & Welling (2014)")
        self.holes_check = QCheckBox("q(z) vs prior")
        self.holes_check.setToolTip(
            "Under the points, the aggregate posterior q(z) = (1/N) Σ q(z|x_n) of the held-out set in this plane\n"
            "(blue, darker where denser) and, in red, the holes: where the prior N(0, I) puts at least 10 times\n"
            "more density than q(z) does. A z drawn from the prior there is a code the encoder never gives an\n"
            "input, and the decoder never learnt what to make of it.")

    def _build_backgrounds(self) -> None:
        """The decoded grid and the density image, under the points and the prior circles."""
        self._grid_key = None  # (decoder, grid latents) of the grid drawn now
        self.grid_item = pg.ImageItem(axisOrder="row-major")
        self.grid_item.setZValue(-20)
        self.grid_item.setOpacity(0.9)
        self.grid_item.hide()
        self.plot.addItem(self.grid_item)
        self.density_item = pg.ImageItem(axisOrder="row-major")
        self.density_item.setZValue(-20)
        self.density_item.hide()
        self.plot.addItem(self.density_item)
        self._density_token = 0
        self._density = None  # the HoleMap drawn now
        self._density_note = ""

    def _build_thumbnails(self) -> None:
        self.thumbs = ThumbnailItem()
        self.thumbs.setZValue(6)  # over the points, under the A/B rings and the marker
        self.thumbs.hide()
        self.plot.addItem(self.thumbs)
        self._thumb_source = None  # (address, shape) of the images the thumbnails were made from

    def _build_prior_rings(self) -> None:
        ring_pen = pg.mkPen("#808080", width=1.2, style=Qt.DashLine)
        self._rings = []
        for radius in (1, 2):
            ring = prior_contour(radius)
            item = pg.PlotDataItem(ring[:, 0], ring[:, 1], pen=ring_pen)
            self.plot.addItem(item)
            label = pg.TextItem(f"{radius}σ", color="#707070", anchor=(0, 1))
            label.setPos(radius * 0.7071, radius * 0.7071)
            self.plot.addItem(label)
            self._rings.append((item, label))
        self._ring_tip = "Dashed circles: 1σ and 2σ contours of the prior p(z) = N(0, I) in this plane"
        self.prior_centres = pg.ScatterPlotItem(symbol="+", size=11, pen=pg.mkPen("#404040", width=1.5), brush=None)
        self.prior_centres.setToolTip("✚: the VampPrior's components, μ(u_k) of each pseudo-input u_k in this view; "
                                      "p(z) = (1/K) Σ_k q(z | u_k) has its mass around them (it has no σ rings)")
        self.prior_centres.setZValue(7)
        self.prior_centres.hide()
        self.plot.addItem(self.prior_centres)

    def _on_background_toggled(self, checked: bool = False) -> None:
        """The decoded grid and q(z) vs prior share the space under the points: one at a time."""
        if checked:
            other = self.holes_check if self.sender() is self.grid_check else self.grid_check
            other.blockSignals(True)
            other.setChecked(False)
            other.blockSignals(False)
        self._update_grid()
        self._request_density()

    # --- the decoded grid -----------------------------------------------------------------------------
    def grid_z(self) -> np.ndarray | None:
        """The (GRID_SIDE**2, D) latents the decoded grid shows, row by row from the top (highest z_j) left, or None
        when it is off."""
        if not (self.grid_check.isChecked() and self.mode == "dims" and self._decoder is not None
                and self._latents is not None and self._latents.latent_dim >= 2):
            return None
        i, j = self._dims()
        if i == j:
            return None
        base = self.cursor.z
        if len(base) != self._latents.latent_dim:
            base = np.zeros(self._latents.latent_dim, np.float32)
        values = np.linspace(-GRID_SPAN, GRID_SPAN, GRID_SIDE, dtype=np.float32)
        z = np.repeat(base[None].astype(np.float32), GRID_SIDE * GRID_SIDE, axis=0)
        z[:, i] = np.tile(values, GRID_SIDE)
        z[:, j] = np.repeat(values[::-1], GRID_SIDE)
        return z

    def _update_grid(self, *_args) -> None:
        z = self.grid_z()
        if z is None:
            self.grid_item.hide()
            self._grid_key = None
            return
        # the slider path calls this at every move: decode again only when the grid's latents or decoder changed
        # (moving z_i or z_j themselves changes nothing here)
        key = (id(self._decoder), z.tobytes())
        if key == self._grid_key:
            return
        self._grid_key = key
        mosaic = tile(self._decoder.decode(z), ncols=GRID_SIDE, pad=0)
        # row-major rows go upwards in the plot: flip the picture so its top row (largest z_j) is drawn at the top
        self.grid_item.setImage(mosaic[::-1], levels=(0, 255))
        cell = 2 * GRID_SPAN / (GRID_SIDE - 1)  # each image centred on its grid value
        edge = GRID_SPAN + cell / 2
        self.grid_item.setRect(-edge, -edge, 2 * edge, 2 * edge)
        self.grid_item.show()

    # --- the aggregate posterior against the prior --------------------------------------------------
    def _request_density(self) -> None:
        """Ask for q(z) in the plane of the two chosen dimensions (computed off the GUI thread), or hide it."""
        self._density_token += 1
        lat = self._latents
        if not (self.holes_check.isChecked() and self.mode == "dims" and lat is not None and lat.latent_dim >= 2):
            self.density_item.hide()
            self._density, self._density_note = None, ""
            return
        i, j = self._dims()
        if i == j:
            self.density_item.hide()
            self._density_note = "q(z) vs prior needs two different dimensions"
            return
        if self._density is None or self._density.dims != (i, j):
            self.density_item.hide()  # another plane's picture would mislead until the new one comes
        self._density_note = f"q(z) in the plane (z{i}, z{j}): computing…"
        self.sig_density_requested.emit(HolesRequest(self._density_token, lat.mu, lat.logvar, i, j,
                                                     prior=lat.prior_components))

    def set_density(self, token: int, holes) -> None:
        """The trainer.analysis.holes.HoleMap asked for with `token` has arrived: draw it (a stale one is
        dropped)."""
        if token != self._density_token or self._latents is None:
            return
        self._density = holes
        # scaled to a high quantile, not the maximum, and square-rooted: narrow posteriors make q(z) a few tall
        # spikes, and scaled to the tallest the rest of it vanished
        top = np.quantile(holes.q, 0.98)
        alpha = np.sqrt(np.clip(holes.q / max(float(top), 1e-300), 0.0, 1.0))
        rgba = np.zeros((*holes.q.shape, 4), np.uint8)
        rgba[..., :3] = DENSITY_RGB
        rgba[..., 3] = (170 * alpha).astype(np.uint8)
        rgba[holes.holes] = HOLE_RGBA
        # row 0 (the lowest z_j) at the bottom: the plot's y points up
        self.density_item.setImage(rgba, levels=(0, 255))
        dx, dy = holes.xs[1] - holes.xs[0], holes.ys[1] - holes.ys[0]
        self.density_item.setRect(holes.xs[0] - dx / 2, holes.ys[0] - dy / 2, holes.xs[-1] - holes.xs[0] + dx,
                                  holes.ys[-1] - holes.ys[0] + dy)
        self.density_item.show()
        i, j = holes.dims
        self._density_note = (f"red: holes, where p(z) > {1 / HOLE_RATIO:.0f}·q(z) in (z{i}, z{j}): "
                              f"{100 * holes.hole_share:.0f}% of the prior's mass within {PRIOR_RADIUS:.0f}σ")
        self._update_info()

    def set_density_failed(self, token: int, message: str) -> None:
        if token == self._density_token:
            self._density_note = f"q(z) vs prior failed: {message}"
            self._update_info()

    def density(self):
        """The trainer.analysis.holes.HoleMap drawn now, or None."""
        return self._density if self.density_item.isVisible() else None

    # --- thumbnails -----------------------------------------------------------------------------------
    def _update_thumbnails(self, *_args) -> None:
        on = self.thumbs_check.isChecked() and self._latents is not None
        self.thumbs_spin.setVisible(self.thumbs_check.isChecked())
        if not on:
            self.thumbs.hide()
            return
        x = self._latents.x
        source = (x.__array_interface__["data"][0], x.shape)
        if source != self._thumb_source:  # the same held-out images at every refresh: converted once
            self._thumb_source = source
            x = np.asarray(x)
            self.thumbs.set_images(x if x.dtype == np.uint8 else to_uint8(to_float01(x)))
        self.thumbs.set_points(self._xy, self._lut[self._codes])
        self.thumbs.show()
