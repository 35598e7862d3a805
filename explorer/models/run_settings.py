"""What the controls ask the worker to train: the engine's own configs, seen through the panel's names.

    settings = window.run_settings.value        # RunSettings (explorer.models.RunSettingsModel holds it)
    settings.data, settings.model, settings.train   # DatasetSpec, ModelConfig, TrainConfig: where the values live
    settings.beta, settings.sprites_n           # the panel's names: read-only views of fields of those configs
    settings.replace(beta=4.0, sprites_n=600)   # a new RunSettings whose configs differ in those fields
    spec, train_cfg = settings.dataset_spec(), settings.train_config()
    model_kwargs = settings.model_kwargs()      # -> trainer.model.vae.model_config_for(dataset, **kwargs)

Each value has one home, a field of the engine's configs; VIEWS maps the panel's names onto them (the panel
says "sprites" where DatasetSpec says n, and shows the β schedule as a kind and a step count where
TrainConfig has one string). The view itself keeps only what no config holds before a dataset is loaded:
whether the model is conditional (ModelConfig counts the dataset's classes) and the step count of a schedule
that is switched off. An opened checkpoint's configs come in whole (`from_configs`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from trainer.config import ARCHS, BINARIZE, LIKELIHOODS, MAX_LAYERS, DatasetSpec, ModelConfig, TrainConfig
from trainer.schedules import BetaSchedule
from trainer.errors import ConfigError
from trainer.rules import MAX_STEPS, Rule, choice, flag, whole

__all__ = ["ARCHS", "BINARIZE", "DATASETS", "FOLDER_DATASETS", "LIKELIHOODS", "MAX_LAYERS", "SCHEDULES", "RunSettings",
           "new_run_settings", "rule_of"]

DATASETS = ("sprites", "mnist", "fashion-mnist", "binarized-mnist")
FOLDER_DATASETS = ("mnist", "fashion-mnist", "binarized-mnist")
"""The datasets read from a folder (data_dir): IDX files, or Larochelle's .amat files."""
SCHEDULES = ("constant", "warmup", "cyclical")


DEFAULT_SCHEDULE_STEPS = 2000
"""warmup: steps to reach β; cyclical: the period in steps (the panel's default)."""

VIEWS: dict[str, tuple[str, str]] = {
    # sprites (built in, generated from the seed), mnist or fashion-mnist (IDX files in data_dir), or path
    "dataset": ("data", "name"),
    "data_dir": ("data", "data_dir"),
    "path": ("data", "path"),
    "key": ("data", "key"),
    "sprites_n": ("data", "n"),
    "sprites_size": ("data", "image_size"),
    "limit": ("data", "limit"),
    "arch": ("model", "arch"),
    "hidden": ("model", "hidden"),
    "encoder_hidden": ("model", "encoder_hidden"),
    "latent_dim": ("model", "latent_dim"),
    "likelihood": ("model", "likelihood"),
    "sigma": ("model", "sigma"),
    "layers": ("model", "layers"),
    "prior": ("model", "prior"),
    "pseudo_inputs": ("model", "pseudo_inputs"),
    "norm": ("model", "norm"),
    "binarize": ("train", "binarize"),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "lr"),
    "seed": ("train", "seed"),
    # the dataset's own seed (sprite sampling, the split of a single file or of MNIST's t10k), apart from the
    # training seed so that runs of other seeds train on the same data, as `--split-seed` on the command line
    "split_seed": ("data", "seed"),
    "device": ("train", "device"),
    "epochs": ("train", "epochs"),
    "beta": ("train", "beta"),
    "free_bits": ("train", "free_bits"),
    "objective": ("train", "objective"),
    "tc_alpha": ("train", "tc_alpha"),
    "tc_gamma": ("train", "tc_gamma"),
    "tc_sampling": ("train", "tc_sampling"),
    "iwae_k": ("train", "iwae_k"),
    "layer_beta": ("train", "layer_beta"),
    "layer_warmup": ("train", "layer_warmup"),
    "layer_free_bits": ("train", "layer_free_bits"),
}
"""The panel's name of each value -> (config, field) where it lives."""
FIELDS = (*VIEWS, "conditional", "schedule", "schedule_steps")
"""Every name the panel, the stored settings and `--set NAME=VALUE` use, in the panel's order."""
_OWN_RULES = {"conditional": flag(), "schedule": choice(SCHEDULES), "schedule_steps": whole(1, MAX_STEPS)}
"""The rules of the names no config field holds."""


def rule_of(name: str) -> Rule:
    """The rule (trainer.rules) that checks the setting the panel calls `name`: its config field's, so the
    window, the stored settings and `--set` refuse what the CLI and the Python API refuse."""
    if name in VIEWS:
        config, attr = VIEWS[name]
        return {"data": DatasetSpec, "model": ModelConfig, "train": TrainConfig}[config].rule(attr)
    if name in _OWN_RULES:
        return _OWN_RULES[name]
    raise ConfigError(f"RunSettings has no setting {name!r}; it has {', '.join(FIELDS)}")

WINDOW_DATA = DatasetSpec()
WINDOW_MODEL = ModelConfig(latent_dim=10)
WINDOW_TRAIN = TrainConfig(epochs=50)
"""The window's defaults: a smaller z than the engine's (10, every dimension gets a slider) and more epochs
(training stops by itself after them; Continue on a finished run trains this many more)."""


@dataclass(frozen=True, init=False, eq=False)
class RunSettings:
    data: DatasetSpec = field(default=WINDOW_DATA)
    model: ModelConfig = field(default=WINDOW_MODEL)
    """The panel's part of the model; the dataset fixes input_shape (and a CVAE's num_classes) at Start."""
    train: TrainConfig = field(default=WINDOW_TRAIN)
    conditional: bool = False
    """A CVAE: ModelConfig.num_classes is the dataset's class count, known once it is loaded."""
    idle_schedule_steps: int = DEFAULT_SCHEDULE_STEPS
    """The step count shown for a constant β schedule (whose string has none), kept for when it is switched on."""

    def __init__(self, data: DatasetSpec | None = None, model: ModelConfig | None = None,
                 train: TrainConfig | None = None, conditional: bool = False,
                 idle_schedule_steps: int = DEFAULT_SCHEDULE_STEPS, **views: Any):
        """RunSettings(data, model, train), or RunSettings(beta=2.0, sprites_n=600, ...) in the panel's names
        over the window's defaults."""
        object.__setattr__(self, "data", data if data is not None else WINDOW_DATA)
        object.__setattr__(self, "model", model if model is not None else WINDOW_MODEL)
        object.__setattr__(self, "train", train if train is not None else WINDOW_TRAIN)
        object.__setattr__(self, "conditional", rule_of("conditional").coerce("conditional", conditional))
        object.__setattr__(self, "idle_schedule_steps",
                           rule_of("schedule_steps").check("schedule_steps", idle_schedule_steps))
        if views:
            changed = self.replace(**views)
            for name in ("data", "model", "train", "conditional", "idle_schedule_steps"):
                object.__setattr__(self, name, getattr(changed, name))

    def __getattr__(self, name: str):
        # only for names the dataclass does not have: the panel's views of the configs
        if name in VIEWS:
            config, attr = VIEWS[name]
            return getattr(object.__getattribute__(self, config), attr)
        raise AttributeError(f"RunSettings has no setting {name!r}")

    @property
    def schedule(self) -> str:
        """constant | warmup | cyclical: the kind of TrainConfig.beta_schedule."""
        return BetaSchedule.parse(self.train.beta_schedule).kind

    @property
    def schedule_steps(self) -> int:
        return BetaSchedule.parse(self.train.beta_schedule).steps or self.idle_schedule_steps

    def replace(self, **changes) -> "RunSettings":
        """A copy with some values changed, by the panel's names (or data=, model=, train= whole)."""
        unknown = set(changes) - set(FIELDS) - {"data", "model", "train", "idle_schedule_steps"}
        if unknown:
            raise TypeError(f"RunSettings has no setting(s) {sorted(unknown)}")
        configs = {name: changes.pop(name, getattr(self, name)) for name in ("data", "model", "train")}
        per_config: dict[str, dict] = {"data": {}, "model": {}, "train": {}}
        for name, value in changes.items():
            if name in VIEWS:
                config, attr = VIEWS[name]
                per_config[config][attr] = rule_of(name).coerce(name, value)
        steps = rule_of("schedule_steps").check("schedule_steps", changes.get("schedule_steps", self.schedule_steps))
        if "schedule" in changes or "schedule_steps" in changes:
            kind = rule_of("schedule").check("schedule", changes.get("schedule", self.schedule))
            per_config["train"]["beta_schedule"] = "constant" if kind == "constant" else f"{kind}:{steps}"
        for config, fields in per_config.items():
            if fields:
                configs[config] = dataclasses.replace(configs[config], **fields)
        conditional = rule_of("conditional").coerce("conditional", changes.get("conditional", self.conditional))
        return RunSettings(**configs, conditional=conditional,
                           idle_schedule_steps=changes.get("idle_schedule_steps", steps))

    def to_flat(self) -> dict[str, Any]:
        """Every setting by the panel's name (JSON-safe but for tuples): what the stored settings keep."""
        return {name: getattr(self, name) for name in FIELDS}

    def __eq__(self, other) -> bool:
        return isinstance(other, RunSettings) and self.to_flat() == other.to_flat()

    def __hash__(self) -> int:
        return hash(tuple(self.to_flat().items()))

    def __repr__(self) -> str:
        return "RunSettings(" + ", ".join(f"{k}={v!r}" for k, v in self.to_flat().items()) + ")"

    # --- the engine's configs for a Start ------------------------------------------------------------------
    def dataset_spec(self) -> DatasetSpec:
        """The data to load: the fields the panel sets (a checkpoint's fingerprint and folder options stay with
        the checkpoint, which the worker resumes on its own data)."""
        spec = DatasetSpec(
            name=self.dataset,
            data_dir=self.data_dir if self.dataset in FOLDER_DATASETS else "",
            path=self.path if self.dataset == "path" else "",
            key=self.key if self.dataset == "path" else "",
            limit=self.limit,
            n=self.sprites_n,
            image_size=self.sprites_size,
            seed=self.split_seed,
        )
        spec.validate()
        return spec

    def train_config(self) -> TrainConfig:
        self.train.validate()
        return self.train

    def model_kwargs(self) -> dict:
        """Keyword arguments for `model_config_for(dataset, ...)`; the dataset fixes the input shape."""
        m = self.model
        return dict(conditional=self.conditional, arch=m.arch, hidden=tuple(m.hidden),
                    encoder_hidden=tuple(m.encoder_hidden), latent_dim=m.latent_dim,
                    likelihood=m.likelihood, sigma=m.sigma, layers=m.layers, prior=m.prior,
                    pseudo_inputs=m.pseudo_inputs, norm=m.norm, activation=m.activation, ladder=m.ladder,
                    layer_sizes=self._layer_sizes())

    def _layer_sizes(self) -> tuple[int, ...]:
        """A checkpoint's layer sizes while they fit the form's layers and latent size (which win), else even."""
        m = self.model
        sizes = tuple(m.layer_sizes)
        return sizes if len(sizes) == m.layers and sum(sizes) == m.latent_dim else ()

    @classmethod
    def from_configs(
        cls, model: ModelConfig, train: TrainConfig, spec: DatasetSpec, progress: dict | None = None
    ) -> "RunSettings":
        """The settings a checkpoint was trained with; its progress (live β, lr, free bits) wins over the config."""
        BetaSchedule.parse(train.beta_schedule)  # a checkpoint's schedule the panel cannot show is refused here
        progress = progress or {}
        train = dataclasses.replace(train, lr=float(progress.get("lr", train.lr)),
                                    beta=float(progress.get("beta", train.beta)),
                                    free_bits=float(progress.get("free_bits", train.free_bits)))
        return cls(data=spec, model=model, train=train, conditional=model.conditional)


NEW_RUN_CPU = dict(sprites_size=28, arch="mlp")
"""A new run on a CPU: 28 px sprites and an MLP, an epoch in a few seconds on 2 cores, recognisable decodings
within the first 15 s. (64 px and conv train at about a step a second there: grey blobs for minutes.)"""
NEW_RUN_GPU = dict(sprites_size=64, arch="conv")
"""A new run where a GPU is present: the larger images and the convolutional networks, as fast there."""


def new_run_settings(accelerated: bool, base: RunSettings | None = None) -> RunSettings:
    """The settings a new run starts from: the window's defaults (or `base`), sized for the machine."""
    return (base or RunSettings()).replace(**(NEW_RUN_GPU if accelerated else NEW_RUN_CPU))


def new_run_note(accelerated: bool) -> str:
    """What the Controls say about the new-run defaults of this machine."""
    if accelerated:
        return "A GPU is present: new runs start at 64 px with convolutional networks."
    return ("On this CPU new runs start small (28 px sprites, an MLP) so decodings are recognisable within "
            "seconds; 64 px or conv train many times slower here.")
