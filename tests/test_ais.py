"""log p(x) sandwiched: annealed importance sampling (trainer.analysis.ais) against the closed form of a
linear-Gaussian model, the ELBO gap split that takes its log p(x) from it, the BDMC bounds on simulated data, every
model family the tool has, and `eval --ais/--bdmc/--gaps` and trainer.evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from inprocess import run_main
from torch import nn

import trainer
from trainer.analysis.ais import AisCancelled, ais_log_px
from trainer.analysis.ais_settings import AisSettings
from trainer.analysis.bdmc import bdmc, sample_observation, simulate
from trainer.analysis.inference_gaps import ESTIMATORS, inference_gaps
from trainer.analysis.variational import importance_bounds
from trainer.config import ModelConfig
from trainer.errors import ConfigError, Stopped
from trainer.model.foreign import ForeignVAE
from trainer.model.hierarchy import build_model
from trainer.model.vae import continuous_bernoulli_mean

from linear_gaussian import LinearGaussianVAE
from trained_models import trained_on_noise


def _correlated():
    """A posterior whose best diagonal Gaussian is 1.254 nats from it, and an encoder no wider than that Gaussian:
    the case where IWAE of q* falls 0.4-0.5 nats short at K = 1000."""
    model = LinearGaussianVAE(dx=4, dz=3, s=0.33, seed=0, var_scale=1.0)
    assert model.best_diagonal_kl() == pytest.approx(1.254, abs=1e-3)
    return model


def test_ais_matches_the_exact_log_px_of_a_linear_gaussian_model():
    model = _correlated()
    x = model.sample_x(100).float()
    exact = model.log_px(x).numpy()
    result = ais_log_px(model, x.numpy(), None, settings=AisSettings(steps=300), seed=0)
    s = result.summary()
    error = result.log_px - exact
    # a lower bound in expectation: short by its annealing bias (~0.03 nats here) and its Monte Carlo error
    assert -0.06 - 3 * s["log_px_ais_mc_se"] < error.mean() < 3 * s["log_px_ais_mc_se"]
    assert 0 < s["log_px_ais_mc_se"] < 0.05 and np.all(result.se > 0)
    assert s["log_px_ais"] == pytest.approx(exact.mean(), abs=0.1) and s["ais_examples"] == 100
    assert (s["ais_steps"], s["ais_chains"], s["ais_leapfrog"], s["ais_start"]) == (300, 8, 2, "prior")
    assert 0.5 < s["ais_acceptance"] < 0.8  # steered toward 0.65
    # one step is importance sampling from the prior: far short of log p(x), which the path closes
    plain = ais_log_px(model, x.numpy(), None, settings=AisSettings(steps=1), seed=0)
    assert (plain.log_px - exact).mean() < -2.0
    # the same seed, the same estimate
    again = ais_log_px(model, x[:10].numpy(), None, settings=AisSettings(steps=20), seed=3)
    np.testing.assert_array_equal(again.log_px, ais_log_px(model, x[:10].numpy(), None,
                                                           settings=AisSettings(steps=20), seed=3).log_px)


def test_the_approximation_gap_is_within_0_15_nats_of_the_closed_form_with_its_estimator_named():
    model = _correlated()
    truth = model.best_diagonal_kl()
    x = model.sample_x(100).float().numpy()
    result = inference_gaps(model, x, None, k=1000)
    s = result.summary()
    assert s["log_px_estimator"] == "ais" and s["ais_start"] == "optimized"
    assert abs(s["approximation_gap"] - truth) < 0.15
    assert s["log_px_ais"] == pytest.approx(model.log_px(torch.from_numpy(x)).mean().item(), abs=0.1)
    # each example keeps its log p(x) and the estimate that was largest for it
    assert result.log_px.shape == result.largest.shape == (100,) and set(result.largest) <= set(ESTIMATORS)
    assert sum(s["log_px_largest"].values()) == 100
    # IWAE alone (what the split was before AIS) is short by far more than that
    iwae_only = inference_gaps(model, x, None, k=1000, ais=None).summary()
    assert truth - iwae_only["approximation_gap"] > 0.3 and "log_px_ais" not in iwae_only
    assert iwae_only["log_px_estimator"] in ("iwae-encoder", "iwae-optimized")


def test_bdmc_sandwiches_the_exact_log_px_and_narrows_with_more_steps():
    model = _correlated()
    x, _, _ = simulate(model, 40, torch.Generator().manual_seed(5))
    exact = model.log_px(x).numpy()
    width = {}
    for steps in (20, 300):
        result = bdmc(model, 40, AisSettings(steps=steps), seed=5)  # simulates the same x first
        lower_se = np.sqrt(np.sum(result.lower_se ** 2)) / 40
        upper_se = np.sqrt(np.sum(result.upper_se ** 2)) / 40
        assert (result.lower - exact).mean() < 3 * lower_se
        assert (result.upper - exact).mean() > -3 * upper_se
        s = result.summary()
        assert s["bdmc_examples"] == 40 and s["bdmc_steps"] == steps
        assert s["bdmc_gap"] == pytest.approx(s["bdmc_upper"] - s["bdmc_lower"])
        width[steps] = s["bdmc_gap"]
    assert width[20] > 0.3 and 0 < width[300] < width[20] / 4


def _trained(config: ModelConfig, steps: int, seed: int = 0):
    model, x, y = trained_on_noise(config, steps, seed, n=48)
    return model, x[:6], None if y is None else y[:6]


@pytest.mark.parametrize("kind", ["vae", "cvae", "hierarchy", "conv", "gaussian", "continuous-bernoulli"])
def test_every_model_family_gets_an_estimate_near_a_long_iwae_and_a_sandwich(kind):
    side = 28 if kind == "conv" else 8
    likelihood = kind if kind in ("gaussian", "continuous-bernoulli") else "bernoulli"
    config = ModelConfig(input_shape=(1, side, side), hidden=(32,), latent_dim=3, arch="conv" if kind == "conv"
                         else "mlp", num_classes=3 if kind == "cvae" else 0, layers=2 if kind == "hierarchy" else 1,
                         likelihood=likelihood, sigma=0.3 if kind == "gaussian" else 0.0)
    model, x, y = _trained(config, steps=20 if kind == "conv" else 60)
    settings = AisSettings(steps=60, chains=4)
    result = ais_log_px(model, x.numpy(), None if y is None else y.numpy(), settings=settings, seed=0)
    elbo, iwae = importance_bounds(model, x, y, 3000, generator=torch.Generator().manual_seed(0))
    assert np.all(np.isfinite(result.log_px))
    assert result.log_px.mean() > elbo.mean().item()
    assert result.log_px.mean() == pytest.approx(iwae.mean().item(), abs=0.5)
    sandwich = bdmc(model, 4, AisSettings(steps=30, chains=4), seed=0)
    noise = np.sqrt(np.sum(sandwich.lower_se ** 2 + sandwich.upper_se ** 2)) / 4
    assert np.all(np.isfinite(sandwich.lower)) and np.all(np.isfinite(sandwich.upper))
    assert sandwich.summary()["bdmc_gap"] > -3 * noise - 0.2  # lower <= upper, within their noise


class _TinyVAE(nn.Module):
    """A user's VAE on 8x8 images with 3 latent dimensions."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh())
        self.mu, self.logvar = nn.Linear(16, 3), nn.Linear(16, 3)
        self.dec = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 64))

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.dec(z).view(-1, 1, 8, 8)


def test_your_own_model_with_a_likelihood_gets_ais_and_without_one_a_line_saying_why():
    x = (np.random.default_rng(0).random((4, 1, 8, 8)) < 0.4).astype(np.uint8) * 255
    own = ais_log_px(ForeignVAE(_TinyVAE(), (1, 8, 8), 3, "bernoulli"), x, None, settings=AisSettings(steps=10))
    assert np.all(np.isfinite(own.log_px)) and own.n == 4
    with pytest.raises(ConfigError, match="no likelihood was named"):
        ais_log_px(ForeignVAE(_TinyVAE(), (1, 8, 8), 3), x, None, settings=AisSettings(steps=10))
    with pytest.raises(ConfigError, match="no likelihood was named"):
        bdmc(ForeignVAE(_TinyVAE(), (1, 8, 8), 3), 2, AisSettings(steps=10))

    class Detached(LinearGaussianVAE):
        def decode(self, z, y=None):
            return super().decode(z).detach()

    with pytest.raises(ConfigError, match="differentiable in z") as err:
        ais_log_px(Detached(), np.zeros((2, 10), np.float32), None, settings=AisSettings(steps=3))
    assert "\n" not in str(err.value)


def test_progress_rises_to_one_and_a_stop_request_stops_it():
    model = _correlated()
    x = model.sample_x(6).float().numpy()
    seen = []
    ais_log_px(model, x, None, settings=AisSettings(steps=50), progress=lambda m, f: seen.append((m, f)))
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and "AIS" in seen[-1][0]
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(AisCancelled):
        ais_log_px(model, x, None, settings=AisSettings(steps=50), should_stop=stop)
    assert len(calls) == 6 and issubclass(AisCancelled, Stopped)
    with pytest.raises(Stopped):
        bdmc(model, 3, AisSettings(steps=50), should_stop=lambda: True)


def test_settings_are_checked_by_the_projects_rules():
    for bad, needle in ((dict(steps=0), "steps must be a whole number in 1..100000, got 0"),
                        (dict(chains=1), "chains must be a whole number in 2..10000"),
                        (dict(leapfrog=2.5), "leapfrog must be a whole number"),
                        (dict(target_acceptance=1.0), "target_acceptance must be a number > 0 and <= 0.99")):
        with pytest.raises(ConfigError, match=needle):
            AisSettings(**bad).validate()
    with pytest.raises(ConfigError, match="steps must be a whole number"):
        AisSettings(steps="10")


def test_simulated_observations_follow_the_likelihood():
    logits = torch.tensor([-6.0, -0.5, 0.0, 1e-4, 2.0, 9.0]).repeat(40_000, 1)
    g = torch.Generator().manual_seed(0)

    def model(likelihood):
        return build_model(ModelConfig(input_shape=(1, 2, 3), hidden=(4,), latent_dim=2, likelihood=likelihood,
                                       sigma=0.5 if likelihood == "gaussian" else 0.0))

    binary = sample_observation(model("bernoulli"), logits, g)
    assert set(binary.unique().tolist()) <= {0.0, 1.0}
    np.testing.assert_allclose(binary.mean(0), torch.sigmoid(logits[0]), atol=0.01)
    continuous = sample_observation(model("continuous-bernoulli"), logits, g)
    assert continuous.min() >= 0 and continuous.max() <= 1
    np.testing.assert_allclose(continuous.mean(0), continuous_bernoulli_mean(logits[0]), atol=0.005)
    gaussian = sample_observation(model("gaussian"), logits, g)
    np.testing.assert_allclose((gaussian - logits).std(0), 0.5, rtol=0.02)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ais") / "sprites.h5"
    proc = run_main(["train", "--dataset", "sprites", "--limit", "200", "--image-size", "16", "--epochs", "1",
                     "--hidden", "32", "--latent-dim", "3", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr
    return out


def _json(*args) -> dict:
    proc = run_main(["eval", *map(str, args), "--json"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_eval_ais_bdmc_and_gaps_report_their_estimators(checkpoint):
    fast = ("--ais-steps", "20", "--ais-chains", "4", "--rate-split-points", "0")
    result = _json(checkpoint, "--ais", "--ais-examples", "5", "--bdmc", "--bdmc-examples", "3", *fast)
    assert result["ais_examples"] == 5 and result["bdmc_examples"] == 3
    assert (result["ais_steps"], result["ais_chains"], result["ais_leapfrog"]) == (20, 4, 2)
    assert result["log_px_ais"] > result["elbo"] - 5 and result["log_px_ais_se"] > 0
    assert 0 < result["ais_acceptance"] < 1
    assert result["bdmc_lower"] <= result["bdmc_upper"] + 1 and result["bdmc_gap_se"] >= 0
    plain = _json(checkpoint, "--rate-split-points", "0")
    assert not any(key.startswith(("log_px_ais", "bdmc")) for key in plain)  # only when asked
    text = run_main(["eval", str(checkpoint), "--ais", "--ais-examples", "2", *fast]).stdout
    assert "log_px_ais" in text and "stochastic lower bound" in text
    gaps = _json(checkpoint, "--gaps", "--limit", "4", "--svi-steps", "30", "--iwae-samples", "50")
    assert gaps["log_px_estimator"] in ESTIMATORS and gaps["ais_start"] == "optimized"
    estimates = {"iwae-encoder": "log_px_encoder_proposal", "iwae-optimized": "log_px_optimized_proposal",
                 "ais": "log_px_ais"}
    assert gaps["log_px"] == max(gaps[key] for key in estimates.values())
    assert gaps["log_px"] == gaps[estimates[gaps["log_px_estimator"]]]
    text = run_main(["eval", str(checkpoint), "--gaps", "--limit", "2", "--svi-steps", "10", "--iwae-samples",
                     "20"]).stdout
    assert "estimates: iwae-encoder" in text and "ais" in text
    refused = run_main(["eval", str(checkpoint), "--ais", "--ais-chains", "1"])
    assert refused.returncode == 2 and "--ais-chains: must be a whole number in 2..10000, got '1'" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_trainer_evaluate_takes_ais_and_bdmc_and_checks_them_first(checkpoint):
    result = trainer.evaluate(checkpoint, ais=True, ais_examples=3, ais_steps=10, ais_chains=3, bdmc=True,
                              bdmc_examples=2, rate_split_points=0)
    assert result["ais_examples"] == 3 and result["bdmc_examples"] == 2 and result["ais_chains"] == 3
    with pytest.raises(ConfigError, match="ais_steps must be a whole number in 1..100000, got 0"):
        trainer.evaluate(checkpoint, ais=True, ais_steps=0)
    with pytest.raises(ConfigError, match="ais must be true or false"):
        trainer.evaluate(checkpoint, ais="yes")
