"""A run's reports as TensorBoard event files, for those who follow their runs there.

    require_tensorboard()                              # a ConfigError in one line when the package is missing
    log = TensorBoardLog("tb/", "beta-1_seed-0", trainer)   # one TensorBoard run, named like its checkpoint
    for report in trainer.run():
        log.add(report)                                # scalars per report; held-out figures and images per epoch
    log.close(finished=True)

What is written, in nats per example:
- per report (`train/`): distortion −E log p(x|z), rate KL(q(z|x) ‖ p(z)), −ELBO and the β used, at its step;
- per epoch (`heldout/`): the held-out ELBO, distortion, rate and active units, and the rate split's I(X; Z)
  when measured; images of held-out inputs beside their reconstructions and of prior samples (the same z
  every epoch);
- once: the run's hyperparameters (β, seed, free bits, schedule, objective, the model) for the HParams view,
  whose metrics are the held-out ELBO, rate and distortion, so a sweep's runs compare there side by side.

`tensorboard` is an optional extra (pip install -e ".[tensorboard]"): torch's SummaryWriter needs it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from trainer.errors import ConfigError
from trainer.training.reports import EpochReport, StepReport

INSTALL = 'pip install -e ".[tensorboard]"'
PREVIEW = 16
"""Held-out examples reconstructed, and prior samples drawn, for each epoch's images."""
METRICS = ("heldout/elbo", "heldout/rate", "heldout/distortion")
"""The HParams view's metrics: the last value of each of these scalars in a run."""


def require_tensorboard(folder: str | Path | None = None) -> None:
    """A ConfigError in one line unless TensorBoard's writer can be imported and `folder` (if given) can be
    written: checked before anything trains."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise ConfigError(f"--tensorboard needs the tensorboard package, which is not installed: {INSTALL}") \
            from None
    if folder is not None:
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{folder}: cannot write TensorBoard events there: {exc.strerror or exc}") from None
        if not os.access(folder, os.W_OK):
            raise ConfigError(f"{folder}: cannot write TensorBoard events there: permission denied")


def hyperparameters(model_config, train_config) -> dict:
    """What the HParams view compares: numbers and strings only, as TensorBoard takes them."""
    return {"beta": float(train_config.beta), "seed": int(train_config.seed),
            "free_bits": float(train_config.free_bits), "beta_schedule": str(train_config.beta_schedule),
            "objective": str(train_config.objective),
            "lr": float(train_config.lr), "batch_size": int(train_config.batch_size),
            "binarize": str(train_config.binarize), "arch": str(model_config.arch),
            "hidden": ",".join(str(h) for h in model_config.hidden),
            "encoder_hidden": ",".join(str(h) for h in model_config.encoder_hidden),
            "latent_dim": int(model_config.latent_dim), "layers": int(model_config.layers),
            "likelihood": str(model_config.likelihood), "conditional": bool(model_config.conditional)}


class TensorBoardLog:
    """One run's TensorBoard events in FOLDER/NAME; written from the thread that trains."""

    def __init__(self, folder: str | Path, name: str, trainer):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        self.path = Path(folder) / name
        self._trainer = trainer
        # what an earlier process logged past this run's step (a kill after the last save, a run started over in
        # the same folder) is dropped when TensorBoard reads the folder, so curves never zig-zag
        self.writer = SummaryWriter(log_dir=str(self.path), purge_step=int(trainer.step))
        experiment, start, self._end = hparams(hyperparameters(trainer.model_config, trainer.config),
                                               dict.fromkeys(METRICS, 0.0))
        for summary in (experiment, start):
            self.writer.file_writer.add_summary(summary)
        x = np.asarray(trainer.x_test[:PREVIEW])
        y = trainer.dataset.y_test if trainer.model_config.conditional else None
        self._preview = (x, None if y is None else np.asarray(y[:PREVIEW]))

    def add(self, report) -> None:
        """Write what a StepReport or EpochReport holds (other reports are not scalars over steps)."""
        w = self.writer
        if isinstance(report, StepReport):
            for tag, value in (("train/distortion", report.recon), ("train/rate", report.kl),
                               ("train/neg_elbo", -report.elbo), ("train/beta", report.beta)):
                w.add_scalar(tag, float(value), report.step)
            if self._trainer.config.objective == "iwae":  # its loss is the bound, not distortion + β·rate
                w.add_scalar("train/neg_iwae_bound", float(report.loss), report.step)
        elif isinstance(report, EpochReport):
            for tag, value in (("heldout/elbo", report.test_elbo), ("heldout/distortion", report.test_recon),
                               ("heldout/rate", report.test_kl), ("heldout/active_units", report.active_units),
                               ("train_epoch/elbo", report.train_elbo)):
                w.add_scalar(tag, float(value), report.step)
            if report.rate_split is not None:
                w.add_scalar("heldout/mutual_information", float(report.rate_split["mutual_information"]),
                             report.step)
            self._images(report.step)
            w.flush()

    def _images(self, step: int) -> None:
        from trainer.analysis.snapshots import preview_images

        x, y = self._preview
        if not len(x):
            return
        images = preview_images(self._trainer.model, x, y, n_samples=PREVIEW, seed=0, step=step)
        # each input above its reconstruction, as the Samples panel shows them
        pairs = np.stack([images.inputs, images.recons], axis=1).reshape(-1, *images.inputs.shape[1:])
        self.writer.add_images("heldout/inputs_and_reconstructions", np.clip(pairs, 0, 1), step, dataformats="NCHW")
        self.writer.add_images("prior_samples", np.clip(images.samples, 0, 1), step, dataformats="NCHW")

    def close(self, finished: bool = True) -> None:
        """Close the files; a finished run also ends its HParams session (success). One stopped short leaves it
        open: a resumed run, or the window's Continue, writes on into the same TensorBoard run."""
        if finished:
            self.writer.file_writer.add_summary(self._end)
        self.writer.close()
