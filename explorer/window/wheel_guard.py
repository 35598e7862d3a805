"""The mouse wheel scrolls panels; it changes a setting only in the box the user is working in.

    WheelGuard(window)        # once: every spin box, combo box and slider in the application, now and later

Scrolling the Controls panel with the wheel once changed a running model's learning rate from 0.00050 to
0.00043: the spin box that passed under the cursor took the wheel events. Here a spin box, combo box or slider
that does not have the keyboard focus never takes a wheel event; the nearest scroll area around it gets it
instead, so the panel scrolls on. A click (or Tab) gives the box the focus, and then the wheel steps its value,
as in every Qt application. The boxes are made to take the focus by click or Tab only (Qt.StrongFocus), so the
wheel passing over them never focuses them.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox,
                               QScrollBar)

GUARDED = (QAbstractSpinBox, QComboBox, QAbstractSlider)
"""Widgets whose value the wheel steps (QScrollBar, a QAbstractSlider, is the scrolling itself: left alone)."""


def guarded(obj) -> bool:
    return isinstance(obj, GUARDED) and not isinstance(obj, QScrollBar)


class WheelGuard(QObject):
    """An application event filter, owned by `parent` (the window): it stops filtering when the window goes."""

    def __init__(self, parent: QObject):
        super().__init__(parent)
        for widget in QApplication.allWidgets():  # those polished already; later ones as they are polished
            _steady(widget)
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind == QEvent.Polish:
            _steady(obj)
        elif kind == QEvent.Wheel and guarded(obj) and not obj.hasFocus():
            area = _scroll_area_around(obj)
            if area is not None:
                QApplication.sendEvent(area.viewport(), event)
            return True  # the value stays as it is
        return False


def _steady(widget) -> None:
    """Qt focuses a WheelFocus widget on a wheel event before any filter sees it: click or Tab only."""
    if guarded(widget) and widget.focusPolicy() == Qt.WheelFocus:
        widget.setFocusPolicy(Qt.StrongFocus)


def _scroll_area_around(widget):
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and not guarded(parent):
            return parent
        parent = parent.parentWidget()
    return None
