"""A hierarchical VAE's top-down path in numpy, for the decoder sliders (no torch: importing it loads none)."""

from __future__ import annotations

import numpy as np


def generate_numpy(state, dims, u: np.ndarray) -> np.ndarray:
    """HierarchicalVAE.generate in float32 numpy from a state_dict of numpy arrays: z_1 (n, dims[0]) of the
    paths u (n, sum(dims)). The decoder sliders' path (trainer.analysis.snapshots), which keeps off torch's
    thread pool; the same math as the module."""
    bounds = np.cumsum((0, *dims))
    z = u[:, bounds[-2]:bounds[-1]]
    for layer in reversed(range(len(dims) - 1)):
        h = np.maximum(z @ state[f"down.{layer}.0.weight"].T + state[f"down.{layer}.0.bias"], 0.0)
        mu_p = h @ state[f"down_mu.{layer}.weight"].T + state[f"down_mu.{layer}.bias"]
        logvar_p = h @ state[f"down_logvar.{layer}.weight"].T + state[f"down_logvar.{layer}.bias"]
        z = mu_p + np.exp(0.5 * logvar_p) * u[:, bounds[layer]:bounds[layer + 1]]
    return z.astype(np.float32, copy=False)
