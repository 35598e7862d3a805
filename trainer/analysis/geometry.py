"""Latent geometry for the plots, in numpy: a PCA view that does not jump, traversals, interpolation, contours.

    xy = StablePCA().project(latents.mu)           # 2-D view that stays put between refreshes
    grid = traversal_grid(snap, z0, dims=[0, 3])   # (2, 9, C, H, W): row r moves only z[dims[r]]
    path = interpolate(z_a, z_b, 10, "slerp")      # (10, D) along the great circle
    ring = prior_contour(2.0)                      # the 2σ contour of N(0, I) on any orthonormal 2-D view
    r, d = rd_line(rate, distortion, beta, (0, 50))   # the iso-loss line on the rate-distortion plane

No torch: the window imports these before torch has loaded. Latent values are in units of the prior's
standard deviation; rates and distortions in nats per example.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from trainer.analysis.snapshots import DecoderSnapshot

PCA_FIT_POINTS = 20_000
"""StablePCA fits its axes on at most this many evenly spaced points."""


# --- a 2-D view that does not jump ---------------------------------------------------------------
class StablePCA:
    """The top-2 principal axes of the posterior means, kept aligned with the previous fit.

    Each `fit` recomputes the principal axes and then rotates/reflects them within their own plane to be as
    close as possible to the previous axes (orthogonal Procrustes). That fixes the sign ambiguity of an
    eigenvector, a swap of PC1 and PC2 when their variances cross, and the spin of a near-isotropic plane,
    so a scatter refreshed as training goes moves only as much as the encodings do.

    Projection goes through the origin (coords = mu @ axes.T, no centring) so that the prior's mean stays at
    (0, 0); the axes are orthonormal, hence N(0, I) projects to N(0, I_2) and its contours stay circles.
    """

    def __init__(self):
        self.axes: np.ndarray | None = None
        """(2, latent_dim) orthonormal rows, or None before the first fit."""
        self.explained: np.ndarray = np.zeros(2)
        """Fraction of the (centred) variance of mu along each axis."""

    def reset(self) -> None:
        self.axes = None
        self.explained = np.zeros(2)

    def fit(self, mu: np.ndarray) -> np.ndarray:
        """Fit (and align) the axes on mu (N, D) with D >= 2; returns the axes.

        At most PCA_FIT_POINTS evenly spaced rows are used: two axes of a 70k-point cloud are as well
        determined by 20k of its points, and the fit stays a couple of milliseconds on the GUI thread.
        """
        mu = np.asarray(mu)
        if mu.ndim != 2 or mu.shape[1] < 2 or len(mu) < 1:
            raise ValueError(f"PCA needs mu of shape (N, D) with D >= 2, got {mu.shape}")
        if self.axes is not None and self.axes.shape[1] != mu.shape[1]:
            self.reset()  # a different model: nothing to stay aligned with
        sample = mu[:: max(1, len(mu) // PCA_FIT_POINTS)].astype(np.float64)
        centred = sample - sample.mean(axis=0)
        cov = centred.T @ centred / len(sample)  # (D, D)
        values, vectors = np.linalg.eigh(cov)  # ascending
        order = np.argsort(values)[::-1][:2]
        new = vectors[:, order].T  # (2, D)
        total = float(values.sum())
        self.explained = values[order] / total if total > 0 else np.zeros(2)
        if self.axes is not None:
            # R = argmin ||R new - old|| over orthogonal 2x2 R: from the SVD of old @ new.T
            u, _, vt = np.linalg.svd(self.axes @ new.T)
            rot = u @ vt
            new = rot @ new
            # a rotation mixes the variances; report them along the rotated axes
            if total > 0:
                self.explained = np.einsum("kd,de,ke->k", new, cov, new) / total
        self.axes = new
        return new

    def transform(self, mu: np.ndarray) -> np.ndarray:
        """float32 (N, 2) coordinates on the axes."""
        if self.axes is None:
            raise RuntimeError("StablePCA.transform before fit")
        mu = np.asarray(mu, dtype=np.float32)
        # einsum, not @: a (70000, D) x (D, 2) BLAS call wakes its thread pool, which waits for cores the
        # training thread keeps busy; einsum's plain loop runs on this thread alone
        return np.einsum("nd,kd->nk", mu, self.axes.astype(np.float32))

    def project(self, mu: np.ndarray) -> np.ndarray:
        """fit + transform: float32 (N, 2)."""
        self.fit(mu)
        return self.transform(mu)

    def lift(self, z: np.ndarray, xy: Sequence[float]) -> np.ndarray:
        """The point closest to z whose projection is xy: z moved within the PCA plane only."""
        z = np.asarray(z, dtype=np.float64)
        delta = np.asarray(xy, dtype=np.float64) - self.axes @ z
        return (z + self.axes.T @ delta).astype(np.float32)


# --- traversals and interpolation ---------------------------------------------------------------
DEFAULT_SPAN = 3.0
"""Traversals and sliders span ±3 prior standard deviations."""


def traversal_values(n: int = 9, span: float = DEFAULT_SPAN) -> np.ndarray:
    return np.linspace(-span, span, int(n))


def traversal_latents(z0: np.ndarray, dims: Sequence[int], values: np.ndarray) -> np.ndarray:
    """(len(dims), len(values), D): z0 with z[dims[r]] set to each value (set, not added: the row is absolute)."""
    z0 = np.asarray(z0, dtype=np.float32).reshape(-1)
    values = np.asarray(values, dtype=np.float32)
    grid = np.broadcast_to(z0, (len(dims), len(values), len(z0))).copy()
    for r, d in enumerate(dims):
        if not 0 <= int(d) < len(z0):
            raise ValueError(f"dimension {d} is outside 0..{len(z0) - 1}")
        grid[r, :, int(d)] = values
    return grid


def traversal_grid(decoder: DecoderSnapshot, z0: np.ndarray, dims: Sequence[int], values: np.ndarray | None = None,
                   y: int | None = None) -> np.ndarray:
    """Decoded traversals: (len(dims), len(values), C, H, W); row r varies only z[dims[r]] over `values`."""
    values = traversal_values() if values is None else np.asarray(values)
    latents = traversal_latents(z0, dims, values)
    rows, cols, d = latents.shape
    if rows * cols == 0:
        return np.zeros((rows, cols, *decoder.image_shape), dtype=np.float32)
    images = decoder.decode(latents.reshape(rows * cols, d), y)
    return images.reshape(rows, cols, *images.shape[1:])


def interpolate(z_a: np.ndarray, z_b: np.ndarray, n: int, mode: str = "linear") -> np.ndarray:
    """n points from z_a to z_b inclusive, (n, D) float32.

    linear: (1 - t) a + t b.  slerp (White 2016): sin((1-t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b with Ω the angle
    between a and b; it follows the great circle, so points on a sphere stay on it. Under N(0, I) in many
    dimensions, typical samples lie near the sphere of radius √D, while the midpoint of a straight line is
    atypically close to the origin. Nearly (anti)parallel vectors fall back to linear.
    """
    a = np.asarray(z_a, dtype=np.float64).reshape(-1)
    b = np.asarray(z_b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"endpoints differ in size: {a.shape} and {b.shape}")
    n = int(n)
    if n < 2:
        raise ValueError("interpolation needs n >= 2 points")
    t = np.linspace(0.0, 1.0, n)[:, None]
    if mode == "linear":
        out = (1 - t) * a + t * b
    elif mode == "slerp":
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        cos = float(np.clip(a @ b / (na * nb), -1.0, 1.0)) if na > 0 and nb > 0 else 1.0
        omega = math.acos(cos)
        if math.sin(omega) < 1e-6:
            out = (1 - t) * a + t * b
        else:
            out = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / math.sin(omega)
        out[0], out[-1] = a, b  # exact endpoints, whatever the rounding
    else:
        raise ValueError(f"interpolation mode must be linear or slerp, got {mode!r}")
    return out.astype(np.float32)


# --- the prior's contours and the rate-distortion plane -------------------------------------------
def prior_contour(radius_sigma: float, n_points: int = 181) -> np.ndarray:
    """(n_points, 2) closed circle of radius `radius_sigma` around the origin.

    In two chosen latent dimensions the contours of N(0, I) are circles (the marginal of two coordinates is
    N(0, I_2)). On the StablePCA plane too: the axes are orthonormal, so the projection of N(0, I) is again
    N(0, I_2), and the 1σ and 2σ contours are circles of radius 1 and 2.
    """
    t = np.linspace(0.0, 2 * np.pi, int(n_points))
    return np.stack([radius_sigma * np.cos(t), radius_sigma * np.sin(t)], axis=1)


def rd_line(rate: float, distortion: float, beta: float, r_range: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The iso-loss line D + βR = const through (rate, distortion), sampled at the ends of r_range.

    Along it the β-VAE loss is constant: its slope −β is the exchange rate the objective offers, nats of
    distortion per nat of rate. Returns (R, D) arrays of 2 points.
    """
    r = np.asarray([r_range[0], r_range[-1]], dtype=np.float64)
    const = float(distortion) + float(beta) * float(rate)
    return r, const - float(beta) * r

