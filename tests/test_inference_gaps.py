"""The ELBO gap split by classical VI (Cremer et al. 2018), against linear-Gaussian models whose posterior is
known exactly, and on small trained models of every family the tool trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.analysis.inference_gaps import GapsCancelled, SviSettings, inference_gaps, optimize_point
from trainer.config import ModelConfig

from linear_gaussian import LinearGaussianVAE
from trained_models import trained_on_noise

SETTINGS = SviSettings(max_steps=1500, samples=32, lr=0.05, window=50, tol=1e-4, halvings=6)


def _gaps(model, x, k=2000, **kw):
    return inference_gaps(model, x.numpy().astype(np.float32), None, k=k, settings=kw.pop("settings", SETTINGS),
                          **kw)


def test_diagonal_posterior_no_approximation_gap_and_the_closed_form_amortization_gap():
    model = LinearGaussianVAE(dx=8, dz=3, orthogonal=True, var_scale=2.5, shift=0.3)
    assert torch.allclose(model.precision, torch.diag(torch.diagonal(model.precision)))  # the family holds p(z|x)
    x = model.sample_x(40).float()
    result = _gaps(model, x)
    s = result.summary()
    # q* is the exact posterior: its mean and variance, and its IWAE weights constant (log p(x) exactly)
    trace = optimize_point(model, x[:1].numpy(), None, settings=SETTINGS, k=200)
    np.testing.assert_allclose(trace.mu, model.posterior_mean(x[:1])[0].numpy(), atol=2e-3)
    np.testing.assert_allclose(np.exp(trace.logvar), torch.diagonal(model.posterior_covariance()).numpy(),
                               rtol=2e-2)
    np.testing.assert_allclose(result.iwae_optimized, model.log_px(x).numpy(), atol=1e-3)
    assert abs(s["approximation_gap"]) < 3 * s["approximation_gap_se"] + 2e-3
    expected = model.encoder_kl_to_posterior()
    assert expected > 0.5
    assert s["amortization_gap"] == pytest.approx(expected, abs=3 * s["amortization_gap_se"] + 0.02)
    exact = model.log_px(x).mean().item()
    assert s["log_px"] == pytest.approx(exact, abs=0.01)
    assert s["n"] == 40 and s["log_px_proposal"] == "optimized"


def test_correlated_posterior_approximation_gap_is_the_kl_of_the_best_diagonal_gaussian():
    model = LinearGaussianVAE(dx=4, dz=3, seed=0)
    expected = model.best_diagonal_kl()
    assert expected > 0.5  # the posterior has real correlations
    x = model.sample_x(40).float()
    s = _gaps(model, x, k=5000).summary()
    exact = model.log_px(x).mean().item()
    # q* is the best diagonal Gaussian: its ELBO falls short of the exact log p(x) by that KL
    assert exact - s["elbo_optimized"] == pytest.approx(expected, abs=0.02)
    # IWAE's log p(x) approaches the exact one from below (K = 5000 of a proposal off by that KL)
    assert s["log_px"] == pytest.approx(exact, abs=0.08)
    assert s["approximation_gap"] == pytest.approx(expected, abs=3 * s["approximation_gap_se"] + 0.05)
    # and the two parts add up to the whole gap of the encoder
    assert s["amortization_gap"] + s["approximation_gap"] == pytest.approx(s["elbo_gap"], abs=1e-9)
    assert s["elbo_gap"] == pytest.approx(exact - model.elbo(x).mean().item(), abs=0.05)


def test_optimized_q_is_the_mean_field_optimum_of_a_correlated_posterior():
    model = LinearGaussianVAE(dx=4, dz=3, seed=0)
    x = model.sample_x(1).float()
    trace = optimize_point(model, x.numpy(), None, settings=SETTINGS, k=500)
    # within a few percent of q*'s own standard deviation (a millinat of KL): the gradient stays noisy here
    std = torch.diagonal(model.precision).rsqrt().numpy()
    assert np.all(np.abs(trace.mu - model.posterior_mean(x)[0].numpy()) < 0.06 * std)
    np.testing.assert_allclose(np.exp(-trace.logvar), torch.diagonal(model.precision).numpy(), rtol=5e-2)
    # the path starts at the encoder's guess and its ELBO rises to q*'s
    np.testing.assert_allclose(trace.means[0], model.encode(x)[0][0].numpy(), atol=1e-6)
    assert trace.elbo[-1] > trace.elbo[0] + 0.5
    assert trace.means.shape == (trace.steps + 1, 3) and trace.steps > 50


def test_cancel_stops_between_windows():
    model = LinearGaussianVAE()
    x = model.sample_x(10).float()
    with pytest.raises(GapsCancelled):
        _gaps(model, x, should_stop=lambda: True)


def _trained(config: ModelConfig, steps=150, seed=0):
    """A small model trained a few steps on random binary images: a real, imperfect encoder."""
    model, x, y = trained_on_noise(config, steps, seed)
    y = torch.zeros(len(x), dtype=torch.long) if y is None else y
    return model, (x.numpy() * 255).astype(np.uint8), y.numpy()


@pytest.mark.parametrize("kind", ["vae", "cvae", "hierarchy", "conv", "gaussian"])
def test_trained_models_bounds_are_ordered(kind):
    side = 28 if kind == "conv" else 8
    config = ModelConfig(input_shape=(1, side, side), hidden=(64,), latent_dim=4, arch="conv" if kind == "conv"
                         else "mlp", num_classes=3 if kind == "cvae" else 0, layers=2 if kind == "hierarchy" else 1,
                         likelihood="gaussian" if kind == "gaussian" else "bernoulli",
                         # on noise the residual ladder soon collapses (rightly: there is nothing to encode), and a
                         # collapsed q has no gap to order; the plain ladder's q is still imperfect after 150 steps
                         ladder="plain")
    model, x, y = _trained(config, steps=60 if kind == "conv" else 150)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    n = 8 if kind == "conv" else 24  # a conv decoder pass costs many MLP ones
    # IWAE's log p(x) here (AIS on every family is tests/test_ais.py's): the ordering is what is tested
    result = inference_gaps(model, x[:n], y[:n], settings=SviSettings(max_steps=300), k=500, batch_size=10,
                            ais=None)
    s = result.summary()
    assert s["elbo_encoder"] < s["elbo_optimized"] <= s["log_px"] + 3 * s["approximation_gap_se"]
    assert s["amortization_gap"] > 0 and s["amortization_gap"] > 2 * s["amortization_gap_se"]
    assert s["approximation_gap"] > -3 * s["approximation_gap_se"]
    assert s["seconds_per_example_classical"] > s["seconds_per_example_amortized"] > 0
    assert result.mean_optimized.shape == (n, 4) and s["n"] == n
    # inference trains nothing
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.requires_grad for p in model.parameters())


def test_a_cvae_optimizes_the_q_of_its_own_label():
    config = ModelConfig(input_shape=(1, 8, 8), hidden=(64,), latent_dim=4, num_classes=3)
    model, x, y = _trained(config)
    right = inference_gaps(model, x[:16], y[:16], settings=SviSettings(max_steps=100), k=200).summary()
    wrong = inference_gaps(model, x[:16], (y[:16] + 1) % 3, settings=SviSettings(max_steps=100), k=200).summary()
    assert right["elbo_encoder"] != pytest.approx(wrong["elbo_encoder"], abs=1e-3)
