"""vae-explorer's window: PySide6 + pyqtgraph views over the headless `trainer` engine.

Importing this package loads no Qt; `explorer.launch` decides between the CLI and the window, and
`explorer.show(...)` opens the window from a script or a notebook (explorer.window.viewer).
"""


def show(source=None, **options):
    """Open the window with a checkpoint, a folder of runs, the demo model, or your own model (model=, data=,
    labels=, likelihood=); returns an explorer.window.viewer.Viewer (see explorer.window.viewer.show).

    From a script it returns once the window is closed; under IPython's Qt event loop (`%gui qt`) at once."""
    from explorer.window.viewer import show as _show

    return _show(source, **options)


__all__ = ["show"]
