"""`LatentScatterPanel`: the plot, its controls and the public API, composed from one mixin per concern.

Views (views.py), overlays under and over the points (overlays.py), colours (colours.py), box/lasso selection
(selection_tool.py), the A/B rings and the z marker (markers.py) and hover (hover.py) each build their own
controls and plot items; this module lays them out, wires them and takes snapshots in.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QToolButton, QVBoxLayout, QWidget

from explorer.panels.latent.colours import ColoursMixin
from explorer.panels.latent.hover import HoverMixin
from explorer.panels.latent.markers import MarkersMixin
from explorer.panels.latent.pinned import PinnedMixin
from explorer.panels.latent.overlays import OverlaysMixin
from explorer.panels.latent.selection_tool import SelectionToolMixin
from explorer.panels.latent.views import ViewsMixin
from explorer.models.explored_run import ExploredRun
from explorer.models.latent_cursor import LatentCursor
from explorer.models.latent_layers import LatentLayers
from explorer.models.point_inference import PointInference
from explorer.plotting.axes import steady_axes
from explorer.plotting.point_cloud import PointCloudItem
from explorer.plotting.shape_select import ShapeViewBox

DEFAULT_REFRESH_STEPS = 500
IDLE_INFO = "Train or open a model to see its latent space."
CAPTION_NAME_CHARS = 24
"""The explored run's name in the caption, cut to this many characters (the status bar's badge has it whole)."""


class LatentScatterPanel(ViewsMixin, OverlaysMixin, ColoursMixin, SelectionToolMixin, MarkersMixin, HoverMixin,
                         PinnedMixin, QWidget):
    """Posterior means of the held-out set in 2-D, with prior contours, a draggable decoder marker and hover."""

    sig_point_selected = Signal(int, object)
    """Click on a point: its index in the snapshot and its μ (numpy (D,))."""
    sig_point_b_selected = Signal(int, object)
    """Shift+click on a point: the second endpoint of an interpolation."""
    sig_refresh_requested = Signal()
    """"Refresh now": encode the held-out set at the next step (or now, when idle)."""
    sig_refresh_every_changed = Signal(int)
    """Optimizer steps between automatic refreshes; 0 = only on request."""
    sig_projection_requested = Signal(object)
    """A trainer.analysis.projection.ProjectionRequest: compute this UMAP or t-SNE map off the GUI thread."""
    sig_density_requested = Signal(object)
    """A trainer.analysis.holes.HolesRequest: the aggregate posterior's density in the plane of two dimensions."""

    def __init__(self, cursor: LatentCursor | None = None, parent: QWidget | None = None,
                 layers: LatentLayers | None = None, point: PointInference | None = None,
                 explored: ExploredRun | None = None):
        super().__init__(parent)
        self.explored = explored if explored is not None else ExploredRun(self)
        """Which run's encodings these are: named in the caption."""
        self.explored.sig_changed.connect(self._on_explored)
        self.point = point if point is not None else PointInference(self)
        """One example's classical-VI trace, whose path from the encoder's guess to q* is drawn here."""
        self.cursor = cursor if cursor is not None else LatentCursor(self)
        """z (the marker), the interpolation ends a click sets, and the box/lasso selection drawn here."""
        self.layers = layers if layers is not None else LatentLayers(self)
        """A hierarchy's layers: PCA, UMAP and t-SNE use the chosen layer's dimensions only."""
        self._latents = None  # LatentSnapshot
        self._decoder = None  # DecoderSnapshot
        self._build_colour_controls()
        self._build_view_controls()
        self._build_overlay_controls()
        tool_row = self._build_tool_buttons()
        self._build_refresh_controls()
        self._build_plot()
        self._build_layout(tool_row)
        self._connect_signals()
        self._update_view_controls()

    # --- construction ---------------------------------------------------------------------------------
    def _build_refresh_controls(self) -> None:
        self.refresh_spin = QSpinBox(minimum=0, maximum=1_000_000, singleStep=100, value=DEFAULT_REFRESH_STEPS)
        self.refresh_spin.setSpecialValueText("never")
        self.refresh_spin.setSuffix(" steps")
        self.refresh_spin.setToolTip(
            "Re-encode the held-out set every N optimizer steps while training (0: only on demand);\n"
            "twice as often while the model is young (steps 20, 40, 80, ...), when it changes fastest")
        self.refresh_button = QPushButton("Refresh now")
        self.refresh_button.setToolTip("Encode the held-out set with the current weights")
        self.info = QLabel(IDLE_INFO)
        self.info.setStyleSheet("color: #707070")
        self.info.setWordWrap(True)  # a long note must not widen the panel (and the window)

    def _build_plot(self) -> None:
        """The plot and its items, added in stacking order: items of equal Z are drawn in the order added."""
        self.shapes = ShapeViewBox()
        self.plot = pg.PlotWidget(viewBox=self.shapes)
        steady_axes(self.plot.getPlotItem())
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.12)
        self.plot.setAspectLocked(True)  # the prior's contours are circles and should look like circles
        self.plot.setMinimumSize(240, 200)  # small enough for a 1280x800 screen's right column
        self.plot.getPlotItem().hideButtons()
        # the axis titles from the start: appearing with the first snapshot, they re-laid out the plot and
        # painted it twice in a row on the GUI thread, just as training starts
        self._set_axis_labels("PC1", "PC2")
        self.plot.setToolTip("")
        self._build_backgrounds()
        self.cloud = PointCloudItem()
        self.plot.addItem(self.cloud)
        self.picked_cloud = PointCloudItem()  # the selection again, on top of the faded rest
        self.picked_cloud.setZValue(5)
        self.plot.addItem(self.picked_cloud)
        self._build_thumbnails()
        self._build_prior_rings()
        self._build_pick_rings()
        self._build_marker()
        self._build_vi_path()
        self._build_hover()
        self._build_pinned()

    def _control_rows(self, tool_row: list[QToolButton]) -> list[QHBoxLayout]:
        top = QHBoxLayout()
        top.addWidget(QLabel("Colour"))
        top.addWidget(self.colour_combo)
        top.addSpacing(8)
        top.addWidget(QLabel("View"))
        for widget in (self.view_combo, self.x_combo, self.y_combo, self.neighbours_spin, self.min_dist_spin,
                       self.perplexity_spin, self.grid_check, self.holes_check):
            top.addWidget(widget)
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
        return [top, second, third]

    def _build_layout(self, tool_row: list[QToolButton]) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        for row in self._control_rows(tool_row):
            layout.addLayout(row)
        # the info line shares a row with the (wrapping) legend, so neither sets the panel's minimum width
        legend_row = QHBoxLayout()
        legend_row.addWidget(self.legend, 1)
        self.info.setAlignment(Qt.AlignRight | Qt.AlignTop)
        self.info.setMinimumHeight(2 * self.info.fontMetrics().lineSpacing())
        legend_row.addWidget(self.info, 0, Qt.AlignRight | Qt.AlignTop)
        layout.addLayout(legend_row)
        layout.addWidget(self.plot, 1)

    def _connect_signals(self) -> None:
        self.colour_combo.currentIndexChanged.connect(self._on_colour_changed)
        self.view_combo.currentIndexChanged.connect(self._on_view_changed)
        self.x_combo.currentIndexChanged.connect(self._on_view_changed)
        self.y_combo.currentIndexChanged.connect(self._on_view_changed)
        self.layers.sig_changed.connect(self._on_layers_changed)
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
        self.plot.getPlotItem().vb.sigRangeChangedManually.connect(self._on_range_changed_by_hand)
        self.plot.scene().sigMouseClicked.connect(self._on_scene_clicked)
        self._mouse_proxy = pg.SignalProxy(self.plot.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved)

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
        elif self._colour_options() != self._colour_keys:
            self._fill_colour_combo(latents)
        self._refresh_projection()
        self._update_codes()
        # the same examples re-encoded: the selection holds (the panels reading it take the new encodings in
        # their own turns); other examples: positions into the old ones mean nothing now
        if not same_points:
            self.cursor.clear_selection()
        self._draw_points()
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

    def clear(self) -> None:
        self._latents = None
        self._decoder = None
        self._xy = np.zeros((0, 2), np.float32)
        self._pca.reset()
        self._map, self._map_key = None, None
        self._token += 1  # a map still being computed belongs to what was cleared
        self._selected.clear()
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
        self.vi_path.hide()
        self.vi_end.hide()
        for ring, text in self._selection_items.values():
            ring.hide()
            text.hide()
        self.legend.clear()
        self.hover.hide()
        self.info.setText(IDLE_INFO)

    # --- what tests and the window may read ------------------------------------------------------
    @property
    def latents(self):
        return self._latents

    def refresh_every(self) -> int:
        return self.refresh_spin.value()

    def _on_explored(self, _explored) -> None:
        if self._latents is not None:  # a new name for the run shown
            self._update_info()

    def _update_info(self) -> None:
        lat = self._latents
        # always two lines (the second may be empty), so a refresh never changes the plot's height
        note = self._density_note if self.mode == "dims" and self._density_note else self._projection_note
        name = self.explored.value.title
        if len(name) > CAPTION_NAME_CHARS:  # a long run name must not wrap the caption onto a third line
            name = name[:CAPTION_NAME_CHARS - 1] + "…"
        self.info.setText(f"{name} · step {lat.step:,} · μ of {len(lat):,} held-out\n{note}")
