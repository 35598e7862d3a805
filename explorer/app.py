"""Starting the window: the QApplication, the command line and the screenshot mode.

    vae-explorer                                   # the window, sprites ready to train
    vae-explorer run.h5                            # the window with a checkpoint opened
    vae-explorer --screenshot out.png [--train-steps 300] [run.h5]   # render offscreen, save, exit 0
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from explorer.main_window import MainWindow, RunState

SCREENSHOT_SIZE = (1440, 900)
"""At least 1280x800, the size README pictures are made at."""
SETTLE_MS = 300
"""After the last report, time for queued signals and the coalesced redraw to land before grabbing."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vae-explorer", description="Open the vae-explorer window.")
    parser.add_argument("checkpoint", nargs="?", help="a checkpoint (.h5) to open")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen to OUT.png and exit")
    parser.add_argument("--train-steps", type=int, default=0, metavar="N", help="with --screenshot: train N steps first")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="with --screenshot: a setting for the run, e.g. --set sprites_size=28 (repeatable)")
    parser.add_argument("--quit-after-shown", action="store_true", help=argparse.SUPPRESS)  # launch-time probe
    args = parser.parse_args(argv)
    if args.train_steps < 0:
        parser.error("--train-steps must be >= 0")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        parser.error(f"{args.checkpoint}: no such file")
    return args


def _needs_offscreen(args: argparse.Namespace) -> bool:
    if "QT_QPA_PLATFORM" in os.environ or not sys.platform.startswith("linux"):
        return False
    return bool(args.screenshot) and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if _needs_offscreen(args):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if (sys.platform.startswith("linux") and "QT_QPA_PLATFORM" not in os.environ
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        print("vae-explorer: no display (DISPLAY is not set); use --screenshot OUT.png, "
              "or the headless commands train/eval/info", file=sys.stderr)
        return 2

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("vae-explorer")
    app.setOrganizationName("vae-explorer")
    window = MainWindow()
    try:
        overrides = _overrides(args.set, window.controls.settings())
    except ValueError as exc:
        print(f"vae-explorer: {exc}", file=sys.stderr)
        return 2
    if overrides is not None:
        window.controls.set_settings(overrides)

    if args.screenshot:
        driver = ScreenshotDriver(window, args.screenshot, args.train_steps, args.checkpoint)
        driver.begin()
        app.exec()
        return driver.exit_code

    if args.quit_after_shown:
        FirstPaintProbe(window)
    window.show()
    if args.checkpoint:
        window.open_checkpoint(args.checkpoint)
    _close_on_ctrl_c(window)
    return app.exec()


def _close_on_ctrl_c(window: MainWindow) -> None:
    """Ctrl+C in the terminal closes the window the normal way (stop, join) instead of being ignored."""
    signal.signal(signal.SIGINT, lambda *_: window.close())
    # Python runs signal handlers only between bytecodes; a timer gives it some while Qt's loop waits
    timer = QTimer(window, interval=250)
    timer.timeout.connect(_do_nothing)
    timer.start()


def _do_nothing() -> None:
    pass


def _overrides(pairs: list[str], settings):
    """Apply NAME=VALUE pairs to RunSettings (typed like the field's default); None when there are none."""
    if not pairs:
        return None
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not hasattr(settings, name):
            raise ValueError(f"--set {pair!r}: expected NAME=VALUE with a RunSettings field name")
        kind = type(getattr(settings, name))
        try:
            values[name] = text.lower() in ("1", "true", "yes") if kind is bool else kind(text)
        except ValueError:
            raise ValueError(f"--set {pair!r}: {text!r} is not a {kind.__name__}") from None
    return settings.replace(**values)


class ScreenshotDriver(QObject):
    """Opens, trains and grabs in order, driven by the worker's signals; the event loop never blocks."""

    def __init__(self, window: MainWindow, out: str, train_steps: int, checkpoint: str | None):
        super().__init__(window)
        self.window, self.out, self.train_steps, self.checkpoint = window, out, train_steps, checkpoint
        self.exit_code = 1
        self._grab_timer = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._grab_timer.timeout.connect(self._on_settled)

    def begin(self) -> None:
        self.window.resize(*SCREENSHOT_SIZE)
        self.window.show()
        worker = self.window.session.worker
        worker.sig_ended.connect(self._on_run_ended)
        worker.sig_failed.connect(self._on_failed)
        if self.checkpoint:
            worker.sig_opened.connect(self._on_opened)
            self.window.open_checkpoint(self.checkpoint)
        else:
            self._train_or_grab()

    def _train_or_grab(self) -> None:
        if not (self.train_steps and self.window.start_training(max_steps=self.train_steps)):
            self._grab_timer.start()

    @Slot(object)
    def _on_opened(self, _opened) -> None:
        self._train_or_grab()

    @Slot(str)
    def _on_failed(self, _message: str) -> None:
        if self.window.state is RunState.IDLE or (self.checkpoint and not self.train_steps):
            self._grab_timer.start()  # nothing will train: the error banner is what there is to see

    @Slot(object)
    def _on_run_ended(self, _info) -> None:
        self._grab_timer.start()

    def _on_settled(self) -> None:
        self.window.curves.refresh_now()
        image = self.window.grab()
        if image.save(self.out):
            print(f"vae-explorer: wrote {self.out} ({image.width()}x{image.height()})", file=sys.stderr)
            self.exit_code = 0
        else:
            print(f"vae-explorer: could not write {self.out}", file=sys.stderr)
        self.window.close()


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
