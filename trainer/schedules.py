"""β schedules: how the β in effect at a step follows the target β that the live control sets.

    BetaSchedule.parse("warmup:2000").factor(500)   # 0.25: β is a quarter of its target at step 500
"""

from __future__ import annotations

from dataclasses import dataclass

from trainer.errors import ConfigError
from trainer.rules import MAX_STEPS


@dataclass(frozen=True)
class BetaSchedule:
    """beta(step) = beta_target * factor(step); the target is what the live control changes."""

    kind: str = "constant"
    steps: int = 0
    """warmup: steps to reach the target; cyclical: the period in steps."""

    @staticmethod
    def parse(text: str) -> "BetaSchedule":
        kind, _, arg = str(text).partition(":")
        if kind == "constant" and not arg:
            return BetaSchedule("constant", 0)
        if kind in ("warmup", "cyclical"):
            try:
                steps = int(arg)
            except ValueError:
                steps = 0
            if not 1 <= steps <= MAX_STEPS:
                raise ConfigError(f"beta schedule {text!r}: {kind} needs a step count in 1..{MAX_STEPS}, "
                                  f"e.g. {kind}:1000")
            return BetaSchedule(kind, steps)
        raise ConfigError(f"beta schedule {text!r}: expected constant, warmup:STEPS or cyclical:PERIOD")

    def __str__(self) -> str:
        return "constant" if self.kind == "constant" else f"{self.kind}:{self.steps}"

    def factor(self, step: int) -> float:
        """Multiplier in [0, 1] on the target beta at a 0-based optimizer step."""
        if self.kind == "warmup":
            return min(1.0, step / self.steps)
        if self.kind == "cyclical":
            # Fu et al. 2019: ramp linearly over the first half of each cycle, then hold at 1.
            phase = (step % self.steps) / self.steps
            return min(1.0, 2.0 * phase)
        return 1.0
