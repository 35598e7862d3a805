"""trainer.Run: `vae-explorer train` from a script, iterated report by report; configs_for, its settings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from trainer.api.data import as_dataset, load_dataset
from trainer.api.model import VAEModel, _model_of
from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import SAVE_EVERY, ModelConfig, TrainConfig
from trainer.errors import ConfigError
from trainer.rules import path_of
from trainer.training.evaluation import model_from_checkpoint
from trainer.training.opening import MODEL_OPTIONS, RESUMABLE, TRAIN_OPTIONS, configs_for, open_trainer
from trainer.training.reports import EpochReport, StepReport

__all__ = ["Run", "configs_for", "MODEL_OPTIONS", "TRAIN_OPTIONS", "RESUMABLE"]

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
        self.save_every_s = SAVE_EVERY.check("save_every_minutes", save_every_minutes) * 60
        self.out = path_of("out", out, allow_none=True)
        if self.out is not None and not self.out.resolve().parent.is_dir():
            raise ConfigError(f"{self.out}: folder {self.out.resolve().parent} does not exist")
        self.tensorboard = path_of("tensorboard", tensorboard, allow_none=True)
        """A folder for TensorBoard event files (one TensorBoard run, named like `out`), as train --tensorboard."""
        if self.tensorboard is not None:
            from trainer.training.tensorboard import require_tensorboard

            require_tensorboard(self.tensorboard)
        for name, value, cls in (("model", model, ModelConfig), ("train", train, TrainConfig)):
            if value is not None and not isinstance(value, cls):
                raise ConfigError(f"{name} must be a trainer.{cls.__name__}, got {type(value).__name__}")
        resume = path_of("resume", resume, allow_none=True)
        ckpt = load_checkpoint(resume) if resume is not None else None
        if ckpt is None and data is None:
            raise ConfigError("Run needs data (a Dataset, a name or a path) or a checkpoint to resume")
        dataset = as_dataset(data) if data is not None else load_dataset(ckpt.dataset)
        self.trainer = open_trainer(dataset, checkpoint=ckpt, where=str(resume or ""), model=model, train=train,
                                    **options)
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
        test = self.trainer.closing_evaluation() or self.trainer.evaluate_test()
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
