"""The runs the window compares: the live run, opened checkpoints and the runs of opened sweep folders.

    catalog = RunCatalog()
    catalog.put(RunRecord(key=path, name="beta-1_seed-0", beta=1.0, ...))   # add, or replace by key
    catalog.update(key, status="done", rate=12.3)                        # change some fields
    catalog.set_visible(key, False); catalog.select(key)
    catalog.sig_changed.connect(view.on_run_changed)                     # every view subscribes

One owner for what is known about each run (napari's model/view split): the Runs panel lists the records,
the curves overlay the visible runs' histories, the rate–distortion plane draws their trajectories, end
points and frontier, and the explored run is the catalog's selection. Views never keep copies of their own.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal

from explorer.models.explored_run import LIVE, ExploredRun

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
"""Matplotlib's tab10: distinct hues in the order a reader expects; the live run keeps the first."""


@dataclass
class RunRecord:
    """One run: where it is, its settings, how far it got, and what it measured (nats per example)."""

    key: str
    """LIVE, or the checkpoint's absolute path."""
    name: str
    beta: float = math.nan
    seed: int = 0
    status: str = ""
    """training | paused | stopped | done | unfinished | failed | opened"""
    progress: float = 0.0
    """Share of its epochs done, 0..1."""
    epoch: int = 0
    epochs: int = 0
    rate: float = math.nan
    distortion: float = math.nan
    elbo: float = math.nan
    information: float = math.nan
    """I(X; Z) of the held-out posteriors at the last epoch (trainer.analysis.rate_split), when it was measured."""
    """Held-out, after the last epoch (or the last training report before the first epoch ended)."""
    data: str = ""
    """What it trained on, short (data_label): runs on different data are not comparable, and the Runs panel says so."""
    history: dict = field(default_factory=dict, repr=False)
    """trainer.history arrays ("steps/step", "steps/recon", "steps/kl", "steps/beta", "epochs/..."): its curves."""
    colour: str = ""
    visible: bool = True
    message: str = ""
    """Why it failed, or anything else worth a tooltip."""

    @property
    def path(self) -> str | None:
        return None if self.key == LIVE else self.key


def data_label(spec) -> str:
    """A DatasetSpec in a few words: "sprites 28 px", "mnist", a file's or folder's name."""
    if spec is None:
        return ""
    if spec.name == "sprites":
        return f"sprites {spec.image_size} px" + (f" ×{spec.n:,}" if spec.n != 20000 else "")
    if spec.name == "path":
        from pathlib import Path

        return Path(spec.path.rstrip("/")).name + (f"[{spec.key}]" if spec.key else "")
    return spec.name + (f" ({spec.limit:,})" if getattr(spec, "limit", 0) else "")


class RunCatalog(QObject):
    """The runs, in the order they arrived, with one selected (the run the latent panels explore)."""

    sig_changed = Signal(str)
    """A run was added or its record changed: its key."""
    sig_removed = Signal(str)
    sig_selected = Signal(str)
    """The explored run changed: its key (LIVE for the window's own)."""

    def __init__(self, explored: ExploredRun | None = None, parent: QObject | None = None):
        """explored: the explorer.models.ExploredRun that owns which run is selected (made here if not given);
        the catalog keeps its name and dataset in step with the run's record."""
        super().__init__(parent)
        self.explored = explored if explored is not None else ExploredRun(self)
        self._runs: dict[str, RunRecord] = {}
        self._next_colour = 1  # 0 is the live run's

    def put(self, record: RunRecord) -> None:
        """Add a run, or replace the one with its key (keeping its colour and visibility)."""
        old = self._runs.get(record.key)
        if old is not None:
            record = dataclasses.replace(record, colour=old.colour, visible=old.visible)
        elif not record.colour:
            if record.key == LIVE:
                colour = PALETTE[0]
            else:
                colour = PALETTE[self._next_colour % len(PALETTE)]
                self._next_colour += 1
            record = dataclasses.replace(record, colour=colour)
        self._runs[record.key] = record
        self._name_explored(record.key)
        self.sig_changed.emit(record.key)

    def update(self, key: str, **fields) -> None:
        record = self._runs.get(key)
        if record is None:
            return
        self._runs[key] = dataclasses.replace(record, **fields)
        self._name_explored(key)
        self.sig_changed.emit(key)

    def remove(self, key: str) -> None:
        if self._runs.pop(key, None) is not None:
            if self.selected == key:
                self.select(LIVE)
            self._name_explored(key)
            self.sig_removed.emit(key)

    def set_visible(self, key: str, visible: bool) -> None:
        if key in self._runs and self._runs[key].visible != visible:
            self.update(key, visible=bool(visible))

    def select(self, key: str) -> None:
        if key != self.selected and (key == LIVE or key in self._runs):
            record = self._runs.get(key)
            self.explored.explore(key, record.name if record else "", record.data if record else "",
                                  record.history if record else None)
            self.sig_selected.emit(key)

    def _name_explored(self, key: str) -> None:
        record = self._runs.get(key)
        self.explored.rename(key, record.name if record else "", record.data if record else "")

    # --- reading ---------------------------------------------------------------------------------
    def get(self, key: str) -> RunRecord | None:
        return self._runs.get(key)

    def records(self) -> list[RunRecord]:
        return list(self._runs.values())

    def compared(self) -> list[RunRecord]:
        """The visible runs other than the live one (which the panels draw from its own live data)."""
        return [r for r in self._runs.values() if r.visible and r.key != LIVE]

    @property
    def selected(self) -> str:
        """The explored run's key (LIVE for the window's own): explorer.models.ExploredRun owns it."""
        return self.explored.value.key

    def end_points(self, visible_only: bool = True) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(keys, rates, distortions) of the runs with a measured end point."""
        runs = [r for r in self._runs.values() if (r.visible or not visible_only)
                and math.isfinite(r.rate) and math.isfinite(r.distortion)]
        return [r.key for r in runs], np.array([r.rate for r in runs]), np.array([r.distortion for r in runs])
