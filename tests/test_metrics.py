"""Metrics checked against quantities known exactly: a linear-Gaussian VAE's log p(x), synthetic
latents with chosen variances, latents built to copy (or ignore) the ground-truth factors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trainer.config import ModelConfig
from trainer.analysis.metrics import active_units, encode_dataset, evaluate, iwae_log_px, mig
from trainer.model.vae import VAE

from linear_gaussian import LinearGaussianVAE

LOG_2PI = math.log(2 * math.pi)


@pytest.fixture(scope="module")
def linear():
    model = LinearGaussianVAE()
    x = model.sample_x(200)
    return model, x.float(), model.log_px(x).mean().item(), model.elbo(x).mean().item()


def _iwae(model, x, k, seed=1, **kw):
    return iwae_log_px(model, x, None, k, generator=torch.Generator().manual_seed(seed), **kw)


# --- IWAE against the exact log p(x) ------------------------------------------------------
def test_iwae_is_sandwiched_between_elbo_and_exact_log_px(linear):
    model, x, log_px, elbo = linear
    assert log_px - elbo > 2.0  # the encoder is wrong enough for the ordering to mean something
    k1, k50, k5000 = (_iwae(model, x, k).double() for k in (1, 50, 5000))
    # K=1 is an unbiased estimate of the ELBO: within 4 standard errors of the analytic value
    se = k1.std().item() / math.sqrt(len(k1))
    assert abs(k1.mean().item() - elbo) < 4 * se
    # more samples, tighter bound; never above log p(x) beyond Monte Carlo noise
    assert elbo < k50.mean().item() < k5000.mean().item()
    assert k1.mean().item() + 1.0 < k50.mean().item()
    assert k5000.mean().item() <= log_px + 0.05
    assert abs(k5000.mean().item() - log_px) < 0.5


def test_iwae_chunks_bound_the_decoder_batch(linear):
    model, x, log_px, _ = linear
    rows = []

    class Spy(LinearGaussianVAE):
        def decode(self, z, y=None):
            rows.append(z.shape[0])
            return super().decode(z, y)

    spy = Spy()
    spy.__dict__.update(model.__dict__)
    est = _iwae(spy, x, 500, chunk=64).mean().item()
    assert max(rows) == 64 * len(x)
    assert sum(rows) == 500 * len(x)  # every sample counted once, the last chunk partial
    assert abs(est - log_px) < 0.5


def test_iwae_is_deterministic_for_a_seed(linear):
    model, x, _, _ = linear
    assert torch.equal(_iwae(model, x, 20, seed=3), _iwae(model, x, 20, seed=3))
    assert not torch.equal(_iwae(model, x, 20, seed=3), _iwae(model, x, 20, seed=4))


def test_evaluate_on_linear_model_estimates_the_true_gap(linear):
    model, x, log_px, elbo = linear
    r = evaluate(model, x.numpy(), None, "cpu", batch_size=64, iwae_samples=1000,
                 generator=torch.Generator().manual_seed(5))
    assert r["n"] == 200
    # one-sample recon on 200 examples: the analytic ELBO within Monte Carlo noise
    assert abs(r["elbo"] - elbo) < 1.0
    assert abs(r["iwae_log_px"] - log_px) < 0.1
    assert abs(r["elbo_gap"] - (log_px - elbo)) < 1.0
    assert r["elbo_gap"] == pytest.approx(r["iwae_log_px"] - r["elbo"])


# --- active units -------------------------------------------------------------------------
def test_active_units_counts_dims_whose_mean_varies():
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 1.0, 1.0, 1e-2, 1e-2])  # variances 1 and 1e-4
    mu = rng.standard_normal((2000, 5)) * scale + 3.0  # an offset does not make a dim active
    count, variance = active_units(mu)
    assert count == 3
    np.testing.assert_allclose(variance, scale**2, rtol=0.1)
    assert active_units(mu, threshold=1e-6)[0] == 5


# --- MIG ----------------------------------------------------------------------------------
def _factors(n=5000, sizes=(3, 5, 4), seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in sizes], axis=1), sizes


def test_mig_is_high_when_each_latent_copies_one_factor():
    factors, sizes = _factors()
    rng = np.random.default_rng(1)
    mu = factors + 0.05 * rng.standard_normal(factors.shape)
    mu = np.concatenate([mu, rng.standard_normal((len(mu), 2))], axis=1)  # plus two nuisance dims
    assert mig(mu, factors, sizes) > 0.5


def test_mig_is_low_for_random_latents():
    factors, sizes = _factors()
    mu = np.random.default_rng(2).standard_normal((len(factors), 5))
    assert mig(mu, factors, sizes) < 0.1


def test_mig_is_low_when_a_factor_is_split_over_two_latents():
    # both latents know the factor equally well: high MI, but no gap, which is what MIG penalises
    factors, sizes = _factors(sizes=(4,))
    rng = np.random.default_rng(3)
    mu = np.concatenate([factors + 0.01 * rng.standard_normal(factors.shape)] * 2, axis=1)
    assert mig(mu, factors, sizes) < 0.1


def test_mig_rejects_codes_outside_the_factor_sizes():
    factors, _ = _factors(sizes=(3,))
    with pytest.raises(ValueError):
        mig(np.zeros((len(factors), 2)), factors, (2,))


# --- evaluate / encode_dataset on the real VAE --------------------------------------------
@pytest.fixture(scope="module")
def small_vae():
    torch.manual_seed(0)
    model = VAE(ModelConfig(input_shape=(1, 8, 8), hidden=(32,), latent_dim=4))
    x = np.random.default_rng(0).integers(0, 256, size=(300, 1, 8, 8), dtype=np.uint8)
    return model, x


def test_evaluate_terms_are_consistent(small_vae):
    model, x = small_vae
    calls = []
    r = evaluate(model, x, None, "cpu", batch_size=128, iwae_samples=100,
                 generator=torch.Generator().manual_seed(0), progress=lambda d, t: calls.append((d, t)))
    assert r["n"] == 300
    assert r["elbo"] == pytest.approx(-(r["recon"] + r["kl"]))
    assert r["kl"] == pytest.approx(sum(r["kl_per_dim"]))
    assert len(r["kl_per_dim"]) == 4 and all(k >= 0 for k in r["kl_per_dim"])
    assert r["rate"] == r["kl"] and r["distortion"] == r["recon"]
    assert r["recon"] > 0 and 0 <= r["active_units"] <= 4
    assert r["iwae_log_px"] >= r["elbo"] - 0.05
    assert r["elbo_gap"] == pytest.approx(r["iwae_log_px"] - r["elbo"])
    assert calls == [(128, 300), (256, 300), (300, 300)]
    assert "mig" not in r
    # JSON-safe: plain python numbers only
    assert all(type(v) in (float, int, list) for v in r.values())
    assert isinstance(r["active_units"], int) and isinstance(r["n"], int)
    assert model.training  # evaluation restores the mode it found


def test_evaluate_is_deterministic_and_scales_uint8(small_vae):
    model, x = small_vae
    def run(data, seed):
        return evaluate(model, data, None, "cpu", batch_size=100, generator=torch.Generator().manual_seed(seed))
    a, b = run(x, 7), run(x, 7)
    assert a == b
    assert run(x, 8)["recon"] != a["recon"]
    # asking for IWAE adds keys but leaves the one-sample terms of the same seed alone
    with_iwae = evaluate(model, x, None, "cpu", batch_size=100, iwae_samples=5,
                         generator=torch.Generator().manual_seed(7))
    assert {k: with_iwae[k] for k in a} == a
    # a float array already in [0, 1] is the same data as uint8 / 255
    assert run(x.astype(np.float32) / 255.0, 7)["recon"] == pytest.approx(a["recon"], rel=1e-5)


def test_evaluate_reports_mig_when_factors_are_given(small_vae):
    model, x = small_vae
    factors = np.random.default_rng(1).integers(0, 3, size=(len(x), 2))
    r = evaluate(model, x, None, "cpu", factors=factors, factor_sizes=(3, 3))
    assert 0.0 <= r["mig"] <= 1.0


def test_encode_dataset_matches_encode_in_any_batching(small_vae):
    model, x = small_vae
    mu, logvar = encode_dataset(model, x, None, "cpu", batch_size=64)
    assert mu.shape == logvar.shape == (300, 4) and mu.dtype == logvar.dtype == np.float32
    with torch.no_grad():
        ref_mu, ref_lv = model.encode(torch.from_numpy(x).float() / 255.0)
    np.testing.assert_allclose(mu, ref_mu.numpy(), atol=1e-5)
    np.testing.assert_allclose(logvar, ref_lv.numpy(), atol=1e-5)


def test_conditional_model_gets_its_labels():
    torch.manual_seed(0)
    model = VAE(ModelConfig(input_shape=(1, 8, 8), hidden=(16,), latent_dim=2, num_classes=3))
    x = np.random.default_rng(0).integers(0, 256, size=(50, 1, 8, 8), dtype=np.uint8)
    mu0, _ = encode_dataset(model, x, np.zeros(50, dtype=np.int64), "cpu")
    mu2, _ = encode_dataset(model, x, np.full(50, 2, dtype=np.int64), "cpu")
    assert not np.allclose(mu0, mu2)
    r = evaluate(model, x, np.arange(50) % 3, "cpu", iwae_samples=10)
    assert r["iwae_log_px"] >= r["elbo"] - 0.5


def test_evaluate_rejects_empty_and_mismatched_input(small_vae):
    model, x = small_vae
    with pytest.raises(ValueError):
        evaluate(model, x[:0], None, "cpu")
    with pytest.raises(ValueError):
        evaluate(model, x, np.zeros(3), "cpu")
