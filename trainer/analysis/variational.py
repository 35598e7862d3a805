"""q(z|x) as parameters of its own: what classical VI optimizes per example, and the bounds any proposal gives.

    mu, logvar = variational_parameters(model, x, y)        # what the encoder says, (N, latent_dim) each
    mu_q, logvar_q, z = sample_q(model, mu, logvar, eps)    # eps (S, N, latent_dim): S samples of that q
    elbo, iwae = importance_bounds(model, x, y, k, proposal=(mu, logvar))   # (N,) nats, any proposal

For a VAE the parameters are q's own (μ, log σ²). For a hierarchy (trainer.model.hierarchy) they are each
layer's bottom-up Gaussian (μ_d, log σ²_d), concatenated bottom first: the ladder's q(z_l | z_{l+1}, x) merges
them with the generative path, so any value of them is a member of the family the encoder is confined to,
and sampling a path (sample_q) gives the per-layer q in prior coordinates the KL is taken in. A duck-typed
model (encode, decode, log_likelihood, config.latent_dim) is treated as a VAE.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from trainer.model.hierarchy import HierarchicalVAE, merge_gaussians, to_prior_coordinates
from trainer.model.objective import gaussian_log_density, log_importance_weights
from trainer.model.priors import prior_of
from trainer.model.vae import eval_mode

LOG_2PI = math.log(2 * math.pi)

# Pixel values per decoder pass in importance_bounds when `chunk` is left at 0: about 64 MB per float32
# tensor, so K=5000 on a batch of 64x64 RGB images stays bounded.
_IWAE_BUDGET = 1 << 24


def is_hierarchy(model) -> bool:
    return isinstance(model, HierarchicalVAE)


def variational_parameters(model, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar), each (N, latent_dim): the encoder's q for x, as the parameters classical VI starts from."""
    if is_hierarchy(model):
        up = model.bottom_up(x, y)
        return torch.cat([m for m, _ in up], dim=-1), torch.cat([lv for _, lv in up], dim=-1)
    return model.encode(x, y)


def sample_q(model, mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mu_q, logvar_q, z), each (S, N, latent_dim): S samples of the q that parameters (N, latent_dim) describe,
    for standard normal noise eps (S, N, latent_dim). z is what the model's decode takes; mu_q and logvar_q
    are the Gaussian z was drawn from (for a hierarchy, each layer's q along the sample's own path)."""
    if not is_hierarchy(model):
        return mu.expand_as(eps), logvar.expand_as(eps), mu + torch.exp(0.5 * logvar) * eps
    s, n, d = eps.shape
    up = [(m.repeat(s, 1), lv.repeat(s, 1)) for m, lv in _per_layer(model, mu, logvar)]
    mu_q, logvar_q, u, _ = model.top_down(up, eps.reshape(s * n, d))
    return mu_q.view(s, n, d), logvar_q.view(s, n, d), u.view(s, n, d)


def mean_latent(model, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The point the latent panels show for these parameters: q's mean (a hierarchy: its mean path)."""
    if not is_hierarchy(model):
        return mu
    return model.top_down(_per_layer(model, mu, logvar), None)[0]


def _per_layer(model, mu: torch.Tensor, logvar: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A hierarchy's concatenated bottom-up parameters as its top_down takes them: one (mu_d, logvar_d) a layer."""
    dims = list(model.dims)
    return list(zip(torch.split(mu, dims, -1), torch.split(logvar, dims, -1)))


def sample_terms(model, x: torch.Tensor, y: torch.Tensor | None, mu: torch.Tensor, logvar: torch.Tensor,
                 eps: torch.Tensor, sticking: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(elbo, log_w), each (S, N) nats, for S samples of q(mu, logvar) given by eps (S, N, latent_dim):

        elbo  = log p(x|z) - KL(q ‖ p(z))       the KL in closed form (a hierarchy: per layer, on the path)
        log_w = log p(x|z) + log p(z) - log q(z|x)   the importance weight IWAE averages

    Both are differentiable in mu and logvar (z is reparameterized). With `sticking`, log q in log_w is taken
    with mu and logvar held fixed, at the live z: the same value, and the "sticking the landing" gradient of
    Roeder, Wu & Duvenaud (2017), which drops the score term (zero in expectation). Its variance vanishes as q
    reaches p(z|x), so classical VI settles on an exact posterior instead of jittering around it."""
    s, n, d = eps.shape
    mu_q, logvar_q, z = sample_q(model, mu, logvar, eps)
    flat_x = x.unsqueeze(0).expand(s, *x.shape).reshape(s * n, *x.shape[1:])
    flat_y = None if y is None else y.unsqueeze(0).expand(s, *y.shape).reshape(s * n, *y.shape[1:])
    log_px_z = model.log_likelihood(flat_x, model.decode(z.reshape(s * n, d), flat_y)).view(s, n)
    prior = prior_of(model)
    log_pz = prior.log_prob(z)
    if prior.exact_kl:
        kl = prior.kl(mu_q, logvar_q)[0]  # closed form under N(0, I)
    else:  # a learned prior's at z, from the log p(z) the weights need anyway (a mixture's costs K densities)
        kl = gaussian_log_density(z, mu_q, logvar_q).sum(-1) - log_pz
    if sticking:
        return log_px_z - kl, log_px_z + log_pz - log_q_at(model, mu.detach(), logvar.detach(), z)
    return log_px_z - kl, log_importance_weights(log_px_z, log_pz, eps, logvar_q)


def log_q_at(model, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log q(z) (S, N) nats for given points z (S, N, latent_dim) of the q that parameters (N, latent_dim) give.

    A hierarchy's q(u_l | u_{>l}, x) is evaluated along z's own path: each layer's prior is stepped from the
    layers of z above it (differentiably in z), then merged with that layer's bottom-up Gaussian."""
    if not is_hierarchy(model):
        return gaussian_log_density(z, mu, logvar).sum(-1)
    s, n, d = z.shape
    parts = torch.split(z.reshape(s * n, d), list(model.dims), -1)
    up = [(m.repeat(s, 1), lv.repeat(s, 1)) for m, lv in _per_layer(model, mu, logvar)]
    total = torch.zeros(s * n, dtype=z.dtype, device=z.device)
    z_above = None
    for layer in reversed(range(model.layers)):
        mu_d, logvar_d = up[layer]
        if z_above is None:
            mu_p, logvar_p = torch.zeros_like(mu_d), torch.zeros_like(logvar_d)
        else:
            mu_p, logvar_p = model.prior_step(layer, z_above)
        mu_u, logvar_u = to_prior_coordinates(*merge_gaussians(mu_d, logvar_d, mu_p, logvar_p), mu_p, logvar_p)
        total = total + gaussian_log_density(parts[layer], mu_u, logvar_u).sum(-1)
        z_above = mu_p + torch.exp(0.5 * logvar_p) * parts[layer]
    return total.view(s, n)


@torch.no_grad()
def importance_bounds(model, x: torch.Tensor, y: torch.Tensor | None, k: int, chunk: int = 0,
                      generator: torch.Generator | None = None, proposal=None,
                      progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(elbo, iwae), each (N,) nats: K samples of a proposal q, averaged two ways (Burda et al. 2016):

        elbo ≈ mean_k [log p(x|z_k) - KL(q ‖ p(z))]      iwae = logsumexp_k log w_k - log K

    The proposal is `(mu, logvar)` parameters (variational_parameters' layout), or None for the encoder's q.
    IWAE is a lower bound on log p(x) in expectation whatever the proposal, and tighter the closer the proposal
    is to p(z|x). `x` is one batch on the model's device in its input range. The K samples go through the
    decoder `chunk` at a time (0 = as many as keep one pass near 16M pixel values), folded into a running
    logsumexp, so memory does not grow with K. Noise is drawn on the CPU from `generator`, so a seed gives the
    same estimate on any device. progress(done, k) is called after each chunk with the samples drawn so far (it
    may raise to stop), so a large K reports as it goes instead of only when it ends. The model runs in eval mode
    (batch norm on its running statistics), whatever mode it was in."""
    if k < 1:
        raise ValueError(f"IWAE needs k >= 1 samples, got {k}")
    with eval_mode(model):
        return _importance_bounds(model, x, y, k, chunk, generator, proposal, progress)


def _importance_bounds(model, x, y, k, chunk, generator, proposal, progress):
    n = x.shape[0]
    if chunk <= 0:
        chunk = max(1, min(k, _IWAE_BUDGET // max(1, n * x[0].numel())))
    mu, logvar = variational_parameters(model, x, y) if proposal is None else proposal
    d = int(mu.shape[-1])
    total = torch.full((n,), -math.inf, dtype=torch.float64, device=x.device)
    elbo_sum = torch.zeros((n,), dtype=torch.float64, device=x.device)
    done = 0
    while done < k:
        kc = min(chunk, k - done)
        eps = torch.randn((kc, n, d), generator=generator).to(device=x.device, dtype=x.dtype)
        elbo, log_w = sample_terms(model, x, y, mu, logvar, eps)
        # float64 running logsumexp: K=5000 terms of order -1e3 nats lose nothing
        total = torch.logaddexp(total, torch.logsumexp(log_w.double(), dim=0))
        elbo_sum += elbo.double().sum(0)
        done += kc
        if progress is not None:
            progress(done, k)
    return (elbo_sum / k).to(x.dtype), (total - math.log(k)).to(x.dtype)
