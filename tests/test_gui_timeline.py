"""The timeline in the real window: scrubbing a run's snapshots moves every view to that moment's model."""

from __future__ import annotations

import numpy as np
import pytest

import trainer
from explorer.models.explored_run import LIVE
from explorer.models.run_state import RunState
from trainer.analysis.geometry import traversal_grid
from trainer.checkpoints.hdf5 import save_checkpoint
from trained_runs import trained

WAIT_MS = 60_000
SMALL = dict(latent_dim=2, hidden=(64,), batch_size=32, lr=3e-3)


@pytest.fixture(scope="module")
def data():
    return trainer.load_dataset("sprites", n=600, image_size=28)


@pytest.fixture
def window(small_window):
    return small_window(sprites_n=600, batch_size=32, latent_dim=2, hidden=(64,), lr=3e-3)


def shown(qtbot, window, step: int) -> None:
    """Wait until every latent panel shows the model of `step`."""
    explore = window.explore
    qtbot.waitUntil(lambda: explore.latents is not None and explore.latents.step == step
                    and explore.decoder is not None and explore.decoder.step == step and not explore.pending,
                    timeout=WAIT_MS)


def check_views_show(window, model, step: int) -> None:
    """Each view shows what `model` (the snapshot of `step`, loaded independently) gives."""
    explore = window.explore
    latents = explore.latents
    mu = model.encode(latents.x)[0].detach().numpy()
    np.testing.assert_allclose(latents.mu, mu, atol=1e-4)
    np.testing.assert_allclose(explore.scatter.coordinates(), mu[:, :2], atol=1e-4)  # latent_dim 2: the dims
    z = np.array([[0.5, -1.0]], np.float32)
    np.testing.assert_allclose(explore.decoder.decode(z), model.decode(z).detach().numpy(), atol=1e-4)
    traversal = explore.traversal
    traversal.refresh_now()
    grid = traversal.traversal_view.images()
    assert np.abs(grid - traversal_grid(explore.decoder, traversal.traversal_center(), traversal.traversal_dims(),
                                        traversal.traversal_values())).max() < 1e-5
    np.testing.assert_allclose(explore.kl.bar_heights(), latents.kl_per_dim, rtol=1e-6)
    assert f"{step:,}" in explore.samples.recon_view.title
    assert window.curves.moment_lines.moment_step == step
    assert explore.rd.moment.position() is not None
    assert window.explored.value.label().endswith(f"step {step:,}")
    assert window.timeline.label.full_text().startswith(f"step {step:,} · epoch")
    information = explore.information
    assert information.moment_lines.moment_step == step
    evaluations = information.series()["mutual_information"][0]
    before = evaluations[evaluations <= step]
    assert information.readout.text().startswith(
        f"At the moment's last held-out evaluation, step {int(before[-1]):,}" if len(before) else
        f"No held-out evaluation before the moment shown (step {step:,})")


def test_a_cli_runs_timeline_moves_every_view_to_its_moments_and_back(qtbot, window, tmp_path):
    from inprocess import run_main

    path = tmp_path / "run.h5"
    proc = run_main(["train", "--dataset", "sprites", "--image-size", "28", "--limit", "540", "--hidden", "64",
                     "--latent-dim", "2", "--batch-size", "32", "--lr", "3e-3", "--epochs", "2", "--out", path])
    assert proc.returncode == 0, proc.stderr
    window.open_checkpoint(str(path))
    final = trainer.load_model(path).step
    per_epoch = final // 2
    shown(qtbot, window, final)
    steps = window.explored.value.steps
    assert steps == trainer.load_model(path).steps and steps[0] == 0 and steps[-1] == final
    assert window.timeline.slider.maximum() == len(steps) - 1 and window.timeline.label.full_text().startswith("now")
    for step in (steps[3], steps[-3]):
        window.timeline.slider.setValue(steps.index(step))  # as a drag would
        shown(qtbot, window, step)
        check_views_show(window, trainer.load_model(path, step=step), step)
        # a moment of the first epoch is not judged for a collapse (its q(z|x) starts at the prior), a later one is
        first_epoch = "judged from the end of its first epoch" in window.explore.kl.summary.text()
        assert first_epoch == (step < per_epoch)
    moment_points = window.explore.scatter.coordinates().copy()
    window.timeline.pin.click()
    assert window.explored.value.pinned == steps[-3]
    window.timeline.now.click()
    shown(qtbot, window, final)
    assert window.explored.value.moment is None and window.curves.moment_lines.moment_step is None
    assert not np.allclose(window.explore.scatter.coordinates(), moment_points, atol=1e-3)
    # the ELBO gap's estimate is of one model: at another moment it says so, and Estimate recomputes it
    gap = window.explore.gap
    gap.k_spin.setValue(4)
    gap.n_spin.setValue(20)
    with qtbot.waitSignal(gap.sig_estimated, timeout=WAIT_MS) as estimated:
        assert gap.start()
    assert estimated.args[0]["step"] == final
    window.explored.seek(steps[3])
    shown(qtbot, window, steps[3])
    assert f"These figures are of the model of step {final:,}; the views show step {steps[3]:,}" in gap.note.text()
    with qtbot.waitSignal(gap.sig_estimated, timeout=WAIT_MS) as estimated:
        assert gap.start()
    assert estimated.args[0]["step"] == steps[3]
    window.timeline.now.click()
    # scrubbing back to a moment already built shows it at once, from the cache
    window.explored.seek(steps[3])
    assert window.explore.moments.cached(window.explored.value.timeline, steps[3]) is not None
    shown(qtbot, window, steps[3])


def test_a_live_runs_timeline_grows_while_it_trains_and_plays(qtbot, window, tmp_path):
    assert window.start_training(max_steps=60)
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED and not window.explore.pending, timeout=WAIT_MS)
    live = window.session.worker.trainer
    steps = window.explored.value.steps
    assert window.explored.value.key == LIVE and steps == tuple(int(r[0]) for r in live.snapshots.rows)
    assert steps[:6] == (0, 1, 2, 3, 4, 5) and steps[-1] == 60
    path = tmp_path / "live.h5"
    save_checkpoint(path, live.checkpoint())  # the worker is idle: its snapshots, read back independently
    for step in (steps[4], steps[-3]):
        window.explored.seek(step)
        shown(qtbot, window, step)
        check_views_show(window, trainer.load_model(path, step=step), step)
    window.timeline.speed.setCurrentIndex(window.timeline.speed.count() - 1)
    window.timeline.play.click()  # plays on from the moment to the last snapshot, then stops
    qtbot.waitUntil(lambda: not window.timeline.playing, timeout=WAIT_MS)
    assert window.explored.value.moment == steps[-1]
    shown(qtbot, window, steps[-1])


def test_a_sweeps_run_explored_from_the_runs_panel_has_its_timeline(qtbot, window, data, tmp_path):
    rows = trainer.sweep(data, tmp_path / "sweep", betas=[0.5, 8.0], epochs=1, **SMALL)
    window.compare.open_folder(str(tmp_path / "sweep"))
    qtbot.waitUntil(lambda: len(window.compare.catalog.records()) >= 2, timeout=WAIT_MS)
    key = str((tmp_path / "sweep" / f"{rows[1]['run']}.h5").resolve())
    window.compare.catalog.select(key)
    qtbot.waitUntil(lambda: window.explored.value.key == key and len(window.explored.value.steps) > 3,
                    timeout=WAIT_MS)
    for step in (window.explored.value.steps[2], window.explored.value.steps[-2]):
        window.explored.seek(step)
        shown(qtbot, window, step)
        check_views_show(window, trainer.load_model(key, step=step), step)


def test_a_run_without_snapshots_says_why_there_is_no_timeline(qtbot, window, data, tmp_path):
    run = trained(data, tmp_path / "off.h5", epochs=1, snapshots=0, **SMALL)
    window.open_checkpoint(str(tmp_path / "off.h5"))
    shown(qtbot, window, run.step)
    qtbot.waitUntil(lambda: window.explored.value.timeline is not None, timeout=WAIT_MS)
    bar = window.timeline
    assert not bar.slider.isEnabled() and not bar.play.isEnabled()
    assert bar.label.full_text() == bar.toolTip() == "No timeline: snapshots were turned off for this run (snapshots 0)"
    assert bar.film.isHidden() and bar.pin.isHidden()


def test_moment_a_is_drawn_beside_the_moment_shown_in_the_scatter_traversals_and_kl_strip(qtbot, window, data,
                                                                                          tmp_path):
    from trainer.analysis.geometry import traversal_latents

    path = tmp_path / "run.h5"
    trained(data, path, epochs=2, **SMALL)
    window.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: len(window.explored.value.steps) > 6 and window.explore.latents is not None,
                    timeout=WAIT_MS)
    steps = window.explored.value.steps
    a, b = steps[2], steps[-2]
    window.explored.seek(a)
    shown(qtbot, window, a)
    window.timeline.pin.click()  # moment A: the moment shown
    assert window.explored.value.pinned == a
    explore = window.explore
    explore.cursor.set_selection(np.arange(10))
    window.explored.seek(b)
    shown(qtbot, window, b)
    qtbot.waitUntil(lambda: len(explore.scatter.pinned_segments()) == 10, timeout=WAIT_MS)
    then = trainer.load_model(path, step=a)
    latents = explore.latents
    mu_a, logvar_a = (t.detach().numpy() for t in then.encode(latents.x))
    segments = explore.scatter.pinned_segments()
    np.testing.assert_allclose(segments[:, 0], mu_a[:10], atol=1e-4)  # from A (latent_dim 2: the dims view)
    np.testing.assert_allclose(segments[:, 1], explore.scatter.coordinates()[:10], atol=1e-6)  # to the moment shown
    kl_a = 0.5 * (mu_a ** 2 + np.exp(logvar_a) - 1 - logvar_a).mean(0)
    np.testing.assert_allclose(explore.kl.pinned_heights(), kl_a, rtol=1e-3, atol=1e-4)
    assert f"moment A, step {a:,}" in explore.kl.summary.text()
    traversal = explore.traversal
    traversal.refresh_now()
    assert traversal.pinned_view.isVisible() and f"step {a:,}" in traversal.pinned_view.title
    z = traversal_latents(traversal.traversal_center(), traversal.traversal_dims(), traversal.traversal_values())
    expected = then.decode(z.reshape(-1, 2)).detach().numpy().reshape(traversal.traversal_view.images().shape)
    np.testing.assert_allclose(traversal.pinned_view.images(), expected, atol=1e-4)
    window.timeline.pin.click()  # unpinned: the comparison goes
    assert window.explored.value.pinned is None
    assert len(explore.scatter.pinned_segments()) == 0 and not traversal.pinned_view.isVisible()
    assert len(explore.kl.pinned_heights()) == 0
