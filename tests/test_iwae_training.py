"""IWAE training (Burda et al. 2016): its loss against the VAE's and against the estimator eval uses, its bound
against K, the settings it refuses, and a run that trains, checkpoints, resumes and sweeps like every other."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from ensemble_check import alone_and_together

from trainer.analysis.metrics import iwae_log_px
from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data import load_dataset
from trainer.errors import ConfigError
from trainer.model.hierarchy import build_model
from trainer.model.objective import iwae_terms, negative_elbo, objective_terms
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import EpochReport
from trainer.training.sweep import plan_runs


@pytest.fixture(scope="module")
def data():
    return load_dataset(DatasetSpec(name="sprites", n=400, image_size=28, seed=4))


def _batch(data, n=32):
    return torch.from_numpy(np.asarray(data.x_train[:n])).float() / 255


@pytest.mark.parametrize("layers", [1, 2])
def test_one_sample_is_the_vae_and_its_weight_is_the_elbo_in_expectation(data, layers):
    torch.manual_seed(0)
    model = build_model(ModelConfig(input_shape=(1, 28, 28), hidden=(32,), latent_dim=4, layers=layers))
    x = _batch(data)
    eps = torch.randn(32, 4, generator=torch.Generator().manual_seed(1))
    # K = 1 comes with 2-D noise and is the VAE's loss, closed-form KL and all
    vae = negative_elbo(model, x, eps=eps)
    one = objective_terms(model, x, eps=eps)
    assert one.loss.item() == vae.loss.item() and one.kl.item() == vae.kl.item()
    # the general formula at K = 1 is a single-sample Monte Carlo ELBO: the VAE's loss in expectation
    with torch.no_grad():
        draws = torch.stack([iwae_terms(model, x, None, torch.randn(1, 32, 4, generator=torch.Generator()
                                                                    .manual_seed(100 + i))).loss for i in range(400)])
        exact = torch.stack([negative_elbo(model, x, eps=torch.randn(32, 4, generator=torch.Generator()
                                                                     .manual_seed(100 + i))).loss for i in range(400)])
    se = math.hypot(draws.std().item(), exact.std().item()) / math.sqrt(400)
    assert abs(draws.mean().item() - exact.mean().item()) < 4 * se


def test_the_bound_rises_with_k_on_a_fixed_model_and_matches_the_evaluation_estimator(data):
    torch.manual_seed(0)
    model = build_model(ModelConfig(input_shape=(1, 28, 28), hidden=(32,), latent_dim=4))
    x = _batch(data, 16)
    bounds = {}
    with torch.no_grad():
        for k in (1, 5, 50):
            losses = [iwae_terms(model, x, None, torch.randn(k, 16, 4, generator=torch.Generator().manual_seed(s)))
                      .loss.item() for s in range(40)]
            bounds[k] = (-np.mean(losses), np.std(losses) / math.sqrt(len(losses)))
        # the same estimator eval's IWAE uses, on the same K
        evaluated = iwae_log_px(model, x, None, 50, generator=torch.Generator().manual_seed(7)).mean().item()
    (b1, s1), (b5, s5), (b50, s50) = bounds[1], bounds[5], bounds[50]
    assert b1 + 3 * math.hypot(s1, s5) < b5 and b5 + 3 * math.hypot(s5, s50) < b50
    one_draw = s50 * math.sqrt(40)  # the spread of a single estimate
    assert abs(evaluated - b50) < 5 * one_draw + 1e-3


def test_the_gradient_is_the_bound_s(data):
    # the loss differentiated is the importance-weighted bound itself, not the ELBO beside it
    torch.manual_seed(0)
    model = build_model(ModelConfig(input_shape=(1, 28, 28), hidden=(16,), latent_dim=3))
    x = _batch(data, 8)
    eps = torch.randn(5, 8, 3, generator=torch.Generator().manual_seed(3))
    terms = iwae_terms(model, x, None, eps)
    terms.loss.backward()
    grad = model.fc_mu.weight.grad.clone()
    model.zero_grad()
    mu, logvar, z, params = model(x, None, eps)
    log_px_z = model.log_likelihood(x.repeat(5, 1, 1, 1), params).view(5, 8)
    log_w = log_px_z - 0.5 * z.pow(2).sum(-1) + 0.5 * eps.pow(2).sum(-1) + 0.5 * logvar.sum(-1)
    (-(torch.logsumexp(log_w, 0) - math.log(5)).mean()).backward()
    torch.testing.assert_close(grad, model.fc_mu.weight.grad)
    assert terms.recon.item() == pytest.approx(-log_px_z.mean().item(), rel=1e-5)


@pytest.mark.parametrize("settings, problem", [
    (dict(beta=4.0), "no β"), (dict(beta_schedule="warmup:100"), "no β"), (dict(free_bits=0.5), "free bits"),
    (dict(layer_warmup=(0, 100)), "per-layer"),
])
def test_iwae_refuses_what_its_bound_does_not_have(settings, problem):
    with pytest.raises(ConfigError, match=problem):
        TrainConfig(objective="iwae", iwae_k=5, **settings).validate()


def test_k_belongs_to_iwae_and_stays_in_range():
    with pytest.raises(ConfigError, match="iwae_k 5 applies to objective iwae"):
        TrainConfig(objective="elbo", iwae_k=5).validate()
    with pytest.raises(ConfigError, match="iwae_k"):
        TrainConfig(objective="iwae", iwae_k=0).validate()


def test_a_running_iwae_refuses_a_live_beta(data):
    cfg = model_config_for(data, hidden=(16,), latent_dim=3)
    trainer = Trainer(cfg, TrainConfig(objective="iwae", iwae_k=3, device="cpu"), data)
    with pytest.raises(ConfigError, match="no β"):
        trainer.set_beta(2.0)
    with pytest.raises(ConfigError, match="free bits"):
        trainer.set_free_bits(0.5)
    trainer.set_beta(1.0)  # the value it has is no change


def test_an_iwae_run_trains_checkpoints_and_resumes_as_one(data, tmp_path):
    cfg = model_config_for(data, hidden=(32,), latent_dim=3, layers=1)
    train = TrainConfig(epochs=2, batch_size=50, objective="iwae", iwae_k=5, device="cpu")
    whole = Trainer(cfg, train, data)
    reports = [r for r in whole.run() if isinstance(r, EpochReport)]
    assert len(reports) == 2 and all(np.isfinite(r.test_elbo) for r in reports)
    # the epoch's loss is the negative bound, tighter than (below) its negative ELBO
    assert all(r.train_loss < -r.train_elbo for r in reports)
    part = Trainer(cfg, train, data)
    list(part.run(max_steps=part.steps_per_epoch + 3))
    save_checkpoint(tmp_path / "iwae.h5", part.checkpoint())
    ckpt = load_checkpoint(tmp_path / "iwae.h5")
    assert ckpt.train_config.objective == "iwae" and ckpt.train_config.iwae_k == 5
    resumed = Trainer(cfg, ckpt.train_config, data, checkpoint=ckpt)
    list(resumed.run())
    for key in ("epochs/test_elbo", "epochs/train_loss", "steps/loss"):
        np.testing.assert_allclose(resumed.history.arrays()[key], whole.history.arrays()[key], rtol=1e-5)


def test_a_hierarchy_trains_on_the_iwae_bound(data):
    cfg = model_config_for(data, hidden=(32,), latent_dim=4, layers=2)
    trainer = Trainer(cfg, TrainConfig(epochs=1, batch_size=50, objective="iwae", iwae_k=4, device="cpu"), data)
    reports = [r for r in trainer.run() if isinstance(r, EpochReport)]
    assert np.isfinite(reports[-1].train_loss) and reports[-1].train_loss < -reports[-1].train_elbo


def test_k_is_a_sweep_axis_of_the_iwae_runs_only(data):
    runs = plan_runs(TrainConfig(), objectives=["elbo", "iwae"], iwae_ks=[5, 50])
    assert [(r.config.objective, r.config.iwae_k) for r in runs] == [("elbo", 1), ("iwae", 5), ("iwae", 50)]
    assert [r.name for r in runs] == ["beta-1_seed-0_obj-elbo", "beta-1_seed-0_obj-iwae_k-5",
                                      "beta-1_seed-0_obj-iwae_k-50"]
    with pytest.raises(ConfigError, match="no run trains objective iwae"):
        plan_runs(TrainConfig(), iwae_ks=[5])


def test_an_iwae_ensemble_trains_as_its_runs_would_alone(data):
    cfg = model_config_for(data, hidden=(32,), latent_dim=3)
    base = TrainConfig(epochs=1, batch_size=50, report_every=4, objective="iwae", iwae_k=4, device="cpu")
    configs = [dataclasses.replace(base, seed=s) for s in (0, 1)]
    alone, together = alone_and_together(cfg, configs, data)
    for a, b in zip(alone, together):
        for key in ("epochs/test_elbo", "steps/loss"):
            np.testing.assert_allclose(a.history.arrays()[key], b.history.arrays()[key], rtol=1e-4, atol=1e-4)


# --- the window ---------------------------------------------------------------------------------------------
def test_the_controls_choose_iwae_and_its_k_and_hold_beta_at_one(qtbot):
    from explorer.panels.controls import ControlsPanel

    controls = ControlsPanel()
    qtbot.addWidget(controls)
    controls.show()
    assert controls.iwae_k_spin.isHidden() or not controls.iwae_k_spin.isVisible()  # K belongs to IWAE
    controls.beta_spin.setValue(4.0)
    controls.schedule_combo.setCurrentIndex(controls.schedule_combo.findData("warmup"))
    controls.objective_combo.setCurrentIndex(controls.objective_combo.findData("iwae"))
    controls.iwae_k_spin.setValue(50)
    settings = controls.settings_model.value
    assert (settings.objective, settings.iwae_k, settings.beta, settings.schedule) == ("iwae", 50, 1.0, "constant")
    assert controls.iwae_k_spin.isVisible()
    assert not controls.beta_spin.isEnabled() and not controls.beta_slider.isEnabled()
    assert not controls.free_bits_spin.isEnabled() and not controls.schedule_combo.isEnabled()
    settings.train_config().validate()  # what Start trains is a valid IWAE run
    controls.objective_combo.setCurrentIndex(controls.objective_combo.findData("elbo"))
    settings = controls.settings_model.value
    assert settings.iwae_k == 1 and controls.beta_spin.isEnabled() and controls.schedule_combo.isEnabled()
    settings.train_config().validate()


def test_the_window_draws_the_bound_it_trains_and_an_opened_iwae_run_shows_it_again(qtbot, small_window, tmp_path):
    from explorer.models.run_state import RunState

    window = small_window(objective="iwae", iwae_k=5)
    window.start_training(max_steps=30)
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=60_000)
    window.curves.refresh_now()
    assert window.curves.bound_k == 5 and "IWAE-5 bound" in window.curves.title("nelbo")
    steps, bound = window.curves.bound_curve()
    trainer = window.session.worker.trainer
    losses = trainer.history.arrays()["steps/loss"]
    assert len(bound) == len(losses) and np.all(np.isfinite(bound))
    # the drawn bound is the loss trained on, smoothed: it lies below −ELBO's curve, as a tighter bound does
    _, nelbo = window.curves.curve("nelbo")
    assert np.mean(bound[-3:]) < np.mean(nelbo[-3:])
    # the ELBO gap panel says what an IWAE model's gap is
    gap = window.explore.gap
    qtbot.waitUntil(lambda: gap.button.isEnabled(), timeout=60_000)
    gap.k_spin.setValue(5)
    gap.n_spin.setValue(20)
    with qtbot.waitSignal(gap.sig_estimated, timeout=60_000):
        gap.start()
    assert "trained on the IWAE-5 bound" in gap.note.text()
    path = tmp_path / "iwae.h5"
    with qtbot.waitSignal(window.files.sig_io_done, timeout=60_000,
                          check_params_cb=lambda result: result.job.path == str(path) and result.ok):
        window.files.save(str(path))

    fresh = small_window(objective="elbo")
    assert fresh.curves.bound_k is None
    fresh.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: fresh.run.current_path == str(path) and fresh.state is RunState.STOPPED, timeout=60_000)
    assert fresh.run_settings.value.iwae_k == 5 and fresh.curves.bound_k == 5
    assert len(fresh.curves.bound_curve()[1]) == len(losses)


def test_the_window_sweeps_k_for_iwae_settings(qtbot, small_window, tmp_path):
    from PySide6.QtWidgets import QDialogButtonBox

    from explorer.files.sweep_dialog import SweepDialog
    from explorer.runtime.sweep_job import SweepRequest

    window = small_window(objective="iwae", iwae_k=2, epochs=1)
    dialog = SweepDialog(window.run_settings.value, str(tmp_path / "k"))
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "IWAE K sweep" and dialog.betas() == [1.0]  # IWAE has no β to sweep
    dialog.beta_edit.setText("1, 3")
    assert dialog.iwae_ks() == [1, 3] and dialog.buttons.button(QDialogButtonBox.Ok).isEnabled()
    dialog.beta_edit.setText("1, 0")
    assert not dialog.buttons.button(QDialogButtonBox.Ok).isEnabled() and "K" in dialog.error.text()
    request = SweepRequest(window.run_settings.value, (1.0,), (0,), str(tmp_path / "k"), iwae_ks=(1, 3))
    with qtbot.waitSignal(window.compare.sig_sweep_finished, timeout=120_000) as finished:
        assert window.compare.start_sweep(request)
    rows = finished.args[0].rows
    assert [(r.objective, r.iwae_k, r.status) for r in rows] == [("iwae", 1, "done"), ("iwae", 3, "done")]
