"""Selections of latent points: which points a drawn shape holds, what they have in common, and exporting them.

    mask = inside_polygon(xy, lasso)                 # (N,) bool: the points a lasso (K, 2) encloses
    mask = inside_box(xy, (x0, y0), (x1, y1))
    d = class_direction(mu, labels, 3, 8)            # mean μ of class 3 − mean μ of class 8
    d = selection_direction(mu, picked)              # mean μ of the selection − mean μ of all points
    write_indices_csv("picked.csv", indices, labels, class_names)
    write_selection_npz("picked.npz", images=x, mu=mu, logvar=logvar, indices=indices, labels=labels)

Shapes are tested in the 2-D view the user drew them in (PCA, two dimensions, UMAP or t-SNE), but what is kept
and exported are the examples: their dataset indices, images and latent posteriors. Attribute directions are
differences of posterior means in the full latent space (White 2016, "Sampling generative networks"): adding
one to a z moves the decoded image toward the first group and away from the second.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.atomic import atomic_write
from trainer.errors import ConfigError, VaeExplorerError


class ExportFailed(VaeExplorerError):
    """A selection could not be written; one line naming the file."""


def inside_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) bool: which points lie inside the closed polygon (K, 2), by the even–odd rule (a lasso that crosses
    itself excludes the doubly enclosed part, as in drawing programs). Fewer than 3 vertices enclose nothing."""
    xy = np.asarray(xy, np.float64)
    poly = np.asarray(polygon, np.float64)
    inside = np.zeros(len(xy), bool)
    if len(poly) < 3 or not len(xy):
        return inside
    lo, hi = poly.min(0), poly.max(0)
    cand = np.flatnonzero((xy[:, 0] >= lo[0]) & (xy[:, 0] <= hi[0]) & (xy[:, 1] >= lo[1]) & (xy[:, 1] <= hi[1]))
    px, py = xy[cand, 0], xy[cand, 1]
    hit = np.zeros(len(cand), bool)
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1):  # one vectorised pass per edge: K is hundreds, N up to 70k
        crosses = (ay > py) != (by > py)
        if not crosses.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            at = ax + (py - ay) * (bx - ax) / (by - ay)
        hit ^= crosses & (px < at)
    inside[cand] = hit
    return inside


def inside_box(xy: np.ndarray, corner: Sequence[float], opposite: Sequence[float]) -> np.ndarray:
    """(N,) bool: which points lie in the axis-aligned box spanned by two opposite corners (edges included)."""
    xy = np.asarray(xy, np.float64)
    (x0, x1), (y0, y1) = sorted((corner[0], opposite[0])), sorted((corner[1], opposite[1]))
    return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)


def combine(current: np.ndarray, picked: np.ndarray, how: str) -> np.ndarray:
    """Sorted unique positions after a new shape: "replace", "add" (Shift) or "remove" (Ctrl)."""
    picked = np.unique(np.asarray(picked, np.int64))
    if how == "add":
        return np.union1d(current, picked)
    if how == "remove":
        return np.setdiff1d(current, picked)
    return picked


def categories(latents, key: str) -> tuple[np.ndarray, list[str]] | None:
    """(codes (N,), names) for "label" or a factor name of a LatentSnapshot, or None when it has no such thing."""
    if key == "label" and latents.labels is not None:
        codes = np.asarray(latents.labels, np.int64)
        k = int(max(codes.max() + 1 if len(codes) else 1, len(latents.class_names)))
        return codes, [latents.class_names[i] if i < len(latents.class_names) else str(i) for i in range(k)]
    if latents.factors is not None and key in latents.factor_names:
        f = latents.factor_names.index(key)
        codes = np.asarray(latents.factors[:, f], np.int64)
        k = int(latents.factor_sizes[f]) if f < len(latents.factor_sizes) else int(codes.max() + 1)
        return codes, [str(i) for i in range(k)]
    return None


def category_keys(latents) -> list[str]:
    """"label" and the factor names a snapshot can be grouped by."""
    keys = ["label"] if latents is not None and latents.labels is not None else []
    return keys + (list(latents.factor_names) if latents is not None and latents.factors is not None else [])


def counts(codes: np.ndarray, size: int) -> np.ndarray:
    """(size,) int64: how many of `codes` (int category per point) fall in each category."""
    return np.bincount(np.asarray(codes, np.int64), minlength=size)[:size]


def class_direction(mu: np.ndarray, codes: np.ndarray, first: int, second: int) -> np.ndarray:
    """Mean μ of the points whose code is `first` minus that of `second` (float32 (D,))."""
    codes = np.asarray(codes)
    a, b = codes == first, codes == second
    if not a.any() or not b.any():
        missing = first if not a.any() else second
        raise ConfigError(f"no held-out example has class {missing}: no direction to take")
    return (mu[a].mean(0, dtype=np.float64) - mu[b].mean(0, dtype=np.float64)).astype(np.float32)


def selection_direction(mu: np.ndarray, picked: np.ndarray) -> np.ndarray:
    """Mean μ of the selection minus the mean μ of every point (float32 (D,))."""
    if not len(picked):
        raise ConfigError("the selection is empty: no direction to take")
    return (mu[picked].mean(0, dtype=np.float64) - mu.mean(0, dtype=np.float64)).astype(np.float32)


def write_indices_csv(path: str | Path, indices: np.ndarray, labels: np.ndarray | None = None,
                      class_names: Sequence[str] = ()) -> None:
    """One row per selected example: its index in the held-out split (and its label), written atomically."""
    try:
        with atomic_write(path) as tmp, open(tmp, "w", newline="") as f:
            out = csv.writer(f)
            if labels is None:
                out.writerow(["index"])
                out.writerows([int(i)] for i in indices)
            else:
                out.writerow(["index", "label", "class"])
                for i, y in zip(indices, labels):
                    y = int(y)
                    out.writerow([int(i), y, class_names[y] if y < len(class_names) else y])
    except OSError as exc:
        raise ExportFailed(f"{path}: cannot write the selection ({exc.strerror or exc})") from exc


def write_selection_npz(path: str | Path, **arrays: np.ndarray | None) -> None:
    """The selection's arrays (images, mu, logvar, indices, labels, factors...) as a compressed NPZ, atomically;
    None entries are left out."""
    kept = {name: np.asarray(a) for name, a in arrays.items() if a is not None}
    try:
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to the temporary name
                np.savez_compressed(f, **kept)
    except OSError as exc:
        raise ExportFailed(f"{path}: cannot write the selection ({exc.strerror or exc})") from exc
