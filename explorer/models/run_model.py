"""The run the window shows: its state, its file and which of its steps are saved, in one place.

    run = RunModel(epochs=8)
    run.sig_state_changed.connect(actions.on_state)     # RunState: what the user can do next
    run.start_requested()                               # Start was queued: LOADING until the engine starts
    session.worker.sig_paused.connect(run.on_paused)    # fed by the engine's events, never by a button
    run.unsaved, run.saved_step, run.current_path       # what the File menu and the close dialog ask

Every transition is a method fed by one of the training session's events (RunStarted, PauseChanged, RunEnded,
OpenedCheckpoint, a refused open) or by the File menu's results (a save, an autosave landed), so the open race
(a Start slipping in between a stopping run and the checkpoint that replaces it) is a sequence of calls a unit
test can drive without a window. No widgets here; the window's actions and badges subscribe.
"""

from __future__ import annotations

from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal, Slot

from explorer.models.run_state import RunState

BUSY = (RunState.LOADING, RunState.TRAINING, RunState.PAUSED)


def epochs_text(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def continue_text(epochs_done: int, epochs: int) -> str:
    """What Continue does (the worker's rule, TrainWorker.train): train on to the Epochs total, or add it."""
    if epochs > epochs_done:
        return f"Continue trains on to epoch {epochs} (Epochs)."
    return (f"All {epochs_text(epochs_done)} done; Continue trains {epochs_text(epochs)} more (the Epochs value),"
            " or set Epochs to a higher total first.")


class RunModel(QObject):
    """The one owner of the run state, the current file and its latest, saved and autosaved steps (GUI thread)."""

    sig_state_changed = Signal(object)
    """RunState: the run state changed."""
    sig_continue_changed = Signal(str)
    """What Continue would do now; "" while the run is not stopped."""
    sig_run_replaced = Signal()
    """Another run is the window's now (a checkpoint opened, or no model at all): a new file, new autosaves."""
    sig_file_changed = Signal(str, str)
    """(text, path) for the badge: "Saved run.h5 at step 1,200", or ("", "") once there is no file."""

    def __init__(self, epochs: int = 1, parent: QObject | None = None):
        super().__init__(parent)
        self.state = RunState.IDLE
        self.run_in_flight = False
        """A Start was queued and its RunEnded has not arrived yet (loading, training or paused)."""
        self._opens_pending = 0  # read checkpoints queued to replace the run, neither opened nor refused yet
        self._model_before_open = False  # what the run falls back to if the queued checkpoints are refused
        self._epochs = int(epochs)  # the Epochs setting: what Continue trains to
        self.epochs_done = 0
        """Of the stopped model, as its last RunEnded or OpenedCheckpoint said."""
        self.current_path: str | None = None
        """The checkpoint this run was opened from or last saved to; Save writes there."""
        self.latest_step = 0
        """The newest step the engine reported for this run."""
        self.saved_step = 0
        """Step of the last save or open: later steps are unsaved."""
        self.autosaved_step = 0
        self.template = False
        """The run is a template opened for a look (the demo model), not the user's own: Reset sets up theirs."""
        self.stopping = False
        """Stop was asked for and the engine has not ended the run yet."""

    # --- what the window asks ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.state in BUSY

    @property
    def has_model(self) -> bool:
        return self.state is not RunState.IDLE

    @property
    def unsaved(self) -> bool:
        """Steps trained since the last save or open (autosaves do not count: the user did not choose them)."""
        return self.has_model and self.latest_step > self.saved_step

    @property
    def unsaved_since_any_save(self) -> bool:
        """Steps that neither a save nor an autosave holds: what an autosave on stop or close would write."""
        return self.has_model and self.latest_step > max(self.saved_step, self.autosaved_step)

    @property
    def awaiting_checkpoint(self) -> bool:
        """No run in progress: busy only waiting for queued checkpoints to land."""
        return self._opens_pending > 0 and not self.run_in_flight

    @property
    def continue_text(self) -> str:
        return continue_text(self.epochs_done, self._epochs) if self.state is RunState.STOPPED else ""

    # --- transitions: the session's events ----------------------------------------------------------------
    def start_requested(self) -> None:
        """A Start was queued to the engine."""
        self.run_in_flight = True
        self._set_state(RunState.LOADING)

    @Slot(object)
    def on_started(self, _info) -> None:
        """RunStarted: the data is loaded and the model built; steps follow."""
        if self.state is RunState.LOADING:
            self._set_state(RunState.TRAINING)

    @Slot(object)
    def on_paused(self, event) -> None:
        """trainer.training.reports.PauseChanged: the steps stopped (Pause, a divergence) or went on."""
        if self.state in (RunState.TRAINING, RunState.PAUSED):
            self._set_state(RunState.PAUSED if event.paused else RunState.TRAINING)

    def stop_requested(self) -> None:
        """Stop was pressed: the run ends at the engine's next step (RunEnded)."""
        if self.run_in_flight:
            self.stopping = True

    def on_step(self, step: int) -> None:
        self.latest_step = int(step)

    @Slot(object)
    def on_ended(self, info) -> None:
        """RunEnded: the engine is idle; a model is kept unless none was ever built."""
        self.run_in_flight = False
        self.stopping = False
        self.epochs_done = int(info.epoch)
        if info.has_model:
            self.latest_step = max(self.latest_step, int(info.step))
        if self._opens_pending:  # the run made way for an opened checkpoint, which comes next
            self._model_before_open = bool(info.has_model)
            self._set_state(RunState.LOADING)
        else:
            self._set_state(RunState.STOPPED if info.has_model else RunState.IDLE)

    def checkpoint_queued(self) -> None:
        """A read checkpoint is queued to replace the run: until it lands (on_opened) or is refused
        (on_open_refused) the run stays busy, so no Start or Reset slips in between the old run's end and the
        opened one (a Start there would train the opened model with the old run's settings). A run being
        stopped for it turns to LOADING when it ends."""
        if self._opens_pending == 0:
            self._model_before_open = self.state is not RunState.IDLE  # a run in flight: its RunEnded says
        self._opens_pending += 1
        if not self.run_in_flight:
            self._set_state(RunState.LOADING)

    @Slot(str)
    def on_open_refused(self, _path: str = "") -> None:
        """The engine could not adopt a queued checkpoint: the run is as it was."""
        self._opens_pending = max(0, self._opens_pending - 1)
        if self._opens_pending or self.run_in_flight or self.state is not RunState.LOADING:
            return
        self._set_state(RunState.STOPPED if self._model_before_open else RunState.IDLE)

    def on_opened(self, opened, keep_path: bool = True) -> None:
        """OpenedCheckpoint: it is the run now, saved at its step. keep_path=False: a template (the demo model),
        which Save does not write over."""
        self._opens_pending = max(0, self._opens_pending - 1)
        self._model_before_open = True
        self.current_path = opened.path if keep_path else None
        self.template = not keep_path
        self.latest_step = self.saved_step = self.autosaved_step = int(opened.step)
        self.epochs_done = int(opened.epoch)
        self.sig_run_replaced.emit()
        self.sig_file_changed.emit(f"Opened {Path(opened.path).name} at step {int(opened.step):,}", opened.path)
        # another checkpoint still queued behind this one: stay busy until the last lands
        self._set_state(RunState.LOADING if self._opens_pending else RunState.STOPPED)

    def cleared(self) -> None:
        """The model was discarded (Reset, a dataset it cannot fit): no model, no file."""
        self._set_state(RunState.IDLE)

    # --- transitions: the File menu's results -------------------------------------------------------------
    def saved(self, path: str, step: int) -> None:
        """A save the user asked for was written: Save writes there from now on."""
        self.saved_step = max(self.saved_step, int(step))
        self.current_path = path
        self.sig_file_changed.emit(f"Saved {Path(path).name} at step {int(step):,}", path)

    def autosaved(self, path: str, step: int) -> None:
        self.autosaved_step = max(self.autosaved_step, int(step))
        if self.saved_step < step:
            self.sig_file_changed.emit(f"Autosaved {Path(path).name} at step {int(step):,}", path)

    # --- the Epochs setting --------------------------------------------------------------------------------
    @property
    def epochs(self) -> int:
        """The Epochs setting as Continue reads it."""
        return self._epochs

    @Slot(int)
    def set_epochs(self, epochs: int) -> None:
        """The Epochs value changed: what Continue does changes with it."""
        self._epochs = int(epochs)
        if self.state is RunState.STOPPED:
            self.sig_continue_changed.emit(self.continue_text)

    def _set_state(self, state: RunState) -> None:
        self.state = state
        if state is RunState.IDLE:  # no model: a new run starts from nothing and has no file yet
            self.latest_step = self.saved_step = self.autosaved_step = 0
            self.current_path = None
            self.template = False
            self.sig_run_replaced.emit()
            self.sig_file_changed.emit("", "")
        self.sig_state_changed.emit(state)
        self.sig_continue_changed.emit(self.continue_text)
