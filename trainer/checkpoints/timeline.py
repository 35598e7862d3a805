"""A run's timeline: the snapshots of its weights that a checkpoint keeps, and how they are checked and stored.

    tl = ckpt.timeline                  # Timeline: the steps, epochs and β of each snapshot, and its weights
    tl.steps                            # int64 (n,), increasing; tl.off says why there are none ("" if there are)
    i = tl.nearest(1200)                # the snapshot nearest step 1,200
    state = tl.state(i)                 # its weights, float32, keyed as model.state_dict()
    moment = ckpt.at(1200)              # trainer.checkpoints.hdf5: the run as it was at that snapshot

Snapshots are weights only, stored at half precision when every value fits (they are for looking at; the final
weights in /model stay exact): no optimizer state, so a moment can be looked at and evaluated, not resumed. What
the training loop keeps, and when, is trainer.training.snapshot_keeper. The layout is in docs/checkpoint-format.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from trainer.config import MAX_SNAPSHOTS, TrainConfig

FLOAT16_MAX = float(np.finfo(np.float16).max)
COLUMNS = ("steps", "epochs", "betas")
OLD_FORMAT = "this checkpoint was written before vae-explorer kept snapshots (format version {version})"
NOT_YET = "no snapshots were kept"


def turned_off(config: TrainConfig) -> str:
    """Why a run of `config` keeps no snapshots (snapshots or snapshot_mb 0); "" when it keeps some."""
    for name in ("snapshots", "snapshot_mb"):
        if getattr(config, name) == 0:
            return f"snapshots were turned off for this run ({name} 0)"
    return ""


@dataclass(frozen=True, eq=False)
class Timeline:
    """The snapshots of one run, oldest first; empty (with `off` saying why) when it kept none."""

    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """int64 (n,): the optimizer steps each snapshot had taken, increasing (0: the weights before training)."""
    epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    """float64 (n,): epochs trained at the snapshot, fractional inside an epoch (2.0: the end of the second)."""
    betas: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    """float64 (n,): the β in effect at the snapshot's step (schedule included)."""
    weights: Mapping[str, np.ndarray] = field(default_factory=dict)
    """model.state_dict() key -> (n, *shape) float16 (float32 where a value is past float16's range)."""
    off: str = NOT_YET
    """Why there are no snapshots; "" when there are."""

    def __post_init__(self) -> None:
        if len(self.steps):
            object.__setattr__(self, "off", "")

    @classmethod
    def none(cls, why: str) -> "Timeline":
        return cls(off=why)

    @classmethod
    def stacked(cls, rows: list[tuple[int, float, float, Mapping[str, np.ndarray]]], off: str = NOT_YET) -> "Timeline":
        """A timeline of (step, epoch, β, weights) rows, oldest first; each key stored at half precision unless a
        value of it is past float16's range in some row."""
        if not rows:
            return cls.none(off)
        weights = {}
        for key in rows[0][3]:
            stack = np.stack([np.asarray(r[3][key], dtype=np.float32) for r in rows])
            fits = not stack.size or float(np.abs(stack).max()) <= FLOAT16_MAX
            weights[key] = stack.astype(np.float16) if fits else stack
        return cls(steps=np.array([r[0] for r in rows], np.int64), epochs=np.array([r[1] for r in rows], np.float64),
                   betas=np.array([r[2] for r in rows], np.float64), weights=weights)

    def __len__(self) -> int:
        return int(len(self.steps))

    @property
    def nbytes(self) -> int:
        return int(sum(w.nbytes for w in self.weights.values()))

    def nearest(self, step: int) -> int:
        """The index of the snapshot whose step is nearest `step` (the earlier of two as near)."""
        if not len(self):
            raise IndexError("the timeline is empty")
        return int(np.argmin(np.abs(self.steps.astype(np.float64) - float(step))))

    def state(self, index: int) -> dict[str, np.ndarray]:
        """Snapshot `index`'s weights as float32 arrays, keyed as model.state_dict()."""
        return {k: np.asarray(w[index], dtype=np.float32) for k, w in self.weights.items()}

    def rows(self) -> list[tuple[int, float, float, dict[str, np.ndarray]]]:
        """(step, epoch, β, weights) per snapshot: what a resumed run's keeper starts from."""
        return [(int(s), float(e), float(b), {k: w[i] for k, w in self.weights.items()})
                for i, (s, e, b) in enumerate(zip(self.steps, self.epochs, self.betas))]

    def summary(self) -> dict[str, Any]:
        """For `vae-explorer info`: how many, from which step to which, how large; or why there are none."""
        if not len(self):
            return {"snapshots": 0, "off": self.off}
        return {"snapshots": len(self), "first_step": int(self.steps[0]), "last_step": int(self.steps[-1]),
                "bytes": self.nbytes}


def check_timeline(parts: Mapping[str, Any], state_shapes: Mapping[str, tuple[int, ...]],
                   invalid: type[Exception]) -> None:
    """Names, dtypes and declared shapes of a timeline's arrays (numpy arrays or unread h5py datasets alike), before
    any is read: `parts` holds COLUMNS and "weights" (key -> array). A problem raises `invalid` (without the file)."""
    missing = [c for c in (*COLUMNS, "weights") if c not in parts]
    if missing:
        raise invalid(f"timeline has no {missing[0]!r}")
    n = parts["steps"].shape[0] if len(parts["steps"].shape) == 1 else -1
    if n < 1 or n > MAX_SNAPSHOTS:
        raise invalid(f"timeline steps must be 1-D with 1..{MAX_SNAPSHOTS} entries, got shape {parts['steps'].shape}")
    for name, kinds in (("steps", "iu"), ("epochs", "f"), ("betas", "f")):
        arr = parts[name]
        if arr.dtype.kind not in kinds or arr.dtype.itemsize > 8 or tuple(arr.shape) != (n,):
            raise invalid(f"timeline {name} must be {n} {'integers' if kinds == 'iu' else 'floats'}, got "
                          f"{arr.dtype} {tuple(arr.shape)}")
    weights = parts["weights"]
    if set(weights) != set(state_shapes):
        odd = sorted(set(weights) ^ set(state_shapes))[0]
        raise invalid(f"timeline weights do not match the model: {odd!r} is {'extra' if odd in weights else 'missing'}")
    for key, shape in state_shapes.items():
        arr = weights[key]
        if arr.dtype.kind != "f" or arr.dtype.itemsize > 8 or tuple(arr.shape) != (n, *shape):
            raise invalid(f"timeline weight {key} has {arr.dtype} {tuple(arr.shape)}, expected floats {(n, *shape)}")


def check_timeline_values(timeline: Timeline, last_step: int, invalid: type[Exception]) -> None:
    """After reading: steps increasing, within the run, epochs and β finite, weights finite."""
    steps = timeline.steps
    if len(steps) and (steps[0] < 0 or np.any(np.diff(steps) <= 0) or steps[-1] > last_step):
        raise invalid(f"timeline steps must increase from 0 or more up to the run's step {last_step}")
    if not (np.all(np.isfinite(timeline.epochs)) and np.all(np.isfinite(timeline.betas))):
        raise invalid("timeline epochs or betas contain NaN/Inf")
    for key, arr in timeline.weights.items():
        if not np.all(np.isfinite(arr)):
            raise invalid(f"timeline weights contain NaN/Inf ({key})")


def write_timeline(f, timeline: Timeline) -> None:
    """The /timeline group of an open h5py.File; nothing when there are no snapshots."""
    if not len(timeline):
        return
    group = f.create_group("timeline")
    for name in COLUMNS:
        group.create_dataset(name, data=getattr(timeline, name))
    weights = group.create_group("weights")
    for key, arr in timeline.weights.items():
        weights.create_dataset(key, data=arr)
