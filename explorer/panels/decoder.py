"""Decoder sliders: one slider per latent dimension, decoded live into E[x|z] from a decoder snapshot.

    panel = DecoderSlidersPanel(cursor=cursor, activity=activity)   # explorer.models: LatentCursor, LatentActivity
    panel.set_decoder(snapshot)              # trainer.analysis.snapshots.DecoderSnapshot, published by the worker
    panel.set_kl(kl_per_dim, mu_variance)    # (feeds the activity model) greys inactive dimensions; "Sort by KL"

The sliders show the cursor's z and move it (a slider, Origin or Sample); whoever else moves it (a click in the
scatter, the marker, an arithmetic walk) moves the sliders. The activity model is shared with the KL strip.

Decoding happens on the GUI thread from the snapshot's private CPU copy, never from the weights being
trained. For the reference MLP decoder one point is a single small numpy GEMV, so each slider event decodes
synchronously and the picture follows the mouse without a queue (benchmarks/slider_latency.py measures it).
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from explorer.models.latent_activity import ActivityState, LatentActivity
from explorer.models.latent_cursor import LatentCursor
from explorer.models.latent_layers import LatentLayers
from explorer.models.point_inference import PointInference
from explorer.panels.decoder_row import TICKS_PER_SIGMA, SliderRow
from explorer.panels.layer_chooser import LayerChooser
from explorer.panels.q_switch import QSwitch
from explorer.plotting.image_grid import ImageGridView
from trainer.analysis.geometry import DEFAULT_SPAN

MAX_SLIDERS = 64
"""At most this many sliders (the highest-KL dimensions when there are more); the rest keep their value."""
ROWS_PER_TURN = 5
"""Slider rows prepare_rows creates per call. A new model's first snapshot used to create all its rows at once:
20 rows (80 widgets), created, polished and laid out in one go, held the GUI thread for a whole stall."""
class DecoderSlidersPanel(QWidget):
    """Sliders over z (±3 prior σ each) and the decoded image, updated on every slider move."""

    def __init__(self, parent: QWidget | None = None, activity: LatentActivity | None = None,
                 cursor: LatentCursor | None = None, layers: LatentLayers | None = None,
                 point: PointInference | None = None):
        super().__init__(parent)
        self.point = point if point is not None else PointInference(self)  # the q* the switch can show
        self.layers = layers if layers is not None else LatentLayers(self)  # names each row for its layer: z2·3
        self.cursor = cursor if cursor is not None else LatentCursor(self)
        """The z the sliders show and move."""
        self.activity = activity if activity is not None else LatentActivity(self)
        """Decides which dimensions are active; the KL strip draws the same one, so the two always agree."""
        self._decoder = None
        self._dim = 0  # the latent size the rows are laid out for
        self._rows: list[SliderRow] = []
        self._spare: list[SliderRow] = []  # rows left by a smaller model (hidden) or standing by for a larger one
        self._stretch_row = 0  # the grid row below the sliders that takes the spare height
        self._shown_order: list[int] = []
        self._kl: np.ndarray | None = None
        self._state = None  # CollapseState
        self._syncing = False
        self._rng = np.random.default_rng()
        self._last_image: np.ndarray | None = None

        controls = self._build_controls()

        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(4, 2, 4, 2)
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(1, 1)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self._grid_host)
        self.scroll.setFrameShape(QScrollArea.NoFrame)

        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.setSpacing(2)
        lower_layout.addLayout(controls)
        lower_layout.addWidget(self.summary)
        lower_layout.addWidget(self.scroll, 1)
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(self.image_view)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([2, 3])  # proportions until shown: the image's size hint would take most of a short dock
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.label_combo.currentIndexChanged.connect(self._on_label_changed)
        self.sort_check.toggled.connect(self._on_sort_toggled)
        self.origin_button.clicked.connect(self._on_origin_clicked)
        self.sample_button.clicked.connect(self._on_sample_clicked)
        self.activity.sig_changed.connect(self._on_activity_changed)
        self.cursor.sig_moved.connect(self._on_cursor_moved)
        self.layers.sig_changed.connect(self._on_layers_changed)
        self._show_label_selector(0)

    def _build_controls(self) -> QHBoxLayout:
        """The image, and the bar under it: label, layer, sort, Origin and Sample."""
        self.image_view = ImageGridView(placeholder="Train or open a model to decode z here.")
        self.image_view.setMinimumSize(140, 140)
        self.image_view.setToolTip("E[x|z]: the decoder's mean image at the sliders' z")
        self.label_combo = QComboBox()
        self.label_combo.setToolTip("Conditional VAE: the label y the decoder p(x|z, y) is given")
        self.label_caption = QLabel("Label")
        self.layer_combo = LayerChooser(self.layers, tooltip=(
            "A hierarchical VAE: the layer whose sliders are shown (the others keep their values); every "
            "layer's u = 0\nis its conditional mean given the layers above. The traversal and the scatter show "
            "the same layer."))
        self.sort_check = QCheckBox("Sort by KL")
        self.sort_check.setToolTip("Order the sliders by per-dimension KL, most informative first")
        self.origin_button = QPushButton("Origin")
        self.origin_button.setToolTip("z = 0, the prior's mean")
        self.sample_button = QPushButton("Sample")
        self.sample_button.setToolTip("z drawn from the prior N(0, I)")
        self.summary = QLabel("")
        self.summary.setStyleSheet("color: #707070")
        self.summary.setWordWrap(True)  # a long summary must not widen the panel (and the window)

        controls = QHBoxLayout()
        controls.addWidget(self.label_caption)
        controls.addWidget(self.label_combo)
        controls.addWidget(self.layer_combo.caption)
        controls.addWidget(self.layer_combo)
        controls.addWidget(self.sort_check)
        self.q_switch = QSwitch(self.cursor, self.point)
        controls.addWidget(self.q_switch)
        controls.addStretch(1)
        controls.addWidget(self.origin_button)
        controls.addWidget(self.sample_button)
        return controls

    # --- data in --------------------------------------------------------------------------------
    def set_decoder(self, decoder) -> None:
        """A new DecoderSnapshot: rebuild the sliders if the latent size changed, then decode the current z."""
        if decoder.latent_dim != self._dim:
            self._dim = decoder.latent_dim
            self._kl = None
            self._state = None
            self._build_rows(decoder.latent_dim)
            self._on_layers_changed()  # a hierarchy shows its chosen layer's rows
            if self.activity.state is not None:  # the model's KL may have arrived first
                self._show_activity(self.activity.state)
        if self._decoder is None or decoder.num_classes != self._decoder.num_classes:
            self._show_label_selector(decoder.num_classes)
        self._decoder = decoder
        for row in self._rows:
            row.prior = decoder.config.prior
        if not self.cursor.fit(decoder.latent_dim):  # (a new size moves the cursor to 0, which decodes)
            self._decode()

    def set_kl(self, kl_per_dim, mu_variance=None, step: int | None = None) -> None:
        """Per-dimension KL (nats) and optionally Var_x(μ), measured together: to the activity model, which
        decides and redraws this panel (labels, greying of inactive dims, sort order) and the KL strip."""
        if mu_variance is None:
            self.activity.set_kl(kl_per_dim, step)
        else:
            self.activity.set_held_out(kl_per_dim, mu_variance, step)

    def _on_activity_changed(self, activity: ActivityState | None) -> None:
        self._show_activity(activity)

    def _show_activity(self, activity: ActivityState | None) -> None:
        if activity is None or activity.latent_dim != self._dim:
            return  # cleared, or another model's: its rows come with its decoder
        kl = np.asarray(activity.kl, dtype=np.float64)
        self._kl = kl
        self._state = activity.collapse
        for row in self._rows:
            row.show_kl(float(kl[row.dim]), bool(self._state.active[row.dim]), self._state.measure)
        rate = self._state.rate
        rate_text = f"{rate:.2f}" if rate >= 0.1 else f"{rate:.2g}"
        at = f" · step {activity.step:,}" if activity.step is not None else ""
        count = str(self._state.n_active) if self._state.counted else "—"
        total = "Σ KL to p<sub>j</sub>" if activity.prior != "standard" else "rate"  # (a mixture prior's)
        self.summary.setText(f"{count} of {len(kl)} dimensions active (Var<sub>x</sub>(μ) &gt; 0.01) · {total} "
                             f"{rate_text} nats{at}")
        if self.sort_check.isChecked() or self._dim > MAX_SLIDERS:
            self._arrange_rows()

    def set_class_names(self, names) -> None:
        """Names for the label selector of a conditional model (defaults to 0..K-1)."""
        current = self.label_combo.currentIndex()
        self.label_combo.blockSignals(True)
        for i, name in enumerate(names):
            if i < self.label_combo.count():
                self.label_combo.setItemText(i, str(name))
        self.label_combo.setCurrentIndex(max(current, 0))
        self.label_combo.blockSignals(False)

    def _on_cursor_moved(self, z: np.ndarray, origin) -> None:
        if len(z) != self._dim:
            return
        if origin is not self:  # a slider being dragged already shows its value
            self._sync_sliders()
        self._decode()

    def clear(self) -> None:
        self.activity.clear()
        self._decoder = None
        self._dim = 0
        self._kl = None
        self._state = None
        self._build_rows(0)
        self.image_view.clear()
        self.summary.clear()
        self._show_label_selector(0)

    # --- what tests and the window may read ------------------------------------------------------
    def image(self) -> np.ndarray | None:
        """The last decoded image, float32 (C, H, W) in [0, 1]."""
        return self._last_image

    def label(self) -> int | None:
        return self.label_combo.currentIndex() if self._decoder is not None and self._decoder.num_classes else None

    def slider(self, dim: int) -> QSlider:
        return next(row.slider for row in self._rows if row.dim == dim)

    def row_count(self) -> int:
        """How many slider rows are in use (one per dimension, at most MAX_SLIDERS)."""
        return len(self._rows)

    def row_name(self, dim: int) -> QLabel:
        """The name label ("z3") of dimension `dim`'s row."""
        return next(row.name for row in self._rows if row.dim == dim)

    def slider_order(self) -> list[int]:
        """Dimensions in the order their sliders are shown (top to bottom)."""
        return list(self._shown_order)

    def row_text(self, dim: int) -> str:
        """What dimension `dim`'s row says beside its slider (its KL, and "inactive" when it is)."""
        return next(r for r in self._rows if r.dim == dim).kl_text()

    def collapse(self):
        """The CollapseState the sliders show, or None."""
        return self._state

    # --- rows -------------------------------------------------------------------------------------
    def rows_to_prepare(self, latent_dim: int) -> int:
        """How many more rows a model of this latent size needs beyond those in use or standing by."""
        standing_by = sum(row.placed_at is not None for row in self._spare)
        return max(0, min(latent_dim, MAX_SLIDERS) - len(self._rows) - standing_by)

    def prepare_rows(self, latent_dim: int) -> None:
        """Get up to ROWS_PER_TURN more rows standing by (shown, disabled, below those in use) for a model of
        this latent size, so that set_decoder only relabels them; the caller spreads the calls over event-loop
        turns, since creating and showing 20 rows at once held the GUI thread too long in one turn."""
        hidden = [row for row in self._spare if row.placed_at is None]
        below = len(self._spare) - len(hidden) + len(self._rows)  # the first free grid row
        for i in range(min(ROWS_PER_TURN, self.rows_to_prepare(latent_dim))):
            if hidden:
                row = hidden.pop(0)
            else:
                row = self._new_row()
                self._spare.append(row)
            row.stand_by(self._grid, below + i)

    def _new_row(self) -> SliderRow:
        at = len(self._rows) + len(self._spare)
        row = SliderRow(at, self._grid, at)
        row.slider.valueChanged.connect(lambda value, row=row: self._on_slider_moved(row.dim, value))
        return row

    def _build_rows(self, d: int) -> None:
        """One row per dimension (at most MAX_SLIDERS), reusing the rows there are, in use or spare: creating
        widgets while training runs costs the GUI thread far more than relabelling them."""
        n = min(d, MAX_SLIDERS)
        for row in self._rows[n:]:
            row.set_aside(self._grid)
        self._spare[:0] = self._rows[n:]
        self._rows = self._rows[:n]
        self._spare.sort(key=lambda row: row.placed_at is None)  # those standing by first
        while len(self._rows) < n:
            row = self._spare.pop(0) if self._spare else self._new_row()
            row.stand_by(self._grid, len(self._rows))
            row.slider.setEnabled(True)
            self._rows.append(row)
        for row in self._spare:
            if row.placed_at is not None:  # stood by for a model that did not come
                row.set_aside(self._grid)
        for dim, row in enumerate(self._rows):
            row.assign(dim, self.layers.name(dim))
        self._place_rows(self._rows)
        self._sync_sliders()
        if d > MAX_SLIDERS:
            self.summary.setText(f"Showing {MAX_SLIDERS} of {d} dimensions (the highest KL once known)")
        self._grid.setRowStretch(self._stretch_row, 0)
        self._stretch_row = len(self._rows)  # the empty row below the sliders takes the spare height
        self._grid.setRowStretch(self._stretch_row, 1)

    def _ordered_rows(self) -> list[SliderRow]:
        if self._kl is None or not self.sort_check.isChecked():
            return sorted(self._rows, key=lambda r: r.dim)
        return sorted(self._rows, key=lambda r: -self._kl[r.dim])

    def _arrange_rows(self) -> None:
        if self._dim > MAX_SLIDERS and self._kl is not None:
            # more dimensions than sliders: give the sliders to the most informative ones
            wanted = [int(d) for d in np.argsort(-self._kl)[:MAX_SLIDERS]]
            if sorted(wanted) != sorted(r.dim for r in self._rows):
                for row, dim in zip(sorted(self._rows, key=lambda r: r.dim), sorted(wanted)):
                    row.assign(dim, self.layers.name(dim))
                    row.show_kl(float(self._kl[dim]), bool(self._state.active[dim]), self._state.measure)
                self._sync_sliders()
                self._on_layers_changed()
        self._place_rows(self._ordered_rows())

    def _place_rows(self, order: list[SliderRow]) -> None:
        """Lay the rows out top to bottom in this order; live KL arrives a few times a second, so the grid is
        only touched when the order changed."""
        if [r.dim for r in order] == self._shown_order and all(r.placed_at == i for i, r in enumerate(order)):
            return
        for row in order:
            for widget in row.widgets():
                self._grid.removeWidget(widget)
        for i, row in enumerate(order):
            row.place(self._grid, i)
        self._shown_order = [r.dim for r in order]

    def _sync_sliders(self) -> None:
        self._syncing = True
        z = self.cursor.z
        try:
            for row in self._rows:
                if row.dim >= len(z):
                    continue  # the cursor follows the new model's size right after the rows do
                value = float(z[row.dim])
                row.slider.setValue(int(round(np.clip(value, -DEFAULT_SPAN, DEFAULT_SPAN) * TICKS_PER_SIGMA)))
                row.show_value(value)  # the true value, also beyond the slider's ±3σ
        finally:
            self._syncing = False

    # --- decoding ---------------------------------------------------------------------------------
    def _decode(self) -> None:
        z = self.cursor.z
        if self._decoder is None or not len(z) or len(z) != self._decoder.latent_dim:
            return
        image = self._decoder.decode(z[None], self.label())[0]
        self._last_image = image
        self.image_view.set_images(image[None], ncols=1, pad=0)

    # --- events -----------------------------------------------------------------------------------
    def _on_slider_moved(self, dim: int, value: int) -> None:
        if self._syncing:
            return
        z = self.cursor.z
        z[dim] = value / TICKS_PER_SIGMA
        next(r for r in self._rows if r.dim == dim).show_value(float(z[dim]))
        self.cursor.move_to(z, origin=self)

    def _on_layers_changed(self) -> None:
        shown = self.layers.slice() if sum(self.layers.dims) == self._dim else slice(0, self._dim)
        for row in self._rows:
            row.name.setText(self.layers.name(row.dim))
            for widget in row.widgets():  # the chosen layer's rows only; the others keep their values
                widget.setVisible(shown.start <= row.dim < shown.stop)

    def _on_label_changed(self, _index: int) -> None:
        self._decode()

    def _on_sort_toggled(self, _on: bool) -> None:
        self._arrange_rows()

    def _on_origin_clicked(self) -> None:
        self.cursor.move_to(np.zeros(self.cursor.latent_dim, np.float32))

    def _on_sample_clicked(self) -> None:
        self.cursor.move_to(self._rng.standard_normal(self.cursor.latent_dim).astype(np.float32))

    def _show_label_selector(self, num_classes: int) -> None:
        self.label_combo.blockSignals(True)
        self.label_combo.clear()
        self.label_combo.addItems([str(i) for i in range(num_classes)])
        self.label_combo.blockSignals(False)
        self.label_combo.setVisible(num_classes > 0)
        self.label_caption.setVisible(num_classes > 0)
