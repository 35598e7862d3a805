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

The run comparison (explorer.window.run_comparison) decides which run is explored (the Runs panel's selection);
the latent panels report the step of the model they were handed. Every view that names the run it shows (the
Information panel, the Traversals header, the scatter's caption, the status bar's badge) reads it from here, so
none of them can name another run than the one the others show.
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

    def _set(self, value: Explored) -> None:
        old, self.value = self.value, value
        same_run = dataclasses.replace(value, step=None) == dataclasses.replace(old, step=None)
        if not same_run or value.history is not old.history:
            self.sig_changed.emit(value)
        elif value.step != old.step:
            self.sig_step_changed.emit(value)
