"""Classical VI beside the encoder: the ELBO gap split into its approximation and amortization parts.

    result = inference_gaps(model, x, y, device, SviSettings(max_steps=500), k=1000)   # ais=GAPS_AIS
    result.summary()       # elbo_encoder, elbo_optimized, log_px, amortization_gap, approximation_gap (+ _se),
                           # log_px_estimator ("ais", "iwae-optimized" or "iwae-encoder"), log_px_ais, ...
    result.log_px, result.largest    # (N,) each example's log p(x), and which estimate was largest for it
    trace = optimize_point(model, x[:1], None, device)   # one example: μ and the ELBO at every step

Seed 001 §6: log p(x) = ELBO(q) + KL(q(z|x) ‖ p(z|x)). Cremer, Li & Duvenaud (2018, "Inference Suboptimality
in Variational Autoencoders") split that gap with q*, the best member of the family for this x:

    approximation gap   log p(x) - ELBO(q*)            what the Gaussian family cannot express
    amortization gap    ELBO(q*) - ELBO(q_φ(·|x))      what the encoder loses by guessing q in one pass

q* is found by classical variational inference (seed 001 §9): each x gets its own q, started from the encoder's
guess and improved by Adam on that x's ELBO (β = 1, the likelihood bound: never the training objective's β or
β-TCVAE weights) with several reparameterized samples a step, batched over examples, until the ELBO stops
improving (each time it stalls the step size halves; after `halvings` stalls, or `max_steps`, it stops).
What is optimized is trainer.analysis.variational's parameters: a VAE's (μ, log σ²); a hierarchy's per-layer
bottom-up Gaussians, so that q* stays in the ladder's family and its ELBO runs over all layers; a CVAE's
conditional on y.

log p(x) has up to three estimates per example, each a stochastic lower bound (below log p(x) in expectation, and
above it by c nats with probability at most e^-c): IWAE with K samples of the encoder's q ("iwae-encoder") and of
q* ("iwae-optimized"), and AIS from q* to p(z|x) ("ais", trainer.analysis.ais). The set takes the one with the
largest mean (GapResult.estimator; per example, which was largest is kept too). IWAE with a diagonal q* on a
correlated posterior converges slowly in K (on a linear-Gaussian model with a 1.25-nat approximation gap, K = 1000
fell 0.4-0.5 nats short), AIS from q* converges in its path's length (0.01 short there at GAPS_AIS), so AIS runs by
default; `ais=None` leaves it out.

The decoder's weights are frozen while q is optimized: this measures inference, it trains nothing.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import torch

from trainer.analysis.ais import estimate as ais_estimate
from trainer.analysis.ais import set_stats
from trainer.analysis.ais_settings import GAPS_AIS, AisSettings
from trainer.analysis.svi_settings import DEFAULT_SVI, SviSettings
from trainer.analysis.variational import importance_bounds, mean_latent, sample_terms, variational_parameters
from trainer.errors import Stopped
from trainer.model.vae import eval_mode
from trainer.pixels import to_float01


class GapsCancelled(Stopped):
    """inference_gaps or optimize_point stopped because should_stop() returned True."""


@contextmanager
def _frozen(model):
    """The model's weights take no gradient for the block (a duck-typed model without parameters: nothing)."""
    params = [p for p in getattr(model, "parameters", lambda: [])() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        with eval_mode(model):
            yield
    finally:
        for p in params:
            p.requires_grad_(True)


def optimize_q(model, x: torch.Tensor, y: torch.Tensor | None, mu0: torch.Tensor, logvar0: torch.Tensor,
               settings: SviSettings = DEFAULT_SVI, generator: torch.Generator | None = None,
               on_window: Callable[[int], None] | None = None,
               on_step: Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], None] | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(mu*, logvar*, steps): each example's q optimized on its own ELBO from (mu0, logvar0), one batch x.

    on_window(steps) is called after each window (progress; it may raise to stop); on_step(step, mu, logvar,
    elbo) after every step with the parameters reached and the step's ELBO estimate per example (N,)."""
    settings.validate()
    mu = mu0.detach().clone().requires_grad_(True)
    logvar = logvar0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([mu, logvar], lr=settings.lr)
    n, d = mu.shape
    previous, window_sum, stalls, step = -math.inf, 0.0, 0, 0
    with _frozen(model):
        while step < settings.max_steps:
            eps = torch.randn((settings.samples, n, d), generator=generator).to(device=mu.device, dtype=mu.dtype)
            # the ELBO as E_q log w (sample_terms' sticking-the-landing gradient); its value is the ELBO too
            elbo = sample_terms(model, x, y, mu, logvar, eps, sticking=True)[1].mean(0)  # (N,)
            opt.zero_grad(set_to_none=True)
            # a sum, so each example's gradient is its own ELBO's whatever the batch (Adam is per-coordinate)
            (-elbo.sum()).backward()
            opt.step()
            step += 1
            window_sum += float(elbo.detach().mean())
            if on_step is not None:
                on_step(step, mu.detach(), logvar.detach(), elbo.detach())
            if step % settings.window:
                continue
            mean = window_sum / settings.window
            window_sum = 0.0
            if on_window is not None:
                on_window(step)
            if mean - previous < settings.tol:
                stalls += 1
                if stalls > settings.halvings:
                    break
                for group in opt.param_groups:
                    group["lr"] *= 0.5
            previous = max(previous, mean)
    return mu.detach(), logvar.detach(), step


ESTIMATORS = ("iwae-encoder", "iwae-optimized", "ais")
"""The estimates of log p(x) a split may take each example's from, in GapResult.estimator's codes."""


@dataclass(frozen=True)
class GapResult:
    """Per-example bounds of amortized and classical inference on one set, nats; what summary() averages."""

    elbo_encoder: np.ndarray
    """(N,) ELBO of the encoder's q."""
    elbo_optimized: np.ndarray
    """(N,) ELBO of q*, the optimized q."""
    iwae_encoder: np.ndarray
    """(N,) IWAE with the encoder's q as the proposal."""
    iwae_optimized: np.ndarray
    """(N,) IWAE with q* as the proposal."""
    seconds_amortized: float
    """Wall time of the encoder's one forward pass over the set."""
    seconds_classical: float
    """Wall time of the optimization (without the IWAE scoring)."""
    steps: float
    """Mean Adam steps the examples took."""
    k: int
    settings: SviSettings = DEFAULT_SVI
    mean_encoder: np.ndarray | None = None
    """(N, latent_dim) the point the latent panels show for the encoder's q (a hierarchy: its mean path)."""
    mean_optimized: np.ndarray | None = None
    """(N, latent_dim) the same for q*."""
    ais: np.ndarray | None = None
    """(N,) AIS from q* (None: not run)."""
    ais_se: np.ndarray | None = None
    """(N,) its Monte Carlo standard error over the chains."""
    ais_acceptance: np.ndarray | None = None
    """(N,) the HMC acceptance rate of each example's chains."""
    ais_settings: AisSettings | None = None

    @property
    def n(self) -> int:
        return len(self.elbo_encoder)

    @property
    def proposal(self) -> str:
        """Which IWAE estimate is the tighter on this set: "optimized" (q*) or "encoder"."""
        return "optimized" if self.iwae_optimized.mean() >= self.iwae_encoder.mean() else "encoder"

    def estimates(self) -> dict[str, np.ndarray]:
        """Every estimate of log p(x) this split made, (N,) each, by estimator name (ESTIMATORS)."""
        out = {"iwae-encoder": self.iwae_encoder, "iwae-optimized": self.iwae_optimized}
        if self.ais is not None:
            out["ais"] = self.ais
        return out

    @property
    def estimator(self) -> str:
        """The estimate log_px takes: the one whose mean over the set is the largest (ESTIMATORS' names).

        Per set, not per example: each example's largest of three noisy estimates overshoots log p(x) (IWAE's
        rare large weights), which biased the linear-Gaussian approximation gap up by 0.1-0.16 nats."""
        means = {name: float(np.mean(values)) for name, values in self.estimates().items()}
        return max(means, key=means.get)

    @property
    def log_px(self) -> np.ndarray:
        """(N,) each example's log p(x) by `estimator`, nats: a stochastic lower bound."""
        return self.estimates()[self.estimator]

    @property
    def largest(self) -> np.ndarray:
        """(N,) str: which estimate was the largest for each example (what the set's choice is made of)."""
        names = list(self.estimates())
        return np.asarray(names)[np.argmax(np.stack(list(self.estimates().values())), axis=0)]

    def summary(self) -> dict:
        """Plain numbers, JSON-safe: every quantity as a mean over the examples and its standard error."""
        parts = {"elbo_encoder": self.elbo_encoder, "elbo_optimized": self.elbo_optimized, "log_px": self.log_px,
                 "log_px_encoder_proposal": self.iwae_encoder, "log_px_optimized_proposal": self.iwae_optimized,
                 "amortization_gap": self.elbo_optimized - self.elbo_encoder,
                 "approximation_gap": self.log_px - self.elbo_optimized,
                 "elbo_gap": self.log_px - self.elbo_encoder}
        if self.ais is not None:
            parts["log_px_ais"] = self.ais
        out: dict = {}
        for name, values in parts.items():
            out[name], out[f"{name}_se"] = set_stats(values)
        largest = self.largest
        out.update(n=self.n, k=self.k, log_px_proposal=self.proposal, log_px_estimator=self.estimator,
                   log_px_largest={name: int(np.sum(largest == name)) for name in self.estimates()},
                   svi_steps=self.steps, svi_max_steps=self.settings.max_steps, svi_samples=self.settings.samples,
                   seconds_per_example_amortized=self.seconds_amortized / self.n,
                   seconds_per_example_classical=self.seconds_classical / self.n)
        if self.ais is not None and self.ais_settings is not None:
            out.update(log_px_ais_mc_se=float(np.sqrt(np.sum(np.square(self.ais_se))) / self.n),
                       ais_steps=self.ais_settings.steps, ais_chains=self.ais_settings.chains,
                       ais_leapfrog=self.ais_settings.leapfrog, ais_start="optimized",
                       ais_acceptance=float(np.mean(self.ais_acceptance)) if self.ais_settings.steps > 1 else None)
        return out


def _batch(x: np.ndarray, y: np.ndarray | None, model, sl: slice, device):
    xb = to_float01(torch.from_numpy(np.ascontiguousarray(x[sl]))).to(device)
    if y is None or not getattr(model.config, "conditional", False):
        return xb, None
    return xb, torch.as_tensor(np.asarray(y[sl]), dtype=torch.long, device=device)


def inference_gaps(model, x: np.ndarray, y: np.ndarray | None, device="cpu", settings: SviSettings = DEFAULT_SVI,
                   k: int = 1000, batch_size: int = 100, seed: int = 0,
                   progress: Callable[[str, float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None, ais: AisSettings | None = GAPS_AIS) -> GapResult:
    """The approximation and amortization gaps of `model` on x (uint8 0..255 or float in the model's range).

    log p(x) per example is the largest of IWAE with K samples of each proposal and, unless `ais` is None, AIS from
    q* with those settings. progress(message, fraction) after each window of SVI steps, each chunk of IWAE samples
    scored and each stretch of AIS steps (so a large K or a long path moves the bar too); should_stop() is checked
    there and raises GapsCancelled. Noise comes from CPU generators seeded by `seed`."""
    if len(x) == 0:
        raise ValueError("cannot split the ELBO gap of an empty set")
    if k < 1:
        raise ValueError(f"IWAE needs k >= 1 samples, got {k}")
    if ais is not None:
        ais.validate()
    n = len(x)
    svi_noise = torch.Generator().manual_seed(int(seed))
    score_noise = torch.Generator().manual_seed(int(seed) + 1)
    ais_noise = torch.Generator().manual_seed(int(seed) + 2)
    columns: dict[str, list[np.ndarray]] = {}
    amortized = classical = 0.0
    steps = 0.0

    # each batch's share of the bar split by decoder passes per example: SVI's steps x samples, K for each of the
    # two proposals scored, then AIS's passes
    costs = np.array([settings.max_steps * settings.samples, 2 * k, 0 if ais is None else ais.passes], float)
    svi_share, iwae_share, _ = costs / max(costs.sum(), 1.0)

    def check(done: float, phase: str) -> None:
        if should_stop is not None and should_stop():
            raise GapsCancelled()
        if progress is not None:
            progress(f"{phase}: {int(done):,} / {n:,} examples", min(done / n, 1.0))

    def optimizing(start: int, rows: int, steps: int) -> None:  # the batch's share of the bar, by steps taken
        check(start + svi_share * rows * steps / max(settings.max_steps, 1), "optimizing q")

    def scoring(start: int, rows: int, which: int, name: str, drawn: int, total: int) -> None:
        scored = (which + drawn / total) / 2  # of the batch's two proposals
        check(start + rows * (svi_share + iwae_share * scored), f"IWAE of the {name} q ({drawn:,} / {total:,} samples)")

    reported = [-1.0]

    def annealing(start: int, rows: int, fraction: float) -> None:  # asked every step, reported every 1%
        if fraction - reported[0] < 0.01 and fraction < 1.0:
            if should_stop is not None and should_stop():
                raise GapsCancelled()
            return
        reported[0] = fraction if fraction < 1.0 else -1.0
        check(start + rows * (svi_share + iwae_share + (1 - svi_share - iwae_share) * fraction),
              f"AIS from q* ({ais.steps:,} steps)")

    for start in range(0, n, batch_size):
        sl = slice(start, min(start + batch_size, n))
        xb, yb = _batch(x, y, model, sl, device)
        rows = sl.stop - sl.start
        t0 = time.perf_counter()
        with torch.no_grad(), eval_mode(model):
            mu0, logvar0 = variational_parameters(model, xb, yb)
        amortized += time.perf_counter() - t0
        t0 = time.perf_counter()
        mu, logvar, used = optimize_q(model, xb, yb, mu0, logvar0, settings, svi_noise,
                                      on_window=partial(optimizing, start, rows))
        classical += time.perf_counter() - t0
        steps += used * rows
        _score_proposals(model, xb, yb, k, score_noise, {"encoder": (mu0, logvar0), "optimized": (mu, logvar)},
                         partial(scoring, start, rows), columns)
        if ais is not None:
            for key, values in zip(("ais", "ais_se", "ais_acceptance"),
                                   ais_estimate(model, xb, yb, ais, ais_noise, proposal=(mu, logvar),
                                                on_step=partial(annealing, start, rows))):
                columns.setdefault(key, []).append(values)
        check(sl.stop, "scored")
    return GapResult(**{key: np.concatenate(parts) for key, parts in columns.items()},
                     seconds_amortized=amortized, seconds_classical=classical, steps=steps / n, k=int(k),
                     settings=settings, ais_settings=ais)


def _score_proposals(model, xb, yb, k: int, noise: torch.Generator, proposals: dict, scoring, columns: dict) -> None:
    """Each proposal's ELBO, IWAE with K samples and mean point, appended to `columns` (elbo_NAME, iwae_NAME,
    mean_NAME); scoring(which, name, drawn, total) after each chunk of samples."""
    with eval_mode(model):
        for which, (name, proposal) in enumerate(proposals.items()):
            elbo, iwae = importance_bounds(model, xb, yb, k, generator=noise, proposal=proposal,
                                           progress=partial(scoring, which, name))
            columns.setdefault(f"elbo_{name}", []).append(elbo.double().cpu().numpy())
            columns.setdefault(f"iwae_{name}", []).append(iwae.double().cpu().numpy())
            with torch.no_grad():
                columns.setdefault(f"mean_{name}", []).append(mean_latent(model, *proposal).float().cpu().numpy())


@dataclass(frozen=True)
class PointTrace:
    """One example's classical VI, step by step: where its q's mean went and how its ELBO rose."""

    means: np.ndarray
    """(steps + 1, latent_dim) the point the latent panels show (q's mean; a hierarchy's mean path), the
    encoder's guess first and q*'s last."""
    elbo: np.ndarray
    """(steps + 1,) the ELBO, nats: the first and last from `k` samples, the others each step's own estimate."""
    mu: np.ndarray
    """(latent_dim,) q*'s parameters (a hierarchy: its bottom-up μ_d)."""
    logvar: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.elbo) - 1


def optimize_point(model, x: np.ndarray, y: np.ndarray | None, device="cpu", settings: SviSettings = DEFAULT_SVI,
                   k: int = 1000, seed: int = 0, progress: Callable[[str, float], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> PointTrace:
    """Classical VI for one example x (1, C, H, W), from the encoder's q: its path to q* (optimize_q)."""
    xb, yb = _batch(x, y, model, slice(0, 1), device)
    generator = torch.Generator().manual_seed(int(seed))
    score = torch.Generator().manual_seed(int(seed) + 1)
    means: list[np.ndarray] = []
    elbos: list[float] = []
    with torch.no_grad(), eval_mode(model):
        mu0, logvar0 = variational_parameters(model, xb, yb)
        means.append(mean_latent(model, mu0, logvar0)[0].float().cpu().numpy())
        elbos.append(float(importance_bounds(model, xb, yb, k, generator=score, proposal=(mu0, logvar0))[0][0]))

    def step(_step, mu, logvar, elbo) -> None:
        with torch.no_grad():
            means.append(mean_latent(model, mu, logvar)[0].float().cpu().numpy())
        elbos.append(float(elbo[0]))

    def window(done: int) -> None:
        if should_stop is not None and should_stop():
            raise GapsCancelled()
        if progress is not None:
            progress(f"step {done:,} of at most {settings.max_steps:,}, ELBO {elbos[-1]:.2f} nats",
                     done / max(settings.max_steps, 1))

    mu, logvar, _ = optimize_q(model, xb, yb, mu0, logvar0, settings, generator, on_window=window, on_step=step)
    with torch.no_grad(), eval_mode(model):
        elbos[-1] = float(importance_bounds(model, xb, yb, k, generator=score, proposal=(mu, logvar))[0][0])
    return PointTrace(means=np.stack(means), elbo=np.asarray(elbos), mu=mu[0].float().cpu().numpy(),
                      logvar=logvar[0].float().cpu().numpy())


# --- background work (explorer.runtime.background.LatestJob) -------------------------------------------------
def _private(model):
    """A model this thread may use alone: a DecoderSnapshot's own new CPU copy, or the model itself."""
    from trainer.analysis.snapshots import DecoderSnapshot

    return model.build_model() if isinstance(model, DecoderSnapshot) else model


def gaps_job(model, x: np.ndarray, y: np.ndarray | None, settings: SviSettings, k: int, seed: int,
             progress: Callable[[str, float], None], should_stop: Callable[[], bool]) -> GapResult:
    """inference_gaps on a DecoderSnapshot (or model) as background work; GapsCancelled when asked to stop."""
    # the slice is copied: snapshot arrays are read-only views, which torch.from_numpy warns about
    return inference_gaps(_private(model), np.array(x), None if y is None else np.array(y), "cpu", settings, k=k,
                          seed=seed, progress=progress, should_stop=should_stop)


def point_job(model, x: np.ndarray, y: np.ndarray | None, settings: SviSettings, k: int, seed: int,
              progress: Callable[[str, float], None], should_stop: Callable[[], bool]) -> PointTrace:
    """optimize_point on a DecoderSnapshot (or model) as background work; GapsCancelled when asked to stop."""
    return optimize_point(_private(model), np.array(x), None if y is None else np.array(y), "cpu", settings, k=k,
                          seed=seed, progress=progress, should_stop=should_stop)
