"""Small runs trained to the end through the engine's front door, for the tests that look at what they leave."""

from __future__ import annotations

from pathlib import Path

from trainer.checkpoints.hdf5 import save_checkpoint
from trainer.training.opening import open_trainer


def trained(data, path: Path | None = None, **settings):
    """A Trainer of `settings` (trainer.training.opening names) run to its last epoch; saved to `path` if given."""
    run = open_trainer(data, **settings)
    for _ in run.run():
        pass
    if path is not None:
        save_checkpoint(path, run.checkpoint())
    return run
