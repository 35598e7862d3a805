"""A window that fits its screen, whatever its panels hold.

    dock.setWidget(shrinkable(panel))        # the panel scrolls rather than widen the window
    fit_within_screen(window)                # a restored or grown frame larger than the screen comes back onto it

A QMainWindow is never smaller than the sum of its docks' minimum sizes, and Qt grows the window when a panel's
minimum grows: a 2-layer MNIST run and a click on a point once made the window wider than a 1600 px screen,
cutting off the Information panel and the status bar, and a 1280 px screen's window opened 1378 px wide. Each
dock holds its panel in a scroll area whose own minimum is small (MIN_PANEL), so the window's minimum is the
sum of small numbers: a panel squeezed below what its content needs shows scroll bars, never pushes the frame
off the screen. A layout remembered from such a session is brought back within the screen at the next launch.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

MIN_PANEL = QSize(140, 90)
"""The least a dock's scroll area asks for: a title and a few lines, so every dock stays findable."""


class PanelScroll(QScrollArea):
    """A panel in a frameless scroll area that fills the dock and scrolls only when squeezed below its needs.

    The panel is sized here rather than by QScrollArea's widgetResizable: for a panel with a word-wrapped label
    (its layout has a height for its width) that one keeps the panel at its preferred height, so a plot was cut
    off below a scroll bar whenever the dock was shorter than the panel would like, though it fitted."""

    def __init__(self, panel: QWidget):
        super().__init__()
        self.setObjectName(f"{panel.objectName() or type(panel).__name__}Scroll")
        self.setWidget(panel)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        panel.installEventFilter(self)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.fit_panel()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if obj is self.widget() and event.type() == QEvent.LayoutRequest:
            self.fit_panel()  # its minimum may have changed (a new model's rows, a longer line)
        return super().eventFilter(obj, event)

    def fit_panel(self) -> None:
        """The panel at the viewport's size, or at its minimum where that is larger (then that side scrolls)."""
        panel = self.widget()
        if panel is None:
            return
        least = panel.minimumSizeHint().expandedTo(panel.minimumSize())
        room = self.maximumViewportSize()  # the viewport with no scroll bar shown
        width, height = room.width(), room.height()
        bar_w, bar_h = self.verticalScrollBar().sizeHint().width(), self.horizontalScrollBar().sizeHint().height()
        if least.height() > height:
            width -= bar_w
        if least.width() > width:
            height -= bar_h
            if least.height() > height and least.height() <= room.height():
                width -= bar_w  # the horizontal bar took the height the panel needed
        size = QSize(max(width, least.width()), max(height, least.height()))
        if panel.size() != size:
            panel.resize(size)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(MIN_PANEL)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        inner = self.widget().sizeHint() if self.widget() is not None else QSize()
        return inner.expandedTo(MIN_PANEL)


def shrinkable(panel: QWidget) -> PanelScroll:
    return PanelScroll(panel)


def panel_of(widget: QWidget | None) -> QWidget | None:
    """The panel a dock shows (its widget, unwrapped from its PanelScroll)."""
    return widget.widget() if isinstance(widget, PanelScroll) else widget


def available_area(window):
    screen = window.screen() or QGuiApplication.primaryScreen()
    return None if screen is None else screen.availableGeometry()


def fits_screen(window, allowance: tuple[int, int] = (0, 0)) -> bool:
    """The window's frame (title bar and borders included) lies within its screen's available area."""
    area = available_area(window)
    if area is None:
        return True
    frame = window.frameGeometry()
    return (frame.width() <= area.width() + allowance[0] and frame.height() <= area.height() + allowance[1]
            and area.adjusted(-allowance[0], -allowance[1], allowance[0], allowance[1]).contains(frame))
