"""Start (Continue), Pause (Resume), Stop and Reset: the actions, what they ask the session, and when they are enabled.

    actions = RunActions(run, session, settings, sweeps, controls, banner, status, parent=window)
    # settings: the RunSettingsModel a Start trains with; sweeps: the SweepState (no Start while a sweep trains)
    actions.start_training(max_steps=200)   # what Start does; False (and a message) for invalid settings
    actions.start_action.trigger()          # the same from the toolbar, the Training menu or Space

The actions only ask: the RunModel changes state when the engine answers (RunStarted, PauseChanged, RunEnded),
and this class follows it (enabled, Start/Continue, Pause/Resume, the controls' locks, Continue's tooltip).
"""

from __future__ import annotations


import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QStyle, QWidget

from explorer.models.run_model import RunModel
from explorer.models.run_state import RunState

START_TIP = "Start training (or continue the current model)"


class RunActions(QObject):
    """The four run actions of one window; their state follows `run` (GUI thread only)."""

    def __init__(self, run: RunModel, session, settings, sweeps, controls, banner, status, parent: QWidget):
        super().__init__(parent)
        self.run, self.session, self.controls, self.banner, self.status = run, session, controls, banner, status
        self.settings, self.sweeps = settings, sweeps
        self._style = parent.style()
        icon = self._style.standardIcon
        self.start_action = QAction(icon(QStyle.SP_MediaPlay), "Start", parent)
        self.start_action.setToolTip(START_TIP)
        self.pause_action = QAction(icon(QStyle.SP_MediaPause), "Pause", parent)
        self.pause_action.setToolTip("Pause after the current step; Resume goes on from there")
        self.stop_action = QAction(icon(QStyle.SP_MediaStop), "Stop", parent)
        self.stop_action.setToolTip("Stop training; the model is kept and Start continues it")
        self.reset_action = QAction(icon(QStyle.SP_BrowserReload), "Reset", parent)
        self.reset_action.setToolTip("Discard the model and its curves, so the model settings can change")
        self.start_action.triggered.connect(self._on_start_triggered)
        self.pause_action.triggered.connect(self._on_pause_triggered)
        self.stop_action.triggered.connect(self._on_stop_triggered)
        run.sig_state_changed.connect(self._on_state_changed)
        run.sig_continue_changed.connect(self._on_continue_changed)
        self._on_state_changed(run.state)

    @property
    def all(self) -> tuple[QAction, ...]:
        """In toolbar and menu order."""
        return self.start_action, self.pause_action, self.stop_action, self.reset_action

    def start_training(self, max_steps: int | None = None) -> bool:
        """Queue a run with the panel's settings; False (and a message) if the settings are invalid."""
        if self.run.state not in (RunState.IDLE, RunState.STOPPED):
            return False
        if self.sweeps.busy:  # one training at a time: two on the same cores slow each other badly
            self.banner.show_message("A sweep is training: stop it (Training ▸ Stop sweep) before starting a run.",
                                     "warning")
            return False
        try:
            settings = self.settings.checked()  # an entry the form could not read is refused here
            settings.dataset_spec()  # checked here so a typo is a message at once, not after loading
            settings.train_config()
        except Exception as exc:
            self.banner.show_message(str(exc), "error")
            return False
        self.banner.clear()
        self.session.start(settings, max_steps)
        self.status.showMessage("Preparing…")
        self.run.start_requested()
        return True

    def _on_start_triggered(self) -> None:
        self.start_training()

    def _on_pause_triggered(self) -> None:
        # the state follows when the engine says the steps stopped (or went on): PauseChanged
        if self.run.state is RunState.TRAINING:
            self.session.pause()
        elif self.run.state is RunState.PAUSED:
            self.banner.clear()
            self.session.resume()

    def _on_stop_triggered(self) -> None:
        self.session.stop()
        self.run.stop_requested()
        self.status.showMessage("Stopping…")

    @Slot(object)
    def _on_state_changed(self, state: RunState) -> None:
        busy = state in (RunState.LOADING, RunState.TRAINING, RunState.PAUSED)
        self.start_action.setEnabled(state in (RunState.IDLE, RunState.STOPPED))
        self.start_action.setText("Continue" if state is RunState.STOPPED else "Start")
        self.pause_action.setEnabled(state in (RunState.TRAINING, RunState.PAUSED))
        paused = state is RunState.PAUSED
        self.pause_action.setText("Resume" if paused else "Pause")
        self.pause_action.setIcon(self._style.standardIcon(QStyle.SP_MediaPlay if paused else QStyle.SP_MediaPause))
        self.stop_action.setEnabled(busy and not self.run.awaiting_checkpoint)  # waiting for a file: nothing to stop
        self.reset_action.setEnabled(state is RunState.STOPPED)
        self.controls.set_lock(model=state is not RunState.IDLE, epochs=busy)

    @Slot(str)
    def _on_continue_changed(self, text: str) -> None:
        self.start_action.setToolTip(text or START_TIP)
