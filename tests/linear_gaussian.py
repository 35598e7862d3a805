"""A linear-Gaussian VAE whose log p(x) and posterior are known in closed form (tests of the metrics and gaps).

    p(z) = N(0, I_d),  p(x|z) = N(Wz + b, s^2 I),  so  p(x) = N(b, W W^T + s^2 I)  and
    p(z|x) = N(A (x - b), P^-1)  with  P = I + W^T W / s^2,  A = P^-1 W^T / s^2.

The posterior has a full covariance unless W's columns are orthogonal (`orthogonal=True`), when P is diagonal
and the diagonal-Gaussian family holds it exactly. The encoder is deliberately wrong so the ELBO gap is several
nats: diagonal, `var_scale` times the mean-field variance 1/P_jj (overdispersed, so importance sampling still
converges), and a mean shifted by `shift`. Duck-typed: only what trainer.analysis uses.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch.distributions import MultivariateNormal

LOG_2PI = math.log(2 * math.pi)


class LinearGaussianVAE:
    def __init__(self, dx=10, dz=3, s=0.5, seed=0, var_scale=3.0, shift=0.2, orthogonal=False):
        g = torch.Generator().manual_seed(seed)
        self.config = SimpleNamespace(latent_dim=dz, conditional=False)
        self.W = torch.randn(dx, dz, generator=g, dtype=torch.float64)
        if orthogonal:
            q, _ = torch.linalg.qr(self.W)
            self.W = q * torch.linspace(0.6, 1.6, dz, dtype=torch.float64)
        self.b = torch.randn(dx, generator=g, dtype=torch.float64)
        self.s = s
        self.precision = torch.eye(dz, dtype=torch.float64) + self.W.T @ self.W / s**2
        self.A = torch.linalg.solve(self.precision, self.W.T) / s**2  # exact posterior mean = A (x - b)
        self.var = var_scale / torch.diagonal(self.precision)
        self.shift = shift
        self.generator = g

    def encode(self, x, y=None):
        x = x.double()
        mu = (x - self.b) @ self.A.T + self.shift
        return mu.float(), torch.log(self.var).float().expand(x.shape[0], -1)

    def decode(self, z, y=None):
        return (z.double() @ self.W.T + self.b).float()

    def log_likelihood(self, x, mean):
        return (-0.5 * ((x.double() - mean.double()) ** 2 / self.s**2 + LOG_2PI) - math.log(self.s)).sum(-1).float()

    def sample_observation(self, mean, generator=None):
        """x ~ p(x|z) for the decoder's output (what BDMC simulates data with)."""
        noise = torch.randn(mean.shape, generator=generator, dtype=torch.float64)
        return (mean.double() + self.s * noise).float()

    # --- exact references ---
    def sample_x(self, n):
        z = torch.randn(n, self.W.shape[1], generator=self.generator, dtype=torch.float64)
        return z @ self.W.T + self.b + self.s * torch.randn(n, len(self.b), generator=self.generator,
                                                            dtype=torch.float64)

    def log_px(self, x):
        cov = self.W @ self.W.T + self.s**2 * torch.eye(len(self.b), dtype=torch.float64)
        return MultivariateNormal(self.b, cov).log_prob(x.double())

    def posterior_mean(self, x):
        return (x.double() - self.b) @ self.A.T

    def posterior_covariance(self):
        return torch.linalg.inv(self.precision)

    def elbo(self, x):
        """Analytic per-example ELBO: E_q log p(x|z) in closed form minus the closed-form KL."""
        x = x.double()
        mu = (x - self.b) @ self.A.T + self.shift
        dx = len(self.b)
        expected_sq = ((x - mu @ self.W.T - self.b) ** 2).sum(-1) + (self.W**2 @ self.var).sum()
        expected_ll = -0.5 * expected_sq / self.s**2 - dx * (0.5 * LOG_2PI + math.log(self.s))
        kl = 0.5 * (mu**2 + self.var - 1 - torch.log(self.var)).sum(-1)
        return expected_ll - kl

    def encoder_kl_to_posterior(self):
        """KL(q_encoder(z|x) ‖ p(z|x)), the same for every x (the encoder's error is a constant shift and scale)."""
        cov = self.posterior_covariance()
        shift = torch.full((len(self.var),), self.shift, dtype=torch.float64)
        q = MultivariateNormal(shift, torch.diag(self.var))
        return torch.distributions.kl_divergence(q, MultivariateNormal(torch.zeros_like(shift), cov)).item()

    def best_diagonal_kl(self):
        """KL(q* ‖ p(z|x)) for q* the best diagonal Gaussian: mean the posterior's, variance 1 / P_jj."""
        return 0.5 * (torch.log(torch.diagonal(self.precision)).sum() - torch.logdet(self.precision)).item()
