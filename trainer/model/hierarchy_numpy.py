"""The decoder sliders' numpy paths: a dense layer with its batch norm folded in, and a hierarchical VAE's top-down
path (no torch: importing it loads none)."""

from __future__ import annotations

import numpy as np

BN_EPS = 1e-5  # trainer.model.layers.BN_EPS (this module stays free of torch)


def folded_dense(state, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(W (out, in), b) of the dense layer `name` of a state_dict of numpy arrays, in eval mode: with batch norm
    (trainer.model.layers.NormedLinear) its running statistics and affine map folded into W and b."""
    w = state[f"{name}.weight"]
    if f"{name}.bn.running_mean" not in state:
        return w, state[f"{name}.bias"]
    scale = state[f"{name}.bn.weight"] / np.sqrt(state[f"{name}.bn.running_var"] + BN_EPS)
    shift = state[f"{name}.bn.bias"] - state[f"{name}.bn.running_mean"] * scale
    return (w * scale[:, None]).astype(w.dtype), shift.astype(w.dtype)


def folded_state(state) -> dict:
    """The state_dict with every batch-normalised dense layer folded into its weight and bias (its bn.* entries
    gone): what the numpy paths read, folded once per snapshot rather than on every slider move."""
    names = {k[: -len(".bn.running_mean")] for k in state if k.endswith(".bn.running_mean")}
    out = {k: v for k, v in state.items() if not any(k.startswith(f"{n}.bn.") for n in names)}
    for name in names:
        out[f"{name}.weight"], out[f"{name}.bias"] = folded_dense(state, name)
    return out


def activate(h: np.ndarray, name: str) -> np.ndarray:
    """ModelConfig.activation in place on float32 h: relu or tanh (trainer.model.layers.nonlinearity)."""
    return np.tanh(h, out=h) if name == "tanh" else np.maximum(h, 0.0, out=h)


def _dense(state, name: str, h: np.ndarray) -> np.ndarray:
    w, b = folded_dense(state, name)
    return h @ w.T + b


def generate_numpy(state, dims, u: np.ndarray, skip: bool = False, act: str = "relu") -> np.ndarray:
    """HierarchicalVAE.generate in float32 numpy from a state_dict of numpy arrays: the decoder's input (z_1, and
    with a residual ladder's skip the top-down feature beside it) of the paths u (n, sum(dims)). The decoder
    sliders' path (trainer.analysis.snapshots), which keeps off torch's thread pool; the same math as the module,
    its residual cells included (down.{layer}.2, .3, ...: h + fc2 act(fc1 h))."""
    bounds = np.cumsum((0, *dims))
    z = u[:, bounds[-2]:bounds[-1]]
    feature = None
    for layer in reversed(range(len(dims) - 1)):
        h = activate(_dense(state, f"down.{layer}.0", z), act)
        cell = 2
        while f"down.{layer}.{cell}.fc1.weight" in state:
            inner = activate(_dense(state, f"down.{layer}.{cell}.fc1", h), act)
            h = h + _dense(state, f"down.{layer}.{cell}.fc2", inner)
            cell += 1
        feature = h
        mu_p = _dense(state, f"down_mu.{layer}", h)
        logvar_p = _dense(state, f"down_logvar.{layer}", h)
        z = mu_p + np.exp(0.5 * logvar_p) * u[:, bounds[layer]:bounds[layer + 1]]
    if skip and feature is not None:
        z = np.concatenate([z, feature], axis=1)
    return z.astype(np.float32, copy=False)
