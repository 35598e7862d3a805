"""Does the encoder fill the prior? The aggregate posterior q(z) = (1/N) Σ_n q(z|x_n) against p(z) = N(0, I).

    xs = ys = np.linspace(-4, 4, 160)
    q = marginal_density(latents.mu, latents.logvar, 0, 3, xs, ys)   # (160, 160) exact density of q(z_0, z_3)
    p = prior_density(xs, ys)                                         # (160, 160) N(0, I) in the same plane
    holes = find_holes(q, p, xs, ys)          # HoleMap: where q < 0.1 p inside the prior's 3σ disc, and its mass
    holes = holes_in_plane(latents.mu, latents.logvar, 0, 3)          # the three lines above in one
    cmp = compare_prior_and_aggregate(latents.mu, n=64, seed=0)       # SampleComparison: prior vs fitted q(z)
    cmp.prior_mean_distance, cmp.aggregate_mean_distance, cmp.mean_spacing

Section 5 of the ELBO tutorial: without enough pressure from the KL term the encoder gives each x its own narrow
corner of latent space, and the prior keeps mass where no q(z|x) goes. A z drawn from the prior there is a code
the decoder never saw in training, and it decodes to nonsense. These "holes" are regions where p(z) is large and
q(z) is not; `find_holes` marks them in one plane and says how much of the prior's mass falls in them.

The second view is by sampling: draws from the prior and from a Gaussian mixture fitted to the encoder means (a
stand-in for q(z), the "ex-post density estimate" of Ghosh et al. 2019), each measured by its distance to the
nearest encoder mean. Prior draws that land far from every mean, compared with the means' own spacing, are the
holes seen from the decoder's side; a `SampleComparison` holds both sets, for the window to decode side by side.

numpy and scikit-learn only (no Qt, no torch), CPU-bound: run it off the GUI thread. `progress(message,
fraction)` is called from the computing thread; `should_stop()` is asked between phases, and a stop raises
AggregateStopped. Latent values are in units of the prior's standard deviation; densities are per unit area of
the plane.
"""

from __future__ import annotations

import math
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np

from trainer.errors import Stopped
from trainer.analysis.snapshots import prior_latents

CHUNK_BYTES = 32 * 2**20
"""Working memory (bytes) of one chunk of points in marginal_density and of one block in the distance searches:
70,000 points x 320 grid values in float64 would be 180 MB at once."""
HOLE_RATIO = 0.1
"""A grid cell is a hole where q < HOLE_RATIO * p: the prior puts at least 10x more density there than the encoder."""
PRIOR_RADIUS = 3.0
"""Holes are looked for inside the prior's 3σ disc only; beyond it p is below 1.2% of its peak and a hole there
holds no mass worth speaking of (the disc holds 98.9% of N(0, I) in 2-D)."""
LOG_RATIO_LIMIT = 20.0
"""log q/p is clipped to ±this many nats so that an empty region (q = 0) stays drawable on a colour scale."""
FIT_POINTS = 20_000
"""The mixture is fitted on at most this many encoder means (chosen at random): 1-1.5 s for 20-D means on two
cores."""
FIT_ITERATIONS = 30
"""EM iterations at most: on means that form one round blob (a well-regularised encoder) EM creeps on for 40-50
iterations while its bound changes by less than 0.1%; clustered means converge in a few."""
SPACING_POINTS = 1_000
"""Means whose nearest other mean `mean_spacing` looks for (among all means): enough for a mean within ~1% (the
nearest-neighbour distances of 20-D means vary by ~13% about theirs), and 0.3 s against 70,000 means."""

Progress = Optional[Callable[[str, float], None]]


class AggregateStopped(Stopped):
    """should_stop() asked a comparison to end before it finished."""


_BLAS_LOCK = threading.Lock()
_BLAS_USERS = [0, None]  # [calls inside _one_blas_thread, the threadpool_limits object of the first of them]


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """numpy's BLAS keeps to one thread in the block (the limit is process-wide; counted, so two threads of ours
    in the block at once do not restore each other's setting in the wrong order).

    Every product here is thin (a 160 x 13,000 by 13,000 x 160 chunk, D x D blocks in EM) and runs beside
    training: with the default team of one thread per core, threads that waited for cores the training thread
    held made a 70k-point density take 0.8-1.7 s instead of 0.28 s on two cores, and the mixture fit 2-3x
    longer. torch's own BLAS and OpenMP are left alone (user_api="blas" reaches numpy's and scipy's OpenBLAS).
    """
    from threadpoolctl import threadpool_limits  # noqa: PLC0415  (comes with scikit-learn)

    with _BLAS_LOCK:
        if _BLAS_USERS[0] == 0:
            _BLAS_USERS[1] = threadpool_limits(limits=1, user_api="blas")
        _BLAS_USERS[0] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_USERS[0] -= 1
            if _BLAS_USERS[0] == 0:
                _BLAS_USERS[1].restore_original_limits()
                _BLAS_USERS[1] = None


# --- input checks --------------------------------------------------------------------------------
def _points(name: str, array, min_points: int = 1) -> np.ndarray:
    """A finite (N, D) float64 array with N >= min_points, or a ValueError naming the problem."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, D), got shape {a.shape}")
    if a.shape[0] < min_points:
        raise ValueError(f"{name} needs at least {min_points} point{'s' if min_points > 1 else ''}, "
                         f"got {a.shape[0]}")
    if a.shape[1] < 1:
        raise ValueError(f"{name} has no latent dimensions (shape {a.shape})")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _axis(name: str, values) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of grid values, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _dim(name: str, value, dims: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"latent dimension {name} must be an integer, got {value!r}")
    if not 0 <= int(value) < dims:
        raise ValueError(f"latent dimension {name}={value} is out of range: the latents have {dims} dimensions "
                         f"(0..{dims - 1})")
    return int(value)


# --- densities in one plane ----------------------------------------------------------------------
def marginal_density(mu: np.ndarray, logvar: np.ndarray, i: int, j: int, xs: np.ndarray,
                     ys: np.ndarray) -> np.ndarray:
    """The exact density of q(z_i, z_j), the 2-D marginal of the aggregate posterior, on a grid: (len(ys), len(xs))
    float64, row r at z_j = ys[r], column c at z_i = xs[c] (z_i horizontal, as the scatter draws it).

    Each q(z|x_n) is diagonal, so its marginal in the plane is a product of two 1-D normals and the mixture is a
    matrix product: q[r, c] = (1/N) Σ_n φ(ys[r]; μ_nj, σ_nj) φ(xs[c]; μ_ni, σ_ni) = (1/N) (B^T A)[r, c] with
    A (N, len(xs)) and B (N, len(ys)). N is cut into chunks so that A and B never take more than CHUNK_BYTES;
    70,000 points on a 160 x 160 grid take ~0.25 s on two cores.

    It is the density at the grid points, not a cell average: posteriors much narrower than the grid step fall
    between grid points and look like holes, which is what they are to a sampler that has to hit them.
    """
    mu = _points("mu", mu)
    logvar = _points("logvar", logvar)
    if logvar.shape != mu.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {mu.shape} and {logvar.shape}")
    dims = mu.shape[1]
    i = _dim("i", i, dims)
    j = _dim("j", j, dims)
    if i == j:
        raise ValueError(f"i and j must be two different latent dimensions, got i = j = {i}")
    xs = _axis("xs", xs)
    ys = _axis("ys", ys)
    n = len(mu)
    rows = max(1, CHUNK_BYTES // (8 * (len(xs) + len(ys))))
    q = np.zeros((len(ys), len(xs)))
    with _one_blas_thread():
        for start in range(0, n, rows):
            a = _normal_columns(xs, mu[start:start + rows, i], logvar[start:start + rows, i])
            b = _normal_columns(ys, mu[start:start + rows, j], logvar[start:start + rows, j])
            q += b.T @ a
    # the 1/sqrt(2π) of both factors and the 1/N of the mixture, applied once to the grid instead of per point
    q *= 1.0 / (2.0 * math.pi * n)
    return q


def _normal_columns(grid: np.ndarray, mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """(len(mean), len(grid)): φ(grid; mean, σ) * sqrt(2π), computed in place to keep the chunk's one buffer."""
    inv_sigma = np.exp(-0.5 * logvar)
    t = np.subtract(grid[None, :], mean[:, None])
    t *= inv_sigma[:, None]
    np.square(t, out=t)
    t *= -0.5
    np.exp(t, out=t)
    t *= inv_sigma[:, None]
    return t


def prior_density(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The density of N(0, I) in any plane of two latent dimensions, on the same grid as marginal_density:
    (len(ys), len(xs)) float64."""
    xs = _axis("xs", xs)
    ys = _axis("ys", ys)
    return np.outer(np.exp(-0.5 * ys ** 2), np.exp(-0.5 * xs ** 2)) / (2.0 * math.pi)


def _trapezoid_weights(grid: np.ndarray) -> np.ndarray:
    """Quadrature weights of the trapezoid rule on a sorted grid, so Σ w f ≈ ∫ f over [grid[0], grid[-1]]."""
    if len(grid) < 2:
        return np.zeros(len(grid))
    step = np.diff(grid)
    w = np.zeros(len(grid))
    w[:-1] += step / 2
    w[1:] += step / 2
    return w


@dataclass(frozen=True)
class HoleMap:
    """Where the prior has mass the encoder does not use, in one plane (numbers only: it crosses threads)."""

    xs: np.ndarray
    """(W,) grid values of the horizontal latent dimension, in prior standard deviations."""
    ys: np.ndarray
    """(H,) grid values of the vertical latent dimension."""
    q: np.ndarray
    """(H, W) float64 density of the aggregate posterior's marginal in the plane, per unit area."""
    p: np.ndarray
    """(H, W) float64 density of the prior N(0, I) in the plane."""
    log_ratio: np.ndarray
    """(H, W) float64 log q/p in nats, clipped to ±LOG_RATIO_LIMIT (q = 0 would be -inf): below 0 the prior
    outweighs the encoder, above 0 the encoder crowds more codes there than the prior expects."""
    holes: np.ndarray
    """(H, W) bool: q < ratio * p, inside the prior's `radius` disc."""
    prior_mass_in_holes: float
    """∫ p(z) 1[hole] dz over the grid: the share of the prior's mass in this plane that falls in holes, in [0, 1]
    (0: the encoder covers the prior; near `prior_mass_checked`: a prior sample in this plane is almost always
    somewhere the encoder never sends an input)."""
    prior_mass_checked: float
    """∫ p over the part of the disc the grid covers: the most prior_mass_in_holes can be (0.989 for a grid that
    covers the whole 3σ disc)."""
    aggregate_mass_on_grid: float
    """∫ q over the grid: how much of the aggregate posterior the picture shows (well below 1: the grid is too
    small, or the posteriors are too narrow for its step)."""
    ratio: float = HOLE_RATIO
    """The density ratio q/p below which a cell counts as a hole."""
    radius: float = PRIOR_RADIUS
    """Holes were looked for within this distance of the origin, in prior standard deviations."""
    dims: tuple[int, int] | None = None
    """(i, j): the latent dimensions on the horizontal and vertical axes, where known."""

    @property
    def hole_share(self) -> float:
        """prior_mass_in_holes / prior_mass_checked: the share of the prior's mass looked at that lies in holes."""
        return self.prior_mass_in_holes / self.prior_mass_checked if self.prior_mass_checked > 0 else 0.0


def find_holes(q: np.ndarray, p: np.ndarray, xs: np.ndarray, ys: np.ndarray, ratio: float = HOLE_RATIO,
               radius: float = PRIOR_RADIUS, dims: tuple[int, int] | None = None) -> HoleMap:
    """The holes of the aggregate posterior in one plane: where q < ratio * p inside the prior's `radius` disc.

    `q` and `p` are (len(ys), len(xs)) densities on the grid (marginal_density, prior_density); `xs` and `ys`
    must increase. Masses are trapezoid-rule integrals over the grid, so a grid that does not cover the disc
    checks only part of the prior (see HoleMap.prior_mass_checked)."""
    xs = _axis("xs", xs)
    ys = _axis("ys", ys)
    shape = (len(ys), len(xs))
    q = np.asarray(q, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    for name, grid in (("q", q), ("p", p)):
        if grid.shape != shape:
            raise ValueError(f"{name} must have shape (len(ys), len(xs)) = {shape}, got {grid.shape}")
        if not np.isfinite(grid).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if (grid < 0).any():
            raise ValueError(f"{name} is a density and cannot be negative")
    for name, grid in (("xs", xs), ("ys", ys)):
        if len(grid) > 1 and not (np.diff(grid) > 0).all():
            raise ValueError(f"{name} must be strictly increasing")
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"ratio must be a positive number, got {ratio}")
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a positive number, got {radius}")

    inside = (xs[None, :] ** 2 + ys[:, None] ** 2) <= radius ** 2
    holes = inside & (q < ratio * p)
    # an underflowed density is 0, not -inf: floor both at the smallest normal float before the log
    tiny = np.finfo(np.float64).tiny
    log_ratio = np.clip(np.log(np.maximum(q, tiny)) - np.log(np.maximum(p, tiny)), -LOG_RATIO_LIMIT, LOG_RATIO_LIMIT)
    area = np.outer(_trapezoid_weights(ys), _trapezoid_weights(xs))
    return HoleMap(
        xs=xs, ys=ys, q=q, p=p, log_ratio=log_ratio, holes=holes,
        prior_mass_in_holes=float((p * area)[holes].sum()),
        prior_mass_checked=float((p * area)[inside].sum()),
        aggregate_mass_on_grid=float((q * area).sum()),
        ratio=float(ratio), radius=float(radius), dims=dims,
    )


@dataclass(frozen=True, eq=False)
class HolesRequest:
    """What the latent scatter asks a background thread for: holes_in_plane of these posteriors in plane (i, j)."""

    token: int
    """Increases with every request; the panel draws only the answer to its latest."""
    mu: np.ndarray
    logvar: np.ndarray
    i: int
    j: int

    def run(self, progress=None, should_stop=None) -> HoleMap:
        """holes_in_plane for this request (the signature a background job calls)."""
        return holes_in_plane(self.mu, self.logvar, self.i, self.j)


def holes_in_plane(mu: np.ndarray, logvar: np.ndarray, i: int, j: int, half_width: float = 4.0, size: int = 160,
                   ratio: float = HOLE_RATIO, radius: float = PRIOR_RADIUS) -> HoleMap:
    """find_holes on a size x size grid from -half_width to +half_width in both dimensions (the default covers the
    3σ disc with a margin)."""
    if not (math.isfinite(half_width) and half_width > 0):
        raise ValueError(f"half_width must be a positive number, got {half_width}")
    if int(size) < 2:
        raise ValueError(f"size must be at least 2 grid values, got {size}")
    grid = np.linspace(-half_width, half_width, int(size))
    q = marginal_density(mu, logvar, i, j, grid, grid)
    return find_holes(q, prior_density(grid, grid), grid, grid, ratio=ratio, radius=radius, dims=(int(i), int(j)))


# --- samples and their distance to the data ------------------------------------------------------
def prior_samples(n: int, dims: int, seed: int = 0) -> np.ndarray:
    """(n, dims) float32 draws from N(0, I), the same for the same seed."""
    if int(n) < 1 or int(dims) < 1:
        raise ValueError(f"need at least one sample and one dimension, got n={n}, dims={dims}")
    return prior_latents(n, dims, seed)  # the Samples panel's draw: the same seed shows the same z there


@dataclass(frozen=True)
class AggregateFit:
    """A Gaussian mixture fitted to the encoder means: a density of q(z) that can be sampled (numbers only)."""

    weights: np.ndarray
    """(K,) float64 mixing weights, summing to 1."""
    means: np.ndarray
    """(K, D) float64 component means."""
    covariances: np.ndarray
    """(K, D, D) float64 full component covariances."""
    n_fit_points: int
    """How many encoder means the fit saw (at most FIT_POINTS)."""

    @property
    def n_components(self) -> int:
        return len(self.weights)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """(n, D) float32 draws, the same for the same seed and in no particular order (GaussianMixture.sample
        returns them grouped by component, which would put one cluster's decodes in one row of the window)."""
        if int(n) < 1:
            raise ValueError(f"need at least one sample, got n={n}")
        rng = np.random.default_rng(seed)
        component = rng.choice(len(self.weights), size=int(n), p=self.weights)
        noise = rng.standard_normal((int(n), self.means.shape[1]))
        chol = np.linalg.cholesky(self.covariances)  # (K, D, D) lower triangular
        z = self.means[component] + np.einsum("nij,nj->ni", chol[component], noise)
        return z.astype(np.float32)


def fit_aggregate(mu: np.ndarray, n_components: int = 10, seed: int = 0,
                  max_points: int = FIT_POINTS) -> AggregateFit:
    """A full-covariance Gaussian mixture fitted to (at most max_points of) the encoder means `mu` (N, D).

    Fitted on the means, not on the posteriors' own spread: the decoder learned to reconstruct from codes near
    the means, which is where a sample has to land to decode well. `n_components` above the number of points
    is lowered to it (a mixture cannot have more components than points to place them on)."""
    mu = _points("mu", mu, min_points=2)
    if int(n_components) < 1:
        raise ValueError(f"n_components must be at least 1, got {n_components}")
    if int(max_points) < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    from sklearn.exceptions import ConvergenceWarning  # noqa: PLC0415  (scikit-learn loads slowly)
    from sklearn.mixture import GaussianMixture  # noqa: PLC0415
    rng = np.random.default_rng(seed)
    if len(mu) > max_points:
        mu = mu[np.sort(rng.choice(len(mu), size=int(max_points), replace=False))]
    k = min(int(n_components), len(mu))
    # started from k-means++ seeds rather than a full k-means: k-means' Lloyd loop runs BLAS inside scikit-learn's
    # OpenMP team, which beside the window's other threads made OpenBLAS warn of a possible hang (seen once under
    # Xvfb, with a density job running alongside), and it slowed the fit beside training (10,000 means: 3.7 s
    # against 1.4 s on one thread); EM refines the seeds anyway
    mixture = GaussianMixture(n_components=k, covariance_type="full", random_state=seed, max_iter=FIT_ITERATIONS,
                              init_params="k-means++")
    # EM works on D x D matrices one component at a time: a BLAS team of threads waiting on each other made the
    # fit 2-3x slower than one thread (20,000 20-D means: 3.9 s against 1.6 s on two cores)
    with warnings.catch_warnings(), _one_blas_thread():
        # an EM stopped after FIT_ITERATIONS, or fewer distinct means than components (a collapsed encoder),
        # still gives a usable density to sample from; this is a picture, not an estimate
        warnings.simplefilter("ignore", ConvergenceWarning)
        mixture.fit(mu)
    weights = np.asarray(mixture.weights_, dtype=np.float64)
    return AggregateFit(weights=weights / weights.sum(), means=np.asarray(mixture.means_, dtype=np.float64),
                        covariances=np.asarray(mixture.covariances_, dtype=np.float64), n_fit_points=len(mu))


def _block_rows(dims: int, columns: int) -> int:
    return max(1, CHUNK_BYTES // (8 * max(columns, dims)))


def nearest_mean_distance(z: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """(n,) float64 Euclidean distance from each latent z (n, D) to its nearest encoder mean in `mu` (N, D).

    Blocks of means are compared with |z|^2 + |m|^2 - 2 z.m (a matrix product) in float64, so 64 samples against
    70,000 20-D means take a few ms."""
    z = _points("z", z)
    mu = _points("mu", mu)
    if z.shape[1] != mu.shape[1]:
        raise ValueError(f"z and mu must have the same number of latent dimensions, got {z.shape[1]} and "
                         f"{mu.shape[1]}")
    return np.sqrt(_nearest_squared(z, mu))


def _nearest_squared(z: np.ndarray, mu: np.ndarray, own: np.ndarray | None = None) -> np.ndarray:
    """Squared distance from each row of z to its nearest row of mu; own[k] (if given) is the index in mu of z[k]
    itself, which is skipped (an index, not a zero distance: two inputs may share a mean)."""
    best = np.full(len(z), np.inf)
    rows = _block_rows(z.shape[1], len(z))
    with _one_blas_thread():
        for start in range(0, len(mu), rows):
            block = mu[start:start + rows]
            # |m|^2 - 2 z.m: |z|^2 is the same along a row, so it is added after the minimum (one pass fewer over
            # the block's (len(z), rows) buffer, which is what the time goes into)
            d2 = z @ (-2.0 * block).T
            d2 += (block ** 2).sum(1)[None, :]
            if own is not None:
                hit = (own >= start) & (own < start + len(block))
                d2[np.flatnonzero(hit), own[hit] - start] = np.inf
            np.minimum(best, d2.min(1), out=best)
    best += (z ** 2).sum(1)
    # rounding in the expanded form can leave a tiny negative for a point on top of a mean
    return np.maximum(best, 0.0)


def mean_spacing(mu: np.ndarray, seed: int = 0, sample: int = SPACING_POINTS) -> float:
    """The mean distance from an encoder mean to its nearest other encoder mean (for up to `sample` means, their
    neighbours looked for among all): the data's own spacing, to read nearest_mean_distance against."""
    mu = _points("mu", mu, min_points=2)
    queries = np.arange(len(mu))
    if len(mu) > sample:
        queries = np.sort(np.random.default_rng(seed).choice(len(mu), size=int(sample), replace=False))
    return float(np.sqrt(_nearest_squared(mu[queries], mu, own=queries)).mean())


@dataclass(frozen=True)
class SampleComparison:
    """Prior samples against samples of the fitted aggregate posterior, each measured by its distance to the nearest
    encoder mean (numbers and numpy copies only: it crosses to the GUI thread, which decodes the two sets)."""

    prior_z: np.ndarray
    """(n, D) float32 draws from N(0, I)."""
    aggregate_z: np.ndarray
    """(n, D) float32 draws from the Gaussian mixture fitted to the encoder means."""
    prior_distance: np.ndarray
    """(n,) float64 distance of each prior draw to its nearest encoder mean, in prior standard deviations."""
    aggregate_distance: np.ndarray
    """(n,) float64 the same for the mixture's draws."""
    prior_mean_distance: float
    aggregate_mean_distance: float
    mean_spacing: float
    """Mean distance from an encoder mean to its nearest other one: a draw much farther than this from every mean
    is somewhere the encoder never sends an input."""
    n_components: int
    """Components of the fitted mixture (n_components lowered to the number of points where it exceeded it)."""
    n_points: int
    """Encoder means compared against (all of them; the fit saw at most FIT_POINTS)."""
    seed: int


def _check(should_stop) -> None:
    if should_stop():
        raise AggregateStopped()


def compare_prior_and_aggregate(mu: np.ndarray, n: int = 64, seed: int = 0, n_components: int = 10,
                                should_stop: Callable[[], bool] | None = None,
                                progress: Progress = None) -> SampleComparison:
    """Draw n latents from the prior and n from a mixture fitted to the encoder means `mu` (N, D), and measure how
    far each lands from the nearest mean. The same seed gives the same draws and the same fit."""
    mu = _points("mu", mu, min_points=2)
    if int(n) < 1:
        raise ValueError(f"need at least one sample, got n={n}")
    if int(n_components) < 1:
        raise ValueError(f"n_components must be at least 1, got {n_components}")
    stop = should_stop or (lambda: False)
    report = progress or (lambda message, fraction: None)
    _check(stop)
    report("prior samples", 0.0)
    prior_z = prior_samples(n, mu.shape[1], seed)
    _check(stop)
    report(f"fitting a {min(int(n_components), len(mu))}-component mixture to the encoder means", 0.05)
    fit = fit_aggregate(mu, n_components=n_components, seed=seed)
    _check(stop)
    report("mixture samples", 0.7)
    # a stream of its own, so the mixture's draws do not depend on how many prior draws came first
    aggregate_z = fit.sample(n, seed=seed + 1)
    _check(stop)
    report("distances to the nearest encoder mean", 0.75)
    prior_distance = nearest_mean_distance(prior_z, mu)
    aggregate_distance = nearest_mean_distance(aggregate_z, mu)
    _check(stop)
    report("spacing of the encoder means", 0.9)
    spacing = mean_spacing(mu, seed=seed)
    report("done", 1.0)
    return SampleComparison(
        prior_z=prior_z, aggregate_z=aggregate_z, prior_distance=prior_distance,
        aggregate_distance=aggregate_distance, prior_mean_distance=float(prior_distance.mean()),
        aggregate_mean_distance=float(aggregate_distance.mean()), mean_spacing=spacing,
        n_components=fit.n_components, n_points=len(mu), seed=int(seed),
    )
