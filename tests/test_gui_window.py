"""The real main window, driven offscreen with pytest-qt on small sprites (1,200 images of 28x28).

Every test waits for the training thread to finish before it ends (the fixture closes the window and checks),
and Qt warnings fail the test (pyproject: qt_log_level_fail = WARNING).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from explorer.models.run_state import RunState
from explorer.panels.controls import beta_to_tick
from explorer.runtime.threads import BACKGROUND_NICE
from window_log import seen

# The offscreen platform plugin itself warns about QMainWindow size hints; it says nothing about our code.

WAIT_MS = 30_000  # generous for a loaded CI machine; the happy path takes a second or two


@pytest.fixture
def window(small_window):
    return small_window()


def click(qtbot, window, action):
    qtbot.mouseClick(window.toolbar.widgetForAction(action), Qt.LeftButton)


def start(qtbot, window, points: int = 2):
    click(qtbot, window, window.start_action)
    qtbot.waitUntil(lambda: len(window.curves.curve("distortion")[0]) >= points, timeout=WAIT_MS)


def stop(qtbot, window):
    # waitUntil, not waitSignal on a worker signal: pytest-qt's blocker would run in the worker thread
    click(qtbot, window, window.stop_action)
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=WAIT_MS)


def test_training_fills_the_curves_and_locks_model_settings(qtbot, window, monkeypatch):
    start(qtbot, window, points=3)
    assert window.state is RunState.TRAINING
    assert not window.controls.latent_spin.isEnabled()  # a new latent size would need a new model
    assert window.controls.beta_spin.isEnabled() and window.controls.lr_spin.isEnabled()  # live settings stay
    steps, distortion = window.curves.curve("distortion")
    assert steps[-1] > steps[0] and (distortion > 0).all()
    _, rate = window.curves.curve("rate")
    _, nelbo = window.curves.curve("nelbo", smoothed=False)
    _, raw_d = window.curves.curve("distortion", smoothed=False)
    _, raw_r = window.curves.curve("rate", smoothed=False)
    assert nelbo == pytest.approx(raw_d + raw_r)  # −ELBO = distortion + rate, nats per example
    # an epoch is 17 steps here, so held-out points follow quickly
    qtbot.waitUntil(lambda: len(window.curves.heldout("nelbo")[0]) >= 1, timeout=WAIT_MS)
    assert window.status.step_label.text().startswith("step ")
    assert ("samples/s" in window.status.speed_label.text()
            and window.status.device_label.text().startswith("device cpu"))
    stop(qtbot, window)
    assert not window.controls.latent_spin.isEnabled()  # the model still exists: Continue goes on with it
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[2]) or QMessageBox.Discard)
    click(qtbot, window, window.reset_action)
    assert len(asked) == 1 and "unsaved steps" in asked[0]  # the trained steps were never saved: it asks
    assert window.state is RunState.IDLE and window.controls.latent_spin.isEnabled()
    assert len(window.curves.curve("distortion")[0]) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_training_threads_yield_the_cores_to_the_gui_thread(qtbot, window):
    start(qtbot, window)
    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    def name(task: Path) -> str:  # "" for a thread that ended meanwhile (a background job's)
        try:
            return (task / "comm").read_text()
        except FileNotFoundError:
            return ""

    # the worker thread and the threads it started (torch's OpenMP pool) carry its name
    training = [int(t.name) for t in Path("/proc/self/task").iterdir() if name(t).startswith("vae-explorer tr")]
    assert training and all(os.getpriority(os.PRIO_PROCESS, tid) == min(19, gui + BACKGROUND_NICE) for tid in training)
    stop(qtbot, window)


def test_beta_change_applies_at_a_later_step_and_is_marked(qtbot, window):
    start(qtbot, window)
    before = seen(window).report.step
    assert seen(window).report.beta_target == 1.0
    window.controls.beta_spin.setValue(4.0)  # what typing 4 + Enter does; the slider follows
    assert window.controls.beta_slider.value() == beta_to_tick(4.0)
    qtbot.waitUntil(lambda: len(window.curves.beta_changes()) > 0, timeout=WAIT_MS)
    (change_step, value), = window.curves.beta_changes()
    # recorded as the steps done when it applied: it acts from step change_step + 1, after any report seen
    assert value == 4.0 and change_step >= before
    qtbot.waitUntil(lambda: seen(window).report.beta_target == 4.0 and seen(window).report.step > change_step,
                    timeout=WAIT_MS)
    steps, beta = window.curves.curve("beta")
    assert beta[steps <= change_step].max() == 1.0 and beta[-1] == 4.0  # the β curve steps up where it applied
    for key in ("distortion", "rate", "nelbo", "beta"):
        assert window.curves.marker_steps(key) == [change_step]
    stop(qtbot, window)


def test_beta_slider_and_spinbox_stay_in_sync(qtbot, window):
    sent = []
    window.controls.sig_beta_changed.connect(sent.append)
    window.controls.beta_slider.setValue(beta_to_tick(10.0))
    assert window.controls.beta_spin.value() == pytest.approx(10.0)
    window.controls.beta_slider.setValue(beta_to_tick(0.01))
    assert window.controls.beta_spin.value() == pytest.approx(0.01)
    qtbot.waitUntil(lambda: sent == [pytest.approx(0.01)])  # a drag sends one value once it settles


def test_pause_resume_and_stop(qtbot, window):
    start(qtbot, window)
    click(qtbot, window, window.pause_action)
    qtbot.waitUntil(lambda: window.state is RunState.PAUSED, timeout=WAIT_MS)  # once the trainer has paused
    assert window.pause_action.text() == "Resume"
    trainer = window.session.worker.trainer
    qtbot.wait(300)  # the step in flight finishes
    paused_at = trainer.step
    qtbot.wait(500)
    assert trainer.step == paused_at and trainer.paused
    click(qtbot, window, window.pause_action)
    qtbot.waitUntil(lambda: window.state is RunState.TRAINING, timeout=WAIT_MS)  # the trainer went on
    qtbot.waitUntil(lambda: trainer.step > paused_at + 10, timeout=WAIT_MS)
    stop(qtbot, window)
    stopped_at = trainer.step
    qtbot.wait(300)
    assert trainer.step == stopped_at
    assert window.start_action.isEnabled() and window.start_action.text() == "Continue"
    start(qtbot, window, points=len(window.curves.curve("distortion")[0]) + 2)  # Continue resumes the same model
    assert window.session.worker.trainer is trainer and trainer.step > stopped_at
    stop(qtbot, window)


@pytest.mark.parametrize("paused", [False, True], ids=["training", "paused"])
def test_close_during_training_joins_the_thread(qtbot, window, paused):
    start(qtbot, window)
    if paused:
        click(qtbot, window, window.pause_action)
    assert window.session.running
    window.close()
    assert not window.session.running
    assert window.session.worker.trainer.step > 0  # stopped between steps, the model intact


def test_bad_mnist_folder_is_a_message_not_a_crash(qtbot, window, tmp_path):
    controls = window.controls
    controls.dataset_combo.setCurrentIndex(controls.dataset_combo.findData("mnist"))
    controls.folder_edit.setText(str(tmp_path / "no-such-folder"))
    click(qtbot, window, window.start_action)
    qtbot.waitUntil(lambda: window.state is RunState.IDLE, timeout=WAIT_MS)
    assert "no IDX files" in window.banner.text() and "no-such-folder" in window.banner.text()
    assert window.banner.level == "error"
    assert window.state is RunState.IDLE and controls.dataset_combo.isEnabled()
    # the window is still fully usable: fix the choice and train
    controls.dataset_combo.setCurrentIndex(controls.dataset_combo.findData("sprites"))
    start(qtbot, window)
    assert window.banner.text() == ""
    stop(qtbot, window)


def test_divergence_pauses_with_a_message_and_keeps_the_model(qtbot, window):
    window.controls.lr_spin.setValue(1.0)  # Adam at lr 1 sends this model's loss to NaN within ~10 steps
    click(qtbot, window, window.start_action)
    qtbot.waitUntil(lambda: window.banner.level == "warning", timeout=WAIT_MS)
    assert "diverged" in window.banner.text() and "restored the weights" in window.banner.text()
    qtbot.waitUntil(lambda: window.state is RunState.PAUSED, timeout=WAIT_MS)  # the engine's PauseChanged
    trainer = window.session.worker.trainer
    assert trainer is not None and trainer.paused
    window.controls.lr_spin.setValue(1e-3)  # the advice in the message, applied live
    restored = trainer.step
    click(qtbot, window, window.pause_action)  # Resume
    qtbot.waitUntil(lambda: trainer.step > restored + 20, timeout=WAIT_MS)
    assert window.state is RunState.TRAINING and window.banner.text() == ""
    stop(qtbot, window)


def test_opening_a_checkpoint_shows_its_curves_and_continue_resumes_it(qtbot, window, tmp_path, monkeypatch):
    from trainer.checkpoints.hdf5 import save_checkpoint
    from trainer.config import DatasetSpec, TrainConfig
    from trainer.data import load_dataset
    from trainer.model.vae import model_config_for
    from trainer.training.loop import Trainer

    spec = DatasetSpec(n=1200, image_size=28)
    trainer = Trainer(model_config_for(load_dataset(spec), latent_dim=3),
                      TrainConfig(epochs=50, batch_size=64, beta=2.0), load_dataset(spec))
    for _ in trainer.run(max_steps=40):
        pass
    path = tmp_path / "run.h5"
    save_checkpoint(path, trainer.checkpoint())

    window.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: len(window.curves.curve("distortion")[0]) > 0, timeout=WAIT_MS)
    assert window.state is RunState.STOPPED and window.start_action.text() == "Continue"
    assert window.curves.curve("distortion", smoothed=False)[0][-1] == 40
    assert window.controls.latent_spin.value() == 3 and window.controls.beta_spin.value() == 2.0
    assert not window.controls.latent_spin.isEnabled()  # the opened model fixes them
    click(qtbot, window, window.start_action)
    qtbot.waitUntil(lambda: seen(window).report is not None and seen(window).report.step > 50, timeout=WAIT_MS)
    steps = window.curves.curve("distortion", smoothed=False)[0]
    assert (np.diff(steps) > 0).all()  # the curve continues where the checkpoint stopped
    stop(qtbot, window)
    # opened again and not trained since, Reset loses nothing that is not on disk: it does not ask
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.Discard)  # the steps trained above
    window.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: window.curves.curve("distortion", smoothed=False)[0][-1:].tolist() == [40], timeout=WAIT_MS)
    monkeypatch.setattr(QMessageBox, "question", lambda *args: pytest.fail(f"asked: {args[2]}"))
    click(qtbot, window, window.reset_action)
    assert window.state is RunState.IDLE


def test_a_million_steps_stay_a_bounded_decimated_curve(qtbot):
    from explorer.panels.curves import CurvesPanel
    from explorer.plotting.curve_buffer import BUFFER_CAPACITY

    panel = CurvesPanel()
    qtbot.addWidget(panel)
    reports = 100_000  # a report averages 10 steps: 10^6 steps
    steps = np.arange(1, reports + 1) * 10
    distortion = 100.0 + 50.0 * np.exp(-steps / 2e5)
    for chunk in range(0, reports, 30):  # the worker's batches, ~30 reports each at most
        sl = slice(chunk, chunk + 30)
        panel.add_steps(steps[sl], distortion[sl], np.full(len(steps[sl]), 5.0), -(distortion[sl] + 5.0),
                        np.ones(len(steps[sl])))
    panel.refresh_now()
    x, y = panel.curve("distortion", smoothed=False)
    assert len(x) <= BUFFER_CAPACITY + 1 and x[-1] == 1_000_000 and (np.diff(x) > 0).all()
    assert np.interp(x, steps, distortion) == pytest.approx(y, rel=2e-3)  # averaged in bins, not distorted
    assert panel.curve("rate")[1] == pytest.approx(5.0)


def test_a_lone_spike_in_a_long_history_is_drawn_at_its_height(qtbot):
    """Bins merge as the history grows, but the faint curve draws each bin's min and max: a one-report loss
    spike, the kind that comes before a divergence, is not averaged away among thousands of quiet reports."""
    from explorer.panels.curves import CurvesPanel
    from explorer.plotting.curve_buffer import BUFFER_CAPACITY

    panel = CurvesPanel()
    qtbot.addWidget(panel)
    reports = 50_000
    steps = np.arange(1, reports + 1) * 10.0
    distortion = np.full(reports, 100.0)
    distortion[31_337] = 5_000.0
    for chunk in range(0, reports, 1000):
        sl = slice(chunk, chunk + 1000)
        n = len(steps[sl])
        panel.add_steps(steps[sl], distortion[sl], np.full(n, 5.0), -(distortion[sl] + 5.0), np.ones(n))
    panel.refresh_now()
    x, y = panel.plotted("distortion")
    assert len(panel.curve("distortion")[0]) < reports // 10  # decimated
    assert len(x) <= 2 * BUFFER_CAPACITY + 2 and (np.diff(x) >= 0).all()
    assert y.max() == 5_000.0 and y.min() == 100.0
    assert panel.plotted("nelbo")[1].max() == 5_005.0
    lo, hi = panel.plots["distortion"].vb.viewRange()[1]
    if panel.log_y.isChecked():  # the view works in log10 units then
        lo, hi = 10**lo, 10**hi
    assert lo <= 100.0 and hi >= 5_000.0  # and the view shows it


def test_plot_grids_are_opaque_and_drawn_behind_the_data(qtbot, monkeypatch):
    """Qt's raster engine draws a translucent line ~40x slower than an opaque one, and pyqtgraph fades its grid
    with alpha: the axes mix that fade with the background instead, and sit behind the data they no longer
    let show through."""
    import pyqtgraph as pg

    from explorer.panels.curves import CurvesPanel
    from explorer.panels.kl import KlPanel

    alphas = []
    draw_picture = pg.AxisItem.drawPicture

    def recording(self, p, axis_spec, tick_specs, text_specs):
        alphas.extend(pen.color().alpha() for pen, _, _ in tick_specs)
        return draw_picture(self, p, axis_spec, tick_specs, text_specs)

    monkeypatch.setattr(pg.AxisItem, "drawPicture", recording)
    curves, kl = CurvesPanel(), KlPanel()
    for panel in (curves, kl):
        qtbot.addWidget(panel)
        panel.resize(600, 400)
    steps = np.arange(1, 201) * 10.0
    curves.add_steps(steps, 100 + 0 * steps, 5 + 0 * steps, -105 + 0 * steps, np.ones(200))
    curves.refresh_now()
    kl.set_kl(np.array([2.0, 0.5, 0.0, 1.0]))
    for panel in (curves, kl):
        panel.grab()  # renders every plot, grid included
    assert len(alphas) > 20 and set(alphas) == {255}
    for plot in (*curves.plots.values(), kl.plot.getPlotItem()):
        assert plot.getAxis("left").zValue() < plot.vb.zValue() and plot.getAxis("bottom").zValue() < plot.vb.zValue()


def test_log_axis_labels_thin_out_when_the_plot_is_short(qtbot):
    """Docked panels squeeze the curve plots to ~50 px: their log-y labels (500, 600, ... 2000) piled up."""
    import math

    import pyqtgraph as pg

    from explorer.plotting.axes import PlainLogAxis

    values = np.log10([500, 600, 700, 800, 900, 1000, 2000])
    shown = {}
    for height in (100, 300):
        plot = pg.PlotWidget(axisItems={"left": PlainLogAxis("left")})
        qtbot.addWidget(plot)
        plot.resize(300, height)
        plot.setLogMode(y=True)
        plot.setYRange(math.log10(500), math.log10(2500), padding=0)
        plot.show()
        qtbot.waitExposed(plot)
        shown[height] = [s for s in plot.getAxis("left").logTickStrings(values, 1.0, 0.1) if s]
    assert shown[300] == ["500", "600", "700", "800", "900", "1000", "2000"]  # room for every label
    assert shown[100] == ["500", "1000", "2000"]  # only 1-2-5 times a power of ten fit


def test_axes_make_room_for_longer_tick_labels_but_never_give_it_back(qtbot):
    """An axis that changes width re-lays out its plot and repaints it whole; pyqtgraph narrowed the axis
    whenever its labels got shorter, so early in training, as ranges settle, plots relaid out back and forth."""
    import pyqtgraph as pg

    from explorer.plotting.axes import steady_axes

    view = pg.PlotWidget()
    qtbot.addWidget(view)
    steady_axes(view.getPlotItem())
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    left = view.getPlotItem().getAxis("left")

    def drawn_width(y_range):
        view.setYRange(*y_range, padding=0)
        for _ in range(2):  # paint (the labels ask for room), then lay out
            view.grab()
            qtbot.wait(10)
        return left.width()

    narrow = drawn_width((0, 1))
    wide = drawn_width((-120_000, 120_000))
    assert wide > narrow  # longer labels get their room
    assert drawn_width((0, 1)) == wide  # and keep it


def test_axes_draw_two_tick_levels_not_three(qtbot):
    """pyqtgraph's third level (short ticks and faint grid lines between the minor ones) was a third of the cost
    of regenerating an axis, which every range change of a plot does on the GUI thread."""
    from explorer.plotting.axes import SteadyAxis

    axis = SteadyAxis("bottom")
    levels = axis.tickValues(0.0, 1000.0, 600)
    assert len(levels) == 2 and all(len(values) for _, values in levels)
