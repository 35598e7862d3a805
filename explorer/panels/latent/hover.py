"""Hovering over the scatter: the point under the mouse and its floating thumbnail card.

The nearest point is found in screen pixels with one vectorised distance over all of them, not by asking the
plot's items. `HoverMixin` relies on the panel for `_latents`, `_decoder`, `_xy` and `plot`.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from explorer.plotting.image_grid import tile, to_qimage
from trainer.pixels import to_float01

HOVER_RADIUS_PX = 8
"""A point counts as under the mouse within this many screen pixels."""
THUMB_ZOOM = 3
"""Hover thumbnails: 28 px images at 3x."""


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


class _PointerWatch(QObject):
    """Tells `changed(inside)` when the mouse enters or leaves `widget` (or it is hidden)."""

    def __init__(self, widget: QWidget, changed):
        super().__init__(widget)
        self._changed = changed
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind == QEvent.Enter:
            self._changed(True)
        elif kind in (QEvent.Leave, QEvent.Hide):
            self._changed(False)
        return False


class HoverMixin:
    """The point nearest the mouse, and the card (`hover`) showing its input and reconstruction."""

    def _build_hover(self) -> None:
        self.hover = _HoverCard(self.plot)
        self._pointer_inside = False
        self._leave_watch = _PointerWatch(self.plot.viewport(), self._on_pointer)
        # undelayed, unlike the rate-limited hover: a move means the mouse is over the plot now
        self.plot.scene().sigMouseMoved.connect(self._on_pointer_moved)

    def _on_pointer_moved(self, _pos) -> None:
        self._pointer_inside = True

    def _on_pointer(self, inside: bool) -> None:
        """The mouse entered or left the plot: leaving takes the card with it (it once stayed behind)."""
        self._pointer_inside = inside
        if not inside:
            self.hover.hide()

    def viewport_pos(self, index: int) -> QPointF:
        """Where point `index` is drawn, in the plot viewport's pixel coordinates (for clicks in tests)."""
        x, y = self._xy[index]
        scene = self.plot.getPlotItem().vb.mapViewToScene(QPointF(float(x), float(y)))
        return QPointF(self.plot.mapFromScene(scene))

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

    def _on_mouse_moved(self, args) -> None:
        scene_pos = args[0]
        # a move the rate limiter delivers after the mouse left must not bring the card back
        index = self._nearest(scene_pos) if self._pointer_inside else None
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
