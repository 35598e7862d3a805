"""Films of the timeline: written headlessly by `vae-explorer replay` and from the window, read back by imageio."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import imageio.v3 as iio
import numpy as np
import pytest

import trainer
from explorer.runtime.film_writer import FilmWriter
from explorer.window.film import FilmRecorder
from explorer.window.main_window import MainWindow
from explorer.window.panel_names import panel_widget, refresh_views
from trained_runs import trained

REPO = Path(__file__).resolve().parents[1]
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A small sprites run whose timeline keeps 6 snapshots."""
    data = trainer.load_dataset("sprites", n=600, image_size=28)
    path = tmp_path_factory.mktemp("film") / "run.h5"
    trained(data, path, epochs=3, latent_dim=2, hidden=(32,), batch_size=32, snapshots=6)
    return path


def replay(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "explorer.launch", "replay", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def test_replay_writes_an_mp4_and_a_gif_of_the_latent_panel_that_a_standard_reader_opens(checkpoint, tmp_path):
    steps = trainer.load_model(checkpoint).steps
    assert len(steps) == 6
    proc = replay(checkpoint, "--out", tmp_path / "film.mp4", "--panel", "latent", "--fps", 5)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reader = imageio.get_reader(tmp_path / "film.mp4")
    frames = [frame for frame in reader]
    assert len(frames) == 6 and reader.get_meta_data()["fps"] == 5
    h, w = frames[0].shape[:2]
    assert h > 200 and w > 200 and h % 2 == 0 and w % 2 == 0 and all(f.shape == (h, w, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[-1]), "the scatter moves as the run trains"
    proc = replay(checkpoint, "--out", tmp_path / "part.gif", "--from", steps[1], "--to", steps[3], "--fps", 2)
    assert proc.returncode == 0, proc.stderr[-2000:]
    gif = iio.imread(tmp_path / "part.gif", index=None)
    assert gif.shape[0] == 3 and gif.shape[1:3] == (h + gif.shape[1] - h, w)  # the same panel, the same width
    assert iio.immeta(tmp_path / "part.gif", index=0)["duration"] == 500
    assert not list(tmp_path.glob(".*part*")), "no partial file is left behind"


def test_replay_refuses_bad_input_in_one_line(checkpoint, tmp_path):
    from inprocess import run_main

    for args, message in [  # refused before any window is made: in this process
        ((checkpoint, "--out", tmp_path / "film.avi"), "a film is a .gif or an .mp4 file, not .avi"),
        ((checkpoint, "--out", tmp_path / "nowhere" / "f.gif"), "does not exist"),
        ((tmp_path / "missing.h5", "--out", tmp_path / "f.gif"), "missing.h5: no such file"),
        ((checkpoint, "--out", tmp_path / "f.gif", "--from", 50, "--to", 10), "--from 50 is after --to 10"),
        ((checkpoint, "--out", tmp_path / "f.gif", "--fps", 0), "frames per second must be a whole number"),
        ((checkpoint, "--out", tmp_path / "f.gif", "--panel", "nope"), "argument --panel: invalid choice"),
    ]:
        proc = run_main(["replay", *args])
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert len([line for line in proc.stderr.splitlines() if line.startswith("error:")]) == 1
    data = trainer.load_dataset("sprites", n=600, image_size=28)
    trained(data, tmp_path / "off.h5", epochs=1, latent_dim=2, hidden=(32,), snapshots=0)
    proc = replay(tmp_path / "off.h5", "--out", tmp_path / "f.gif")  # the window tells: a process of its own
    assert proc.returncode == 2 and "no timeline to replay: snapshots were turned off" in proc.stderr
    assert not (tmp_path / "f.gif").exists()


def test_the_window_films_a_panel_over_a_range_and_cancel_leaves_no_file(qtbot, checkpoint, tmp_path):
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1440, 900)
    window.show()
    window.open_checkpoint(str(checkpoint))
    qtbot.waitUntil(lambda: bool(window.explored.value.steps) and window.explore.latents is not None
                    and not window.explore.pending, timeout=WAIT_MS)
    steps = list(window.explored.value.steps)

    def film(path, chosen):
        writer = FilmWriter(path, 3)
        return FilmRecorder(window.explored, window.explore, lambda: panel_widget(window, "kl"),
                            lambda: refresh_views(window), writer, chosen, title="run.h5")

    recorder = film(tmp_path / "kl.gif", steps[:3])
    with qtbot.waitSignal(recorder.sig_finished, timeout=WAIT_MS) as finished:
        recorder.start()
    assert finished.args[0] is True and "kl.gif (3 frames" in finished.args[1]
    assert iio.imread(tmp_path / "kl.gif", index=None).shape[0] == 3
    assert window.explored.value.moment is None, "the views follow the newest model again, as before the film"
    recorder = film(tmp_path / "cancelled.mp4", steps)
    recorder.sig_progress.connect(lambda done, _total: recorder.cancel() if done == 2 else None)
    with qtbot.waitSignal(recorder.sig_finished, timeout=WAIT_MS) as finished:
        recorder.start()
    assert finished.args == [False, "Cancelled: no film was written"]
    assert recorder.writer.wait(60)
    assert not list(tmp_path.glob("*cancelled*")) and not list(tmp_path.glob(".*part*"))
    window.close()


def test_the_film_dialog_checks_its_fields_and_the_window_films_with_progress(qtbot, small_window, checkpoint,
                                                                            tmp_path):
    from explorer.files.film_dialog import FilmDialog

    window = small_window()
    window.open_checkpoint(str(checkpoint))
    qtbot.waitUntil(lambda: bool(window.explored.value.steps) and window.explore.latents is not None
                    and not window.explore.pending, timeout=WAIT_MS)
    assert window.timeline.film.isEnabled()
    steps = window.explored.value.steps
    names = window.film_export.panel_names
    assert names[0] == ("window", "The whole window") and ("latent", "Latent space") in names
    dialog = FilmDialog(window, steps, names, str(tmp_path / "film.avi"))
    qtbot.addWidget(dialog)
    dialog._on_accept()  # Record with a bad suffix: the dialog says why and stays open
    assert "a film is a .gif or an .mp4 file, not .avi" in dialog.error.text() and dialog.result() == 0
    dialog.path_edit.setText(str(tmp_path / "whole.gif"))
    dialog.panel_combo.setCurrentIndex(0)
    dialog.from_combo.setCurrentIndex(1)
    dialog.to_combo.setCurrentIndex(3)
    assert dialog.count.text().startswith("3 moments")
    request = dialog.request()
    assert request.panel == "window" and request.steps == steps[1:4] and request.fps == 4
    recorder = window.film_export.start(request)
    assert window.film_export.progress is not None and window.film_export.progress.maximum() == 3
    with qtbot.waitSignal(recorder.sig_finished, timeout=WAIT_MS) as finished:
        pass
    assert finished.args[0] is True and window.film_export.progress is None
    frames = iio.imread(tmp_path / "whole.gif", index=None)
    assert frames.shape[0] == 3 and frames.shape[2] >= window.width() - 2  # the whole window, with a band on top
    assert "whole.gif (3 frames" in window.statusBar().currentMessage()
