"""vae-explorer from Python: the engine the CLI and the window drive, as a library. Nothing here pickles.

    import trainer
    data = trainer.load_dataset("sprites", n=2000, image_size=28)     # the CLI's names and options
    run = trainer.Run(data, out="run.h5", epochs=3, latent_dim=8)     # the CLI's settings, by their names
    for report in run:                                                # StepReport, EpochReport, ...
        ...                                                           # saved each epoch, and when the loop ends
    model = trainer.load_model("run.h5")                              # an eval-mode torch.nn.Module
    mu, logvar = model.encode(x)                                      # q(z|x) = N(mu, diag exp(logvar))
    images = model.decode(mu)                                         # E[x|z], in [0, 1]
    result = trainer.evaluate("run.h5", iwae_samples=100)             # what `eval --json` prints
    rows = trainer.sweep(data, "runs/", betas=[0.1, 1, 10], epochs=3)  # summary.csv's rows, as dicts

Every log-density is in nats per example. docs/python-api.md shows each call; its examples run in the tests.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from trainer.checkpoints.hdf5 import Checkpoint, load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data import load_dataset as _load_spec
from trainer.data import spec_for
from trainer.data.dataset import Dataset
from trainer.errors import ConfigError
from trainer.model.vae import model_config_for
from trainer.pixels import to_float01
from trainer.training.evaluation import (check_data_fits, checkpoint_gaps, evaluate_checkpoint,
                                         model_from_checkpoint)
from trainer.training.loop import Trainer
from trainer.training.reports import EpochReport, StepReport

MODEL_OPTIONS = frozenset(f.name for f in dataclasses.fields(ModelConfig)) - {"input_shape", "num_classes"}
"""Run's keyword options that set the model (ModelConfig's fields); `conditional=True` makes a CVAE."""
TRAIN_OPTIONS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
"""Run's keyword options that set the training (TrainConfig's fields)."""


# --- data ------------------------------------------------------------------------------------------------
def load_dataset(source: str | Path | DatasetSpec, *, split_seed: int = 0, memory_budget_mb: float | None = None,
                 progress: Callable[[str, float], None] | None = None, **options) -> Dataset:
    """A dataset the way the CLI reads it: "sprites", "mnist", "fashion-mnist" or a path (.npz, .h5, a folder of
    images), with the CLI's data options by name (data_dir, key, limit, image_size, channels, in_memory,
    download; n for the number of sprites), or a DatasetSpec.

    Returns a trainer.data.dataset.Dataset: x_train and x_test (N, C, H, W) uint8 0..255 or float32 in [0, 1]
    (a large HDF5 streamed from disk gives rows you index like an array), y_train / y_test int64 labels or None,
    class_names, factors_train / factors_test (sprites' ground-truth factors) with factor_names and
    factor_sizes. Bad input raises trainer.DataError with one line naming the file and the problem."""
    spec = source if isinstance(source, DatasetSpec) else spec_for(str(source), seed=split_seed, **options)
    budget = None if memory_budget_mb is None else int(memory_budget_mb * 2**20)
    return _load_spec(spec, progress, memory_budget=budget)


def _as_dataset(data) -> Dataset:
    return data if isinstance(data, Dataset) else load_dataset(data)


# --- a trained model -------------------------------------------------------------------------------------
class VAEModel(nn.Module):
    """A trained VAE as a torch module for your own code, in eval mode.

    encode(x) -> (mu, logvar) of q(z|x), decode(z) -> E[x|z] in [0, 1], sample(n) -> images decoded from
    z ~ N(0, I), forward(x) -> the reconstruction decode(mu). x is (N, C, H, W), a torch tensor or numpy array,
    uint8 0..255 or float in [0, 1]; y is a CVAE's labels. `model_config`, `train_config` and `dataset` are the
    configs it was trained with, `history` its reports as {"group/column": numpy array}, `step` its steps.
    A hierarchy's z is every layer in its prior's coordinates, bottom first (encode: the mean path)."""

    def __init__(self, net: nn.Module, model_config: ModelConfig, train_config: TrainConfig, dataset: DatasetSpec,
                 history: dict[str, np.ndarray], step: int = 0, path: str = ""):
        super().__init__()
        self.net = net.eval()
        self.model_config, self.train_config, self.dataset = model_config, train_config, dataset
        self.history, self.step, self.path = history, int(step), path

    @property
    def latent_dim(self) -> int:
        return int(self.model_config.latent_dim)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def _x(self, x) -> torch.Tensor:
        x = torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x)
        return to_float01(x).to(self.device)

    def _y(self, y, n: int) -> torch.Tensor | None:
        if not self.model_config.conditional:
            return None
        if y is None:
            raise ConfigError("this is a conditional VAE: give the labels y")
        return torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y, dtype=torch.long,
                               device=self.device).reshape(-1).expand(n)

    def encode(self, x, y=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), each (N, latent_dim): the encoder's q(z|x) = N(mu, diag exp(logvar))."""
        xb = self._x(x)
        return self.net.encode(xb, self._y(y, len(xb)))

    def decode(self, z, y=None) -> torch.Tensor:
        """E[x|z] (N, C, H, W) in [0, 1]: the decoder's mean image (not its logits or parameters)."""
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        z = z[None] if z.dim() == 1 else z
        return self.net.mean_image(self.net.decode(z, self._y(y, len(z))))

    def forward(self, x, y=None) -> torch.Tensor:
        """The reconstruction E[x | z = mu(x)]."""
        return self.decode(self.encode(x, y)[0], y)

    @torch.no_grad()
    def sample(self, n: int, y=None, seed: int | None = None) -> torch.Tensor:
        """n images decoded from z ~ N(0, I) (a CVAE: for the label(s) y), E[x|z] in [0, 1]."""
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        z = torch.randn(int(n), self.latent_dim, generator=g).to(self.device)
        return self.decode(z, y)


def load_model(path: str | Path, device: str = "cpu") -> VAEModel:
    """A checkpoint as an eval-mode VAEModel on `device`; bad files raise trainer.CheckpointError in one line."""
    ckpt = load_checkpoint(path)
    return _model_of(ckpt, model_from_checkpoint(ckpt, device), str(path))


def _model_of(ckpt: Checkpoint, net: nn.Module, path: str = "") -> VAEModel:
    return VAEModel(net, ckpt.model_config, ckpt.train_config, ckpt.dataset, dict(ckpt.history),
                    int(ckpt.progress.get("step", 0)), path)


# --- training --------------------------------------------------------------------------------------------
def configs_for(dataset: Dataset, model: ModelConfig | None = None, train: TrainConfig | None = None,
                **options) -> tuple[ModelConfig, TrainConfig]:
    """The ModelConfig and TrainConfig that `options` (their fields, by name) describe for this dataset."""
    conditional = bool(options.pop("conditional", model.conditional if model else False))
    unknown = set(options) - MODEL_OPTIONS - TRAIN_OPTIONS
    if unknown:
        raise ConfigError(f"no setting(s) {', '.join(sorted(unknown))}: the model takes "
                          f"{', '.join(sorted(MODEL_OPTIONS))}; training takes {', '.join(sorted(TRAIN_OPTIONS))}")
    model_kwargs = {k: v for k, v in options.items() if k in MODEL_OPTIONS}
    train_kwargs = {k: v for k, v in options.items() if k in TRAIN_OPTIONS}
    base = {k: v for k, v in (model.to_dict() if model else {}).items() if k in MODEL_OPTIONS}
    merged = {k: tuple(v) if isinstance(v, list) else v for k, v in {**base, **model_kwargs}.items()}
    model_cfg = model_config_for(dataset, conditional=conditional, **merged)
    train_cfg = dataclasses.replace(train or TrainConfig(), **train_kwargs)
    train_cfg.validate()
    return model_cfg, train_cfg


class Run:
    """One training run from a script: the CLI's `train`, iterated report by report.

        run = Run(data, out="run.h5", epochs=5, beta=4.0)   # or Run(resume="run.h5", epochs=10)
        for report in run: ...        # trainer.StepReport every report_every steps, trainer.EpochReport per epoch
        run.train(callback)           # the same, to the end; callback(report) returning False stops it
        run.stop()                    # from any thread: stops between two steps
        run.model()                   # a VAEModel copy of the weights so far; run.history: the reports' columns

    With `out`, the run is saved like `train` saves it: at every epoch's end, every `save_every_minutes`, and
    whenever the iteration ends (finished, stopped, broken out of, or an exception), atomically."""

    def __init__(self, data=None, out: str | Path | None = None, *, resume: str | Path | None = None,
                 model: ModelConfig | None = None, train: TrainConfig | None = None,
                 save_every_minutes: float = 5.0, tensorboard: str | Path | None = None, **options):
        if not (math.isfinite(save_every_minutes) and save_every_minutes > 0):
            raise ConfigError(f"save_every_minutes must be positive, got {save_every_minutes}")
        self.out = None if out is None else Path(out)
        if self.out is not None and not self.out.resolve().parent.is_dir():
            raise ConfigError(f"{self.out}: folder {self.out.resolve().parent} does not exist")
        self.save_every_s = save_every_minutes * 60
        self.tensorboard = None if tensorboard is None else Path(tensorboard)
        """A folder for TensorBoard event files (one TensorBoard run, named like `out`), as train --tensorboard."""
        if self.tensorboard is not None:
            from trainer.training.tensorboard import require_tensorboard

            require_tensorboard(self.tensorboard)
        ckpt = load_checkpoint(resume) if resume else None
        if ckpt is not None:
            dataset = _as_dataset(data) if data is not None else load_dataset(ckpt.dataset)
            changes = {k: options.pop(k) for k in ("epochs", "device") if k in options}
            if options:
                raise ConfigError(f"a resumed run keeps its settings; only epochs and device may change, not "
                                  f"{', '.join(sorted(options))}")
            model_cfg, train_cfg = ckpt.model_config, dataclasses.replace(ckpt.train_config, **changes)
        else:
            if data is None:
                raise ConfigError("Run needs data (a Dataset, a name or a path) or a checkpoint to resume")
            dataset = _as_dataset(data)
            model_cfg, train_cfg = configs_for(dataset, model, train, **options)
        self.trainer = Trainer(model_cfg, train_cfg, dataset, checkpoint=ckpt)
        """The engine's Trainer (trainer.training.loop): its live settings and state, for what this class omits."""

    def __iter__(self) -> Iterator:
        return self._reports()

    def _reports(self) -> Iterator:
        last_save = time.monotonic()
        log = None
        if self.tensorboard is not None:
            from trainer.training.tensorboard import TensorBoardLog

            log = TensorBoardLog(self.tensorboard, self.out.stem if self.out else "run", self.trainer)
        try:
            for report in self.trainer.run():
                if log is not None:
                    log.add(report)
                yield report
                if isinstance(report, EpochReport):
                    self.save()  # every epoch's end is a save: a killed script loses at most that epoch
                    last_save = time.monotonic()
                elif isinstance(report, StepReport) and time.monotonic() - last_save >= self.save_every_s:
                    self.save()
                    last_save = time.monotonic()
        finally:
            self.save()  # however the iteration ended, the steps trained are on disk
            if log is not None:
                log.close(finished=self.trainer.finished)

    def train(self, callback: Callable[[object], bool | None] | None = None) -> dict:
        """Train to the configured epochs (or until callback(report) returns False, or stop()); then the held-out
        terms and speed, as `train --json` prints them: {samples_per_s, epochs, steps, test: {elbo, recon, kl}}."""
        start_step, start_s = self.trainer.step, self.trainer.elapsed_s
        for report in self:
            if callback is not None and callback(report) is False:
                break
        seconds = self.trainer.elapsed_s - start_s
        test = self.trainer.evaluate_test()
        return {"samples_per_s": self.trainer.samples_since(start_step) / seconds if seconds > 0 else 0.0,
                "epochs": self.trainer.epoch, "steps": self.trainer.step,
                "test": {k: test[k] for k in ("elbo", "recon", "kl")}, "out": str(self.out or "")}

    def stop(self) -> None:
        """Stop between two steps (any thread); the iteration then ends, and saves."""
        self.trainer.stop()

    def save(self, path: str | Path | None = None) -> None:
        """Write the run's checkpoint to `path` (default: `out`; nothing when neither is given)."""
        target = path or self.out
        if target is not None:
            save_checkpoint(target, self.trainer.checkpoint())

    @property
    def history(self) -> dict[str, np.ndarray]:
        """Every report so far as {"group/column": numpy array}: steps/recon, epochs/test_elbo, ..."""
        return self.trainer.history.arrays()

    def model(self) -> VAEModel:
        """The weights trained so far as a VAEModel of their own (training goes on with the live ones)."""
        ckpt = self.trainer.checkpoint()
        return _model_of(ckpt, model_from_checkpoint(ckpt, "cpu"), str(self.out or ""))


# --- evaluation and sweeps -------------------------------------------------------------------------------
def _checkpoint_and_data(model, data, device: str):
    """(what was trained: its model_config and train_config, the network on `device`, the data to score): a
    VAEModel's own weights as they are now, or a checkpoint file's."""
    if isinstance(model, VAEModel):
        trained = SimpleNamespace(model_config=model.model_config, train_config=model.train_config)
        net, spec, where = model.net.to(device).eval(), model.dataset, model.path or type(model).__name__
    else:
        trained = load_checkpoint(model)
        net, spec, where = model_from_checkpoint(trained, device), trained.dataset, str(model)
    dataset = _as_dataset(data) if data is not None else load_dataset(spec)
    check_data_fits(trained, dataset, where)
    return trained, net, dataset


def evaluate(model: str | Path | VAEModel, data=None, *, iwae_samples: int = 0, rate_split_points: int = 10_000,
             disentanglement: bool = False, gaps: bool = False, gap_examples: int = 100, svi_steps: int = 500,
             device: str = "cpu") -> dict:
    """What `vae-explorer eval --json` prints for a checkpoint (a path, or a VAEModel loaded from one), on its
    own held-out data or `data`: elbo, recon, kl, kl_per_dim, active_units, rate, distortion, iwae_log_px and
    elbo_gap (iwae_samples > 0), rate_split, mig on sprites, DCI/SAP/FactorVAE with `disentanglement`. With
    `gaps`, `eval --gaps --json`'s split of the ELBO gap on the first gap_examples held-out examples instead."""
    ckpt, net, dataset = _checkpoint_and_data(model, data, device)
    if gaps:
        return checkpoint_gaps(ckpt, dataset, net, device, examples=gap_examples, svi_steps=svi_steps,
                               iwae_samples=iwae_samples or 1000)
    return evaluate_checkpoint(ckpt, dataset, net, device, iwae_samples=iwae_samples,
                               rate_split_points=rate_split_points, disentanglement=disentanglement)


def sweep(data, out: str | Path, *, betas=None, seeds=None, free_bits=None, schedules=None, objectives=None,
          iwae_samples: int = 0, gap_examples: int = 0, tensorboard: str | Path | None = None,
          on_report: Callable | None = None,
          should_stop: Callable[[], bool] | None = None, **options) -> list[dict]:
    """`vae-explorer sweep` from Python: every combination of the values listed trained into the folder `out`
    (one checkpoint a run, resumed and never repeated as the CLI does), and summary.csv's rows as dicts (the
    same keys, None where not measured). on_report(run name, report) hears every report; with `tensorboard`,
    each run also writes its TensorBoard events there, as `sweep --tensorboard` does."""
    from trainer.training.sweep import Sweep, plan_runs, run_sweep

    dataset = _as_dataset(data)
    model_cfg, base = configs_for(dataset, **options)
    # a list not given sweeps nothing: the run's own beta= / seed= (or their defaults) then hold
    runs = plan_runs(base, betas and list(betas), seeds and list(seeds), free_bits, schedules, objectives)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if tensorboard:
        from trainer.training.tensorboard import require_tensorboard

        require_tensorboard(tensorboard)
    result = run_sweep(Sweep(model_cfg, runs, dataset, folder, iwae_samples=iwae_samples, gap_examples=gap_examples,
                             tensorboard=str(tensorboard or "")),
                       on_report=on_report or (lambda name, report: None),
                       should_stop=should_stop or (lambda: False))
    return [row.as_dict() for row in result.rows]
