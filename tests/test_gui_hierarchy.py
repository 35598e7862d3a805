"""A hierarchical VAE in the window: the KL strip judges each layer and names a collapsed one, the traversal
sweeps a chosen layer with the layers below at their conditional means, and the controls set the layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.analysis.snapshots import DecoderSnapshot
from trainer.config import ModelConfig
from trainer.model.hierarchy import build_model


def panels(qtbot, layers=2):
    from explorer.window.latent_panels import LatentPanels

    torch.manual_seed(0)
    model = build_model(ModelConfig(input_shape=(1, 28, 28), hidden=(32,), latent_dim=6, layers=layers))
    explore = LatentPanels()
    for _title, panel, _area in explore.docks():
        qtbot.addWidget(panel)
    explore.on_decoder(DecoderSnapshot.from_model(model, step=5))
    explore.flush()
    return explore


def test_the_kl_strip_names_a_collapsed_top_layer_while_the_whole_rate_is_healthy(qtbot):
    explore = panels(qtbot)
    with qtbot.waitSignal(explore.kl.sig_collapse_changed) as caught:
        explore.activity.set_kl(np.array([1.0, 2.0, 0.5, 0.001, 0.002, 0.0]), step=5)
    assert caught.args == [True] and explore.kl.collapsed
    assert not explore.activity.state.collapse.collapsed  # the whole code is fine: 3.5 nats
    assert explore.activity.state.collapsed_layers == [1]
    text = explore.kl.warning_text()
    assert "Layer collapse" in text and "z<sub>2</sub> (top)" in text
    # no encoding yet: the layer's collapse is judged by its rate, its units are not counted by another rule
    assert "z<sub>2</sub></b> 0.003 nats, —/3" in explore.kl.summary.text()
    with qtbot.waitSignal(explore.kl.sig_collapse_changed) as caught:
        explore.activity.set_kl(np.array([1.0, 2.0, 0.5, 0.4, 0.6, 0.2]), step=6)
    assert caught.args == [False] and explore.kl.warning_text() == ""


def test_the_traversal_sweeps_the_chosen_layer_with_the_layers_below_at_their_conditional_means(qtbot):
    explore = panels(qtbot)
    traversal = explore.traversal
    traversal.show()
    assert traversal.layer_combo.isVisibleTo(traversal) and explore.layers.chosen == 1  # opens on the top layer
    explore.cursor.move_to(np.arange(1, 7, dtype=np.float32))
    traversal.refresh_now()
    assert traversal.traversal_dims() == [3, 4, 5]
    np.testing.assert_array_equal(traversal.traversal_center(), [0, 0, 0, 4, 5, 6])
    assert traversal.traversal_view.title.count("conditional means") == 1
    traversal.layer_combo.setCurrentIndex(traversal.layer_combo.findData(0))
    traversal.refresh_now()
    assert explore.layers.chosen == 0 and traversal.traversal_dims() == [0, 1, 2]
    np.testing.assert_array_equal(traversal.traversal_center(), np.arange(1, 7))
    traversal.layer_combo.setCurrentIndex(traversal.layer_combo.findData(-1))
    traversal.refresh_now()
    assert explore.layers.chosen is None and len(traversal.traversal_dims()) == 6
    assert explore.layers.name(4) == "z2·1"


def test_a_one_layer_model_shows_no_layer_chooser(qtbot):
    explore = panels(qtbot, layers=1)
    explore.traversal.show()
    assert not explore.traversal.layer_combo.isVisibleTo(explore.traversal)
    assert explore.layers.name(3) == "z3" and explore.layers.chosen is None
    explore.activity.set_kl(np.array([1.0, 2.0, 0.5, 0.001, 0.002, 0.0]), step=5)
    assert explore.activity.state.layers == () and not explore.kl.collapsed


def test_the_controls_set_the_layers_and_their_warm_up(qtbot):
    from explorer.panels.controls import ControlsPanel

    controls = ControlsPanel()
    qtbot.addWidget(controls)
    assert not controls.layer_warmup_edit.isEnabled()
    controls.layers_spin.setValue(2)
    controls.layer_warmup_edit.setText("0, 500")
    settings = controls.settings_model.value
    assert settings.model_kwargs()["layers"] == 2 and settings.train_config().layer_warmup == (0, 500)
    assert controls.layer_warmup_edit.isEnabled()
    controls.settings_model.set(settings.replace(layers=3, layer_warmup=(0, 10, 20)))
    assert controls.layers_spin.value() == 3 and controls.layer_warmup_edit.text() == "0, 10, 20"


def test_the_sliders_name_each_row_for_its_layer(qtbot):
    explore = panels(qtbot)
    assert [explore.sliders.row_name(d).text() for d in range(6)] == ["z1·0", "z1·1", "z1·2", "z2·0", "z2·1", "z2·2"]


def test_the_scatter_projects_the_chosen_layer_only(qtbot):
    from trainer.analysis.snapshots import LatentSnapshot

    explore = panels(qtbot)
    rng = np.random.default_rng(0)
    mu = rng.standard_normal((200, 6)).astype(np.float32) * np.array([1, 1, 1, 3, 2, 1], np.float32)
    latents = LatentSnapshot(step=5, mu=mu, logvar=np.zeros_like(mu), x=np.zeros((200, 1, 28, 28), np.uint8),
                             indices=np.arange(200))
    explore.scatter.set_snapshot(latents)
    explore.layers.choose(0)  # the bottom layer: moving the top layer's dimensions moves no point
    z = np.ones(6, np.float32)
    moved = z.copy()
    moved[3:] = -5
    assert explore.scatter.project(z) == pytest.approx(explore.scatter.project(moved))
    explore.layers.choose(1)
    assert explore.scatter.project(z) != pytest.approx(explore.scatter.project(moved))


def test_the_information_panel_draws_each_layers_rate_and_information(qtbot):
    from types import SimpleNamespace

    from explorer.panels.information import InformationPanel

    panel = InformationPanel()
    qtbot.addWidget(panel)
    layers = [{"rate": 3.0, "mutual_information": 2.0, "marginal_kl": 1.0},
              {"rate": 7.0, "mutual_information": 4.0, "marginal_kl": 3.0}]
    split = {"mutual_information": 6.0, "marginal_kl": 4.0, "total_correlation": None, "dimwise_kl": None,
             "log_n": 6.9, "n": 1000, "layers": layers}
    panel.add_epoch(SimpleNamespace(step=100, test_kl=10.0, rate_split=split))
    series = panel.series()
    assert series["z2_mutual_information"][1].tolist() == [4.0] and series["z1_rate"][1].tolist() == [3.0]
    assert len(series["total_correlation"][0]) == 0  # no fake number for a hierarchy's TC
    assert "z<sub>2</sub> rate <b>7.00</b>, I <b>4.00</b>" in panel.readout.text()
    panel.set_history({"rate_split/step": np.array([5, 9]), "rate_split/mutual_information": np.array([1.0, 2.0]),
                       "rate_split/marginal_kl": np.array([1.0, 1.0]),
                       "rate_split/total_correlation": np.array([np.nan, np.nan]),
                       "rate_split/dimwise_kl": np.array([np.nan, np.nan]), "rate_split/log_n": np.array([6.9, 6.9]),
                       "rate_split_layers/step": np.array([5, 5, 9, 9]),
                       "rate_split_layers/layer": np.array([0, 1, 0, 1]),
                       "rate_split_layers/rate": np.array([1.0, 1.5, 1.2, 1.8]),
                       "rate_split_layers/mutual_information": np.array([0.5, 0.5, 0.7, 1.3])})
    assert panel.series()["z2_mutual_information"][1].tolist() == [0.5, 1.3]
    assert "z1_rate" in panel.series() and panel.series()["z1_rate"][0].tolist() == [5, 9]


def test_the_window_trains_a_hierarchy_shows_its_layers_and_reopens_it(qtbot, small_window, tmp_path):
    from explorer.models.run_state import RunState

    window = small_window(latent_dim=4, layers=2, layer_warmup=(0, 20))
    window.start_training(max_steps=40)  # two epochs of 17 steps: two held-out splits
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=120_000)
    trainer = window.session.worker.trainer
    assert trainer.model_config.layers == 2 and trainer.config.layer_warmup == (0, 20)
    qtbot.waitUntil(lambda: len(window.explore.information.series().get("z2_rate", ([], []))[0]) == 2,
                    timeout=30_000)
    window.explore.flush()
    assert window.explore.layers.dims == (2, 2)
    assert "z<sub>2</sub></b>" in window.explore.kl.summary.text()
    path = tmp_path / "h.h5"
    # (an autosave of the stopped run may finish first: wait for this save's own result)
    with qtbot.waitSignal(window.files.sig_io_done, timeout=60_000,
                          check_params_cb=lambda result: result.job.path == str(path) and result.ok):
        window.files.save(str(path))
    fresh = small_window()
    fresh.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: fresh.run.current_path == str(path) and fresh.state is RunState.STOPPED, timeout=60_000)
    shown = fresh.run_settings.value
    assert shown.layers == 2 and shown.layer_warmup == (0, 20) and not fresh.controls.layers_spin.isEnabled()
    qtbot.waitUntil(lambda: len(fresh.explore.information.series().get("z1_rate", ([], []))[0]) == 2,
                    timeout=30_000)


def test_the_sliders_show_the_chosen_layer_and_every_chooser_agrees(qtbot):
    explore = panels(qtbot)
    sliders, traversal = explore.sliders, explore.traversal
    sliders.show()
    assert explore.layers.chosen == 1  # the top layer first
    assert [sliders.slider(d).isVisibleTo(sliders) for d in range(6)] == [False] * 3 + [True] * 3
    sliders.layer_combo.setCurrentIndex(sliders.layer_combo.findData(0))
    assert explore.layers.chosen == 0 and traversal.layer_combo.currentData() == 0
    assert [sliders.slider(d).isVisibleTo(sliders) for d in range(6)] == [True] * 3 + [False] * 3
    traversal.layer_combo.setCurrentIndex(traversal.layer_combo.findData(-1))
    assert sliders.layer_combo.currentData() == -1 and all(sliders.slider(d).isVisibleTo(sliders) for d in range(6))
