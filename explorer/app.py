"""Starting the window: the QApplication, the command line and the screenshot mode.

    vae-explorer                                   # the window, with the demo model (assets/) to explore
    vae-explorer run.h5                            # the window with a checkpoint opened
    vae-explorer --screenshot out.png [--train-steps 300] [run.h5]   # render offscreen, save, exit 0
    vae-explorer --screenshot latent.png --panel latent              # one panel only (see PANELS)
    vae-explorer --screenshot out.png --panels-dir docs/             # and docs/panel-<name>.png for each panel
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication, QWidget

from explorer.main_window import MainWindow, RunState
from explorer.settings_store import use_scratch_settings

SCREENSHOT_SIZE = (1440, 900)
"""At least 1280x800, the size README pictures are made at."""
SETTLE_MS = 300
"""After the last report, time for queued signals and the coalesced redraw to land before grabbing."""
PANEL_SETTLE_MS = 150
"""After raising a tabbed panel, time for its layout and first paint before grabbing it."""
LATENTS_WAIT_S = 120
"""An opened checkpoint's scatter needs its dataset loaded and encoded; grab without it after this long."""
DEMO_CHECKPOINT = "demo_sprites.h5"
"""Shipped in assets/ and opened when the window starts without a checkpoint; assets/README.md says how it was made."""
DEMO_DELAY_MS = 300
"""The demo is read in the worker after the first frame has painted, like the device probe."""
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
}
"""--panel names and the titles of their docks."""


def demo_checkpoint() -> Path | None:
    """The demo model, from the installed wheel (vae_explorer_assets) or a source checkout (assets/); None if absent."""
    try:
        from vae_explorer_assets import asset_path
    except ImportError:
        path = Path(__file__).resolve().parents[1] / "assets" / DEMO_CHECKPOINT
    else:
        path = asset_path(DEMO_CHECKPOINT)
    return path if path.is_file() else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vae-explorer", description="Open the vae-explorer window.")
    parser.add_argument("checkpoint", nargs="?", help="a checkpoint (.h5) to open")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen to OUT.png and exit")
    parser.add_argument("--train-steps", type=int, default=0, metavar="N", help="with --screenshot: train N steps first")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="with --screenshot: a setting for the run, e.g. --set sprites_size=28 (repeatable)")
    parser.add_argument("--panel", choices=sorted(PANELS), help="with --screenshot: capture only this panel")
    parser.add_argument("--panels-dir", metavar="DIR",
                        help="with --screenshot: also write DIR/panel-<name>.png for every panel")
    parser.add_argument("--no-demo", action="store_true",
                        help="start without opening the demo model (it opens when no checkpoint is given)")
    parser.add_argument("--quit-after-shown", action="store_true", help=argparse.SUPPRESS)  # launch-time probe
    args = parser.parse_args(argv)
    if args.train_steps < 0:
        parser.error("--train-steps must be >= 0")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        parser.error(f"{args.checkpoint}: no such file")
    if (args.panel or args.panels_dir) and not args.screenshot:
        parser.error("--panel and --panels-dir need --screenshot OUT.png")
    if args.panels_dir and not Path(args.panels_dir).is_dir():
        parser.error(f"--panels-dir {args.panels_dir}: no such folder")
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
    if args.screenshot:  # reproducible pictures: the built-in layout and settings; the user's files untouched
        use_scratch_settings("vae-explorer-screenshot-")
    window = MainWindow()
    try:
        overrides = _overrides(args.set, window.controls.settings())
    except ValueError as exc:
        print(f"vae-explorer: {exc}", file=sys.stderr)
        return 2
    if overrides is not None:
        window.controls.set_settings(overrides)

    # without a checkpoint, the demo model opens, so there is something to explore before training anything
    demo = None if args.checkpoint or args.no_demo else demo_checkpoint()
    if args.screenshot:
        # a screenshot that trains from scratch shows that run; one that does not shows the demo
        checkpoint = args.checkpoint or (str(demo) if demo and not args.train_steps else None)
        driver = ScreenshotDriver(window, args.screenshot, args.train_steps, checkpoint, args.panel, args.panels_dir)
        driver.begin()
        app.exec()
        return driver.exit_code

    if args.quit_after_shown:
        FirstPaintProbe(window)
    if demo is not None:  # also with the probe: the launch it measures is the real one
        DemoOpener(window, str(demo))
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
    """Opens, trains and grabs in order, driven by the worker's signals; the event loop never blocks.

    Before grabbing it waits for the latent scatter of an opened checkpoint (its data loads in the worker) and
    clicks two held-out points, A and B, as a user would, so the sliders, traversals and interpolation show
    real examples. Tabbed panels are raised one at a time for --panel / --panels-dir.
    """

    def __init__(self, window: MainWindow, out: str, train_steps: int, checkpoint: str | None,
                 panel: str | None = None, panels_dir: str | None = None):
        super().__init__(window)
        self.window, self.out, self.train_steps, self.checkpoint = window, out, train_steps, checkpoint
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
        worker = self.window.session.worker
        worker.sig_ended.connect(self._on_run_ended)
        worker.sig_failed.connect(self._on_failed)
        self.window.files.error_dialogs = False  # nobody to close a dialog: a bad file shows in the banner
        self.window.files.sig_open_failed.connect(self._on_failed)
        if self.checkpoint:
            worker.sig_opened.connect(self._on_opened)
            self.window.open_checkpoint(self.checkpoint)
        else:
            self._train_or_grab()

    def _train_or_grab(self) -> None:
        if not (self.train_steps and self.window.start_training(max_steps=self.train_steps)):
            self._wait_for_latents()

    @Slot(object)
    def _on_opened(self, _opened) -> None:
        self._train_or_grab()

    @Slot(str)
    def _on_failed(self, _message: str) -> None:
        if self.window.state is RunState.IDLE or (self.checkpoint and not self.train_steps):
            self._grab_timer.start()  # nothing will train: the error banner is what there is to see

    @Slot(object)
    def _on_run_ended(self, _info) -> None:
        self._wait_for_latents()

    def _wait_for_latents(self) -> None:
        self._deadline = time.monotonic() + LATENTS_WAIT_S
        self._wait_timer.start()

    def _on_wait_tick(self) -> None:
        explore = self.window.explore
        waiting = explore.pending or (explore.decoder is not None and explore.latents is None)
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
        if name == "curves":
            return self.window.curves
        dock = self.window.controls_dock if name == "controls" else self.window.explore_docks[PANELS[name]]
        dock.show()
        dock.raise_()  # the front tab of its group
        return dock.widget()

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
        self.window.curves.refresh_now()
        self.window.explore.traversal.refresh_now()
        self.window.explore.rd.refresh_now()
        return widget.grab()

    def _save(self, image, path: str) -> None:
        if image.save(path):
            print(f"vae-explorer: wrote {path} ({image.width()}x{image.height()})", file=sys.stderr)
        else:
            print(f"vae-explorer: could not write {path}", file=sys.stderr)
            self._failed = True
            self._shots.clear()


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
