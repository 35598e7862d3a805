"""The negative ELBO and its terms, all in nats per example.

    recon  = -E_q[log p(x|z)]           distortion: summed over pixels, averaged over the batch
    kl     = KL(q(z|x) || N(0, I))       rate: closed form, 1/2 sum_j (mu^2 + sigma^2 - 1 - log sigma^2)
    elbo   = -(recon + kl)               a lower bound on log p(x) when p(x|z) is a normalized density of
                                         the data (see trainer/likelihood.py); positive is possible
    loss   = recon + beta * kl           (with free bits: KL_j below lambda nats is not penalised)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from trainer.model.vae import VAE


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per example and dimension, in nats: shape like mu."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


@dataclass
class Terms:
    """One batch's objective; tensors stay on the device so a step never waits for a sync."""

    loss: torch.Tensor
    """Scalar to minimise: recon + beta * (free-bits) KL."""
    recon: torch.Tensor
    """Scalar, nats per example."""
    kl: torch.Tensor
    """Scalar, nats per example (always the true KL, free bits or not)."""
    kl_per_dim: torch.Tensor
    """(latent_dim,), nats per example."""

    @property
    def elbo(self) -> torch.Tensor:
        return -(self.recon + self.kl)


def negative_elbo(
    model: VAE,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    beta: float = 1.0,
    free_bits: float | torch.Tensor = 0.0,
    eps: torch.Tensor | None = None,
    forward=None,
) -> Terms:
    """The beta-VAE loss on a batch, with one reparameterized sample per example.

    `forward` runs the model's forward pass in its place: a DistributedDataParallel wrapper of it
    (trainer.training.distributed), whose gradient averaging hooks on to that call."""
    mu, logvar, z, params = (forward or model)(x, y, eps)
    recon = model.recon_nll(x, params)
    kl_dims = kl_per_dim(mu, logvar).mean(0)
    kl = kl_dims.sum()
    if torch.is_tensor(free_bits) or free_bits > 0:  # a tensor: each run of an ensemble has its own
        # Kingma et al. 2016: each dimension's batch-averaged KL is charged at least lambda nats,
        # so the optimiser gains nothing by pushing a dimension below lambda and collapsing it.
        kl_charged = torch.clamp(kl_dims, min=free_bits).sum()
    else:
        kl_charged = kl
    return Terms(loss=recon + beta * kl_charged, recon=recon, kl=kl, kl_per_dim=kl_dims)
