"""Divergence recovery: the last weights and Adam state that were all finite, to go back to when the loss is NaN/Inf.

    good = LastGoodWeights()
    good.keep(model, optimizer, step)     # after an optimizer step; ignored if any value is not finite
    step = good.restore(model, optimizer) # the step whose weights are back; ConfigError if none was ever kept
"""

from __future__ import annotations

import copy

import torch

from trainer.errors import ConfigError

SNAPSHOT_EVERY = 100  # steps between copies of the last good weights


class LastGoodWeights:
    """One copy of a model's weights and its optimizer's state, taken only when every value is finite."""

    def __init__(self):
        self._copy: dict | None = None
        self.step = 0
        """The step the kept copy was taken at."""

    def due(self, step: int) -> bool:
        return step - self.step >= SNAPSHOT_EVERY

    def keep(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int) -> None:
        """Copy the weights and Adam state of `step`, if every value is finite.

        It runs right after an optimizer step whose result no loss has seen yet: a step can turn finite
        weights into Inf/NaN, and such a copy would make the restore restore the divergence.
        """
        tensors = [*model.state_dict().values()]
        tensors += [t for s in optimizer.state.values() for t in s.values()
                    if torch.is_tensor(t) and t.is_floating_point()]
        if not torch.stack([torch.isfinite(t).all() for t in tensors]).all().item():
            return
        self._copy = {
            "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "optim": copy.deepcopy(optimizer.state_dict()),
        }
        self.step = step

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
        """Put the kept copy back into `model` and `optimizer`; the step it was taken at."""
        if self._copy is None:
            raise ConfigError("the loss is NaN/Inf and there are no finite weights to go back to")
        model.load_state_dict(self._copy["model"])
        optimizer.load_state_dict(self._copy["optim"])
        return self.step
