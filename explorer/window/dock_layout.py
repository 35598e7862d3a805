"""The main window's default dock layout: where each panel sits, how large, and the tab bars Qt leaves behind.

    arrange_docks(window)          # once, after every panel was added: tabs and splits
    size_docks(window)             # when it first shows, in proportion to its size (unless a layout was restored)
    hide_orphan_tab_bars(window)   # after the first layout pass
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabBar


def arrange_docks(window) -> None:
    """Curves in the centre with the image grids tabbed below them; the scatter over the sliders on the
    right; the controls over the rate–distortion plane on the left, so β and its line show together."""
    window.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)  # side columns run the full height
    window.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
    d = window.explore_docks
    window.splitDockWidget(window.controls_dock, d["Rate–distortion"], Qt.Vertical)
    window.tabifyDockWidget(d["Rate–distortion"], d["ELBO gap"])
    window.tabifyDockWidget(d["Traversals"], d["Samples"])
    window.tabifyDockWidget(d["Samples"], d["KL per dimension"])
    window.tabifyDockWidget(d["KL per dimension"], window.runs_dock)  # wide enough for the table's columns
    window.tabifyDockWidget(window.runs_dock, window.experiment_dock)
    window.tabifyDockWidget(window.experiment_dock, d["Latent arithmetic"])
    # the selection under the scatter it is drawn on; prior vs q(z) with the other panels of the objective
    window.tabifyDockWidget(d["Decoder"], d["Selection"])
    window.tabifyDockWidget(d["ELBO gap"], d["Prior vs q(z)"])
    window.tabifyDockWidget(d["Selection"], d["Information"])  # what z carries, beside the latent panels
    d["Rate–distortion"].raise_()
    d["Traversals"].raise_()
    d["Decoder"].raise_()
    # the window's minimum was computed while the docks stood side by side as added; tabbed, they need far less
    # (each panel tabbed under the curves widened the window's minimum by its own width, past a 1600 px screen)
    window.layout().activate()


def size_docks(window) -> None:
    """Default dock sizes in proportion to the window: a bigger window gives the grids room, not only the
    curves (the central widget would take all the extra space otherwise)."""
    w, h = window.width(), window.height()
    d = window.explore_docks
    # the controls' form is ~325 px wide, plus its scroll bar: narrower clips the spin boxes
    window.resizeDocks([window.controls_dock, d["Latent space"]], [max(340, int(0.24 * w)), int(0.32 * w)],
                     Qt.Horizontal)
    window.resizeDocks([window.controls_dock, d["Rate–distortion"]], [int(0.5 * h), int(0.4 * h)], Qt.Vertical)
    window.resizeDocks([d["Latent space"], d["Decoder"]], [int(0.47 * h), int(0.43 * h)], Qt.Vertical)
    window.resizeDocks([d["Traversals"]], [int(0.45 * h)], Qt.Vertical)


def hide_orphan_tab_bars(window) -> None:
    """Hide the tab bars QMainWindow left of a dock group as it was while being formed (Decoder | Selection,
    before Information joined): it keeps them visible at the group's first place, over a neighbouring dock,
    and never moves them again. A group's own bar lists all its tabs, so an orphan's tabs are a strict prefix
    of another bar's (a dock is in one group only)."""
    bars = [bar for bar in window.findChildren(QTabBar) if bar.parent() is window]
    tabs = [[bar.tabText(i) for i in range(bar.count())] for bar in bars]
    for bar, mine in zip(bars, tabs):
        if any(len(other) > len(mine) and other[:len(mine)] == mine for other in tabs):
            bar.hide()
