"""vae-explorer's window: PySide6 + pyqtgraph views over the headless `trainer` engine.

Importing this package loads no Qt; `explorer.launch` decides between the CLI and the window, and
`explorer.show(...)` opens the window from a script or a notebook (explorer.window.viewer).
"""


def show(source=None, *, block=None, demo=True):
    """Open the window with a checkpoint, a folder of runs, or the demo model; returns an explorer.window.viewer.Viewer.

    From a script it returns once the window is closed; under IPython's Qt event loop (`%gui qt`) at once."""
    from explorer.window.viewer import show as _show

    return _show(source, block=block, demo=demo)


__all__ = ["show"]
