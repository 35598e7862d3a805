"""How classical VI optimizes each example's q (trainer.analysis.inference_gaps); torch-free, so the window can
read its defaults without loading torch."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SviSettings:
    """How classical VI optimizes each example's q."""

    max_steps: int = 500
    """Cap on Adam steps per batch of examples (the CLI's --svi-steps)."""
    samples: int = 16
    """Reparameterized samples of q per example per step: the gradient's noise falls as 1/sqrt of this."""
    lr: float = 0.02
    """Adam's first step size on (μ, log σ²); per-coordinate, so every example moves at its own pace."""
    window: int = 25
    """Steps whose mean ELBO is compared with the previous window's to judge whether it still improves."""
    tol: float = 0.005
    """Nats per example: a window that improves on the last by less than this is a stall (the step size halves)."""
    halvings: int = 3
    """Stalls after which the optimization has converged and stops."""

    def validate(self) -> None:
        if self.max_steps < 0 or self.samples < 1 or self.window < 1 or self.halvings < 0:
            raise ValueError("SVI needs max_steps >= 0, samples >= 1, window >= 1 and halvings >= 0")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"SVI needs a positive step size, got {self.lr}")


DEFAULT_SVI = SviSettings()
"""The settings eval --gaps and the window start from."""
