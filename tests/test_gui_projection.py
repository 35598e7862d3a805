"""UMAP and t-SNE in the latent scatter: computed in the background with progress, gliding between refreshes,
and still sending a clicked point's true μ."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from test_gui_latent_panels import _isolated_point, explore, healthy, sprites  # noqa: F401  (fixtures)
from trainer.analysis.projection import faithfulness

WAIT_MS = 120_000  # a first UMAP compiles numba's kernels


@pytest.mark.parametrize("mode", ["umap", "tsne"])
def test_a_map_is_computed_off_the_gui_thread_and_a_click_still_sends_the_true_mu(qtbot, explore, healthy, mode):
    scatter = explore.scatter
    scatter.resize(700, 600)
    scatter.show()
    qtbot.waitExposed(scatter)
    pca = scatter.coordinates().copy()
    threads = []
    explore.projection.sig_progress.connect(lambda *a: threads.append(threading.get_ident()))
    notes = []
    explore.projection.sig_progress.connect(lambda token, message, fraction: notes.append(scatter.info.text()))
    with qtbot.waitSignal(explore.projection.sig_done, timeout=WAIT_MS) as done:
        scatter.set_view(mode)
        assert "computing" in scatter.info.text()  # the GUI thread went on: PCA until the map comes
    token, (xy, kept) = done.args
    assert xy.shape == pca.shape and not np.allclose(scatter.coordinates(), pca)
    np.testing.assert_array_equal(scatter.coordinates(), xy)
    assert kept == pytest.approx(faithfulness(healthy.latents.mu, xy))
    assert "keeps" in scatter.info.text() and f"{100 * kept:.0f}%" in scatter.info.text()
    assert any("%" in n for n in notes)  # progress reached the panel while it ran
    assert not scatter.marker.movable  # a map position is not a latent vector
    assert not scatter._rings[0][0].isVisible()  # the prior's circles mean nothing on a map
    # a click decodes the point's true μ, not a position on the map
    index = _isolated_point(scatter.coordinates())
    with qtbot.waitSignal(scatter.sig_point_selected, timeout=2000) as blocker:
        qtbot.mouseClick(scatter.plot.viewport(), Qt.LeftButton, pos=scatter.viewport_pos(index).toPoint())
    assert blocker.args[0] == index
    np.testing.assert_allclose(explore.cursor.z, healthy.latents.mu[index], atol=1e-6)
    assert scatter.marker_position() == pytest.approx(tuple(xy[index]), abs=1e-5)


def test_a_refresh_starts_from_the_last_map_and_a_newer_request_supersedes_an_older(qtbot, explore, healthy):
    scatter = explore.scatter
    requests = []
    scatter.sig_projection_requested.connect(requests.append)
    with qtbot.waitSignal(explore.projection.sig_done, timeout=WAIT_MS):
        scatter.set_view("umap")
    first = scatter.coordinates().copy()
    assert requests[-1].previous is None
    # the next snapshot of the same points: the request carries the map, which stays drawn meanwhile
    with qtbot.waitSignal(explore.projection.sig_done, timeout=WAIT_MS):
        scatter.set_snapshot(healthy.latents)
        np.testing.assert_array_equal(requests[-1].previous, first)
        np.testing.assert_array_equal(scatter.coordinates(), first)
    # changing a parameter twice quickly: only the last one's map is drawn
    done = []
    explore.projection.sig_done.connect(lambda token, result: done.append(token))
    scatter.neighbours_spin.setValue(8)
    scatter.neighbours_spin.setValue(20)
    last = requests[-1].token
    qtbot.waitUntil(lambda: last in done, timeout=WAIT_MS)
    assert requests[-1].params.neighbours == 20 and requests[-1].previous is None  # new parameters: afresh
    qtbot.waitUntil(lambda: not explore.projection.running, timeout=WAIT_MS)
