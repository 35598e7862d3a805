"""Plain-data configs for the model, the training run and the dataset.

Each config round-trips through `to_dict`/`from_dict` (JSON-safe values only), which is how the
checkpoint stores it and how the CLI and the window build it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from trainer.errors import ConfigError

ARCHS = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "continuous-bernoulli", "gaussian")
BINARIZE = ("none", "dynamic", "static")
OBJECTIVES = ("elbo", "tcvae")
TC_SAMPLING = ("mws", "mss")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
CONV_MIN_SIDE, CONV_MAX_SIDE = 28, 128  # conv: square images whose side is a multiple of 4 in this range
MAX_SEED = 2**31 - 1  # the trainer derives per-epoch seeds as seed * 1_000_003 + epoch; keep that < 2**63
MAX_LAYERS = 5  # stochastic layers of a hierarchical VAE
MAX_SPRITES = 200_000  # 64x64 uint8: 820 MB, already more than a laptop wants in memory


MAX_CLASSES = 1000
"""The most classes a dataset's labels (0 .. MAX_CLASSES - 1) and a conditional VAE may have: labels are checked
against it before anything is sized by them (a label of 10^9 once made a loader allocate tens of GB)."""


def _from_dict(cls, data: dict[str, Any]):
    """Build a dataclass from a dict, rejecting unknown keys so a typo never passes silently."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = data[f.name]
            if isinstance(value, list):
                value = tuple(value)
            kwargs[f.name] = value
    obj = cls(**kwargs)
    obj.validate()
    return obj


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be an integer in 0..{MAX_SEED}, got {seed!r}")


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "mlp"
    """mlp (fully connected) or conv (strided convolutions; square images, side a multiple of 4 in 28..128)."""
    input_shape: tuple[int, int, int] = (1, 28, 28)
    """(channels, height, width) of one example; fixed by the dataset."""
    hidden: tuple[int, ...] = (400,)
    """MLP hidden widths, mirrored in the decoder; 784-400-20 is the classic PyTorch example.
    For conv, the width of the dense layer between the conv stack and (mu, logvar)."""
    latent_dim: int = 20
    """Dimensions of z; the prior is N(0, I) over them."""
    likelihood: str = "bernoulli"
    """p(x|z): bernoulli (decoder gives logits; a probability of binary pixels), continuous-bernoulli (logits;
    a density on [0, 1], Loaiza-Ganem & Cunningham 2019) or gaussian (decoder gives the mean)."""
    sigma: float = 0.0
    """Gaussian likelihood only: the fixed observation std, or 0 to learn one shared log sigma."""
    num_classes: int = 0
    """>0 makes a conditional VAE: encoder and decoder both see a one-hot label of this many classes."""
    encoder_hidden: tuple[int, ...] = ()
    """The encoder's MLP widths (conv: its dense layer's) when they differ from the decoder's; empty: `hidden`,
    mirrored. Cremer et al. (2018) widen the encoder alone to show the amortization gap close."""
    layers: int = 1
    """Stochastic layers: >1 makes a hierarchical VAE (trainer.model.hierarchy, a Ladder VAE) whose latent_dim
    dimensions are split among the layers, bottom first (layer_dims); checkpoints before format 2 have one."""

    def validate(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if len(self.input_shape) != 3 or any(int(s) < 1 for s in self.input_shape):
            raise ConfigError(f"input_shape must be (C, H, W) of positive ints, got {self.input_shape}")
        c, h, w = self.input_shape
        if c > 4 or h > 1024 or w > 1024:
            raise ConfigError(f"input_shape must be at most (4, 1024, 1024), got {self.input_shape}")
        if self.arch == "conv":
            c, h, w = self.input_shape
            if h != w or h % 4 or not CONV_MIN_SIDE <= h <= CONV_MAX_SIDE:
                raise ConfigError(f"conv needs square images whose side is a multiple of 4 in "
                                  f"{CONV_MIN_SIDE}..{CONV_MAX_SIDE}, got {w}x{h}")
        if not self.hidden or len(self.hidden) > 8 or any(not 1 <= int(h) <= 16384 for h in self.hidden):
            raise ConfigError(f"hidden must be 1 to 8 sizes in 1..16384, got {self.hidden}")
        if len(self.encoder_hidden) > 8 or any(not 1 <= int(h) <= 16384 for h in self.encoder_hidden):
            raise ConfigError(f"encoder_hidden must be at most 8 sizes in 1..16384, got {self.encoder_hidden}")
        if not 1 <= int(self.latent_dim) <= 512:
            raise ConfigError(f"latent_dim must be in 1..512, got {self.latent_dim}")
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ConfigError(f"sigma must be >= 0 (0 = learned), got {self.sigma}")
        if not 0 <= int(self.num_classes) <= MAX_CLASSES:
            raise ConfigError(f"num_classes must be in 0..{MAX_CLASSES}, got {self.num_classes}")
        if isinstance(self.layers, bool) or not isinstance(self.layers, int) or not 1 <= self.layers <= MAX_LAYERS:
            raise ConfigError(f"layers must be an integer in 1..{MAX_LAYERS}, got {self.layers!r}")
        if self.layers > int(self.latent_dim):
            raise ConfigError(f"{self.layers} layers need at least one latent dimension each, "
                              f"but latent_dim is {self.latent_dim}")

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def layer_dims(self) -> tuple[int, ...]:
        """Dimensions of each stochastic layer, bottom (z_1) first: latent_dim split evenly, the remainder to the
        bottom layers. The latent vector the tool shows is these layers concatenated in this order."""
        base, extra = divmod(int(self.latent_dim), int(self.layers))
        return tuple(base + (1 if i < extra else 0) for i in range(int(self.layers)))

    def layer_slices(self) -> list[slice]:
        """Where each layer sits in the latent vector, bottom first."""
        out, start = [], 0
        for d in self.layer_dims:
            out.append(slice(start, start + d))
            start += d
        return out

    @property
    def input_size(self) -> int:
        c, h, w = self.input_shape
        return c * h * w

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["hidden"] = list(self.hidden)
        d["encoder_hidden"] = list(self.encoder_hidden)
        return d

    @property
    def encoder_widths(self) -> tuple[int, ...]:
        """The encoder's hidden widths: encoder_hidden, or hidden when that is empty."""
        return tuple(int(h) for h in (self.encoder_hidden or self.hidden))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    """Passes over the training split."""
    batch_size: int = 128
    """Examples per step; 128 matches the classic PyTorch VAE example."""
    lr: float = 1e-3
    """Adam learning rate; changeable live."""
    beta: float = 1.0
    """Weight of KL in the loss (beta-VAE); the schedule scales it, and it is changeable live."""
    beta_schedule: str = "constant"
    """constant | warmup:STEPS (Bowman et al. 2016) | cyclical:PERIOD (Fu et al. 2019)."""
    free_bits: float = 0.0
    """Nats per latent dimension below which KL is not penalised (Kingma et al. 2016); 0 = off."""
    seed: int = 0
    """Seeds weights, shuffling and the reparameterization noise: a seed reproduces a run."""
    device: str = "auto"
    """auto picks cuda, then mps, then cpu."""
    report_every: int = 10
    """Steps averaged into one StepReport; keeps device syncs and GUI traffic low."""
    binarize: str = "none"
    """none: train on the pixel values as given; dynamic: a fresh Bernoulli(x) sample of every batch (Burda et
    al. 2016, the setting of most published MNIST likelihoods); static: one sample of the training set drawn
    from the seed. Either way the held-out set is one fixed sample, so evaluations compare."""
    precision: str = "fp32"
    """fp32, or bf16: the forward pass under bfloat16 autocast (CPU and CUDA; the loss and Adam stay fp32)."""
    objective: str = "elbo"
    """elbo: the β-VAE loss D + β·KL; tcvae: β-TCVAE (Chen et al. 2018), D + α·MI + β·TC + γ·dimension-wise KL,
    the KL term split on the minibatch, so β weighs only the total correlation (trainer.model.objective)."""
    tc_alpha: float = 1.0
    """tcvae: weight of the index-code mutual information."""
    tc_gamma: float = 1.0
    """tcvae: weight of the dimension-wise KL."""
    tc_sampling: str = "mws"
    """tcvae: how the batch estimates q(z): mws (minibatch-weighted) or mss (minibatch stratified)."""
    layer_beta: tuple[float, ...] = ()
    """A hierarchical VAE: each layer's weight on β, bottom first (layer l's KL is charged β * layer_beta[l]);
    () weighs every layer 1. The live β and the schedule scale them all."""
    layer_warmup: tuple[int, ...] = ()
    """A hierarchical VAE: steps over which each layer's KL weight ramps from 0 to 1, bottom first (Sønderby et
    al. 2016 warm up every layer; a longer ramp for the upper layers keeps them from collapsing); () = none."""
    layer_free_bits: tuple[float, ...] = ()
    """A hierarchical VAE: free bits (nats per dimension) of each layer, bottom first, in place of free_bits."""
    compile: bool = False
    """Train with a step compiled by torch.compile (on CUDA mode reduce-overhead, which captures CUDA graphs):
    fewer kernel launches and less Python per step, after a compilation of tens of seconds."""

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not isinstance(self.compile, bool):
            raise ConfigError(f"compile must be true or false, got {self.compile!r}")
        if int(self.epochs) < 0:
            raise ConfigError(f"epochs must be >= 0, got {self.epochs}")
        if int(self.batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ConfigError(f"beta must be >= 0, got {self.beta}")
        if not (math.isfinite(self.free_bits) and self.free_bits >= 0):
            raise ConfigError(f"free_bits must be >= 0, got {self.free_bits}")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {DEVICES}, got {self.device!r}")
        _check_seed(self.seed)
        if int(self.report_every) < 1:
            raise ConfigError(f"report_every must be >= 1, got {self.report_every}")
        if self.binarize not in BINARIZE:
            raise ConfigError(f"binarize must be one of {BINARIZE}, got {self.binarize!r}")
        BetaSchedule.parse(self.beta_schedule)
        self._validate_objective()

    def _validate_objective(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.tc_sampling not in TC_SAMPLING:
            raise ConfigError(f"tc_sampling must be one of {TC_SAMPLING}, got {self.tc_sampling!r}")
        for name in ("tc_alpha", "tc_gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value)
                                                                                     and value >= 0):
                raise ConfigError(f"{name} must be >= 0, got {value!r}")
        for name in ("layer_beta", "layer_warmup", "layer_free_bits"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or len(values) > MAX_LAYERS or any(
                    isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0)
                    for v in values):
                raise ConfigError(f"{name} must be up to {MAX_LAYERS} numbers >= 0 (one per layer), got {values!r}")
        if any(int(v) != v for v in self.layer_warmup):
            raise ConfigError(f"layer_warmup counts steps: whole numbers, got {self.layer_warmup!r}")
        if self.objective == "tcvae" and (self.layer_beta or self.layer_warmup or self.layer_free_bits):
            raise ConfigError("β-TCVAE weighs the parts of one layer's KL; the per-layer weights are for the ELBO "
                              "of a hierarchical VAE")
        if self.objective == "tcvae" and self.free_bits > 0:
            raise ConfigError("free_bits applies to the ELBO's KL term; β-TCVAE weighs its parts instead "
                              "(set free_bits to 0, or objective to elbo)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data)


@dataclass(frozen=True)
class BetaSchedule:
    """beta(step) = beta_target * factor(step); the target is what the live control changes."""

    kind: str = "constant"
    steps: int = 0
    """warmup: steps to reach the target; cyclical: the period in steps."""

    @staticmethod
    def parse(text: str) -> "BetaSchedule":
        kind, _, arg = str(text).partition(":")
        if kind == "constant" and not arg:
            return BetaSchedule("constant", 0)
        if kind in ("warmup", "cyclical"):
            try:
                steps = int(arg)
            except ValueError:
                steps = 0
            if steps < 1:
                raise ConfigError(f"beta schedule {text!r}: {kind} needs a positive step count, e.g. {kind}:1000")
            return BetaSchedule(kind, steps)
        raise ConfigError(f"beta schedule {text!r}: expected constant, warmup:STEPS or cyclical:PERIOD")

    def __str__(self) -> str:
        return "constant" if self.kind == "constant" else f"{self.kind}:{self.steps}"

    def factor(self, step: int) -> float:
        """Multiplier in [0, 1] on the target beta at a 0-based optimizer step."""
        if self.kind == "warmup":
            return min(1.0, step / self.steps)
        if self.kind == "cyclical":
            # Fu et al. 2019: ramp linearly over the first half of each cycle, then hold at 1.
            phase = (step % self.steps) / self.steps
            return min(1.0, 2.0 * phase)
        return 1.0


@dataclass(frozen=True)
class DatasetSpec:
    """Names a dataset so that a checkpoint can reload exactly the data it was trained on."""

    name: str = "sprites"
    """sprites | mnist | fashion-mnist | path (an .npz, .h5/.hdf5 file or image folder)."""
    path: str = ""
    """For name == path: the file or folder."""
    data_dir: str = ""
    """For mnist/fashion-mnist: the folder holding the IDX files (empty: the user cache)."""
    key: str = ""
    """For HDF5 files: the dataset inside the file holding x."""
    limit: int = 0
    """Use at most this many training examples (0 = all)."""
    n: int = 20000
    """sprites only: how many images to sample."""
    image_size: int = 64
    """sprites only: side in pixels."""
    folder_size: int = 0
    """Image folders: the side every image is resized to (center-cropped, then scaled); 0 = the most common size."""
    channels: str = "auto"
    """Image folders: auto (gray when every image is gray, else RGB), gray or rgb."""
    in_memory: str = "auto"
    """HDF5 files: always (read into memory), never (stream the training rows from disk in chunks), or auto
    (stream when they exceed the memory budget). A checkpoint stores what auto chose."""
    seed: int = 0
    """Seeds sprite sampling and the train/test split of a single-file dataset."""
    download: bool = False
    """mnist/fashion-mnist: fetch missing files into the user cache, verifying checksums."""
    fingerprint: str = ""
    """In a checkpoint: a hash of the exact data trained on (split included), so a resume with other data is
    refused; empty in a spec that names data not yet loaded."""

    def validate(self) -> None:
        if self.name not in ("sprites", "mnist", "fashion-mnist", "path"):
            raise ConfigError(f"dataset name must be sprites, mnist, fashion-mnist or path, got {self.name!r}")
        if self.name == "path" and not self.path:
            raise ConfigError("dataset 'path' needs a file or folder")
        if int(self.limit) < 0:
            raise ConfigError(f"dataset limit must be >= 0, got {self.limit}")
        if not 2 <= int(self.n) <= MAX_SPRITES:
            raise ConfigError(f"sprites n must be in 2..{MAX_SPRITES}, got {self.n}")
        if not 8 <= int(self.image_size) <= 256:
            raise ConfigError(f"sprites image_size must be in 8..256, got {self.image_size}")
        if not 0 <= int(self.folder_size) <= 1024:
            raise ConfigError(f"image folder size must be in 0..1024 (0 = the most common size), "
                              f"got {self.folder_size}")
        if self.in_memory not in ("auto", "always", "never"):
            raise ConfigError(f"in_memory must be auto, always or never, got {self.in_memory!r}")
        if self.channels not in ("auto", "gray", "rgb"):
            raise ConfigError(f"image folder channels must be auto, gray or rgb, got {self.channels!r}")
        _check_seed(self.seed)
        if not (isinstance(self.fingerprint, str) and len(self.fingerprint) <= 64
                and all(c in "0123456789abcdef" for c in self.fingerprint)):
            raise ConfigError(f"dataset fingerprint must be up to 64 hex digits, got {self.fingerprint!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DatasetSpec":
        return _from_dict(cls, data)

    def describe(self) -> str:
        if self.name == "path":
            return self.path + (f"[{self.key}]" if self.key else "")
        if self.name == "sprites":
            return f"sprites ({self.n} images, {self.image_size}x{self.image_size})"
        return self.name + (f" ({self.data_dir})" if self.data_dir else "")
