"""What happens once the window has painted its first frame: the demo model opens, or --quit-after-shown ends.

    DemoOpener(window, "assets/demo_sprites.h5")   # reads it in the worker after the first paint, says what it is
    FirstPaintProbe(window)                        # prints "shown torch_loaded=False" and closes the window
"""

from __future__ import annotations

import sys
from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QEvent, QObject, QTimer, Slot

from explorer.models.run_state import RunState
from explorer.window.main_window import MainWindow

DEMO_CHECKPOINT = "demo_sprites.h5"
"""Shipped in assets/ and opened when the window starts without a checkpoint; assets/README.md says how it was made."""


def demo_checkpoint() -> Path | None:
    """The demo model, from the installed wheel (vae_explorer_assets) or a source checkout (assets/); None if absent."""
    try:
        from vae_explorer_assets import asset_path
    except ImportError:
        path = Path(__file__).resolve().parents[2] / "assets" / DEMO_CHECKPOINT
    else:
        path = asset_path(DEMO_CHECKPOINT)
    return path if path.is_file() else None


DEMO_DELAY_MS = 300
"""The demo is read in the worker after the first frame has painted, like the device probe."""


class DemoOpener(QObject):
    """Opens the demo model once the window has painted its first frame, so it never delays it.

    The checkpoint is read, and its sprites generated and encoded, in the worker thread. A banner says what
    the model is and how to train one's own; Start (Continue) trains the demo further, Reset discards it.
    """

    def __init__(self, window: MainWindow, path: str):
        super().__init__(window)
        self.window, self.path = window, path
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if obj is self.window and event.type() == QEvent.Paint:
            self.window.removeEventFilter(self)
            QTimer.singleShot(DEMO_DELAY_MS, self._on_due)
        return False

    def _on_due(self) -> None:
        if self.window.state is not RunState.IDLE:
            return  # the user was quicker: Start or an opened file wins over the demo
        self.window.session.worker.sig_opened.connect(self._on_opened)
        # a template, not the user's file: not a recent file, and Save asks for a name instead of overwriting it
        self.window.files.open_checkpoint(self.path, remember=False)

    @Slot(object)
    def _on_opened(self, opened) -> None:
        self.window.session.worker.sig_opened.disconnect(self._on_opened)
        if opened.path != self.path:
            return
        self.window.setWindowTitle("vae-explorer — demo model")
        self.window.banner.show_message(
            "Demo model (sprites): drag the Decoder sliders, click points in the latent space. "
            "Continue trains it further; Reset sets up your own.", "info")


class FirstPaintProbe(QObject):
    """--quit-after-shown: print "shown" once the window has painted its first frame, then close it."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if obj is self.window and event.type() == QEvent.Paint:
            self.window.removeEventFilter(self)
            # torch must not be loaded yet: it takes seconds and belongs to the worker thread
            print(f"shown torch_loaded={'torch' in sys.modules}", flush=True)
            QTimer.singleShot(0, self.window.close)
        return False
