"""The offscreen `vae-explorer replay` driver: open a checkpoint, wait for its timeline, film a panel over it, exit.

    driver = ReplayDriver(window, "run.h5", "film.mp4", panel="latent", first=0, last=None, fps=4)
    driver.begin()          # then app.exec(); driver.exit_code is 0 once the film was written, 2 when it was not
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, QTimer, Slot

from explorer.runtime.film_writer import FilmWriter
from explorer.window.film import FilmRecorder
from explorer.window.main_window import MainWindow
from explorer.window.panel_names import panel_widget, refresh_views

REPLAY_SIZE = (1440, 900)
"""The window's size while it films (a panel's frame is the size its dock has in it)."""
OPEN_WAIT_S = 300
"""The checkpoint's first moment needs its dataset loaded and encoded: give up after this long."""


def steps_between(steps, first: int | None, last: int | None) -> list[int]:
    """The timeline's steps from `first` to `last` (either None: the timeline's end), inclusive."""
    lo = steps[0] if first is None else first
    hi = steps[-1] if last is None else last
    return [int(s) for s in steps if lo <= s <= hi]


class ReplayDriver(QObject):
    """Opens, waits and films in order, driven by signals and timers; the event loop never blocks."""

    def __init__(self, window: MainWindow, checkpoint: str, out: str, panel: str, first: int | None = None,
                 last: int | None = None, fps: int = 4):
        super().__init__(window)
        self.window, self.checkpoint, self.out, self.panel = window, checkpoint, out, panel
        self.first, self.last, self.fps = first, last, fps
        self.exit_code = 2
        self.recorder: FilmRecorder | None = None
        self._deadline = 0.0
        self._wait_timer = QTimer(self, interval=100)
        self._wait_timer.timeout.connect(self._on_wait_tick)

    def begin(self) -> None:
        self.window.resize(*REPLAY_SIZE)
        self.window.show()
        self.window.files.error_dialogs = False  # nobody to close a dialog
        self.window.files.sig_open_failed.connect(self._on_open_failed)
        self.window.session.worker.sig_opened.connect(self._on_opened)
        self.window.open_checkpoint(self.checkpoint)

    @Slot(str)
    def _on_open_failed(self, message: str) -> None:
        self._fail(message)

    @Slot(object)
    def _on_opened(self, _opened) -> None:
        self._deadline = time.monotonic() + OPEN_WAIT_S
        self._wait_timer.start()

    def _on_wait_tick(self) -> None:
        explored, explore = self.window.explored.value, self.window.explore
        ready = explored.timeline is not None and explore.latents is not None and not explore.pending
        if not ready and time.monotonic() < self._deadline:
            return
        self._wait_timer.stop()
        if not ready:
            self._fail(f"{self.checkpoint}: its held-out encodings never arrived (is its dataset there?)")
            return
        if not explored.steps:
            self._fail(f"{self.checkpoint}: no timeline to replay: {explored.timeline.off}")
            return
        steps = steps_between(explored.steps, self.first, self.last)
        if not steps:
            self._fail(f"{self.checkpoint}: no snapshot between steps {self.first} and {self.last} (the timeline has "
                       f"{len(explored.steps)}, steps {explored.steps[0]:,} to {explored.steps[-1]:,})")
            return
        writer = FilmWriter(self.out, self.fps, self)
        self.recorder = FilmRecorder(self.window.explored, explore, partial(panel_widget, self.window, self.panel),
                                     partial(refresh_views, self.window), writer, steps,
                                     title=Path(self.checkpoint).name, parent=self)
        self.recorder.sig_progress.connect(self._on_progress)
        self.recorder.sig_finished.connect(self._on_finished)
        self.recorder.start()

    def _on_progress(self, done: int, total: int) -> None:
        if done == total or done % max(1, total // 10) == 0:  # about ten lines, whatever the film's length
            print(f"vae-explorer replay: frame {done}/{total}", file=sys.stderr)

    def _on_finished(self, ok: bool, message: str) -> None:
        if ok:
            print(f"vae-explorer: {message}", file=sys.stderr)
            self.exit_code = 0
            self.window.close()
        else:
            self._fail(message)

    def _fail(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        self.exit_code = 2
        self.window.close()
