"""Nonlinear maps of the latent space: UMAP (umap-learn) and t-SNE (openTSNE), on every point, stable over refreshes.

    params = ProjectionParams(method="umap", neighbours=15, min_dist=0.1)
    xy = project(mu, params)                          # (N, 2) float32 map of the encoder means
    xy2 = project(mu_later, params, previous=xy)      # starts from xy and is turned onto it: points glide
    faithfulness(mu, xy)                              # share of 10 nearest latent neighbours still neighbours
    #                                                   on the map
    knn_accuracy(xy, labels)                          # 10-NN label accuracy in 2-D (how well a map keeps classes)

A map of a 20-dimensional space is a picture, not coordinates: two points close on a UMAP may be far apart in
latent space, and distances between clusters mean little. So the window sends a clicked point's true μ to the
decoder, never a position on the map, and shows `faithfulness` beside the map.

Stable between refreshes: while training moves the encoder, a new map starts from the previous one (UMAP's
`init`, openTSNE's initial embedding, both of the same points) and is then aligned to it by the orthogonal
Procrustes fit (rotation or reflection, scale, shift), so the picture changes only where the latent space did.

`progress(message, fraction)` is called from the computing thread; `should_stop()` is asked between phases
(and, for t-SNE, every few iterations), and a stop raises ProjectionStopped. Every call is CPU-bound numpy,
numba or FFT code that belongs off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from trainer.errors import ConfigError, Stopped

METHODS = ("umap", "tsne")
FAITHFUL_K = 10
"""Neighbours compared between the latent space and the map."""
SAMPLE = 2000
"""Points whose neighbourhoods `faithfulness` and `knn_accuracy` check (their neighbours come from all points)."""

Progress = Optional[Callable[[str, float], None]]


class ProjectionStopped(Stopped):
    """should_stop() asked a projection to end before it finished."""


@dataclass(frozen=True)
class ProjectionParams:
    method: str = "umap"
    """umap or tsne."""
    neighbours: int = 15
    """UMAP n_neighbors: how local the map is (small: fine clusters; large: more global structure)."""
    min_dist: float = 0.1
    """UMAP min_dist: how tightly points may pack on the map."""
    perplexity: float = 30.0
    """t-SNE perplexity: the effective number of neighbours each point's affinities spread over."""
    seed: int = 0

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"projection must be one of {METHODS}, got {self.method!r}")
        if not 2 <= int(self.neighbours) <= 200:
            raise ConfigError(f"neighbours must be in 2..200, got {self.neighbours}")
        if not 0.0 <= float(self.min_dist) <= 1.0:
            raise ConfigError(f"min_dist must be in [0, 1], got {self.min_dist}")
        if not 2.0 <= float(self.perplexity) <= 500.0:
            raise ConfigError(f"perplexity must be in [2, 500], got {self.perplexity}")


def project(mu: np.ndarray, params: ProjectionParams, previous: np.ndarray | None = None,
            progress: Progress = None, should_stop: Callable[[], bool] = lambda: False) -> np.ndarray:
    """The (N, 2) float32 map of `mu` (N, D); `previous` (N, 2), the last map of the same points, seeds it."""
    params.validate()
    mu = np.ascontiguousarray(mu, dtype=np.float32)
    n = len(mu)
    if n < 5:
        raise ConfigError(f"a {params.method} map needs at least 5 points, got {n}")
    if previous is not None and previous.shape != (n, 2):
        previous = None  # other points (a new model, another data set): start afresh
    report = progress or (lambda message, fraction: None)
    if params.method == "umap":
        xy = _umap(mu, params, previous, report, should_stop)
    else:
        xy = _tsne(mu, params, previous, report, should_stop)
    xy = np.asarray(xy, dtype=np.float64)
    if previous is not None:
        # UMAP rescales its start to a box axis by axis, so its refresh is turned back with a general affine map
        xy = align(xy, previous, affine=params.method == "umap")
    report("done", 1.0)
    return xy.astype(np.float32)


def _check(should_stop) -> None:
    if should_stop():
        raise ProjectionStopped()


def _umap(mu, params, previous, report, should_stop) -> np.ndarray:
    report("UMAP: loading umap-learn (compiles its kernels on first use)", 0.0)
    import umap  # noqa: PLC0415  (heavy: numba; only when a map is asked for)

    _check(should_stop)
    n = len(mu)
    start = previous is not None
    report("UMAP: neighbour graph and layout" + (" from the previous map" if start else ""), 0.05)
    model = umap.UMAP(
        n_neighbors=min(int(params.neighbours), n - 1),
        min_dist=float(params.min_dist),
        # a refresh starts from the last map, with few, gentle epochs: UMAP's first epochs may move a point by
        # 4 x learning rate in a box 10 wide, which at the default rate reshuffles what should only settle
        init=previous.astype(np.float32) if start else "pca",  # pca: fast, and never fails on large sets
        n_epochs=(30 if start else None),
        learning_rate=(0.2 if start else 1.0),
        low_memory=True,
        verbose=False,
    )
    xy = model.fit_transform(mu)
    _check(should_stop)
    return xy


EXACT_BELOW = 100_000
"""t-SNE finds each point's neighbours exactly below this many points, approximately (annoy) from it on."""
BH_BELOW = 4000
"""t-SNE uses Barnes-Hut below this many points and FFT interpolation from it on (timings in _tsne)."""


def _tsne(mu, params, previous, report, should_stop) -> np.ndarray:
    report("t-SNE: loading openTSNE", 0.0)
    from openTSNE import TSNEEmbedding, affinity, initialization  # noqa: PLC0415

    n = len(mu)
    perplexity = min(float(params.perplexity), (n - 1) / 3)
    report("t-SNE: nearest neighbours and affinities", 0.05)
    # exact neighbours up to EXACT_BELOW points: faster than annoy's approximate ones there, on 20-dimensional
    # MNIST means, 2 cores: 1.1 s against 2.8 s at 10,000 points, 2.6 against 9.7 at 30,000, 10.7 at 70,000
    aff = affinity.PerplexityBasedNN(mu, perplexity=perplexity, n_jobs=-1, random_state=params.seed,
                                     method="exact" if n < EXACT_BELOW else "annoy", verbose=False)
    _check(should_stop)
    if previous is not None:
        init = np.ascontiguousarray(previous, dtype=np.float64)  # already at the scale of a finished map
        early, late = 0, 250  # already laid out: no early exaggeration, fewer iterations
    else:
        init = initialization.pca(mu, random_state=params.seed)
        early, late = 250, 250
    total = early + late
    done = [0]

    def callback(iteration, error, embedding):
        done[0] += 10
        report("t-SNE: optimising", 0.15 + 0.85 * min(1.0, done[0] / total))
        return bool(should_stop())  # True ends the optimisation

    # The FFT-interpolated gradient costs about 7 s for 500 iterations whatever the size below ~5,000 points
    # (its grid), Barnes-Hut grows with n: 0.4 s for 400 points, 3.4 s for 2,000, 9.9 s for 5,000 against FFT's
    # 9.2 (2-core machine). So Barnes-Hut for small sets, as openTSNE's "auto" does, and FFT from BH_BELOW on.
    # ints_in_interval=2: a coarser FFT grid once the map has spread (2-3x faster here, same neighbourhoods)
    fft = n >= BH_BELOW
    step = {"ints_in_interval": 2} if fft else {}
    emb = TSNEEmbedding(init, aff, n_jobs=-1, negative_gradient_method="fft" if fft else "bh", random_state=params.seed,
                        callbacks=callback, callbacks_every_iters=10)
    if early:
        emb = emb.optimize(n_iter=early, exaggeration=12, momentum=0.5, **step)
        _check(should_stop)
    emb = emb.optimize(n_iter=late, momentum=0.8, **step)
    _check(should_stop)
    return np.asarray(emb)


def align(xy: np.ndarray, reference: np.ndarray, affine: bool = False) -> np.ndarray:
    """xy turned (rotation or reflection), scaled and shifted to lie as close as possible to `reference`.

    The orthogonal Procrustes solution: with both centred, R = U V^T from the SVD of xy^T ref, and the scale
    trace(S) / |xy|^2 minimises the squared distances between corresponding points. `affine`: any linear map
    plus shift (least squares), for a map whose axes were stretched unequally."""
    a = xy - xy.mean(0)
    b = reference - reference.mean(0)
    if affine:
        linear, *_ = np.linalg.lstsq(a, b, rcond=None)
        return a @ linear + reference.mean(0)
    u, s, vt = np.linalg.svd(a.T @ b)
    rotation = u @ vt
    norm = float((a ** 2).sum())
    scale = float(s.sum()) / norm if norm > 0 else 1.0
    return a @ rotation * scale + reference.mean(0)


def _sample(n: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=min(n, SAMPLE), replace=False))


def _knn(points: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Indices of each query's k nearest points (itself excluded): (len(queries), k)."""
    from sklearn.neighbors import NearestNeighbors  # noqa: PLC0415

    nn = NearestNeighbors(n_neighbors=k + 1).fit(points)
    _, idx = nn.kneighbors(points[queries])
    out = np.empty((len(queries), k), dtype=np.int64)
    for row, (q, found) in enumerate(zip(queries, idx)):
        found = found[found != q][:k]
        out[row] = found
    return out


def faithfulness(mu: np.ndarray, xy: np.ndarray, k: int = FAITHFUL_K, seed: int = 0) -> float:
    """The mean share of a point's k nearest neighbours in latent space that are among its k nearest on the map
    (on up to SAMPLE points, their neighbours found among all): 1 keeps every neighbourhood, k/N is chance."""
    n = len(mu)
    if n <= k + 1:
        return 1.0
    queries = _sample(n, seed)
    high = _knn(np.asarray(mu, np.float32), queries, k)
    low = _knn(np.asarray(xy, np.float32), queries, k)
    return float(np.mean([len(np.intersect1d(near, kept)) / k for near, kept in zip(high, low)]))


def knn_accuracy(xy: np.ndarray, labels: np.ndarray, k: int = FAITHFUL_K, seed: int = 0) -> float:
    """Leave-one-out k-NN label accuracy of the map (majority of the k nearest, on up to SAMPLE points)."""
    labels = np.asarray(labels)
    queries = _sample(len(xy), seed)
    neighbours = _knn(np.asarray(xy, np.float32), queries, k)
    votes = labels[neighbours]
    predicted = np.array([np.bincount(v).argmax() for v in votes])
    return float(np.mean(predicted == labels[queries]))


@dataclass(frozen=True)
class ProjectionRequest:
    """One map to compute, as the window asks for it (numbers only: it crosses to a background thread)."""

    token: int
    """Which request this is: a result whose token is not the latest one asked for is stale."""
    mu: np.ndarray
    """(N, D) encoder means."""
    params: ProjectionParams
    previous: np.ndarray | None = None
    """(N, 2) the last map of the same points, to start from and align to; None starts afresh."""
