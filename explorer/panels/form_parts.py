"""Small builders of the Controls' form rows: a spin box, a combo box, widgets side by side."""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSpinBox, QWidget


def spin_box(lo: int, hi: int, value: int, step: int = 1, suffix: str = "") -> QSpinBox:
    spin = QSpinBox(minimum=lo, maximum=hi, singleStep=step, suffix=suffix)
    spin.setValue(value)
    spin.setGroupSeparatorShown(hi >= 10_000)
    return spin


def combo_box(items, current: str) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(items))
    combo.setCurrentText(current)
    return combo


def form_row(*widgets: QWidget, stretch: tuple[int, ...] = ()) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, stretch[i] if i < len(stretch) else (1 if i == 0 else 0))
    return row
