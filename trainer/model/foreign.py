"""Your own torch model, seen through the tool's VAE interface, so that its latent panels explore it.

    wrapped = ForeignVAE(my_vae, input_shape=(1, 28, 28), latent_dim=16, likelihood="bernoulli")
    wrapped.encode(x)              # my_vae.encode(x) -> (mu, logvar), each (N, latent_dim)
    wrapped.decode(z)              # my_vae.decode(z): what `likelihood` says it returns (below)
    wrapped.mean_image(params)     # E[x|z] in [0, 1], for display
    wrapped.log_likelihood(x, params)   # log p(x|z) per example, nats (only with a likelihood)

The protocol your module follows (any torch.nn.Module, or an object with these two methods):

    encode(x) -> (mu, logvar)   x: float (N, C, H, W) in [0, 1]; mu and logvar (N, latent_dim):
                                q(z|x) = N(mu, diag e^logvar)
    decode(z) -> ...            z: (N, latent_dim), the prior p(z) = N(0, I); it returns, by `likelihood`:
        None                    E[x|z] in [0, 1] (every latent panel works; no ELBO, so no ELBO gap)
        "bernoulli"             the logits of a Bernoulli per pixel, shaped like x
        "continuous-bernoulli"  the logits of a continuous Bernoulli per pixel (Loaiza-Ganem & Cunningham 2019)
        "gaussian"              the mean of N(mean, sigma^2 I), sigma fixed (`sigma`)

Training it stays your business: the tool never calls backward on it, and freezes it where it optimizes q.
"""

from __future__ import annotations

import torch
from torch import nn

from trainer.config import LIKELIHOODS, ModelConfig
from trainer.errors import ConfigError
from trainer.model.vae import VAE


class ForeignVAE(nn.Module):
    """A user's module with encode/decode, wrapped with the tool's likelihood, display and shape facts."""

    def __init__(self, module, input_shape, latent_dim: int, likelihood: str | None = None, sigma: float = 1.0):
        super().__init__()
        if not (callable(getattr(module, "encode", None)) and callable(getattr(module, "decode", None))):
            raise ConfigError(f"{type(module).__name__}: a model needs encode(x) -> (mu, logvar) and decode(z)")
        if likelihood is not None and likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood must be None or one of {LIKELIHOODS}, got {likelihood!r}")
        self.inner = module
        self.likelihood = likelihood
        """None: decode returns E[x|z] and there is no log-likelihood (the panels work, the ELBO gap does not)."""
        self.config = ModelConfig(input_shape=tuple(int(s) for s in input_shape), latent_dim=int(latent_dim),
                                  likelihood=likelihood or "bernoulli",
                                  sigma=float(sigma) if likelihood == "gaussian" else 0.0)
        self.vmapped = False  # what VAE's likelihood functions read
        self.register_parameter("log_sigma", None)
        self.name = type(module).__name__

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.inner.encode(x)
        if mu.shape != logvar.shape or mu.dim() != 2 or mu.shape[1] != self.config.latent_dim:
            raise ConfigError(f"{self.name}.encode gave mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)}: "
                              f"expected two (N, {self.config.latent_dim}) tensors")
        return mu, logvar

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.inner.decode(z)
        return out.reshape(len(z), *self.config.input_shape)

    def mean_image(self, params: torch.Tensor) -> torch.Tensor:
        if self.likelihood is None:
            return params.clamp(0.0, 1.0)
        return VAE.mean_image(self, params)

    def obs_log_sigma(self):
        return VAE.obs_log_sigma(self)

    def log_likelihood(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if self.likelihood is None:
            raise ConfigError(f"{self.name}: no likelihood was named, so there is no log p(x|z) (and no ELBO)")
        return VAE.log_likelihood(self, x, params)

    reparameterize = staticmethod(VAE.reparameterize)

    def posterior_samples(self, x, y, eps):
        return VAE.posterior_samples(self, x, y, eps)

    def describe(self) -> str:
        return (f"{self.name} (your own model: {self.config.latent_dim} latent dimensions, "
                f"{'decode gives E[x|z]' if self.likelihood is None else self.likelihood + ' likelihood'})")

