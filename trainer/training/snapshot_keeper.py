"""Which snapshots of the weights a training run keeps for its timeline, within its budget.

    keeper = SnapshotKeeper.of(train_config, model)
    keeper.keep(0, 0.0, beta, model)                 # the weights before training
    if keeper.due(step, epoch_ends):                 # the training thread, after each optimizer step
        keeper.keep(step, epochs, beta, model)
    ckpt.timeline = keeper.timeline()                # trainer.checkpoints.timeline.Timeline
    keeper.resume(ckpt.timeline, step)               # a resumed run goes on with the snapshots it had

When: step 0, the steps of a geometric ladder (1, 2, 3, 4, 5, 7, 9, 12, 15, 19, ...: a ratio of 1.25, dense early,
where the rate climbs and units switch on) and every epoch's last step. Within the budget (at most
TrainConfig.snapshots of them, and TrainConfig.snapshot_mb megabytes at half precision) it thins: it drops the
snapshot whose two neighbours are closest on a time scale half logarithmic and half linear in the step, the oldest
among equals, so the timeline stays dense early without leaving the late epochs empty. The first and the last
snapshot stay. Copies are made in the training thread, between steps, as the window's decoder copies are.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from trainer.checkpoints.timeline import NOT_YET, Timeline, turned_off
from trainer.config import TrainConfig

LADDER_RATIO = 1.25
MB = 1_000_000


def ladder_after(step: int) -> int:
    """The first step of the geometric ladder (1, 2, 3, 4, 5, 7, 9, 12, ...) after `step`."""
    s = 1
    while s <= step:
        s = max(s + 1, math.ceil(s * LADDER_RATIO))
    return s


def thinned(steps: np.ndarray) -> int:
    """The index of the snapshot to drop: the interior one whose neighbours are closest on the half-log,
    half-linear scale of the last step (the oldest among equals)."""
    last = max(float(steps[-1]), 1.0)
    u = 0.5 * np.log1p(steps.astype(np.float64)) / math.log1p(last) + 0.5 * steps / last
    return 1 + int(np.argmin(u[2:] - u[:-2]))


class SnapshotKeeper:
    """The snapshots a Trainer keeps: (step, epochs, β, weights) rows, oldest first, within a count and a size."""

    def __init__(self, capacity: int, off: str = ""):
        self.capacity = int(capacity)
        """How many snapshots fit in the budget (0: none are kept, and `off` says why)."""
        self.off = off if self.capacity == 0 else ""
        self.rows: list[tuple[int, float, float, dict[str, np.ndarray]]] = []
        """(step, epochs, β, weights), oldest first. A row is never changed once kept (other threads read them
        through trainer.analysis.moments.RunTimeline): rows are only added and dropped."""
        self.version = 0
        """Counts the changes to `rows`: a publisher compares it to know when to hand on a new timeline."""
        self._next = 1

    @classmethod
    def of(cls, config: TrainConfig, model: torch.nn.Module) -> "SnapshotKeeper":
        """The keeper of a run of `config` training `model`: its capacity is the count and the size allowed."""
        if turned_off(config):
            return cls(0, turned_off(config))
        size = 2 * sum(t.numel() for t in model.state_dict().values())  # bytes at half precision
        by_size = int(config.snapshot_mb * MB // max(size, 1))
        if by_size == 0:
            return cls(0, f"one snapshot of this model takes {size / MB:.1f} MB, more than snapshot_mb "
                          f"{config.snapshot_mb:g}")
        return cls(min(int(config.snapshots), by_size))

    def due(self, step: int, epoch_ends: bool) -> bool:
        """Whether the weights after optimizer step `step` are to be kept (cheap: called after every step)."""
        return self.capacity > 0 and (epoch_ends or step >= self._next)

    @torch.no_grad()
    def keep(self, step: int, epochs: float, beta: float, model: torch.nn.Module) -> None:
        """Copy `model`'s weights as the snapshot of `step`; weights that are not finite (a diverging step) are
        not kept."""
        self._next = ladder_after(step)
        if self.capacity == 0 or (self.rows and self.rows[-1][0] >= step):
            return
        weights = {}
        for key, t in model.state_dict().items():
            t = t.detach()
            half = t.to("cpu", torch.float16)
            # a NaN or Inf (or a value past float16's range) makes the sum one: a reduction is 4x faster than
            # isfinite().all(), which cost a 784-400-20 VAE's first epoch a tenth of its throughput
            if not bool(torch.isfinite(torch.sum(half, dtype=torch.float32))):
                if not bool(torch.isfinite(t).all()):
                    return  # a diverging step: not kept
                if not bool(torch.isfinite(half).all()):
                    half = t.to("cpu", torch.float32)  # past float16's range: this tensor stays float32
            weights[key] = half.numpy()
        self.rows.append((int(step), float(epochs), float(beta), weights))
        self._fit()
        self.version += 1

    def _fit(self) -> None:
        """Thin the snapshots down to the capacity."""
        while len(self.rows) > self.capacity:
            if len(self.rows) <= 2:
                del self.rows[0]
            else:
                del self.rows[thinned(np.array([r[0] for r in self.rows], np.int64))]

    def timeline(self) -> Timeline:
        """The snapshots kept so far, for a checkpoint (stacked copies: training may go on)."""
        return Timeline.stacked(self.rows, self.off or NOT_YET)

    def resume(self, timeline: Timeline, step: int) -> None:
        """Go on from a checkpoint's snapshots at `step`: the next ones are those an uninterrupted run keeps."""
        self.rows = [r for r in timeline.rows() if r[0] <= step] if self.capacity and len(timeline) else []
        self._fit()
        self.version += 1
        self._next = ladder_after(step)
