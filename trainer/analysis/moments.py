"""A run's moments: its timeline as the window scrubs it, and what the latent panels show of one moment.

    timeline = RunTimeline.of_checkpoint(ckpt)       # or RunTimeline.of_trainer(trainer), between steps
    timeline.steps, timeline.epochs, timeline.betas  # tuples, oldest first; timeline.off says why there are none
    i = timeline.nearest(1200)
    for item in timeline.moment(i, load_dataset, n_preview, n_samples, seed, max_points):
        ...   # the DecoderSnapshot, PreviewImages and LatentSnapshot of snapshot i, as for an opened checkpoint

A RunTimeline is frozen and holds the snapshots' weights by reference: the training thread's SnapshotKeeper never
changes a snapshot it kept (it only adds and drops whole ones), so the window's threads may read them while
training goes on. numpy only at import: torch loads when a moment is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from trainer.analysis.diagnostics import COLLAPSE_RATE_NATS
from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout, preview_images, trained_bound_k
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.model.likelihood import LikelihoodMeaning, Provenance


@dataclass(frozen=True, eq=False)
class RunTimeline:
    """The snapshots of one run, oldest first, with what it takes to show each: its configs and its data."""

    model_config: ModelConfig
    train_config: TrainConfig
    dataset: DatasetSpec
    steps: tuple[int, ...] = ()
    epochs: tuple[float, ...] = ()
    """Epochs trained at each snapshot (fractional inside an epoch)."""
    betas: tuple[float, ...] = ()
    """β in effect at each snapshot's step."""
    states: tuple[Mapping[str, np.ndarray], ...] = field(default=(), repr=False)
    """Each snapshot's weights (half precision), keyed as model.state_dict(); never written to."""
    off: str = ""
    """Why there are no snapshots ("" when there are)."""
    beta_changes: tuple[int, ...] = ()
    """Steps at which β was changed by hand while it trained (the history's beta_changes)."""
    collapses: tuple[int, ...] = ()
    """Steps at which a report's rate fell below COLLAPSE_RATE_NATS: the posterior collapsed there (history_marks)."""

    @classmethod
    def of_checkpoint(cls, ckpt) -> "RunTimeline":
        """A checkpoint's timeline (trainer.checkpoints.hdf5.Checkpoint)."""
        return cls._of(ckpt.model_config, ckpt.train_config, ckpt.dataset, ckpt.timeline.rows(), ckpt.timeline.off,
                       ckpt.history)

    @classmethod
    def of_trainer(cls, trainer) -> "RunTimeline":
        """A training run's snapshots so far; call it between steps, in the thread that trains."""
        keeper = trainer.snapshots
        # the three columns the marks need, not history.arrays(): that copies every report's KL per dimension,
        # in the training thread, each time a snapshot is kept
        marks = {f"{group}/{name}": trainer.history.column(group, name)
                 for group, name in (("beta_changes", "step"), ("steps", "step"), ("steps", "kl"))}
        return cls._of(trainer.model_config, trainer.config, trainer.dataset.spec, list(keeper.rows), keeper.off,
                       marks)

    @classmethod
    def _of(cls, model_config, train_config, dataset, rows, off: str, history) -> "RunTimeline":
        beta_changes, collapses = history_marks(history)
        return cls(model_config, train_config, dataset, steps=tuple(int(r[0]) for r in rows),
                   epochs=tuple(float(r[1]) for r in rows), betas=tuple(float(r[2]) for r in rows),
                   states=tuple(r[3] for r in rows), off="" if rows else (off or "no snapshots were kept"),
                   beta_changes=beta_changes, collapses=collapses)

    def __len__(self) -> int:
        return len(self.steps)

    def nearest(self, step: int) -> int:
        """The index of the snapshot nearest `step` (the earlier of two as near)."""
        if not self.steps:
            raise IndexError(f"the run has no snapshots: {self.off}")
        return int(np.argmin(np.abs(np.asarray(self.steps, dtype=np.float64) - float(step))))

    def moment(self, index: int, load_dataset, n_preview: int, n_samples: int, seed: int, max_points: int | None):
        """What the latent panels show of snapshot `index`, in order (model_snapshots)."""
        return model_snapshots(self.model_config, self.train_config, self.dataset, self.states[index],
                               self.steps[index], int(self.epochs[index]), load_dataset, n_preview, n_samples, seed,
                               max_points)


def history_marks(history: Mapping[str, np.ndarray]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(the steps where β was changed by hand, the steps where the reports' rate fell below COLLAPSE_RATE_NATS
    after being above it): the events a timeline marks, from a run's history arrays."""
    changes = tuple(int(s) for s in np.asarray(history.get("beta_changes/step", ()), dtype=np.int64))
    steps = np.asarray(history.get("steps/step", ()), dtype=np.int64)
    rate = np.asarray(history.get("steps/kl", ()), dtype=np.float64)
    if len(rate) != len(steps) or not len(rate):
        return changes, ()
    low = rate < COLLAPSE_RATE_NATS
    falls = np.flatnonzero(low[1:] & ~low[:-1]) + 1
    return changes, tuple(int(steps[i]) for i in falls)


def model_snapshots(model_config, train_config, spec, state, step: int, epochs: int, load_dataset, n_preview: int,
                    n_samples: int, seed: int, max_points: int | None):
    """What the latent panels show of a model's weights `state` (a checkpoint's, or a snapshot of its timeline), in
    order: its DecoderSnapshot at once (the sliders work before anything else is ready), then PreviewImages and the
    held-out LatentSnapshot, which need the data: `load_dataset(spec)` gives it (and may raise). A generator, so a
    caller can hand each item on as it comes."""
    from trainer.model.likelihood import heldout_for_likelihood

    snapshot = DecoderSnapshot.from_state(model_config, state, step, bound_k=trained_bound_k(train_config))
    yield snapshot
    dataset = load_dataset(spec)
    model = snapshot.build_model()  # a private copy: the GUI thread decodes with the snapshot's own
    x = dataset.x_test[:n_preview]
    y = dataset.y_test[:n_preview] if dataset.y_test is not None else None
    yield preview_images(model, x, y, n_samples, seed, step)
    scored = heldout_for_likelihood(dataset, train_config)  # as the trainer evaluates it
    meaning = LikelihoodMeaning.of(model_config, train_config, scored)
    provenance = Provenance.of(dataset, model_config, train_config, epochs)
    yield encode_heldout(model, dataset, "cpu", max_points, step=step, x_test=scored, meaning=meaning,
                         provenance=provenance)
