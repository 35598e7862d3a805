"""The aggregate posterior against the prior: the holes view under the scatter, and prior vs q(z)-fit samples."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt

from test_gui_latent_panels import collapsed, explore, healthy, sprites  # noqa: F401  (fixtures)
from test_gui_selection import scatter  # noqa: F401  (fixture)
from trainer.analysis.holes import holes_in_plane

WAIT_MS = 30_000


def test_the_holes_view_draws_q_of_z_against_the_prior_in_the_chosen_plane(qtbot, explore, scatter, healthy):
    lat = healthy.latents
    scatter.set_view("dims", (0, 2))
    assert scatter.holes_check.isVisibleTo(scatter)
    with qtbot.waitSignal(explore.holes.sig_done, timeout=WAIT_MS):
        qtbot.mouseClick(scatter.holes_check, Qt.LeftButton)
    drawn = scatter.density()
    expected = holes_in_plane(lat.mu, lat.logvar, 0, 2)
    assert drawn.dims == (0, 2)
    np.testing.assert_allclose(drawn.q, expected.q)
    assert f"{100 * expected.hole_share:.0f}%" in scatter.info.text()
    print("hole share", expected.hole_share)
    # a hole is drawn red where it is, and a dense spot of q(z) blue
    picture = scatter.plot.grab().toImage()

    def colour_at(x: float, y: float):
        p = scatter.plot.mapFromScene(scatter.plot.getPlotItem().vb.mapViewToScene(QPointF(x, y)))
        return picture.pixelColor(scatter.plot.viewport().mapToParent(p))

    cells = np.argwhere(expected.holes)
    assert len(cells)
    xy = scatter.coordinates()
    # the hole cell farthest from any point (a point would be drawn over it)
    r, c = max(cells, key=lambda rc: np.hypot(*(xy - [expected.xs[rc[1]], expected.ys[rc[0]]]).T).min())
    red = colour_at(expected.xs[c], expected.ys[r])
    assert red.red() > red.green() + 40 and red.red() > red.blue() + 40
    # the decoded grid and the holes view take turns under the points
    qtbot.mouseClick(scatter.grid_check, Qt.LeftButton)
    assert not scatter.holes_check.isChecked() and scatter.density() is None
    qtbot.mouseClick(scatter.holes_check, Qt.LeftButton)
    assert not scatter.grid_check.isChecked()
    scatter.set_view("pca")
    assert scatter.density() is None and not scatter.holes_check.isVisibleTo(scatter)


def test_a_collapsed_posterior_leaves_no_holes_a_used_latent_space_does(qtbot, healthy, collapsed):
    # β = 50 pushes every q(z|x) onto the prior, so q(z) = p(z): no holes. β = 1 spreads codes out: the prior has
    # mass the encoder leaves empty
    share = {name: holes_in_plane(m.latents.mu, m.latents.logvar, *np.argsort(-m.latents.kl_per_dim)[:2]).hole_share
             for name, m in (("healthy", healthy), ("collapsed", collapsed))}
    print(share)
    assert share["collapsed"] < 0.02 < share["healthy"]


def test_prior_samples_and_q_of_z_samples_are_decoded_side_by_side_with_their_distances(qtbot, explore, healthy):
    from trainer.analysis.aggregate import compare_prior_and_aggregate

    panel = explore.aggregate
    panel.resize(800, 400)
    with qtbot.waitSignal(explore.samples_job.sig_done, timeout=WAIT_MS):
        panel.show()  # shown with a model: it compares at once, off the GUI thread
    qtbot.waitUntil(lambda: panel.result() is not None)
    got = panel.result()
    want = compare_prior_and_aggregate(healthy.latents.mu, n=32, seed=0, n_components=10)
    np.testing.assert_array_equal(got.prior_z, want.prior_z)
    np.testing.assert_allclose(got.aggregate_mean_distance, want.aggregate_mean_distance)
    assert got.aggregate_mean_distance < got.prior_mean_distance
    np.testing.assert_allclose(panel.prior_view.images().reshape(-1, *healthy.decoder.image_shape)[:32],
                               healthy.decoder.decode(want.prior_z), atol=1e-5)
    np.testing.assert_allclose(panel.aggregate_view.images().reshape(-1, *healthy.decoder.image_shape)[:32],
                               healthy.decoder.decode(want.aggregate_z), atol=1e-5)
    assert f"prior {want.prior_mean_distance:.2f}" in panel.figure.text()
    assert f"q(z) fit {want.aggregate_mean_distance:.2f}" in panel.figure.text()
    assert "KL term pulls" in panel.explanation.text()
    with qtbot.waitSignal(explore.samples_job.sig_done, timeout=WAIT_MS):
        qtbot.mouseClick(panel.again_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.result().seed == 1)
    assert not np.array_equal(panel.result().prior_z, want.prior_z)
