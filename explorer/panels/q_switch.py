"""The Decoder's switch between the encoder's q and the optimized q* of the example last optimized.

    switch = QSwitch(cursor, point)        # explorer.models: LatentCursor, PointInference
    switch.show_optimized()                # the cursor (so the sliders and the image) at q*'s mean
    switch.show_encoder()                  # ... back at the encoder's guess

Shown only while a classical-VI trace is held; each button is checked while the cursor stands at its z, so a
slider moved away unchecks both.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import numpy as np
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QWidget

from explorer.models.latent_cursor import LatentCursor
from explorer.models.point_inference import PointInference


class QSwitch(QWidget):
    """"z of: encoder's q | optimized q*", for the one example whose classical VI is held."""

    def __init__(self, cursor: LatentCursor, point: PointInference, parent: QWidget | None = None):
        super().__init__(parent)
        self.cursor = cursor
        self.point = point
        self.caption = QLabel("z of")
        self.encoder_button = QToolButton(text="encoder's q", checkable=True)
        self.encoder_button.setToolTip("The mean of q_φ(z|x): the encoder's guess, in one forward pass")
        self.optimized_button = QToolButton(text="optimized q*", checkable=True)
        self.optimized_button.setToolTip("The mean of q*: the Gaussian classical VI fitted to this example alone")
        self._group = QButtonGroup(self)
        self._group.setExclusive(False)  # both unchecked when the sliders moved elsewhere
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.encoder_button)
        layout.addWidget(self.optimized_button)
        self.encoder_button.clicked.connect(self.show_encoder)
        self.optimized_button.clicked.connect(self.show_optimized)
        self.cursor.sig_moved.connect(self._sync)
        self.point.sig_changed.connect(self._on_point_changed)
        self._on_point_changed()

    def show_encoder(self) -> None:
        if self.point.encoder_z is not None:
            self.cursor.move_to(self.point.encoder_z)

    def show_optimized(self) -> None:
        if self.point.optimized_z is not None:
            self.cursor.move_to(self.point.optimized_z)

    @property
    def showing(self) -> str | None:
        """"encoder", "optimized", or None when the cursor is at neither."""
        if self.optimized_button.isChecked():
            return "optimized"
        return "encoder" if self.encoder_button.isChecked() else None

    def _on_point_changed(self) -> None:
        held = self.point.trace is not None
        self.setVisible(held)
        if held:
            self.caption.setText(f"z of {self.point.caption}:")
        self._sync()

    def _sync(self, *_args) -> None:
        z = self.cursor.z
        for button, target in ((self.encoder_button, self.point.encoder_z),
                               (self.optimized_button, self.point.optimized_z)):
            button.setChecked(target is not None and len(z) == len(target)
                              and np.array_equal(z, target.astype(np.float32)))
