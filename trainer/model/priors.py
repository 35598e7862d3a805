"""The prior p(z) a model's rate, samples and importance weights use: N(0, I), or a learned VampPrior.

    prior = prior_of(model)                 # this step's p(z): STANDARD, or the VampPrior at the current weights
    prior.log_prob(z)                       # (...,) nats, z (..., latent_dim)
    prior.kl(mu, logvar, z)                 # (KL per example, per dimension): closed form, or Monte Carlo at z
    prior.sample(n, generator)              # (n, latent_dim) draws

The VampPrior (Tomczak & Welling 2018) is the encoder's own posterior averaged over K learned pseudo-inputs u_k:

    p(z) = (1/K) Σ_k q(z | u_k)

so it moves with the encoder and can take the shape of the aggregate posterior q(z) = (1/N) Σ_n q(z | x_n),
closing the "holes" N(0, I) leaves. The KL to it has no closed form: the rate is E_q[log q(z|x) − log p(z)], by
Monte Carlo at the sample z the decoder sees. The seeds' closed form ½Σ(μ² + σ² − 1 − log σ²) is the special case
p(z) = N(0, I). A mixture prior is not a product over dimensions, so "the KL of dimension j" is the KL to the
prior's marginal p_j(z_j) = (1/K) Σ_k N(z_j; μ_kj, σ²_kj); the per-dimension KLs then need not add up to the rate.
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per example and dimension, in nats: shape like mu."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def diagonal_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag e^logvar) per dimension, nats (broadcasting)."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))


class StandardNormal:
    """p(z) = N(0, I): the KL to it is exact."""

    exact_kl = True
    name = "standard"

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)

    def marginal_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p_j(z_j) per dimension: (..., latent_dim)."""
        return -0.5 * (z.pow(2) + LOG_2PI)

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor | None = None, per_dim: bool = True
           ) -> tuple[torch.Tensor, torch.Tensor]:
        """(KL(q ‖ p) per example, per dimension) in closed form; z is not needed (nor per_dim: it is free)."""
        dims = kl_per_dim(mu, logvar)
        return dims.sum(-1), dims

    def sample(self, n: int, dim: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return torch.randn(n, dim, generator=generator, device=device)


STANDARD = StandardNormal()


class MixturePrior:
    """p(z) = (1/K) Σ_k N(z; mu_k, diag e^logvar_k): the VampPrior at one set of weights (its components are the
    encoder's posteriors of the pseudo-inputs)."""

    exact_kl = False
    name = "vamp"

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor):
        self.mu, self.logvar = mu, logvar  # (K, latent_dim) each
        self.count = mu.shape[0]

    def component_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; mu_k, Σ_k) of every component, (..., K), in float64: two matrix products, no (…, K, D) tensor.

        The expanded quadratic form z²/σ² − 2zμ/σ² + μ²/σ² cancels: with a narrow component (σ² ~ 1e-7, which
        trained VampPriors reach) its terms are ~1e7 and float32 leaves errors of hundreds of nats, positive
        log-likelihoods included, which training could even exploit. float64 keeps it exact to ~1e-6 nats."""
        shape = z.shape[:-1]
        flat = z.reshape(-1, z.shape[-1]).double()
        mu, logvar = self.mu.double(), self.logvar.double()
        precision = torch.exp(-logvar)  # (K, D)
        quad = (flat.pow(2) @ precision.T - 2 * flat @ (mu * precision).T + (mu.pow(2) * precision).sum(-1))
        const = logvar.sum(-1) + z.shape[-1] * LOG_2PI
        return (-0.5 * (quad + const)).reshape(*shape, self.count)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return (torch.logsumexp(self.component_log_prob(z), dim=-1) - math.log(self.count)).to(z.dtype)

    def marginal_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p_j(z_j) = log (1/K) Σ_k N(z_j; mu_kj, sigma²_kj) per dimension: (..., latent_dim)."""
        per = diagonal_log_density(z.unsqueeze(-2), self.mu, self.logvar)  # (..., K, D)
        return torch.logsumexp(per, dim=-2) - math.log(self.count)

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor, per_dim: bool = True
           ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(log q(z|x) − log p(z) per example, log q(z_j|x) − log p_j(z_j) per dimension) at the sample z: single-
        sample Monte Carlo estimates of the KL and of each dimension's KL to the prior's marginal. The per-dimension
        figures are for showing (the KL strip), computed without a gradient, and only when asked: they take a
        (…, K, D) block, which IWAE's thousands of samples per example cannot afford (per_dim False: None)."""
        log_q = diagonal_log_density(z, mu, logvar)
        dims = None
        if per_dim:
            with torch.no_grad():
                dims = log_q - self.marginal_log_prob(z)
        return log_q.sum(-1) - self.log_prob(z), dims

    def sample(self, n: int, dim: int | None = None, generator: torch.Generator | None = None,
               device=None) -> torch.Tensor:
        # drawn where the generator lives (a CPU one gives the same draws on any device), then moved
        which = torch.randint(self.count, (n,), generator=generator).to(self.mu.device)
        eps = torch.randn(n, self.mu.shape[-1], generator=generator).to(self.mu.device, self.mu.dtype)
        return self.mu[which] + torch.exp(0.5 * self.logvar[which]) * eps


def prior_of(model):
    """The p(z) of `model` at its current weights: its own (a VampPrior), or N(0, I) for a model that has none
    (a hierarchy in prior coordinates, a duck-typed or foreign model)."""
    own = getattr(model, "prior", None)
    return own() if callable(own) else STANDARD
