"""Starting the window: the QApplication and the command line (explorer.window.screenshot drives --screenshot).

    vae-explorer                                   # the window, with the demo model (assets/) to explore
    vae-explorer run.h5                            # the window with a checkpoint opened
    vae-explorer --screenshot out.png [--train-steps 300] [run.h5]   # render offscreen, save, exit 0
    vae-explorer --screenshot latent.png --panel latent              # one panel only (see PANELS)
    vae-explorer --screenshot out.png --panels-dir docs/             # and docs/panel-<name>.png for each panel
    vae-explorer replay run.h5 --out film.mp4 [--panel latent] [--from S --to S] [--fps N]   # explorer.window.replay
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from explorer.files.settings_store import use_scratch_settings
from explorer.models.run_settings import FIELDS, rule_of
from explorer.window.main_window import MainWindow
from explorer.window.first_paint import DemoOpener, FirstPaintProbe, demo_checkpoint
from explorer.runtime.film_writer import film_path
from explorer.window.panel_names import PANELS, WHOLE_WINDOW
from explorer.window.replay import ReplayDriver
from explorer.window.screenshot import ScreenshotDriver
from trainer.errors import ConfigError

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vae-explorer", description="Open the vae-explorer window.")
    parser.add_argument("checkpoint", nargs="?",
                        help="a checkpoint (.h5) to open, or a folder of runs (a sweep) to compare")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen to OUT.png and exit")
    parser.add_argument("--train-steps", type=int, default=0, metavar="N",
                        help="with --screenshot: train N steps first")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="with --screenshot: a setting for the run, e.g. --set sprites_size=28 (repeatable)")
    parser.add_argument("--panel", choices=sorted(PANELS), help="with --screenshot: capture only this panel")
    parser.add_argument("--view", choices=("pca", "dims", "umap", "tsne"),
                        help="with --screenshot: the latent scatter's view (a UMAP/t-SNE map is waited for)")
    parser.add_argument("--panels-dir", metavar="DIR",
                        help="with --screenshot: also write DIR/panel-<name>.png for every panel")
    parser.add_argument("--no-demo", action="store_true",
                        help="start without opening the demo model (it opens when no checkpoint is given)")
    parser.add_argument("--quit-after-shown", action="store_true", help=argparse.SUPPRESS)  # launch-time probe
    args = parser.parse_args(argv)
    if args.train_steps < 0:
        parser.error("--train-steps must be >= 0")
    if args.checkpoint and not (Path(args.checkpoint).is_file() or Path(args.checkpoint).is_dir()):
        parser.error(f"{args.checkpoint}: no such file or folder")
    if (args.panel or args.panels_dir) and not args.screenshot:
        parser.error("--panel and --panels-dir need --screenshot OUT.png")
    if args.panels_dir and not Path(args.panels_dir).is_dir():
        parser.error(f"--panels-dir {args.panels_dir}: no such folder")
    return args


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise ValueError(f"{self.prog}: {message}")


def parse_replay(argv: list[str]) -> argparse.Namespace:
    """`vae-explorer replay`'s arguments, checked; a problem is a ValueError in one line."""
    parser = _OneLineParser(prog="vae-explorer replay", description="Film a panel (or the whole window) over a "
                            "checkpoint's timeline, offscreen: one frame per snapshot, its step, epoch and β printed "
                            "on it, as a GIF or an MP4 (by the suffix of --out).")
    parser.add_argument("checkpoint", help="a checkpoint (.h5) with a timeline of snapshots")
    parser.add_argument("--out", required=True, metavar="FILM", help="the film to write: FILM.gif or FILM.mp4")
    parser.add_argument("--panel", choices=sorted([*PANELS, WHOLE_WINDOW]), default="latent",
                        help="the panel filmed (default latent; window: the whole window)")
    parser.add_argument("--from", dest="first", type=int, metavar="S", help="the first step filmed (default: 0)")
    parser.add_argument("--to", dest="last", type=int, metavar="S", help="the last step filmed (default: the last)")
    parser.add_argument("--fps", type=int, default=4, help="frames (moments) per second (default 4)")
    args = parser.parse_args(argv)
    if not Path(args.checkpoint).is_file():
        raise ValueError(f"{args.checkpoint}: no such file")
    film_path(args.out, args.fps)
    for name in ("first", "last"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            raise ValueError(f"--{'from' if name == 'first' else 'to'} must be a step >= 0")
    if args.first is not None and args.last is not None and args.first > args.last:
        raise ValueError(f"--from {args.first} is after --to {args.last}")
    return args


def replay_main(argv: list[str]) -> int:
    """`vae-explorer replay`: the window offscreen, the checkpoint opened, the film written; 0, or 2 and one line."""
    try:
        args = parse_replay(argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a film needs no screen
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("vae-explorer")
    use_scratch_settings("vae-explorer-replay-")  # the built-in layout: the user's files untouched
    window = MainWindow()
    driver = ReplayDriver(window, args.checkpoint, args.out, args.panel, args.first, args.last, args.fps)
    driver.begin()
    app.exec()
    return driver.exit_code


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
        overrides = _overrides(args.set, window.run_settings.value)
    except ValueError as exc:
        print(f"vae-explorer: {exc}", file=sys.stderr)
        return 2
    if overrides is not None:
        window.run_settings.set(overrides)

    # a folder of runs (a sweep) opens beside the window's own model
    runs = args.checkpoint if args.checkpoint and Path(args.checkpoint).is_dir() else None
    checkpoint = None if runs else args.checkpoint
    # without a checkpoint, the demo model opens, so there is something to explore before training anything
    demo = None if checkpoint or args.no_demo else demo_checkpoint()
    if args.screenshot:
        # a screenshot that trains from scratch shows that run; one that does not shows the demo
        checkpoint = checkpoint or (str(demo) if demo and not args.train_steps else None)
        driver = ScreenshotDriver(window, args.screenshot, args.train_steps, checkpoint, args.panel, args.panels_dir,
                                  runs=runs, view=args.view)
        driver.begin()
        app.exec()
        return driver.exit_code

    if args.quit_after_shown:
        FirstPaintProbe(window)
    if demo is not None:  # also with the probe: the launch it measures is the real one
        DemoOpener(window, str(demo))
    window.show()
    if runs:
        window.compare.open_folder(runs)  # its runs, side by side
    elif checkpoint:
        window.open_checkpoint(checkpoint)
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
    """Apply NAME=VALUE pairs to RunSettings, each parsed and checked by its setting's rule (run_settings.rule_of,
    the CLI's own); None when there are none. A bad pair is a ValueError in one line."""
    if not pairs:
        return None
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in FIELDS:
            raise ValueError(f"--set {pair!r}: expected NAME=VALUE with a RunSettings field name")
        try:
            values[name] = rule_of(name).parse(name, text)
        except ConfigError as exc:
            raise ValueError(f"--set {pair!r}: {exc}") from None
    try:
        return settings.replace(**values)
    except ConfigError as exc:
        raise ValueError(f"--set: {exc}") from None
