"""Diagnostics the window shows beside the curves: active units, posterior collapse, and the ELBO gap.

    state = collapse_state(latents.kl_per_dim, latents.mu_variance)   # active units, posterior collapse
    gap = estimate_log_px(snapshot, x_test, k=100)    # ELBO, IWAE log p(x) and their gap, in any thread

The numbers themselves (per-dimension KL, IWAE, MIG) are computed by trainer.analysis.metrics; this module judges them.
torch is imported inside estimate_log_px only, so the window can import `collapse_state` before torch has loaded.
Log-densities are in nats per example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from trainer.errors import Stopped
from trainer.analysis.snapshots import DecoderSnapshot

ACTIVE_KL_NATS = 0.01
"""A latent dimension whose KL(q(z_j|x) ‖ p(z_j)) is below this many nats carries (almost) no information."""
ACTIVE_VARIANCE = 0.01
"""Burda et al. 2016: dimension j is active when Var_x(E_q[z_j|x]) exceeds this (prior units squared)."""
COLLAPSE_RATE_NATS = 0.05
"""Total rate (nats per example) below which the whole posterior counts as collapsed onto the prior."""
NEAR_PRIOR_NATS_PER_DIM = 1.0
"""With no unit active, the posterior counts as collapsed only while its rate is below this many nats per latent
dimension: q(z|x) then ignores x and sits near p(z). A freshly built encoder also ignores x for its first few
dozen steps, but with its means far from 0 (3-4 nats per dimension seen on sprites); that is not a collapse."""


# --- active units and posterior collapse ----------------------------------------------------------
@dataclass(frozen=True)
class CollapseState:
    """Which latent dimensions carry information, and whether the posterior has collapsed onto the prior."""

    active: np.ndarray
    """bool (latent_dim,): the dimension is in use."""
    n_active: int
    rate: float
    """Sum of the per-dimension KL, nats per example."""
    collapsed: bool
    """Rate ≈ 0 or no active unit: z tells the decoder (almost) nothing about x."""
    measure: str
    """"variance" (Burda et al. activity of mu), "kl" (per-dimension KL threshold) — what `active` used — or
    "none": no held-out encoding describes the model, so no unit is counted (`active` all True, nothing greyed)
    and the collapse is judged by the rate alone (uncounted_state)."""

    @property
    def latent_dim(self) -> int:
        return int(len(self.active))

    @property
    def counted(self) -> bool:
        """Whether `active` and `n_active` say something (measure is not "none")."""
        return self.measure != "none"


def uncounted_state(kl_per_dim, rate_threshold: float = COLLAPSE_RATE_NATS) -> CollapseState:
    """The rate and the collapse when no held-out encoding describes the model: active units are not counted
    (the window counts them one way only, Burda et al.'s Var_x(μ_j) > 0.01, never by a second rule meanwhile);
    the posterior counts as collapsed when its whole rate is below `rate_threshold`."""
    kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
    rate = float(kl.sum()) if len(kl) else 0.0
    return CollapseState(active=np.ones(len(kl), bool), n_active=len(kl), rate=rate, measure="none",
                         collapsed=bool(len(kl)) and rate < rate_threshold)


def uncounted_layers(kl_per_dim, dims) -> tuple[CollapseState, ...]:
    """uncounted_state of each layer of a hierarchy (dims bottom first); () for one layer."""
    kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
    dims = tuple(int(d) for d in dims or ())
    if len(dims) < 2 or sum(dims) != len(kl):
        return ()
    bounds = np.cumsum((0, *dims))
    return tuple(uncounted_state(kl[a:b]) for a, b in zip(bounds[:-1], bounds[1:]))


def variance_describes(variance_step: int | None, kl_step: int | None) -> bool:
    """Whether a held-out Var_x(μ) measured at `variance_step` may judge the activity of a model at `kl_step`.

    The held-out set is encoded every N steps, the live KL arrives with every report. An encoding made before
    the model had trained half as long as now describes an earlier model: right after the start (encoded at
    the first report, μ still near their initial values) it would call every unit inactive, and the window
    would warn of a collapse while the rate climbs past 40 nats. Then the live KL decides instead.
    """
    if variance_step is None or kl_step is None:
        return True
    return 2 * int(variance_step) >= int(kl_step)


def collapse_state(kl_per_dim, mu_variance=None, kl_threshold: float = ACTIVE_KL_NATS,
                   variance_threshold: float = ACTIVE_VARIANCE,
                   rate_threshold: float = COLLAPSE_RATE_NATS) -> CollapseState:
    """Active units and posterior collapse.

    With `mu_variance` (Var_x of the posterior means, same length) a dimension is active when it exceeds
    `variance_threshold` (Burda et al. 2016): that is the better test, because a dimension can pay KL for a
    posterior variance != 1 while its mean ignores x. Without it, a dimension is active when its KL is at
    least `kl_threshold` nats. Collapsed, q(z|x) ≈ p(z): the total rate is below `rate_threshold`, or no unit is
    active and the rate is below NEAR_PRIOR_NATS_PER_DIM per dimension (means that ignore x but sit far from
    the prior's are a young encoder, not a collapse).
    """
    kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
    if mu_variance is not None and len(np.asarray(mu_variance).reshape(-1)) == len(kl):
        active = np.asarray(mu_variance, dtype=np.float64).reshape(-1) > variance_threshold
        measure = "variance"
    else:
        active = kl >= kl_threshold
        measure = "kl"
    rate = float(kl.sum()) if len(kl) else 0.0
    n_active = int(active.sum())
    near_prior = rate < NEAR_PRIOR_NATS_PER_DIM * len(kl)
    return CollapseState(active=active, n_active=n_active, rate=rate, measure=measure,
                         collapsed=bool(len(kl)) and (rate < rate_threshold or (n_active == 0 and near_prior)))



def layer_collapse(kl_per_dim, dims, mu_variance=None) -> tuple[CollapseState, ...]:
    """collapse_state of each layer of a hierarchical VAE (dims: each layer's size, bottom first); () for one layer
    or when the sizes do not cover kl_per_dim. An upper layer can collapse while the rate of the whole is healthy:
    the known failure of a hierarchy trained without warm-up (Sønderby et al. 2016)."""
    kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
    dims = tuple(int(d) for d in dims or ())
    if len(dims) < 2 or sum(dims) != len(kl):
        return ()
    variance = None if mu_variance is None else np.asarray(mu_variance, dtype=np.float64).reshape(-1)
    bounds = np.cumsum((0, *dims))
    return tuple(collapse_state(kl[a:b], None if variance is None or len(variance) != len(kl) else variance[a:b])
                 for a, b in zip(bounds[:-1], bounds[1:]))


# --- the ELBO gap --------------------------------------------------------------------------------
class Cancelled(Stopped):
    """estimate_log_px stopped because should_stop() returned True."""


def estimate_log_px_job(model, x: np.ndarray, y: np.ndarray | None, k: int, n: int | None,
                        progress: Callable[[str, float], None], should_stop: Callable[[], bool]) -> dict:
    """estimate_log_px as background work (explorer.runtime.background.LatestJob): progress(message, fraction)
    with "done / total examples" after each batch, and Cancelled (a trainer.errors.Stopped) when asked to stop."""
    def batches(done: int, total: int) -> None:
        progress(f"{int(done):,} / {total:,} examples", done / max(total, 1))  # done: fractional within IWAE

    return estimate_log_px(model, x, y, k=k, n=n, progress=batches, should_stop=should_stop)


def estimate_log_px(model, x: np.ndarray, y: np.ndarray | None = None, k: int = 100, n: int | None = None,
                    progress: Callable[[int, int], None] | None = None, should_stop: Callable[[], bool] | None = None,
                    seed: int = 0) -> dict:
    """ELBO, IWAE log p(x) with k samples, and their gap, averaged over the first n examples of x (nats), each
    with its standard error over those examples (`_se`; None for one example).

    `model` is a DecoderSnapshot (a private CPU copy is built, so this may run in any thread) or a VAE.
    The gap log p(x) − ELBO = E_x KL(q(z|x) ‖ p(z|x)); since the IWAE estimate is itself a lower bound on
    log p(x) (tight as k grows), the gap it gives is a lower bound on that KL. `progress(done, total)` is
    called after each batch; `should_stop()` is checked there and raises Cancelled.
    """
    import torch

    from trainer.analysis.metrics import evaluate

    net = model.build_model() if isinstance(model, DecoderSnapshot) else model
    if n is not None:
        x = x[: int(n)]
        y = None if y is None else y[: int(n)]
    # the evaluated slice is copied: snapshot arrays are read-only views, which torch.from_numpy warns about
    x = np.array(x)
    y = None if y is None else np.array(y)
    pixels = int(np.prod(np.asarray(x).shape[1:]))
    # ~1M pixel values per batch of k samples: batches of a fraction of a second, so progress and cancel respond
    batch = int(max(1, min(256, (1 << 20) // max(1, int(k) * pixels))))

    def report(done: int, total: int) -> None:
        if should_stop is not None and should_stop():
            raise Cancelled()
        if progress is not None:
            progress(done, total)

    device = next(net.parameters()).device if hasattr(net, "parameters") else "cpu"
    result = evaluate(net, x, y, device, batch_size=batch, iwae_samples=int(k),
                      generator=torch.Generator().manual_seed(int(seed)), progress=report)
    return {
        "elbo": result["elbo"],
        "elbo_se": result["elbo_se"],
        "log_px": result["iwae_log_px"],
        "log_px_se": result["iwae_log_px_se"],
        "gap": result["elbo_gap"],
        "gap_se": result["elbo_gap_se"],
        "rate": result["rate"],
        "distortion": result["distortion"],
        "k": int(k),
        "n": result["n"],
        "step": int(getattr(model, "step", 0)),
    }

