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

from trainer.analysis.information_ceiling import ceiling_note, near_ceiling  # noqa: F401  (re-exported)
from trainer.errors import ConfigError, Stopped
from trainer.model.objective import gaussian_log_density

LOG_2PI = math.log(2 * math.pi)
CHUNK_ELEMENTS = 4 * 2**20
"""float64 values of one (draws x posteriors x dims) block: 32 MB of working memory at a time."""


@dataclass(frozen=True)
class RateSplit:
    """The rate of N held-out posteriors and its parts, nats per example, each Monte Carlo part with its standard
    error over the examples (`<part>_se`).

    The estimate of I(X; Z) is exact for these N points but biased low against the population's value well before
    its ceiling log N: a larger N reads more. `mutual_information_at_half_n` is the same estimate on every other
    point (N/2 of them); `near_ceiling` says I is still climbing with N or within CEILING_MARGIN nats of log N, and
    then total correlation and the marginal KL absorb what I misses (the parts still add up to the rate)."""

    rate: float
    """E_x KL(q(z|x) ‖ p(z)): closed form under N(0, I); under a learned prior, rate_mc."""
    rate_mc: float
    """The same by Monte Carlo, over the draws the parts use: their exact sum."""
    mutual_information: float
    """I_q(X; Z) (a CVAE: I(X; Z | Y)): the information z carries about x."""
    marginal_kl: float
    """KL(q(z) ‖ p(z)): how far the aggregate posterior is from the prior (a CVAE: E_y KL(q(z|y) ‖ p(z)))."""
    total_correlation: float | None
    """KL(q(z) ‖ Π_j q(z_j)): dependence between the latent dimensions under q(z). None for a hierarchy, whose
    q(z_j | x) is no Gaussian (a lower layer's depends on the sample above), so q(z_j) has no sum to take."""
    dimwise_kl: float | None
    """Σ_j KL(q(z_j) ‖ p(z_j)): each dimension's marginal against the prior's. None for a hierarchy."""
    log_n: float
    """log N, the ceiling of the estimate of I (a CVAE: E_y log N_y)."""
    n: int
    draws: int
    """Draws of z per example."""
    layers: tuple[dict, ...] = ()
    """A hierarchy: each layer's {rate, mutual_information, marginal_kl}, bottom first. By the chain rule the
    layers' I(X; U_l | U_{>l}) add up to the joint I(X; U), and their rates and marginal KLs to the joint ones."""
    mutual_information_se: float = math.nan
    """Standard error of I over the examples (the spread of log q(z|x) − log q(z) per example / sqrt N)."""
    marginal_kl_se: float = math.nan
    total_correlation_se: float | None = None
    dimwise_kl_se: float | None = None
    mutual_information_at_half_n: float = math.nan
    """I estimated on every other point (N/2 of them, the same draws): below I by more than its SE, it is still
    climbing with N."""

    @property
    def near_ceiling(self) -> bool:
        """I is within CEILING_MARGIN nats of log N, or still climbing from N/2 to N by more than its SE: the
        estimate is short of the population's I, and TC and the marginal KL absorb the shortfall."""
        return near_ceiling(self.mutual_information, self.mutual_information_se, self.mutual_information_at_half_n,
                            self.log_n)

    def to_dict(self) -> dict:
        return {**asdict(self), "near_ceiling": self.near_ceiling}


def _se(per_example: torch.Tensor) -> float:
    """Standard error of the mean of per-example values."""
    n = per_example.shape[0]
    return float(per_example.std(unbiased=True) / math.sqrt(n)) if n > 1 else math.nan


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


def _groups(labels, n: int, dev) -> tuple[torch.Tensor, torch.Tensor]:
    """Each example's group (its class for a CVAE, else 0) and log N_y of its group (log N without labels)."""
    if labels is None:
        group = torch.zeros(n, dtype=torch.long, device=dev)
    else:
        _, inverse = np.unique(labels, return_inverse=True)
        group = torch.from_numpy(inverse.astype(np.int64)).to(dev)
    return group, torch.log(torch.bincount(group).to(torch.float64))[group]


def rate_split(mu, logvar, labels=None, draws: int = 1, seed: int = 0, device="cpu",
               progress: Callable[[str, float], None] | None = None,
               should_stop: Callable[[], bool] | None = None, prior=None) -> RateSplit:
    """Split the rate of the posteriors N(mu_n, diag exp(logvar_n)) into information and marginal KL.

    labels: a CVAE's classes; the aggregate is then q(z|y), the posteriors of the examples of that class, and
    the information I(X; Z | Y). draws: z samples per example (more: less Monte Carlo noise, the same cost per
    draw). should_stop() is asked between chunks and raises trainer.errors.Stopped. prior: a learned p(z)
    (trainer.model.priors.MixturePrior, the VampPrior's components) in place of N(0, I); the rate is then its
    Monte Carlo KL, the marginal KL is taken to it directly, and the dimension-wise KL is to its marginals p_j (a
    mixture is no product of them, so total correlation + dimension-wise KL need not add up to the marginal KL).
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
    if prior is not None:
        prior = type(prior)(prior.mu.detach().to(dev, torch.float64), prior.logvar.detach().to(dev, torch.float64))
    info, tc, dw, rate_mc, log_n, info_half, marginal = _flat_parts(mu_t, logvar_t, eps, labels, progress,
                                                                    should_stop, prior)
    if prior is None:  # N(0, I): the rate in closed form, and the marginal KL is exactly TC + dimension-wise KL
        rate = float(0.5 * (mu_np**2 + np.exp(logvar_np) - 1.0 - logvar_np).sum(1).mean())
        marginal = tc + dw
    else:
        rate = float(rate_mc.mean())
    return RateSplit(rate=rate, rate_mc=float(rate_mc.mean()), mutual_information=float(info.mean()),
                     marginal_kl=float(marginal.mean()), total_correlation=float(tc.mean()),
                     dimwise_kl=float(dw.mean()), log_n=log_n, n=n, draws=draws,
                     mutual_information_se=_se(info), marginal_kl_se=_se(marginal), total_correlation_se=_se(tc),
                     dimwise_kl_se=_se(dw),
                     mutual_information_at_half_n=float(info_half.mean()) if n >= 4 else math.nan)


def _prior_terms(z: torch.Tensor, prior) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(z), log p_j(z_j) per dimension) of each row of z: N(0, I), or a learned prior's in row blocks (its
    marginals make a rows x K x D block)."""
    if prior is None:
        dims = -0.5 * (LOG_2PI + z.pow(2))
        return dims.sum(1), dims
    rows = max(1, CHUNK_ELEMENTS // max(1, prior.count * z.shape[1]))
    joint = torch.cat([prior.log_prob(z[r:r + rows]) for r in range(0, len(z), rows)])
    dims = torch.cat([prior.marginal_log_prob(z[r:r + rows]) for r in range(0, len(z), rows)])
    return joint, dims


def _flat_parts(mu_t, logvar_t, eps, labels, progress, should_stop, prior=None):
    """Per example (averaged over its draws): I's term log q(z|x) − log q(z), TC's, the dimension-wise KL's and
    the Monte Carlo rate's; log N (a CVAE: E_y log N_y); I's term at N/2, for every other example against the
    aggregate of every other posterior (the same draws, summed in the same pass); and the marginal KL's term
    log q(z) − log p(z)."""
    draws, n, d = eps.shape
    dev = mu_t.device
    z = (mu_t + torch.exp(0.5 * logvar_t) * eps).reshape(draws * n, d)  # draw k of example i at row k * n + i
    owner = torch.arange(n, device=dev).repeat(draws)
    group, log_group_n = _groups(labels, n, dev)
    own_dims = gaussian_log_density(z, mu_t[owner], logvar_t[owner])  # log q(z_j|x) of each draw's own x
    log_qzx = own_dims.sum(1)
    log_pz, log_pz_dims = _prior_terms(z, prior)
    log_qz = torch.empty(draws * n, dtype=torch.float64, device=dev)
    log_qz_dims = torch.empty(draws * n, d, dtype=torch.float64, device=dev)
    half = n >= 4
    log_qz_half = torch.full((draws * n,), math.nan, dtype=torch.float64, device=dev)
    z_t = z.T.contiguous()  # (D, rows): a block's rows are a slice of each dimension's draws

    def for_group(cols, even):
        sums = _PosteriorSums(mu_t[cols], logvar_t[cols])

        def block(r):
            joint, dims, joint_half = sums.of(z_t[:, r], even)
            log_qz[r], log_qz_dims[r] = joint, dims
            if joint_half is not None:
                log_qz_half[r] = joint_half

        return block

    _over_posteriors(group, draws, d, for_group, half, progress, should_stop)
    log_qz = log_qz - log_group_n[owner]
    log_qz_dims = log_qz_dims - log_group_n[owner, None]

    def per_example(values: torch.Tensor) -> torch.Tensor:
        return values.reshape(draws, n).mean(0)

    info_half = None
    if half:  # every other example, each against the even posteriors of its group
        even = torch.arange(0, n, 2, device=dev)
        _, log_half_n = _groups(None if labels is None else labels[::2], len(even), dev)
        half_rows = (torch.arange(draws, device=dev)[:, None] * n + even[None, :]).reshape(-1)
        terms = log_qzx[half_rows] - (log_qz_half[half_rows] - log_half_n.repeat(draws))
        info_half = terms.reshape(draws, len(even)).mean(0)
    return (per_example(log_qzx - log_qz), per_example(log_qz - log_qz_dims.sum(1)),
            per_example((log_qz_dims - log_pz_dims).sum(1)), per_example(log_qzx - log_pz),
            float(log_group_n.mean().item()), info_half, per_example(log_qz - log_pz))


def _over_posteriors(group, draws: int, width: int, for_group, half: bool, progress, should_stop) -> None:
    """For each group's posteriors `cols` (a CVAE: q(z|y) sums over its class only; else one group), ordered with
    the even-numbered ones first and `even` their count (for the estimate at N/2) when `half`, else None: block =
    for_group(cols, even), then block(rows) over the draws' rows of that group (draw k of example i at row
    k * N + i), in row blocks whose (rows x posteriors x width) values hold about CHUNK_ELEMENTS. should_stop()
    is asked before each block."""
    n, dev = group.shape[0], group.device
    members = [torch.nonzero(group == g).reshape(-1) for g in range(int(group.max()) + 1)]
    total, done = sum(draws * len(m) ** 2 for m in members), 0
    for cols in members:
        rows = (torch.arange(draws, device=dev)[:, None] * n + cols[None, :]).reshape(-1)
        even = None
        if half:  # the even-numbered posteriors first: the estimate at N/2 sums over a leading slice
            is_even = cols % 2 == 0
            cols, even = torch.cat([cols[is_even], cols[~is_even]]), int(is_even.sum())
        block = for_group(cols, even)
        step = max(1, min(len(rows), CHUNK_ELEMENTS // max(1, len(cols) * width)))
        for start in range(0, len(rows), step):
            if should_stop is not None and should_stop():
                raise Stopped("rate split stopped")
            r = rows[start:start + step]
            block(r)
            done += len(r) * len(cols)
            if progress is not None:
                progress("splitting the rate", done / total)


class _PosteriorSums:
    """log Σ_m q(z | x_m) over a set of diagonal Gaussian posteriors m, jointly and per dimension, for blocks of z.

    With t = (z_j − μ_mj) / (√2 σ_mj) and b = −½ log(2π σ²), log q(z_j | x_m) = b_mj − t²: the block of those
    over (dimensions, rows, posteriors) is two multiply-adds, exact (no expanded square, so no precision is lost
    however narrow σ is); its sum over the dimensions gives the joint, a (rows, posteriors) logsumexp; and its
    exponential summed over the posteriors gives each dimension's sum, which cannot underflow: the row's own
    posterior contributes exp(b − ε²/2), ε its draw's noise. The block's buffer is reused from block to block."""

    def __init__(self, mu, logvar):
        a = torch.exp(-0.5 * logvar) / math.sqrt(2.0)
        self.a = a.T.contiguous()[:, None, :]  # (D, 1, M)
        self.minus_mu_a = (-(mu * a)).T.contiguous()[:, None, :]
        self.b = (-0.5 * (LOG_2PI + logvar)).T.contiguous()[:, None, :]
        self._buffer = torch.empty(0, dtype=torch.float64, device=mu.device)

    def of(self, z_t, even):
        """(joint, per dimension, joint over the first `even` posteriors or None) for z_t, (D, rows)."""
        d, rows = z_t.shape
        m = self.a.shape[2]
        if self._buffer.numel() < d * rows * m:
            self._buffer = torch.empty(d * rows * m, dtype=torch.float64, device=z_t.device)
        block = self._buffer[:d * rows * m].view(d, rows, m)
        torch.addcmul(self.minus_mu_a, z_t[:, :, None], self.a, out=block)  # t
        torch.addcmul(self.b, block, block, value=-1.0, out=block)  # b − t² = log q(z_j | x_m)
        log_joint = block.sum(0)  # (rows, M): log q(z | x_m)
        joint = torch.logsumexp(log_joint, 1)
        joint_half = None if even is None else torch.logsumexp(log_joint[:, :even], 1)
        dims = block.exp_().sum(2).T.log()  # (rows, D)
        return joint, dims, joint_half


def path_rate_split(path: dict, dims, labels=None, device="cpu",
                    progress: Callable[[str, float], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, halve: bool = True) -> RateSplit:
    """The rate split of a hierarchical VAE, joint and per layer, from one sampled path per example.

    path: HierarchicalVAE.path's arrays, (N, D) each: the bottom-up Gaussians mu_d, logvar_d of every x_m and,
    along each example's own path, u and the priors mu_p, logvar_p it met. In prior coordinates p(u) = N(0, I),
    and q(u_l | u_{>l}, x_m) is x_m's bottom-up Gaussian merged with the prior the path met, so the aggregate
    q(u_{≥l}) = (1/N) Σ_m Π_{k≥l} q(u_k | u_{>k}, x_m) is a sum over the N posteriors as for one layer. The
    chain rule then gives each layer's share, I(X; U_l | U_{>l}) = E[log q(u_l | u_{>l}, x) − log q(u_l | u_{>l})],
    and the rest of its rate, E KL(q(u_l | u_{>l}) ‖ p(u_l)), is its marginal KL. dims: each layer's size, bottom
    first. halve: also the joint I on every other path (mutual_information_at_half_n)."""
    from trainer.model.hierarchy import merge_gaussians, to_prior_coordinates

    dev = torch.device(device)
    t = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)).to(dev) for k, v in path.items()}
    n, d = t["u"].shape
    dims = tuple(int(v) for v in dims)
    if n < 2 or sum(dims) != d or any(t[k].shape != (n, d) for k in ("mu_d", "logvar_d", "mu_p", "logvar_p")):
        raise ConfigError(f"path_rate_split needs N >= 2 paths of {sum(dims)} dimensions, got {tuple(t['u'].shape)}")
    if not all(torch.isfinite(v).all() for v in t.values()):
        raise ConfigError("path_rate_split: the path must be finite")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
    group, log_group_n = _groups(labels, n, dev)

    def pair(rows, cols):  # q(u | path of each row, x of each column), in prior coordinates
        return to_prior_coordinates(*merge_gaussians(t["mu_d"][None, cols], t["logvar_d"][None, cols],
                                                     t["mu_p"][rows, None], t["logvar_p"][rows, None]),
                                    t["mu_p"][rows, None], t["logvar_p"][rows, None])

    u = t["u"]
    own = _layer_sums(gaussian_log_density(u, t["mu_u"], t["logvar_u"]), dims)  # (N, L): log q(u_l | u_{>l}, x)
    log_pu = _layer_sums(-0.5 * (LOG_2PI + u.pow(2)), dims)
    kl = _layer_sums(0.5 * (t["mu_u"].pow(2) + t["logvar_u"].exp() - 1.0 - t["logvar_u"]), dims)
    halve = halve and n >= 4
    above = torch.empty(n, len(dims), dtype=torch.float64, device=dev)  # log Σ_m q(u_{≥l} | x_m), each layer l
    above_half = torch.full((n, 1), math.nan, dtype=torch.float64, device=dev) if halve else None

    def for_group(cols, even):
        def block(r):
            per = gaussian_log_density(u[r, None], *pair(r, cols))  # (rows, cols, D)
            from_top = _layer_sums(per, dims).flip(-1).cumsum(-1).flip(-1)  # the density of u_{≥l}, each l
            above[r] = torch.logsumexp(from_top, dim=1)
            if even is not None:
                above_half[r] = torch.logsumexp(from_top[:, :even, :1], dim=1)

        return block

    _over_posteriors(group, 1, 5 * d, for_group, halve, progress, should_stop)  # a merge makes four more blocks
    above = above - log_group_n[:, None]  # (N, L): log q(u_{≥l}), the aggregate of the layers from l up
    conditional = above - torch.cat([above[:, 1:], torch.zeros_like(above[:, :1])], dim=1)  # log q(u_l | u_{>l})
    info = (own - conditional).mean(0)
    rate_mc = (own - log_pu).mean(0)
    layers = tuple({"rate": float(kl[:, i].mean()), "mutual_information": float(info[i]),
                    "marginal_kl": float(rate_mc[i] - info[i])} for i in range(len(dims)))
    info_joint = own.sum(1) - above[:, 0]
    marginal = (own - log_pu).sum(1) - info_joint
    half = math.nan
    if above_half is not None:  # every other path, against the even posteriors of its group
        _, log_half_n = _groups(None if labels is None else labels[::2], len(range(0, n, 2)), dev)
        half = float((own.sum(1)[::2] - (above_half[::2, 0] - log_half_n)).mean())
    return RateSplit(rate=float(kl.sum(1).mean()), rate_mc=float(rate_mc.sum()),
                     mutual_information=float(info_joint.mean()), marginal_kl=float(marginal.mean()),
                     total_correlation=None, dimwise_kl=None, log_n=float(log_group_n.mean()), n=n, draws=1,
                     layers=layers, mutual_information_se=_se(info_joint), marginal_kl_se=_se(marginal),
                     mutual_information_at_half_n=half)


def _layer_sums(per_dim: torch.Tensor, dims) -> torch.Tensor:
    """(..., D) -> (..., L): the sum over each layer's dimensions."""
    return torch.stack([part.sum(-1) for part in torch.split(per_dim, list(dims), dim=-1)], dim=-1)
