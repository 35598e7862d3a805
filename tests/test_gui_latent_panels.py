"""The latent-space panels, driven offscreen with pytest-qt around real small models trained on sprites.

Each test builds the panels it needs (through `LatentPanels` where panels talk to each other), feeds them what
the worker would publish (trainer.explore snapshots), and checks what is drawn against trainer.explore.
"""

from __future__ import annotations


import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QSlider

from explorer.window.latent_panels import LatentPanels
from explorer.panels.decoder import ROWS_PER_TURN, DecoderSlidersPanel
from explorer.panels.decoder_row import INACTIVE_GREY, TICKS_PER_SIGMA
from explorer.panels.elbo_gap import ElboGapPanel
from explorer.panels.kl import INACTIVE_COLOUR, KlPanel
from explorer.panels.latent import LatentScatterPanel
from explorer.panels.rd import RateDistortionPanel
from explorer.panels.samples import SamplesPanel
from explorer.panels.traversal import TraversalPanel
from explorer.runtime.background import LatestJob
from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.analysis.geometry import interpolate, traversal_grid
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import StepReport
from trainer.analysis.publishing import ExplorePublisher
from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout, preview_images


WAIT_MS = 30_000


class Model:
    """A trained trainer plus what the worker would publish for it."""

    def __init__(self, dataset, beta: float, steps: int, latent_dim: int = 4):
        self.trainer = Trainer(model_config_for(dataset, latent_dim=latent_dim, hidden=(64,)),
                               TrainConfig(epochs=1000, batch_size=32, beta=beta, lr=3e-3, device="cpu"), dataset)
        self.reports = [r for r in self.trainer.run(max_steps=steps) if isinstance(r, StepReport)]
        self.decoder = DecoderSnapshot.from_model(self.trainer.model, step=self.trainer.step)
        self.latents = encode_heldout(self.trainer.model, dataset, "cpu", step=self.trainer.step)
        self.dataset = dataset


@pytest.fixture(scope="module")
def sprites():
    return load_dataset(DatasetSpec(name="sprites", n=600, image_size=28))


@pytest.fixture(scope="module")
def healthy(sprites):
    return Model(sprites, beta=1.0, steps=150)


@pytest.fixture(scope="module")
def collapsed(sprites):
    return Model(sprites, beta=50.0, steps=150)


@pytest.fixture
def explore(qtbot, healthy):
    ex = LatentPanels()
    for _, panel, _ in ex.docks():
        qtbot.addWidget(panel)
    ex.on_explore(healthy.decoder)
    ex.on_explore(healthy.latents)
    ex.flush()
    yield ex
    ex.shutdown()


# --- decoder sliders ------------------------------------------------------------------------------
def test_moving_a_slider_changes_the_decoded_image(qtbot, healthy):
    panel = DecoderSlidersPanel()
    qtbot.addWidget(panel)
    panel.set_decoder(healthy.decoder)
    panel.show()
    before = panel.image().copy()
    np.testing.assert_allclose(before, healthy.decoder.decode(np.zeros((1, 4)))[0], atol=1e-6)
    version = panel.image_view.version
    slider = panel.slider(2)
    slider.setFocus()
    with qtbot.waitSignal(panel.cursor.sig_moved, timeout=1000) as blocker:
        qtbot.keyClick(slider, Qt.Key_PageUp)  # what dragging does: the slider's value changes
    z = np.zeros(4, np.float32)
    z[2] = slider.pageStep() / TICKS_PER_SIGMA
    np.testing.assert_allclose(blocker.args[0], z)
    assert panel.image_view.version > version
    after = panel.image()
    assert np.abs(after - before).max() > 0.01, "the picture must follow the slider"
    np.testing.assert_allclose(after, healthy.decoder.decode(z[None])[0], atol=1e-5)
    np.testing.assert_array_equal(panel.image_view.images()[0, 0], after)  # and it is what the view shows


def test_moving_the_cursor_moves_sliders_without_echo_and_inactive_dims_are_labelled(qtbot, healthy, collapsed):
    panel = DecoderSlidersPanel()
    qtbot.addWidget(panel)
    panel.set_decoder(healthy.decoder)
    emitted = []
    panel.cursor.sig_moved.connect(lambda z, origin: emitted.append(origin))
    z = np.array([0.5, -1.25, 4.0, 0.0], np.float32)
    panel.cursor.move_to(z)
    assert emitted == [None]  # moved from outside: the sliders follow and move nothing back (no feedback loop)
    assert [panel.slider(d).value() for d in range(4)] == [50, -125, 300, 0]  # 4σ pins the slider at +3σ
    np.testing.assert_allclose(panel.image(), healthy.decoder.decode(z[None])[0], atol=1e-5)
    lat = healthy.latents
    panel.set_kl(lat.kl_per_dim, lat.mu_variance)
    panel.sort_check.setChecked(True)
    assert panel.slider_order() == [int(d) for d in np.argsort(-lat.kl_per_dim)]
    assert all("inactive" not in panel.row_text(d) for d in range(4))
    panel.set_decoder(collapsed.decoder)
    panel.set_kl(collapsed.latents.kl_per_dim, collapsed.latents.mu_variance)
    assert all("inactive · KL 0.00 nats" in panel.row_text(d) for d in range(4))
    assert all(INACTIVE_GREY in panel.row_name(d).styleSheet() for d in range(4))
    panel.set_decoder(healthy.decoder)  # active again: the grey goes (styles are only touched on a change)
    panel.set_kl(lat.kl_per_dim, lat.mu_variance)
    assert all("inactive" not in panel.row_text(d) and panel.row_name(d).styleSheet() == "" for d in range(4))


def test_slider_rows_follow_the_latent_size_reusing_their_widgets(qtbot, sprites, healthy):
    """Creating widgets mid-training stalls the GUI thread: a new model relabels the rows it has and only adds
    (or drops) the difference; each row then shows its new dimension at z = 0."""
    panel = DecoderSlidersPanel()
    qtbot.addWidget(panel)
    panel.set_decoder(healthy.decoder)
    panel.cursor.move_to(np.full(4, 1.5, np.float32))
    sliders = [panel.slider(d) for d in range(4)]
    wider = Trainer(model_config_for(sprites, latent_dim=6, hidden=(16,)),
                    TrainConfig(epochs=1, batch_size=32, device="cpu"), sprites).model
    panel.set_decoder(DecoderSnapshot.from_model(wider, step=0))
    assert [panel.slider(d) for d in range(4)] == sliders  # the same widgets, reused
    assert panel.slider_order() == list(range(6)) and [panel.slider(d).value() for d in range(6)] == [0] * 6
    assert panel.row_count() == 6 and [panel.row_name(d).text() for d in range(6)] == [f"z{d}" for d in range(6)]
    _assert_rows_packed_at_the_top(qtbot, panel, 6)
    panel.set_decoder(healthy.decoder)  # and back: two rows go
    assert panel.row_count() == 4 and [panel.slider(d) for d in range(4)] == sliders
    _assert_rows_packed_at_the_top(qtbot, panel, 4)


def next_turn(qtbot, ex: LatentPanels) -> None:
    """Let the event loop run until the panels' turn timer has applied one queued update."""
    with qtbot.waitSignal(ex.turn_timer.timeout, timeout=5000):
        pass


def _assert_rows_packed_at_the_top(qtbot, panel: DecoderSlidersPanel, n: int) -> None:
    """The spare height goes below the last row: in a tall panel the n rows keep their pitch at the top."""
    panel.resize(500, 1400)
    panel.show()
    qtbot.waitExposed(panel)
    QApplication.processEvents()
    tops = [panel.slider(d).geometry().top() for d in range(n)]
    pitch = tops[1] - tops[0]
    assert 0 < pitch <= 2 * panel.slider(0).sizeHint().height() and tops == [tops[0] + d * pitch for d in range(n)]
    assert panel.scroll.widget().height() - panel.slider(n - 1).geometry().bottom() > 4 * pitch


def test_a_new_models_slider_rows_are_made_a_few_per_event_loop_turn(qtbot, sprites):
    """Creating and showing 20 rows at once held the GUI thread ~20 ms; they now stand by a few per turn
    before the decoder arrives, disabled, and the decoder's own turn only relabels them."""
    wide = DecoderSnapshot.from_model(Trainer(model_config_for(sprites, latent_dim=12, hidden=(16,)),
                                              TrainConfig(epochs=1, batch_size=32, device="cpu"), sprites).model,
                                      step=0)
    ex = LatentPanels()
    for _, panel, _ in ex.docks():
        qtbot.addWidget(panel)
    ex.sliders.show()
    ex.on_explore(wide)
    counts = []
    while ex.pending and len(counts) < 100:
        next_turn(qtbot, ex)
        sliders = ex.sliders.findChildren(QSlider)
        counts.append(len(sliders))
        if len(sliders) < 12:  # still standing by: the model's z has no room for them yet
            assert not any(s.isEnabled() for s in sliders)
    assert counts[:3] == [ROWS_PER_TURN, 2 * ROWS_PER_TURN, 12] and counts[-1] == 12
    assert ex.decoder is wide and [ex.sliders.slider(d).isEnabled() for d in range(12)] == [True] * 12
    ex.clear()  # a Reset hides the rows; a model of the same size then shows them again, a few per turn
    assert not any(s.isVisible() for s in ex.sliders.findChildren(QSlider))
    ex.on_explore(wide)
    shown = []
    while ex.pending and len(shown) < 100:
        next_turn(qtbot, ex)
        assert len(ex.sliders.findChildren(QSlider)) == 12  # reused, none made
        shown.append(sum(s.isVisible() for s in ex.sliders.findChildren(QSlider)))
    assert shown[:3] == [ROWS_PER_TURN, 2 * ROWS_PER_TURN, 12] and ex.sliders.slider_order() == list(range(12))
    ex.shutdown()


def test_the_label_selector_sets_the_condition_of_a_conditional_decoder(qtbot):
    import torch

    from trainer.config import ModelConfig
    from trainer.model.vae import VAE

    torch.manual_seed(0)
    snap = DecoderSnapshot.from_model(VAE(ModelConfig(latent_dim=3, num_classes=10)))
    panel = DecoderSlidersPanel()
    qtbot.addWidget(panel)
    panel.set_decoder(snap)
    assert panel.label_combo.isVisibleTo(panel) and panel.label_combo.count() == 10
    panel.set_class_names([f"digit {i}" for i in range(10)])
    assert panel.label_combo.itemText(7) == "digit 7"
    panel.label_combo.setCurrentIndex(7)
    np.testing.assert_allclose(panel.image(), snap.decode(np.zeros((1, 3)), y=7)[0], atol=1e-5)
    assert not np.allclose(panel.image(), snap.decode(np.zeros((1, 3)), y=0)[0], atol=1e-4)


# --- scatter <-> sliders ---------------------------------------------------------------------------
def _isolated_point(xy: np.ndarray) -> int:
    d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    return int(np.argmax(d2.min(1)))


def test_clicking_a_scatter_point_moves_the_sliders_to_its_mu(qtbot, explore, healthy):
    scatter = explore.scatter
    scatter.resize(700, 600)
    scatter.show()
    qtbot.waitExposed(scatter)
    scatter.set_view("dims", (0, 1))
    index = _isolated_point(scatter.coordinates())
    mu = healthy.latents.mu[index]
    pos = scatter.viewport_pos(index).toPoint()
    with qtbot.waitSignal(scatter.sig_point_selected, timeout=1000) as blocker:
        qtbot.mouseClick(scatter.plot.viewport(), Qt.LeftButton, pos=pos)
    assert blocker.args[0] == index and scatter.selected("a") == index
    np.testing.assert_allclose(explore.cursor.z, mu, atol=1e-6)
    expected_ticks = np.round(np.clip(mu, -3, 3) * TICKS_PER_SIGMA).astype(int)
    assert [explore.sliders.slider(d).value() for d in range(4)] == expected_ticks.tolist()
    np.testing.assert_allclose(explore.sliders.image(), healthy.decoder.decode(mu[None])[0], atol=1e-5)
    assert scatter.marker_position() == pytest.approx((mu[0], mu[1]), abs=1e-5)
    # Shift+click another point: endpoint B of the interpolation
    other = int(np.argsort(((scatter.coordinates() - scatter.coordinates()[index]) ** 2).sum(1))[-1])
    with qtbot.waitSignal(scatter.sig_point_b_selected, timeout=1000):
        qtbot.mouseClick(scatter.plot.viewport(), Qt.LeftButton, Qt.ShiftModifier,
                         scatter.viewport_pos(other).toPoint())
    explore.traversal.refresh_now()
    path = explore.traversal.interpolation_latents()
    np.testing.assert_allclose(path[0], mu, atol=1e-6)
    np.testing.assert_allclose(path[-1], healthy.latents.mu[other], atol=1e-6)


def test_dragging_the_marker_decodes_live_and_hover_shows_a_thumbnail(qtbot, explore, healthy):
    scatter = explore.scatter
    scatter.resize(700, 600)
    scatter.show()
    qtbot.waitExposed(scatter)
    scatter.set_view("dims", (1, 3))
    explore.cursor.move_to(np.array([0.1, 0.2, 0.3, 0.4], np.float32))
    scatter.cursor.move_to(explore.cursor.z)
    moved = []
    scatter.cursor.sig_moved.connect(lambda z, origin: moved.append(z))
    scatter.marker.setPos(1.5, -0.5)  # what a drag does on every mouse move
    np.testing.assert_allclose(moved[-1], [0.1, 1.5, 0.3, -0.5], atol=1e-6)
    np.testing.assert_allclose(explore.cursor.z, [0.1, 1.5, 0.3, -0.5], atol=1e-6)
    np.testing.assert_allclose(explore.sliders.image(), healthy.decoder.decode(moved[-1][None])[0], atol=1e-5)
    # PCA view: the marker moves z within the PCA plane and lands where it was dragged
    scatter.set_view("pca")
    scatter.marker.setPos(-1.0, 0.75)
    xy = scatter.project(moved[-1])
    np.testing.assert_allclose(xy, [-1.0, 0.75], atol=1e-5)
    # hover: the card shows the input and its reconstruction
    index = _isolated_point(scatter.coordinates())
    qtbot.mouseMove(scatter.plot.viewport(), scatter.viewport_pos(index).toPoint())
    qtbot.waitUntil(lambda: scatter.hover.isVisible(), timeout=3000)  # hover is rate-limited (30/s)
    assert scatter.hover.index == index
    assert f"#{int(healthy.latents.indices[index])}" in scatter.hover.caption.text()


def test_scatter_colours_by_factor_and_keeps_its_pca_orientation(qtbot, explore, healthy):
    scatter = explore.scatter
    assert [scatter.colour_combo.itemData(i) for i in range(scatter.colour_combo.count())] == [
        *healthy.dataset.factor_names, "none"]
    scatter.set_colour_by("shape")
    colours_by_shape = scatter.cloud.colours()
    assert len(np.unique(colours_by_shape)) == 3 and "shape" in scatter.legend.text()
    scatter.set_colour_by("none")
    assert len(np.unique(scatter.cloud.colours())) == 1
    scatter.set_view("pca")
    first = scatter.coordinates().copy()
    scatter.set_snapshot(healthy.latents)  # a refresh with (here) the same encodings must not move anything
    np.testing.assert_allclose(scatter.coordinates(), first, atol=1e-5)
    assert "600" not in scatter.info.text() and f"{len(healthy.latents)}" in scatter.info.text()
    # the explained variance changes with every refresh: it is in the info line, never in an axis label
    # (a changed label re-lays out the whole plot)
    assert "PC1, PC2 explain" in scatter.info.text()
    item = scatter.plot.getPlotItem()
    assert (item.getAxis("bottom").labelText, item.getAxis("left").labelText) == ("PC1", "PC2")


def test_the_first_snapshot_does_not_re_lay_out_the_scatter_plot(qtbot, healthy):
    """Axis titles that appeared with the first snapshot resized both axes: a second whole repaint of the plot
    in the same turn, just as training starts."""
    scatter = LatentScatterPanel()
    qtbot.addWidget(scatter)
    scatter.resize(600, 420)  # wide enough that the legend fits the row it shares with the info line
    scatter.show()
    qtbot.waitExposed(scatter)
    item = scatter.plot.getPlotItem()
    sizes = lambda: (item.getAxis("left").width(), item.getAxis("bottom").height(), item.vb.size().toTuple())  # noqa: E731
    before = sizes()
    scatter.set_snapshot(healthy.latents)
    QApplication.processEvents()
    assert sizes() == before


# --- traversal and interpolation -------------------------------------------------------------------
def test_traversal_and_interpolation_grids_have_the_right_shape_and_content(qtbot, healthy, tmp_path):
    panel = TraversalPanel()
    qtbot.addWidget(panel)
    panel.resize(800, 600)
    panel.set_decoder(healthy.decoder)
    panel.set_kl(healthy.latents.kl_per_dim)
    z0 = healthy.latents.mu[7]
    panel.cursor.move_to(z0)
    panel.cols_spin.setValue(7)
    panel.refresh_now()
    dims = panel.traversal_dims()
    assert dims == [int(d) for d in np.argsort(-healthy.latents.kl_per_dim, kind="stable")]
    shown = panel.traversal_view.images()
    assert shown.shape == (4, 7, 1, 28, 28)
    expected = traversal_grid(healthy.decoder, z0, dims, np.linspace(-3, 3, 7))
    np.testing.assert_allclose(shown, expected, atol=1e-5)
    for r in range(4):  # each row really moves: its ends differ
        assert np.abs(shown[r, 0] - shown[r, -1]).max() > 0.01
    panel.around_combo.setCurrentIndex(panel.around_combo.findData("origin"))
    panel.refresh_now()
    np.testing.assert_allclose(panel.traversal_view.images(), traversal_grid(healthy.decoder, np.zeros(4), dims,
                                                                              np.linspace(-3, 3, 7)), atol=1e-5)
    out = tmp_path / "traversal.png"
    assert panel.export_traversal_png(str(out))
    image = QImage(str(out))
    assert image.width() >= 7 * 28 * 2 and image.height() >= 4 * 28 * 2

    za, zb = healthy.latents.mu[0], healthy.latents.mu[1]
    panel.cursor.set_end("a", za, "#0")
    panel.cursor.set_end("b", zb, "#1")
    panel.steps_spin.setValue(6)
    panel.refresh_now()
    strip = panel.interp_view.images()
    assert strip.shape == (1, 6, 1, 28, 28)
    np.testing.assert_allclose(strip[0], healthy.decoder.decode(interpolate(za, zb, 6, "linear")), atol=1e-5)
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("slerp"))
    panel.refresh_now()
    np.testing.assert_allclose(panel.interp_view.images()[0], healthy.decoder.decode(interpolate(za, zb, 6, "slerp")),
                               atol=1e-5)
    assert panel.export_interpolation_png(str(tmp_path / "interp.png"))


# --- samples ---------------------------------------------------------------------------------------
def test_samples_panel_shows_inputs_next_to_their_reconstructions(qtbot, healthy):
    panel = SamplesPanel()
    qtbot.addWidget(panel)
    panel.resize(800, 300)
    panel.show()
    preview = preview_images(healthy.decoder, healthy.dataset.x_test[:8], n_samples=12, seed=3,
                             step=healthy.decoder.step)
    panel.set_preview(preview)
    pairs = panel.recon_view.images()  # (rows, cols, C, H, 2W+1): input | line | reconstruction
    # as many pairs a row as the view's shape favours (test_gui_first_minute checks that), in reading order
    assert pairs.shape[2:] == (1, 28, 57) and pairs.shape[0] * pairs.shape[1] >= 8
    pairs = pairs.reshape(-1, 1, 28, 57)
    np.testing.assert_allclose(pairs[1, :, :, :28], preview.inputs[1])
    np.testing.assert_allclose(pairs[1, :, :, 29:], preview.recons[1])
    samples = panel.samples_view.images()
    np.testing.assert_allclose(samples.reshape(-1, 1, 28, 28)[:12], preview.samples)
    mosaic = panel.samples_view.mosaic()  # 2-px white gutters around and between the prior samples' tiles
    assert (mosaic[:, :2] == 255).all() and (mosaic[:, 30:32] == 255).all() and (mosaic[30:32] == 255).all()
    assert f"step {healthy.decoder.step:,}" in panel.samples_view.title


# --- KL strip --------------------------------------------------------------------------------------
def test_kl_strip_flags_a_collapsed_model_and_not_a_healthy_one(qtbot, healthy, collapsed):
    panel = KlPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_latents(collapsed.latents)
    assert panel.collapsed and panel.banner.isVisible()
    assert "Posterior collapse" in panel.warning_text() and "0 of 4 units active" in panel.warning_text()
    np.testing.assert_allclose(panel.bar_heights(), collapsed.latents.kl_per_dim)
    assert {b.color().name() for b in panel.bars.opts["brushes"]} == {INACTIVE_COLOUR}
    panel.set_latents(healthy.latents)
    assert not panel.collapsed and panel.banner.isHidden() and panel.warning_text() == ""
    assert "active units</b> 4 / 4" in panel.summary.text()
    # live reports carry the per-dimension KL only: the KL rule takes over and still sees a collapse
    panel.set_kl(collapsed.reports[-1].kl_per_dim, step=collapsed.reports[-1].step)
    assert panel.collapsed


def test_kl_strip_ignores_an_encoding_of_a_much_younger_model(qtbot, collapsed, healthy):
    """The first encoding of a new model (at its first report, μ near their initial values) must not call a
    model that has since trained ten times longer and pays tens of nats of rate collapsed."""
    panel = KlPanel()
    qtbot.addWidget(panel)
    young = collapsed.latents  # Var_x(μ) ≈ 0 everywhere
    panel.set_kl(young.kl_per_dim, step=10)
    panel.set_mu_variance(young.mu_variance, step=10)
    assert panel.collapsed
    panel.set_kl(healthy.latents.kl_per_dim, step=120)  # the live KL of the model now
    # no unit counted (the encoding speaks of another model, and no second rule counts meanwhile); the rate of
    # tens of nats is no collapse
    assert not panel.collapsed and panel.state.measure == "none" and "active units</b> — / 4" in panel.summary.text()
    assert "describes a younger model" in panel.summary.text()
    panel.set_kl(healthy.latents.kl_per_dim, step=15)  # the same encoding describes a model of step 15
    assert panel.state.measure == "variance" and panel.state.n_active == 0
    assert not panel.collapsed  # no unit active, but a rate far from the prior's: a young encoder
    assert "held-out encoding at step 10" in panel.summary.text()


# --- rate–distortion plane -------------------------------------------------------------------------
def test_rd_plane_receives_the_trajectory_and_turns_the_beta_line(qtbot, healthy):
    panel = RateDistortionPanel()
    qtbot.addWidget(panel)
    panel.show()
    reports = healthy.reports
    for i in range(0, len(reports), 5):  # batches, as the worker sends them
        chunk = reports[i:i + 5]
        panel.add_steps([r.step for r in chunk], [r.kl for r in chunk], [r.recon for r in chunk])
        assert len(panel.trajectory()[0]) == min(i + 5, len(reports))
    qtbot.waitUntil(lambda: panel.trail.getData()[0] is not None and len(panel.trail.getData()[0]) == len(reports),
                    timeout=2000)
    rate, dist = panel.trajectory()
    np.testing.assert_allclose(rate, [r.kl for r in reports])
    np.testing.assert_allclose(dist, [r.recon for r in reports])
    r0, d0 = panel.current_point()
    for beta in (1.0, 4.0, 0.25):
        panel.set_beta(beta)
        xs, ys = panel.beta_line_points()
        assert (ys[1] - ys[0]) / (xs[1] - xs[0]) == pytest.approx(-beta)
        assert ys[0] + beta * xs[0] == pytest.approx(d0 + beta * r0)  # through the current point
    # compared runs: end points, the frontier through those no mix of others beats, a click selects
    from explorer.models.run_catalog import RunRecord

    runs = [RunRecord(key=f"k{i}", name=f"run{i}", beta=b, rate=r, distortion=d, colour="#ff7f0e")
            for i, (b, r, d) in enumerate([(0.5, 30.0, 90.0), (1.0, 20.0, 100.0), (4.0, 10.0, 150.0),
                                           (2.0, 25.0, 140.0)])]
    panel.set_runs(runs, selected="k1")
    assert panel.end_points.getData()[0].tolist() == [30.0, 20.0, 10.0, 25.0]
    rate, dist = panel.frontier_points()
    assert rate.tolist() == [10.0, 20.0, 30.0] and dist.tolist() == [150.0, 100.0, 90.0]  # (25, 140) lies above it
    xs, ys = panel.beta_line_points()
    assert ys[0] + 1.0 * xs[0] == pytest.approx(100.0 + 1.0 * 20.0)  # the selected run's line: D + βR through it
    assert "run1" in panel.readout.text()
    with qtbot.waitSignal(panel.sig_run_clicked) as clicked:
        panel.click_run("k2")
    assert clicked.args == ["k2"]


# --- the ELBO gap ----------------------------------------------------------------------------------
def test_elbo_gap_button_estimates_in_the_background_with_progress(qtbot, healthy):
    panel = ElboGapPanel(LatestJob("vae-explorer IWAE"))
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.button.isEnabled()  # nothing to estimate on yet
    panel.set_model(healthy.decoder)
    panel.set_data(healthy.latents.x, healthy.latents.labels)
    panel.k_spin.setValue(32)
    panel.n_spin.setValue(60)
    assert panel.button.text() == "Estimate log p(x) (IWAE, K=32)"
    seen = []
    panel.progress.valueChanged.connect(seen.append)
    qtbot.mouseClick(panel.button, Qt.LeftButton)
    assert panel.running and panel.button.text() == "Cancel"  # the click returned while it runs
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    result = panel.result()
    assert result is not None and result["k"] == 32 and result["n"] == 60 and seen and seen[-1] == 100
    assert result["gap"] >= -0.5 and result["log_px"] == pytest.approx(result["elbo"] + result["gap"])
    assert f"{result['gap']:.2f} ± {result['gap_se']:.2f} nats" in panel.gap_label.text()
    assert f"{result['log_px']:.2f} ± {result['log_px_se']:.2f} nats" in panel.logpx_label.text()
    assert 0 < result["log_px_se"] < 5 and "standard error" in panel.logpx_label.toolTip()

    panel.k_spin.setValue(5000)  # slow enough to cancel
    panel.n_spin.setValue(150)
    qtbot.mouseClick(panel.button, Qt.LeftButton)
    assert panel.running
    qtbot.mouseClick(panel.button, Qt.LeftButton)  # Cancel
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    assert panel.result() is result and panel.note.text() == "Cancelled."


# --- through the publisher, as the worker will run it ------------------------------------------------
def test_a_snapshot_reaches_the_panels_one_event_loop_turn_at_a_time(qtbot, healthy):
    """A new model's first snapshots touch all seven panels. Qt paints every dirty widget of a window together,
    so applied in one turn they froze the window for ~100 ms while training; each panel gets its own turn."""
    ex = LatentPanels()
    for _, panel, _ in ex.docks():
        qtbot.addWidget(panel)
    ex.on_explore(healthy.decoder)
    ex.on_explore(healthy.latents)
    assert ex.pending and ex.decoder is None and ex.sliders.image() is None  # nothing applied in the caller's turn
    passes = 0
    while ex.pending and passes < 100:
        next_turn(qtbot, ex)
        passes += 1
    assert passes >= 8  # the decoder's three steps and the latents' five, one per pass of the event loop
    assert ex.decoder is healthy.decoder and ex.latents is healthy.latents  # set once every panel has them
    assert ex.sliders.image() is not None and len(ex.scatter.coordinates()) == len(healthy.latents)
    assert ex.kl.state is not None and ex.gap.button.isEnabled()
    ex.on_explore(healthy.latents)
    ex.clear()  # a Reset drops what is still queued for the old model
    assert not ex.pending and ex.latents is None
    ex.shutdown()


def test_publisher_items_reach_every_panel(qtbot, sprites):
    trainer = Trainer(model_config_for(sprites, latent_dim=3, hidden=(32,)),
                      TrainConfig(epochs=100, batch_size=32, device="cpu"), sprites)
    ex = LatentPanels()
    for _, panel, _ in ex.docks():
        qtbot.addWidget(panel)
    for _ in trainer.run(max_steps=30):
        pass
    for item in ExplorePublisher().poll(trainer):
        ex.on_explore(item)
    ex.flush()
    ex.traversal.refresh_now()
    assert ex.sliders.image() is not None and len(ex.cursor.z) == 3
    assert len(ex.scatter.coordinates()) == len(sprites.x_test)
    assert ex.samples.recon_view.images() is not None and ex.samples.samples_view.images() is not None
    assert ex.traversal.traversal_view.images().shape[:2] == (3, 9)
    assert ex.kl.state is not None and ex.gap.button.isEnabled()
    ex.clear()
    assert ex.sliders.image() is None or len(ex.cursor.z) == 0
    ex.shutdown()


def test_rd_beta_label_stays_inside_the_plot_where_the_line_enters_just_below_the_top(qtbot):
    panel = RateDistortionPanel()
    qtbot.addWidget(panel)
    panel.resize(400, 360)
    panel.show()
    panel.add_steps([10, 20], [20.0, 20.0], [30.0, 30.0])
    panel.refresh_now()
    panel.follow.setChecked(False)
    vb = panel.plot.getPlotItem().vb
    # β = 1 through (20, 30): the line is D = 50 - R, entering the left edge (R = 0) at D = 49.5, just below 50
    vb.setRange(xRange=(0.0, 60.0), yRange=(20.0, 50.6), padding=0)
    panel.set_beta(1.0)
    qtbot.wait(50)
    label = panel.beta_label.mapRectToView(panel.beta_label.boundingRect())
    (_x0, _x1), (_y0, y1) = vb.viewRange()
    assert max(label.top(), label.bottom()) <= y1 + 1e-6, "the label is clipped by the top edge"


def test_the_decoded_grid_shows_the_decoder_on_a_grid_of_two_dimensions(qtbot, explore, healthy):
    from explorer.panels.latent import GRID_SIDE
    from explorer.plotting.image_grid import tile

    scatter = explore.scatter
    scatter.set_view("dims", (0, 2))
    assert scatter.grid_z() is None and not scatter.grid_item.isVisible()  # off until asked for
    scatter.grid_check.setChecked(True)
    z = scatter.grid_z()
    assert z.shape == (GRID_SIDE * GRID_SIDE, 4) and scatter.grid_item.isVisible()
    # the top-left image is z0 = -3, z2 = +3; the other dimensions stay at the sliders' z
    np.testing.assert_allclose(z[0, [0, 2]], [-3, 3])
    np.testing.assert_allclose(z[-1, [0, 2]], [3, -3])
    np.testing.assert_allclose(z[:, [1, 3]], np.repeat(explore.cursor.z[None, [1, 3]], len(z), 0), atol=1e-6)
    expected = tile(healthy.decoder.decode(z), ncols=GRID_SIDE, pad=0)[::-1]  # drawn upwards: flipped
    np.testing.assert_array_equal(scatter.grid_item.image, expected)
    # a slider of another dimension moves: the grid is decoded again around it
    moved = explore.cursor.z.copy()
    moved[1] += 1.5
    explore.cursor.move_to(moved)
    scatter.cursor.move_to(moved)
    assert np.allclose(scatter.grid_z()[:, 1], moved[1])
    scatter.set_view("pca")
    assert not scatter.grid_item.isVisible() and not scatter.grid_check.isVisibleTo(scatter)
