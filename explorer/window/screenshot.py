"""The offscreen --screenshot driver: open or train, wait for the panels, click two examples, grab, exit.

    driver = ScreenshotDriver(window, "out.png", train_steps=300, checkpoint=None, panel=None, panels_dir=None)
    driver.begin()          # then app.exec(); driver.exit_code is 0 once every picture was written
    ScreenshotDriver(window, "out.png", 0, "demo.h5", runs="sweep/")   # also a folder of runs, one explored
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QWidget

from explorer.window.main_window import MainWindow
from explorer.window.panel_names import PANELS, panel_widget, refresh_views
from explorer.models.run_state import RunState

SCREENSHOT_SIZE = (1440, 900)
"""At least 1280x800, the size README pictures are made at."""
SETTLE_MS = 300
"""After the last report, time for queued signals and the coalesced redraw to land before grabbing."""
PANEL_SETTLE_MS = 150
"""After raising a tabbed panel, time for its layout and first paint before grabbing it."""
LATENTS_WAIT_S = 120
"""An opened checkpoint's scatter needs its dataset loaded and encoded; grab without it after this long."""


class ScreenshotDriver(QObject):
    """Opens, trains and grabs in order, driven by the worker's signals; the event loop never blocks.

    Before grabbing it waits for the latent scatter of an opened checkpoint (its data loads in the worker) and
    clicks two held-out points, A and B, as a user would, so the sliders, traversals and interpolation show
    real examples. Tabbed panels are raised one at a time for --panel / --panels-dir.
    """

    def __init__(self, window: MainWindow, out: str, train_steps: int, checkpoint: str | None,
                 panel: str | None = None, panels_dir: str | None = None, runs: str | None = None,
                 view: str | None = None):
        super().__init__(window)
        self.window, self.out, self.train_steps, self.checkpoint = window, out, train_steps, checkpoint
        self.runs = runs
        """A folder of runs to open beside the checkpoint: the run of the middle β is explored in the picture."""
        self._runs_read = runs is None
        self.view = view
        """The latent scatter's view mode (pca, dims, umap, tsne), set before the latents are waited for."""
        self.exit_code = 1
        self._shots: list[tuple[str | None, str]] = [(panel, out)]
        if panels_dir:
            self._shots += [(name, str(Path(panels_dir) / f"panel-{name}.png")) for name in PANELS]
        self._failed = False
        self._deadline = 0.0
        self._grab_timer = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._grab_timer.timeout.connect(self._on_settled)
        self._wait_timer = QTimer(self, interval=100)
        self._wait_timer.timeout.connect(self._on_wait_tick)
        self._panel_timer = QTimer(self, singleShot=True, interval=PANEL_SETTLE_MS)
        self._panel_timer.timeout.connect(self._on_panel_ready)

    def begin(self) -> None:
        self.window.resize(*SCREENSHOT_SIZE)
        self.window.show()
        session = self.window.session
        session.worker.sig_ended.connect(self._on_run_ended)
        session.worker.sig_failed.connect(self._on_failed)
        self.window.files.error_dialogs = False  # nobody to close a dialog: a bad file shows in the banner
        self.window.files.sig_open_failed.connect(self._on_failed)
        if self.runs:
            self.window.compare.sig_runs_read.connect(self._on_runs_read)
            self.window.compare.open_folder(self.runs)
        if self.checkpoint:
            session.worker.sig_opened.connect(self._on_opened)
            self.window.open_checkpoint(self.checkpoint)
        else:
            self._train_or_grab()

    def _train_or_grab(self) -> None:
        if not (self.train_steps and self.window.start_training(max_steps=self.train_steps)):
            self._wait_for_latents()

    @Slot(object)
    def _on_opened(self, _opened) -> None:
        self._train_or_grab()

    @Slot(str, int)
    def _on_runs_read(self, _folder: str, _read: int) -> None:
        runs = sorted(self.window.compare.catalog.compared(), key=lambda r: r.beta)
        if runs:
            self.window.compare.catalog.select(runs[len(runs) // 2].key)
            self.window.runs_dock.raise_()
        self._runs_read = True

    @Slot(str)
    def _on_failed(self, _message: str) -> None:
        if self.window.state is RunState.IDLE or (self.checkpoint and not self.train_steps):
            self._grab_timer.start()  # nothing will train: the error banner is what there is to see

    @Slot(object)
    def _on_run_ended(self, _info) -> None:
        self._wait_for_latents()

    def _wait_for_latents(self) -> None:
        if self.view:
            self.window.explore.scatter.set_view(self.view)
        self._deadline = time.monotonic() + LATENTS_WAIT_S
        self._wait_timer.start()

    def _on_wait_tick(self) -> None:
        explore = self.window.explore
        waiting = (explore.pending or (explore.decoder is not None and explore.latents is None) or not self._runs_read
                   or explore.decoder is None or not explore.scatter.map_ready)
        if waiting and time.monotonic() < self._deadline:  # panel updates still queued, or the encoding
            return
        self._wait_timer.stop()
        self._select_examples()
        self._grab_timer.start()

    def _select_examples(self) -> None:
        """Click a held-out point (A) and Shift+click the one drawn farthest from it (B)."""
        latents = self.window.explore.latents
        if latents is None or len(latents) < 2:
            return
        xy = self.window.explore.scatter.coordinates()[:500]
        far = int(np.argmax(((xy - xy[0]) ** 2).sum(1)))
        self.window.explore.scatter.select(0)
        self.window.explore.scatter.select(far, second=True)

    def _on_settled(self) -> None:
        self._next_shot()

    def _widget(self, name: str) -> QWidget:
        return panel_widget(self.window, name)

    def _next_shot(self) -> None:
        while self._shots:
            name, path = self._shots[0]
            if name is None:
                self._shots.pop(0)
                self._save(self._grab_refreshed(self.window), path)
                continue
            self._widget(name)
            self._panel_timer.start()  # its layout and first paint, then _on_panel_ready
            return
        self.exit_code = 1 if self._failed else 0
        self.window.close()

    def _on_panel_ready(self) -> None:
        name, path = self._shots.pop(0)
        self._save(self._grab_refreshed(self._widget(name)), path)
        self._next_shot()

    def _grab_refreshed(self, widget: QWidget):
        """Draw what the coalescing timers still hold back, then grab."""
        refresh_views(self.window)
        return widget.grab()

    def _save(self, image, path: str) -> None:
        if image.save(path):
            print(f"vae-explorer: wrote {path} ({image.width()}x{image.height()})", file=sys.stderr)
        else:
            print(f"vae-explorer: could not write {path}", file=sys.stderr)
            self._failed = True
            self._shots.clear()
