"""The window's sweep and guided experiment: whether a sweep trains, and how far the experiment has got.

    sweeps = SweepState()
    sweeps.sig_changed.connect(actions.on_sweeps)      # a sweep started or ended, an experiment moved on
    sweeps.sweep_started(); sweeps.sweep_ended()       # the sweep job says when (explorer.runtime.sweep_job)
    sweeps.busy                                        # Start refuses while a sweep trains: one training at a time
    sweeps.experiment_started(experiment, "runs/collapse")
    sweeps.stage_finished(rows)                        # a stage's summary rows; True while stages remain
    sweeps.experiment_ended()                          # done or stopped: the panel shows what it measured
    sweeps.experiment                                  # ExperimentProgress, or None

One owner for both, so the Start action, the sweep menu and the run comparison read the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True)
class ExperimentProgress:
    """A guided experiment in progress (trainer.experiments.Experiment): where its runs go, what its finished
    stages measured."""

    experiment: object
    folder: str
    rows: tuple[tuple, ...] = field(default=())
    """trainer.training.sweep.SummaryRow of each finished stage, in experiment.plan()'s order."""

    @property
    def stage(self) -> int:
        """The stage training now (or next): how many have finished."""
        return len(self.rows)

    @property
    def stages(self) -> int:
        return len(self.experiment.plan())


class SweepState(QObject):
    """Whether the window's sweep trains, and the guided experiment it belongs to (GUI thread)."""

    sig_changed = Signal()
    """A sweep started or ended, or the experiment started, moved to its next stage or ended."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.busy = False
        """A sweep trains in the window."""
        self.experiment: ExperimentProgress | None = None

    def sweep_started(self) -> None:
        self.busy = True
        self.sig_changed.emit()

    def sweep_ended(self) -> None:
        self.busy = False
        self.sig_changed.emit()

    def experiment_started(self, experiment, folder: str) -> None:
        self.experiment = ExperimentProgress(experiment, str(folder))
        self.sig_changed.emit()

    def stage_finished(self, rows) -> bool:
        """A stage's summary rows are in; True while the experiment has stages left to train."""
        progress = self.experiment
        self.experiment = ExperimentProgress(progress.experiment, progress.folder, (*progress.rows, tuple(rows)))
        self.sig_changed.emit()
        return self.experiment.stage < self.experiment.stages

    def experiment_ended(self) -> None:
        self.experiment = None
        self.sig_changed.emit()
