"""vae-explorer's window: PySide6 + pyqtgraph views over the headless `trainer` engine.

Importing this package loads no Qt; `explorer.launch` decides between the CLI and the window.
"""
