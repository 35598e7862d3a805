"""The File menu in the real window, offscreen: save and open, autosave, recent files, drop, datasets, export.

Modal dialogs are replaced by recorders (QFileDialog answers a path, QMessageBox records and answers), so every
test drives the same code the menus run. Training uses 600 sprites of 28x28 (an epoch is 9 steps). Each test
waits for the threads to finish (the fixture closes the window and checks both threads), and Qt warnings fail
the test (pyproject: qt_log_level_fail = WARNING).
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

from explorer.window.main_window import MainWindow
from explorer.models.run_state import RunState
from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from window_log import WindowLog, seen

WAIT_MS = 60_000  # two busy cores: generous, every wait returns as soon as its condition holds
SMALL = dict(sprites_n=600, sprites_size=28, batch_size=64, latent_dim=4, epochs=1000)


# --- fixtures and helpers ---------------------------------------------------------------------------------
class Dialogs:
    """Stands in for the modal dialogs: answers file choices and questions, records every message box."""

    def __init__(self, monkeypatch):
        self.open_path = ""
        self.save_path = ""
        self.answer = QMessageBox.Discard
        self.questions: list[tuple[str, str]] = []
        self.errors: list[tuple[str, str]] = []
        self.warnings: list[tuple[str, str]] = []
        monkeypatch.setattr(QFileDialog, "getOpenFileName", self._open)
        monkeypatch.setattr(QFileDialog, "getSaveFileName", self._save)
        monkeypatch.setattr(QMessageBox, "question", self._question)
        monkeypatch.setattr(QMessageBox, "critical", self._critical)
        monkeypatch.setattr(QMessageBox, "warning", self._warning)

    def _open(self, *args, **kwargs):
        return self.open_path, ""

    def _save(self, *args, **kwargs):
        return self.save_path, ""

    def _question(self, parent, title, text, *args, **kwargs):
        self.questions.append((title, text))
        return self.answer

    def _critical(self, parent, title, text, *args, **kwargs):
        self.errors.append((title, text))
        return QMessageBox.Ok

    def _warning(self, parent, title, text, *args, **kwargs):
        self.warnings.append((title, text))
        return QMessageBox.Ok


@pytest.fixture
def dialogs(monkeypatch):
    return Dialogs(monkeypatch)


def make_window(qtbot, **settings) -> MainWindow:
    win = MainWindow()
    WindowLog(win)
    qtbot.addWidget(win)
    win.run_settings.set(win.run_settings.value.replace(**{**SMALL, **settings}))
    win.show()
    return win


def close(win: MainWindow) -> None:
    win.close()
    assert not win.session.running, "the training thread must be joined when the window closes"
    assert not win.files.io.running, "the file I/O thread must be joined when the window closes"


@pytest.fixture
def window(qtbot, dialogs):
    win = make_window(qtbot)
    yield win
    close(win)


def start(qtbot, win, steps: int = 20):
    win.start_action.trigger()
    qtbot.waitUntil(lambda: seen(win).report is not None and seen(win).report.step >= steps, timeout=WAIT_MS)


def continue_training(qtbot, win, from_step: int, more: int = 20):
    win.start_action.trigger()
    qtbot.waitUntil(lambda: win.session.worker.trainer is not None
                    and win.session.worker.trainer.step >= from_step + more, timeout=WAIT_MS)


def stop(qtbot, win):
    win.stop_action.trigger()
    qtbot.waitUntil(lambda: win.state is RunState.STOPPED, timeout=WAIT_MS)


def wait_io(qtbot, win, job_id: int):
    qtbot.waitUntil(lambda: any(r.job.job_id == job_id for r in seen(win).io), timeout=WAIT_MS)
    return next(r for r in seen(win).io if r.job.job_id == job_id)


def wait_opened(qtbot, win, path):
    qtbot.waitUntil(lambda: win.run.current_path == str(path) and win.state is RunState.STOPPED, timeout=WAIT_MS)


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory) -> Path:
    """A 40-step run on the window's small sprites, saved headlessly (what another session would have left)."""
    from trainer.config import DatasetSpec, TrainConfig
    from trainer.data import load_dataset
    from trainer.model.vae import model_config_for
    from trainer.training.loop import Trainer

    dataset = load_dataset(DatasetSpec(n=600, image_size=28))
    trainer = Trainer(model_config_for(dataset, latent_dim=3, hidden=(64,)),
                      TrainConfig(epochs=100, batch_size=64, beta=2.0), dataset)
    for _ in trainer.run(max_steps=40):
        pass
    path = tmp_path_factory.mktemp("ckpt") / "trained.h5"
    save_checkpoint(path, trainer.checkpoint())
    return path


# --- save and open ------------------------------------------------------------------------------------------
def test_save_during_training_then_open_in_a_fresh_window_continues_the_curves(qtbot, dialogs, tmp_path):
    win = make_window(qtbot, beta=2.5, schedule="warmup", schedule_steps=300, free_bits=0.25, lr=2e-3)
    start(qtbot, win, steps=25)
    dialogs.save_path = str(tmp_path / "run")  # no suffix: .h5 is added
    started = time.perf_counter()
    win.files.save_as_action.trigger()
    assert time.perf_counter() - started < 0.5, "Save As must return at once; the copy and the write happen elsewhere"
    qtbot.waitUntil(lambda: any(r.job.reason == "save" for r in seen(win).io), timeout=WAIT_MS)
    result = next(r for r in seen(win).io if r.job.reason == "save")
    path = tmp_path / "run.h5"
    assert result.ok and result.job.path == str(path) and path.is_file()
    assert win.state is RunState.TRAINING, "saving must not stop training"
    assert win.files.saved_label.text() == f"Saved run.h5 at step {result.step:,}"
    assert win.run.current_path == str(path) and win.files.recent_files()[0] == str(path.resolve())
    assert [a.data() for a in win.files.recent_menu.actions() if a.data()] == [str(path.resolve())]

    saved = load_checkpoint(path)
    saved_step = int(saved.progress["step"])
    saved_rows = len(saved.history["steps/step"])
    assert saved_step == result.step and saved_rows >= 2
    qtbot.waitUntil(lambda: seen(win).report.step > saved_step + 10, timeout=WAIT_MS)  # training went on
    stop(qtbot, win)
    close(win)

    fresh = make_window(qtbot)  # the defaults: everything below must come from the file
    dialogs.open_path = str(path)
    fresh.files.open_action.trigger()
    wait_opened(qtbot, fresh, path)
    s = fresh.run_settings.value
    assert ((s.beta, s.schedule, s.schedule_steps, s.free_bits, s.lr, s.latent_dim)
            == (2.5, "warmup", 300, 0.25, 2e-3, 4))
    steps = fresh.curves.curve("distortion", smoothed=False)[0]
    assert len(steps) == saved_rows and steps[-1] == saved.history["steps/step"][-1]
    assert fresh.start_action.text() == "Continue" and not fresh.controls.latent_spin.isEnabled()

    continue_training(qtbot, fresh, saved_step, more=30)
    trainer = fresh.session.worker.trainer
    assert trainer.step >= saved_step + 30
    resumed = np.asarray(trainer.history.column("steps", "step"))
    assert len(resumed) > saved_rows and (resumed[:saved_rows] == saved.history["steps/step"]).all()
    assert resumed[saved_rows] > saved_step  # the first new report comes after the saved step
    qtbot.waitUntil(lambda: fresh.curves.curve("distortion", smoothed=False)[0][-1] > saved_step, timeout=WAIT_MS)
    drawn = fresh.curves.curve("distortion", smoothed=False)[0]
    assert (np.diff(drawn) > 0).all() and len(drawn) > saved_rows  # the curve continues where it stopped
    stop(qtbot, fresh)
    close(fresh)


def test_saving_is_atomic_and_the_window_keeps_going_during_a_slow_write(qtbot, window, dialogs, tmp_path, monkeypatch):
    import trainer.checkpoints.hdf5 as ckpt_mod

    path = tmp_path / "run.h5"
    start(qtbot, window, steps=15)
    first = wait_io(qtbot, window, window.files.save(str(path)))
    assert first.ok

    writing, release = threading.Event(), threading.Event()
    real_write = ckpt_mod._write

    def slow_write(f, ckpt, contents):  # a slow disk, in the middle of writing the temp file
        real_write(f, ckpt, contents)
        writing.set()
        release.wait(WAIT_MS / 1000)

    monkeypatch.setattr(ckpt_mod, "_write", slow_write)
    job_id = window.files.save()  # Ctrl+S: the current file
    qtbot.waitUntil(writing.is_set, timeout=WAIT_MS)
    # mid-write: the destination is still the first save, whole, and the window and training go on
    assert int(load_checkpoint(path).progress["step"]) == first.step
    ticks = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    step_then = seen(window).report.step
    # while the write is held: the GUI thread handles timer ticks and training takes steps (waited for as
    # conditions, however busy the machine: a clock-based 0.6 s once failed under a benchmark beside it)
    qtbot.waitUntil(lambda: len(ticks) >= 10 and seen(window).report.step > step_then, timeout=WAIT_MS)
    timer.stop()
    assert not release.is_set() and int(load_checkpoint(path).progress["step"]) == first.step  # still writing
    release.set()
    second = wait_io(qtbot, window, job_id)
    assert second.ok and second.step > first.step
    assert int(load_checkpoint(path).progress["step"]) == second.step
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5"], "no temp file left behind"
    stop(qtbot, window)


def test_save_while_paused_does_not_wait_for_resume(qtbot, window, tmp_path):
    start(qtbot, window, steps=15)
    window.pause_action.trigger()
    trainer = window.session.worker.trainer
    qtbot.waitUntil(lambda: trainer.paused, timeout=WAIT_MS)
    qtbot.wait(200)
    paused_at = trainer.step
    result = wait_io(qtbot, window, window.files.save(str(tmp_path / "paused.h5")))
    assert result.ok and result.step == paused_at and trainer.step == paused_at and window.state is RunState.PAUSED
    stop(qtbot, window)


def test_autosave_on_stop_and_every_n_minutes(qtbot, window, isolated_settings):
    window.files.autosave.set_interval_ms(400)  # minutes in real use
    start(qtbot, window, steps=10)
    qtbot.waitUntil(lambda: any(r.job.reason == "autosave" and r.ok for r in seen(window).io), timeout=WAIT_MS)
    assert window.state is RunState.TRAINING  # the periodic autosave happened while training
    stop(qtbot, window)
    stopped_at = window.session.worker.trainer.step
    qtbot.waitUntil(lambda: any(r.job.reason == "autosave" and r.step == stopped_at for r in seen(window).io),
                    timeout=WAIT_MS)
    result = next(r for r in seen(window).io if r.job.reason == "autosave" and r.step == stopped_at)
    path = Path(result.job.path)
    assert (path.parent == isolated_settings / "data" / "vae-explorer" / "autosave"
            and path.name.endswith(".autosave.h5"))
    assert int(load_checkpoint(path).progress["step"]) == stopped_at
    assert window.files.recent_files() == []  # autosaves are not the user's files
    count = len(seen(window).io)
    stop(qtbot, window)  # nothing new since: no second autosave
    qtbot.wait(300)
    assert len(seen(window).io) == count, [(r.job.reason, r.step, r.ok) for r in seen(window).io]


def test_autosave_on_stop_can_be_turned_off_in_preferences(qtbot, window, monkeypatch):
    from explorer.files.preferences import PreferencesDialog

    def choose(dialog):
        dialog.on_stop_check.setChecked(False)
        dialog.minutes_spin.setValue(7)
        return QDialog.Accepted

    monkeypatch.setattr(PreferencesDialog, "exec", choose)
    window.files.preferences_action.trigger()
    assert window.files.store.autosave_on_stop is False and window.files.store.autosave_minutes == 7
    assert window.files.autosave.interval_ms == 7 * 60_000
    start(qtbot, window, steps=10)
    stop(qtbot, window)
    qtbot.wait(300)
    assert not [r for r in seen(window).io if r.job.reason == "autosave"]


def test_closing_with_unsaved_steps_autosaves(qtbot, dialogs):
    win = make_window(qtbot)
    start(qtbot, win, steps=10)
    close(win)  # closing during training
    qtbot.waitUntil(lambda: bool(seen(win).io), timeout=WAIT_MS)  # written during close; reported after
    autosaves = [r for r in seen(win).io if r.job.reason == "autosave"]
    assert len(autosaves) == 1 and autosaves[0].ok
    assert int(load_checkpoint(autosaves[0].job.path).progress["step"]) == win.session.worker.trainer.step


def test_dropping_a_checkpoint_opens_it(qtbot, window, trained_checkpoint):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(trained_checkpoint))])
    enter = QDragEnterEvent(QPointF(200, 200), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(200, 200), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()
    wait_opened(qtbot, window, trained_checkpoint)
    assert window.controls.latent_spin.value() == 3 and window.controls.beta_spin.value() == 2.0
    assert window.files.recent_files() == [str(trained_checkpoint.resolve())]

    other = QMimeData()
    other.setUrls([QUrl.fromLocalFile("/tmp/notes.txt")])
    refused = QDragEnterEvent(QPointF(10, 10), Qt.CopyAction, other, Qt.LeftButton, Qt.NoModifier)
    refused.ignore()
    QApplication.sendEvent(window, refused)
    assert not refused.isAccepted()


def test_opening_from_recent_files_and_the_command_line_path(qtbot, window, dialogs, trained_checkpoint):
    window.files.store.add_recent(trained_checkpoint)
    window.files.recent_menu.aboutToShow.emit()  # what opening the menu does
    (action,) = [a for a in window.files.recent_menu.actions() if a.data()]
    action.trigger()
    wait_opened(qtbot, window, trained_checkpoint)
    window.open_checkpoint(str(trained_checkpoint.parent / "gone.h5"))  # what `vae-explorer gone.h5` runs
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=WAIT_MS)
    assert "gone.h5" in dialogs.errors[0][1] and "no such file" in dialogs.errors[0][1]


def test_unsaved_run_asks_before_it_is_replaced(qtbot, window, dialogs, trained_checkpoint, tmp_path):
    start(qtbot, window, steps=15)
    stop(qtbot, window)
    trainer = window.session.worker.trainer
    dialogs.answer = QMessageBox.Cancel
    window.open_checkpoint(str(trained_checkpoint))
    assert len(dialogs.questions) == 1 and "unsaved" in dialogs.questions[0][1]
    qtbot.wait(300)
    assert window.session.worker.trainer is trainer and window.run.current_path is None  # cancelled: untouched

    dialogs.answer = QMessageBox.Save  # save first, then open
    dialogs.save_path = str(tmp_path / "first.h5")
    window.open_checkpoint(str(trained_checkpoint))
    wait_opened(qtbot, window, trained_checkpoint)
    assert int(load_checkpoint(tmp_path / "first.h5").progress["step"]) == trainer.step


def test_a_bad_checkpoint_is_a_one_line_dialog_and_training_goes_on(qtbot, window, dialogs, tmp_path):
    start(qtbot, window, steps=10)
    trainer = window.session.worker.trainer
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    dialogs.open_path = str(bad)
    for _ in range(3):
        before = len(dialogs.errors)
        window.files.open_action.trigger()
        qtbot.waitUntil(lambda: len(dialogs.errors) > before, timeout=WAIT_MS)
        title, text = dialogs.errors[-1]
        assert title == "Cannot open checkpoint" and "\n" not in text and str(bad) in text
        step = trainer.step
        qtbot.waitUntil(lambda: trainer.step > step + 5, timeout=WAIT_MS)
        assert window.state is RunState.TRAINING and window.session.worker.trainer is trainer
    assert window.run.current_path is None
    stop(qtbot, window)


# --- open a dataset ----------------------------------------------------------------------------------------
def accept_dialog_with(monkeypatch, qtbot, path, kind):
    """DatasetDialog.exec: load `path` as a user would, wait for the preview, press OK."""
    from explorer.files.dataset_dialog import DatasetDialog

    def run(dialog):
        dialog.load_path(path, kind)
        qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=WAIT_MS)
        assert dialog.error_text() == "", dialog.error_text()
        dialog.ok_button.click()
        return dialog.result()

    monkeypatch.setattr(DatasetDialog, "exec", run)


def test_open_dataset_npz_then_train_on_it(qtbot, window, dialogs, tmp_path, monkeypatch):
    x = np.random.default_rng(0).integers(0, 256, (400, 28, 28), dtype=np.uint8)
    npz = tmp_path / "digits.npz"
    np.savez(npz, x=x, y=np.arange(400) % 4)
    accept_dialog_with(monkeypatch, qtbot, npz, "npz")
    window.files.open_dataset_action.trigger()
    qtbot.waitUntil(lambda: "digits.npz" in window.status.currentMessage() and "training images" in
                    window.status.currentMessage(), timeout=WAIT_MS)
    controls = window.controls
    assert controls.dataset_combo.currentData() == "path" and "digits.npz" in controls.dataset_combo.currentText()
    assert controls.settings_model.value.path == str(npz)
    start(qtbot, window, steps=10)
    trainer = window.session.worker.trainer
    assert trainer.dataset.spec.path == str(npz) and trainer.dataset.x_train.shape[1:] == (1, 28, 28)
    assert trainer.dataset.num_classes == 4
    stop(qtbot, window)


def test_open_dataset_image_folder_trains_from_the_loaded_images(qtbot, window, dialogs, tmp_path, monkeypatch):
    from qimage_files import gray, write_image

    folder = tmp_path / "faces"
    for i in range(60):
        write_image(folder / f"face{i:02d}.png", gray(28, 28))
    accept_dialog_with(monkeypatch, qtbot, folder, "images")
    window.files.open_dataset_action.trigger()
    qtbot.waitUntil(lambda: "training images" in window.status.currentMessage(), timeout=WAIT_MS)
    start(qtbot, window, steps=10)  # the engine cannot load a folder from its spec: the worker kept the Dataset
    assert window.session.worker.trainer.dataset.spec.path == str(folder)
    stop(qtbot, window)


# --- export ------------------------------------------------------------------------------------------------
def test_export_plots_grids_and_history(qtbot, window, dialogs, tmp_path, monkeypatch):
    from explorer.files.export_dialog import ExportDialog

    start(qtbot, window, steps=30)
    stop(qtbot, window)
    qtbot.wait(500)  # the latent panels' last snapshot lands
    out = tmp_path / "out"

    def run(dialog):
        dialog.folder_edit.setText(str(out))
        dialog.base_edit.setText("fig")
        dialog.all_button.click()
        dialog.export_button.click()
        return dialog.result()

    monkeypatch.setattr(ExportDialog, "exec", run)
    window.files.export_action.trigger()
    qtbot.waitUntil(lambda: (out / "fig-history.csv").is_file(), timeout=WAIT_MS)

    image = QImage(str(out / "fig-curves.png"))
    assert not image.isNull() and image.width() >= 1600
    root = ET.parse(out / "fig-curves.svg").getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 50
    # pyqtgraph's own exporter (its clean-ups: clipping, cosmetic pens), not the plain-Qt fallback
    assert "pyqtgraph SVG export" in (out / "fig-curves.svg").read_text()
    rows = (out / "fig-history.csv").read_text().splitlines()
    assert rows[0].startswith("step,epoch,beta,lr,recon,kl,elbo") and len(rows) >= 4
    assert (out / "fig-history.epochs.csv").is_file()
    # every other exportable panel: written and valid, or (an empty grid) reported by name, never silently lost
    written = sorted(p.name for p in out.iterdir())
    failed = dialogs.warnings[0][1] if dialogs.warnings else ""
    if hasattr(window, "explore"):
        for target in window.export_targets():
            name = target.filename("fig")
            assert name in written or name in failed, name
        assert any(n.startswith("fig-kl-per-dimension") for n in written)
    for name in written:
        if name.endswith(".png"):
            assert not QImage(str(out / name)).isNull(), name
        elif name.endswith(".svg"):
            ET.parse(out / name)


# --- habits --------------------------------------------------------------------------------------------------
def test_space_starts_and_pauses_but_not_while_typing_in_a_spinbox(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    slider = window.controls.beta_slider
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key_Space)
    qtbot.waitUntil(lambda: window.state is RunState.TRAINING, timeout=WAIT_MS)
    qtbot.keyClick(slider, Qt.Key_Space)
    qtbot.waitUntil(lambda: window.state is RunState.PAUSED, timeout=WAIT_MS)  # once the trainer has paused
    spin = window.controls.beta_spin
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key_Space)
    assert window.state is RunState.PAUSED, "Space typed into a number box must not resume training"
    window.curves.graphics.setFocus()
    qtbot.keyClick(window.curves.graphics, Qt.Key_Space)
    qtbot.waitUntil(lambda: window.state is RunState.TRAINING, timeout=WAIT_MS)
    log_y = window.curves.log_y
    was = log_y.isChecked()
    log_y.setFocus()
    qtbot.keyClick(log_y, Qt.Key_Space)  # a focused check box keeps its Space: it toggles, training goes on
    assert log_y.isChecked() != was and window.state is RunState.TRAINING
    stop(qtbot, window)


def test_shortcuts_are_the_documented_ones(window):
    f = window.files
    keys = {a.shortcut().toString() for a in (f.open_action, f.save_action, f.save_as_action, f.export_action,
                                               window.habits.start_pause_action)}
    assert keys == {"Ctrl+O", "Ctrl+S", "Ctrl+Shift+S", "Ctrl+E", "Space"}


def test_every_control_explains_itself(window):
    from PySide6.QtWidgets import (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit, QMenu,
                                   QScrollBar)

    kinds = (QAbstractButton, QAbstractSlider, QAbstractSpinBox, QComboBox, QLineEdit)
    missing = []
    for root in (window.controls, window.curves):
        for widget in (w for kind in kinds for w in root.findChildren(kind)):
            if isinstance(widget, QLineEdit) and isinstance(widget.parent(), (QAbstractSpinBox, QComboBox)):
                continue  # a spin box's or combo box's own editor: its owner carries the tip
            if isinstance(widget, QScrollBar):
                continue
            if not widget.toolTip().strip():
                missing.append(f"{type(widget).__name__} {getattr(widget, 'text', lambda: '')()}")
    menus = [window.files.file_menu] + [m for m in window.menuBar().findChildren(QMenu)
                                        if window.start_action in m.actions()]
    for action in [a for m in menus for a in m.actions()] + window.toolbar.actions():
        # Qt's default tooltip is the text itself: each of ours says more than its name
        if action.text() and not action.menu() and action.toolTip().strip() == action.text().replace("&", "").strip():
            missing.append(f"action {action.text()}")
    assert not missing, missing
    tips = " ".join(w.toolTip() for kind in kinds for w in window.controls.findChildren(kind)).lower()
    for term in ("rate", "distortion", "β", "free bits", "elbo", "posterior collapse", "kl"):
        assert term in tips, term


def test_window_remembers_layout_settings_and_folders(qtbot, dialogs, tmp_path, trained_checkpoint):
    win = make_window(qtbot, latent_dim=7, beta=0.5)
    dock = win.controls_dock
    dock.hide()
    win.files.store.set_last_folder("export", tmp_path)
    close(win)

    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    assert again.habits.restored_layout
    assert again.controls.latent_spin.value() == 7 and again.controls.beta_spin.value() == 0.5
    assert not again.controls_dock.isVisible()
    assert again.files.store.last_folder("export") == str(tmp_path)
    close(again)


# --- divergence ---------------------------------------------------------------------------------------------
def test_divergence_through_the_ui_keeps_good_weights_that_save(qtbot, window, dialogs, tmp_path):
    window.controls.lr_spin.setValue(1.0)  # absurd for Adam: the loss goes NaN within a few reports
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.banner.level == "warning", timeout=WAIT_MS)
    assert "diverged" in window.banner.text() and "restored the weights" in window.banner.text()
    qtbot.waitUntil(lambda: window.state is RunState.PAUSED, timeout=WAIT_MS)  # the engine's PauseChanged
    result = wait_io(qtbot, window, window.files.save(str(tmp_path / "after-nan.h5")))
    assert result.ok, result.message  # save_checkpoint refuses NaN weights: these are the restored ones
    ckpt = load_checkpoint(tmp_path / "after-nan.h5")
    assert len(ckpt.history["divergences/step"]) >= 1
    assert all(np.isfinite(v).all() for v in ckpt.model_state.values())
    stop(qtbot, window)


# --- lifetime ------------------------------------------------------------------------------------------------
def test_close_during_training_repeatedly_leaves_no_thread(qtbot, dialogs):
    for i in range(3):
        win = make_window(qtbot)
        start(qtbot, win, steps=5)
        if i == 1:
            win.files.save()  # a save in flight as the window closes
        close(win)


def test_open_during_training_repeatedly(qtbot, window, dialogs, trained_checkpoint):
    for _ in range(3):
        start(qtbot, window, steps=(seen(window).report.step if seen(window).report else 0) + 10)
        window.open_checkpoint(str(trained_checkpoint))  # unsaved: asked, answered Discard
        qtbot.waitUntil(lambda: window.state is RunState.STOPPED
                        and window.run.current_path == str(trained_checkpoint)
                        and window.session.worker.trainer is None, timeout=WAIT_MS)
        assert window.controls.latent_spin.value() == 3
        seen(window).report = None  # the opened checkpoint's run counts from its own step
    assert len(dialogs.questions) == 3


def test_no_start_slips_in_between_the_replaced_run_and_the_opened_checkpoint(qtbot, window, dialogs,
                                                                              trained_checkpoint, monkeypatch):
    """CI once clicked between the two: the old run had ended (Start enabled) and the opened checkpoint had not
    landed yet; a Start there is queued behind the open and trains the opened model with the old run's settings."""
    import dataclasses

    held = []
    monkeypatch.setattr(window.session, "adopt_checkpoint", held.append)  # the read checkpoint waits here
    start(qtbot, window, steps=10)
    window.open_checkpoint(str(trained_checkpoint))
    qtbot.waitUntil(lambda: bool(held) and not window.pause_action.isEnabled(), timeout=WAIT_MS)  # the run ended
    assert window.state is RunState.LOADING and not window.start_action.isEnabled()
    assert window.start_training() is False
    monkeypatch.undo()
    window.session.adopt_checkpoint(held.pop())
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=WAIT_MS)
    assert window.run.current_path == str(trained_checkpoint) and window.start_action.isEnabled()
    assert window.controls.latent_spin.value() == 3

    # a checkpoint the worker cannot adopt after all: one line, and the window is usable again (Continue)
    monkeypatch.setattr(window.session, "adopt_checkpoint", held.append)
    window.open_checkpoint(str(trained_checkpoint))
    qtbot.waitUntil(lambda: bool(held), timeout=WAIT_MS)
    assert window.state is RunState.LOADING and not window.start_action.isEnabled()
    monkeypatch.undo()
    window.session.adopt_checkpoint(dataclasses.replace(held.pop(), checkpoint=object()))
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=WAIT_MS)
    assert window.start_action.isEnabled() and window.start_action.text() == "Continue"
    assert str(trained_checkpoint) in window.banner.text() and "AttributeError" in window.banner.text()
    assert window.start_action.toolTip().startswith("Continue")  # what Continue will do, said again

    # two opens in quick succession: busy until the second lands, not just the first
    monkeypatch.setattr(window.session, "adopt_checkpoint", held.append)
    window.open_checkpoint(str(trained_checkpoint))
    qtbot.waitUntil(lambda: len(held) == 1, timeout=WAIT_MS)
    window.open_checkpoint(str(trained_checkpoint))
    qtbot.waitUntil(lambda: len(held) == 2, timeout=WAIT_MS)
    monkeypatch.undo()
    first, second = held
    window.files.saved_label.clear()  # "Opened trained.h5 at step 40" once the first has landed
    window.session.adopt_checkpoint(first)
    qtbot.waitUntil(lambda: window.files.saved_label.text().startswith("Opened"), timeout=WAIT_MS)
    assert window.state is RunState.LOADING and not window.start_action.isEnabled()
    assert not window.stop_action.isEnabled()  # nothing runs: only a file is awaited
    window.session.adopt_checkpoint(second)
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=WAIT_MS)


def test_switch_dataset_during_training_repeatedly(qtbot, window, dialogs, tmp_path, monkeypatch):
    for i in range(3):
        npz = tmp_path / f"set{i}.npz"
        np.savez(npz, x=np.random.default_rng(i).integers(0, 256, (200, 28, 28), dtype=np.uint8))
        start(qtbot, window, steps=(seen(window).report.step if seen(window).report else 0) + 5)
        accept_dialog_with(monkeypatch, qtbot, npz, "npz")
        window.files.open_dataset_action.trigger()
        qtbot.waitUntil(lambda: window.state is RunState.IDLE and f"set{i}.npz" in window.status.currentMessage(),
                        timeout=WAIT_MS)
        assert window.session.worker.trainer is None and window.run_settings.value.path == str(npz)
    start(qtbot, window, steps=5)
    assert window.session.worker.trainer.dataset.spec.path == str(tmp_path / "set2.npz")
    stop(qtbot, window)


# --- window fuzz ----------------------------------------------------------------------------------------------
def _fuzz_sample(n: int = 24):
    import random

    import test_checkpoint_fuzz as fz

    by_family: dict[str, list] = {}
    for m in fz.CORPUS:
        by_family.setdefault(m.family, []).append(m)
    rng = random.Random("window-fuzz")
    picked = [rng.choice(ms) for ms in by_family.values()]  # every family
    rest = [m for m in fz.CORPUS if m not in picked]
    return picked + rng.sample(rest, n - len(picked))


def test_window_opens_mutated_checkpoints_or_says_why_in_one_line(qtbot, window, dialogs, tmp_path):
    import test_checkpoint_fuzz as fz

    base, _ = fz._make_base(tmp_path)
    ctx = fz._context(base, tmp_path / "PICKLE-RAN-CODE")
    start(qtbot, window, steps=10)
    stop(qtbot, window)
    opened = refused = 0
    for i, mutation in enumerate(_fuzz_sample()):
        path = tmp_path / f"{i:02d}-{mutation.family}.h5"
        change = mutation.apply(path, ctx)
        worker = window.session.worker
        before = (worker.trainer, worker.opened_checkpoint, window.state, window.run.current_path,
                  len(window.curves.curve("distortion")[0]), worker.trainer.step if worker.trainer else None)
        errors = len(dialogs.errors)
        dialogs.open_path = str(path)
        window.files.open_action.trigger()
        qtbot.waitUntil(lambda: len(dialogs.errors) > errors or window.run.current_path == str(path)
                        or str(path) in window.banner.text(), timeout=WAIT_MS)
        where = f"{mutation.name} ({change})"
        if len(dialogs.errors) > errors:
            refused += 1
            title, text = dialogs.errors[-1]
            assert "\n" not in text and path.name in text, where
            after = (worker.trainer, worker.opened_checkpoint, window.state, window.run.current_path,
                     len(window.curves.curve("distortion")[0]), worker.trainer.step if worker.trainer else None)
            assert after == before, f"{where}: a refused file changed the session"
        else:
            assert window.run.current_path == str(path), f"{where}: {window.banner.text()}"
            opened += 1
        qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=WAIT_MS)
    assert not ctx.marker.exists(), "a pickle payload ran"
    print(f"window fuzz: {opened} opened, {refused} refused")
    assert refused >= 10 and opened + refused >= 20


def test_a_template_checkpoint_is_never_saved_over(qtbot, window, dialogs, trained_checkpoint, tmp_path):
    """The bundled demo opens with remember=False: not a recent file, and Save asks for a new name."""
    before = trained_checkpoint.read_bytes()
    window.files.open_checkpoint(str(trained_checkpoint), remember=False)
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED and window.files.saved_label.isVisible(), timeout=WAIT_MS)
    assert window.run.current_path is None and window.files.recent_files() == []
    continue_training(qtbot, window, 40, more=10)
    stop(qtbot, window)
    dialogs.save_path = str(tmp_path / "mine.h5")
    result = wait_io(qtbot, window, window.files.save())
    assert result.ok and result.job.path == str(tmp_path / "mine.h5")
    assert trained_checkpoint.read_bytes() == before
