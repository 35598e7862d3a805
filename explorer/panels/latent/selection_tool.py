"""Box and lasso selection on the scatter: the Pan/Box/Lasso tool buttons, the picked set and Esc to clear it.

`SelectionToolMixin` turns the shapes drawn on the plot's `ShapeViewBox` (`shapes`) into sorted positions into
the snapshot, which it hands to the panel's `cursor` (explorer.models.LatentCursor, the selection's one owner),
and draws the cursor's selection when it changes. It relies on the panel for `cursor`, `_latents`, `_xy`,
`shapes` and `_draw_points`.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QToolButton

from trainer.analysis.selection import combine, inside_box, inside_polygon

_TOOLS = (
    ("pan", "Pan", "Drag to pan, wheel to zoom; click a point to decode it"),
    ("box", "Box", "Drag a rectangle to select the points in it.\nShift adds to the selection, Ctrl removes from it"),
    ("lasso", "Lasso", "Draw around points to select them.\nShift adds to the selection, Ctrl removes from it"),
)
"""(tool, button text, tooltip) of each tool button, in their row's order."""


class SelectionToolMixin:
    """What a left-drag on the plot does, and the set of points a box or lasso picked."""

    def _build_tool_buttons(self) -> list[QToolButton]:
        """The exclusive Pan/Box/Lasso buttons (`tool_buttons`), returned in their row's order."""
        self.cursor.sig_selection_changed.connect(self._on_selection_changed)
        self.tool_buttons = QButtonGroup(self)
        self.tool_buttons.setExclusive(True)
        tool_row = []
        for key, text, tip in _TOOLS:
            button = QToolButton(text=text, checkable=True, toolTip=tip)
            button.setProperty("tool", key)
            button.setChecked(key == "pan")
            self.tool_buttons.addButton(button)
            tool_row.append(button)
        return tool_row

    def clear_selection(self) -> None:
        self.shapes.clear_outline()
        self.cursor.clear_selection()

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
        self.cursor.set_selection(combine(self.cursor.selection, np.flatnonzero(inside), how))
        if how != "replace":
            self.shapes.clear_outline()  # the outline would show only the last of several shapes

    def _on_selection_changed(self, picked: np.ndarray) -> None:
        if not len(picked):
            self.shapes.clear_outline()
        if self._latents is not None:
            self._draw_points()

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if event.key() == Qt.Key_Escape and len(self.cursor.selection):
            self.clear_selection()
            return
        super().keyPressEvent(event)
