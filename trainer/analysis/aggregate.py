"""Does the encoder fill the prior? The aggregate posterior q(z) = (1/N) Σ_n q(z|x_n) against p(z) (N(0, I), or a
learned VampPrior, whose components are the posteriors of its pseudo-inputs).

    cmp = compare_prior_and_aggregate(latents.mu, n=64, seed=0)       # SampleComparison: prior vs fitted q(z)
    cmp.prior_mean_distance, cmp.aggregate_mean_distance, cmp.mean_spacing

Section 5 of the ELBO tutorial: without enough pressure from the KL term the encoder gives each x its own narrow
corner of latent space, and the prior keeps mass where no q(z|x) goes. A z drawn from the prior there is a code
the decoder never saw in training, and it decodes to nonsense. These "holes" are regions where p(z) is large and
q(z) is not; trainer.analysis.holes marks them in one plane and says how much of the prior's mass falls in them.

This module's view is by sampling: draws from the prior and from a Gaussian mixture fitted to the encoder means (a
stand-in for q(z), the "ex-post density estimate" of Ghosh et al. 2019), each measured by its distance to the
nearest encoder mean. Prior draws that land far from every mean, compared with the means' own spacing, are the
holes seen from the decoder's side; a `SampleComparison` holds both sets, for the window to decode side by side.

numpy and scikit-learn only (no Qt, no torch), CPU-bound: run it off the GUI thread. `progress(message,
fraction)` is called from the computing thread; `should_stop()` is asked between phases, and a stop raises
AggregateStopped. Latent values are in units of the prior's standard deviation; densities are per unit area of
the plane.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from trainer.errors import Stopped
from trainer.analysis.latent_arrays import CHUNK_BYTES, checked_points, one_blas_thread
from trainer.analysis.snapshots import prior_latents

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


# --- samples and their distance to the data ------------------------------------------------------
def prior_samples(n: int, dims: int, seed: int = 0, components=None) -> np.ndarray:
    """(n, dims) float32 draws from N(0, I), or from the VampPrior whose components (mu, logvar) are given, the same
    for the same seed."""
    if int(n) < 1 or int(dims) < 1:
        raise ValueError(f"need at least one sample and one dimension, got n={n}, dims={dims}")
    return prior_latents(n, dims, seed, components)  # the Samples panel's draw: the same seed shows the same z


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
    mu = checked_points("mu", mu, min_points=2)
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
    with warnings.catch_warnings(), one_blas_thread():
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
    z = checked_points("z", z)
    mu = checked_points("mu", mu)
    if z.shape[1] != mu.shape[1]:
        raise ValueError(f"z and mu must have the same number of latent dimensions, got {z.shape[1]} and "
                         f"{mu.shape[1]}")
    return np.sqrt(_nearest_squared(z, mu))


def _nearest_squared(z: np.ndarray, mu: np.ndarray, own: np.ndarray | None = None) -> np.ndarray:
    """Squared distance from each row of z to its nearest row of mu; own[k] (if given) is the index in mu of z[k]
    itself, which is skipped (an index, not a zero distance: two inputs may share a mean)."""
    best = np.full(len(z), np.inf)
    rows = _block_rows(z.shape[1], len(z))
    with one_blas_thread():
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
    mu = checked_points("mu", mu, min_points=2)
    queries = np.arange(len(mu))
    if len(mu) > sample:
        queries = np.sort(np.random.default_rng(seed).choice(len(mu), size=int(sample), replace=False))
    return float(np.sqrt(_nearest_squared(mu[queries], mu, own=queries)).mean())


@dataclass(frozen=True)
class SampleComparison:
    """Prior samples against samples of the fitted aggregate posterior, each measured by its distance to the nearest
    encoder mean (numbers and numpy copies only: it crosses to the GUI thread, which decodes the two sets)."""

    prior_z: np.ndarray
    """(n, D) float32 draws from the prior (N(0, I), or the model's VampPrior)."""
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
                                progress: Progress = None, prior_components=None) -> SampleComparison:
    """Draw n latents from the prior and n from a mixture fitted to the encoder means `mu` (N, D), and measure how
    far each lands from the nearest mean. The same seed gives the same draws and the same fit. prior_components:
    a VampPrior's (mu, logvar), each (K, D), drawn from in place of N(0, I)."""
    mu = checked_points("mu", mu, min_points=2)
    if int(n) < 1:
        raise ValueError(f"need at least one sample, got n={n}")
    if int(n_components) < 1:
        raise ValueError(f"n_components must be at least 1, got {n_components}")
    stop = should_stop or (lambda: False)
    report = progress or (lambda message, fraction: None)
    _check(stop)
    report("prior samples", 0.0)
    prior_z = prior_samples(n, mu.shape[1], seed, prior_components)
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
