"""β while training: what the user asked for and what the trainer applies, in one place.

    beta = LiveBeta()
    beta.sig_requested.connect(session.set_beta)     # a settled target goes to the trainer
    beta.sig_changed.connect(rd_panel.show_beta)     # the plane's β line draws BetaState.shown
    beta.preview(8.0)      # the slider is being dragged: shown at once, sent to nobody
    beta.request(8.0)      # it settled (or the box was typed in): shown, and sent
    beta.on_report(0.4, 8.0)   # a training report: the β the objective used, and the trainer's target

Before, four objects held β: the Controls' box, the worker, the trainer and the rate–distortion panel's
preview, which kept its own copy of the pending target and the schedule's factor. The trainer's is the engine's
(it applies β at its next step); everything the window shows of β is this model's state. A requested target
stays pending until a report's target equals it: until then the plane shows it times the schedule's latest
factor (a warm-up's β is the target times the ramp), and says it is a preview.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True)
class BetaState:
    applied: float | None = None
    """The β the objective used at the latest report: its target times the schedule's factor."""
    target: float | None = None
    """The trainer's β target at the latest report."""
    requested: float | None = None
    """A target the user set that no report has shown applied yet (None: nothing pending)."""
    factor: float = 1.0
    """The schedule's factor at the latest report (applied / target)."""

    @property
    def previewing(self) -> bool:
        return self.requested is not None

    @property
    def shown(self) -> float | None:
        """The β to draw: a pending request times the schedule's factor, else the applied one."""
        return self.requested * self.factor if self.requested is not None else self.applied


class LiveBeta(QObject):
    """The one owner of the window's β (GUI thread)."""

    sig_changed = Signal(object)
    """The BetaState now."""
    sig_requested = Signal(float)
    """A settled β target for the trainer (it applies it at its next step)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.state = BetaState()

    def preview(self, target: float) -> None:
        """The slider is being dragged: the β it will give is shown, nothing is sent."""
        self._set(replace(self.state, requested=float(target)))

    def request(self, target: float) -> None:
        """A settled target: shown until a report says the trainer applied it, and sent to the trainer."""
        self._set(replace(self.state, requested=float(target)))
        self.sig_requested.emit(float(target))

    def on_report(self, applied: float, target: float | None) -> None:
        """A training report's effective β and target: a pending request is done once the target is it."""
        applied = float(applied)
        factor = applied / float(target) if target is not None and float(target) > 0 else self.state.factor
        requested = self.state.requested
        if requested is not None and target is not None and math.isclose(float(target), requested, rel_tol=1e-9):
            requested = None  # the trainer took the requested target on
        self._set(BetaState(applied=applied, target=None if target is None else float(target),
                            requested=requested, factor=factor))

    def reset(self, applied: float | None = None) -> None:
        """Another model (an opened checkpoint, Reset): its last β, nothing pending."""
        self._set(BetaState(applied=applied, target=applied))

    def _set(self, state: BetaState) -> None:
        if state != self.state:
            self.state = state
            self.sig_changed.emit(state)
