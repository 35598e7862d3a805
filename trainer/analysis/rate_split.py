"""The information inside the rate: how much of KL(q(z|x) ‖ p(z)) is information about x.

    split = rate_split(mu, logvar)            # encoder outputs on N held-out examples, (N, D) each
    split.mutual_information                  # I_q(X; Z) ≤ log N, nats
    split.marginal_kl                         # KL(q(z) ‖ p(z)) = total_correlation + dimwise_kl
    split.rate                                # E_x KL(q(z|x) ‖ p(z)) in closed form: I + marginal KL, within MC error
    rate_split(mu, logvar, labels=y)          # a CVAE: I(X; Z | Y), q(z|y) summed over each class's posteriors

Seed 001 §5: the KL term limits the information z carries about x, I(X; Z) ≤ KL(q(z|x) ‖ p(z)). With the
aggregate posterior q(z) = (1/N) Σ_n q(z|x_n) the rate splits exactly (Hoffman & Johnson 2016, "ELBO
surgery"):

    E_x KL(q(z|x) ‖ p(z)) = I_q(X; Z) + KL(q(z) ‖ p(z))
    KL(q(z) ‖ p(z))        = KL(q(z) ‖ Π_j q(z_j)) + Σ_j KL(q(z_j) ‖ p(z_j))      (total correlation + dimension-wise)

Each term is a Monte Carlo average over z ~ q(z|x_n), one or more draws per example, with q(z) and its
marginals q(z_j) summed over all N posteriors (in chunks, float64). Per draw the three parts add up to
log q(z|x) − log p(z) exactly, so they sum to the Monte Carlo rate; the closed-form rate is reported beside
them. Because q(z_n) ≥ q(z_n|x_n) / N, the estimate of I never exceeds log N: with few examples a very
informative code reads as log N, the most N examples can show. torch only, CPU or GPU; no Qt.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from trainer.errors import ConfigError, Stopped
from trainer.model.objective import gaussian_log_density

LOG_2PI = math.log(2 * math.pi)
CHUNK_ELEMENTS = 8 * 2**20
"""float64 values of one (draws x posteriors x dims) block: 64 MB of working memory at a time."""


@dataclass(frozen=True)
class RateSplit:
    """The rate of N held-out posteriors and its parts, nats per example."""

    rate: float
    """E_x KL(q(z|x) ‖ p(z)), closed form."""
    rate_mc: float
    """The same by Monte Carlo, over the draws the parts use: their exact sum."""
    mutual_information: float
    """I_q(X; Z) (a CVAE: I(X; Z | Y)): the information z carries about x."""
    marginal_kl: float
    """KL(q(z) ‖ p(z)): how far the aggregate posterior is from the prior (a CVAE: E_y KL(q(z|y) ‖ p(z)))."""
    total_correlation: float
    """KL(q(z) ‖ Π_j q(z_j)): dependence between the latent dimensions under q(z)."""
    dimwise_kl: float
    """Σ_j KL(q(z_j) ‖ p(z_j)): each dimension's marginal against the prior's."""
    log_n: float
    """log N, the ceiling of the estimate of I (a CVAE: E_y log N_y)."""
    n: int
    draws: int
    """Draws of z per example."""

    def to_dict(self) -> dict:
        return asdict(self)


def _check(mu: np.ndarray, logvar: np.ndarray, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    mu, logvar = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    if mu.ndim != 2 or mu.shape != logvar.shape or len(mu) < 2:
        raise ConfigError(f"rate_split needs (N, D) mu and logvar with N >= 2, got {mu.shape} and {logvar.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(logvar).all()):
        raise ConfigError("rate_split: mu and logvar must be finite")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(mu):
            raise ConfigError(f"rate_split: {len(labels)} labels for {len(mu)} posteriors")
    return mu, logvar, labels


def rate_split(mu, logvar, labels=None, draws: int = 1, seed: int = 0, device="cpu",
               progress: Callable[[str, float], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> RateSplit:
    """Split the rate of the posteriors N(mu_n, diag exp(logvar_n)) into information and marginal KL.

    labels: a CVAE's classes; the aggregate is then q(z|y), the posteriors of the examples of that class, and
    the information I(X; Z | Y). draws: z samples per example (more: less Monte Carlo noise, the same cost per
    draw). should_stop() is asked between chunks and raises trainer.errors.Stopped.
    """
    mu_np, logvar_np, labels = _check(mu, logvar, labels)
    n, d = mu_np.shape
    draws = int(draws)
    if draws < 1:
        raise ConfigError(f"rate_split: draws must be >= 1, got {draws}")
    dev = torch.device(device)
    mu_t = torch.from_numpy(mu_np).to(dev)
    logvar_t = torch.from_numpy(logvar_np).to(dev)
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    eps = torch.randn(draws, n, d, generator=g, dtype=torch.float64).to(dev)
    z = (mu_t + torch.exp(0.5 * logvar_t) * eps).reshape(draws * n, d)  # draw k of example i at row k * n + i
    owner = torch.arange(n, device=dev).repeat(draws)
    if labels is None:
        group = torch.zeros(n, dtype=torch.long, device=dev)
    else:
        _, inverse = np.unique(labels, return_inverse=True)
        group = torch.from_numpy(inverse.astype(np.int64)).to(dev)
    group_size = torch.bincount(group).to(torch.float64)
    log_group_n = torch.log(group_size)[group]  # (N,) log N_y of each example's class (log N without labels)

    log_qzx = gaussian_log_density(z, mu_t[owner], logvar_t[owner]).sum(1)  # log q(z|x) of each draw's own x
    log_pz_dims = -0.5 * (LOG_2PI + z.pow(2))
    log_qz, log_qz_dims = _aggregate_log_density(z, group[owner], mu_t, logvar_t, group, progress, should_stop)
    log_qz = log_qz - log_group_n[owner]
    log_qz_dims = log_qz_dims - log_group_n[owner, None]

    mutual_information = (log_qzx - log_qz).mean().item()
    total_correlation = (log_qz - log_qz_dims.sum(1)).mean().item()
    dimwise_kl = (log_qz_dims - log_pz_dims).sum(1).mean().item()
    rate_mc = (log_qzx - log_pz_dims.sum(1)).mean().item()
    rate = float(0.5 * (mu_np**2 + np.exp(logvar_np) - 1.0 - logvar_np).sum(1).mean())
    return RateSplit(rate=rate, rate_mc=rate_mc, mutual_information=mutual_information,
                     marginal_kl=total_correlation + dimwise_kl, total_correlation=total_correlation,
                     dimwise_kl=dimwise_kl, log_n=float(log_group_n.mean().item()), n=n, draws=draws)


def _aggregate_log_density(z, z_group, mu, logvar, group, progress, should_stop):
    """log Σ_m q(z_i | x_m) and, per dimension, log Σ_m q(z_ij | x_m), over the posteriors m of z_i's group.

    Chunked over the draws and the posteriors, with a running logsumexp, so memory stays at CHUNK_ELEMENTS."""
    rows, d = z.shape
    n = mu.shape[0]
    cols = max(1, min(n, CHUNK_ELEMENTS // max(1, d * min(rows, 1024))))
    step = max(1, min(rows, CHUNK_ELEMENTS // max(1, d * cols)))
    log_qz = torch.empty(rows, dtype=torch.float64, device=z.device)
    log_qz_dims = torch.empty(rows, d, dtype=torch.float64, device=z.device)
    done = 0
    for start in range(0, rows, step):
        zs, gs = z[start:start + step, None, :], z_group[start:start + step, None]
        joint = torch.full((zs.shape[0],), -math.inf, dtype=torch.float64, device=z.device)
        dims = torch.full((zs.shape[0], d), -math.inf, dtype=torch.float64, device=z.device)
        for c0 in range(0, n, cols):
            if should_stop is not None and should_stop():
                raise Stopped("rate split stopped")
            per_dim = gaussian_log_density(zs, mu[None, c0:c0 + cols], logvar[None, c0:c0 + cols])
            other = (gs != group[None, c0:c0 + cols])  # another class's posterior: not in q(z|y)
            per_dim = per_dim.masked_fill(other[:, :, None], -math.inf)
            joint = torch.logaddexp(joint, torch.logsumexp(per_dim.sum(2), dim=1))
            dims = torch.logaddexp(dims, torch.logsumexp(per_dim, dim=1))
            done += zs.shape[0] * per_dim.shape[1]
            if progress is not None:
                progress("splitting the rate", done / (rows * n))
        log_qz[start:start + step], log_qz_dims[start:start + step] = joint, dims
    return log_qz, log_qz_dims
