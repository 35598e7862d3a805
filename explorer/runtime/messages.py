"""What the training worker sends to the GUI thread, and what the GUI thread asks of it.

Everything here crosses the thread boundary, so each is a frozen dataclass of plain numbers, strings and numpy
copies: never a live tensor, module or h5py handle (explorer.runtime.worker makes the copies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.models.run_settings import RunSettings


@dataclass(frozen=True)
class CurveBatch:
    """Every StepReport since the previous batch, as columns (nats per example), plus the latest one whole."""

    step: np.ndarray
    recon: np.ndarray
    """Distortion, −E log p(x|z)."""
    kl: np.ndarray
    """Rate, KL(q(z|x) ‖ p(z))."""
    elbo: np.ndarray
    beta: np.ndarray
    """Effective β (target times the schedule factor)."""

    beta_changes: tuple[tuple[int, float], ...]
    """(step, new β target) for each live β change the trainer applied since the previous batch."""
    latest: Any
    """The newest trainer.training.loop.StepReport (frozen: numbers and a numpy kl_per_dim copy)."""
    batch_tc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """β-TCVAE: the training batches' total-correlation estimate of each report (NaN for the ELBO)."""
    loss: np.ndarray | None = None
    """The training loss of each report: distortion + β·rate for the ELBO, the negative bound for IWAE."""


@dataclass(frozen=True)
class RunStarted:
    """Training is about to take its first step of this run."""

    device: str
    dataset: str
    steps_per_epoch: int
    epochs: int
    step: int
    epoch: int
    threads: int = 1
    """CPU threads torch trains with (intra-op, in the worker thread)."""
    added_epochs: int = 0
    """Continue on a run that had done all its epochs: this many were added to `epochs` (the Epochs value)."""
    iwae_k: int | None = None
    """The run trains on IWAE's bound with this many samples (its loss is that bound); None for other objectives."""


@dataclass(frozen=True)
class RunEnded:
    """The worker is idle again: training stopped, finished, failed or was cancelled while loading."""

    step: int
    epoch: int
    has_model: bool
    """A trained (or opened) model is kept and Start continues it; False only if none was ever built."""
    finished: bool
    """The configured number of epochs is done."""
    epoch_progress: float = 0.0
    """Fraction of the current epoch done, 0..1."""


@dataclass(frozen=True)
class OpenedCheckpoint:
    """A checkpoint read from disk: its settings and curve history; Start resumes it."""

    path: str
    settings: RunSettings
    history: dict[str, np.ndarray] = field(repr=False)
    step: int
    epoch: int


@dataclass(frozen=True)
class DatasetChanged:
    """File > Open dataset: the worker now trains on this dataset."""

    description: str
    spec: object
    """trainer.config.DatasetSpec of the dataset (for an image folder: the folder, size and channels)."""
    kept_model: bool
    """The current model (or opened checkpoint) fits this data and was kept; otherwise it was discarded."""
    n_train: int = 0


@dataclass(frozen=True)
class TrainRequest:
    settings: RunSettings
    max_steps: int | None = None
    """Train at most this many more steps (screenshots, tests, benchmarks); None: until the epochs are done."""
    tensorboard: str = ""
    """A folder to write TensorBoard event files into (File ▸ Preferences); empty: none."""
