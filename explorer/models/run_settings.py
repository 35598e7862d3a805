"""What the controls ask the worker to train: one frozen, plain description of a run (no Qt, no torch).

    settings = controls.settings()              # RunSettings, built on the GUI thread
    spec, train_cfg = settings.dataset_spec(), settings.train_config()
    model_kwargs = settings.model_kwargs()      # -> trainer.training.loop.model_config_for(dataset, **kwargs)

The panel edits one of these, the worker turns it into the engine's configs, and an opened checkpoint turns
back into one (`from_configs`), so every view speaks the same small vocabulary.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from trainer.config import ARCHS, BINARIZE, LIKELIHOODS, BetaSchedule, DatasetSpec, ModelConfig, TrainConfig

__all__ = ["ARCHS", "BINARIZE", "DATASETS", "LIKELIHOODS", "SCHEDULES", "RunSettings"]

DATASETS = ("sprites", "mnist", "fashion-mnist")
SCHEDULES = ("constant", "warmup", "cyclical")


@dataclass(frozen=True)
class RunSettings:
    dataset: str = "sprites"
    """sprites (built in, generated from the seed), mnist or fashion-mnist (IDX files in `data_dir`),
    or path (a file named by `path`, e.g. from an opened checkpoint)."""
    data_dir: str = ""
    """MNIST/Fashion-MNIST folder; empty means the user cache."""
    path: str = ""
    key: str = ""
    """dataset == path only: the file (.npz, .h5) and the HDF5 dataset inside it."""
    sprites_n: int = 20000
    """Sprites only: images generated (10% held out)."""
    sprites_size: int = 64
    """Sprites only: side in pixels; 28 has about a fifth of the pixels of 64, and trains that much faster."""
    limit: int = 0
    """Use at most this many training examples (0 = all); not shown, kept so a checkpoint round-trips."""
    arch: str = "mlp"
    hidden: tuple[int, ...] = (400,)
    """Not shown in the panel; 400 is the classic 784-400-20 example and suits 64x64 sprites too."""
    latent_dim: int = 10
    likelihood: str = "bernoulli"
    sigma: float = 0.0
    binarize: str = "none"
    """none | dynamic | static: see TrainConfig.binarize."""
    conditional: bool = False
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    epochs: int = 50
    """Training stops by itself after this many epochs in all; Continue on a run that has done them all trains
    this many more (the worker's rule), a higher value continues to that total."""
    beta: float = 1.0
    schedule: str = "constant"
    schedule_steps: int = 2000
    """warmup: steps to reach β; cyclical: the period in steps."""
    free_bits: float = 0.0

    def dataset_spec(self) -> DatasetSpec:
        spec = DatasetSpec(
            name=self.dataset,
            data_dir=self.data_dir if self.dataset in ("mnist", "fashion-mnist") else "",
            path=self.path if self.dataset == "path" else "",
            key=self.key if self.dataset == "path" else "",
            limit=self.limit,
            n=self.sprites_n,
            image_size=self.sprites_size,
            seed=self.seed,
        )
        spec.validate()
        return spec

    def schedule_text(self) -> str:
        return "constant" if self.schedule == "constant" else f"{self.schedule}:{self.schedule_steps}"

    def train_config(self) -> TrainConfig:
        cfg = TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            beta=self.beta,
            beta_schedule=self.schedule_text(),
            free_bits=self.free_bits,
            seed=self.seed,
            device=self.device,
            binarize=self.binarize,
        )
        cfg.validate()
        return cfg

    def model_kwargs(self) -> dict:
        """Keyword arguments for `model_config_for(dataset, ...)`; the dataset fixes the input shape."""
        return dict(
            conditional=self.conditional,
            arch=self.arch,
            hidden=tuple(self.hidden),
            latent_dim=self.latent_dim,
            likelihood=self.likelihood,
            sigma=self.sigma,
        )

    def replace(self, **changes) -> "RunSettings":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_configs(
        cls, model: ModelConfig, train: TrainConfig, spec: DatasetSpec, progress: dict | None = None
    ) -> "RunSettings":
        """The settings a checkpoint was trained with; its progress (live β, lr, free bits) wins over the config."""
        schedule = BetaSchedule.parse(train.beta_schedule)
        progress = progress or {}
        return cls(
            dataset=spec.name,
            data_dir=spec.data_dir,
            path=spec.path,
            key=spec.key,
            sprites_n=spec.n,
            sprites_size=spec.image_size,
            limit=spec.limit,
            arch=model.arch,
            hidden=tuple(model.hidden),
            latent_dim=model.latent_dim,
            likelihood=model.likelihood,
            sigma=model.sigma,
            binarize=train.binarize,
            conditional=model.conditional,
            batch_size=train.batch_size,
            lr=float(progress.get("lr", train.lr)),
            seed=train.seed,
            device=train.device,
            epochs=train.epochs,
            beta=float(progress.get("beta", train.beta)),
            schedule=schedule.kind,
            schedule_steps=schedule.steps or cls.schedule_steps,
            free_bits=float(progress.get("free_bits", train.free_bits)),
        )
