"""What the aggregate-posterior analyses share: their working memory per chunk, numpy's BLAS kept to one thread
beside training, and the check of an (N, D) array of latent points (trainer.analysis.holes, .aggregate)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np

CHUNK_BYTES = 32 * 2**20
"""Working memory (bytes) of one chunk of points in marginal_density and of one block in the distance searches:
70,000 points x 320 grid values in float64 would be 180 MB at once."""

_BLAS_LOCK = threading.Lock()
_BLAS_USERS = [0, None]  # [calls inside one_blas_thread, the threadpool_limits object of the first of them]


@contextmanager
def one_blas_thread() -> Iterator[None]:
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
def checked_points(name: str, array, min_points: int = 1) -> np.ndarray:
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
