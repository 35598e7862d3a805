"""Plain-data configs for the model, the training run and the dataset.

Each config round-trips through `to_dict`/`from_dict` (JSON-safe values only), which is how the
checkpoint stores it and how the CLI and the window build it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from trainer.errors import ConfigError
from trainer.rules import MAX_STEPS, Rule, choice, flag, number, text, whole, wholes
from trainer.rules import numbers as number_list
from trainer.schedules import BetaSchedule

ARCHS = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "continuous-bernoulli", "gaussian")
BINARIZE = ("none", "dynamic", "static")
OBJECTIVES = ("elbo", "tcvae", "iwae")
TC_SAMPLING = ("mss", "mws")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")
CONV_MIN_SIDE, CONV_MAX_SIDE = 28, 128  # conv: square images whose side is a multiple of 4 in this range
MAX_SEED = 2**31 - 1  # the trainer derives per-epoch seeds as seed * 1_000_003 + epoch; keep that < 2**63
MAX_LAYERS = 5  # stochastic layers of a hierarchical VAE
PRIORS = ("standard", "vamp")
LADDERS = ("plain", "residual")
NORMS = ("none", "batch")
ACTIVATIONS = ("relu", "tanh")
HELDOUT = ("auto", "valid", "test")
RESIDUAL_BLOCKS = 2  # a residual ladder's cells per step between stochastic layers
MAX_PSEUDO_INPUTS = 10_000  # each is an image the prior encodes at every step
MAX_SPRITES = 200_000  # 64x64 uint8: 820 MB, already more than a laptop wants in memory


MAX_CLASSES = 1000
"""The most classes a dataset's labels (0 .. MAX_CLASSES - 1) and a conditional VAE may have: labels are checked
against it before anything is sized by them (a label of 10^9 once made a loader allocate tens of GB)."""


MAX_EPOCHS = 1_000_000
MAX_IWAE_TRAIN_K = 5000
"""K of IWAE training: each step decodes K samples of every example (Burda et al. train with K up to 50)."""
MAX_BATCH = 1 << 20
MAX_LATENT = 512
MAX_WIDTH = 16384
MAX_EXAMPLES = 1 << 40  # a limit on examples: far past any dataset, exact in float64
MAX_SNAPSHOTS = 4096
"""The most snapshots a run keeps for its timeline (and a checkpoint may declare: checked before any is read)."""


def setting(default, rule: Rule):
    """A config field with the rule that checks it (trainer.rules): kept in the field's metadata."""
    return dataclasses.field(default=default, metadata={"rule": rule})


class Checked:
    """A frozen config whose fields carry rules: constructing it coerces every field to its type (a list becomes a
    tuple, a numpy integer an int; text where a number belongs is a ConfigError), and `check_fields` checks every
    range. The config's own `validate()` adds what relates fields to each other."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            rule = f.metadata.get("rule")
            if rule is not None:
                object.__setattr__(self, f.name, rule.coerce(f.name, getattr(self, f.name)))

    def check_fields(self) -> None:
        for f in dataclasses.fields(self):
            rule = f.metadata.get("rule")
            if rule is not None:
                rule.check(f.name, getattr(self, f.name))

    @classmethod
    def rule(cls, name: str) -> Rule:
        """The rule of field `name`: what the CLI's option and the API's keyword of that name are checked by."""
        return {f.name: f.metadata["rule"] for f in dataclasses.fields(cls)}[name]


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
            kwargs[f.name] = data[f.name]
    obj = cls(**kwargs)
    obj.validate()
    return obj


SEED = whole(0, MAX_SEED)


def _check_seed(seed) -> None:
    SEED.check("seed", seed)


@dataclass(frozen=True)
class ModelConfig(Checked):
    arch: str = setting("mlp", choice(ARCHS))
    """mlp (fully connected) or conv (strided convolutions; square images, side a multiple of 4 in 28..128)."""
    input_shape: tuple[int, int, int] = setting((1, 28, 28), wholes(1, 1024, 3, 3, what="sizes (C, H, W)"))
    """(channels, height, width) of one example; fixed by the dataset."""
    hidden: tuple[int, ...] = setting((400,), wholes(1, MAX_WIDTH, 1, 8, single=True, what="sizes"))
    """MLP hidden widths, mirrored in the decoder; 784-400-20 is the classic PyTorch example.
    For conv, the width of the dense layer between the conv stack and (mu, logvar)."""
    latent_dim: int = setting(20, whole(1, MAX_LATENT))
    """Dimensions of z; the prior is N(0, I) over them."""
    likelihood: str = setting("bernoulli", choice(LIKELIHOODS))
    """p(x|z): bernoulli (decoder gives logits; a probability of binary pixels), continuous-bernoulli (logits;
    a density on [0, 1], Loaiza-Ganem & Cunningham 2019) or gaussian (decoder gives the mean)."""
    sigma: float = setting(0.0, number(0.0))
    """Gaussian likelihood only: the fixed observation std, or 0 to learn one shared log sigma."""
    num_classes: int = setting(0, whole(0, MAX_CLASSES))
    """>0 makes a conditional VAE: encoder and decoder both see a one-hot label of this many classes."""
    encoder_hidden: tuple[int, ...] = setting((), wholes(1, MAX_WIDTH, 0, 8, single=True, what="sizes"))
    """The encoder's MLP widths (conv: its dense layer's) when they differ from the decoder's; empty: `hidden`,
    mirrored. Cremer et al. (2018) widen the encoder alone to show the amortization gap close."""
    prior: str = setting("standard", choice(PRIORS))
    """p(z): standard, N(0, I); or vamp, the VampPrior (Tomczak & Welling 2018), the encoder's posterior averaged
    over pseudo_inputs learned pseudo-inputs (trainer.model.priors). Checkpoints before it have N(0, I)."""
    pseudo_inputs: int = setting(500, whole(1, MAX_PSEUDO_INPUTS))
    """vamp: how many pseudo-inputs (mixture components) the prior averages over; 500 in Tomczak & Welling."""
    ladder: str = setting("plain", choice(LADDERS))
    """A hierarchy's deterministic path: plain (one dense layer a step, the decoder sees z_1 alone; the Ladder of
    every checkpoint that does not say) or residual (RESIDUAL_BLOCKS dense residual cells in every step up and down
    between stochastic layers, NVAE's cell without its convolutions, and a skip that hands the decoder the top-down
    feature of the layers above beside z_1, which on MNIST lets the decoder bypass z_1: docs/benchmarks.md)."""
    norm: str = setting("none", choice(NORMS))
    """batch: batch normalisation after every hidden dense layer, before its ReLU (encoder, decoder, a hierarchy's
    ladder; trainer.model.layers), which Sønderby et al. (2016) found crucial for hierarchies: the batch's
    statistics while training, their running averages in evaluation. none: plain layers (checkpoints before it)."""
    activation: str = setting("relu", choice(ACTIVATIONS))
    """The hidden layers' nonlinearity: relu (every checkpoint before it), or tanh, Burda et al.'s (2016), which a
    protocol of their rows sets (trainer.comparability.protocols)."""
    layers: int = setting(1, whole(1, MAX_LAYERS))
    """Stochastic layers: >1 makes a hierarchical VAE (trainer.model.hierarchy, a Ladder VAE) whose latent_dim
    dimensions are split among the layers, bottom first (layer_dims); checkpoints before format 2 have one."""
    layer_sizes: tuple[int, ...] = setting((), wholes(1, MAX_LATENT, 0, MAX_LAYERS, what="sizes"))
    """A hierarchy: each layer's dimensions, bottom first, adding up to latent_dim (Burda et al.'s 100, 50;
    Sønderby et al.'s 64, 32, 16, 8, 4); empty: latent_dim split evenly."""

    def validate(self) -> None:
        self.check_fields()
        c, h, w = self.input_shape
        if c > 4:
            raise ConfigError(f"input_shape must have 1 to 4 channels, got {self.input_shape}")
        if self.arch == "conv" and (h != w or h % 4 or not CONV_MIN_SIDE <= h <= CONV_MAX_SIDE):
            raise ConfigError(f"conv needs square images whose side is a multiple of 4 in "
                              f"{CONV_MIN_SIDE}..{CONV_MAX_SIDE}, got {w}x{h}")
        if self.prior == "vamp" and self.conditional:
            raise ConfigError("the VampPrior is the encoder's posterior of unlabelled pseudo-inputs: a conditional VAE "
                              "(which encodes x with its label) has no such prior here; use prior standard")
        if self.prior == "vamp" and self.norm == "batch":
            raise ConfigError("the VampPrior encodes its pseudo-inputs with the encoder, whose batch norm would then "
                              "learn their statistics beside the data's: use norm none with prior vamp")
        if self.prior == "vamp" and self.layers > 1:
            raise ConfigError("the VampPrior of a hierarchy (on its top layer, as Tomczak & Welling's HVAE) is not "
                              "built: use prior vamp with layers 1, or prior standard")
        if self.layer_sizes and (len(self.layer_sizes) != self.layers or sum(self.layer_sizes) != self.latent_dim):
            raise ConfigError(f"layer_sizes {','.join(map(str, self.layer_sizes))} must give one size per layer "
                              f"({self.layers}) adding up to latent_dim ({self.latent_dim})")
        if self.layers > self.latent_dim:
            raise ConfigError(f"{self.layers} layers need at least one latent dimension each, "
                              f"but latent_dim is {self.latent_dim}")

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    @property
    def layer_dims(self) -> tuple[int, ...]:
        """Dimensions of each stochastic layer, bottom (z_1) first: layer_sizes, or latent_dim split evenly, the
        remainder to the bottom layers. The latent vector the tool shows is these layers concatenated in this order."""
        if self.layer_sizes:
            return tuple(int(v) for v in self.layer_sizes)
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
        d["layer_sizes"] = list(self.layer_sizes)
        return d

    @property
    def encoder_widths(self) -> tuple[int, ...]:
        """The encoder's hidden widths: encoder_hidden, or hidden when that is empty."""
        return tuple(int(h) for h in (self.encoder_hidden or self.hidden))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return _from_dict(cls, data)


@dataclass(frozen=True)
class TrainConfig(Checked):
    epochs: int = setting(10, whole(0, MAX_EPOCHS))
    """Passes over the training split."""
    batch_size: int = setting(128, whole(1, MAX_BATCH))
    """Examples per step; 128 matches the classic PyTorch VAE example."""
    lr: float = setting(1e-3, number(0.0, low_open=True))
    """Adam learning rate; changeable live."""
    beta: float = setting(1.0, number(0.0))
    """Weight of KL in the loss (beta-VAE); the schedule scales it, and it is changeable live."""
    beta_schedule: str = setting("constant", text(64, need="a schedule"))
    """constant | warmup:STEPS (Bowman et al. 2016) | cyclical:PERIOD (Fu et al. 2019)."""
    free_bits: float = setting(0.0, number(0.0))
    """Nats per latent dimension below which KL is not penalised (Kingma et al. 2016); 0 = off."""
    seed: int = setting(0, SEED)
    """Seeds weights, shuffling and the reparameterization noise: a seed reproduces a run."""
    device: str = setting("auto", choice(DEVICES))
    """auto picks cuda, then mps, then cpu."""
    report_every: int = setting(10, whole(1, 1_000_000))
    """Steps averaged into one StepReport; keeps device syncs and GUI traffic low."""
    binarize: str = setting("none", choice(BINARIZE))
    """none: train on the pixel values as given; dynamic: a fresh Bernoulli(x) sample of every batch (Burda et
    al. 2016, the setting of most published MNIST likelihoods); static: one sample of the training set drawn
    from the seed. Either way the held-out set is one fixed sample, so evaluations compare."""
    precision: str = setting("fp32", choice(PRECISIONS))
    """fp32, or bf16: the forward pass under bfloat16 autocast (CPU and CUDA; the loss and Adam stay fp32)."""
    objective: str = setting("elbo", choice(OBJECTIVES))
    """elbo: the β-VAE loss D + β·KL; tcvae: β-TCVAE (Chen et al. 2018), D + α·MI + β·TC + γ·dimension-wise KL,
    the KL term split on the minibatch, so β weighs only the total correlation; iwae: the importance-weighted
    bound with iwae_k samples per example (Burda et al. 2016), which has no β (trainer.model.objective)."""
    iwae_k: int = setting(1, whole(1, MAX_IWAE_TRAIN_K))
    """iwae: importance samples per example in each step's bound (K = 1 is the VAE; each costs a decoder pass)."""
    tc_alpha: float = setting(1.0, number(0.0))
    """tcvae: weight of the index-code mutual information."""
    tc_gamma: float = setting(1.0, number(0.0))
    """tcvae: weight of the dimension-wise KL."""
    tc_sampling: str = setting("mss", choice(TC_SAMPLING))
    """tcvae: how the batch estimates q(z): mss (minibatch stratified: q(z) unbiased, log q(z) short only by
    Jensen's gap; the default) or mws (minibatch-weighted, Chen et al.'s eq. 5, biased by an offset that moves with
    the posteriors' overlap)."""
    layer_beta: tuple[float, ...] = setting((), number_list(0.0, max_len=MAX_LAYERS))
    """A hierarchical VAE: each layer's weight on β, bottom first (layer l's KL is charged β * layer_beta[l]);
    () weighs every layer 1. The live β and the schedule scale them all."""
    layer_warmup: tuple[int, ...] = setting((), wholes(0, MAX_STEPS, 0, MAX_LAYERS, what="step counts"))
    """A hierarchical VAE: steps over which each layer's KL weight ramps from 0 to 1, bottom first (Sønderby et
    al. 2016 warm up every layer; a longer ramp for the upper layers keeps them from collapsing); () = none."""
    layer_free_bits: tuple[float, ...] = setting((), number_list(0.0, max_len=MAX_LAYERS))
    """A hierarchical VAE: free bits (nats per dimension) of each layer, bottom first, in place of free_bits."""
    protocol: str = setting("", text(64, need="a protocol name"))
    """The published row this run reproduces (`vae-explorer protocols`, trainer.comparability.protocols), which set
    its data, model and training; eval then scores it with the row's estimator. Empty: none declared."""
    compile: bool = setting(False, flag())
    """Train with a step compiled by torch.compile (on CUDA mode reduce-overhead, which captures CUDA graphs):
    fewer kernel launches and less Python per step, after a compilation of tens of seconds."""
    snapshots: int = setting(64, whole(0, MAX_SNAPSHOTS))
    """The most snapshots of the weights kept for the run's timeline (log-spaced steps, dense early, and one per
    epoch, thinned to fit: trainer.training.snapshot_keeper); 0 keeps none. They are for looking back, not resuming."""
    snapshot_mb: float = setting(64.0, number(0.0))
    """The most megabytes (10^6 bytes) the snapshots may take in a checkpoint, at half precision; 0 keeps none."""

    def validate(self) -> None:
        self.check_fields()
        BetaSchedule.parse(self.beta_schedule)
        if self.objective == "tcvae" and (self.layer_beta or self.layer_warmup or self.layer_free_bits):
            raise ConfigError("β-TCVAE weighs the parts of one layer's KL; the per-layer weights are for the ELBO "
                              "of a hierarchical VAE")
        if self.objective == "iwae":
            self._check_iwae()
        elif self.iwae_k != 1:
            raise ConfigError(f"iwae_k {self.iwae_k} applies to objective iwae, not {self.objective}")
        if self.objective == "tcvae" and self.free_bits > 0:
            raise ConfigError("free_bits applies to the ELBO's KL term; β-TCVAE weighs its parts instead "
                              "(set free_bits to 0, or objective to elbo)")

    def _check_iwae(self) -> None:
        """IWAE's bound has no β: a weight on the rate would make it bound nothing (and no paper defines it)."""
        if self.beta != 1 or self.beta_schedule != "constant":
            raise ConfigError(f"IWAE trains the importance-weighted bound, which has no β: set beta to 1 and the "
                              f"schedule to constant (got beta {self.beta:g}, schedule {self.beta_schedule})")
        if self.free_bits > 0 or self.layer_beta or self.layer_warmup or self.layer_free_bits:
            raise ConfigError("IWAE trains the importance-weighted bound, which has no KL term to weigh: free bits "
                              "and per-layer β, warm-up and free bits are for the ELBO")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return _from_dict(cls, data)


def check_together(model: ModelConfig, train: TrainConfig) -> None:
    """What a model config and a training config refuse together (each has checked itself)."""
    if model.prior == "vamp" and (train.free_bits > 0 or train.layer_free_bits):
        raise ConfigError("free bits clamp each dimension's KL to N(0, I); under the VampPrior the rate is a Monte "
                          "Carlo KL to a mixture, which has no per-dimension floor: set free_bits to 0")
    if model.prior == "vamp" and train.objective == "tcvae":
        raise ConfigError("β-TCVAE splits the KL to a factorized prior N(0, I); the VampPrior is a mixture: use "
                          "objective elbo or iwae with it")


SAVE_EVERY = number(0.0, low_open=True)
"""Minutes between saves while training (train/sweep --save-every, Run(save_every_minutes=))."""
MAX_IWAE_SAMPLES = 100_000
"""K of an IWAE estimate: each example costs K decoder passes (K = 10^6 took 69 s for one MNIST example on a
CPU), and past 10^5 the bound tightens by less than its own Monte Carlo error on the models this tool trains."""
MAX_RATE_SPLIT_POINTS = 100_000
DISENTANGLEMENT_POINTS = 15_000
"""disentanglement_lib's protocol: DCI and SAP train on 10,000 encoded points and score 5,000
(trainer.analysis.disentanglement)."""
RATE_SPLIT_POINTS = 2000
"""The N held-out posteriors every rate split sums over unless told otherwise (epoch reports, a sweep's summary,
eval): one N, so their I(X; Z) compare; its estimate is exact for N points, short of the population's I, and
capped at log N = 7.6 nats (eval --rate-split-points reads more)."""
"""Examples the rate split sums over: its cost grows as N^2 (10^5 points are 10^10 pairs)."""


@dataclass(frozen=True)
class EvalOptions(Checked):
    """What an evaluation computes besides the ELBO terms: `vae-explorer eval`'s options, trainer.evaluate's
    keyword arguments."""

    iwae_samples: int = setting(0, whole(0, MAX_IWAE_SAMPLES))
    """K importance samples for log p(x) (0: skip; with gaps, 0 means 1000)."""
    rate_split_points: int = setting(RATE_SPLIT_POINTS, whole(0, MAX_RATE_SPLIT_POINTS))
    """Held-out examples the rate split I(X;Z) + KL(q(z)||p(z)) sums over (0: skip; it needs at least 2)."""
    disentanglement: bool = setting(False, flag())
    """Also DCI, SAP and the FactorVAE score (data with ground-truth factors)."""
    disentanglement_points: int = setting(DISENTANGLEMENT_POINTS, whole(20, MAX_EXAMPLES))
    """disentanglement: the examples they are computed on (the protocol's 15,000; fewer for a quick look, with a
    larger standard error)."""
    gaps: bool = setting(False, flag())
    """Instead, split the ELBO gap by classical VI (eval --gaps)."""
    gap_examples: int = setting(100, whole(1, MAX_EXAMPLES))
    """gaps: the held-out examples whose q is optimized (the first ones)."""
    svi_steps: int = setting(500, whole(0, 1_000_000))
    """gaps: at most this many Adam steps of classical VI per example."""
    ais: bool = setting(False, flag())
    """Also log p(x) by annealed importance sampling from the prior (eval --ais; --gaps runs AIS from q* anyway)."""
    ais_examples: int = setting(100, whole(1, MAX_EXAMPLES))
    """ais: the held-out examples it runs on (the first ones): each costs ais_steps x ais_chains x ais_leapfrog
    decoder passes."""
    bdmc: bool = setting(False, flag())
    """Also the BDMC sandwich of log p(x) on data simulated from the model (eval --bdmc)."""
    bdmc_examples: int = setting(50, whole(1, 100_000))
    """bdmc: how many (z, x) pairs it simulates; each costs two AIS runs."""
    ais_steps: int = setting(1000, whole(1, 100_000))
    """ais, bdmc: annealing steps from the prior to the posterior (their shortfall shrinks about as 1/steps)."""
    ais_chains: int = setting(8, whole(2, 10_000))
    """ais, bdmc: independent chains per example (their spread gives the standard error)."""
    ais_leapfrog: int = setting(2, whole(1, 1_000))
    """ais, bdmc: leapfrog steps per HMC transition."""
    device: str = setting("cpu", choice(DEVICES))
    """Where the network runs."""

    def validate(self) -> None:
        self.check_fields()
        if self.rate_split_points == 1:
            raise ConfigError("rate_split_points must be 0 (skip) or at least 2: the rate split compares each "
                              "example's q(z|x) with the others'")


@dataclass(frozen=True)
class DatasetSpec(Checked):
    """Names a dataset so that a checkpoint can reload exactly the data it was trained on."""

    name: str = setting("sprites", choice(("sprites", "mnist", "fashion-mnist", "binarized-mnist", "path")))
    """sprites | mnist | fashion-mnist | binarized-mnist (Larochelle's .amat files in data_dir) | path (an .npz,
    .h5/.hdf5 or .amat file, or an image folder)."""
    path: str = setting("", text(4096, need="a path"))
    """For name == path: the file or folder."""
    data_dir: str = setting("", text(4096, need="a folder"))
    """For mnist/fashion-mnist: the folder holding the IDX files (empty: the user cache); for binarized-mnist the
    folder holding binarized_mnist_{train,valid,test}.amat (or .amat.gz)."""
    heldout: str = setting("auto", choice(HELDOUT))
    """The held-out split of a source with three (binarized-mnist): valid, which training evaluates every epoch
    (auto; the epoch is chosen on it, never on the test set), or test, the split a reported figure is measured on
    (eval --split test). A source of two splits holds out its test split (auto or test)."""
    key: str = setting("", text(1024, need="an HDF5 dataset name"))
    """For HDF5 files: the dataset inside the file holding x."""
    limit: int = setting(0, whole(0, MAX_EXAMPLES))
    """Use at most this many training examples (0 = all)."""
    n: int = setting(20000, whole(2, MAX_SPRITES))
    """sprites only: how many images to sample."""
    image_size: int = setting(64, whole(8, 256))
    """sprites only: side in pixels."""
    folder_size: int = setting(0, whole(0, 1024))
    """Image folders: the side every image is resized to (center-cropped, then scaled); 0 = the most common size."""
    channels: str = setting("auto", choice(("auto", "gray", "rgb")))
    """Image folders: auto (gray when every image is gray, else RGB), gray or rgb."""
    in_memory: str = setting("auto", choice(("auto", "always", "never")))
    """HDF5 files: always (read into memory), never (stream the training rows from disk in chunks), or auto
    (stream when they exceed the memory budget). A checkpoint stores what auto chose."""
    seed: int = setting(0, SEED)
    """Seeds sprite sampling and the train/test split of a single-file dataset."""
    download: bool = setting(False, flag())
    """mnist/fashion-mnist: fetch missing files into the user cache, verifying checksums."""
    fingerprint: str = setting("", text(64, lambda v: all(c in "0123456789abcdef" for c in v), "hex digits"))
    """In a checkpoint: a hash of the exact data trained on (split included), so a resume with other data is
    refused; empty in a spec that names data not yet loaded."""

    def validate(self) -> None:
        self.check_fields()
        if self.name == "path" and not self.path:
            raise ConfigError("dataset 'path' needs a file or folder")
        if self.heldout == "valid" and self.name != "binarized-mnist":
            raise ConfigError(f"{self.name} has no validation split: its held-out split is test (heldout auto or test)")
        if self.name == "binarized-mnist" and not self.data_dir:
            raise ConfigError("binarized-mnist needs --data-dir, the folder of binarized_mnist_{train,valid,test}.amat "
                              "(or .amat.gz)")

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
