"""What the training thread hands the window, without Qt: decoder snapshots, held-out encodings, previews.

    snap = DecoderSnapshot.from_model(trainer.model, step=trainer.step)   # training thread, between steps
    images = snap.decode(z)                        # any other thread: (n, C, H, W) float32 in [0, 1]
    latents = encode_heldout(trainer.model, trainer.dataset, trainer.device, step=trainer.step)
    preview = preview_images(trainer.model, x, y)  # inputs, reconstructions and fixed prior samples
    for item in ExplorePublisher().poll(trainer):  # all of the above, each when it is due
        ...

The rule that makes live decoding safe: weights are copied in the training thread, between optimizer steps
(`DecoderSnapshot.from_model`, `ExplorePublisher.poll`), and everything after that works on the copy. Nothing
here ever reads the live model from another thread.

torch is imported inside the functions that need it, so the window can import this module before torch has
loaded. What the window computes from these (PCA, traversals, contours) is trainer.analysis.geometry; what it judges
(collapse, the ELBO gap) is trainer.analysis.diagnostics. Latent values are in units of the prior's standard deviation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

import numpy as np

from trainer.config import ModelConfig
from trainer.model.hierarchy_numpy import activate, folded_state, generate_numpy
from trainer.model.likelihood import LikelihoodMeaning, Provenance
from trainer.pixels import to_float01
from trainer.threads import one_torch_thread

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from trainer.data.dataset import Dataset

FAST_PATH_MAX_POINTS = 128
"""MLP decodes of at most this many points run in numpy on the calling thread (see DecoderSnapshot._decode_numpy):
a slider's one point and a 6x9 traversal grid. For so few points building a torch module and waking its thread
pool cost more than the arithmetic; larger batches go to torch, whose threads then pay for themselves."""


def _as_tensor(x: np.ndarray) -> "torch.Tensor":
    """A batch of images as a CPU tensor, as stored (uint8 or float)."""
    import torch

    x = np.asarray(x)
    # torch warns about (and cannot protect) read-only arrays such as LatentSnapshot.x: copy the batch
    return torch.from_numpy(np.ascontiguousarray(x) if x.flags.writeable else np.array(x))


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
    bound_k: int | None = None
    """The weights were trained on IWAE's bound with this many samples (trained_bound_k); None: on the ELBO."""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._cache["lock"] = threading.Lock()

    @classmethod
    def from_model(cls, model, step: int = 0, bound_k: int | None = None) -> "DecoderSnapshot":
        """Copy a live model's weights (any device) to CPU numpy. Call it from the thread that trains."""
        import torch

        with torch.no_grad():
            state = {}
            for name, tensor in model.state_dict().items():
                arr = tensor.detach().to("cpu", copy=True).float().numpy()
                arr.flags.writeable = False
                state[name] = arr
        return cls(config=model.config, state=state, step=int(step), bound_k=bound_k)

    @classmethod
    def from_state(cls, config: ModelConfig, state: Mapping[str, np.ndarray], step: int = 0,
                   bound_k: int | None = None) -> "DecoderSnapshot":
        """From a checkpoint's `model_state` (numpy arrays), e.g. to show an opened checkpoint before training."""
        copied = {}
        for name, value in state.items():
            arr = np.array(value, dtype=np.float32, copy=True)
            arr.flags.writeable = False
            copied[name] = arr
        return cls(config=config, state=copied, step=int(step), bound_k=bound_k)

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

        from trainer.model.hierarchy import build_model

        with torch.device("meta"):  # no storage and no random initialisation: the weights come next
            model = build_model(self.config)
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

    # --- the prior --------------------------------------------------------------------------------------
    def pseudo_inputs(self) -> np.ndarray | None:
        """The VampPrior's pseudo-inputs u_k as images (K, C, H, W) in [0, 1]; None under N(0, I)."""
        logits = self.state.get("pseudo_logits")
        if logits is None:
            return None
        return (0.5 * (1.0 + np.tanh(0.5 * logits))).astype(np.float32)  # the logistic sigmoid, overflow-free

    def prior_components(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The VampPrior's components: q(z | u_k) of every pseudo-input, (mu, logvar) each (K, latent_dim), computed
        once; None under N(0, I)."""
        if "pseudo_logits" not in self.state:
            return None
        if "prior" not in self._cache:
            pseudo = self.pseudo_inputs()
            parts = [self.encode(pseudo[i:i + 256]) for i in range(0, len(pseudo), 256)]
            self._cache["prior"] = (np.concatenate([m for m, _ in parts]), np.concatenate([lv for _, lv in parts]))
        return self._cache["prior"]

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
        with torch.inference_mode(), one_torch_thread():
            out = model.mean_image(model.decode(torch.from_numpy(z), self._labels(y, len(z))))
            return out.numpy()

    def _decode_numpy(self, z: np.ndarray, y) -> np.ndarray:
        # The slider path. torch's matmul wakes its OpenMP/MKL worker threads, which the training thread keeps
        # busy, so a tiny decode then waits for a scheduler tick far longer than it computes. A one-row
        # numpy GEMV runs on the calling thread alone. Same float32 math as VAE.decode + mean_image.
        layers = self._cache.get("numpy_mlp")
        if layers is None:
            state = self._cache["folded"] = folded_state(self.state)  # batch norm folded in, once
            names = sorted({k.split(".")[1] for k in state if k.startswith("dec_mlp.")}, key=int)
            layers = [(np.ascontiguousarray(state[f"dec_mlp.{i}.weight"].T), state[f"dec_mlp.{i}.bias"])
                      for i in names]
            self._cache["numpy_mlp"] = layers
        h = z if self.config.layers == 1 else generate_numpy(  # the decoder's input of the path u
            self._cache["folded"], self.config.layer_dims, z, skip=self.config.ladder == "residual",
            act=self.config.activation)
        if self.num_classes:
            onehot = np.zeros((len(z), self.num_classes), np.float32)
            labels = np.broadcast_to(np.asarray(0 if y is None else y, dtype=np.int64), (len(z),))
            onehot[np.arange(len(z)), labels] = 1.0
            h = np.concatenate([h, onehot], axis=1)
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i + 1 < len(layers):
                activate(h, self.config.activation)
        if self.config.likelihood == "bernoulli":
            h = 0.5 * (1.0 + np.tanh(0.5 * h))  # the logistic sigmoid, without exp overflow warnings
        else:
            np.clip(h, 0.0, 1.0, out=h)
        return h.astype(np.float32, copy=False).reshape(len(z), *self.image_shape)

    def encode(self, x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(mu, logvar) of q(z|x) for a batch (uint8 0..255 or float in [0, 1]), float32 numpy (n, latent_dim)."""
        import torch

        model = self.module()
        with torch.inference_mode(), one_torch_thread():
            xt = to_float01(_as_tensor(x))
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
    """float64 (latent_dim,): E_x KL(q(z_j|x) ‖ N(0, 1)) on the held-out split, nats per example; under a learned
    prior, the Monte Carlo KL of each dimension to the prior's marginal p_j (kl_to_prior_per_dim)."""
    prior_components: tuple[np.ndarray, np.ndarray] | None = None
    """The VampPrior at the same weights: (mu, logvar) of q(z | u_k) for every pseudo-input, float32 (K, latent_dim)
    each; None under N(0, I)."""
    mu_variance: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """float64 (latent_dim,): Var_x(mu_j), the Burda et al. activity statistic."""
    meaning: LikelihoodMeaning | None = None
    """What the model's ELBO and IWAE estimate on `x` may be called (log p(x), log p(x|y), or not a likelihood)."""
    provenance: Provenance | None = None
    """The data and run the figures on `x` come from, so a panel can say whether they compare with a paper's."""

    learned_rate: float | None = None
    """Under a learned prior, the held-out rate E_x KL(q(z|x) ‖ p(z)) by Monte Carlo (its kl_per_dim, to the
    marginals, need not add up to it); None under N(0, I)."""

    @property
    def rate(self) -> float:
        """E_x KL(q(z|x) ‖ p(z)), nats per example."""
        return float(np.sum(self.kl_per_dim)) if self.learned_rate is None else self.learned_rate

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
    model, dataset: "Dataset", device, max_points: int | None = None, step: int = 0, batch_size: int = 1024,
    seed: int = 0, x_test: np.ndarray | None = None, meaning: LikelihoodMeaning | None = None,
    provenance: Provenance | None = None,
) -> LatentSnapshot:
    """Encode the held-out split (all of it unless `max_points`) with `model`, in the calling thread.

    Call it in the training thread between steps (the model is put in eval mode for the pass and restored).
    `x_test` is the held-out set as evaluations score it (trainer.x_test: binarized when training binarizes);
    dataset.x_test when not given. The images are not copied: `x` is a read-only view (or a subset copy).
    """
    from trainer.analysis.metrics import encode_dataset


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
    learned_rate, kl = kl_to_prior(model, mu, logvar, seed)
    components = model_prior_components(model)
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
        provenance=provenance,
        prior_components=components,
        learned_rate=learned_rate,
    )


def model_prior_components(model) -> tuple[np.ndarray, np.ndarray] | None:
    """A live model's (or a DecoderSnapshot's) VampPrior components as float32 numpy (mu, logvar); None under
    N(0, I)."""
    if isinstance(model, DecoderSnapshot):
        return model.prior_components()
    pseudo = model.pseudo_inputs() if callable(getattr(model, "pseudo_inputs", None)) else None
    if pseudo is None:
        return None
    import torch

    from trainer.model.vae import eval_mode

    with torch.no_grad(), eval_mode(model):
        return tuple(t.float().cpu().numpy() for t in model.encode(pseudo))




def trained_bound_k(train_config) -> int | None:
    """IWAE's K when a TrainConfig trains on its bound; None for the other objectives."""
    return int(train_config.iwae_k) if train_config.objective == "iwae" else None


def kl_to_prior(model, mu: np.ndarray, logvar: np.ndarray, seed: int = 0) -> tuple[float | None, np.ndarray]:
    """(the rate under a learned prior, or None under N(0, I); each dimension's held-out KL), nats per example: to
    N(0, 1) in closed form, or under a learned prior (the VampPrior) by Monte Carlo at one draw per example
    (seeded), each dimension's to the prior's marginal p_j."""
    import torch

    from trainer.model.priors import prior_of

    mu_t, logvar_t = torch.from_numpy(mu).double(), torch.from_numpy(logvar).double()
    with torch.no_grad():
        prior = prior_of(model)
        if prior.exact_kl:
            return None, prior.kl(mu_t, logvar_t)[1].mean(0).numpy()
        prior = type(prior)(prior.mu.detach().cpu().double(), prior.logvar.detach().cpu().double())
        eps = torch.from_numpy(np.random.default_rng(seed).standard_normal(mu.shape))
        z = mu_t + torch.exp(0.5 * logvar_t) * eps
        rows = max(1, (1 << 22) // max(1, prior.count * mu.shape[1]))
        parts = [prior.kl(mu_t[r:r + rows], logvar_t[r:r + rows], z[r:r + rows]) for r in range(0, len(z), rows)]
        return (float(torch.cat([total for total, _ in parts]).mean()),
                torch.cat([dims for _, dims in parts]).mean(0).numpy())


# --- previews: reconstructions and prior samples ---------------------------------------------------
def prior_latents(n: int, latent_dim: int, seed: int = 0, components=None) -> np.ndarray:
    """z ~ p(z) from numpy's generator: the same seed gives the same z on any device and torch version. p(z) is
    N(0, I), or with `components` (mu, logvar), each (K, latent_dim), the mixture (1/K) Σ_k N(mu_k, Σ_k)."""
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((int(n), int(latent_dim))).astype(np.float32)
    if components is None:
        return eps
    mu, logvar = components
    which = rng.integers(0, len(mu), size=int(n))
    return (mu[which] + np.exp(0.5 * logvar[which]) * eps).astype(np.float32)


def prior_samples(decoder: DecoderSnapshot, n: int, seed: int = 0, y: np.ndarray | int | None = None) -> np.ndarray:
    """E[x|z] for n draws of z ~ p(z) (the model's prior): (n, C, H, W). A fixed seed shows the same z as the model
    learns."""
    return decoder.decode(prior_latents(n, decoder.latent_dim, seed, decoder.prior_components()), y)


def reconstructions(model, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """E[x|z = mu(x)] for a batch, float32 (n, C, H, W) in [0, 1].

    `model` is a DecoderSnapshot (any thread) or a live VAE (only from the thread that trains it).
    """
    if isinstance(model, DecoderSnapshot):
        return model.reconstruct(x, y)
    import torch

    from trainer.model.vae import eval_mode

    device = next(model.parameters()).device
    with torch.no_grad(), eval_mode(model):
        xt = to_float01(_as_tensor(x)).to(device)
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
    pseudo_inputs: np.ndarray | None = None
    """The VampPrior: its first pseudo-inputs u_k (at most as many as samples); None under N(0, I)."""
    pseudo_decoded: np.ndarray | None = None
    """E[x | z = μ(u_k)]: each pseudo-input decoded at its posterior mean, the image its component stands for."""


def preview_images(model, x: np.ndarray, y: np.ndarray | None = None, n_samples: int = 32, seed: int = 0,
                   step: int = 0) -> PreviewImages:
    """Reconstructions of `x` and `n_samples` prior samples (the same z every time for a given seed)."""
    snap = model if isinstance(model, DecoderSnapshot) else None
    inputs = to_float01(np.array(x))  # a copy: the published images never share memory with the dataset
    recons = reconstructions(model, x, y)
    if snap is not None:
        # a conditional model samples every class in turn, like the live-model branch below
        labels = np.arange(n_samples) % snap.num_classes if snap.num_classes else None
        samples = prior_samples(snap, n_samples, seed, labels)
    else:
        import torch

        from trainer.model.vae import eval_mode

        device = next(model.parameters()).device
        with torch.no_grad(), eval_mode(model):
            components = model_prior_components(model)  # the VampPrior's q(z | u_k); None under N(0, I)
            z = torch.from_numpy(prior_latents(n_samples, model.config.latent_dim, seed, components))
            yt = None
            if model.config.conditional:
                yt = torch.arange(n_samples, device=device) % model.config.num_classes
            samples = model.mean_image(model.decode(z.to(device), yt)).float().cpu().numpy()
    pseudo = _pseudo_inputs(model, n_samples)
    decoded = None if pseudo is None else reconstructions(model, pseudo)
    return PreviewImages(step=int(step), inputs=inputs, recons=recons, samples=samples, pseudo_inputs=pseudo,
                         pseudo_decoded=decoded)


def _pseudo_inputs(model, n: int) -> np.ndarray | None:
    """The first n pseudo-inputs of a VampPrior model (a live VAE or a DecoderSnapshot) as numpy; None without."""
    if isinstance(model, DecoderSnapshot):
        pseudo = model.pseudo_inputs()
    else:
        pseudo = model.pseudo_inputs() if callable(getattr(model, "pseudo_inputs", None)) else None
        pseudo = None if pseudo is None else pseudo.detach().float().cpu().numpy()
    return None if pseudo is None else np.array(pseudo[:n])
