"""Who talks to whom in the window, and which β the rate–distortion plane's line shows.

The window and the file controller listen to the training worker's signals (the session re-exposes it), and the
controls panel says what the user is doing through its signals; the β line previews a new β target until a report
shows the trainer applied it, even while a warm-up schedule scales β.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import Qt

from explorer.panels.controls import beta_to_tick
from explorer.runtime.messages import CurveBatch
from explorer.models.run_state import RunState
from trainer.training.reports import PauseChanged
from window_log import seen

WAIT_MS = 30_000
WARMUP_STEPS = 5000
"""Far longer than these tests train: β stays a small fraction of its target throughout."""


@pytest.fixture
def window(small_window):
    return small_window(schedule="warmup", schedule_steps=WARMUP_STEPS)


def click(qtbot, window, action):
    qtbot.mouseClick(window.toolbar.widgetForAction(action), Qt.LeftButton)


def wait_state(qtbot, window, state):
    qtbot.waitUntil(lambda: window.state is state, timeout=WAIT_MS)


def slope(rd) -> float:
    x, y = rd.beta_line_points()
    return float((y[-1] - y[0]) / (x[-1] - x[0]))


def report_batch(report) -> CurveBatch:
    """A CurveBatch of one report, as the worker sends it."""
    return CurveBatch(step=np.array([float(report.step)]), recon=np.array([report.recon]),
                      kl=np.array([report.kl]), elbo=np.array([report.elbo]), beta=np.array([report.beta]),
                      beta_changes=(), latest=report)


def test_pause_and_resume_are_the_engines_word_not_the_buttons(qtbot, window):
    click(qtbot, window, window.start_action)
    qtbot.waitUntil(lambda: len(window.curves.curve("distortion")[0]) >= 2, timeout=WAIT_MS)
    assert window.state is RunState.TRAINING
    step = seen(window).report.step
    window.session.worker.sig_paused.emit(PauseChanged(step, paused=True))  # as a divergence pauses: no click
    assert window.state is RunState.PAUSED and window.pause_action.text() == "Resume"
    window.session.worker.sig_paused.emit(PauseChanged(step, paused=False))
    assert window.state is RunState.TRAINING and window.pause_action.text() == "Pause"
    click(qtbot, window, window.pause_action)  # the click asks; the state follows the trainer's PauseChanged
    wait_state(qtbot, window, RunState.PAUSED)
    paused_at = seen(window).report.step
    qtbot.wait(300)
    assert seen(window).report.step == paused_at  # no steps once PAUSED shows
    click(qtbot, window, window.stop_action)
    wait_state(qtbot, window, RunState.STOPPED)


def test_the_window_follows_the_sessions_signals_and_the_controls_previews(qtbot, window):
    click(qtbot, window, window.start_action)
    qtbot.waitUntil(lambda: len(window.curves.curve("distortion")[0]) >= 2, timeout=WAIT_MS)
    click(qtbot, window, window.stop_action)
    wait_state(qtbot, window, RunState.STOPPED)
    report = dataclasses.replace(seen(window).report, step=seen(window).report.step + 7)
    window.session.worker.sig_progress.emit(report_batch(report))  # what the worker sends
    assert window.curves.curve("distortion", smoothed=False)[0][-1] == report.step
    qtbot.waitUntil(lambda: window.status.step_label.text() == f"step {report.step:,}", timeout=WAIT_MS)

    # dragging the slider previews β on the plane through ControlsPanel.sig_beta_previewed
    with qtbot.waitSignal(window.controls.sig_beta_previewed, timeout=1000) as previewed:
        window.controls.beta_slider.setValue(beta_to_tick(8.0))
    assert previewed.args[0] == pytest.approx(8.0, rel=0.03)
    assert window.explore.rd.previewing


def test_the_beta_line_keeps_a_preview_through_a_warmup_until_the_change_applies(qtbot, window):
    rd = window.explore.rd
    click(qtbot, window, window.start_action)
    qtbot.waitUntil(lambda: len(window.curves.curve("distortion")[0]) >= 3, timeout=WAIT_MS)
    click(qtbot, window, window.pause_action)  # the trainer takes no step, so the new β stays pending
    wait_state(qtbot, window, RunState.PAUSED)
    qtbot.wait(300)  # batches already under way arrive
    qtbot.waitUntil(lambda: len(rd.beta_line_points()[0]) == 2, timeout=5000)
    last = seen(window).report
    assert last.beta_target == 1.0 and 0 < last.beta < 0.5  # warming up
    assert rd.beta == pytest.approx(last.beta)
    assert "effective" in rd.readout.text()

    window.controls.beta_spin.setValue(4.0)  # typed into the box: sent once it settles
    qtbot.waitUntil(lambda: rd.beta != pytest.approx(last.beta), timeout=5000)
    preview = rd.beta
    assert slope(rd) == pytest.approx(-preview)

    # a report made before the trainer read the new target: still β target 1, a little further into the warm-up
    later = dataclasses.replace(last, step=last.step + 1, beta=(last.step + 1) / WARMUP_STEPS)
    window.session.worker.sig_progress.emit(report_batch(later))
    factor = later.beta / later.beta_target
    assert slope(rd) != pytest.approx(-later.beta)  # not flipped back to the old effective β
    assert rd.beta == pytest.approx(4.0 * factor)  # the preview: the new target times the schedule's factor
    assert slope(rd) == pytest.approx(-rd.beta)
    assert "preview" in rd.readout.text()

    click(qtbot, window, window.pause_action)  # Resume: the next step applies β = 4
    qtbot.waitUntil(lambda: seen(window).report.beta_target == 4.0, timeout=WAIT_MS)
    click(qtbot, window, window.stop_action)
    wait_state(qtbot, window, RunState.STOPPED)
    qtbot.wait(300)
    applied = seen(window).report
    assert applied.beta_target == 4.0 and applied.beta < 4.0  # still warming up
    assert not rd.previewing and "effective" in rd.readout.text()
    assert rd.beta == pytest.approx(applied.beta)  # the effective β of the latest report
    assert slope(rd) == pytest.approx(-applied.beta)
