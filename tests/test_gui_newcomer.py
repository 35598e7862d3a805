"""The window as a newcomer meets it (issue 35): each case the tour found, driven offscreen with pytest-qt."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QScreen, QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea

from window_log import close, new_window


def wheel(widget, notches: int = -1) -> None:
    """A mouse wheel turned over the middle of `widget` (negative: towards the user, scrolling down)."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


# --- case 2: the mouse wheel changes settings ----------------------------------------------------------------
def test_the_wheel_over_an_unfocused_box_scrolls_the_panel_and_changes_nothing(qtbot):
    win = new_window(qtbot)
    win.resize(1000, 500)  # the Controls need scrolling
    win.show()
    qtbot.waitExposed(win)
    controls = win.controls
    for box in (controls.lr_spin, controls.beta_spin, controls.arch_combo, controls.beta_slider,
                controls.epochs_spin):
        assert box.focusPolicy() == Qt.StrongFocus  # the wheel passing over never focuses it
    lr, beta, arch = controls.lr_spin.value(), controls.beta_spin.value(), controls.arch_combo.currentText()
    tick = controls.beta_slider.value()
    area = controls.findChild(QScrollArea)
    bar = area.verticalScrollBar()
    assert bar.maximum() > 0, "the test needs a Controls panel taller than its dock"
    before = bar.value()
    for box in (controls.lr_spin, controls.beta_spin, controls.arch_combo, controls.beta_slider):
        assert not box.hasFocus()
        wheel(box)
    assert (controls.lr_spin.value(), controls.beta_spin.value(), controls.arch_combo.currentText(),
            controls.beta_slider.value()) == (lr, beta, arch, tick)
    assert bar.value() > before  # the panel scrolled instead

    # a box the user clicked into (it has the focus) takes the wheel, as everywhere in Qt
    win.activateWindow()
    controls.epochs_spin.setFocus(Qt.MouseFocusReason)
    qtbot.waitUntil(controls.epochs_spin.hasFocus)
    epochs = controls.epochs_spin.value()
    wheel(controls.epochs_spin, notches=1)
    assert controls.epochs_spin.value() == epochs + 1
    close(win)


# --- case 1: the layout breaks -------------------------------------------------------------------------------
LAPTOP = QRect(0, 0, 1280, 800)
FRAME = (16, 40)
"""What a window manager's borders and title bar may add (explorer.window.main_window.FRAME_ALLOWANCE)."""


@pytest.fixture
def laptop_screen(monkeypatch):
    """Every screen reports a 1280x800 laptop's available area (the offscreen one is 800x800)."""
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(LAPTOP))


def controls_labels_whole(win) -> list[str]:
    """The Controls' row labels that are cut: narrower than their text, or scrolled out of the panel's view."""
    from PySide6.QtWidgets import QFormLayout, QLabel

    area = win.controls.findChild(QScrollArea)
    cut = []
    for form in win.controls.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.LabelRole)
            label = item.widget() if item is not None else None
            if not isinstance(label, QLabel) or not label.text() or label.isHidden():
                continue  # a hidden row (the IWAE K of another objective) shows no label to clip
            left = label.mapTo(area.viewport(), QPoint(0, 0)).x()
            if label.width() < label.sizeHint().width() or left < 0 or left + label.width() > area.viewport().width():
                cut.append(label.text())
    return cut


def test_a_full_tour_leaves_the_window_on_a_1280_by_800_screen_with_whole_labels(qtbot, laptop_screen):
    """A hierarchy on MNIST-sized images, its encodings, a point clicked, runs compared and an experiment's text:
    the frame stays within the screen, and no Controls label is clipped."""
    import torch

    from explorer.models.run_catalog import RunRecord
    from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout
    from trainer.config import DatasetSpec, TrainConfig
    from trainer.data import load_dataset
    from trainer.model.vae import model_config_for
    from trainer.training.loop import Trainer

    win = new_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    assert win.frameGeometry().width() <= LAPTOP.width() and win.frameGeometry().height() <= LAPTOP.height()

    torch.manual_seed(0)
    data = load_dataset(DatasetSpec(name="sprites", n=300, image_size=28))
    trainer = Trainer(model_config_for(data, latent_dim=20, hidden=(64,), layers=2), TrainConfig(device="cpu"), data)
    win.run_settings.set(win.run_settings.value.replace(dataset="mnist", layers=2, latent_dim=20,
                                                              layer_warmup=(0, 2000)))
    win.explore.on_decoder(DecoderSnapshot.from_model(trainer.model, step=0))
    win.explore.on_latents(encode_heldout(trainer.model, data, "cpu", step=0))
    win.explore.flush()
    win.explore.scatter.select(3)
    for i in range(12):  # a sweep folder's runs, long names and all
        win.compare.catalog.put(RunRecord(key=f"/tmp/runs/beta-{i}_seed-0_fb-0.5_sched-warmup-2000.h5",
                                          name=f"beta-{i}_seed-0_fb-0.5_sched-warmup-2000", beta=float(i),
                                          status="done", rate=float(i), distortion=100.0 - i, elbo=-100.0 - i))
    win.compare.redraw_now()
    win.status.showMessage("Exploring beta-11_seed-0_fb-0.5_sched-warmup-2000 (β 11); click the live run to come "
                           "back. " * 3)
    for title in win.docks:  # every panel brought to the front once, as a newcomer clicks through the tabs
        win.show_dock(title)
        QApplication.processEvents()
    win.controls.layer_warmup_edit.setFocus()  # focus once scrolled the Controls sideways ("ataset")
    QApplication.processEvents()

    hint = win.minimumSizeHint()
    assert hint.width() <= LAPTOP.width() - FRAME[0] and hint.height() <= LAPTOP.height() - FRAME[1]
    frame = win.frameGeometry()
    assert frame.width() <= LAPTOP.width() and frame.height() <= LAPTOP.height()
    assert controls_labels_whole(win) == []
    close(win)


def test_a_remembered_frame_larger_than_the_screen_is_brought_back_onto_it(qtbot, laptop_screen):
    from PySide6.QtCore import QSettings

    win = new_window(qtbot)
    win.show()
    win.resize(1900, 1150)  # a session on a larger screen, or one whose layout grew
    win.move(200, 100)
    win.habits.save()
    close(win)
    QSettings().sync()
    again = new_window(qtbot)
    again.show()
    qtbot.waitExposed(again)
    frame = again.frameGeometry()
    assert frame.width() <= LAPTOP.width() and frame.height() <= LAPTOP.height()
    assert LAPTOP.contains(again.geometry())
    close(again)


# --- cases 3 and 8: the live run's name, and what Reset leaves behind ----------------------------------------
def started(step: int = 0):
    from explorer.runtime.messages import RunStarted

    return RunStarted(device="cpu", dataset="MNIST", steps_per_epoch=10, epochs=3, step=step, epoch=0)


def test_the_live_runs_name_follows_the_run_through_reset_start_and_save(qtbot):
    from explorer.models.run_catalog import LIVE, RunRecord

    win = new_window(qtbot)
    catalog = win.compare.catalog
    catalog.put(RunRecord(key=LIVE, name="demo_sprites", status="opened"))  # the demo, opened at launch
    win.clear_run()  # Reset
    assert catalog.get(LIVE) is None
    win.run_settings.set(win.run_settings.value.replace(dataset="mnist"))
    win.session.worker.sig_started.emit(started())
    assert catalog.get(LIVE).name == "live · mnist"
    win.run.saved("/tmp/somewhere/my-mnist.h5", 120)
    assert catalog.get(LIVE).name == "my-mnist"
    close(win)


def test_reset_leaves_no_text_of_the_run_before(qtbot):
    import torch

    from trainer.analysis.snapshots import DecoderSnapshot
    from trainer.config import ModelConfig
    from trainer.model.hierarchy import build_model

    win = new_window(qtbot)
    torch.manual_seed(0)
    model = build_model(ModelConfig(input_shape=(1, 28, 28), hidden=(32,), latent_dim=4))
    win.explore.on_decoder(DecoderSnapshot.from_model(model, step=28_200))
    win.explore.flush()
    win.explore.traversal.refresh_now()
    assert "28,200" in win.explore.traversal.traversal_view.title
    assert "28,200" in badge(win).full_text()
    win.status.showMessage("Opened demo_sprites.h5: a sprites VAE trained for 28,200 steps.")
    win.clear_run()
    assert "28,200" not in win.explore.traversal.traversal_view.title
    assert "28,200" not in badge(win).full_text() and badge(win).isHidden()
    assert win.status.currentMessage() == ""
    close(win)


def badge(win):
    from explorer.window.status_bar import ExploredBadge

    return win.status.findChild(ExploredBadge)


# --- case 4: a false collapse warning ------------------------------------------------------------------------
def step_batch(step: int, epoch: int, kl_per_dim, beta: float, target: float, warming_up: bool):
    import numpy as np

    from explorer.runtime.messages import CurveBatch
    from trainer.training.reports import StepReport

    kl = np.asarray(kl_per_dim, dtype=np.float32)
    report = StepReport(step=step, epoch=epoch, epoch_progress=0.1, beta=beta, beta_target=target, lr=1e-3,
                        free_bits=0.0, recon=200.0, kl=float(kl.sum()), elbo=-200.0 - float(kl.sum()), loss=200.0,
                        kl_per_dim=kl, samples_per_s=1000.0, elapsed_s=1.0, warming_up=warming_up)
    one = np.array([float(step)])
    return CurveBatch(step=one, recon=np.array([200.0]), kl=np.array([float(kl.sum())]), elbo=np.array([-200.0]),
                      beta=np.array([beta]), beta_changes=(), latest=report)


def test_no_collapse_warning_in_a_new_runs_first_epoch_or_while_beta_warms_up(qtbot):
    win = new_window(qtbot)
    tab_changes = []
    win.explore.kl.sig_collapse_changed.connect(tab_changes.append)
    near_prior = [0.001] * 10  # a fresh encoder: q(z|x) ≈ p(z)
    # step 10 of a warm-up to β = 1 (the user's case: β 0.0045)
    kl = win.explore.kl
    win.session.worker.sig_progress.emit(step_batch(10, 0, near_prior, 0.0045, 1.0, warming_up=True))
    qtbot.waitUntil(lambda: "step 10" in kl.summary.text())  # the live KL is drawn a few times a second
    assert not kl.collapsed and kl.warning_text() == "" and "warming up" in kl.summary.text()
    # no warm-up, but still the first epoch
    win.session.worker.sig_progress.emit(step_batch(40, 0, near_prior, 1.0, 1.0, warming_up=False))
    qtbot.waitUntil(lambda: "step 40" in kl.summary.text())
    assert not kl.collapsed and "first epoch" in kl.summary.text()
    # a later epoch, the warm-up long done, the rate still ~0: that is a collapse, and it is said
    win.session.worker.sig_progress.emit(step_batch(900, 3, near_prior, 1.0, 1.0, warming_up=False))
    qtbot.waitUntil(lambda: "step 900" in kl.summary.text())
    assert kl.collapsed and "Posterior collapse" in kl.warning_text()
    assert tab_changes == [True]  # the KL tab came forward once, for the real one
    close(win)


def test_the_engine_says_when_the_kls_weight_is_warming_up():
    from trainer.config import DatasetSpec, TrainConfig
    from trainer.data import load_dataset
    from trainer.model.vae import model_config_for
    from trainer.training.loop import Trainer
    from trainer.training.reports import StepReport

    data = load_dataset(DatasetSpec(name="sprites", n=400, image_size=28))
    cfg = model_config_for(data, latent_dim=2, hidden=(16,))

    def warming(**train) -> list[tuple[int, bool]]:
        trainer = Trainer(cfg, TrainConfig(device="cpu", batch_size=60, epochs=2, report_every=2, **train), data)
        return [(r.step, r.warming_up) for r in trainer.run() if isinstance(r, StepReport)]

    ramp = warming(beta_schedule="warmup:6")
    assert [w for s, w in ramp] == [s < 6 for s, _ in ramp] and any(w for _, w in ramp)
    assert not any(w for _, w in warming())


# --- case 5: the Information panel shows the wrong run -------------------------------------------------------
SPLIT_KEYS = ("mutual_information", "marginal_kl", "total_correlation", "dimwise_kl")


def live_epoch(step: int, rate: float, info: float):
    from types import SimpleNamespace

    split = {"mutual_information": info, "marginal_kl": rate - info, "total_correlation": 0.5,
             "dimwise_kl": rate - info - 0.5, "log_n": 6.9, "n": 1000}
    return SimpleNamespace(epoch=step // 100, step=step, test_recon=90.0, test_kl=rate, test_elbo=-90.0 - rate,
                           rate_split=split)


def test_the_information_panel_names_and_follows_the_explored_run(qtbot):
    import numpy as np
    import torch

    from explorer.models.run_catalog import LIVE, RunRecord
    from trainer.analysis.snapshots import DecoderSnapshot
    from trainer.config import ModelConfig
    from trainer.model.hierarchy import build_model

    win = new_window(qtbot)
    torch.manual_seed(0)
    model = build_model(ModelConfig(input_shape=(1, 28, 28), hidden=(32,), latent_dim=4))

    def show_model(step: int) -> None:  # what the worker or the run-loading thread sends of the explored model
        win.explore.on_decoder(DecoderSnapshot.from_model(model, step=step))
        win.explore.flush()
        win.explore.traversal.refresh_now()

    info = win.explore.information
    catalog = win.compare.catalog
    win.run_settings.set(win.run_settings.value.replace(dataset="mnist"))
    win.session.worker.sig_started.emit(started())
    win.session.worker.sig_epoch.emit(live_epoch(100, rate=20.0, info=5.0))
    assert "live · mnist" in info.run_label.text()
    assert info.series()["mutual_information"][1].tolist() == [5.0]
    show_model(100)
    assert "live · mnist · step 100" in win.explore.traversal.traversal_view.title
    assert badge(win).full_text() == "Showing live · mnist · step 100"

    other = "/tmp/runs/beta-4_seed-0.h5"
    history = {"rate_split/step": np.array([50, 100]), "epochs/step": np.array([50, 100]),
               "epochs/test_kl": np.array([9.0, 8.0]), "rate_split/log_n": np.array([6.9, 6.9]),
               "rate_split/n": np.array([1000, 1000]),
               **{f"rate_split/{k}": np.array([1.0, 2.0]) * (i + 1) for i, k in enumerate(SPLIT_KEYS)}}
    catalog.put(RunRecord(key=other, name="beta-4_seed-0", beta=4.0, status="done", history=history))
    catalog.select(other)
    assert "beta-4_seed-0" in info.run_label.text()
    assert badge(win).full_text() == "Showing beta-4_seed-0"  # its model is still being read
    show_model(900)
    for text in (info.run_label.text(), win.explore.traversal.traversal_view.title, badge(win).full_text()):
        assert "beta-4_seed-0" in text and "live" not in text
    assert "beta-4_seed-0 · step 900" in badge(win).full_text()
    assert info.series()["mutual_information"][1].tolist() == [1.0, 2.0]
    assert info.series()["rate"][1].tolist() == [9.0, 8.0]
    # the live run trains on meanwhile: its epoch is kept, not drawn over the explored run
    win.session.worker.sig_epoch.emit(live_epoch(200, rate=21.0, info=6.0))
    assert info.series()["mutual_information"][1].tolist() == [1.0, 2.0]
    catalog.select(LIVE)
    assert "live · mnist" in info.run_label.text()
    assert info.series()["mutual_information"][1].tolist() == [5.0, 6.0]
    show_model(200)
    assert badge(win).full_text() == "Showing live · mnist · step 200"
    # saved under a file name: every view calls the live run by it
    catalog.update(LIVE, name="my-run")
    assert "my-run" in info.run_label.text() and badge(win).full_text() == "Showing my-run · step 200"
    win.explore.traversal.refresh_now()
    assert "my-run · step 200" in win.explore.traversal.traversal_view.title
    # a long name is cut in the status bar, never widening the window (case 1)
    catalog.update(LIVE, name="a-run-with-a-very-long-name-" * 8)
    assert badge(win).minimumSizeHint().width() <= 80 and badge(win).toolTip().startswith("Showing a-run-with")
    close(win)


# --- case 7: the hover card sticks ---------------------------------------------------------------------------
def test_the_hover_card_leaves_with_the_mouse_and_a_late_move_does_not_bring_it_back(qtbot):
    import torch
    from PySide6.QtCore import QEvent

    from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout
    from trainer.config import DatasetSpec, TrainConfig
    from trainer.data import load_dataset
    from trainer.model.vae import model_config_for
    from trainer.training.loop import Trainer

    win = new_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    torch.manual_seed(0)
    data = load_dataset(DatasetSpec(name="sprites", n=300, image_size=28))
    trainer = Trainer(model_config_for(data, latent_dim=3, hidden=(16,)), TrainConfig(device="cpu"), data)
    win.explore.on_decoder(DecoderSnapshot.from_model(trainer.model, step=0))
    win.explore.on_latents(encode_heldout(trainer.model, data, "cpu", step=0))
    win.explore.flush()
    win.show_dock("Latent space")
    scatter = win.explore.scatter
    at = scatter.viewport_pos(0)
    scene_pos = scatter.plot.mapToScene(at.toPoint())
    scatter.plot.scene().sigMouseMoved.emit(scene_pos)  # the mouse over point 0
    scatter._on_mouse_moved((scene_pos,))  # what the rate-limited proxy delivers
    assert scatter.hover.isVisible()  # the card of the point there (0, or one drawn on top of it)
    QApplication.sendEvent(scatter.plot.viewport(), QEvent(QEvent.Leave))
    assert not scatter.hover.isVisible()
    scatter._on_mouse_moved((scene_pos,))  # the proxy's last move, delivered after the mouse left
    assert not scatter.hover.isVisible()
    close(win)


# --- cases 10 and 11: a fast first minute, and Reset after the demo -----------------------------------------
def test_reset_after_the_demo_sets_up_a_run_this_cpu_trains_in_seconds(qtbot):
    from explorer.models.run_settings import new_run_settings
    from explorer.models.run_state import RunState
    from explorer.window.first_paint import demo_checkpoint

    win = new_window(qtbot)
    win.show()
    assert win.run_settings.value == new_run_settings(accelerated=False)  # before anything is opened
    assert win.run_settings.value.sprites_size == 28 and win.run_settings.value.arch == "mlp"
    assert "28 px" in win.controls.machine_note.text()
    win.files.open_checkpoint(str(demo_checkpoint()), remember=False)  # as the window opens the demo
    qtbot.waitUntil(lambda: win.state is RunState.STOPPED, timeout=60_000)
    demo = win.run_settings.value
    assert (demo.arch, demo.sprites_size) == ("conv", 64)  # the demo stays what it is
    win.clear_run()  # Reset
    assert win.run_settings.value == new_run_settings(accelerated=False)
    close(win)


def test_reset_after_the_demo_gives_back_the_users_own_last_settings(qtbot):
    from explorer.files.settings_store import SettingsStore
    from explorer.models.run_settings import new_run_settings
    from explorer.models.run_state import RunState
    from explorer.window.first_paint import demo_checkpoint

    own = new_run_settings(False).replace(dataset="mnist", latent_dim=6, epochs=3)
    SettingsStore().save_run_settings(own)
    win = new_window(qtbot)
    win.show()
    win.files.open_checkpoint(str(demo_checkpoint()), remember=False)
    qtbot.waitUntil(lambda: win.state is RunState.STOPPED, timeout=60_000)
    win.habits.save()  # quitting with the demo open must not make its settings the user's
    win.clear_run()
    assert win.run_settings.value == own
    close(win)


# --- case 11: an experiment's sprite runs beside a live MNIST run --------------------------------------------
def test_the_runs_panel_says_when_runs_of_different_data_are_drawn_together(qtbot):
    from explorer.models.run_catalog import LIVE, RunRecord

    win = new_window(qtbot)
    catalog, panel = win.compare.catalog, win.compare.panel
    win.run_settings.set(win.run_settings.value.replace(dataset="mnist"))
    win.session.worker.sig_started.emit(started())
    assert catalog.get(LIVE).data == "mnist"
    catalog.put(RunRecord(key="/tmp/exp/beta-1.h5", name="beta-1_seed-0", beta=1.0, status="done",
                          data="sprites 28 px ×1,500"))
    assert "2 datasets" in panel.summary.text() and "do not compare" in panel.summary.text()
    shown = {panel.table.item(r, 1).text(): panel.table.item(r, 9).text() for r in range(panel.table.rowCount())}
    assert shown == {"live · mnist": "mnist", "beta-1_seed-0": "sprites 28 px ×1,500"}
    catalog.remove("/tmp/exp/beta-1.h5")
    catalog.put(RunRecord(key="/tmp/exp/beta-2.h5", name="beta-2_seed-0", beta=2.0, status="done", data="mnist"))
    assert "datasets" not in panel.summary.text()
    close(win)


# --- β has one owner -----------------------------------------------------------------------------------------
def test_live_beta_previews_a_request_until_a_report_shows_it_applied():
    from explorer.models.live_beta import LiveBeta

    beta = LiveBeta()
    states, sent = [], []
    beta.sig_changed.connect(states.append)
    beta.sig_requested.connect(sent.append)
    beta.on_report(0.5, 1.0)  # a warm-up half way to β = 1
    assert beta.state.shown == 0.5 and not beta.state.previewing
    beta.preview(8.0)  # dragging: shown as the β it will give, sent to nobody
    assert beta.state.shown == pytest.approx(4.0) and beta.state.previewing and sent == []
    beta.request(8.0)
    assert sent == [8.0]
    beta.on_report(0.6, 1.0)  # a report from before the trainer took it on: still a preview, the new factor
    assert beta.state.previewing and beta.state.shown == pytest.approx(8.0 * 0.6)
    beta.on_report(4.8, 8.0)  # applied
    assert not beta.state.previewing and beta.state.shown == 4.8
    count = len(states)
    beta.on_report(4.8, 8.0)  # every progress batch repeats it: no signal
    assert len(states) == count


def test_the_plane_draws_the_beta_the_window_owns(qtbot):
    win = new_window(qtbot)
    sent = []
    win.explore.beta.sig_requested.connect(sent.append)
    win.controls.beta_spin.setValue(4.0)  # typed into the box: settles at once
    qtbot.waitUntil(lambda: sent == [pytest.approx(4.0)])
    assert win.explore.rd.previewing and win.explore.rd.beta == pytest.approx(4.0)  # no report yet: a preview
    close(win)


# --- the run settings: one owner, the Controls its view ------------------------------------------------------
def test_the_controls_are_a_view_of_the_run_settings_model(qtbot):
    from explorer.models.run_settings import new_run_settings
    from explorer.models.run_settings_model import RunSettingsModel
    from explorer.panels.controls import ControlsPanel
    from trainer.errors import ConfigError

    settings = RunSettingsModel(new_run_settings(False))
    controls = ControlsPanel(settings)
    qtbot.addWidget(controls)
    changes = []
    settings.sig_changed.connect(changes.append)

    # an edit in the form sets the model; the fields the form does not show stay as the model holds them
    settings.update(hidden=(123,), split_seed=7)
    controls.latent_spin.setValue(17)
    assert settings.value.latent_dim == 17 and changes[-1] is settings.value
    assert settings.value.hidden == (123,) and settings.value.split_seed == 7
    # set from code (an opened checkpoint): the form shows it
    settings.set(settings.value.replace(latent_dim=5, lr=0.002, layers=2))
    assert controls.latent_spin.value() == 5 and controls.lr_spin.value() == pytest.approx(0.002)
    # an entry that is no setting: the value stays, and what Start reads refuses it in one line
    controls.layer_warmup_edit.setText("abc")
    assert settings.value.layer_warmup == ()
    with pytest.raises(ConfigError, match="layer_warmup"):
        settings.checked()
    controls.layer_warmup_edit.setText("0, 500")
    assert settings.checked().layer_warmup == (0, 500)

    # Continue raises the run's epoch total: Epochs shows it until Reset restores the user's value
    controls.epochs_spin.setValue(3)
    settings.show_run_epochs(6)
    assert controls.epochs_spin.value() == 6 and settings.value.epochs == 6
    settings.restore_epochs()
    assert controls.epochs_spin.value() == 3 and settings.value.epochs == 3
    settings.show_run_epochs(6)
    controls.epochs_spin.setValue(9)  # the user chose a total: that one stays
    settings.restore_epochs()
    assert settings.value.epochs == 9


def test_the_sweep_state_is_one_answer_for_start_the_menu_and_the_experiment(qtbot):
    from explorer.models.sweep_state import SweepState
    from trainer.experiments import EXPERIMENTS

    win = new_window(qtbot)
    sweeps = win.sweeps
    assert win.compare.sweeps is sweeps and win.compare.sweep.state is sweeps
    sweeps.sweep_started()  # what the sweep job says as its sweep starts
    assert not win.start_training()  # one training at a time
    assert "sweep is training" in win.banner.text().lower()
    assert not win.compare.sweep_action.isEnabled() and win.compare.stop_sweep_action.isEnabled()
    sweeps.sweep_ended()
    assert win.compare.sweep_action.isEnabled() and not win.compare.stop_sweep_action.isEnabled()
    close(win)

    gap = next(e for e in EXPERIMENTS if e.key == "gap")  # three stages
    state = SweepState()
    state.experiment_started(gap, "/tmp/gap")
    assert state.experiment.stage == 0 and state.experiment.stages == 3
    assert state.stage_finished(["a"]) and state.stage_finished(["b"])
    assert not state.stage_finished(["c"]) and state.experiment.rows == (("a",), ("b",), ("c",))
    state.experiment_ended()
    assert state.experiment is None


def test_every_dock_tab_shows_once(qtbot, laptop_screen):
    """Tabbing the docks into groups left QMainWindow a tab bar of each group as it was half-formed (Decoder |
    Selection), drawn over the latent scatter; only each group's own bar may show."""
    from PySide6.QtWidgets import QTabBar

    win = new_window(qtbot)
    win.show()
    qtbot.waitExposed(win)

    def shown_tabs() -> list[str]:
        return [bar.tabText(i) for bar in win.findChildren(QTabBar) if bar.parent() is win and bar.isVisible()
                for i in range(bar.count())]

    QApplication.processEvents()  # the first layout pass, as a user first sees the window
    tabs = shown_tabs()
    assert len(tabs) == len(set(tabs)) > 0, tabs
    for title in win.docks:  # a newcomer clicking through the tabs does not bring them back
        win.show_dock(title)
    QApplication.processEvents()
    tabs = shown_tabs()
    assert len(tabs) == len(set(tabs)) and {"Decoder", "Selection", "Information", "Samples"} <= set(tabs)
    close(win)
