"""explorer.show: the window from Python, with a handle that opens files, trains, stops and reads the history;
non-blocking under IPython's Qt event loop, blocking until closed in a script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

import explorer
from explorer.window.viewer import qt_loop_integrated
from trainer.errors import CheckpointError

REPO = Path(__file__).resolve().parents[1]
WAIT_MS = 120_000


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    from inprocess import run_main

    out = tmp_path / "run.h5"
    proc = run_main(["train", "--dataset", "sprites", "--image-size", "28", "--limit", "600", "--hidden", "48",
                     "--latent-dim", "4", "--batch-size", "64", "--epochs", "1", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    return out


def test_show_returns_a_handle_that_opens_trains_stops_and_reads_the_history(qtbot, checkpoint, tmp_path):
    viewer = explorer.show(checkpoint, block=False)
    qtbot.addWidget(viewer.window)
    assert viewer.visible
    qtbot.waitUntil(lambda: viewer.window.run.current_path == str(checkpoint) and viewer.state == "stopped",
                    timeout=WAIT_MS)
    opened = viewer.history()
    assert len(opened["steps/step"]) >= 1  # the checkpoint's reports
    assert viewer.start(max_steps=25)
    qtbot.waitUntil(lambda: viewer.state == "training", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: viewer.state == "stopped", timeout=WAIT_MS)
    assert viewer.history()["steps/step"][-1] > opened["steps/step"][-1]  # it trained on from the checkpoint
    assert viewer.start()  # no end in sight (Continue: the Epochs value's worth more), until stop()
    qtbot.waitUntil(lambda: viewer.state == "training", timeout=WAIT_MS)
    viewer.stop()
    qtbot.waitUntil(lambda: viewer.state == "stopped", timeout=WAIT_MS)
    with pytest.raises(CheckpointError):
        viewer.open(tmp_path / "missing.h5")
    viewer.close()
    qtbot.waitUntil(lambda: not viewer.visible and not viewer.window.session.running, timeout=WAIT_MS)


def test_the_handle_seeks_the_timeline_and_refuses_a_bad_step(qtbot, checkpoint):
    import trainer
    from trainer.errors import ConfigError

    viewer = explorer.show(checkpoint, block=False)
    qtbot.addWidget(viewer.window)
    qtbot.waitUntil(lambda: bool(viewer.steps) and viewer.window.explore.latents is not None, timeout=WAIT_MS)
    assert viewer.steps == trainer.load_model(checkpoint).steps and viewer.moment is None
    assert viewer.seek(viewer.steps[2] + 0) == viewer.steps[2] == viewer.moment
    explore = viewer.window.explore
    qtbot.waitUntil(lambda: explore.latents.step == viewer.steps[2] and not explore.pending, timeout=WAIT_MS)
    for bad in (-1, 2.5, "3", True):
        with pytest.raises(ConfigError, match="seek: step must be None or a whole number >= 0"):
            viewer.seek(bad)
    assert viewer.seek(None) is None and viewer.moment is None
    viewer.close()
    qtbot.waitUntil(lambda: not viewer.window.session.running, timeout=WAIT_MS)


def test_show_blocks_until_the_window_is_closed_when_no_qt_loop_runs_beside_it(qtbot, checkpoint):
    from explorer.window.main_window import MainWindow

    assert not qt_loop_integrated()  # pytest is no IPython session
    closed = []

    def close_it() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible():
                closed.append(widget)
                widget.close()

    QTimer.singleShot(1500, close_it)
    viewer = explorer.show(checkpoint)  # returns only once close_it has closed it
    qtbot.addWidget(viewer.window)
    assert closed == [viewer.window] and not viewer.visible


def test_importing_explorer_loads_no_qt():
    code = ("import sys, explorer; assert callable(explorer.show); "
            "print(any(m.startswith('PySide6') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
