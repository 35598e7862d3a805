"""Which run the latent panels show: the one owner of its key, name, dataset, step and (for a checkpoint) history.

    explored = ExploredRun()
    explored.sig_changed.connect(view.on_explored)      # Explored: another run, or a new name
    explored.sig_step_changed.connect(badge.on_step)    # the same run, a newer model (views that show the step)
    explored.explore(LIVE, "live · mnist")              # the window's own run (the run comparison selects it)
    explored.explore(path, "beta-4_seed-0", data="mnist", history=record.history)   # a checkpoint's run
    explored.rename(LIVE, "run")                        # saved as run.h5: the live run is called by it now
    explored.at_step(1200)                              # the panels' model is that run at step 1,200
    explored.forget_model()                             # the panels were cleared: no step shown
    explored.value.live, explored.value.label()         # "beta-4_seed-0 · step 1,200"
    explored.set_timeline(timeline)                     # its snapshots (trainer.analysis.moments.RunTimeline)
    explored.seek(300)                                  # the panels go back to the snapshot nearest step 300
    explored.pin(300)                                   # moment A, to compare the moment shown with
    explored.follow()                                   # back to the run's newest model

The run comparison (explorer.window.run_comparison) decides which run is explored (the Runs panel's selection);
the latent panels report the step of the model they were handed. Every view that names the run it shows (the
Information panel, the Traversals header, the scatter's caption, the status bar's badge) reads it from here, so
none of them can name another run than the one the others show.

Its moment is the time travel of issue 38: `moment` is the step of the snapshot every view is held at (None: they
follow the run's newest model), `pinned` is moment A. sig_moment_changed tells the views; what the moment's model
shows is computed off the GUI thread (explorer.runtime.moments) and handed to the panels like any other model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal

LIVE = "live"
"""The key of the run the window trains (or last trained)."""
LIVE_FALLBACK = "the live run"
"""What the live run is called before the run comparison has named it (no run yet)."""


@dataclass(frozen=True)
class Explored:
    """The explored run, as every view names it."""

    key: str = LIVE
    """LIVE (the window's own run) or a checkpoint's absolute path."""
    name: str = ""
    data: str = ""
    """What it trained on, short (explorer.models.run_catalog.data_label); "" when not known."""
    step: int | None = None
    """The step of the model the latent panels show; None until its first snapshot arrived."""
    history: dict = field(default_factory=dict, repr=False, compare=False)
    """A checkpoint's history arrays (its evaluations); empty for the live run, whose epochs arrive as reports."""
    timeline: object | None = field(default=None, repr=False, compare=False)
    """The run's snapshots as far as the window knows them (trainer.analysis.moments.RunTimeline); None before."""
    moment: int | None = None
    """The step of the snapshot the views are held at; None: they follow the run's newest model."""
    pinned: int | None = None
    """Moment A: the step of a snapshot pinned to compare with what the views show; None: none pinned."""

    @property
    def steps(self) -> tuple[int, ...]:
        """The steps of the run's snapshots, oldest first (none before its timeline arrived)."""
        return tuple(self.timeline.steps) if self.timeline is not None else ()

    @property
    def live(self) -> bool:
        return self.key == LIVE

    @property
    def title(self) -> str:
        return self.name or (LIVE_FALLBACK if self.live else "")

    def label(self) -> str:
        """"beta-4_seed-0 · step 1,200", or the name alone before a step is known."""
        return self.title if self.step is None else f"{self.title} · step {self.step:,}"


class ExploredRun(QObject):
    """The explored run (GUI thread): set by the run comparison and the latent panels, read by the views."""

    sig_changed = Signal(object)
    """Explored: another run is explored, or the explored run got a new name."""
    sig_step_changed = Signal(object)
    """Explored: the panels were handed a newer model of the same run (its step), or none (None): several times a
    minute while training, so only the views that show the step subscribe."""
    sig_timeline_changed = Signal(object)
    """Explored: the run kept (or dropped) a snapshot, or its timeline arrived."""
    sig_moment_changed = Signal(object)
    """Explored: the views are held at another moment (or follow the newest model again), or moment A changed."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.value = Explored()

    @property
    def live(self) -> bool:
        return self.value.live

    def explore(self, key: str, name: str, data: str = "", history: dict | None = None) -> None:
        """`key`'s run is the one the panels show from now on; its step is unknown until its model arrives."""
        self._set(Explored(key=key, name=name, data=data, history=dict(history or {})))

    def rename(self, key: str, name: str, data: str | None = None) -> None:
        """The run `key` is called `name` now (the live run saved under a file name, or a new live run)."""
        if key == self.value.key:
            self._set(dataclasses.replace(self.value, name=name, data=self.value.data if data is None else data))

    def at_step(self, step: int) -> None:
        """The latent panels were handed the explored run's model at `step`."""
        self._set(dataclasses.replace(self.value, step=int(step)))

    def forget_model(self) -> None:
        """The panels were cleared: no step of the run is shown until its next model arrives."""
        self._set(dataclasses.replace(self.value, step=None))

    def set_timeline(self, timeline) -> None:
        """The explored run's snapshots (a RunTimeline): a moment no longer among them moves to the nearest."""
        moment, pinned = self.value.moment, self.value.pinned
        steps = tuple(timeline.steps)
        nearest = (lambda s: None if s is None or not steps else steps[timeline.nearest(s)])  # noqa: E731
        self._set(dataclasses.replace(self.value, timeline=timeline, moment=nearest(moment), pinned=nearest(pinned)))

    def seek(self, step: int) -> None:
        """Hold every view at the snapshot nearest `step` (nothing happens before the run has any)."""
        timeline = self.value.timeline
        if timeline is not None and len(timeline):
            self._set(dataclasses.replace(self.value, moment=int(timeline.steps[timeline.nearest(step)])))

    def follow(self) -> None:
        """The views follow the run's newest model again."""
        self._set(dataclasses.replace(self.value, moment=None))

    def pin(self, step: int | None) -> None:
        """Make the snapshot nearest `step` moment A (None: unpin)."""
        timeline = self.value.timeline
        if step is None or timeline is None or not len(timeline):
            self._set(dataclasses.replace(self.value, pinned=None))
        else:
            self._set(dataclasses.replace(self.value, pinned=int(timeline.steps[timeline.nearest(step)])))

    def _set(self, value: Explored) -> None:
        old, self.value = self.value, value
        moving = dict(step=None, moment=None, pinned=None)
        same_run = dataclasses.replace(value, **moving) == dataclasses.replace(old, **moving)
        if not same_run or value.history is not old.history:
            self.sig_changed.emit(value)
            return
        if value.step != old.step:
            self.sig_step_changed.emit(value)
        if value.timeline is not old.timeline:
            self.sig_timeline_changed.emit(value)
        if (value.moment, value.pinned) != (old.moment, old.pinned):
            self.sig_moment_changed.emit(value)
