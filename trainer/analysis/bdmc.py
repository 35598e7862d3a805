"""Bidirectional Monte Carlo (Grosse, Ghahramani & Adams 2015): log p(x) sandwiched on data the model simulates.

    result = bdmc(model, 50, AisSettings(steps=1000), seed=0)
    result.summary()     # bdmc_lower, bdmc_upper (each with _se), bdmc_gap, bdmc_examples, ...

Simulate (z, x) from the model: z ~ p(z), x ~ p(x|z) (a CVAE: a label y drawn uniformly first). Then z is an exact
sample of p(z|x), and AIS can run both ways along the same path (trainer.analysis.ais):

    forward, from p(z) to p(z|x):   E[w] = p(x)       log mean w       a stochastic lower bound on log p(x)
    reverse, from z to p(z):        E[w] = 1 / p(x)   -log mean w      a stochastic upper bound on log p(x)

The true log p(x) lies between them (within noise), so upper - lower bounds how far below log p(x) AIS of this
length, and any looser lower bound (the ELBO, IWAE), may lie on data like the model's own. The reverse chains
replay the step sizes the forward chains adapted for the same example, so each reverse transition is a fixed
HMC kernel. Every chain of an example starts from the same exact sample; each is an unbiased estimate of 1/p(x),
so their mean is too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from trainer.model.priors import prior_of

from trainer.analysis.ais import set_stats, anneal, chunk_rows, log_mean_exp, stopping
from trainer.analysis.ais_settings import DEFAULT_AIS, AisSettings
from trainer.errors import ConfigError
from trainer.model.vae import eval_mode

_CB_SMALL = 1e-3  # |logit| below which a continuous Bernoulli sample is u + eta u (1 - u) / 2 (its Taylor series)


def sample_observation(model, params: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """x ~ p(x|z) for decoder outputs `params`: binary x for a Bernoulli likelihood, [0, 1] for a continuous
    Bernoulli (its inverse CDF), mean + sigma * noise for a Gaussian. A duck-typed model brings its own
    sample_observation(params, generator)."""
    if hasattr(model, "sample_observation"):
        return model.sample_observation(params, generator)
    if getattr(model, "likelihood", "") is None:  # a ForeignVAE whose decode gives E[x|z]: no p(x|z) to sample
        model.log_likelihood(params, params)  # raises its own one-line ConfigError
    likelihood = getattr(model.config, "likelihood", None)
    u = torch.rand(params.shape, generator=generator, dtype=torch.float64).to(params.device)
    if likelihood == "bernoulli":
        return (u < torch.sigmoid(params.double())).to(params.dtype)
    if likelihood == "continuous-bernoulli":
        # F(x) = (lambda^x (1 - lambda)^(1 - x) + lambda - 1) / (2 lambda - 1) inverted: x = log(1 - u + u e^eta) / eta
        eta = params.double()
        small = eta.abs() < _CB_SMALL
        safe = torch.where(small, torch.ones_like(eta), eta)
        exact = torch.logaddexp(torch.log1p(-u), torch.log(u) + safe) / safe
        return torch.where(small, u + eta * u * (1 - u) / 2, exact).clamp(0.0, 1.0).to(params.dtype)
    if likelihood == "gaussian":
        noise = torch.randn(params.shape, generator=generator).to(params.device, params.dtype)
        return params + math.exp(float(model.obs_log_sigma())) * noise
    raise ConfigError(f"BDMC simulates data from the model's likelihood, and {type(model).__name__} names none "
                      f"it can sample ({likelihood!r})")


def simulate(model, n: int, generator: torch.Generator | None, device="cpu"
             ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """(x, y, z): n draws of z ~ p(z) (a hierarchy: its whole path, prior coordinates) and x ~ p(x|z[, y]), y
    uniform over a CVAE's classes (None otherwise)."""
    d = int(model.config.latent_dim)
    with torch.no_grad(), eval_mode(model):
        prior = prior_of(model)
        # N(0, I) keeps its own draw (the same z as before learned priors); a VampPrior draws from its mixture
        z = (torch.randn((n, d), generator=generator) if prior.exact_kl else prior.sample(n, d, generator)).to(device)
    y = None
    if getattr(model.config, "conditional", False):
        y = torch.randint(0, int(model.config.num_classes), (n,), generator=generator).to(device)
    with torch.no_grad(), eval_mode(model):
        x = sample_observation(model, model.decode(z, y), generator)
    return x, y, z


@dataclass(frozen=True)
class BdmcResult:
    """Per simulated example, nats: the forward AIS lower bound and the reverse AIS upper bound on log p(x)."""

    lower: np.ndarray
    lower_se: np.ndarray
    """(N,) the Monte Carlo SE over each example's chains (log_mean_exp)."""
    upper: np.ndarray
    upper_se: np.ndarray
    acceptance: np.ndarray
    """(N,) mean HMC acceptance of the forward and reverse chains."""
    settings: AisSettings

    @property
    def n(self) -> int:
        return len(self.lower)

    def summary(self) -> dict:
        """eval --bdmc's keys: each bound's mean and SE over the simulated examples, and the sandwich's width."""
        out: dict = {}
        for name, values in (("bdmc_lower", self.lower), ("bdmc_upper", self.upper),
                             ("bdmc_gap", self.upper - self.lower)):
            out[name], out[f"{name}_se"] = set_stats(values)
        out.update(bdmc_examples=self.n, bdmc_steps=self.settings.steps, bdmc_chains=self.settings.chains,
                   bdmc_leapfrog=self.settings.leapfrog,
                   bdmc_acceptance=float(np.mean(self.acceptance)) if self.settings.steps > 1 else None)
        return out


def bdmc(model, n: int, settings: AisSettings = DEFAULT_AIS, seed: int = 0, device="cpu",
         progress: Callable[[str, float], None] | None = None,
         should_stop: Callable[[], bool] | None = None) -> BdmcResult:
    """The BDMC sandwich on n examples simulated from `model`, `chunk_rows` examples at a time.

    progress(message, fraction) as the steps go; should_stop() after every step raises AisCancelled."""
    if n < 1:
        raise ValueError(f"BDMC needs at least one simulated example, got {n}")
    settings.validate()
    generator = torch.Generator().manual_seed(int(seed))
    x, y, z = simulate(model, n, generator, device)
    rows = chunk_rows(tuple(x.shape), settings.chains)
    at = {"way": "forward", "t": 0, "rows": ""}
    check = stopping(should_stop, progress, lambda: f"BDMC {at['way']}: step {at['t']:,} / {settings.steps:,} of "
                                                    f"simulated examples {at['rows']} of {n:,}")
    parts = []
    for first in range(0, n, rows):
        sl = slice(first, min(first + rows, n))
        xb, yb, zb = x[sl], None if y is None else y[sl], z[sl]
        at["rows"] = f"{first + 1:,}-{sl.stop:,}"

        def step(t: int, half: int, first=first, size=sl.stop - first) -> None:
            at["t"] = t
            check((first + size * (half + t / settings.steps) / 2) / n)

        with torch.no_grad():
            at["way"] = "forward"
            forward = anneal(model, xb, yb, settings, generator, on_step=lambda t: step(t, 0))
            at["way"] = "reverse"
            start = zb.unsqueeze(0).expand(settings.chains, *zb.shape)
            reverse = anneal(model, xb, yb, settings, generator, start=start, reverse=True,
                             step_sizes=forward.step_sizes, on_step=lambda t: step(t, 1))
        lower, lower_se = log_mean_exp(forward.log_w)
        inverse, upper_se = log_mean_exp(reverse.log_w)
        parts.append((lower, lower_se, -inverse, upper_se, ((forward.acceptance + reverse.acceptance) / 2).numpy()))
    columns = [np.concatenate(column) for column in zip(*parts)]
    return BdmcResult(*columns, settings=settings)
