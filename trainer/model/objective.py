"""The negative ELBO and its terms, all in nats per example.

    recon  = -E_q[log p(x|z)]           distortion: summed over pixels, averaged over the batch
    kl     = KL(q(z|x) || p(z))          rate: with p(z) = N(0, I) in closed form, 1/2 sum_j (mu^2 + sigma^2 - 1 -
                                         log sigma^2); with a learned prior (the VampPrior, trainer.model.priors)
                                         log q(z|x) - log p(z) at the sample z, a Monte Carlo estimate
    elbo   = -(recon + kl)               a lower bound on log p(x) when p(x|z) is a normalized density of
                                         the data (see trainer/likelihood.py); positive is possible
    loss   = recon + beta * kl           (with free bits: KL_j below lambda nats is not penalised)

β-TCVAE (Chen, Li, Grosse & Duvenaud 2018) splits the KL term on the minibatch and weighs its parts:

    loss   = recon + alpha * MI + beta * TC + gamma * dimension-wise KL
    MI     = E log q(z|x) - log q(z)             index-code mutual information
    TC     = E log q(z) - Σ_j log q(z_j)          total correlation: what β-TCVAE penalizes
    dw-KL  = E Σ_j log q(z_j) - log p(z_j)

with q(z) = (1/N) Σ_n q(z|x_n) over the N training examples, estimated from the batch (`minibatch_log_qz`).
The reported rate stays the closed-form KL, so every model's curves speak of the same quantity.

IWAE (Burda, Grosse & Salakhutdinov 2016) trains on a tighter bound than the ELBO, with K samples per example:

    loss   = -(logsumexp_k log w_k - log K),   log w = log p(x|z_k) + log p(z_k) - log q(z_k|x),  z_k ~ q(z|x)

It is not distortion + β·rate: the reported recon and KL are the K samples' means (the ELBO of the same
encoder), and the loss is the bound. K = 1 is the VAE (negative_elbo, with its closed-form KL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from trainer.model.priors import kl_per_dim, prior_of
from trainer.model.vae import VAE

__all__ = ["kl_per_dim"]  # (re-exported: the closed form of the seeds, trainer.model.priors)


def gaussian_kl(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor
                ) -> torch.Tensor:
    """KL(N(mu_q, e^logvar_q) ‖ N(mu_p, e^logvar_p)) per element, nats:

        1/2 (logvar_p - logvar_q + (e^logvar_q + (mu_q - mu_p)^2) / e^logvar_p - 1)

    With mu_p = 0 and logvar_p = 0 it is kl_per_dim, the seeds' 1/2 (mu^2 + sigma^2 - 1 - log sigma^2)."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) * torch.exp(-logvar_p) - 1.0)


LOG_2PI = math.log(2 * math.pi)


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
    total_correlation: torch.Tensor | None = None
    """β-TCVAE only: the batch's estimate of the total correlation it weighs by β (its sampling's: MSS or MWS),
    nats per example; the history keeps it beside the held-out TC so the two can be compared."""

    @property
    def elbo(self) -> torch.Tensor:
        return -(self.recon + self.kl)


@dataclass(frozen=True)
class TcWeights:
    """β-TCVAE's weights besides β (which weighs the total correlation) and what its estimator needs."""

    alpha: float = 1.0
    """Weight of the index-code mutual information."""
    gamma: float = 1.0
    """Weight of the dimension-wise KL."""
    dataset_size: int = 1
    """N, the training examples q(z) averages over."""
    sampling: str = "mss"
    """mss (minibatch stratified sampling) or mws (minibatch-weighted sampling); see minibatch_log_qz."""

    @classmethod
    def of(cls, config, dataset_size: int) -> "TcWeights | None":
        """A TrainConfig's β-TCVAE weights for N training examples, or None when it trains the ELBO."""
        if config.objective != "tcvae":
            return None
        return cls(float(config.tc_alpha), float(config.tc_gamma), int(dataset_size), config.tc_sampling)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) elementwise (broadcasting), nats."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def minibatch_log_qz(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, dataset_size: int,
                     sampling: str = "mss") -> tuple[torch.Tensor, torch.Tensor]:
    """(log q(z_i), log q(z_ij) per dimension) for each z_i of a batch, q the aggregate posterior over N examples.

    The batch's M posteriors stand in for the N: q(z_i) ≈ Σ_m w_im q(z_i | x_m).
      mss  the default: the batch as a stratified sample. z_i's own posterior weighs 1/N, the other M - 1 stand
           for the other N - 1 examples, (N - 1) / (N (M - 1)) each. An unbiased estimate of q(z_i) for a batch
           drawn without replacement (its log is low only by Jensen's gap), and exact when the batch is the whole
           set (M = N).
      mws  w = 1/(N M) for every m (Chen et al. 2018, eq. 5). Biased, and not by a constant: where the
           posteriors overlap, q̂(z_i) ≈ q(z_i) / N (offset −log N); where they are separated, only z_i's own
           posterior counts and q̂(z_i) ≈ q(z_i) / M (offset −log M). The offset moves with how much the posteriors
           overlap, which training changes, so it biases MI, TC and the dimension-wise KL and their gradients:
           with N = 5,000 and M = 64 the batch's TC sat about 34 nats from the full set's.
    """
    m, n = z.shape[0], int(dataset_size)
    per_dim = gaussian_log_density(z[:, None, :], mu[None, :, :], logvar[None, :, :])  # (M, M, D): z_i under x_m
    if sampling == "mws":
        log_w = torch.full((m, m), -math.log(n * m), dtype=z.dtype, device=z.device)
    elif sampling == "mss":
        other = math.log((n - 1) / (n * (m - 1))) if m > 1 and n > 1 else -math.inf
        log_w = torch.full((m, m), other, dtype=z.dtype, device=z.device)
        log_w.fill_diagonal_(-math.log(n))
    else:
        raise ValueError(f"sampling must be mws or mss, got {sampling!r}")
    log_qz = torch.logsumexp(per_dim.sum(2) + log_w, dim=1)
    log_qz_dims = torch.logsumexp(per_dim + log_w[:, :, None], dim=1)
    return log_qz, log_qz_dims


def tc_decomposition(z, mu, logvar, dataset_size: int, sampling: str = "mss") -> tuple[torch.Tensor, ...]:
    """(MI, TC, dimension-wise KL) of a batch, each a scalar in nats: the β-TCVAE split of its KL term."""
    log_qzx = gaussian_log_density(z, mu, logvar).sum(1)
    log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))  # (M, D)
    log_qz, log_qz_dims = minibatch_log_qz(z, mu, logvar, dataset_size, sampling)
    mi = (log_qzx - log_qz).mean()
    tc = (log_qz - log_qz_dims.sum(1)).mean()
    dw_kl = (log_qz_dims - log_pz).sum(1).mean()
    return mi, tc, dw_kl


def log_importance_weights(log_px_z: torch.Tensor, log_pz: torch.Tensor, eps: torch.Tensor, logvar_q: torch.Tensor
                           ) -> torch.Tensor:
    """log w = log p(x|z) + log p(z) - log q(z|x) per sample, nats: (K, N) for K samples z (K, N, latent_dim) drawn
    as z = mu_q + sigma_q * eps, log_pz their log prior (trainer.model.priors). log q needs only eps:
    log N(eps; 0, I) - sum log sigma_q."""
    log_qz = -0.5 * (eps.pow(2) + LOG_2PI).sum(-1) - 0.5 * logvar_q.sum(-1)
    return log_px_z + log_pz - log_qz


def repeat_samples(t: torch.Tensor | None, k: int) -> torch.Tensor | None:
    """(N, ...) -> (K * N, ...): a batch repeated for K samples each, sample-major (as z.reshape(K * N, D))."""
    if t is None:
        return None
    return t.unsqueeze(0).expand(k, *t.shape).reshape(k * t.shape[0], *t.shape[1:])


def iwae_terms(model: VAE, x: torch.Tensor, y: torch.Tensor | None, eps: torch.Tensor, forward=None) -> Terms:
    """The IWAE loss of a batch for K samples per example given by eps (K, N, latent_dim): the negative
    importance-weighted bound, with the K samples' mean distortion and closed-form KL beside it (their sum is the
    ELBO of the same encoder, which IWAE does not maximise). `forward` as in negative_elbo."""
    k, n, _ = eps.shape
    mu, logvar, z, params = (forward or model)(x, y, eps)  # each (K, N, latent_dim); params (K * N, ...)
    log_px_z = model.log_likelihood(repeat_samples(x, k), params).view(k, n)
    prior = prior_of(model)
    log_w = log_importance_weights(log_px_z, prior.log_prob(z), eps, logvar)
    bound = (torch.logsumexp(log_w, dim=0) - math.log(k)).mean()
    if prior.exact_kl:
        kl_dims = kl_per_dim(mu, logvar).mean((0, 1))
        return Terms(loss=-bound, recon=-log_px_z.mean(), kl=kl_dims.sum(), kl_per_dim=kl_dims)
    kl, kl_dims = prior.kl(mu[0], logvar[0], z[0])  # Monte Carlo at the first sample (a mixture's marginals are dear)
    return Terms(loss=-bound, recon=-log_px_z.mean(), kl=kl.mean(), kl_per_dim=kl_dims.mean(0))


def objective_terms(model: VAE, x: torch.Tensor, y: torch.Tensor | None = None, beta: float | torch.Tensor = 1.0,
                    free_bits: float | torch.Tensor = 0.0, eps: torch.Tensor | None = None, forward=None,
                    tc: TcWeights | None = None, kl_reduce=None) -> Terms:
    """A training step's objective, chosen by the noise it is given: eps of K samples per example (K, N,
    latent_dim) trains IWAE (TrainConfig.validate keeps β at 1 and free bits off there), eps (N, latent_dim) the
    ELBO or β-TCVAE (negative_elbo)."""
    if eps is not None and eps.dim() == 3:
        return iwae_terms(model, x, y, eps, forward=forward)
    return negative_elbo(model, x, y, beta=beta, free_bits=free_bits, eps=eps, forward=forward, tc=tc,
                         kl_reduce=kl_reduce)


def negative_elbo(
    model: VAE,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    beta: float | torch.Tensor = 1.0,
    free_bits: float | torch.Tensor = 0.0,
    eps: torch.Tensor | None = None,
    forward=None,
    tc: TcWeights | None = None,
    kl_reduce=None,
) -> Terms:
    """The beta-VAE loss on a batch, with one reparameterized sample per example; with `tc`, β-TCVAE's.

    beta and free_bits are numbers, or tensors of one value per latent dimension: a hierarchical VAE's weights
    per layer (trainer.training.layer_weights), or under an ensemble's vmap one value per run.

    `forward` runs the model's forward pass in its place: a DistributedDataParallel wrapper of it
    (trainer.training.distributed), whose gradient averaging hooks on to that call. `kl_reduce` maps this shard's
    per-dimension mean KL to the whole global batch's (an all-reduce): free bits decide their clamp on that, so
    a step of W processes charges, and differentiates, what one process's step over the same batch would."""
    mu, logvar, z, params = (forward or model)(x, y, eps)
    recon = model.recon_nll(x, params)
    prior = prior_of(model)
    if not prior.exact_kl:  # a learned prior: the rate by Monte Carlo at z (free bits and β-TCVAE are refused)
        kl_each, kl_dims_each = prior.kl(mu, logvar, z)
        kl = kl_each.mean()
        return Terms(loss=recon + beta * kl, recon=recon, kl=kl, kl_per_dim=kl_dims_each.mean(0))
    kl_dims = kl_per_dim(mu, logvar).mean(0)
    kl = kl_dims.sum()
    if tc is not None:
        mi, total_correlation, dw_kl = tc_decomposition(z, mu, logvar, tc.dataset_size, tc.sampling)
        loss = recon + tc.alpha * mi + beta * total_correlation + tc.gamma * dw_kl
        return Terms(loss=loss, recon=recon, kl=kl, kl_per_dim=kl_dims, total_correlation=total_correlation)
    if torch.is_tensor(free_bits) or free_bits > 0:  # a tensor: each run of an ensemble has its own
        # Kingma et al. 2016: each dimension's batch-averaged KL is charged at least lambda nats,
        # so the optimiser gains nothing by pushing a dimension below lambda and collapsing it.
        if kl_reduce is None:
            kl_charged = torch.clamp(kl_dims, min=free_bits)
        else:  # the shard's own KL where the global batch's exceeds λ (its gradient), λ where it does not
            kl_charged = torch.where(kl_reduce(kl_dims.detach()) > free_bits, kl_dims,
                                     torch.as_tensor(free_bits, dtype=kl_dims.dtype, device=kl_dims.device))
    else:
        kl_charged = kl_dims
    if torch.is_tensor(beta) and beta.dim() > 0:
        return Terms(loss=recon + (beta * kl_charged).sum(), recon=recon, kl=kl, kl_per_dim=kl_dims)
    return Terms(loss=recon + beta * kl_charged.sum(), recon=recon, kl=kl, kl_per_dim=kl_dims)
