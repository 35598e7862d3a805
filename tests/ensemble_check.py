"""Train configs one by one and as one Ensemble, and return both sets of trainers, to compare their histories."""

from __future__ import annotations

from trainer.training.ensemble import Ensemble
from trainer.training.loop import Trainer


def alone_and_together(model_config, configs, data) -> tuple[list[Trainer], list[Trainer]]:
    alone = []
    for config in configs:
        trainer = Trainer(model_config, config, data)
        list(trainer.run())
        alone.append(trainer)
    together = [Trainer(model_config, config, data) for config in configs]
    list(Ensemble(together).run())
    return alone, together
