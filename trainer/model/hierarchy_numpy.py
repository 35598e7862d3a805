"""A hierarchical VAE's top-down path in numpy, for the decoder sliders (no torch: importing it loads none)."""

from __future__ import annotations

import numpy as np


def _dense(state, name: str, h: np.ndarray) -> np.ndarray:
    return h @ state[f"{name}.weight"].T + state[f"{name}.bias"]


def generate_numpy(state, dims, u: np.ndarray, skip: bool = False) -> np.ndarray:
    """HierarchicalVAE.generate in float32 numpy from a state_dict of numpy arrays: the decoder's input (z_1, and
    with a residual ladder's skip the top-down feature beside it) of the paths u (n, sum(dims)). The decoder
    sliders' path (trainer.analysis.snapshots), which keeps off torch's thread pool; the same math as the module,
    its residual cells included (down.{layer}.2, .3, ...: h + fc2 relu(fc1 h))."""
    bounds = np.cumsum((0, *dims))
    z = u[:, bounds[-2]:bounds[-1]]
    feature = None
    for layer in reversed(range(len(dims) - 1)):
        h = np.maximum(_dense(state, f"down.{layer}.0", z), 0.0)
        cell = 2
        while f"down.{layer}.{cell}.fc1.weight" in state:
            h = h + _dense(state, f"down.{layer}.{cell}.fc2", np.maximum(_dense(state, f"down.{layer}.{cell}.fc1", h),
                                                                         0.0))
            cell += 1
        feature = h
        mu_p = _dense(state, f"down_mu.{layer}", h)
        logvar_p = _dense(state, f"down_logvar.{layer}", h)
        z = mu_p + np.exp(0.5 * logvar_p) * u[:, bounds[layer]:bounds[layer + 1]]
    if skip and feature is not None:
        z = np.concatenate([z, feature], axis=1)
    return z.astype(np.float32, copy=False)
