"""The objective against independent references: torch.distributions for KL, a hand-written BCE for
the reconstruction term, and the beta schedules at their defining steps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from trainer.config import ModelConfig, TrainConfig
from trainer.schedules import BetaSchedule
from trainer.errors import ConfigError
from trainer.model.vae import VAE
from trainer.model.objective import kl_per_dim, negative_elbo


def test_kl_per_dim_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu = 3 * torch.randn(64, 7, generator=g)
    logvar = 4 * torch.randn(64, 7, generator=g).clamp(-2, 2)
    ref = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    torch.testing.assert_close(kl_per_dim(mu, logvar), ref, atol=1e-5, rtol=1e-5)
    assert torch.all(kl_per_dim(torch.zeros(3), torch.zeros(3)) == 0)  # q == prior


@pytest.fixture
def batch():
    torch.manual_seed(0)
    model = VAE(ModelConfig(input_shape=(1, 6, 6), hidden=(16,), latent_dim=3))
    g = torch.Generator().manual_seed(1)
    x = torch.rand(20, 1, 6, 6, generator=g)
    eps = torch.randn(20, 3, generator=g)
    return model, x, eps


def test_negative_elbo_terms_match_a_hand_computed_bce(batch):
    model, x, eps = batch
    terms = negative_elbo(model, x, beta=0.3, eps=eps)
    mu, logvar = model.encode(x)
    logits = model.decode(mu + torch.exp(0.5 * logvar) * eps)
    # Bernoulli log-likelihood written out: x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))
    bce = -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).sum() / len(x)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum() / len(x)
    torch.testing.assert_close(terms.recon, bce)
    torch.testing.assert_close(terms.kl, kl)
    torch.testing.assert_close(terms.kl_per_dim.sum(), terms.kl)
    torch.testing.assert_close(terms.loss, bce + 0.3 * kl)
    torch.testing.assert_close(terms.elbo, -(bce + kl))


def test_free_bits_above_every_dim_removes_the_kl_gradient(batch):
    model, x, eps = batch
    lam = 1.0 + negative_elbo(model, x, eps=eps).kl_per_dim.max().item()
    terms = negative_elbo(model, x, beta=2.0, free_bits=lam, eps=eps)
    torch.testing.assert_close(terms.loss, terms.recon + 2.0 * 3 * lam)
    # the reported KL stays the true KL, not the charged one
    assert terms.kl.item() < 3 * lam

    def logvar_grad(loss):
        model.zero_grad()
        loss.backward()
        return model.fc_logvar.weight.grad.clone()

    # every dim clamped: only recon reaches the encoder's logvar head
    g_free = logvar_grad(terms.loss)
    g_recon = logvar_grad(negative_elbo(model, x, eps=eps).recon)
    g_full = logvar_grad(negative_elbo(model, x, beta=2.0, eps=eps).loss)
    torch.testing.assert_close(g_free, g_recon)
    assert not torch.allclose(g_full, g_recon)


def test_free_bits_charges_only_dims_below_the_floor(batch):
    model, x, eps = batch
    kl_dims = negative_elbo(model, x, eps=eps).kl_per_dim.detach()
    lam = kl_dims.median().item()
    terms = negative_elbo(model, x, beta=1.5, free_bits=lam, eps=eps)
    torch.testing.assert_close(terms.loss, terms.recon + 1.5 * torch.clamp(kl_dims, min=lam).sum())


# --- beta schedules -----------------------------------------------------------------------
def test_constant_schedule():
    s = BetaSchedule.parse("constant")
    assert [s.factor(t) for t in (0, 1, 10**6)] == [1.0, 1.0, 1.0]


def test_warmup_schedule():
    s = BetaSchedule.parse("warmup:100")
    assert s.factor(0) == 0.0
    assert s.factor(50) == pytest.approx(0.5)
    assert s.factor(100) == 1.0 and s.factor(5000) == 1.0


def test_cyclical_schedule_ramps_holds_and_restarts():
    s = BetaSchedule.parse("cyclical:100")
    assert s.factor(0) == 0.0
    assert s.factor(25) == pytest.approx(0.5)  # ramps over the first half
    assert s.factor(50) == 1.0 and s.factor(99) == 1.0  # holds
    assert s.factor(100) == 0.0 and s.factor(125) == pytest.approx(0.5)  # restarts


@pytest.mark.parametrize("text", ["constant", "warmup:100", "cyclical:7"])
def test_schedule_round_trips_through_str(text):
    assert str(BetaSchedule.parse(text)) == text


@pytest.mark.parametrize(
    "text", ["", "linear:10", "warmup", "warmup:", "warmup:0", "warmup:-5", "cyclical:abc", "constant:5"]
)
def test_bad_schedule_raises_config_error(text):
    with pytest.raises(ConfigError):
        BetaSchedule.parse(text)
    with pytest.raises(ConfigError):
        TrainConfig(beta_schedule=text).validate()
