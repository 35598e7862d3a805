"""Annealed importance sampling (Neal 2001): an estimate of log p(x) that tightens with the length of its path.

    result = ais_log_px(model, x, y, "cpu", AisSettings(steps=500), seed=0)   # x: numpy, uint8 or float
    result.log_px, result.se          # (N,) nats: each example's estimate and its standard error
    result.summary()                  # log_px_ais, log_px_ais_se, ais_steps, ais_chains, ais_leapfrog, ...
    run = anneal(model, xb, yb, settings, generator, proposal=(mu, logvar))   # one batch of tensors, from q

The path is geometric, from a start p_0 (the prior p(z), or a proposal q such as classical VI's q*) to the
unnormalized posterior p(z) p(x|z):

    f_t(z) = p_0(z)^(1 - b_t) (p(z) p(x|z))^(b_t),   0 = b_0 < b_1 < ... < b_T = 1 (a sigmoid schedule)

Each chain starts from p_0, adds (b_t - b_{t-1}) log(p(z) p(x|z) / p_0(z)) to its log weight at every step, and
then moves by one HMC transition (`leapfrog` steps) that leaves f_t invariant. exp(log weight) is an unbiased
estimate of p(x), so the log of the chains' mean is a stochastic lower bound on log p(x) (Grosse et al. 2015): in
expectation below it, and above it by c nats with probability at most e^-c. How far below shrinks as the path
gets longer (Wu et al. 2017 use the prior start to compare decoders; Cremer et al. 2018 use AIS for the gaps).

The leapfrog step size is adapted per example toward a target acceptance rate (as Wu et al.'s code does, over
all chains of the example); the schedule of step sizes a run used can be replayed (trainer.analysis.bdmc runs
the same path backwards with it). Noise comes from a CPU generator, so a seed gives the same estimate on any
device; the weights are summed in float64. Works on what sample_terms works on: a VAE (a CVAE with its labels),
a hierarchy (in prior coordinates, where p(z) = N(0, I) over the whole path), a ForeignVAE with a likelihood,
and a duck-typed model (encode, decode, log_likelihood, config.latent_dim).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from trainer.analysis.ais_settings import DEFAULT_AIS, AisSettings
from trainer.analysis.variational import LOG_2PI, log_q_at, sample_q
from trainer.model.priors import prior_of
from trainer.errors import ConfigError, Stopped
from trainer.model.vae import eval_mode
from trainer.pixels import to_float01

SCHEDULE_SHARPNESS = 4.0
"""The sigmoid schedule's δ (Grosse et al. 2013, Wu et al. 2017): small steps near both ends of the path."""
STEP_RANGE = (1e-4, 1.0)
"""Bounds on the adapted leapfrog step size, in prior units."""
ADAPT_RATE = 0.5
"""log step size += ADAPT_RATE * (acceptance - target) after each transition."""
_AIS_BUDGET = 1 << 22
"""Pixel values per decoder pass (chains x examples x pixels): its activations and gradients stay well below a GB."""


class AisCancelled(Stopped):
    """AIS stopped because should_stop() returned True."""


def schedule(steps: int, sharpness: float = SCHEDULE_SHARPNESS) -> torch.Tensor:
    """b_0 = 0 < ... < b_T = 1, float64 (T + 1,): a sigmoid in t rescaled to run from exactly 0 to exactly 1."""
    if steps == 1:
        return torch.tensor([0.0, 1.0], dtype=torch.float64)
    s = torch.sigmoid(sharpness * torch.linspace(-1.0, 1.0, steps + 1, dtype=torch.float64))
    return (s - s[0]) / (s[-1] - s[0])


@dataclass
class _State:
    """Chains at z (rows chain-major: row c * n + i is chain c of example i) with what the path needs there."""

    z: torch.Tensor
    log_p0: torch.Tensor
    """log p_0(z), float64."""
    log_ratio: torch.Tensor
    """log p(z) + log p(x|z) - log p_0(z), float64: what each step's weight takes b_t - b_{t-1} of."""
    grad_p0: torch.Tensor
    grad_ratio: torch.Tensor

    def log_f(self, beta: float) -> torch.Tensor:
        return self.log_p0 + beta * self.log_ratio

    def grad(self, beta: float) -> torch.Tensor:
        return self.grad_p0 + beta * self.grad_ratio

    def where(self, keep: torch.Tensor, other: "_State") -> "_State":
        """Row by row: self where `keep`, else other."""
        col = keep.unsqueeze(-1)
        return _State(torch.where(col, self.z, other.z), torch.where(keep, self.log_p0, other.log_p0),
                      torch.where(keep, self.log_ratio, other.log_ratio), torch.where(col, self.grad_p0, other.grad_p0),
                      torch.where(col, self.grad_ratio, other.grad_ratio))


class _Path:
    """The densities of the path for `chains` copies of a batch x: its start p_0 and the joint p(z) p(x|z)."""

    def __init__(self, model, x: torch.Tensor, y: torch.Tensor | None, chains: int, proposal=None):
        self.model, self.chains, self.n = model, chains, x.shape[0]
        self.x = x.unsqueeze(0).expand(chains, *x.shape).reshape(chains * self.n, *x.shape[1:])
        self.y = None if y is None else y.unsqueeze(0).expand(chains, *y.shape).reshape(-1, *y.shape[1:])
        self.proposal = proposal
        self.dim = int(model.config.latent_dim)
        with torch.no_grad():  # the prior's components (a VampPrior's) are constants of the path
            self.prior = prior_of(model)

    def start(self, generator: torch.Generator | None) -> torch.Tensor:
        """(chains * n, d) exact samples of p_0."""
        if self.proposal is None and not self.prior.exact_kl:  # a learned prior: a draw of its mixture
            return self.prior.sample(self.chains * self.n, self.dim, generator).to(self.x.device, self.x.dtype)
        eps = torch.randn((self.chains, self.n, self.dim), generator=generator).to(self.x.device, self.x.dtype)
        if self.proposal is None:
            return eps.reshape(-1, self.dim)
        return sample_q(self.model, *self.proposal, eps)[2].reshape(-1, self.dim)

    def _log_prior(self, z: torch.Tensor) -> torch.Tensor:
        if self.prior.exact_kl:
            return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        return self.prior.log_prob(z)

    def _log_p0(self, z: torch.Tensor) -> torch.Tensor:
        if self.proposal is None:
            return self._log_prior(z)
        return log_q_at(self.model, *self.proposal, z.view(self.chains, self.n, self.dim)).reshape(-1)

    def state(self, z: torch.Tensor) -> _State:
        """The chains at z: densities and their gradients in z (one decoder pass forward and back)."""
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            log_px_z = self.model.log_likelihood(self.x, self.model.decode(z, self.y))
            try:
                (grad_ll,) = torch.autograd.grad(log_px_z.sum(), z)
            except RuntimeError as exc:
                raise ConfigError(f"AIS needs log p(x|z) differentiable in z for its HMC steps, and the decoder's "
                                  f"is not ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
            log_p0 = self._log_p0(z)
            standard = self.proposal is None and self.prior.exact_kl
            grad_p0 = -z if standard else torch.autograd.grad(log_p0.sum(), z, retain_graph=True)[0]
            if self.prior.exact_kl:  # N(0, I): its log density and gradient in closed form
                log_pz, grad_pz = -0.5 * (z.detach().double().pow(2) + LOG_2PI).sum(-1), -z
            else:  # a learned prior (the VampPrior's mixture): by autograd
                log_pz = self.prior.log_prob(z)
                grad_pz = torch.autograd.grad(log_pz.sum(), z)[0]
                log_pz = log_pz.detach().double()
        z = z.detach()
        log_p0 = log_p0.detach().double()
        return _State(z, log_p0, log_px_z.detach().double() + log_pz - log_p0, grad_p0.detach(),
                      grad_ll + grad_pz.detach() - grad_p0.detach())


def _hmc(path: _Path, s: _State, beta: float, step: torch.Tensor, leapfrog: int,
         generator: torch.Generator | None) -> tuple[_State, torch.Tensor]:
    """One HMC transition that leaves f_beta invariant: (the chains' new state, accepted (rows,) bool).

    `step` (rows, 1) is each row's leapfrog step size. A trajectory that meets a non-finite density is rejected."""
    p = torch.randn(s.z.shape, generator=generator).to(s.z.device, s.z.dtype)
    h0 = -s.log_f(beta) + 0.5 * p.double().pow(2).sum(-1)
    p = p + 0.5 * step * s.grad(beta)
    new = s
    for i in range(leapfrog):
        new = path.state(new.z + step * p)
        if i < leapfrog - 1:
            p = p + step * new.grad(beta)
    p = p + 0.5 * step * new.grad(beta)
    h1 = -new.log_f(beta) + 0.5 * p.double().pow(2).sum(-1)
    u = torch.rand(h0.shape, generator=generator, dtype=torch.float64).to(h0.device)
    accept = torch.log(u) < h0 - h1  # NaN compares False: rejected
    accept &= torch.isfinite(new.log_f(beta)) & torch.isfinite(new.z).all(-1)
    return new.where(accept, s), accept


@dataclass(frozen=True)
class AnnealRun:
    """One batch's AIS: every chain's log weight and how its transitions went."""

    log_w: torch.Tensor
    """(chains, n) float64: each chain's log importance weight (forward: of p(x); backward: of 1/p(x))."""
    acceptance: torch.Tensor
    """(n,) the mean HMC acceptance rate of each example's chains over the path."""
    step_sizes: torch.Tensor
    """(T + 1, n) the leapfrog step size each example used at each distribution b_t (rows 0 and T unused)."""
    z: torch.Tensor = field(repr=False)
    """(chains, n, d) where the chains ended."""


def anneal(model, x: torch.Tensor, y: torch.Tensor | None, settings: AisSettings = DEFAULT_AIS,
           generator: torch.Generator | None = None, proposal=None, start: torch.Tensor | None = None,
           reverse: bool = False, step_sizes: torch.Tensor | None = None,
           on_step: Callable[[int], None] | None = None) -> AnnealRun:
    """AIS over one batch x (N, ...) on the model's device in its input range, `settings.chains` chains each.

    Forward (default): from p_0 (the prior, or the q whose parameters `proposal` (mu, logvar) gives in
    variational_parameters' layout: a VAE's Gaussian, a hierarchy's ladder q) to the posterior; exp(log_w)
    estimates p(x). With `reverse`, the same path run backwards from `start`
    ((chains, N, d) exact posterior samples) to p_0; exp(log_w) estimates 1/p(x) (Grosse et al. 2015).
    `step_sizes` (T + 1, N) replays a schedule of leapfrog step sizes instead of adapting one. on_step(t) after
    each of the T steps (it may raise to stop)."""
    settings.validate()
    c, n = settings.chains, x.shape[0]
    path = _Path(model, x, y, c, proposal)
    betas = schedule(settings.steps)
    if reverse:
        if start is None:
            raise ValueError("reverse AIS starts from exact posterior samples: pass start (chains, N, latent_dim)")
        betas = betas.flip(0)
    z = path.start(generator) if start is None else start.reshape(c * n, path.dim).to(x.device, x.dtype)
    adapt = step_sizes is None
    used = torch.full((settings.steps + 1, n), settings.step_size, dtype=torch.float64)
    if not adapt:
        used = step_sizes.detach().double().cpu().clone()
    eps = used[0].clone() if adapt else None
    log_w = torch.zeros(c * n, dtype=torch.float64, device=x.device)
    accepted = torch.zeros(n, dtype=torch.float64)
    lo, hi = STEP_RANGE
    with eval_mode(model):
        s = path.state(z)
        for t in range(1, settings.steps + 1):
            b_prev, b = float(betas[t - 1]), float(betas[t])
            log_w += (b - b_prev) * s.log_ratio
            index = settings.steps - t if reverse else t  # the distribution b_t of the forward path
            if t < settings.steps:  # the last distribution's transition changes no weight
                if adapt:
                    used[index] = eps
                step = used[index].to(x.device, x.dtype).repeat(c).unsqueeze(-1)
                s, ok = _hmc(path, s, b, step, settings.leapfrog, generator)
                rate = ok.double().view(c, n).mean(0).cpu()
                accepted += rate
                if adapt:
                    eps = (eps * torch.exp(ADAPT_RATE * (rate - settings.target_acceptance))).clamp(lo, hi)
            if on_step is not None:
                on_step(t)
    transitions = max(settings.steps - 1, 1)
    return AnnealRun(log_w.view(c, n), accepted / transitions, used, s.z.view(c, n, path.dim))


def log_mean_exp(log_w: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(log of the mean of exp(log_w) over dim 0, its standard error by the delta method), each (n,) float64.

    The SE is that of the chains' mean weight relative to the mean: std(w) / (sqrt(C) mean(w)), from weights
    scaled by their largest so nothing overflows. It says how noisy the estimate is, not how far below log p(x)
    its expectation lies (AIS's and IWAE's bias; a BDMC upper bound measures that)."""
    log_w = log_w.double().cpu()
    c = log_w.shape[0]
    top = log_w.max(0).values
    w = torch.exp(log_w - top)
    mean = w.mean(0)
    se = w.std(0, unbiased=True) / (math.sqrt(c) * mean) if c > 1 else torch.zeros_like(mean)
    return (torch.log(mean) + top).numpy(), se.numpy()


def set_stats(values: np.ndarray) -> tuple[float, float]:
    """(mean, standard error over the examples) of a per-example figure."""
    values = np.asarray(values, dtype=np.float64)
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
    return float(values.mean()), se


@dataclass(frozen=True)
class AisResult:
    """AIS's log p(x) of a set, per example, nats."""

    log_px: np.ndarray
    """(N,) log of the mean of each example's chains' weights: a stochastic lower bound on log p(x)."""
    se: np.ndarray
    """(N,) its Monte Carlo standard error over the chains (log_mean_exp)."""
    acceptance: np.ndarray
    """(N,) the mean HMC acceptance rate of each example's chains."""
    settings: AisSettings
    start: str
    """"prior", or the proposal the chains started from ("encoder", "optimized")."""

    @property
    def n(self) -> int:
        return len(self.log_px)

    def summary(self) -> dict:
        """eval --json's AIS keys: the set's mean, its SE over the examples (`_se`) and the chains' Monte Carlo
        part of that (`_mc_se`: the SE for these examples), the settings and the acceptance rate."""
        mean, se = set_stats(self.log_px)
        return {"log_px_ais": mean, "log_px_ais_se": se,
                "log_px_ais_mc_se": float(np.sqrt(np.sum(np.square(self.se))) / self.n),
                "ais_examples": self.n, "ais_steps": self.settings.steps, "ais_chains": self.settings.chains,
                "ais_leapfrog": self.settings.leapfrog,
                "ais_acceptance": float(np.mean(self.acceptance)) if self.settings.steps > 1 else None,
                "ais_start": self.start}


def chunk_rows(x_shape, chains: int) -> int:
    """Examples per AIS batch: chains x examples x pixels within _AIS_BUDGET."""
    pixels = int(np.prod(x_shape[1:])) if len(x_shape) > 1 else 1
    return max(1, _AIS_BUDGET // max(1, chains * pixels))


def estimate(model, x: torch.Tensor, y: torch.Tensor | None, settings: AisSettings = DEFAULT_AIS,
             generator: torch.Generator | None = None, proposal=None,
             on_step: Callable[[float], None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log_px, se, acceptance), each (N,): forward AIS (anneal) over one batch of tensors, `chunk_rows` examples
    at a time so memory stays bounded. on_step(fraction of the batch done) after each step."""
    rows = chunk_rows(tuple(x.shape), settings.chains)
    n = x.shape[0]
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for first in range(0, n, rows):
        sl = slice(first, min(first + rows, n))
        part = None if proposal is None else tuple(p[sl] for p in proposal)

        def step(t: int, first=first, done=sl.stop - first) -> None:
            if on_step is not None:
                on_step((first + done * t / settings.steps) / n)

        with torch.no_grad():
            run = anneal(model, x[sl], None if y is None else y[sl], settings, generator, proposal=part,
                         on_step=step)
        parts.append((*log_mean_exp(run.log_w), run.acceptance.numpy()))
    return tuple(np.concatenate(column) for column in zip(*parts))  # type: ignore[return-value]


def stopping(should_stop: Callable[[], bool] | None, progress: Callable[[str, float], None] | None,
             message: Callable[[], str], error: type[Stopped] = AisCancelled, every: float = 0.002
             ) -> Callable[[float], None]:
    """A callback fraction -> None that raises `error` when should_stop() says so, and passes progress on when
    the fraction moved by `every` (so a long path does not flood a window with a report per step)."""
    last = [-1.0]

    def check(fraction: float) -> None:
        if should_stop is not None and should_stop():
            raise error()
        if progress is not None and (fraction - last[0] >= every or fraction >= 1.0):
            last[0] = fraction
            progress(message(), min(fraction, 1.0))
    return check


def ais_log_px(model, x: np.ndarray, y: np.ndarray | None, device="cpu", settings: AisSettings = DEFAULT_AIS,
               seed: int = 0, progress: Callable[[str, float], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> AisResult:
    """AIS from the prior for each example of x (uint8 0..255 or float in the model's range; a CVAE's labels y),
    batched over examples and chains.

    progress(message, fraction) as the steps go; should_stop() is checked after every step and raises
    AisCancelled."""
    if len(x) == 0:
        raise ValueError("cannot estimate log p(x) of an empty set")
    settings.validate()
    n = len(x)
    rows = chunk_rows(x.shape, settings.chains)
    generator = torch.Generator().manual_seed(int(seed))
    conditional = y is not None and getattr(model.config, "conditional", False)
    parts = []
    done = [0.0]
    check = stopping(should_stop, progress, lambda: f"AIS: {int(done[0]):,} / {n:,} examples "
                                                    f"({settings.steps:,} steps, {settings.chains} chains each)")
    for first in range(0, n, rows):
        last = min(first + rows, n)
        xb = to_float01(torch.from_numpy(np.ascontiguousarray(x[first:last]))).to(device)
        yb = torch.as_tensor(np.asarray(y[first:last]), dtype=torch.long, device=device) if conditional else None

        def step(fraction: float, first=first, rows=last - first) -> None:
            done[0] = first + rows * fraction
            check(done[0] / n)

        parts.append(estimate(model, xb, yb, settings, generator, on_step=step))
    log_px, se, acceptance = (np.concatenate(column) for column in zip(*parts))
    return AisResult(log_px, se, acceptance, settings=settings, start="prior")
