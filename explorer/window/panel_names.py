"""The panels by the short names the command line uses (--screenshot --panel, replay --panel), and the widget of one.

    widget = panel_widget(window, "latent")    # its dock shown and raised to the front of its tab group
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtWidgets import QWidget

from explorer.window.fitting import panel_of

PANELS = {
    "curves": None,  # the central widget
    "controls": "Controls",
    "latent": "Latent space",
    "decoder": "Decoder",
    "traversals": "Traversals",
    "samples": "Samples",
    "kl": "KL per dimension",
    "rd": "Rate–distortion",
    "gap": "ELBO gap",
    "runs": "Runs",
    "selection": "Selection",
    "arithmetic": "Latent arithmetic",
    "prior": "Prior vs q(z)",
    "information": "Information",
}
"""--panel names and the titles of their docks."""
WHOLE_WINDOW = "window"
"""The name of the whole window, where a film may show it."""


def panel_widget(window, name: str) -> QWidget:
    """The widget of panel `name` (PANELS, or WHOLE_WINDOW) in a MainWindow, its dock shown and in front."""
    if name == WHOLE_WINDOW:
        return window
    if name == "curves":
        return window.curves
    docks = {"controls": window.controls_dock, "runs": window.runs_dock}
    dock = docks.get(name) or window.explore_docks[PANELS[name]]
    dock.show()
    dock.raise_()  # the front tab of its group
    return panel_of(dock.widget())


def film_panels(docks) -> list[tuple[str, str]]:
    """(name, title) of what a film may show: the whole window, then each panel (`docks`: MainWindow.docks)."""
    names = [(WHOLE_WINDOW, "The whole window"), ("curves", "Curves")]
    return names + [(name, title) for name, title in PANELS.items() if title in docks]


def refresh_views(window) -> None:
    """Draw now what the coalescing timers of a MainWindow's views still hold back (before a grab)."""
    window.curves.refresh_now()
    window.explore.traversal.refresh_now()
    window.compare.redraw_now()
    window.explore.rd.refresh_now()
