"""Box and lasso selections on the latent scatter, drawn with the mouse, and what the Selection panel does with them."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from test_gui_latent_panels import explore, healthy, sprites  # noqa: F401  (fixtures)
from trainer.analysis.selection import inside_box, inside_polygon


def drag(qtbot, scatter, path, modifiers=Qt.NoModifier) -> None:
    """Press the left button at path[0], move through every point, release at the last (plot viewport pixels)."""
    viewport = scatter.plot.viewport()

    def send(kind, p, buttons):
        button = Qt.NoButton if kind == QEvent.MouseMove else Qt.LeftButton
        pos = QPointF(*p)
        event = QMouseEvent(kind, pos, viewport.mapToGlobal(pos), button, buttons, modifiers)
        QApplication.sendEvent(viewport, event)

    send(QEvent.MouseButtonPress, path[0], Qt.LeftButton)
    for p in path[1:]:
        qtbot.wait(20)  # pyqtgraph's scene drops mouse moves that come faster than 60 a second
        send(QEvent.MouseMove, p, Qt.LeftButton)
    send(QEvent.MouseButtonRelease, path[-1], Qt.NoButton)


def to_view(scatter, p) -> tuple[float, float]:
    vb = scatter.plot.getPlotItem().vb
    v = vb.mapSceneToView(scatter.plot.mapToScene(int(p[0]), int(p[1])))
    return v.x(), v.y()


@pytest.fixture
def scatter(qtbot, explore):
    s = explore.scatter
    s.resize(700, 600)
    s.show()
    qtbot.waitExposed(s)
    return s


def test_a_box_drawn_with_the_mouse_selects_the_points_inside_it_and_shift_adds(qtbot, scatter):
    w, h = scatter.plot.viewport().width(), scatter.plot.viewport().height()
    corner, opposite = (0.2 * w, 0.2 * h), (0.55 * w, 0.6 * h)
    scatter.set_tool("box")
    with qtbot.waitSignal(scatter.cursor.sig_selection_changed) as changed:
        drag(qtbot, scatter, [corner, (0.4 * w, 0.4 * h), opposite])
    expected = np.flatnonzero(inside_box(scatter.coordinates(), to_view(scatter, corner), to_view(scatter, opposite)))
    assert 0 < len(expected) < len(scatter.coordinates())
    picked = changed.args[0]
    # the press lands a pixel or so off where it was aimed: compare with a tolerance of a few edge points
    assert len(np.setxor1d(picked, expected)) <= 0.05 * len(expected) + 2
    np.testing.assert_array_equal(scatter.cursor.selection, picked)
    # Shift adds a second box; Ctrl takes it away again
    second = [(0.6 * w, 0.2 * h), (0.9 * w, 0.9 * h)]
    drag(qtbot, scatter, second, Qt.ShiftModifier)
    grown = scatter.cursor.selection
    assert set(picked) <= set(grown) and len(grown) > len(picked)
    drag(qtbot, scatter, second, Qt.ControlModifier)
    assert set(scatter.cursor.selection) <= set(grown) and len(scatter.cursor.selection) < len(grown)
    # the selection is drawn on top in full colour, the rest faded
    assert len(scatter.picked_cloud.colours()) == len(scatter.cursor.selection)
    # Pan drags pan again
    scatter.set_tool("pan")
    before = scatter.plot.getPlotItem().vb.viewRange()
    drag(qtbot, scatter, [(0.5 * w, 0.5 * h), (0.6 * w, 0.55 * h), (0.7 * w, 0.6 * h)])
    assert scatter.plot.getPlotItem().vb.viewRange() != before
    qtbot.keyClick(scatter, Qt.Key_Escape)
    assert len(scatter.cursor.selection) == 0 and len(scatter.picked_cloud.colours()) == 0


def test_a_lasso_selects_what_it_encloses(qtbot, scatter):
    w, h = scatter.plot.viewport().width(), scatter.plot.viewport().height()
    t = np.linspace(0, 2 * np.pi, 40)
    ring = [(w * (0.5 + 0.3 * np.cos(a)), h * (0.5 + 0.3 * np.sin(a))) for a in t]
    scatter.set_tool("lasso")
    with qtbot.waitSignal(scatter.cursor.sig_selection_changed) as changed:
        drag(qtbot, scatter, ring)
    outline = scatter.shapes.outline()
    assert len(outline) > 10
    expected = np.flatnonzero(inside_polygon(scatter.coordinates(), np.array([to_view(scatter, p) for p in ring])))
    assert 0 < len(expected)
    assert len(np.setxor1d(changed.args[0], expected)) <= 0.05 * len(expected) + 2


def test_the_selection_survives_a_re_encoding_of_the_same_examples(qtbot, scatter, healthy):
    scatter.cursor.set_selection([3, 5, 8])
    scatter.set_snapshot(healthy.latents)
    assert scatter.cursor.selection.tolist() == [3, 5, 8] and len(scatter.picked_cloud.colours()) == 3


def test_the_selection_panel_shows_the_selected_images_counts_and_mean_and_sets_endpoints(qtbot, explore, healthy):
    lat = healthy.latents
    panel = explore.selection
    # the points with shape 0, selected through the scatter as a shape would
    chosen = np.flatnonzero(lat.factors[:, 0] == 0)[:20]
    explore.scatter.cursor.set_selection(chosen)
    np.testing.assert_array_equal(panel.cursor.selection, chosen)
    assert "20" in panel.heading.text()
    shown = panel.shown_positions()
    assert panel.images.images().shape[0] * panel.images.images().shape[1] >= len(shown)
    np.testing.assert_array_equal(panel.images.images().reshape(-1, *lat.x.shape[1:])[: len(shown)], lat.x[shown])
    # "Count by shape": all of the selection in shape 0, against the split's own shares
    panel.group_combo.setCurrentText("shape")
    sel, every = panel.histogram()
    assert sel[0] == 1.0 and every[0] < 0.6
    np.testing.assert_allclose(panel.mean_latent(), lat.mu[chosen].mean(0), rtol=1e-5)
    qtbot.mouseClick(panel.use_a, Qt.LeftButton)
    np.testing.assert_allclose(explore.traversal.interpolation_latents()[0], lat.mu[chosen].mean(0), rtol=1e-5)
    qtbot.mouseClick(panel.clear_button, Qt.LeftButton)
    assert len(explore.scatter.cursor.selection) == 0 and not panel.use_a.isEnabled()


@pytest.mark.parametrize("kind", ["csv", "npz"])
def test_exports_are_written_off_the_gui_thread(qtbot, explore, healthy, tmp_path, kind):
    lat = healthy.latents
    chosen = np.array([2, 7, 11])
    explore.scatter.cursor.set_selection(chosen)
    with qtbot.waitSignal(explore.exports.sig_done, timeout=10_000):
        explore.selection.request_export(kind, str(tmp_path / "picked"))
    path = tmp_path / f"picked.{kind}"
    assert "Wrote 3 examples" in explore.selection.status.text()
    if kind == "csv":
        rows = path.read_text().split()
        assert rows == ["index"] + [str(i) for i in lat.indices[chosen]]
    else:
        with np.load(path) as f:
            np.testing.assert_array_equal(f["images"], lat.x[chosen])
            np.testing.assert_array_equal(f["mu"], lat.mu[chosen])
            np.testing.assert_array_equal(f["factors"], lat.factors[chosen])
    with qtbot.waitSignal(explore.exports.sig_failed, timeout=10_000):
        explore.selection.request_export(kind, str(tmp_path / "no-such-folder" / "x"))
    assert "no-such-folder" in explore.selection.status.text()


def test_an_attribute_vector_moves_the_current_point_and_the_decoder_follows(qtbot, explore, healthy):
    lat = healthy.latents
    panel = explore.attribute
    panel.resize(900, 300)
    panel.show()  # the strip is decoded only where it can be seen
    qtbot.waitExposed(panel)
    panel.set_direction("shape", 2, 0)
    codes = lat.factors[:, 0]
    d = lat.mu[codes == 2].mean(0) - lat.mu[codes == 0].mean(0)
    np.testing.assert_allclose(panel.direction(), d, rtol=1e-4, atol=1e-6)
    explore.scatter.select(5)  # the walk starts at this example
    base = lat.mu[5]
    panel.set_alpha(1.5)
    np.testing.assert_allclose(explore.cursor.z, base + 1.5 * d, rtol=1e-3, atol=2e-3)  # sliders round to ticks
    np.testing.assert_allclose(explore.sliders.image(), healthy.decoder.decode(explore.cursor.z[None])[0],
                               atol=1e-5)
    # the strip shows the walk from α = -2 to +2
    # the strip follows the new start a moment later (one decode per burst of slider moves)
    centre = healthy.decoder.decode(base[None])[0]
    qtbot.waitUntil(lambda: np.allclose(panel.strip.images()[0, 4], centre, atol=1e-5), timeout=2000)
    assert panel.strip.images().shape[:2] == (1, 9)
    # a selection mean − mean of all, from the scatter's selection
    explore.scatter.cursor.set_selection(np.flatnonzero(codes == 1))
    panel.use_selection()
    np.testing.assert_allclose(panel.direction(), lat.mu[codes == 1].mean(0) - lat.mu.mean(0), rtol=1e-4, atol=1e-6)
    explore.scatter.clear_selection()
    assert panel.direction() is None and "empty" in panel.info.text()


def test_thumbnails_mode_draws_the_inputs_at_their_points_and_more_when_zoomed(qtbot, scatter, healthy):
    lat = healthy.latents
    qtbot.mouseClick(scatter.thumbs_check, Qt.LeftButton)
    assert scatter.thumbs.isVisible() and scatter.thumbs_spin.isVisible()
    picture = scatter.plot.grab().toImage()
    shown = scatter.thumbs.shown()
    assert 5 < len(shown) < len(lat)
    # no two thumbnails overlap on screen
    pos = np.array([[scatter.viewport_pos(i).x(), scatter.viewport_pos(i).y()] for i in shown])
    gap = np.abs(pos[:, None] - pos[None]).max(-1) + np.eye(len(pos)) * 1e9
    assert gap.min() >= scatter.thumbs_spin.value() - 1
    # the picture at a shown point is that point's input (grey sprite pixels, 28 px inside a 2 px frame)
    marker = scatter.plot.getPlotItem().vb.mapViewToScene(scatter.marker.pos())
    far = np.hypot(*(pos - [marker.x(), marker.y()]).T)  # the z marker and the A ring are drawn over the pictures
    i = int(shown[np.argmax(far)])
    p = scatter.plot.viewport().mapToParent(scatter.viewport_pos(i).toPoint())
    grey = np.array([[picture.pixelColor(p.x() - 16 + c, p.y() - 16 + r).red() for c in range(32)] for r in range(32)])
    target = lat.x[i, 0].astype(float)
    best = min(np.abs(grey[r:r + 28, c:c + 28] - target).mean() for r in range(5) for c in range(5))
    assert best < 8
    # zooming in (the wheel's job) shows more of them
    vb = scatter.plot.getPlotItem().vb

    def share_shown() -> float:
        (x0, x1), (y0, y1) = vb.viewRange()
        xy = scatter.coordinates()
        in_view = (xy[:, 0] > x0) & (xy[:, 0] < x1) & (xy[:, 1] > y0) & (xy[:, 1] < y1)
        return len(scatter.thumbs.shown()) / in_view.sum()

    before = share_shown()
    vb.scaleBy((0.4, 0.4))
    scatter.plot.grab()
    assert share_shown() > before
    qtbot.mouseClick(scatter.thumbs_check, Qt.LeftButton)
    assert not scatter.thumbs.isVisible()


def test_the_arithmetic_strip_of_a_conditional_decoder_uses_the_decoder_panel_s_label(qtbot):
    import torch

    from explorer.window.latent_panels import LatentPanels
    from trainer.config import ModelConfig
    from trainer.model.vae import VAE
    from trainer.analysis.snapshots import DecoderSnapshot, LatentSnapshot

    torch.manual_seed(0)
    decoder = DecoderSnapshot.from_model(VAE(ModelConfig(latent_dim=3, num_classes=10)))
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 10
    latents = LatentSnapshot(step=1, mu=rng.standard_normal((40, 3)).astype(np.float32),
                             logvar=np.zeros((40, 3), np.float32), x=np.zeros((40, 1, 28, 28), np.uint8),
                             indices=np.arange(40), labels=labels, class_names=tuple(str(i) for i in range(10)))
    ex = LatentPanels()
    for _, panel, _ in ex.docks():
        qtbot.addWidget(panel)
    ex.on_explore(decoder)
    ex.on_explore(latents)
    ex.flush()
    panel = ex.attribute
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_direction("label", 1, 0)
    ex.sliders.label_combo.setCurrentIndex(7)
    d = latents.mu[labels == 1].mean(0) - latents.mu[labels == 0].mean(0)
    z = ex.cursor.z[None] + np.linspace(-2, 2, 9)[:, None].astype(np.float32) * d[None]
    np.testing.assert_allclose(panel.strip.images()[0], decoder.decode(z, 7), atol=1e-5)
    assert not np.allclose(panel.strip.images()[0], decoder.decode(z, 0), atol=1e-4)
    ex.shutdown()
