"""What a training run yields: StepReport, EpochReport, DivergedReport, BetaChanged and PauseChanged, plain
frozen numbers.

Each crosses threads as is (numpy copies, no tensors); the history keeps the same rows (trainer.training.history).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from trainer.training.history import NOT_A_COLUMN, RATE_SPLIT_KEYS  # noqa: F401  (RATE_SPLIT_KEYS: re-exported)
# the per-epoch rate split's N (re-exported): its cost grows with its square (2,000 x 2,000 posteriors of 20
# dimensions: a fraction of a second on two cores), its ceiling log N is log 2000 = 7.6 nats
from trainer.config import RATE_SPLIT_POINTS  # noqa: F401


@dataclass(frozen=True)
class StepReport:
    """Training progress averaged over the steps since the previous report; nats per example."""

    step: int
    """Optimizer steps taken so far."""
    epoch: int
    """0-based epoch in progress."""
    epoch_progress: float = field(metadata=NOT_A_COLUMN)
    """Fraction of the current epoch done, 0..1."""
    beta: float
    """Effective beta of the last step (target times schedule factor)."""
    beta_target: float = field(metadata=NOT_A_COLUMN)
    """The β the schedule ramps towards (history keeps its changes, group beta_changes)."""
    lr: float
    free_bits: float = field(metadata=NOT_A_COLUMN)
    recon: float
    kl: float
    elbo: float
    loss: float
    kl_per_dim: np.ndarray
    samples_per_s: float
    elapsed_s: float
    """Training seconds so far, excluding evaluation and time spent paused."""
    warming_up: bool = field(default=False, metadata=NOT_A_COLUMN)
    """The KL's weight is still ramping up (a β warm-up, a cyclical schedule's ramp, a hierarchy's layer warm-up):
    a rate near 0 now is the schedule's doing, not a posterior collapse."""
    batch_tc: float = field(default=math.nan, metadata=NOT_A_COLUMN)
    """β-TCVAE: the training batches' estimate of the total correlation β weighs (MSS or MWS), averaged over the
    report's steps; NaN for the ELBO. History group batch_tc (step, total_correlation), beside the held-out TC of
    group rate_split, so the gap between the batch's estimate and the held-out set's is there to see."""


@dataclass(frozen=True)
class EpochReport:
    """End-of-epoch evaluation on the held-out split, nats per example."""

    epoch: int
    """Epochs completed."""
    step: int
    train_recon: float
    train_kl: float
    train_elbo: float
    test_recon: float
    test_kl: float
    test_elbo: float
    test_kl_per_dim: np.ndarray
    active_units: int
    test_elbo_se: float = math.nan
    """Standard error of test_elbo over the held-out examples (its one draw of z per example included)."""
    train_loss: float = math.nan
    """The epoch's training loss per example: distortion + β·rate for the ELBO, the negative importance-weighted
    bound for IWAE (so -train_loss is the bound, to set beside train_elbo)."""
    rate_split: dict | None = field(default=None, metadata=NOT_A_COLUMN)
    """The held-out rate split into I_q(X; Z), total correlation and dimension-wise KL (RATE_SPLIT_KEYS, nats,
    and log_n, the ceiling of I) on up to RATE_SPLIT_POINTS examples; history group rate_split. None when the
    held-out set is too small."""


@dataclass(frozen=True)
class DivergedReport:
    """The loss went NaN/Inf: the last good weights were restored and training paused or stopped."""

    step: int
    restored_step: int
    message: str


@dataclass(frozen=True)
class BetaChanged:
    """A live β change took effect: steps from `step + 1` on train towards `value` (yielded before their report).

    The same row goes to trainer.history, group beta_changes (step, value)."""

    step: int
    """Optimizer steps taken before the change applied."""
    value: float
    """The new β target."""


@dataclass(frozen=True)
class PauseChanged:
    """The run paused (after the step in progress, or by a divergence) or went on again: the engine's own word,
    so a GUI shows "paused" when the steps have stopped, not when a button was pressed."""

    step: int
    """Optimizer steps taken when the pause took effect (or ended)."""
    paused: bool
