"""The latent scatter: posterior means μ of the held-out set, coloured by label or ground-truth factor.

    panel = LatentScatterPanel()
    panel.set_snapshot(latents)          # trainer.snapshots.LatentSnapshot, encoded in the worker
    panel.set_decoder(decoder_snapshot)  # for the hover thumbnails' reconstructions
    panel.set_marker(z)                  # where the decoder sliders are (no signal back)
    panel.sig_point_selected.connect(...)    # click: (index, μ); Shift+click: sig_point_b_selected
    panel.sig_latent_moved.connect(...)      # the marker is dragged: the new z, live
    panel.sig_refresh_requested.connect(...) # "Refresh now"; sig_refresh_every_changed(steps) for the spin box

Up to 70,000 points are drawn by `PointCloudItem` (explorer.plotting.point_cloud), which rasterises them into one image per paint with numpy:
a pyqtgraph ScatterPlotItem looks up a symbol per point in Python on every setData, while this item's
set_points is a copy and its paint a few vectorised numpy calls. Hover and click find the nearest point in
screen pixels with one vectorised distance, not by asking items. For latent dim > 2 the view is either two
chosen dimensions or a `StablePCA` projection whose axes are aligned with the previous refresh.

UMAP and t-SNE maps (trainer.projection) are computed off the GUI thread: the panel asks for one with
`sig_projection_requested` (a ProjectionRequest carrying the previous map, so a refresh glides) and draws what
`set_projection` brings back, with its progress in the info line meanwhile. On such a map a click still sends
the point's true μ; the marker sits on the point nearest to the sliders' z in latent space and cannot be dragged,
because a position on a nonlinear map is not a latent vector.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.plotting.axes import steady_axes
from explorer.plotting.image_grid import tile, to_qimage, to_uint8
from explorer.plotting.point_cloud import PointCloudItem, argb_words, colour_rgb, palette
from explorer.plotting.shape_select import ShapeViewBox
from explorer.plotting.thumbnails import DEFAULT_SIZE_PX, ThumbnailItem
from trainer.aggregate import HOLE_RATIO, PRIOR_RADIUS, HolesRequest
from trainer.geometry import StablePCA, prior_contour
from trainer.projection import ProjectionParams, ProjectionRequest
from trainer.selection import categories, category_keys, combine, inside_box, inside_polygon
from trainer.pixels import to_float01

NEUTRAL = "#4a6a8a"
"""All points when colouring is off."""
HOVER_RADIUS_PX = 8
"""A point counts as under the mouse within this many screen pixels."""
THUMB_ZOOM = 3
"""Hover thumbnails: 28 px images at 3x."""
DEFAULT_REFRESH_STEPS = 500
GRID_SIDE = 12
"""Decoded grid: images per side."""
GRID_SPAN = 3.0
"""Decoded grid: it covers -3σ..+3σ of the prior in both chosen dimensions."""
MAPS = {"umap": "UMAP", "tsne": "t-SNE"}
"""The nonlinear views, computed in the background."""
HOLE_RGBA = (214, 39, 40, 120)
"""q(z) vs prior: where the prior's density is at least 1/HOLE_RATIO times the aggregate posterior's."""
DENSITY_RGB = (31, 119, 180)
"""q(z) vs prior: the aggregate posterior's density, as the opacity of this blue."""
FADE = 0.78
"""While a selection exists, the other points are blended this far toward white."""


class _HoverCard(QFrame):
    """The floating thumbnail: input and reconstruction side by side with a caption."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("HoverCard")
        self.setStyleSheet("#HoverCard { background: #ffffff; border: 1px solid #b0b0b0; border-radius: 4px; }"
                           "#HoverCard QLabel { color: #303030; }")
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.picture = QLabel()
        self.caption = QLabel()
        self.caption.setTextFormat(Qt.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 4)
        layout.setSpacing(3)
        layout.addWidget(self.picture)
        layout.addWidget(self.caption)
        self.index = -1
        self.hide()

    def show_for(self, index: int, inputs: np.ndarray, recon: np.ndarray | None, caption: str, at: QPointF) -> None:
        images = inputs[None] if recon is None else np.stack([inputs, recon])
        mosaic = tile(images, ncols=len(images), pad=1, pad_value=255)
        pixmap = QPixmap.fromImage(to_qimage(mosaic))
        zoom = max(1, THUMB_ZOOM * 28 // max(inputs.shape[-1], 1))
        self.picture.setPixmap(pixmap.scaled(pixmap.width() * zoom, pixmap.height() * zoom, Qt.KeepAspectRatio,
                                             Qt.FastTransformation))
        self.caption.setText(caption)
        self.index = index
        self.adjustSize()
        parent = self.parentWidget()
        x = min(int(at.x()) + 16, parent.width() - self.width() - 2)
        y = int(at.y()) + 16
        if y + self.height() > parent.height():
            y = int(at.y()) - self.height() - 12
        self.move(max(2, x), max(2, y))
        self.show()
        self.raise_()


class LatentScatterPanel(QWidget):
    """Posterior means of the held-out set in 2-D, with prior contours, a draggable decoder marker and hover."""

    sig_point_selected = Signal(int, object)
    """Click on a point: its index in the snapshot and its μ (numpy (D,))."""
    sig_point_b_selected = Signal(int, object)
    """Shift+click on a point: the second endpoint of an interpolation."""
    sig_latent_moved = Signal(object)
    """The marker is being dragged: the full z (numpy (D,)) it now stands for, emitted live."""
    sig_refresh_requested = Signal()
    """"Refresh now": encode the held-out set at the next step (or now, when idle)."""
    sig_refresh_every_changed = Signal(int)
    """Optimizer steps between automatic refreshes; 0 = only on request."""
    sig_projection_requested = Signal(object)
    """A trainer.projection.ProjectionRequest: compute this UMAP or t-SNE map off the GUI thread."""
    sig_density_requested = Signal(object)
    """A trainer.aggregate.HolesRequest: the aggregate posterior's density in the plane of two dimensions."""
    sig_selection_changed = Signal(object)
    """The box/lasso selection changed (or its points were re-encoded): sorted int64 positions into the snapshot."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._latents = None  # LatentSnapshot
        self._decoder = None  # DecoderSnapshot
        self._xy = np.zeros((0, 2), np.float32)
        self._projection_note = ""  # PCA: the variance the two axes explain, shown in the info line
        self._pca = StablePCA()
        self._z = None  # the marker's full latent vector
        self._syncing = False
        self._selected: dict[str, int] = {}
        self._codes: np.ndarray | None = None
        self._colour_keys: list[tuple[str, str]] = []
        self._lut = np.zeros(1, np.uint32)
        self._token = 0  # the latest map asked for; results of older ones are dropped
        self._map: np.ndarray | None = None  # the last UMAP/t-SNE map of the current points
        self._map_key: tuple | None = None  # (method, params, N) it was computed with
        self._picked = np.zeros(0, np.int64)  # the box/lasso selection: positions into the snapshot

        # --- controls
        self.colour_combo = QComboBox()
        self.colour_combo.setToolTip("Colour the points by class label or by a ground-truth generative factor")
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
        self.thumbs_check = QCheckBox("Thumbnails")
        self.thumbs_check.setToolTip("Draw the inputs themselves at their points: as many as fit without overlapping,\n"
                                     "more as you zoom in (wheel), framed in their point's colour")
        self.thumbs_spin = QSpinBox(minimum=12, maximum=128, singleStep=4, value=DEFAULT_SIZE_PX)
        self.thumbs_spin.setSuffix(" px")
        self.thumbs_spin.setToolTip("Side of one thumbnail on screen")
        self.thumbs_spin.setVisible(False)
        self.grid_check = QCheckBox("Decoded grid")
        self.grid_check.setToolTip("Under the points, the decoder's output E[x|z] on a regular 12 x 12 grid of the two\n"
                                   "chosen dimensions from -3σ to +3σ, the other dimensions held at the sliders' z:\n"
                                   "the 'manifold' picture of Kingma & Welling (2014)")
        self.holes_check = QCheckBox("q(z) vs prior")
        self.holes_check.setToolTip(
            "Under the points, the aggregate posterior q(z) = (1/N) Σ q(z|x_n) of the held-out set in this plane\n"
            "(blue, darker where denser) and, in red, the holes: where the prior N(0, I) puts at least 10 times\n"
            "more density than q(z) does. A z drawn from the prior there is a code the encoder never gives an\n"
            "input, and the decoder never learnt what to make of it.")
        self.x_combo = QComboBox()
        self.y_combo = QComboBox()
        for combo, axis in ((self.x_combo, "horizontal"), (self.y_combo, "vertical")):
            combo.setToolTip(f"Latent dimension on the {axis} axis")
            combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.refresh_spin = QSpinBox(minimum=0, maximum=1_000_000, singleStep=100, value=DEFAULT_REFRESH_STEPS)
        self.refresh_spin.setSpecialValueText("never")
        self.refresh_spin.setSuffix(" steps")
        self.refresh_spin.setToolTip("Re-encode the held-out set every N optimizer steps while training (0: only on demand);\n"
                                     "twice as often while the model is young (steps 20, 40, 80, ...), when it changes fastest")
        self.tool_buttons = QButtonGroup(self)
        self.tool_buttons.setExclusive(True)
        tool_row = []
        for key, text, tip in (
                ("pan", "Pan", "Drag to pan, wheel to zoom; click a point to decode it"),
                ("box", "Box", "Drag a rectangle to select the points in it.\nShift adds to the selection, Ctrl removes from it"),
                ("lasso", "Lasso", "Draw around points to select them.\nShift adds to the selection, Ctrl removes from it")):
            button = QToolButton(text=text, checkable=True, toolTip=tip)
            button.setProperty("tool", key)
            button.setChecked(key == "pan")
            self.tool_buttons.addButton(button)
            tool_row.append(button)
        self.refresh_button = QPushButton("Refresh now")
        self.refresh_button.setToolTip("Encode the held-out set with the current weights")
        self.info = QLabel("Train or open a model to see its latent space.")
        self.info.setStyleSheet("color: #707070")
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Colour"))
        top.addWidget(self.colour_combo)
        top.addSpacing(8)
        top.addWidget(QLabel("View"))
        top.addWidget(self.view_combo)
        top.addWidget(self.x_combo)
        top.addWidget(self.y_combo)
        top.addWidget(self.neighbours_spin)
        top.addWidget(self.min_dist_spin)
        top.addWidget(self.perplexity_spin)
        top.addWidget(self.grid_check)
        top.addWidget(self.holes_check)
        top.addStretch(1)
        second = QHBoxLayout()
        second.addWidget(QLabel("Refresh every"))
        second.addWidget(self.refresh_spin)
        second.addWidget(self.refresh_button)
        second.addStretch(1)
        # a row of their own: beside the refresh controls they widened the panel's (and the window's) minimum
        third = QHBoxLayout()
        third.addWidget(QLabel("Drag"))
        for button in tool_row:
            third.addWidget(button)
        third.addSpacing(8)
        third.addWidget(self.thumbs_check)
        third.addWidget(self.thumbs_spin)
        third.addStretch(1)

        # --- plot
        self.shapes = ShapeViewBox()
        self.plot = pg.PlotWidget(viewBox=self.shapes)
        steady_axes(self.plot.getPlotItem())
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.12)
        self.plot.setAspectLocked(True)  # the prior's contours are circles and should look like circles
        self.plot.setMinimumSize(260, 240)
        self.plot.getPlotItem().hideButtons()
        # the axis titles from the start: appearing with the first snapshot, they re-laid out the plot and
        # painted it twice in a row on the GUI thread, just as training starts
        self._set_axis_labels("PC1", "PC2")
        self.plot.setToolTip("")
        self._grid_key = None  # (decoder, grid latents) of the grid drawn now
        self.grid_item = pg.ImageItem(axisOrder="row-major")
        self.grid_item.setZValue(-20)  # under the points and the prior circles
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
        self.cloud = PointCloudItem()
        self.plot.addItem(self.cloud)
        self.picked_cloud = PointCloudItem()  # the selection again, on top of the faded rest
        self.picked_cloud.setZValue(5)
        self.plot.addItem(self.picked_cloud)
        self.thumbs = ThumbnailItem()
        self.thumbs.setZValue(6)  # over the points, under the A/B rings and the marker
        self.thumbs.hide()
        self.plot.addItem(self.thumbs)
        self._thumb_source = None  # (address, shape) of the images the thumbnails were made from
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
        self._selection_items = {}
        for key, colour in (("a", "#d62728"), ("b", "#1f3fbf")):
            ring = pg.ScatterPlotItem(size=16, pen=pg.mkPen(colour, width=2.5), brush=None, symbol="o")
            text = pg.TextItem(key.upper(), color=colour, anchor=(1.4, -0.1))  # below left: the marker's label is above right
            ring.hide()
            text.hide()
            self.plot.addItem(ring)
            self.plot.addItem(text)
            self._selection_items[key] = (ring, text)
        self.marker = pg.TargetItem(pos=(0, 0), size=18, movable=True, pen=pg.mkPen("#111111", width=2),
                                    hoverPen=pg.mkPen("#d62728", width=2.5), label="z", labelOpts={"color": "#111111", "offset": (10, -10)})
        self.marker.setToolTip("The decoder sliders' z; drag it to decode live")
        self.marker.setZValue(20)
        self.marker.hide()
        self.plot.addItem(self.marker)
        self.hover = _HoverCard(self.plot)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addLayout(second)
        layout.addLayout(third)
        # the info line shares a row with the (wrapping) legend, so neither sets the panel's minimum width
        legend_row = QHBoxLayout()
        legend_row.addWidget(self.legend, 1)
        self.info.setAlignment(Qt.AlignRight | Qt.AlignTop)
        self.info.setMinimumHeight(2 * self.info.fontMetrics().lineSpacing())
        legend_row.addWidget(self.info, 0, Qt.AlignRight | Qt.AlignTop)
        layout.addLayout(legend_row)
        layout.addWidget(self.plot, 1)

        self.colour_combo.currentIndexChanged.connect(self._on_colour_changed)
        self.view_combo.currentIndexChanged.connect(self._on_view_changed)
        self.x_combo.currentIndexChanged.connect(self._on_view_changed)
        self.y_combo.currentIndexChanged.connect(self._on_view_changed)
        for spin in (self.neighbours_spin, self.min_dist_spin, self.perplexity_spin):
            spin.valueChanged.connect(self._on_view_changed)
        self.grid_check.toggled.connect(self._on_background_toggled)
        self.holes_check.toggled.connect(self._on_background_toggled)
        self.thumbs_check.toggled.connect(self._update_thumbnails)
        self.thumbs_spin.valueChanged.connect(self.thumbs.set_size)
        self.refresh_button.clicked.connect(self.sig_refresh_requested)
        self.refresh_spin.valueChanged.connect(self.sig_refresh_every_changed)
        self.marker.sigPositionChanged.connect(self._on_marker_moved)
        self.tool_buttons.buttonToggled.connect(self._on_tool_toggled)
        self.shapes.sig_shape.connect(self._on_shape)
        self._framed_by_hand = False
        self.plot.getPlotItem().vb.sigRangeChangedManually.connect(self._on_range_changed_by_hand)
        self.plot.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self._mouse_proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved)
        self._update_view_controls()

    # --- data in --------------------------------------------------------------------------------
    def set_snapshot(self, latents) -> None:
        """Draw a LatentSnapshot (numbers only; any heavy work was done in the worker)."""
        new_model = self._latents is None or self._latents.latent_dim != latents.latent_dim
        same_points = not new_model and np.array_equal(self._latents.indices, latents.indices)
        self._latents = latents
        if new_model:
            self._pca.reset()
            self._map, self._map_key = None, None
            self._fill_dim_combos(latents.latent_dim)
            self._fill_colour_combo(latents)
            self._z = None
        elif self._colour_options() != self._colour_keys:
            self._fill_colour_combo(latents)
        self._refresh_projection()
        self._update_codes()
        if same_points:  # the same examples re-encoded: the selection holds, its latents changed
            self._draw_points()
            if len(self._picked):
                self.sig_selection_changed.emit(self._picked.copy())
        else:
            self._set_picked(np.zeros(0, np.int64))
        self.shapes.clear_outline()  # drawn on the previous positions
        self._update_thumbnails()
        self._request_density()
        self._update_selection_items()
        self._update_marker()
        self._update_info()
        if new_model:
            self._framed_by_hand = False
        if new_model or (not self._framed_by_hand and not self._view_frames_points()):
            # refreshes re-frame the points when their spread has outgrown the view or shrunk well inside it
            # (the PCA axes stay aligned, so this only zooms); a view zoomed or panned by hand is kept. Only
            # then: new ranges re-lay out the axes, several repaints in a row on a busy GUI thread
            self.plot.autoRange(padding=0.05)

    def set_decoder(self, decoder) -> None:
        """DecoderSnapshot used to show the reconstruction of a hovered point (and the decoded grid)."""
        self._decoder = decoder
        self._update_grid()

    def set_marker(self, z) -> None:
        """Show the sliders' z (numpy (D,)); does not emit sig_latent_moved."""
        self._z = np.array(z, dtype=np.float32).reshape(-1)
        self._update_marker()
        self._update_grid()

    def clear(self) -> None:
        self._latents = None
        self._decoder = None
        self._xy = np.zeros((0, 2), np.float32)
        self._pca.reset()
        self._map, self._map_key = None, None
        self._token += 1  # a map still being computed belongs to what was cleared
        self._z = None
        self._selected.clear()
        self._picked = np.zeros(0, np.int64)
        self.shapes.clear_outline()
        self.cloud.set_points(self._xy, np.zeros(0, np.uint32))
        self.picked_cloud.set_points(self._xy, np.zeros(0, np.uint32))
        self.thumbs.set_images(None)
        self.thumbs.hide()
        self._thumb_source = None
        self._density_token += 1
        self._density, self._density_note = None, ""
        self.density_item.hide()
        self.marker.hide()
        for ring, text in self._selection_items.values():
            ring.hide()
            text.hide()
        self.legend.clear()
        self.hover.hide()
        self.info.setText("Train or open a model to see its latent space.")

    # --- what tests and the window may read ------------------------------------------------------
    @property
    def latents(self):
        return self._latents

    def coordinates(self) -> np.ndarray:
        """(N, 2) plotted position of every point, in snapshot order."""
        return self._xy

    @property
    def map_ready(self) -> bool:
        """False while a UMAP/t-SNE view waits for its first map (the scatter shows PCA meanwhile)."""
        return self.mode not in MAPS or self._latents is None or self._map is not None

    def refresh_every(self) -> int:
        return self.refresh_spin.value()

    def selected(self, key: str = "a") -> int | None:
        return self._selected.get(key)

    def marker_position(self) -> tuple[float, float]:
        p = self.marker.pos()
        return float(p.x()), float(p.y())

    def project(self, z) -> tuple[float, float]:
        """Where latent `z` lands in the current view (plot coordinates): its PCA or chosen-dimension position."""
        return self._project(np.asarray(z, dtype=np.float32))

    def viewport_pos(self, index: int) -> QPointF:
        """Where point `index` is drawn, in the plot viewport's pixel coordinates (for clicks in tests)."""
        x, y = self._xy[index]
        scene = self.plot.getPlotItem().vb.mapViewToScene(QPointF(float(x), float(y)))
        return QPointF(self.plot.mapFromScene(scene))

    def select(self, index: int, second: bool = False) -> None:
        """What a click (or Shift+click) on point `index` does."""
        if self._latents is None:
            return
        key = "b" if second else "a"
        self._selected[key] = int(index)
        self._update_selection_items()
        mu = np.array(self._latents.mu[index], dtype=np.float32)
        (self.sig_point_b_selected if second else self.sig_point_selected).emit(int(index), mu)

    def set_view(self, mode: str, dims: tuple[int, int] | None = None) -> None:
        """mode "pca" or "dims" (with dims = (i, j))."""
        if dims is not None:
            self.x_combo.setCurrentIndex(dims[0])
            self.y_combo.setCurrentIndex(dims[1])
        self.view_combo.setCurrentIndex(self.view_combo.findData(mode))
        self._on_view_changed()

    def set_colour_by(self, key: str) -> None:
        """"label", a factor name, or "none"."""
        index = self.colour_combo.findData(key)
        if index >= 0:
            self.colour_combo.setCurrentIndex(index)

    # --- projection -------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        if self._latents is not None and self._latents.latent_dim < 2:
            return "dims"
        if self._latents is not None and self._latents.latent_dim == 2 and self.view_combo.currentData() == "pca":
            return "dims"  # two dimensions are their own plane; no projection needed
        return self.view_combo.currentData()

    def _dims(self) -> tuple[int, int]:
        return max(self.x_combo.currentIndex(), 0), max(self.y_combo.currentIndex(), 0)

    def _fill_dim_combos(self, d: int) -> None:
        for combo, default in ((self.x_combo, 0), (self.y_combo, min(1, d - 1))):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([f"z{i}" for i in range(d)])
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
        for ring, label in self._rings:  # the prior's contours mean nothing on a nonlinear map
            ring.setVisible(linear)
            label.setVisible(linear)
        self.marker.movable = linear  # a position on a map is not a latent vector (pyqtgraph reads it per drag)
        self.marker.setToolTip("The decoder sliders' z; drag it to decode live" if linear else
                               "The data point nearest to the decoder sliders' z (in latent space)")
        self.view_combo.setEnabled(self._latents is None or self._latents.latent_dim > 2)

    def _params(self) -> ProjectionParams:
        return ProjectionParams(method=self.mode, neighbours=self.neighbours_spin.value(),
                                min_dist=round(self.min_dist_spin.value(), 2), perplexity=self.perplexity_spin.value())

    def _request_map(self) -> None:
        """Ask for a UMAP/t-SNE map of the current points; show the last one (or PCA) until it comes."""
        mu = self._latents.mu
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

    def _refresh_projection(self) -> None:
        mu = self._latents.mu
        if self.mode in MAPS:
            self._request_map()
        elif self.mode == "pca":
            self._xy = self._pca.project(mu)
            ex = self._pca.explained
            # the shares change with every refresh: in the line above the plot, since a changed axis label
            # re-lays out the whole plot
            self._projection_note = f"PC1, PC2 explain {100 * ex[0]:.0f}%, {100 * ex[1]:.0f}% of Var μ"
            self._set_axis_labels("PC1", "PC2")
        else:
            i, j = self._dims()
            y = mu[:, j] if mu.shape[1] > 1 else np.zeros(len(mu), np.float32)
            self._xy = np.stack([mu[:, i], y], axis=1).astype(np.float32)
            self._projection_note = ""
            self._set_axis_labels(f"z{i}", f"z{j}" if mu.shape[1] > 1 else "")

    def _update_info(self) -> None:
        lat = self._latents
        # always two lines (the second may be empty), so a refresh never changes the plot's height
        note = self._density_note if self.mode == "dims" and self._density_note else self._projection_note
        self.info.setText(f"μ of {len(lat):,} held-out examples · step {lat.step:,}\n{note}")

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

    def grid_z(self) -> np.ndarray | None:
        """The (GRID_SIDE**2, D) latents the decoded grid shows, row by row from the top (highest z_j) left, or None
        when it is off."""
        if not (self.grid_check.isChecked() and self.mode == "dims" and self._decoder is not None
                and self._latents is not None and self._latents.latent_dim >= 2):
            return None
        i, j = self._dims()
        if i == j:
            return None
        base = self._z if self._z is not None and len(self._z) == self._latents.latent_dim else \
            np.zeros(self._latents.latent_dim, np.float32)
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

    def _on_background_toggled(self, checked: bool = False) -> None:
        """The decoded grid and q(z) vs prior share the space under the points: one at a time."""
        if checked:
            other = self.holes_check if self.sender() is self.grid_check else self.grid_check
            other.blockSignals(True)
            other.setChecked(False)
            other.blockSignals(False)
        self._update_grid()
        self._request_density()

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
        self.sig_density_requested.emit(HolesRequest(self._density_token, lat.mu, lat.logvar, i, j))

    def set_density(self, token: int, holes) -> None:
        """The trainer.aggregate.HoleMap asked for with `token` has arrived: draw it (a stale one is dropped)."""
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
        self.density_item.setImage(rgba, levels=(0, 255))  # row 0 (the lowest z_j) at the bottom: the plot's y points up
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
        """The trainer.aggregate.HoleMap drawn now, or None."""
        return self._density if self.density_item.isVisible() else None

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

    # --- colour -----------------------------------------------------------------------------------
    def _colour_options(self) -> list[tuple[str, str]]:
        return [(key, key) for key in category_keys(self._latents)] + [("none", "none")]

    def _fill_colour_combo(self, latents) -> None:
        previous = self.colour_combo.currentData()
        options = self._colour_options()
        self._colour_keys = options
        self.colour_combo.blockSignals(True)
        self.colour_combo.clear()
        for text, key in options:
            self.colour_combo.addItem(text, key)
        keys = [k for _, k in options]
        self.colour_combo.setCurrentIndex(keys.index(previous) if previous in keys else 0)
        self.colour_combo.blockSignals(False)

    def _update_codes(self) -> None:
        """Category code per point and a colour table for the current colour-by choice."""
        key = self.colour_combo.currentData()
        grouped = categories(self._latents, key)
        codes, names = grouped if grouped is not None else (np.zeros(len(self._latents), np.int64), [])
        k = max(len(names), 1)
        self._codes = codes
        rgb = palette(k) if names else np.array([colour_rgb(NEUTRAL)], np.uint8)
        self._lut = argb_words(rgb)
        self._legend_html(key, names, rgb)

    def _legend_html(self, key: str, names: list[str], rgb: np.ndarray) -> None:
        if not names:
            self.legend.setText("<span style='color:#707070'>Dashed circles: the prior's 1σ and 2σ contours. "
                                "Click a point to decode it; Shift+click picks a second point.</span>")
            return
        def swatch(i: int) -> str:
            r, g, b = (int(v) for v in rgb[i])
            return f"<span style='color:rgb({r},{g},{b})'>●</span>&nbsp;{names[i]}"
        if len(names) <= 12:
            items = [swatch(i) for i in range(len(names))]
            text = f"<b>{key}</b>&nbsp;&nbsp;" + "&nbsp;&nbsp; ".join(items)
        else:
            picks = np.unique(np.linspace(0, len(names) - 1, 6).round().astype(int))
            text = f"<b>{key}</b> (index 0–{len(names) - 1})&nbsp;&nbsp;" + " … ".join(swatch(int(i)) for i in picks)
        self.legend.setText(text)

    def _on_colour_changed(self, *_args) -> None:
        if self._latents is None:
            return
        self._update_codes()
        self._draw_points()

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

    def _draw_points(self) -> None:
        colours = self._lut[self._codes]
        if self.thumbs.isVisible():
            self.thumbs.set_points(self._xy, colours)
        picked = self._picked
        if len(picked):
            # the rest fades toward white and the selection is drawn again on top, so it is never hidden
            rgb = np.stack([(colours >> s) & 0xFF for s in (16, 8, 0)], 1).astype(np.float32)
            faded = argb_words((rgb + FADE * (255.0 - rgb)).astype(np.uint8))
            self.cloud.set_points(self._xy, faded)
            self.picked_cloud.set_points(self._xy[picked], colours[picked])
        else:
            self.cloud.set_points(self._xy, colours)
            self.picked_cloud.set_points(np.zeros((0, 2)), np.zeros(0, np.uint32))

    # --- box and lasso selection ------------------------------------------------------------------
    def selection(self) -> np.ndarray:
        """Sorted int64 positions (into the snapshot) of the box/lasso selection; empty when none."""
        return self._picked.copy()

    def set_selection(self, positions) -> None:
        """Select these points (positions into the snapshot), as a finished shape would."""
        self._set_picked(np.unique(np.asarray(positions, np.int64)))

    def clear_selection(self) -> None:
        self.shapes.clear_outline()
        self._set_picked(np.zeros(0, np.int64))

    def set_tool(self, tool: str) -> None:
        """What a left-drag on the plot does: "pan", "box" or "lasso"."""
        for button in self.tool_buttons.buttons():
            if button.property("tool") == tool:
                button.setChecked(True)

    @property
    def tool(self) -> str:
        return self.shapes.tool

    def _on_tool_toggled(self, button, checked: bool) -> None:
        if checked:
            self.shapes.tool = button.property("tool")

    def _on_shape(self, kind: str, vertices: np.ndarray, how: str) -> None:
        if self._latents is None:
            self.shapes.clear_outline()
            return
        if kind == "box":
            inside = inside_box(self._xy, vertices[0], vertices[2])
        else:
            inside = inside_polygon(self._xy, vertices)
        self._set_picked(combine(self._picked, np.flatnonzero(inside), how))
        if how != "replace":
            self.shapes.clear_outline()  # the outline would show only the last of several shapes

    def _set_picked(self, picked: np.ndarray) -> None:
        changed = not np.array_equal(picked, self._picked)
        self._picked = picked
        if self._latents is not None:
            self._draw_points()
        if changed:
            self.sig_selection_changed.emit(picked.copy())

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.key() == Qt.Key_Escape and len(self._picked):
            self.clear_selection()
            return
        super().keyPressEvent(event)

    # --- selection and marker ---------------------------------------------------------------------
    def _update_selection_items(self) -> None:
        for key, (ring, text) in self._selection_items.items():
            index = self._selected.get(key)
            if index is None or self._latents is None or index >= len(self._xy):
                ring.hide()
                text.hide()
                continue
            x, y = (float(v) for v in self._xy[index])
            ring.setData([x], [y])
            text.setPos(x, y)
            ring.show()
            text.show()

    def _update_marker(self) -> None:
        if self._z is None or self._latents is None or len(self._z) != self._latents.latent_dim:
            self.marker.hide()
            return
        self._syncing = True
        try:
            self.marker.setPos(*self._project(self._z))
        finally:
            self._syncing = False
        self.marker.show()

    def _on_marker_moved(self, *_args) -> None:
        if self._syncing or self._z is None:
            return
        p = self.marker.pos()
        self._z = self._lift(self._z, float(p.x()), float(p.y()))
        self.sig_latent_moved.emit(self._z.copy())

    # --- mouse ------------------------------------------------------------------------------------
    def _nearest(self, scene_pos) -> int | None:
        """Index of the point nearest to a scene position, if within HOVER_RADIUS_PX screen pixels."""
        if self._latents is None or not len(self._xy):
            return None
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        px, py = vb.viewPixelSize()
        d2 = ((self._xy[:, 0] - p.x()) / px) ** 2 + ((self._xy[:, 1] - p.y()) / py) ** 2
        i = int(np.argmin(d2))
        return i if d2[i] <= HOVER_RADIUS_PX ** 2 else None

    def _on_scene_clicked(self, event) -> None:
        if event.button() != Qt.LeftButton or event.isAccepted():
            return
        if self.marker.isVisible() and self.marker.sceneBoundingRect().contains(event.scenePos()):
            return
        index = self._nearest(event.scenePos())
        if index is not None:
            self.select(index, second=bool(event.modifiers() & Qt.ShiftModifier))

    def _on_mouse_moved(self, args) -> None:
        scene_pos = args[0]
        index = self._nearest(scene_pos)
        if index is None:
            self.hover.hide()
            return
        if index == self.hover.index and self.hover.isVisible():
            return
        self.show_hover(index, QPointF(self.plot.mapFromScene(scene_pos)))

    def show_hover(self, index: int, at: QPointF | None = None) -> None:
        """The thumbnail card for point `index` (input | reconstruction) near `at` (plot widget pixels)."""
        lat = self._latents
        x = to_float01(np.asarray(lat.x[index]))
        recon = None
        y = int(lat.labels[index]) if lat.labels is not None else None
        if self._decoder is not None and self._decoder.latent_dim == lat.latent_dim:
            recon = self._decoder.decode(lat.mu[index][None], y)[0]
        parts = [f"<b>#{int(lat.indices[index])}</b>"]
        if y is not None:
            name = lat.class_names[y] if y < len(lat.class_names) else str(y)
            parts.append(f"label {name}")
        if lat.factors is not None:
            parts.append(", ".join(f"{n} {int(v)}" for n, v in zip(lat.factor_names, lat.factors[index])))
        parts.append("input │ reconstruction" if recon is not None else "input")
        self.hover.show_for(index, x, recon, "<br>".join(parts), at if at is not None else self.viewport_pos(index))
