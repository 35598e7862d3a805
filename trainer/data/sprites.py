"""Sprites: procedural dSprites-style images (Matthey et al. 2017), generated from a seed with numpy only.

    x, factors = make_sprites(1000, image_size=64, seed=0)   # uint8 (1000, 1, 64, 64), int64 (1000, 5)

Every image comes with its ground-truth generative factors (shape, scale, orientation, position), which is what
disentanglement metrics such as MIG need.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.config import DatasetSpec
from trainer.data.dataset import Dataset, Progress, split_indices

SPRITE_SHAPES = ("square", "ellipse", "heart")
SPRITE_FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
SPRITE_FACTOR_SIZES = (3, 6, 40, 32, 32)
SPRITE_SCALES = np.linspace(0.5, 1.0, 6)
SPRITE_ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
"""Radians, counter-clockwise; endpoint excluded so the 40 values are 40 distinct angles."""

_HALF_SIZE = 0.15
"""Half side of a scale-1 shape as a fraction of the image side (dSprites-like proportions)."""
_ELLIPSE_MINOR = 0.5
"""Minor/major axis ratio: elongated enough that its orientation is visible."""
# The heart (x²+y²-1)³ - x²y³ <= 0 spans x in ±1.139, y in [-1, 1.236]; these map it onto the unit box
# like the square, so scale means the same thing for every shape.
_HEART_X, _HEART_Y, _HEART_DY = 1.139, 1.118, 0.118


def make_sprites(n: int, image_size: int = 64, seed: int = 0, progress: Progress = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """n sprites with factors drawn uniformly at random: (uint8 (n, 1, S, S), int64 factor indices (n, 5))."""
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, SPRITE_FACTOR_SIZES, size=(int(n), len(SPRITE_FACTOR_SIZES)), dtype=np.int64)
    return render_sprites(factors, image_size, progress), factors


def render_sprites(factors: np.ndarray, image_size: int = 64, progress: Progress = None) -> np.ndarray:
    """Draw one white shape on black per row of factor indices; uint8 (n, 1, S, S), 0 or 255.

    Binary like dSprites (no anti-aliasing), which suits a Bernoulli likelihood.
    """
    factors = np.asarray(factors, dtype=np.int64).reshape(-1, len(SPRITE_FACTOR_SIZES))
    if np.any(factors < 0) or np.any(factors >= np.asarray(SPRITE_FACTOR_SIZES)):
        raise ValueError(f"sprite factor indices must be below {SPRITE_FACTOR_SIZES}")
    size = int(image_size)
    out = np.zeros((len(factors), 1, size, size), dtype=np.uint8)
    # Chunks keep the float temporaries near 16 MB whatever n is.
    chunk = max(1, (1 << 22) // (size * size))
    for start in range(0, len(factors), chunk):
        f = factors[start:start + chunk]
        out[start:start + len(f), 0] = _render_chunk(f, size) * np.uint8(255)
        if progress is not None:
            progress("rendering sprites", min(1.0, (start + len(f)) / len(factors)))
    return out


def _render_chunk(factors: np.ndarray, size: int) -> np.ndarray:
    half = np.float32(_HALF_SIZE * size) * SPRITE_SCALES[factors[:, 1]].astype(np.float32)
    angle = SPRITE_ORIENTATIONS[factors[:, 2]]
    cos, sin = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
    # Centres stay one rotated scale-1 square (half-diagonal) away from the border, so no shape is clipped.
    margin = _HALF_SIZE * size * math.sqrt(2) + 0.5
    grid = np.linspace(margin, size - margin, SPRITE_FACTOR_SIZES[3], dtype=np.float32)
    cx, cy = grid[factors[:, 3]], grid[factors[:, 4]]

    pix = np.arange(size, dtype=np.float32) + np.float32(0.5)            # pixel centres
    dx = (pix[None, None, :] - cx[:, None, None]) / half[:, None, None]   # (n, 1, S), in shape units
    dy = (cy[:, None, None] - pix[None, :, None]) / half[:, None, None]   # (n, S, 1), y up
    # Rotating the shape by +angle = sampling the canonical shape at points rotated by -angle.
    u = dx * cos[:, None, None] + dy * sin[:, None, None]
    v = dy * cos[:, None, None] - dx * sin[:, None, None]

    mask = np.zeros(u.shape, dtype=bool)
    for k in range(len(SPRITE_SHAPES)):
        rows = np.flatnonzero(factors[:, 0] == k)
        if len(rows):
            mask[rows] = _inside(k, u[rows], v[rows])
    return mask


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points (u, v) in shape units (the shape spans about [-1, 1]²) inside the canonical shape."""
    if shape == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= 1
    if shape == 1:  # ellipse, major axis along u
        return u * u + (v / _ELLIPSE_MINOR) ** 2 <= 1
    x, y = u * _HEART_X, v * _HEART_Y + _HEART_DY
    x2 = x * x
    r = x2 + y * y - 1
    return r * r * r <= x2 * y * y * y


def load_sprites(spec: DatasetSpec, progress: Progress) -> Dataset:
    x, factors = make_sprites(spec.n, spec.image_size, spec.seed, progress)
    train, test = split_indices(len(x), spec.seed, where="sprites")
    return Dataset(spec, x[train], x[test], None, None,
                   factors_train=factors[train], factors_test=factors[test],
                   factor_names=SPRITE_FACTOR_NAMES, factor_sizes=SPRITE_FACTOR_SIZES)
