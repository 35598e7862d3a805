"""How annealed importance sampling estimates log p(x) (trainer.analysis.ais); torch-free, so the window can read
its defaults without loading torch. Every field carries its rule (trainer.rules), as the configs' fields do."""

from __future__ import annotations

from dataclasses import dataclass

from trainer.config import Checked, EvalOptions, setting
from trainer.errors import ConfigError
from trainer.rules import number


@dataclass(frozen=True)
class AisSettings(Checked):
    """The annealing path, its HMC transitions and how many independent runs of it each example gets."""

    steps: int = setting(EvalOptions.ais_steps, EvalOptions.rule("ais_steps"))
    """Annealing steps T: the path p_0 -> p(z)p(x|z) is cut into T pieces (T - 1 intermediate distributions, each
    with one HMC transition). AIS's shortfall below log p(x) shrinks roughly as 1/T; T = 1 is plain importance
    sampling (IWAE with `chains` samples)."""
    chains: int = setting(EvalOptions.ais_chains, EvalOptions.rule("ais_chains"))
    """Independent AIS runs per example; the estimate is the log of their weights' mean, and their spread gives
    its standard error (so at least 2)."""
    leapfrog: int = setting(EvalOptions.ais_leapfrog, EvalOptions.rule("ais_leapfrog"))
    """Leapfrog steps per HMC transition: each costs one decoder pass forward and back for every chain."""
    step_size: float = setting(0.1, number(0.0, 10.0, low_open=True))
    """The leapfrog step size every example starts with, in prior units; then adapted per example."""
    target_acceptance: float = setting(0.65, number(0.0, 0.99, low_open=True))
    """The HMC acceptance rate the step size is steered toward (Neal 2011's optimum for L > 1 is about 0.65)."""

    def validate(self) -> None:
        self.check_fields()
        if self.steps * self.leapfrog * self.chains > 10**9:
            raise ConfigError(f"AIS of {self.steps:,} steps x {self.leapfrog:,} leapfrog x {self.chains:,} chains "
                              f"costs over 10^9 decoder passes per example; lower one of them")

    @property
    def passes(self) -> int:
        """Decoder passes (forward and back) per example: what one AIS estimate costs."""
        return ((self.steps - 1) * self.leapfrog + 1) * self.chains


DEFAULT_AIS = AisSettings()
"""eval --ais and the BDMC sandwich: a path from the prior, as Wu et al. (2017) evaluate decoders."""

GAPS_AIS = AisSettings(steps=200)
"""eval --gaps: a shorter path, from q* (already close to p(z|x)), about the cost of the classical VI itself."""
