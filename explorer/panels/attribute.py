"""Latent arithmetic: a direction from two groups of posterior means, and a slider that walks the current z along it.

    panel = AttributePanel(cursor)       # an explorer.models.LatentCursor: the walk moves its z
    panel.set_latents(latents)           # the held-out encodings (trainer.analysis.snapshots.LatentSnapshot)
    panel.set_decoder(decoder)           # the strip's decoder (trainer.analysis.snapshots.DecoderSnapshot)

The walk starts where the cursor's z was last moved by someone else (a click, the sliders, the marker; α back
to 0), and the α slider moves the cursor to start + α·d, which the Decoder panel shows. "selection − all" uses the
cursor's box/lasso selection.

The direction d is the mean μ of one class minus that of another, or the mean μ of a selection minus the mean of
every held-out point: the "attribute vectors" of White (2016) and of every VAE face-editing demo ("smiling" −
"not smiling"). Adding α·d to an example's z and decoding shows whether the model's latent space has a direction
for that attribute: the picture should change in that attribute and keep the rest. The strip shows the whole walk
at once, α from −2 to +2, from the current z.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from explorer.models.latent_cursor import LatentCursor
from explorer.plotting.image_grid import ImageGridView
from explorer.plotting.seen import in_view
from explorer.panels.selection import replace_items
from trainer.errors import ConfigError
from trainer.analysis.selection import categories, category_keys, class_direction, selection_direction

TICKS_PER_UNIT = 20
"""The α slider moves in steps of 0.05."""
MAX_ALPHA = 3.0
STRIP = np.linspace(-2.0, 2.0, 9)
"""The α of the strip's images."""
CLASSES, SELECTION = "classes", "selection"
STRIP_DELAY_MS = 50
"""The strip follows a moved start or new weights this long after the last of a burst."""


class AttributePanel(QWidget):
    """A direction in latent space from labelled groups or a selection, and a slider along it."""

    def __init__(self, cursor: LatentCursor | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.cursor = cursor if cursor is not None else LatentCursor(self)
        """The z the walk moves, and the selection "selection − all" takes its mean from."""
        self._latents = None
        self._decoder = None
        self._base: np.ndarray | None = None
        """Where the walk starts: the cursor's z when another panel last moved it."""
        self._label: int | None = None  # a conditional decoder's y, as the Decoder panel sets it
        self._direction: np.ndarray | None = None
        self._problem = ""
        self._strip_key = None
        self._strip_timer = QTimer(self, singleShot=True, interval=STRIP_DELAY_MS)
        self._strip_timer.timeout.connect(self._update_strip)

        self.source_combo = QComboBox()
        self.source_combo.addItem("class mean − class mean", CLASSES)
        self.source_combo.addItem("selection mean − mean of all", SELECTION)
        self.source_combo.setToolTip("Where the direction d comes from: the difference of two classes' mean μ, or\n"
                                     "the mean μ of the scatter's box/lasso selection minus the mean μ of every "
                                     "held-out point")
        self.group_combo = QComboBox()
        self.group_combo.setToolTip("Classes by label, or by the values of a ground-truth factor")
        self.toward_combo = QComboBox()
        self.toward_combo.setToolTip("d points toward this group's mean…")
        self.away_combo = QComboBox()
        self.away_combo.setToolTip("…and away from this one's")
        self.alpha_slider = QSlider(Qt.Horizontal, minimum=-int(MAX_ALPHA * TICKS_PER_UNIT),
                                    maximum=int(MAX_ALPHA * TICKS_PER_UNIT), value=0)
        self.alpha_slider.setToolTip("α: the Decoder panel shows z + α·d, starting from the z the sliders had")
        self.alpha_label = QLabel()
        self.alpha_label.setMinimumWidth(self.alpha_label.fontMetrics().horizontalAdvance("α = −3.00"))
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setStyleSheet("color: #606060")
        self.strip = ImageGridView("z + α·d", "Open or train a model, then pick two classes or a selection.")
        self.strip.setToolTip("The decoder's mean E[x|z + α·d] for α = −2 … +2, from the current z")

        source = QHBoxLayout()
        source.addWidget(QLabel("Direction d ="))
        source.addWidget(self.source_combo)
        source.addWidget(self.group_combo)
        self.toward_label, self.away_label = QLabel("toward"), QLabel("away from")
        for w in (self.toward_label, self.toward_combo, self.away_label, self.away_combo):
            source.addWidget(w)
        source.addStretch(1)
        amount = QHBoxLayout()
        amount.addWidget(QLabel("Move z along d:"))
        amount.addWidget(self.alpha_slider, 1)
        amount.addWidget(self.alpha_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(source)
        layout.addLayout(amount)
        layout.addWidget(self.info)
        layout.addWidget(self.strip, 1)

        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        self.group_combo.currentIndexChanged.connect(self._fill_classes)
        self.toward_combo.currentIndexChanged.connect(self._on_direction_changed)
        self.away_combo.currentIndexChanged.connect(self._on_direction_changed)
        self.alpha_slider.valueChanged.connect(self._on_alpha_moved)
        self.cursor.sig_moved.connect(self._on_cursor_moved)
        self.cursor.sig_selection_changed.connect(self._on_selection_changed)
        self._update_controls()
        self._on_direction_changed()

    # --- data in --------------------------------------------------------------------------------
    def set_latents(self, latents) -> None:
        self._latents = latents
        if replace_items(self.group_combo, category_keys(latents)):
            self._fill_classes()
        self._update_controls()
        self._on_direction_changed()

    def _on_selection_changed(self, _positions) -> None:
        if self.source_combo.currentData() == SELECTION:
            self._on_direction_changed()

    def set_decoder(self, decoder) -> None:
        self._decoder = decoder
        self._strip_timer.start()

    def set_label(self, label: int | None) -> None:
        """The condition y a conditional decoder decodes the strip with (the Decoder panel's label)."""
        self._label = label
        self._update_strip()

    def _on_cursor_moved(self, z, origin) -> None:
        """Another panel moved z (a click, the sliders, the marker): the walk starts there now, α back to 0."""
        if origin is self:
            return
        self._base = np.array(z, np.float32).reshape(-1)
        self.alpha_slider.blockSignals(True)
        self.alpha_slider.setValue(0)
        self.alpha_slider.blockSignals(False)
        self._show_alpha()
        # a slider drag or a training model's new weights come many times a second: one strip per burst, later,
        # so the slider-to-image path pays nothing for it
        self._strip_timer.start()

    def clear(self) -> None:
        self._latents = self._decoder = self._base = self._direction = None
        self.group_combo.clear()
        self._strip_timer.stop()
        self.strip.clear()
        self._update_controls()
        self._on_direction_changed()

    # --- what tests and the window may read ------------------------------------------------------
    def direction(self) -> np.ndarray | None:
        """d (float32 (D,)), or None when it cannot be taken now (see the panel's text for why)."""
        return None if self._direction is None else self._direction.copy()

    def alpha(self) -> float:
        return self.alpha_slider.value() / TICKS_PER_UNIT

    def set_alpha(self, alpha: float) -> None:
        """Move the α slider (moves the cursor, as dragging it does)."""
        self.alpha_slider.setValue(int(round(alpha * TICKS_PER_UNIT)))

    def set_direction(self, group: str, toward: int, away: int) -> None:
        """Class mean − class mean: `group` "label" or a factor name, `toward` and `away` its category indices."""
        self.source_combo.setCurrentIndex(self.source_combo.findData(CLASSES))
        self.group_combo.setCurrentText(group)
        self.toward_combo.setCurrentIndex(toward)
        self.away_combo.setCurrentIndex(away)

    def use_selection(self) -> None:
        self.source_combo.setCurrentIndex(self.source_combo.findData(SELECTION))

    # --- workings ---------------------------------------------------------------------------------
    def _fill_classes(self, *_args) -> None:
        grouped = None if self._latents is None else categories(self._latents, self.group_combo.currentText())
        names = grouped[1] if grouped is not None else []
        for combo, default in ((self.toward_combo, min(1, len(names) - 1)), (self.away_combo, 0)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.setCurrentIndex(max(default, 0) if names else -1)
            combo.blockSignals(False)
        self._on_direction_changed()

    def _on_source_changed(self, *_args) -> None:
        self._update_controls()
        self._on_direction_changed()

    def _update_controls(self) -> None:
        classes = self.source_combo.currentData() == CLASSES
        has_groups = self.group_combo.count() > 0
        for w in (self.group_combo, self.toward_label, self.toward_combo, self.away_label, self.away_combo):
            w.setVisible(classes and has_groups)

    def _on_direction_changed(self, *_args) -> None:
        self._direction, self._problem = None, ""
        lat = self._latents
        try:
            if lat is None:
                self._problem = "Open or train a model to take directions in its latent space."
            elif self.source_combo.currentData() == SELECTION:
                self._direction = selection_direction(lat.mu, self.cursor.selection)
            else:
                grouped = categories(lat, self.group_combo.currentText())
                if grouped is None:
                    self._problem = "These data have no labels or factors: select points and use the selection."
                elif self.toward_combo.currentIndex() == self.away_combo.currentIndex():
                    self._problem = "Pick two different classes."
                else:
                    self._direction = class_direction(lat.mu, grouped[0], self.toward_combo.currentIndex(),
                                                      self.away_combo.currentIndex())
        except ConfigError as exc:
            self._problem = str(exc).capitalize() + "."
        self.alpha_slider.setEnabled(self._direction is not None)
        self._show_alpha()
        self._update_strip()

    def _show_alpha(self) -> None:
        alpha = self.alpha()
        self.alpha_label.setText(f"α = {alpha:+.2f}".replace("-", "−"))
        if self._direction is None:
            self.info.setText(self._problem)
            return
        if self.source_combo.currentData() == SELECTION:
            what = f"the mean μ of {len(self.cursor.selection):,} selected points minus the mean μ of all"
        else:
            what = f"mean μ of “{self.toward_combo.currentText()}” − mean μ of “{self.away_combo.currentText()}”"
        self.info.setText(f"d = {what}; ‖d‖ = {np.linalg.norm(self._direction):.2f}. The Decoder panel shows "
                          f"z + α·d; a good direction changes that attribute and keeps the rest.")

    def _on_alpha_moved(self, _value: int) -> None:
        self._show_alpha()
        if self._direction is None or self._base is None or len(self._base) != len(self._direction):
            return
        self.cursor.move_to(self._base + np.float32(self.alpha()) * self._direction, origin=self)

    def on_shown(self, shown: bool = True) -> None:
        """The panel came into view (QDockWidget.visibilityChanged, e.g. its tab was selected)."""
        if shown:
            self._update_strip()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.on_shown()

    def _update_strip(self) -> None:
        if not in_view(self):  # decoded when seen: a training model sends new weights many times a second
            return
        d, base, dec = self._direction, self._base, self._decoder
        if d is None or dec is None or dec.latent_dim != len(d):
            self.strip.clear()
            self._strip_key = None
            return
        if base is None or len(base) != len(d):
            base = np.zeros(len(d), np.float32)
        key = (id(dec), d.tobytes(), base.tobytes(), self._label)
        if key == self._strip_key:
            return
        self._strip_key = key
        z = base[None] + STRIP[:, None].astype(np.float32) * d[None]
        labels = [f"{a:+g}".replace("-", "−") for a in STRIP]
        self.strip.set_images(dec.decode(z, self._label)[None], col_labels=labels, pad=2, pad_value=255)
        self.strip.title = "E[x | z + α·d] for α = −2 … +2"
