"""β-TCVAE: the minibatch estimators of q(z) against sums over every posterior of a small set, the loss it builds,
and a β-TCVAE run that trains, checkpoints and runs in an ensemble like every other model."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch
from ensemble_check import alone_and_together

from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.errors import ConfigError
from trainer.model.objective import TcWeights, gaussian_log_density, minibatch_log_qz, negative_elbo, tc_decomposition
from trainer.model.vae import model_config_for
from trainer.training.ensemble import Ensemble
from trainer.training.loop import Trainer
from trainer.training.reports import EpochReport


def posteriors(n: int, d: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=g, dtype=torch.float64) * 1.5
    logvar = torch.randn(n, d, generator=g, dtype=torch.float64) * 0.3 - 0.5
    z = mu + torch.exp(0.5 * logvar) * torch.randn(n, d, generator=g, dtype=torch.float64)
    return z, mu, logvar


def brute_force(z, mu, logvar):
    """log q(z_i) and log q(z_ij), q = (1/N) Σ_n q(·|x_n) summed over all N posteriors, one point at a time."""
    n = len(mu)
    log_qz, log_qz_dims = [], []
    for zi in z:
        per = gaussian_log_density(zi[None, :], mu, logvar)  # (N, D)
        log_qz.append(torch.logsumexp(per.sum(1), 0) - math.log(n))
        log_qz_dims.append(torch.logsumexp(per, 0) - math.log(n))
    return torch.stack(log_qz), torch.stack(log_qz_dims)


def test_stratified_sampling_over_the_whole_set_is_the_exact_aggregate_posterior():
    z, mu, logvar = posteriors(40)
    exact, exact_dims = brute_force(z, mu, logvar)
    log_qz, log_qz_dims = minibatch_log_qz(z, mu, logvar, dataset_size=40, sampling="mss")
    torch.testing.assert_close(log_qz, exact)
    torch.testing.assert_close(log_qz_dims, exact_dims)


def test_minibatch_weighted_sampling_is_off_by_the_constant_log_n():
    # the batch is the whole set (M = N): MWS weighs each posterior 1/(N M) = 1/N², where q(z) weighs 1/N
    z, mu, logvar = posteriors(40, seed=1)
    exact, exact_dims = brute_force(z, mu, logvar)
    log_qz, log_qz_dims = minibatch_log_qz(z, mu, logvar, dataset_size=40, sampling="mws")
    torch.testing.assert_close(log_qz, exact - math.log(40))
    torch.testing.assert_close(log_qz_dims, exact_dims - math.log(40))


def test_stratified_sampling_is_unbiased_over_every_batch_that_holds_the_point():
    # N = 9, M = 4: average q̂(z_0) over all C(8, 3) batches that contain example 0 (it comes first, as the
    # batch's own posterior of z_0): the mean of the estimate is q(z_0) exactly
    n, m = 9, 4
    z, mu, logvar = posteriors(n, seed=2)
    exact, exact_dims = brute_force(z[:1], mu, logvar)
    estimates, dim_estimates = [], []
    for others in itertools.combinations(range(1, n), m - 1):
        batch = [0, *others]
        log_qz, log_qz_dims = minibatch_log_qz(z[batch], mu[batch], logvar[batch], dataset_size=n, sampling="mss")
        estimates.append(log_qz[0].exp())
        dim_estimates.append(log_qz_dims[0].exp())
    assert torch.stack(estimates).mean().log() == pytest.approx(exact[0].item(), abs=1e-10)
    torch.testing.assert_close(torch.stack(dim_estimates).mean(0).log(), exact_dims[0])


def test_the_parts_on_the_whole_set_add_up_to_log_q_z_given_x_minus_log_p_z():
    z, mu, logvar = posteriors(30, seed=3)
    mi, tc, dw = tc_decomposition(z, mu, logvar, dataset_size=30, sampling="mss")
    log_qzx = gaussian_log_density(z, mu, logvar).sum(1)
    log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z)).sum(1)
    assert (mi + tc + dw).item() == pytest.approx((log_qzx - log_pz).mean().item(), abs=1e-10)
    exact, exact_dims = brute_force(z, mu, logvar)
    assert mi.item() == pytest.approx((log_qzx - exact).mean().item(), abs=1e-10)
    assert tc.item() == pytest.approx((exact - exact_dims.sum(1)).mean().item(), abs=1e-10)
    with pytest.raises(ValueError, match="mws or mss"):
        minibatch_log_qz(z, mu, logvar, 30, sampling="exact")


@pytest.fixture(scope="module")
def data():
    return load_dataset(DatasetSpec(name="sprites", n=500, image_size=28, seed=4))


def test_the_loss_weighs_mutual_information_total_correlation_and_dimensionwise_kl(data):
    cfg = model_config_for(data, hidden=(32,), latent_dim=3)
    trainer = Trainer(cfg, TrainConfig(objective="tcvae", tc_alpha=0.5, tc_gamma=2.0, beta=6.0, device="cpu"), data)
    assert trainer.tc == TcWeights(0.5, 2.0, len(data.x_train), "mss")  # the unbiased estimator by default
    x = torch.from_numpy(data.x_train[:64]).float() / 255
    eps = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    model = trainer.model
    terms = negative_elbo(model, x, beta=6.0, eps=eps, tc=trainer.tc)
    mu, logvar, z, params = model(x, None, eps)
    mi, tc, dw = tc_decomposition(z, mu, logvar, len(data.x_train), "mss")
    expected = model.recon_nll(x, params) + 0.5 * mi + 6.0 * tc + 2.0 * dw
    assert terms.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    elbo = negative_elbo(model, x, beta=6.0, eps=eps)
    assert terms.kl.item() == pytest.approx(elbo.kl.item())  # the reported rate is the same closed-form KL
    assert terms.loss.item() != pytest.approx(elbo.loss.item())


def test_a_tcvae_run_trains_checkpoints_and_resumes_as_one(data, tmp_path):
    cfg = model_config_for(data, hidden=(32,), latent_dim=3)
    train = TrainConfig(epochs=2, batch_size=50, objective="tcvae", beta=4.0, tc_sampling="mss", device="cpu")
    whole = Trainer(cfg, train, data)
    reports = [r for r in whole.run() if isinstance(r, EpochReport)]
    assert len(reports) == 2 and all(np.isfinite(r.test_elbo) for r in reports)
    part = Trainer(cfg, train, data)
    list(part.run(max_steps=part.steps_per_epoch + 3))
    save_checkpoint(tmp_path / "tc.h5", part.checkpoint())
    ckpt = load_checkpoint(tmp_path / "tc.h5")
    assert ckpt.train_config.objective == "tcvae" and ckpt.train_config.tc_sampling == "mss"
    resumed = Trainer(cfg, ckpt.train_config, data, checkpoint=ckpt)
    list(resumed.run())
    for key in ("epochs/test_elbo", "epochs/test_kl", "batch_tc/total_correlation", "batch_tc/step"):
        np.testing.assert_allclose(resumed.history.arrays()[key], whole.history.arrays()[key], rtol=1e-5)
    # the batch's TC estimate is kept beside the held-out TC, report by report
    assert len(whole.history.arrays()["batch_tc/step"]) == len(whole.history.arrays()["steps/step"])


def test_a_tcvae_sweep_trains_as_an_ensemble_as_it_would_alone(data):
    cfg = model_config_for(data, hidden=(32,), latent_dim=3)
    base = TrainConfig(epochs=1, batch_size=50, report_every=4, objective="tcvae", device="cpu")
    configs = [dataclasses.replace(base, beta=b) for b in (1.0, 8.0)]
    alone, together = alone_and_together(cfg, configs, data)
    for a, b in zip(alone, together):
        for key in ("epochs/test_elbo", "batch_tc/total_correlation"):
            np.testing.assert_allclose(a.history.arrays()[key], b.history.arrays()[key], rtol=1e-4, atol=1e-4)
    mixed = [Trainer(cfg, configs[0], data), Trainer(cfg, dataclasses.replace(configs[0], objective="elbo"), data)]
    with pytest.raises(ConfigError, match="objective"):
        Ensemble(mixed)


def test_bad_tcvae_settings_are_one_clear_line():
    with pytest.raises(ConfigError, match="free_bits"):
        TrainConfig(objective="tcvae", free_bits=0.5).validate()
    with pytest.raises(ConfigError, match="tc_sampling"):
        TrainConfig(objective="tcvae", tc_sampling="exact").validate()
    with pytest.raises(ConfigError, match="objective"):
        TrainConfig(objective="factorvae").validate()
    with pytest.raises(ConfigError, match="tc_alpha"):
        TrainConfig(objective="tcvae", tc_alpha=-1.0).validate()


def test_the_controls_choose_the_objective_and_an_opened_run_keeps_its_weights(qtbot):
    from explorer.models.run_settings import RunSettings
    from explorer.panels.controls import ControlsPanel

    controls = ControlsPanel()
    qtbot.addWidget(controls)
    assert controls.settings_model.value.train.objective == "elbo" and controls.free_bits_spin.isEnabled()
    controls.free_bits_spin.setValue(0.5)
    controls.objective_combo.setCurrentIndex(controls.objective_combo.findData("tcvae"))
    settings = controls.settings_model.value
    assert settings.train.objective == "tcvae" and settings.free_bits == 0.0  # β-TCVAE has no free bits
    assert not controls.free_bits_spin.isEnabled()
    settings.train_config()  # a valid TrainConfig for Start
    opened = RunSettings.from_configs(settings.model, dataclasses.replace(settings.train, tc_alpha=0.5, tc_gamma=3.0,
                                                                          tc_sampling="mss"), settings.data)
    controls.settings_model.set(opened)
    shown = controls.settings_model.value
    assert (shown.objective, shown.tc_alpha, shown.tc_gamma, shown.tc_sampling) == ("tcvae", 0.5, 3.0, "mss")
    controls.set_lock(model=True, epochs=False)
    assert not controls.objective_combo.isEnabled()  # the objective defines the run, like the model


def test_the_window_trains_a_tcvae_then_opens_and_continues_it(qtbot, small_window, tmp_path):
    from explorer.models.run_state import RunState

    window = small_window(objective="tcvae", beta=4.0)
    window.start_training(max_steps=30)
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=60_000)
    trainer = window.session.worker.trainer
    assert trainer.config.objective == "tcvae" and trainer.tc is not None and trainer.step == 30
    path = tmp_path / "tc.h5"
    # (an autosave of the stopped run may finish first: wait for this save's own result)
    with qtbot.waitSignal(window.files.sig_io_done, timeout=60_000,
                          check_params_cb=lambda result: result.job.path == str(path) and result.ok):
        window.files.save(str(path))

    fresh = small_window(objective="elbo")  # (a new window would remember the last Start's β-TCVAE)
    assert fresh.run_settings.value.objective == "elbo"
    fresh.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: fresh.run.current_path == str(path) and fresh.state is RunState.STOPPED, timeout=60_000)
    assert fresh.run_settings.value.objective == "tcvae" and not fresh.controls.free_bits_spin.isEnabled()
    fresh.controls.epochs_spin.setValue(1000)  # a total far ahead: Continue trains on, 10 steps here
    fresh.start_training(max_steps=10)
    qtbot.waitUntil(lambda: fresh.state is RunState.STOPPED and fresh.session.worker.trainer is not None
                    and fresh.session.worker.trainer.step == 40, timeout=60_000)
    assert fresh.session.worker.trainer.tc == trainer.tc  # resumed as β-TCVAE, with the same weights and N
