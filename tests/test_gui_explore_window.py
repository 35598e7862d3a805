"""The latent-space panels inside the real main window: fed by the training worker, not by hand.

The window trains small sprites (600 images of 28x28, a 64-unit MLP) for a fixed number of steps; every test
waits for the training thread to go idle before it looks, and the fixture joins the thread. The panels'
own behaviour is tested standalone in test_gui_latent_panels.py; here it is the wiring: worker -> panels,
panel -> panel, controls -> panels, and the demo checkpoint that opens at startup.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from explorer.window.first_paint import DEMO_CHECKPOINT, demo_checkpoint
from explorer.window.first_paint import DemoOpener
from explorer.window.main_window import MainWindow
from explorer.models.run_state import RunState
from explorer.panels.controls import beta_to_tick
from explorer.panels.decoder_row import TICKS_PER_SIGMA
from trainer.checkpoints.hdf5 import read_info
from trainer.analysis.geometry import traversal_grid

WAIT_MS = 60_000
STEPS = 120


@pytest.fixture
def window(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    small = win.run_settings.value.replace(sprites_n=600, sprites_size=28, batch_size=32, latent_dim=4, hidden=(64,),
                                            lr=3e-3, epochs=1000)
    win.run_settings.set(small)
    win.resize(1440, 900)
    win.show()
    yield win
    win.close()
    assert not win.session.running, "the training thread must be joined when the window closes"


def train(qtbot, window, steps: int = STEPS) -> None:
    """Train `steps` steps and wait until the worker is idle again (its final publish has landed)."""
    assert window.start_training(max_steps=steps)
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED and not window.explore.pending, timeout=WAIT_MS)


def isolated_point(xy: np.ndarray) -> int:
    d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    return int(np.argmax(d2.min(1)))


def test_training_fills_the_panels_and_a_slider_decodes(qtbot, window):
    explore = window.explore
    train(qtbot, window)
    trainer = window.session.worker.trainer
    # the final publish encodes the held-out set with the final weights
    assert explore.decoder is not None and explore.decoder.step == trainer.step == STEPS
    assert explore.latents is not None and explore.latents.step == STEPS
    assert len(explore.scatter.coordinates()) == len(trainer.dataset.x_test)
    assert explore.samples.step is not None and explore.samples.samples_view.images() is not None
    assert not explore.kl.collapsed and explore.kl.state.n_active >= 1
    # a slider of the most informative dimension: the decoded image changes, from the snapshot's weights
    sliders = explore.sliders
    # before any click the sliders show the first held-out example (its μ when first encoded), not the origin
    assert explore.scatter.selected("a") == 0 and sliders.cursor.z.any()
    dim = int(np.argmax(explore.latents.kl_per_dim))
    before = sliders.image().copy()
    target = -2.5 if sliders.cursor.z[dim] > 0 else 2.5  # far from where it is
    sliders.slider(dim).setValue(int(target * TICKS_PER_SIGMA))
    after = sliders.image()
    assert np.abs(after - before).max() > 0.05
    z = sliders.cursor.z
    assert z[dim] == pytest.approx(target)
    np.testing.assert_allclose(after, explore.decoder.decode(z[None])[0], atol=1e-5)
    # ... and the scatter's marker and the traversal's centre follow the sliders
    np.testing.assert_allclose(explore.traversal.traversal_center(), z)


def test_clicking_a_scatter_point_moves_the_sliders_to_its_mu(qtbot, window):
    explore = window.explore
    train(qtbot, window)
    scatter = explore.scatter
    scatter.set_view("dims", (0, 1))
    qtbot.waitExposed(scatter.plot)
    index = isolated_point(scatter.coordinates())
    mu = explore.latents.mu[index]
    qtbot.mouseClick(scatter.plot.viewport(), Qt.LeftButton, pos=scatter.viewport_pos(index).toPoint())
    assert scatter.selected("a") == index
    np.testing.assert_allclose(explore.cursor.z, mu, atol=1e-6)
    ticks = np.round(np.clip(mu, -3, 3) * TICKS_PER_SIGMA).astype(int).tolist()
    assert [explore.sliders.slider(d).value() for d in range(4)] == ticks
    np.testing.assert_allclose(explore.sliders.image(), explore.decoder.decode(mu[None])[0], atol=1e-5)
    assert scatter.marker_position() == pytest.approx((mu[0], mu[1]), abs=1e-5)


def test_traversal_and_interpolation_grids_have_the_right_shape_and_content(qtbot, window):
    explore = window.explore
    train(qtbot, window)
    traversal = explore.traversal
    a, b = 0, 1 + int(np.argmax(((explore.latents.mu[1:] - explore.latents.mu[0]) ** 2).sum(1)))
    explore.scatter.select(a)
    explore.scatter.select(b, second=True)
    traversal.cols_spin.setValue(7)
    traversal.steps_spin.setValue(6)
    traversal.refresh_now()
    grid = traversal.traversal_view.images()
    dims = traversal.traversal_dims()
    assert grid.shape == (4, 7, 1, 28, 28)  # every dimension (4 < 6 rows), 7 values from −3σ to +3σ
    assert dims == [int(d) for d in np.argsort(-explore.latents.kl_per_dim, kind="stable")]  # highest KL first
    center = explore.latents.mu[a]  # the clicked point is the traversal's centre
    np.testing.assert_allclose(traversal.traversal_center(), center)
    np.testing.assert_allclose(grid, traversal_grid(explore.decoder, center, dims, traversal.traversal_values()),
                               atol=1e-5)
    strip = traversal.interp_view.images()
    assert strip.shape == (1, 6, 1, 28, 28)  # one row of 6 steps from A to B
    strip = strip[0]
    np.testing.assert_allclose(strip[0], explore.decoder.decode(explore.latents.mu[a][None])[0], atol=1e-5)
    np.testing.assert_allclose(strip[-1], explore.decoder.decode(explore.latents.mu[b][None])[0], atol=1e-5)


def test_the_kl_strip_flags_a_collapsed_model_in_the_window(qtbot, window):
    window.run_settings.set(window.run_settings.value.replace(beta=50.0))
    train(qtbot, window, steps=150)
    kl = window.explore.kl
    qtbot.waitUntil(lambda: kl.collapsed, timeout=5000)
    assert "Posterior collapse" in kl.warning_text()
    # the strip starts behind the Traversals tab: on a collapse it comes to the front, its tab saying why
    dock = window.explore_docks["KL per dimension"]
    # (Qt moves a tab that is not current off-screen instead of hiding it)
    qtbot.waitUntil(lambda: not kl.visibleRegion().isEmpty(), timeout=5000)
    assert window.explore.traversal.visibleRegion().isEmpty()
    assert "collapse" in dock.windowTitle()
    assert window.explore.sliders.collapse().n_active == 0


def test_the_rd_plane_follows_training_and_its_beta_line_turns_with_the_beta_control(qtbot, window):
    train(qtbot, window)
    rd = window.explore.rd
    rate, distortion = rd.trajectory()
    steps, curve_rate = window.curves.curve("rate", smoothed=False)
    _, curve_distortion = window.curves.curve("distortion", smoothed=False)
    assert len(rate) == len(steps) >= STEPS // 10  # every report (and the short ones at epoch ends)
    np.testing.assert_allclose(rate, curve_rate)
    np.testing.assert_allclose(distortion, curve_distortion)
    r, d = rd.current_point()

    def slope() -> float:
        x, y = rd.beta_line_points()
        return float((y[-1] - y[0]) / (x[-1] - x[0]))

    qtbot.waitUntil(lambda: len(rd.beta_line_points()[0]) == 2, timeout=5000)  # redraws are coalesced
    assert slope() == pytest.approx(-1.0)
    window.controls.beta_slider.setValue(beta_to_tick(8.0))  # what dragging the β slider does
    assert rd.beta == pytest.approx(8.0, rel=0.03)  # at once, not after the trainer applies it
    assert slope() == pytest.approx(-rd.beta)
    x, y = rd.beta_line_points()
    assert np.interp(r, x, y) == pytest.approx(d)  # still through the current point
    window.controls.beta_spin.setValue(0.5)  # typed into the box
    qtbot.waitUntil(lambda: rd.beta == pytest.approx(0.5), timeout=5000)
    assert slope() == pytest.approx(-0.5)


def test_latents_refresh_every_n_steps_and_on_request_while_idle(qtbot, window, monkeypatch):
    explore = window.explore
    seen: list[int] = []
    on_latents = explore.on_latents

    def record(latents):
        seen.append(latents.step)
        on_latents(latents)

    monkeypatch.setattr(explore, "on_latents", record)  # called by the queued on_explore slot, GUI thread
    explore.scatter.refresh_spin.setValue(50)
    train(qtbot, window, steps=200)
    assert seen[0] == 10 and seen[-1] == 200  # the first report, then the final weights
    # every 50 steps, and twice as often while the model is young (the next at double the step)
    assert seen[:-1] == [10, 20, 40, 80, 130, 180]
    # Refresh now while idle: encoded in the worker thread, with the kept model
    count = len(seen)
    qtbot.mouseClick(explore.scatter.refresh_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(seen) > count, timeout=WAIT_MS)
    assert seen[-1] == 200


def test_the_demo_checkpoint_opens_at_startup_and_its_sliders_decode(qtbot):
    path = demo_checkpoint()
    assert path is not None and path.name == DEMO_CHECKPOINT
    assert path.stat().st_size <= 10 * 10**6  # it ships in the wheel: at most 10 MB
    win = MainWindow()
    qtbot.addWidget(win)
    DemoOpener(win, str(path))  # what `vae-explorer` with no checkpoint does: open it after the first paint
    assert win.explore.decoder is None
    win.show()
    try:
        explore = win.explore
        qtbot.waitUntil(lambda: explore.decoder is not None, timeout=WAIT_MS)
        assert win.state is RunState.STOPPED and win.start_action.text() == "Continue"
        assert "demo" in win.windowTitle() and win.banner.level == "info"
        latent_dim = read_info(path)["model_config"]["latent_dim"]
        assert explore.decoder.image_shape == (1, 64, 64) and explore.decoder.latent_dim == latent_dim
        # the sliders work at once, before the data is loaded or anything is trained
        changes = []
        for dim in range(latent_dim):
            before = explore.sliders.image().copy()
            explore.sliders.slider(dim).setValue(int(-2.5 * TICKS_PER_SIGMA))
            changes.append(np.abs(explore.sliders.image() - before).max())
        assert sum(change > 0.1 for change in changes) >= 4  # several dimensions move the sprite
        # the held-out sprites are generated and encoded in the worker: the scatter appears, with several
        # active dimensions (the demo must show meaningful latents)
        qtbot.waitUntil(lambda: explore.latents is not None, timeout=WAIT_MS)
        assert len(explore.scatter.coordinates()) == 2000
        assert explore.kl.state.n_active >= 4 and not explore.kl.collapsed
        assert len(explore.rd.trajectory()[0]) > 0  # its training trajectory, from the checkpoint's history
    finally:
        win.close()
    assert not win.session.running


def test_screenshot_of_one_panel_builds_the_real_window_with_the_demo(qapp, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from PySide6.QtGui import QImage

    from explorer.plotting.point_cloud import TAB10

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "latent.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "main.py", "--screenshot", str(out), "--panel", "latent"], cwd=repo,
                            env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stderr
    image = QImage(str(out))
    assert 200 <= image.width() < 1440 and 200 <= image.height() < 900  # the dock's panel, not the 1440x900 window
    # it waited for the demo's held-out encoding to reach the scatter: its points, in the label colours
    image = image.convertToFormat(QImage.Format_RGB888)  # kept: the array below views its memory
    rgb = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    rgb = rgb[:, : 3 * image.width()].reshape(image.height(), image.width(), 3)
    colours = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in TAB10}
    in_palette = sum(int((rgb == c).all(-1).sum()) for c in colours)
    assert in_palette > 500, f"only {in_palette} pixels in the scatter's colours: the screenshot did not wait"
