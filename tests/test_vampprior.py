"""The VampPrior (Tomczak & Welling 2018): its density against a brute-force mixture, its Monte Carlo KL against a
closed form, and a VampPrior model that trains, samples, evaluates, checkpoints and resumes like every other."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trainer.analysis.metrics import evaluate, iwae_log_px
from trainer.analysis.rate_split import rate_split
from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout, prior_samples
from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data import load_dataset
from trainer.errors import ConfigError
from trainer.model.objective import gaussian_kl, negative_elbo
from trainer.model.priors import STANDARD, MixturePrior, diagonal_log_density, prior_of
from trainer.model.vae import VAE, model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import EpochReport


@pytest.fixture(scope="module")
def data():
    return load_dataset(DatasetSpec(name="sprites", n=400, image_size=28, seed=4))


def _vamp(k=7, d=4, hidden=(32,)):
    torch.manual_seed(0)
    return VAE(ModelConfig(input_shape=(1, 28, 28), hidden=hidden, latent_dim=d, prior="vamp", pseudo_inputs=k))


def test_a_narrow_components_density_is_exact_in_float32_too():
    """Trained VampPriors reach components of variance ~1e-7: the expanded quadratic form cancels there, and in
    float32 it was off by hundreds of nats (a positive log p(x) on binary MNIST, found beside pythae)."""
    g = torch.Generator().manual_seed(0)
    mu = 1.0 + torch.rand(500, 50, generator=g)
    logvar = torch.full((500, 50), -16.0)
    z = mu[:8] + 3e-4 * torch.randn(8, 50, generator=g)  # samples near components 0..7, in float32 as models give
    prior = MixturePrior(mu, logvar)
    exact = torch.logsumexp(diagonal_log_density(z.double().unsqueeze(1), mu.double(), logvar.double()).sum(-1),
                            dim=-1) - math.log(500)
    got = prior.log_prob(z)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), exact, rtol=1e-6, atol=1e-3)


def test_the_mixture_density_is_the_mean_of_its_components():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(9, 3, generator=g, dtype=torch.float64), torch.randn(9, 3, generator=g).double() * 0.4
    prior = MixturePrior(mu, logvar)
    z = torch.randn(4, 5, 3, generator=g, dtype=torch.float64)
    brute = torch.stack([diagonal_log_density(z, mu[k], logvar[k]).sum(-1).exp() for k in range(9)]).mean(0).log()
    torch.testing.assert_close(prior.log_prob(z), brute)
    marginal = torch.stack([diagonal_log_density(z, mu[k], logvar[k]).exp() for k in range(9)]).mean(0).log()
    torch.testing.assert_close(prior.marginal_log_prob(z), marginal)
    # its samples follow it: the mean and variance of the mixture
    draws = prior.sample(40_000, generator=torch.Generator().manual_seed(1))
    var = (logvar.exp() + mu.pow(2)).mean(0) - mu.mean(0).pow(2)
    assert torch.allclose(draws.mean(0), mu.mean(0), atol=4 * float(var.max().sqrt()) / 200)
    assert torch.allclose(draws.var(0), var, rtol=0.05)


def test_with_one_pseudo_input_the_monte_carlo_kl_matches_the_closed_form():
    # K = 1: p(z) = q(z | u_1), a Gaussian whose parameters the encoder gives; KL(q(z|x) ‖ p) is then closed form
    model = _vamp(k=1)
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        prior = model.prior()
        mu, logvar = model.encode(x)
        exact = gaussian_kl(mu, logvar, prior.mu, prior.logvar)  # (16, D) per dimension
        draws = 4000
        eps = torch.randn(draws, *mu.shape, generator=torch.Generator().manual_seed(3))
        z = mu + torch.exp(0.5 * logvar) * eps
        total, dims = prior.kl(mu.expand_as(z), logvar.expand_as(z), z)
    se = total.std(0) / math.sqrt(draws)
    assert torch.all((total.mean(0) - exact.sum(-1)).abs() < 5 * se + 1e-4)
    # one component: its marginals are the prior's factors, so each dimension's KL is the closed form's too
    dim_se = dims.std(0) / math.sqrt(draws)
    assert torch.all((dims.mean(0) - exact).abs() < 5 * dim_se + 1e-4)


def test_the_loss_charges_the_monte_carlo_rate_and_the_standard_prior_keeps_the_closed_form(data):
    model = _vamp()
    x = torch.from_numpy(np.asarray(data.x_train[:32])).float() / 255
    eps = torch.randn(32, 4, generator=torch.Generator().manual_seed(5))
    terms = negative_elbo(model, x, beta=2.0, eps=eps)
    mu, logvar, z, params = model(x, None, eps)
    log_q = diagonal_log_density(z, mu, logvar).sum(-1)
    kl = (log_q - model.prior().log_prob(z)).mean()
    assert terms.kl.item() == pytest.approx(kl.item(), rel=1e-5)
    assert terms.loss.item() == pytest.approx((model.recon_nll(x, params) + 2.0 * kl).item(), rel=1e-5)
    assert prior_of(VAE(ModelConfig(input_shape=(1, 28, 28), hidden=(8,), latent_dim=2))) is STANDARD


@pytest.mark.parametrize("model, train, problem", [
    (dict(prior="vamp", num_classes=3), {}, "conditional"),
    (dict(prior="vamp", layers=2), {}, "hierarchy"),
    (dict(prior="vamp"), dict(free_bits=0.5), "free bits"),
    (dict(prior="vamp"), dict(objective="tcvae"), "β-TCVAE"),
])
def test_the_vampprior_refuses_what_it_cannot_be(data, model, train, problem):
    with pytest.raises(ConfigError, match=problem):
        cfg = model_config_for(data, hidden=(16,), latent_dim=4, **{k: v for k, v in model.items()
                                                                   if k != "num_classes"})
        if "num_classes" in model:
            ModelConfig(input_shape=(1, 28, 28), num_classes=3, prior="vamp").validate()
        Trainer(cfg, TrainConfig(device="cpu", **train), data)


def test_a_vampprior_model_trains_samples_evaluates_and_round_trips_exactly(data, tmp_path):
    cfg = model_config_for(data, hidden=(32,), latent_dim=4, prior="vamp", pseudo_inputs=20)
    train = TrainConfig(epochs=2, batch_size=50, device="cpu", beta_schedule="warmup:10")
    whole = Trainer(cfg, train, data)
    reports = [r for r in whole.run() if isinstance(r, EpochReport)]
    assert len(reports) == 2 and all(np.isfinite(r.test_elbo) for r in reports)
    pseudo = whole.model.pseudo_inputs().detach()
    assert pseudo.shape == (20, 1, 28, 28) and float(pseudo.min()) >= 0 and float(pseudo.max()) <= 1
    part = Trainer(cfg, train, data)
    list(part.run(max_steps=part.steps_per_epoch + 3))
    save_checkpoint(tmp_path / "vamp.h5", part.checkpoint())
    ckpt = load_checkpoint(tmp_path / "vamp.h5")
    assert ckpt.model_config.prior == "vamp" and ckpt.model_config.pseudo_inputs == 20
    for name, value in part.model.state_dict().items():
        np.testing.assert_array_equal(ckpt.model_state[name], value.numpy())
    resumed = Trainer(cfg, ckpt.train_config, data, checkpoint=ckpt)
    list(resumed.run())
    for key in ("epochs/test_elbo", "epochs/test_kl", "steps/loss"):
        np.testing.assert_allclose(resumed.history.arrays()[key], whole.history.arrays()[key], rtol=1e-5)

    # the held-out figures speak of the learned prior: a Monte Carlo rate, IWAE weights with log p(z) of the mixture
    x = np.asarray(data.x_test[:64])
    result = evaluate(whole.model, x, None, "cpu", iwae_samples=200, rate_split_points=64)
    assert result["iwae_log_px"] >= result["elbo"] - 3 * result["elbo_se"]
    split = result["rate_split"]
    assert split["mutual_information"] + split["marginal_kl"] == pytest.approx(result["rate"], abs=6 * (
        split["marginal_kl_se"] + split["mutual_information_se"]) + 0.5)
    # a snapshot draws from the same prior, and the latent snapshot carries its components
    snap = DecoderSnapshot.from_model(whole.model, step=whole.step)
    components = snap.prior_components()
    with torch.no_grad():
        prior = whole.model.prior()
    np.testing.assert_allclose(components[0], prior.mu.numpy(), rtol=1e-5, atol=1e-5)
    assert prior_samples(snap, 8, seed=0).shape == (8, 1, 28, 28)
    latents = encode_heldout(whole.model, data, "cpu", step=whole.step)
    assert latents.prior_components is not None and latents.learned_rate is not None
    # the Python API samples the same prior
    import trainer as api

    loaded = api.load_model(tmp_path / "vamp.h5")
    with torch.no_grad():
        shown = loaded.sample(6, seed=3)
    assert shown.shape == (6, 1, 28, 28) and torch.isfinite(shown).all()


def test_iwae_on_a_vampprior_model_uses_the_mixture(data):
    model = _vamp(k=5)
    x = torch.from_numpy(np.asarray(data.x_test[:8])).float() / 255
    with torch.no_grad():
        estimate = iwae_log_px(model, x, None, 64, generator=torch.Generator().manual_seed(0))
        # the same estimate by hand: log w = log p(x|z) + log p_vamp(z) − log q(z|x)
        mu, logvar = model.encode(x)
        eps = torch.randn((64, 8, 4), generator=torch.Generator().manual_seed(0))
        z = mu + torch.exp(0.5 * logvar) * eps
        log_px_z = model.log_likelihood(x.repeat(64, 1, 1, 1), model.decode(z.reshape(-1, 4))).view(64, 8)
        log_w = log_px_z + model.prior().log_prob(z) - diagonal_log_density(z, mu, logvar).sum(-1)
        by_hand = torch.logsumexp(log_w, 0) - math.log(64)
    torch.testing.assert_close(estimate, by_hand, rtol=1e-4, atol=1e-3)


def test_the_rate_split_against_a_learned_prior_adds_up_per_draw():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(60, 3, generator=g, dtype=torch.float64).numpy()
    logvar = (torch.randn(60, 3, generator=g, dtype=torch.float64) * 0.3 - 1).numpy()
    prior = MixturePrior(torch.from_numpy(mu[:5]).clone(), torch.from_numpy(logvar[:5]).clone())
    split = rate_split(mu, logvar, seed=1, prior=prior)
    assert split.rate == pytest.approx(split.rate_mc)  # no closed form: the rate is the Monte Carlo one
    assert split.mutual_information + split.marginal_kl == pytest.approx(split.rate_mc, abs=1e-9)
    standard = rate_split(mu, logvar, seed=1)
    assert standard.marginal_kl == pytest.approx(standard.total_correlation + standard.dimwise_kl, abs=1e-9)
    # a prior made of the posteriors themselves sits closer to q(z) than N(0, I) does
    whole = MixturePrior(torch.from_numpy(mu).clone(), torch.from_numpy(logvar).clone())
    assert rate_split(mu, logvar, seed=1, prior=whole).marginal_kl < standard.marginal_kl


def test_ais_from_the_learned_prior_finds_log_p_x_of_the_mixture(data):
    from trainer.analysis.ais import ais_log_px
    from trainer.analysis.ais_settings import AisSettings

    model = _vamp(k=6, d=2, hidden=(16,))
    with torch.no_grad():  # a prior far from N(0, I): an estimator that used N(0, I) would be nats away
        model.fc_mu.bias += 3.0
        model.fc_logvar.bias -= 1.5
    x = np.asarray(data.x_test[:3])
    result = ais_log_px(model, x, None, settings=AisSettings(steps=400, chains=16, leapfrog=2), seed=0)
    # log p(x) = log ∫ p(x|z) p(z) dz by quadrature over a fine grid of the 2-D latent space
    grid = torch.linspace(-4.0, 10.0, 351)
    z = torch.cartesian_prod(grid, grid)
    area = float((grid[1] - grid[0]) ** 2)
    with torch.no_grad():
        log_pz = model.prior().log_prob(z)
        params = model.decode(z)
        exact = [torch.logsumexp(model.log_likelihood(torch.from_numpy(xi).float().div(255).expand(len(z), -1, -1, -1),
                                                      params) + log_pz, 0).item() + math.log(area) for xi in x]
    np.testing.assert_allclose(result.log_px, exact, atol=0.5)


# --- the window ---------------------------------------------------------------------------------------------
def test_the_window_trains_a_vampprior_and_every_view_speaks_of_it(qtbot, small_window):
    from explorer.models.run_state import RunState

    window = small_window(prior="vamp", pseudo_inputs=12)
    controls = window.controls
    assert controls.prior_combo.currentData() == "vamp" and controls.pseudo_spin.value() == 12
    assert not controls.free_bits_spin.isEnabled() and not controls.layers_spin.isEnabled()
    window.start_training(max_steps=30)
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=60_000)
    explore = window.explore
    qtbot.waitUntil(lambda: explore.samples.pseudo_view.isVisibleTo(explore.samples), timeout=60_000)
    trainer = window.session.worker.trainer
    assert trainer.model_config.prior == "vamp" and trainer.model.pseudo_logits.shape[0] == 12
    assert "VampPrior" in explore.samples.samples_view.title
    qtbot.waitUntil(lambda: explore.activity.state is not None and explore.activity.state.prior == "vamp",
                    timeout=60_000)
    assert "p_j" in explore.kl.plot.getPlotItem().getAxis("left").labelText
    # the prior's components reach the latent views: the holes are measured against the learned prior
    qtbot.waitUntil(lambda: explore.scatter.latents is not None, timeout=60_000)
    assert explore.scatter.latents.prior_components[0].shape == (12, trainer.model_config.latent_dim)
    # the scatter marks the mixture's components where N(0, I)'s rings would be
    centres = explore.scatter.prior_centres
    assert centres.isVisible() and len(centres.data) == 12
    assert not explore.scatter.prior_rings_shown
    # back to N(0, I): the grid goes, the Controls free the layers again
    controls.prior_combo.setCurrentIndex(controls.prior_combo.findData("standard"))
    assert window.run_settings.value.prior == "standard"


def test_a_vampprior_ensemble_trains_as_its_runs_would_alone(data):
    import dataclasses

    from ensemble_check import alone_and_together

    cfg = model_config_for(data, hidden=(32,), latent_dim=3, prior="vamp", pseudo_inputs=10)
    base = TrainConfig(epochs=1, batch_size=50, report_every=4, device="cpu")
    configs = [dataclasses.replace(base, beta=b) for b in (1.0, 4.0)]
    alone, together = alone_and_together(cfg, configs, data)
    for a, b in zip(alone, together):
        for key in ("epochs/test_elbo", "steps/loss", "steps/kl"):
            np.testing.assert_allclose(a.history.arrays()[key], b.history.arrays()[key], rtol=1e-4, atol=1e-4)
