"""Holes of the prior in one plane: the exact density of the aggregate posterior q(z_i, z_j) against p(z).

    xs = ys = np.linspace(-4, 4, 160)
    q = marginal_density(latents.mu, latents.logvar, 0, 3, xs, ys)   # (160, 160) exact density of q(z_0, z_3)
    p = prior_density(xs, ys)                                         # (160, 160) N(0, I) in the same plane
    holes = find_holes(q, p, xs, ys)          # HoleMap: where q < 0.1 p inside the prior's 3σ disc, and its mass
    holes = holes_in_plane(latents.mu, latents.logvar, 0, 3)          # the three lines above in one

Section 5 of the ELBO tutorial: without enough pressure from the KL term the encoder gives each x its own narrow
corner of latent space, and the prior keeps mass where no q(z|x) goes. A z drawn from the prior there is a code
the decoder never saw in training, and it decodes to nonsense. These "holes" are regions where p(z) is large and
q(z) is not; `find_holes` marks them in one plane and says how much of the prior's mass falls in them. The same
holes seen by sampling are trainer.analysis.aggregate's. numpy only, CPU-bound: run it off the GUI thread.
Latent values are in units of the prior's standard deviation; densities are per unit area of the plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainer.analysis.latent_arrays import CHUNK_BYTES, checked_points, one_blas_thread

HOLE_RATIO = 0.1
"""A grid cell is a hole where q < HOLE_RATIO * p: the prior puts at least 10x more density there than the encoder."""
PRIOR_RADIUS = 3.0
"""Holes are looked for inside the prior's 3σ disc only; beyond it p is below 1.2% of its peak and a hole there
holds no mass worth speaking of (the disc holds 98.9% of N(0, I) in 2-D)."""
LOG_RATIO_LIMIT = 20.0
"""log q/p is clipped to ±this many nats so that an empty region (q = 0) stays drawable on a colour scale."""


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
    mu = checked_points("mu", mu)
    logvar = checked_points("logvar", logvar)
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
    with one_blas_thread():
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
    prior: tuple[np.ndarray, np.ndarray] | None = None
    """A VampPrior's components (mu, logvar), each (K, D); None for N(0, I)."""

    def run(self, progress=None, should_stop=None) -> HoleMap:
        """holes_in_plane for this request (the signature a background job calls)."""
        return holes_in_plane(self.mu, self.logvar, self.i, self.j, prior=self.prior)


def holes_in_plane(mu: np.ndarray, logvar: np.ndarray, i: int, j: int, half_width: float = 4.0, size: int = 160,
                   ratio: float = HOLE_RATIO, radius: float = PRIOR_RADIUS, prior=None) -> HoleMap:
    """find_holes on a size x size grid from -half_width to +half_width in both dimensions (the default covers the
    3σ disc with a margin). prior: a VampPrior's components (mu, logvar); its density in the plane is the same
    mixture of Gaussians as the aggregate posterior's (marginal_density of the components), and its holes are looked
    for over the whole grid, not a disc of N(0, I)'s."""
    if not (math.isfinite(half_width) and half_width > 0):
        raise ValueError(f"half_width must be a positive number, got {half_width}")
    if int(size) < 2:
        raise ValueError(f"size must be at least 2 grid values, got {size}")
    grid = np.linspace(-half_width, half_width, int(size))
    q = marginal_density(mu, logvar, i, j, grid, grid)
    if prior is None:
        p = prior_density(grid, grid)
    else:
        p = marginal_density(np.asarray(prior[0]), np.asarray(prior[1]), i, j, grid, grid)
        radius = half_width * math.sqrt(2.0)  # the grid's corners: a learned prior has no disc of its own
    return find_holes(q, p, grid, grid, ratio=ratio, radius=radius, dims=(int(i), int(j)))
