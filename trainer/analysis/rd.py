"""The rate–distortion plane's numbers, numpy only (the window draws them before torch has loaded).

    rate, distortion, elbo = final_rd(checkpoint.history)     # a run's end point
    on = frontier_indices(rates, distortions)                 # which end points make the empirical frontier
"""

from __future__ import annotations

import math

import numpy as np


def final_rd(history: dict) -> tuple[float, float, float]:
    """A run's (rate, distortion, ELBO) as its history last measured them: the held-out evaluation of its last
    epoch, or its last training report before any epoch ended; NaN for a run with neither."""
    for kl, recon in (("epochs/test_kl", "epochs/test_recon"), ("steps/kl", "steps/recon")):
        if len(history.get(kl, ())):
            r, d = float(history[kl][-1]), float(history[recon][-1])
            return r, d, -(r + d)
    return math.nan, math.nan, math.nan


def frontier_indices(rate, distortion) -> list[int]:
    """Indices of the points on the empirical rate-distortion frontier, by increasing rate.

    The frontier is the lower convex envelope of the (R, D) points, from the point of least rate down to the
    point of least distortion: every run above it, or right of its end, is beaten by a mix of two runs on it
    (Alemi et al. 2018). Points with a non-finite coordinate are left out."""
    r, d = np.asarray(rate, dtype=float), np.asarray(distortion, dtype=float)
    ok = [i for i in range(len(r)) if math.isfinite(r[i]) and math.isfinite(d[i])]
    ok.sort(key=lambda i: (r[i], d[i]))
    hull: list[int] = []
    for i in ok:
        if hull and r[hull[-1]] == r[i]:
            continue  # the same rate and more distortion
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # keep b only if it lies strictly below the chord from a to i
            cross = (r[b] - r[a]) * (d[i] - d[a]) - (d[b] - d[a]) * (r[i] - r[a])
            if cross > 0:
                break
            hull.pop()
        hull.append(i)
    if not hull:
        return []
    best = min(range(len(hull)), key=lambda k: (d[hull[k]], r[hull[k]]))
    return hull[: best + 1]
