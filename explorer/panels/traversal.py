"""Latent traversals and interpolations, decoded from the latest decoder snapshot.

    panel = TraversalPanel(cursor)     # an explorer.models.LatentCursor: its z is the centre, its ends A and B
    panel.set_decoder(snapshot)        # trainer.analysis.snapshots.DecoderSnapshot
    panel.set_kl(kl_per_dim)           # rows default to the dimensions with the most KL
    panel.export_traversal_png(path); panel.export_interpolation_png(path)

Traversal: row r is z with z[d_r] swept over −3…+3 prior σ, everything else held at the centre, so a row
shows what one dimension does on its own. Interpolation: decoded points from A to B, linear or spherical.
Decoding a grid is a few ms for the MLP decoder; redraws are coalesced so a stream of snapshots or slider
moves costs at most ~8 grid decodes a second.
"""

from __future__ import annotations

import time

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.models.latent_cursor import LatentCursor
from explorer.models.explored_run import ExploredRun
from explorer.models.latent_layers import LatentLayers
from explorer.panels.layer_chooser import LayerChooser
from explorer.plotting.seen import in_view
from explorer.plotting.image_grid import ImageGridView
from trainer.analysis.geometry import DEFAULT_SPAN, interpolate, traversal_latents, traversal_values

REDRAW_MS = 120
"""Grids are re-decoded at most this often (slider moves arrive faster)."""
SNAPSHOT_REDRAW_MS = 1000
"""A new decoder snapshot alone (4 a second while training) re-decodes the grids at most once a second: on
the GUI thread that decode competes with training for the CPU, and a grid changes little in a quarter second."""
DEFAULT_ROWS = 6
"""The six highest-KL dimensions: big enough tiles in a docked panel; the Dims box shows more."""
DEFAULT_COLUMNS = 9
STRIP_MAX_HEIGHT = 84
"""The interpolation strip's height cap (px) for small images; larger ones may take what 1x needs."""


class TraversalPanel(QWidget):
    """Traversal grid (rows = dimensions, columns = −3σ…+3σ) and an A→B interpolation strip, both exportable."""

    def __init__(self, cursor: LatentCursor | None = None, parent: QWidget | None = None,
                 layers: LatentLayers | None = None, explored: ExploredRun | None = None):
        super().__init__(parent)
        self.explored = explored if explored is not None else ExploredRun(self)
        """Which run the grids decode: its name heads the traversal."""
        self.explored.sig_changed.connect(self._on_explored)
        self.cursor = cursor if cursor is not None else LatentCursor(self)
        """The traversal's centre (z, "selected z") and the interpolation's ends A and B."""
        self.layers = layers if layers is not None else LatentLayers(self)
        """A hierarchy's layers and the one traversed (shared with the other latent panels)."""
        self._decoder = None
        self._pinned = None  # moment A's DecoderSnapshot: its grid is decoded beside the current one
        self._kl: np.ndarray | None = None
        self._label: int | None = None
        self._dims: list[int] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(6)
        # the traversal's rows take the spare height; the strip is capped (_fit_strip)
        layout.addWidget(self._build_traversal(), 1)
        layout.addWidget(self._build_interpolation(), 0)

        self._timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._timer.timeout.connect(self._on_redraw_due)
        self._last_redraw = -1e9  # time.monotonic() of the last decode
        self._stale = False  # a redraw came due while hidden (a background tab): done when shown
        for signal in (self.around_combo.currentIndexChanged, self.rows_spin.valueChanged, self.cols_spin.valueChanged,
                       self.mode_combo.currentIndexChanged, self.steps_spin.valueChanged):
            signal.connect(self._on_setting_changed)
        self.traversal_export.clicked.connect(self._on_export_traversal_clicked)
        self.interp_export.clicked.connect(self._on_export_interpolation_clicked)
        self.cursor.sig_moved.connect(self._on_cursor_moved)
        self.cursor.sig_end_changed.connect(self._on_end_changed)
        self.layers.sig_changed.connect(self._on_layers_changed)
        self._update_buttons()

    def _build_traversal(self) -> QWidget:
        """The traversal's bar (centre, dimensions, steps, export) over its grid."""
        self.around_combo = QComboBox()
        self.around_combo.addItem("selected point", "selected")
        self.around_combo.addItem("origin", "origin")
        self.around_combo.setToolTip("Hold the other dimensions at the selected z (the sliders) or at 0")
        self.rows_spin = QSpinBox(minimum=1, maximum=64, value=DEFAULT_ROWS)
        self.rows_spin.setToolTip("How many dimensions to show, highest KL first")
        self.cols_spin = QSpinBox(minimum=3, maximum=21, value=DEFAULT_COLUMNS, singleStep=2)
        self.cols_spin.setToolTip(f"Values from −{DEFAULT_SPAN:g}σ to +{DEFAULT_SPAN:g}σ")
        self.layer_combo = LayerChooser(self.layers, tooltip=(
            "A hierarchical VAE: the layer whose dimensions the rows sweep. The layers above stay at the\n"
            "selected point; the layers below sit at u = 0, their conditional means under p(z_l | z_{l+1}),\n"
            "so a row shows what that layer alone tells the generative model. The latent scatter's PCA and\n"
            "UMAP/t-SNE views and the decoder's sliders show the same layer."))
        self.traversal_export = QPushButton("Export PNG…")
        self.traversal_view = ImageGridView(placeholder="Train or open a model to traverse its latent dimensions.")
        self.traversal_view.setMinimumHeight(60)  # docked below the curves, it shares their column's height
        self.traversal_view.setToolTip("Each row sweeps one latent dimension from −3σ to +3σ, the others held "
                                       "fixed;\nthe number after a row's name is that dimension's KL in nats")
        bar = QHBoxLayout()
        bar.addWidget(_heading("Traversal"))
        bar.addWidget(QLabel("Around"))
        bar.addWidget(self.around_combo)
        bar.addWidget(self.layer_combo.caption)
        bar.addWidget(self.layer_combo)
        bar.addWidget(QLabel("Dims"))
        bar.addWidget(self.rows_spin)
        bar.addWidget(QLabel("Steps"))
        bar.addWidget(self.cols_spin)
        bar.addStretch(1)
        bar.addWidget(self.traversal_export)
        # no group box frames: in a dock sharing the curves' column their titles and margins took more height
        # than the tiles got
        box = QWidget()
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        box_layout.setSpacing(2)
        box_layout.addLayout(bar)
        self.pinned_view = ImageGridView(placeholder="")
        self.pinned_view.setMinimumHeight(60)
        self.pinned_view.setToolTip("Moment A (pinned on the timeline): the same rows, values and centre decoded by "
                                    "that moment's decoder, beside the moment shown")
        self.pinned_view.hide()
        grids = QHBoxLayout()
        grids.setSpacing(6)
        grids.addWidget(self.pinned_view, 1)
        grids.addWidget(self.traversal_view, 1)
        box_layout.addLayout(grids, 1)
        return box

    def _build_interpolation(self) -> QWidget:
        """The interpolation's bar (mode, steps, the ends A and B, export) over its one-row strip."""
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("linear", "linear")
        self.mode_combo.addItem("spherical (slerp)", "slerp")
        self.mode_combo.setToolTip(
            "Linear: straight line from A to B. Spherical: along the great circle, keeping the norm of z\n"
            "near that of typical prior samples (a straight line passes atypically close to the origin).")
        self.steps_spin = QSpinBox(minimum=2, maximum=24, value=10)
        self.endpoints_label = QLabel("Click a point in the scatter for A, Shift+click for B.")
        self.endpoints_label.setStyleSheet("color: #707070")
        # a long hint must not set the panel's minimum width (word wrap would: height-for-width in a dock
        # squeezed the traversal grid); it is cut short instead, and the tooltip holds it whole
        self.endpoints_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.endpoints_label.setToolTip(self.endpoints_label.text())
        self.interp_export = QPushButton("Export PNG…")
        self.interp_view = ImageGridView(
            placeholder="Pick two points: click (A) and Shift+click (B) in the latent scatter.")
        self.interp_view.title_on_screen = False  # the bar above says the mode and the endpoints; exports keep it
        # a one-row strip (labels, tiles): capped, so the traversal's rows get the spare height
        self.interp_view.setMinimumHeight(48)
        self.interp_view.setMaximumHeight(STRIP_MAX_HEIGHT)  # until its images are known: _fit_strip
        bar = QHBoxLayout()
        bar.addWidget(_heading("Interpolation A → B"))
        bar.addWidget(self.mode_combo)
        bar.addWidget(QLabel("Steps"))
        bar.addWidget(self.steps_spin)
        bar.addWidget(self.endpoints_label, 1)
        bar.addWidget(self.interp_export)
        ibox = QWidget()
        ibox_layout = QVBoxLayout(ibox)
        ibox_layout.setContentsMargins(0, 0, 0, 0)
        ibox_layout.setSpacing(2)
        ibox_layout.addLayout(bar)
        ibox_layout.addWidget(self.interp_view, 1)
        return ibox

    # --- data in --------------------------------------------------------------------------------
    def set_decoder(self, decoder) -> None:
        if self._decoder is not None and decoder.latent_dim != self._decoder.latent_dim:
            self._kl = None
        self.cursor.fit(decoder.latent_dim)
        self._decoder = decoder
        self._schedule(SNAPSHOT_REDRAW_MS)

    def set_pinned(self, decoder) -> None:
        """Moment A's DecoderSnapshot: its traversal of the same dimensions, values and centre is shown beside the
        current one; None: no moment pinned."""
        self._pinned = decoder
        self.pinned_view.setVisible(decoder is not None)
        self._schedule()

    def set_kl(self, kl_per_dim) -> None:
        """Per-dimension KL (nats): the grid shows the highest-KL dimensions first."""
        self._kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
        self._schedule()

    def _on_explored(self, _explored) -> None:
        if self._decoder is not None:  # a new name for the run shown
            self._schedule()

    def _on_cursor_moved(self, _z, _origin) -> None:
        if self.around_combo.currentData() == "selected":
            self._schedule()

    def set_label(self, label: int | None) -> None:
        """The condition y for a conditional decoder."""
        self._label = label
        self._schedule()

    def _on_end_changed(self, _key: str) -> None:
        self._update_endpoint_text()
        self._schedule()

    def clear(self) -> None:
        self._decoder, self._kl = None, None
        self.traversal_view.clear()
        self.interp_view.clear()
        self.traversal_view.title = self.interp_view.title = ""  # they named the cleared model's step
        self._update_endpoint_text()
        self._update_buttons()

    def refresh_now(self) -> None:
        """Decode both grids now instead of at the next coalesced redraw."""
        self._timer.stop()
        self._redraw()

    # --- what tests may read ------------------------------------------------------------------------
    def traversal_dims(self) -> list[int]:
        return list(self._dims)

    def traversal_center(self) -> np.ndarray:
        d = self._decoder.latent_dim
        z = self.cursor.z
        if self.around_combo.currentData() == "origin" or len(z) != d:
            return np.zeros(d, np.float32)
        if self.layers.chosen is not None:  # the layers below the traversed one at their conditional means
            z = z.copy()
            z[:self.layers.slice().start] = 0.0
        return z

    def traversal_values(self) -> np.ndarray:
        return traversal_values(self.cols_spin.value(), DEFAULT_SPAN)

    def interpolation_latents(self) -> np.ndarray | None:
        a, b = self.cursor.end("a"), self.cursor.end("b")
        if a is None or b is None or self._decoder is None:
            return None
        (za, _), (zb, _) = a, b
        if len(za) != self._decoder.latent_dim or len(zb) != self._decoder.latent_dim:
            return None
        return interpolate(za, zb, self.steps_spin.value(), self.mode_combo.currentData())

    def export_traversal_png(self, path: str) -> bool:
        return self.traversal_view.export_png(path)

    def export_interpolation_png(self, path: str) -> bool:
        return self.interp_view.export_png(path)

    # --- drawing ------------------------------------------------------------------------------------
    def _schedule(self, gap_ms: int = REDRAW_MS) -> None:
        """Redraw `gap_ms` after the previous redraw, and at least REDRAW_MS from now (coalescing)."""
        since_ms = (time.monotonic() - self._last_redraw) * 1000
        delay = int(max(REDRAW_MS, gap_ms - since_ms))
        if self._timer.isActive() and self._timer.remainingTime() <= delay:
            return
        self._timer.start(delay)

    def _on_setting_changed(self, *_args) -> None:
        self._schedule()

    def _on_layers_changed(self) -> None:
        """The model's layers or the chosen one changed (here or in another panel): redraw."""
        if self._decoder is not None:
            self._schedule()

    def _on_redraw_due(self) -> None:
        # closed, or behind another tab (Qt moves those off-screen rather than hiding them): decode when seen
        if not in_view(self):
            self._stale = True
            return
        self._redraw()

    def on_shown(self, shown: bool = True) -> None:
        """The panel came into view (QDockWidget.visibilityChanged, e.g. its tab was selected)."""
        if shown and self._stale:
            self._schedule()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.on_shown()

    def _pick_dims(self) -> list[int]:
        d = self._decoder.latent_dim
        shown = self.layers.slice() if sum(self.layers.dims) == d else slice(0, d)
        candidates = np.arange(d)[shown]
        n = min(self.rows_spin.value(), len(candidates))
        if self._kl is not None and len(self._kl) == d:
            return [int(i) for i in candidates[np.argsort(-self._kl[shown], kind="stable")[:n]]]
        return [int(i) for i in candidates[:n]]

    def _redraw(self) -> None:
        self._stale = False
        if self._decoder is None:
            return
        self._last_redraw = time.monotonic()
        self._dims = self._pick_dims()
        values = self.traversal_values()
        latents = traversal_latents(self.traversal_center(), self._dims, values)
        rows, cols, d = latents.shape
        images = self._decoder.decode(latents.reshape(rows * cols, d), self._label)
        row_labels = []
        for dim in self._dims:
            kl = f"  {self._kl[dim]:.2f}" if self._kl is not None and len(self._kl) == d else ""
            row_labels.append(f"{self.layers.name(dim)}{kl}")
        col_labels = [f"{v:+.1f}".replace("+0.0", "0").replace("-0.0", "0") for v in values]
        around = "origin" if self.around_combo.currentData() == "origin" else "selected z"
        units = "prior σ" if self._decoder.config.prior == "standard" else "z (a VampPrior has no σ)"
        if self.layers.chosen is not None:
            around += f" · layer {self.layers.label(self.layers.chosen)}, those below at their conditional means"
        self.traversal_view.title = (f"{self.explored.value.title} · step {self._decoder.step:,} · rows: dimension "
                                     f"(KL nats) · columns: value in {units} · around {around}")
        self.traversal_view.set_images(images.reshape(rows, cols, *images.shape[1:]), row_labels=row_labels,
                                       col_labels=col_labels)
        pinned = self._pinned
        if pinned is not None and pinned.latent_dim == d:
            self.pinned_view.title = f"moment A · step {pinned.step:,} (the same rows and values)"
            grid = pinned.decode(latents.reshape(rows * cols, d), self._label)
            self.pinned_view.set_images(grid.reshape(rows, cols, *grid.shape[1:]), row_labels=row_labels,
                                        col_labels=col_labels)
        path = self.interpolation_latents()
        if path is not None:
            strip = self._decoder.decode(path, self._label)
            labels = ["A"] + [""] * (len(path) - 2) + ["B"]
            mode = self.mode_combo.currentText()
            self.interp_view.title = f"{mode} · {self.cursor.end('a')[1]} → {self.cursor.end('b')[1]}"
            self.interp_view.set_images(strip, ncols=len(strip), col_labels=labels)
        self._fit_strip()
        self._update_buttons()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)  # the layout has placed the two views already
        self._fit_strip()

    def _fit_strip(self) -> None:
        """Share the two views' height so the strip's one row of tiles is about as tall as each of the
        traversal's rows (the traversal takes the rest), and never past 1x (2x for images of 32 px or less)."""
        tv, iv = self.traversal_view, self.interp_view
        shown, strip = tv.images(), iv.images()
        if strip is None:
            iv.setMaximumHeight(STRIP_MAX_HEIGHT)
            return
        rows = shown.shape[0] if shown is not None else DEFAULT_ROWS
        # the room both views' tiles share: their heights now (which the cap only moves between them), less
        # each one's title, labels and gaps (its height for tiles of 0 px)
        chrome = iv.height_for_tiles(0) + (tv.height_for_tiles(0) if shown is not None else 24)
        room = tv.height() + iv.height() - chrome
        image_px = strip.shape[-2]
        tile = max(min(room / (rows + 1), image_px * (2 if image_px <= 32 else 1)), 16)
        iv.setMaximumHeight(max(iv.minimumHeight(), iv.height_for_tiles(int(tile))))

    def _update_endpoint_text(self) -> None:
        a, b = self.cursor.end("a"), self.cursor.end("b")
        if a and b:
            self.endpoints_label.setText(f"A = {a[1]}, B = {b[1]}")
        elif a:
            self.endpoints_label.setText(f"A = {a[1]}; Shift+click a point for B")
        else:
            self.endpoints_label.setText("Click a point in the scatter for A, Shift+click for B.")
        self.endpoints_label.setToolTip(self.endpoints_label.text())

    def _update_buttons(self) -> None:
        self.traversal_export.setEnabled(self.traversal_view.mosaic() is not None)
        self.interp_export.setEnabled(self.interp_view.mosaic() is not None)

    # --- export -------------------------------------------------------------------------------------
    def _ask_path(self, suggestion: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, "Export PNG", suggestion, "PNG images (*.png)")
        if path and not path.lower().endswith(".png"):
            path += ".png"
        return path

    def _on_export_traversal_clicked(self) -> None:
        path = self._ask_path("traversal.png")
        if path and not self.export_traversal_png(path):
            QMessageBox.warning(self, "Export PNG", f"Could not write {path}.")

    def _on_export_interpolation_clicked(self) -> None:
        path = self._ask_path("interpolation.png")
        if path and not self.export_interpolation_png(path):
            QMessageBox.warning(self, "Export PNG", f"Could not write {path}.")


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label
