"""The RunModel's transitions, driven as the session's events arrive: no window, no thread, no training.

The open race (a checkpoint replacing a run that is still stopping, a second open queued behind the first, an
open the engine refuses) is a sequence of calls here; the window tests show the same in the real window.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from explorer.models.run_model import RunModel, continue_text
from explorer.models.run_state import RunState
from trainer.training.reports import PauseChanged


class Recorder:
    def __init__(self, run: RunModel):
        self.states: list[RunState] = []
        self.files: list[tuple[str, str]] = []
        self.replaced = 0
        run.sig_state_changed.connect(self.states.append)
        run.sig_file_changed.connect(self._on_file)
        run.sig_run_replaced.connect(self._on_replaced)

    def _on_file(self, text: str, path: str) -> None:
        self.files.append((text, path))

    def _on_replaced(self) -> None:
        self.replaced += 1


def ended(step=40, epoch=1, has_model=True, finished=False):
    return SimpleNamespace(step=step, epoch=epoch, has_model=has_model, finished=finished, epoch_progress=0.0)


def opened(path="/runs/a.h5", step=120, epoch=3):
    return SimpleNamespace(path=path, step=step, epoch=epoch)


@pytest.fixture
def run(qapp):
    return RunModel(epochs=4)


def trained(run: RunModel, steps: int = 40) -> None:
    run.start_requested()
    run.on_started(None)
    run.on_step(steps)
    run.on_ended(ended(step=steps))


def test_a_run_goes_loading_training_stopped_and_pauses_only_when_the_engine_says(run):
    log = Recorder(run)
    run.start_requested()
    assert run.state is RunState.LOADING and run.run_in_flight and run.busy
    run.on_paused(PauseChanged(0, paused=True))  # before RunStarted: nothing to pause yet
    assert run.state is RunState.LOADING
    run.on_started(None)
    assert run.state is RunState.TRAINING
    run.on_paused(PauseChanged(12, paused=True))
    assert run.state is RunState.PAUSED
    run.on_paused(PauseChanged(12, paused=False))
    assert run.state is RunState.TRAINING
    run.on_step(30)
    assert run.unsaved and run.latest_step == 30
    run.on_ended(ended(step=31))
    assert run.state is RunState.STOPPED and not run.run_in_flight and run.latest_step == 31
    assert log.states == [RunState.LOADING, RunState.TRAINING, RunState.PAUSED, RunState.TRAINING, RunState.STOPPED]


def test_a_run_that_never_built_a_model_goes_back_to_idle(run):
    run.start_requested()
    run.on_ended(ended(step=0, epoch=0, has_model=False))
    assert run.state is RunState.IDLE and not run.has_model and not run.unsaved


def test_saves_and_autosaves_decide_what_is_unsaved(run):
    log = Recorder(run)
    trained(run, 40)
    assert run.unsaved and run.unsaved_since_any_save
    run.autosaved("/tmp/untitled.autosave.h5", 40)
    assert run.unsaved and not run.unsaved_since_any_save  # an autosave is not the user's save
    assert log.files[-1] == ("Autosaved untitled.autosave.h5 at step 40", "/tmp/untitled.autosave.h5")
    run.saved("/runs/mine.h5", 40)
    assert not run.unsaved and run.current_path == "/runs/mine.h5" and run.saved_step == 40
    assert log.files[-1] == ("Saved mine.h5 at step 40", "/runs/mine.h5")
    run.autosaved("/tmp/mine.autosave.h5", 40)  # no newer than the save: the badge keeps "Saved"
    assert log.files[-1][0].startswith("Saved")
    run.cleared()
    assert run.state is RunState.IDLE and run.current_path is None and run.saved_step == 0
    assert log.files[-1] == ("", "") and log.replaced == 1


def test_an_open_replacing_a_running_run_waits_for_its_end_then_lands(run):
    run.start_requested()
    run.on_started(None)
    run.checkpoint_queued()  # the run is being stopped for the file
    assert run.state is RunState.TRAINING and not run.awaiting_checkpoint
    run.on_ended(ended(step=55))
    assert run.state is RunState.LOADING and run.awaiting_checkpoint  # no Start can slip in here
    run.on_opened(opened(step=120, epoch=3))
    assert run.state is RunState.STOPPED and not run.awaiting_checkpoint
    assert run.current_path == "/runs/a.h5" and (run.latest_step, run.saved_step) == (120, 120) and not run.unsaved
    assert run.epochs_done == 3


def test_two_queued_opens_stay_busy_until_the_last_lands(run):
    run.checkpoint_queued()
    run.checkpoint_queued()
    assert run.state is RunState.LOADING
    run.on_opened(opened("/runs/a.h5"))
    assert run.state is RunState.LOADING  # the second is still coming
    run.on_opened(opened("/runs/b.h5", step=7))
    assert run.state is RunState.STOPPED and run.current_path == "/runs/b.h5" and run.saved_step == 7


def test_a_refused_open_leaves_the_run_as_it_was(run):
    trained(run, 40)
    run.checkpoint_queued()
    assert run.state is RunState.LOADING
    run.on_open_refused("/runs/broken.h5")
    assert run.state is RunState.STOPPED and run.latest_step == 40 and run.unsaved
    fresh = RunModel()
    fresh.checkpoint_queued()
    fresh.on_open_refused("/runs/broken.h5")
    assert fresh.state is RunState.IDLE  # nothing before it: nothing after


def test_a_refused_open_behind_a_stopping_run_falls_back_to_that_run(run):
    run.start_requested()
    run.on_started(None)
    run.checkpoint_queued()
    run.on_ended(ended(step=20))
    run.on_open_refused("/runs/broken.h5")
    assert run.state is RunState.STOPPED and run.latest_step == 20


def test_a_template_opens_without_becoming_saves_target(run):
    log = Recorder(run)
    run.checkpoint_queued()
    run.on_opened(opened("/assets/demo.h5"), keep_path=False)
    assert run.state is RunState.STOPPED and run.current_path is None and log.replaced == 1


def test_continue_says_what_the_epochs_setting_will_do(run):
    texts: list[str] = []
    run.sig_continue_changed.connect(texts.append)
    trained(run)  # epoch 1 of 4
    assert run.continue_text == continue_text(1, 4) == "Continue trains on to epoch 4 (Epochs)."
    run.set_epochs(1)
    assert texts[-1] == run.continue_text and run.continue_text.startswith("All 1 epoch done")
    run.start_requested()
    assert run.continue_text == "" and texts[-1] == ""
