"""Whether a widget can be seen now: shown, and not behind another tab of its dock group.

    if not in_view(panel):     # decode or compute when it is seen (QDockWidget.visibilityChanged, showEvent)
        ...

Qt keeps the widgets of a dock's other tabs "visible" and moves them off-screen rather than hiding them, so
isVisible() alone says True for a panel nobody can see; its visible region is empty there.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def in_view(widget: QWidget) -> bool:
    return widget.isVisible() and not widget.visibleRegion().isEmpty()
