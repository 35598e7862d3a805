"""What the latent-space panels compute, without Qt: decoder snapshots, held-out encodings and their geometry.

    snap = DecoderSnapshot.from_model(trainer.model, step=trainer.step)   # training thread, between steps
    images = snap.decode(z)                        # any other thread: (n, C, H, W) float32 in [0, 1]
    latents = encode_heldout(trainer.model, trainer.dataset, trainer.device, step=trainer.step)
    xy = StablePCA().project(latents.mu)           # 2-D view that stays put between refreshes
    grid = traversal_grid(snap, z0, dims=[0, 3])   # (2, 9, C, H, W): row r moves only z[dims[r]]
    state = collapse_state(latents.kl_per_dim, latents.mu_variance)   # active units, posterior collapse

The rule that makes live decoding safe: weights are copied in the training thread, between optimizer steps
(`DecoderSnapshot.from_model`, `ExplorePublisher.poll`), and everything after that works on the copy. Nothing
here ever reads the live model from another thread.

torch is imported inside the functions that need it, so the window can import the geometry helpers
(`StablePCA`, `interpolate`, `prior_contour`, `collapse_state`, `rd_line`) before torch has loaded.
Log-densities are in nats per example; latent values are in units of the prior's standard deviation.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from trainer.config import ModelConfig
from trainer.likelihood import LikelihoodMeaning

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from trainer.data import Dataset

ACTIVE_KL_NATS = 0.01
"""A latent dimension whose KL(q(z_j|x) ‖ p(z_j)) is below this many nats carries (almost) no information."""
ACTIVE_VARIANCE = 0.01
"""Burda et al. 2016: dimension j is active when Var_x(E_q[z_j|x]) exceeds this (prior units squared)."""
COLLAPSE_RATE_NATS = 0.05
"""Total rate (nats per example) below which the whole posterior counts as collapsed onto the prior."""
NEAR_PRIOR_NATS_PER_DIM = 1.0
"""With no unit active, the posterior counts as collapsed only while its rate is below this many nats per latent
dimension: q(z|x) then ignores x and sits near p(z). A freshly built encoder also ignores x for its first few
dozen steps, but with its means far from 0 (3-4 nats per dimension seen on sprites); that is not a collapse."""
PCA_FIT_POINTS = 20_000
"""StablePCA fits its axes on at most this many evenly spaced points."""
FAST_PATH_MAX_POINTS = 128
"""MLP decodes of at most this many points run in numpy on the calling thread (see DecoderSnapshot._decode_numpy):
a slider's one point, and a 6x9 traversal grid in ~0.5 ms where torch took ~5 ms (building its module included)."""


def _as_float_tensor(x: np.ndarray, device) -> "torch.Tensor":
    """A batch of images as float32 in [0, 1] on `device` (uint8 is divided by 255)."""
    import torch

    x = np.asarray(x)
    # torch warns about (and cannot protect) read-only arrays such as LatentSnapshot.x: copy the batch
    t = torch.from_numpy(np.ascontiguousarray(x) if x.flags.writeable else np.array(x))
    return (t.float() / 255.0 if t.dtype == torch.uint8 else t.float()).to(device)


class _one_thread:
    """torch ops in the block use one CPU thread (torch keeps the count per thread; it is restored after).

    Snapshot decodes are small and run beside training, usually on the GUI thread: with the default team of
    one OpenMP thread per core they waited for cores the training thread fills (a 54-image MLP decode took
    ~2.7 ms instead of ~0.03 ms on a loaded 2-core machine, and the window stalled for up to ~200 ms).
    """

    def __enter__(self):
        import torch

        self._was = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self._was)


class _eval_mode:
    """Eval mode for the block, then whatever the model was in (the trainer's model is in train mode)."""

    def __init__(self, model):
        self._model, self._was = model, model.training

    def __enter__(self):
        self._model.eval()

    def __exit__(self, *exc):
        self._model.train(self._was)


# --- decoder snapshots ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DecoderSnapshot:
    """A frozen CPU copy of a VAE's weights, with the decoding (and encoding) the panels need.

    It holds numpy copies only (encoder too: reconstructions and the IWAE estimate need q(z|x)); the torch
    module is rebuilt from them on first use, in the thread that uses it, and never shares storage with the
    model being trained. Build it in the training thread, between steps, with `from_model`.
    """

    config: ModelConfig
    state: Mapping[str, np.ndarray] = field(repr=False)
    """Every tensor of model.state_dict() as a read-only float32 CPU numpy copy."""
    step: int = 0
    """Optimizer steps the weights had taken."""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._cache["lock"] = threading.Lock()

    @classmethod
    def from_model(cls, model, step: int = 0) -> "DecoderSnapshot":
        """Copy a live model's weights (any device) to CPU numpy. Call it from the thread that trains."""
        import torch

        with torch.no_grad():
            state = {}
            for name, tensor in model.state_dict().items():
                arr = tensor.detach().to("cpu", copy=True).float().numpy()
                arr.flags.writeable = False
                state[name] = arr
        return cls(config=model.config, state=state, step=int(step))

    @classmethod
    def from_state(cls, config: ModelConfig, state: Mapping[str, np.ndarray], step: int = 0) -> "DecoderSnapshot":
        """From a checkpoint's `model_state` (numpy arrays), e.g. to show an opened checkpoint before training."""
        copied = {}
        for name, value in state.items():
            arr = np.array(value, dtype=np.float32, copy=True)
            arr.flags.writeable = False
            copied[name] = arr
        return cls(config=config, state=copied, step=int(step))

    # --- facts ---------------------------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return int(self.config.latent_dim)

    @property
    def num_classes(self) -> int:
        """> 0 for a conditional VAE, whose decoder needs a label."""
        return int(self.config.num_classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c, h, w = self.config.input_shape
        return int(c), int(h), int(w)

    # --- torch modules -------------------------------------------------------------------------------
    def build_model(self):
        """A new CPU VAE in eval mode with these weights, for a thread of its own (e.g. the IWAE estimate)."""
        import torch

        from trainer.model import VAE

        with torch.device("meta"):  # no storage and no random initialisation: the weights come next
            model = VAE(self.config)
        # np.array copies the read-only arrays, so the module owns its storage (assign: no second copy)
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in self.state.items()}, assign=True)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    def module(self):
        """The snapshot's own CPU VAE, built once; used by `decode`/`encode` (keep to one thread at a time)."""
        model = self._cache.get("model")
        if model is None:
            with self._cache["lock"]:
                model = self._cache.get("model")
                if model is None:
                    model = self._cache["model"] = self.build_model()
        return model

    # --- decoding and encoding -----------------------------------------------------------------------
    def _labels(self, y, n: int):
        import torch

        if not self.num_classes:
            return None
        if y is None:
            y = 0  # a conditional decoder needs some label; class 0 is as good as any for a preview
        y = np.broadcast_to(np.asarray(y, dtype=np.int64), (n,))
        return torch.from_numpy(np.ascontiguousarray(y))

    def decode(self, z: np.ndarray, y: np.ndarray | int | None = None) -> np.ndarray:
        """E[x|z] for each row of z (n, latent_dim): float32 (n, C, H, W) in [0, 1]. `y` is the label(s) of a CVAE."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be (n, {self.latent_dim}), got shape {z.shape}")
        if len(z) <= FAST_PATH_MAX_POINTS and self.config.arch == "mlp":
            return self._decode_numpy(z, y)
        return self.decode_torch(z, y)

    def decode_torch(self, z: np.ndarray, y: np.ndarray | int | None = None) -> np.ndarray:
        """`decode` through the torch module, whatever the architecture and batch size."""
        import torch

        model = self.module()
        z = np.ascontiguousarray(np.asarray(z, dtype=np.float32).reshape(-1, self.latent_dim))
        with torch.inference_mode(), _one_thread():
            out = model.mean_image(model.decode(torch.from_numpy(z), self._labels(y, len(z))))
            return out.numpy()

    def _decode_numpy(self, z: np.ndarray, y) -> np.ndarray:
        # The slider path. torch's matmul wakes its OpenMP/MKL worker threads, which the training thread keeps
        # busy: on a loaded 2-core machine a 0.05 ms decode then waits ~8 ms for a scheduler tick. A one-row
        # numpy GEMV runs on the calling thread alone. Same float32 math as VAE.decode + mean_image.
        layers = self._cache.get("numpy_mlp")
        if layers is None:
            names = sorted({k.split(".")[1] for k in self.state if k.startswith("dec_mlp.")}, key=int)
            layers = [(np.ascontiguousarray(self.state[f"dec_mlp.{i}.weight"].T), self.state[f"dec_mlp.{i}.bias"])
                      for i in names]
            self._cache["numpy_mlp"] = layers
        h = z
        if self.num_classes:
            onehot = np.zeros((len(z), self.num_classes), np.float32)
            labels = np.broadcast_to(np.asarray(0 if y is None else y, dtype=np.int64), (len(z),))
            onehot[np.arange(len(z)), labels] = 1.0
            h = np.concatenate([z, onehot], axis=1)
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i + 1 < len(layers):
                np.maximum(h, 0.0, out=h)
        if self.config.likelihood == "bernoulli":
            h = 0.5 * (1.0 + np.tanh(0.5 * h))  # the logistic sigmoid, without exp overflow warnings
        else:
            np.clip(h, 0.0, 1.0, out=h)
        return h.astype(np.float32, copy=False).reshape(len(z), *self.image_shape)

    def encode(self, x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(mu, logvar) of q(z|x) for a batch (uint8 0..255 or float in [0, 1]), float32 numpy (n, latent_dim)."""
        import torch

        model = self.module()
        with torch.inference_mode(), _one_thread():
            xt = _as_float_tensor(x, "cpu")
            mu, logvar = model.encode(xt, self._labels(y, len(xt)))
            return mu.numpy(), logvar.numpy()

    def reconstruct(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """E[x|z = mu(x)]: the decoder's mean at the encoder's mean, float32 (n, C, H, W) in [0, 1]."""
        mu, _ = self.encode(x, y)
        return self.decode(mu, y)


# --- held-out encodings for the scatter ------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LatentSnapshot:
    """The encoder's q(z|x) on the held-out split at one step: what the latent scatter draws."""

    step: int
    mu: np.ndarray
    """float32 (N, latent_dim): posterior means, one row per held-out example."""
    logvar: np.ndarray
    """float32 (N, latent_dim): posterior log-variances."""
    x: np.ndarray
    """The held-out images in the same order as mu (N, C, H, W), read-only (for hover thumbnails)."""
    indices: np.ndarray
    """int64 (N,): each row's index in dataset.x_test (all of them unless max_points subsampled)."""
    labels: np.ndarray | None = None
    """int64 (N,) class labels, or None."""
    class_names: tuple[str, ...] = ()
    factors: np.ndarray | None = None
    """int64 (N, F) ground-truth factor indices (sprites), or None."""
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    kl_per_dim: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """float64 (latent_dim,): E_x KL(q(z_j|x) ‖ N(0, 1)) on the held-out split, nats per example."""
    mu_variance: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """float64 (latent_dim,): Var_x(mu_j), the Burda et al. activity statistic."""
    meaning: LikelihoodMeaning | None = None
    """What the model's ELBO and IWAE estimate on `x` may be called (log p(x), log p(x|y), or not a likelihood)."""

    @property
    def rate(self) -> float:
        """E_x KL(q(z|x) ‖ p(z)), nats per example."""
        return float(np.sum(self.kl_per_dim))

    @property
    def latent_dim(self) -> int:
        return int(self.mu.shape[1])

    def __len__(self) -> int:
        return int(self.mu.shape[0])


def _read_only(arr: np.ndarray | None) -> np.ndarray | None:
    if arr is None:
        return None
    view = arr.view()
    view.flags.writeable = False
    return view


def encode_heldout(
    model, dataset: "Dataset", device, max_points: int | None = None, step: int = 0, batch_size: int = 1024, seed: int = 0,
    x_test: np.ndarray | None = None, meaning: LikelihoodMeaning | None = None,
) -> LatentSnapshot:
    """Encode the held-out split (all of it unless `max_points`) with `model`, in the calling thread.

    Call it in the training thread between steps (the model is put in eval mode for the pass and restored).
    `x_test` is the held-out set as evaluations score it (trainer.x_test: binarized when training binarizes);
    dataset.x_test when not given. The images are not copied: `x` is a read-only view (or a subset copy).
    """
    from trainer.metrics import encode_dataset
    from trainer.objective import kl_per_dim

    import torch

    scored = dataset.x_test if x_test is None else x_test
    n = len(scored)
    if max_points is not None and 0 < max_points < n:
        indices = np.sort(np.random.default_rng(seed).choice(n, size=int(max_points), replace=False))
        x = scored[indices]
        pick = lambda a: None if a is None else a[indices]  # noqa: E731
    else:
        indices = np.arange(n)
        x = scored
        pick = lambda a: a  # noqa: E731
    labels = pick(dataset.y_test)
    conditional = bool(getattr(model.config, "conditional", False))
    mu, logvar = encode_dataset(model, x, labels if conditional else None, device, batch_size=batch_size)
    kl = kl_per_dim(torch.from_numpy(mu).double(), torch.from_numpy(logvar).double()).mean(0).numpy()
    return LatentSnapshot(
        step=int(step),
        mu=mu,
        logvar=logvar,
        x=_read_only(x),
        indices=indices,
        labels=_read_only(labels),
        class_names=tuple(dataset.class_names),
        factors=_read_only(pick(dataset.factors_test)),
        factor_names=tuple(dataset.factor_names),
        factor_sizes=tuple(int(s) for s in dataset.factor_sizes),
        kl_per_dim=kl,
        mu_variance=mu.astype(np.float64).var(axis=0),
        meaning=meaning,
    )


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
        # einsum, not @: a (70000, D) x (D, 2) BLAS call wakes its thread pool and took ~25 ms on a busy
        # 2-core machine, the plain loop 1 ms
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


# --- traversals, interpolation, samples -----------------------------------------------------------
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


def interpolation_strip(decoder: DecoderSnapshot, z_a, z_b, n: int = 10, mode: str = "linear", y: int | None = None) -> np.ndarray:
    """Decoded interpolation: (n, C, H, W)."""
    return decoder.decode(interpolate(z_a, z_b, n, mode), y)


def prior_latents(n: int, latent_dim: int, seed: int = 0) -> np.ndarray:
    """z ~ N(0, I) from numpy's generator: the same seed gives the same z on any device and torch version."""
    return np.random.default_rng(seed).standard_normal((int(n), int(latent_dim))).astype(np.float32)


def prior_samples(decoder: DecoderSnapshot, n: int, seed: int = 0, y: np.ndarray | int | None = None) -> np.ndarray:
    """E[x|z] for n draws of z ~ p(z): (n, C, H, W). A fixed seed shows the same z as the model learns."""
    return decoder.decode(prior_latents(n, decoder.latent_dim, seed), y)


def reconstructions(model, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """E[x|z = mu(x)] for a batch, float32 (n, C, H, W) in [0, 1].

    `model` is a DecoderSnapshot (any thread) or a live VAE (only from the thread that trains it).
    """
    if isinstance(model, DecoderSnapshot):
        return model.reconstruct(x, y)
    import torch

    device = next(model.parameters()).device
    with torch.no_grad(), _eval_mode(model):
        xt = _as_float_tensor(x, device)
        yt = None
        if model.config.conditional:
            yt = torch.as_tensor(np.zeros(len(xt)) if y is None else np.asarray(y), dtype=torch.long, device=device)
        mu, _ = model.encode(xt, yt)
        return model.mean_image(model.decode(mu, yt)).float().cpu().numpy()


@dataclass(frozen=True, eq=False)
class PreviewImages:
    """Inputs with their reconstructions and a fixed set of prior samples, float32 (n, C, H, W) in [0, 1]."""

    step: int
    inputs: np.ndarray
    recons: np.ndarray
    samples: np.ndarray


def preview_images(model, x: np.ndarray, y: np.ndarray | None = None, n_samples: int = 32, seed: int = 0,
                   step: int = 0) -> PreviewImages:
    """Reconstructions of `x` and `n_samples` prior samples (the same z every time for a given seed)."""
    snap = model if isinstance(model, DecoderSnapshot) else None
    inputs = np.asarray(x)
    inputs = inputs.astype(np.float32) / 255.0 if inputs.dtype == np.uint8 else inputs.astype(np.float32)
    recons = reconstructions(model, x, y)
    if snap is not None:
        # a conditional model samples every class in turn, like the live-model branch below
        labels = np.arange(n_samples) % snap.num_classes if snap.num_classes else None
        samples = prior_samples(snap, n_samples, seed, labels)
    else:
        import torch

        z = torch.from_numpy(prior_latents(n_samples, model.config.latent_dim, seed))
        device = next(model.parameters()).device
        with torch.no_grad(), _eval_mode(model):
            yt = None
            if model.config.conditional:
                yt = torch.arange(n_samples, device=device) % model.config.num_classes
            samples = model.mean_image(model.decode(z.to(device), yt)).float().cpu().numpy()
    return PreviewImages(step=int(step), inputs=inputs, recons=recons, samples=samples)


# --- geometry for the plots ----------------------------------------------------------------------
def prior_contour(radius_sigma: float, n_points: int = 181) -> np.ndarray:
    """(n_points, 2) closed circle of radius `radius_sigma` around the origin.

    In two chosen latent dimensions the contours of N(0, I) are circles (the marginal of two coordinates is
    N(0, I_2)). On the StablePCA plane too: the axes are orthonormal, so the projection of N(0, I) is again
    N(0, I_2), and the 1σ and 2σ contours are circles of radius 1 and 2.
    """
    t = np.linspace(0.0, 2 * np.pi, int(n_points))
    return np.stack([radius_sigma * np.cos(t), radius_sigma * np.sin(t)], axis=1)


@dataclass(frozen=True)
class CollapseState:
    """Which latent dimensions carry information, and whether the posterior has collapsed onto the prior."""

    active: np.ndarray
    """bool (latent_dim,): the dimension is in use."""
    n_active: int
    rate: float
    """Sum of the per-dimension KL, nats per example."""
    collapsed: bool
    """Rate ≈ 0 or no active unit: z tells the decoder (almost) nothing about x."""
    measure: str
    """"variance" (Burda et al. activity of mu) or "kl" (per-dimension KL threshold) — what `active` used."""

    @property
    def latent_dim(self) -> int:
        return int(len(self.active))


def variance_describes(variance_step: int | None, kl_step: int | None) -> bool:
    """Whether a held-out Var_x(μ) measured at `variance_step` may judge the activity of a model at `kl_step`.

    The held-out set is encoded every N steps, the live KL arrives with every report. An encoding made before
    the model had trained half as long as now describes an earlier model: right after the start (encoded at
    the first report, μ still near their initial values) it would call every unit inactive, and the window
    would warn of a collapse while the rate climbs past 40 nats. Then the live KL decides instead.
    """
    if variance_step is None or kl_step is None:
        return True
    return 2 * int(variance_step) >= int(kl_step)


def collapse_state(kl_per_dim, mu_variance=None, kl_threshold: float = ACTIVE_KL_NATS,
                   variance_threshold: float = ACTIVE_VARIANCE, rate_threshold: float = COLLAPSE_RATE_NATS) -> CollapseState:
    """Active units and posterior collapse.

    With `mu_variance` (Var_x of the posterior means, same length) a dimension is active when it exceeds
    `variance_threshold` (Burda et al. 2016): that is the better test, because a dimension can pay KL for a
    posterior variance != 1 while its mean ignores x. Without it, a dimension is active when its KL is at
    least `kl_threshold` nats. Collapsed, q(z|x) ≈ p(z): the total rate is below `rate_threshold`, or no unit is
    active and the rate is below NEAR_PRIOR_NATS_PER_DIM per dimension (means that ignore x but sit far from
    the prior's are a young encoder, not a collapse).
    """
    kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
    if mu_variance is not None and len(np.asarray(mu_variance).reshape(-1)) == len(kl):
        active = np.asarray(mu_variance, dtype=np.float64).reshape(-1) > variance_threshold
        measure = "variance"
    else:
        active = kl >= kl_threshold
        measure = "kl"
    rate = float(kl.sum()) if len(kl) else 0.0
    n_active = int(active.sum())
    near_prior = rate < NEAR_PRIOR_NATS_PER_DIM * len(kl)
    return CollapseState(active=active, n_active=n_active, rate=rate, measure=measure,
                         collapsed=bool(len(kl)) and (rate < rate_threshold or (n_active == 0 and near_prior)))


def rd_line(rate: float, distortion: float, beta: float, r_range: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The iso-loss line D + βR = const through (rate, distortion), sampled at the ends of r_range.

    Along it the β-VAE loss is constant: its slope −β is the exchange rate the objective offers, nats of
    distortion per nat of rate. Returns (R, D) arrays of 2 points.
    """
    r = np.asarray([r_range[0], r_range[-1]], dtype=np.float64)
    const = float(distortion) + float(beta) * float(rate)
    return r, const - float(beta) * r


# --- the ELBO gap --------------------------------------------------------------------------------
class Cancelled(Exception):
    """estimate_log_px stopped because should_stop() returned True."""


def estimate_log_px(model, x: np.ndarray, y: np.ndarray | None = None, k: int = 100, n: int | None = None,
                    progress: Callable[[int, int], None] | None = None, should_stop: Callable[[], bool] | None = None,
                    seed: int = 0) -> dict:
    """ELBO, IWAE log p(x) with k samples, and their gap, averaged over the first n examples of x (nats).

    `model` is a DecoderSnapshot (a private CPU copy is built, so this may run in any thread) or a VAE.
    The gap log p(x) − ELBO = E_x KL(q(z|x) ‖ p(z|x)); since the IWAE estimate is itself a lower bound on
    log p(x) (tight as k grows), the gap it gives is a lower bound on that KL. `progress(done, total)` is
    called after each batch; `should_stop()` is checked there and raises Cancelled.
    """
    import torch

    from trainer.metrics import evaluate

    net = model.build_model() if isinstance(model, DecoderSnapshot) else model
    if n is not None:
        x = x[: int(n)]
        y = None if y is None else y[: int(n)]
    # the evaluated slice is copied: snapshot arrays are read-only views, which torch.from_numpy warns about
    x = np.array(x)
    y = None if y is None else np.array(y)
    pixels = int(np.prod(np.asarray(x).shape[1:]))
    # ~1M pixel values per batch of k samples: batches of a fraction of a second, so progress and cancel respond
    batch = int(max(1, min(256, (1 << 20) // max(1, int(k) * pixels))))

    def report(done: int, total: int) -> None:
        if should_stop is not None and should_stop():
            raise Cancelled()
        if progress is not None:
            progress(done, total)

    device = next(net.parameters()).device if hasattr(net, "parameters") else "cpu"
    result = evaluate(net, x, y, device, batch_size=batch, iwae_samples=int(k),
                      generator=torch.Generator().manual_seed(int(seed)), progress=report)
    return {
        "elbo": result["elbo"],
        "log_px": result["iwae_log_px"],
        "gap": result["elbo_gap"],
        "rate": result["rate"],
        "distortion": result["distortion"],
        "k": int(k),
        "n": result["n"],
        "step": int(getattr(model, "step", 0)),
    }


# --- what the training thread publishes, and when -------------------------------------------------
def latent_interval(last_step: int, every: int) -> int:
    """Steps until the next held-out encoding after one at `last_step`: every `every` steps, but twice as often
    while the model is young (the next at double the step: 10, 20, 40, 80, ...), since the latent space changes
    fastest at the start and an encoding of a much younger model says little about the current one."""
    return max(1, min(int(every), int(last_step)))


class ExplorePublisher:
    """Decides, in the training thread, when to copy the decoder, render previews and encode the held-out set.

        publisher = ExplorePublisher()
        for report in trainer.run():
            ...
            for item in publisher.poll(trainer):      # DecoderSnapshot / PreviewImages / LatentSnapshot
                worker.sig_explore.emit(item)

    `poll` does the work itself (between steps: the only time the weights hold still). The knobs below are
    safe to call from the GUI thread. Costs for the 784-400-20 MLP on a CPU: a decoder copy ~1 ms, a
    preview ~2 ms, encoding 10k held-out images ~0.2 s; hence time-based copies, step-based encodings.
    """

    def __init__(self, decoder_interval_s: float = 0.25, preview_interval_s: float = 1.0, latent_every: int = 500,
                 max_points: int | None = None, n_preview: int = 16, n_samples: int = 32, seed: int = 0):
        self.decoder_interval_s = decoder_interval_s
        self.preview_interval_s = preview_interval_s
        self.max_points = max_points
        self.n_preview = n_preview
        self.n_samples = n_samples
        self.seed = seed
        self._lock = threading.Lock()
        self._latent_every = int(latent_every)
        self._latents_requested = False
        self.reset()

    def set_latent_every(self, steps: int) -> None:
        """Encode the held-out set every `steps` optimizer steps (0: only on request). Any thread."""
        with self._lock:
            self._latent_every = max(0, int(steps))

    def request_latents(self) -> None:
        """Encode at the next poll, whatever the interval. Any thread."""
        with self._lock:
            self._latents_requested = True

    def reset(self) -> None:
        """A new model: the next poll publishes everything (poll also notices a new model by itself)."""
        self._model_id: int | None = None
        self._last_decoder = -math.inf
        self._last_preview = -math.inf
        self._last_latent_step: int | None = None
        self._last_decoder_step: int | None = None
        self._meaning: LikelihoodMeaning | None = None

    def poll(self, trainer, force: bool = False) -> list:
        """What is due now, built from trainer.model / .dataset / .device / .step; call between steps only."""
        if id(trainer.model) != self._model_id:
            self.reset()
            self._model_id = id(trainer.model)
        now = time.monotonic()
        step = int(trainer.step)
        with self._lock:
            every, requested = self._latent_every, self._latents_requested
            self._latents_requested = False
        out: list[Any] = []
        last = self._last_latent_step
        latent_due = requested or force or last is None or (every > 0 and step - last >= latent_interval(last, every))
        decoder_due = force or latent_due or now - self._last_decoder >= self.decoder_interval_s
        if decoder_due and self._last_decoder_step != step:
            out.append(DecoderSnapshot.from_model(trainer.model, step=step))
            self._last_decoder, self._last_decoder_step = now, step
        elif decoder_due:
            self._last_decoder = now
        if force or now - self._last_preview >= self.preview_interval_s:
            x = trainer.dataset.x_test[: self.n_preview]
            y = trainer.dataset.y_test[: self.n_preview] if trainer.dataset.y_test is not None else None
            out.append(preview_images(trainer.model, x, y, self.n_samples, self.seed, step))
            self._last_preview = now
        if latent_due:
            if self._meaning is None:  # fixed for a model: its likelihood, binarization and data never change
                self._meaning = LikelihoodMeaning.of(trainer.model_config, trainer.config, trainer.x_test)
            out.append(encode_heldout(trainer.model, trainer.dataset, trainer.device, self.max_points, step=step,
                                      x_test=trainer.x_test, meaning=self._meaning))
            self._last_latent_step = step
        return out
