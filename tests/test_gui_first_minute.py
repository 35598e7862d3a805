"""The first minute in the window (issue 11), driven offscreen with pytest-qt.

A new user at 1600x1000 saw: a 1280x800 window whose curve plots were ~40 px tall; image grids of ~10 px
tiles in panels hundreds of px wide; Continue on the finished demo doing nothing; the KL strip and the decoder
saying "8 of 8 active" while three dimensions had almost no KL; status messages cut mid-word.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QScreen, QStatusTipEvent
from PySide6.QtWidgets import QApplication, QLabel

from explorer.window.main_window import MainWindow
from explorer.models.run_state import RunState
from explorer.panels.decoder import DecoderSlidersPanel
from explorer.panels.samples import SamplesPanel
from explorer.panels.traversal import TraversalPanel
from explorer.plotting.image_grid import ImageGridView
from explorer.runtime.messages import CurveBatch
from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import StepReport
from window_log import close, new_window, seen

WAIT_MS = 60_000
SCREEN = QRect(0, 0, 1600, 1000)
"""The new user's Xvfb screen."""


@pytest.fixture
def big_screen(monkeypatch):
    """Every screen reports the user's 1600x1000 as its available area (the offscreen one is 800x800)."""
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(SCREEN))


@pytest.fixture(scope="module")
def sprites28():
    return load_dataset(DatasetSpec(name="sprites", n=600, image_size=28))


@pytest.fixture(scope="module")
def model8(sprites28):
    """A briefly trained 8-dimensional model: its decoder snapshot, held-out encoding and a live report."""
    trainer = Trainer(model_config_for(sprites28, latent_dim=8, hidden=(64,)),
                      TrainConfig(epochs=1000, batch_size=32, lr=3e-3, device="cpu"), sprites28)
    reports = [r for r in trainer.run(max_steps=40) if isinstance(r, StepReport)]
    return (DecoderSnapshot.from_model(trainer.model, step=trainer.step),
            encode_heldout(trainer.model, sprites28, "cpu", step=trainer.step), reports[-1])


# --- 1. window size ----------------------------------------------------------------------------------
def test_first_launch_fills_most_of_the_screen_then_the_size_left_is_remembered(qtbot, big_screen):
    win = new_window(qtbot)
    win.show()
    qtbot.waitExposed(win)
    frame = win.frameGeometry()
    assert SCREEN.contains(frame), f"{frame} must fit the available {SCREEN}"
    assert win.width() >= 0.85 * SCREEN.width() and win.height() >= 0.85 * SCREEN.height()
    first = (win.width(), win.height())
    win.resize(1200, 820)
    close(win)  # saves the geometry

    again = new_window(qtbot)
    again.show()
    qtbot.waitExposed(again)
    # what the user left wins over the screen share (Qt's restoreGeometry then fits it to the offscreen screen,
    # which is smaller than the window's minimum, so only "not the first-launch size" can be checked here)
    assert again.width() < first[0] and again.height() < first[1], (again.size(), first)
    close(again)


def test_curve_plots_keep_a_readable_height_in_a_1280x800_window(qtbot):
    win = new_window(qtbot)
    win.banner.show_message("Demo model (sprites): drag the Decoder sliders, click points in the latent space. "
                            "Continue trains it further; Reset sets up your own.", "info")
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    qtbot.wait(50)
    heights = {key: plot.vb.height() for key, plot in win.curves.plots.items()}
    assert min(heights.values()) >= 85, f"curve plots' data areas (px): {heights}"
    close(win)


# --- 2. image grids ----------------------------------------------------------------------------------
def checkerboard(n: int, size: int) -> np.ndarray:
    """n (1, size, size) images of 1-px black and white squares: what nearest-neighbour shrinking wrecks."""
    board = (np.indices((size, size)).sum(0) % 2).astype(np.float32)
    return np.repeat(board[None, None], n, axis=0)


def grabbed_grey(view: ImageGridView, row: int, col: int) -> np.ndarray:
    """The grey levels (0..255) the view drew inside tile (row, col)."""
    image = view.grab().toImage()
    rect = view.tile_rect(row, col).toAlignedRect()
    scale = image.devicePixelRatio()
    out = np.empty((rect.height(), rect.width()))
    for y in range(rect.height()):
        for x in range(rect.width()):
            out[y, x] = image.pixelColor(int((rect.left() + x) * scale), int((rect.top() + y) * scale)).red()
    return out


def test_grid_tiles_scale_up_by_whole_factors_crisply_and_follow_resizes(qtbot):
    rng = np.random.default_rng(0)
    image = rng.random((1, 1, 28, 28)).astype(np.float32)
    view = ImageGridView()
    qtbot.addWidget(view)
    view.set_images(image, ncols=1, pad=0)
    view.resize(120, 120)
    view.show()
    qtbot.waitExposed(view)
    small = view.tile_rect(0, 0)
    assert small.height() == small.width() == 4 * 28  # the biggest whole zoom that fits 120 px
    drawn = grabbed_grey(view, 0, 0)
    expected = np.kron(np.round(image[0, 0] * 255), np.ones((4, 4)))
    np.testing.assert_allclose(drawn, expected, atol=1)  # nearest neighbour: every pixel a crisp 4x4 square
    view.resize(210, 210)
    qtbot.wait(10)
    assert view.tile_rect(0, 0).height() == 7 * 28  # 7.1x fits: 7x, not 7.1x (uneven pixels)
    view.set_images(rng.random((1, 1, 48, 48)), ncols=1, pad=0)
    view.resize(80, 80)
    qtbot.wait(10)
    assert view.tile_rect(0, 0).height() == 48  # 1.5x fits: 1x, not every other pixel doubled
    view.set_images(image, ncols=1, pad=0)
    view.resize(120, 120)
    qtbot.wait(10)
    assert view.tile_rect(0, 0) == small  # and back down with the view


def test_the_decoded_image_grows_with_its_panel_up_to_a_sensible_maximum(qtbot, model8):
    decoder, _, _ = model8
    panel = DecoderSlidersPanel()
    qtbot.addWidget(panel)
    panel.set_decoder(decoder)
    panel.resize(460, 900)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.wait(10)
    view = panel.image_view
    tile = view.tile_rect(0, 0)
    assert tile.height() % 28 == 0 and tile.height() >= 3 * 28, (tile, view.size())
    panel.resize(1400, 1800)
    qtbot.wait(10)
    assert view.width() > 2 * 224 and view.height() > 2 * 224, view.size()
    assert view.tile_rect(0, 0).height() == 8 * 28, "capped at 8x (224 px), not stretched over the panel"


def test_grid_tiles_shrunk_below_their_size_are_averaged_not_decimated(qtbot):
    view = ImageGridView()
    qtbot.addWidget(view)
    view.set_images(checkerboard(54, 64).reshape(6, 9, 1, 64, 64))
    view.resize(320, 200)  # 6 rows of 64 px in ~190 px: under half size
    view.show()
    qtbot.waitExposed(view)
    tile = view.tile_rect(2, 4)
    assert 12 <= tile.height() < 64
    grey = grabbed_grey(view, 2, 4)[2:-2, 2:-2]
    # averaged, the 1-px squares make an even mid grey; dropped pixels would leave black and white (std ~127)
    assert 90 < grey.mean() < 165 and grey.std() < 40, (grey.mean(), grey.std())


def test_sample_grids_take_the_columns_that_make_their_tiles_biggest(qtbot, model8, sprites28):
    from trainer.analysis.snapshots import preview_images

    decoder, _, _ = model8
    preview = preview_images(decoder, sprites28.x_test[:8], n_samples=32, seed=1, step=decoder.step)
    panel = SamplesPanel()
    qtbot.addWidget(panel)
    panel.set_preview(preview)
    shapes, tiles = {}, {}
    for name, size in (("wide", (1400, 260)), ("tall", (600, 900))):
        panel.resize(*size)
        panel.show()
        qtbot.waitExposed(panel)
        qtbot.wait(10)
        shapes[name] = panel.samples_view.images().shape[:2]
        tiles[name] = panel.samples_view.tile_rect(0, 0).height()
        # the tiles really use the room: the grid spans most of the view's width or of its height
        view = panel.samples_view
        rows, cols = shapes[name]
        span = view.tile_rect(rows - 1, cols - 1).bottomRight() - view.tile_rect(0, 0).topLeft()
        assert span.x() >= 0.7 * view.width() or span.y() >= 0.7 * view.height(), (name, span, view.size())
    assert shapes["wide"][1] > shapes["wide"][0] and shapes["tall"][0] > shapes["tall"][1], shapes
    assert min(tiles.values()) >= 2 * 28  # 32 samples of 28 px at 2x or more in either shape


def test_a_docked_traversal_of_64px_sprites_gets_readable_tiles(qtbot):
    """The demo's 64x64 sprites, six dimensions by nine steps, in the Traversals dock of a 1440x900 window."""
    dataset = load_dataset(DatasetSpec(name="sprites", n=200, image_size=64))
    trainer = Trainer(model_config_for(dataset, latent_dim=8, hidden=(32,)), TrainConfig(device="cpu"), dataset)
    decoder = DecoderSnapshot.from_model(trainer.model, step=0)  # untrained: only the sizes matter here
    panel = TraversalPanel()
    qtbot.addWidget(panel)
    panel.resize(623, 363)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_decoder(decoder)
    panel.cursor.set_end("a", np.zeros(8), "#0")
    panel.cursor.set_end("b", np.ones(8), "#1")
    panel.refresh_now()
    qtbot.wait(20)  # the strip's share of the height is applied by a re-layout
    traversal = panel.traversal_view.tile_rect(0, 0).height()
    strip = panel.interp_view.tile_rect(0, 0).height()
    assert panel.traversal_view.images().shape[:2] == (6, 9)
    assert traversal >= 26 and strip >= 26, (traversal, strip)  # were 17 px and 45 px
    assert abs(traversal - strip) <= 4  # the strip takes no more than its share


# --- 3. Continue on a finished run -------------------------------------------------------------------
def test_continue_on_a_finished_run_trains_the_epochs_value_more(qtbot, tmp_path):
    from trainer.checkpoints.hdf5 import save_checkpoint

    spec = DatasetSpec(name="sprites", n=600, image_size=28)
    dataset = load_dataset(spec)
    trainer = Trainer(model_config_for(dataset, latent_dim=3, hidden=(64,)), TrainConfig(epochs=1, batch_size=64),
                      dataset)
    for _ in trainer.run():
        pass
    assert trainer.finished
    done = trainer.step
    path = tmp_path / "finished.h5"
    save_checkpoint(path, trainer.checkpoint())

    win = new_window(qtbot)
    win.show()
    win.open_checkpoint(str(path))
    qtbot.waitUntil(lambda: win.state is RunState.STOPPED and win.controls.epochs_spin.value() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Continue trains 1 epoch more" in win.status.currentMessage(), timeout=WAIT_MS)
    qtbot.mouseClick(win.toolbar.widgetForAction(win.start_action), Qt.LeftButton)
    qtbot.waitUntil(lambda: seen(win).report is not None and seen(win).report.step > done, timeout=WAIT_MS)
    # said where it stays until read (issue 35: a status message was overwritten within a second, "silently")
    assert "Continue trains 1 more, so Epochs now shows the new total, 2" in win.banner.text()
    assert win.controls.epochs_spin.value() == 2  # the new total, shown where the user sets it
    qtbot.waitUntil(lambda: win.state is RunState.STOPPED, timeout=WAIT_MS)
    assert win.session.worker.trainer.epoch == 2 and seen(win).report.step == 2 * done
    assert win.status.epoch_label.text() == "epoch 2 / 2"
    win.clear_run()  # Reset: the raised total went with that run
    assert win.controls.epochs_spin.value() == 1
    close(win)


# --- 4. one decision about which dimensions are active ---------------------------------------------
def headlines(win: MainWindow) -> tuple[str, str]:
    """Active dimensions as counted by the KL strip's headline and by the decoder panel's summary line ("—":
    none counted)."""
    kl_count = win.explore.kl.summary.text().split("active units</b>")[1].split("/")[0].strip()
    decoder_count = win.explore.sliders.summary.text().split(" of ")[0].strip()
    return kl_count, decoder_count


def slider_labels(win: MainWindow) -> list[bool]:
    """Per dimension, whether its slider row is labelled active (not "inactive", not greyed)."""
    sliders = win.explore.sliders
    return ["inactive" not in sliders.row_text(d) for d in range(len(sliders.cursor.z))]


def bar_colours(win: MainWindow) -> list[bool]:
    """Per dimension, whether its KL bar is drawn in the active colour."""
    return [bool(a) for a in win.explore.kl.active()]


def test_kl_strip_and_sliders_agree_when_beta_was_raised_after_the_last_encoding(qtbot, model8):
    decoder, latents, report = model8
    win = new_window(qtbot)
    win.resize(1440, 900)
    win.show()
    explore = win.explore
    worker = win.session.worker
    # the encoding at step 1,000 found every dimension in use ...
    encoded = dataclasses.replace(decoder, step=1000)
    latents = dataclasses.replace(latents, step=1000, mu_variance=np.full(8, 0.5), kl_per_dim=np.full(8, 2.0))
    worker.sig_explore.emit(encoded)
    worker.sig_explore.emit(latents)
    qtbot.waitUntil(lambda: explore.latents is not None and not explore.pending, timeout=WAIT_MS)
    assert headlines(win) == ("8", "8") and all(slider_labels(win))

    # ... then β went up at step 1,050, and by step 1,150 three dimensions' KL has all but vanished
    live = np.array([2.0, 1.5, 1.8, 0.004, 2.2, 0.002, 1.1, 0.001])
    latest = dataclasses.replace(report, step=1150, beta=8.0, beta_target=8.0, kl_per_dim=live, kl=float(live.sum()))
    steps = np.array([1100.0, 1150.0])
    worker.sig_progress.emit(CurveBatch(step=steps, recon=np.full(2, 90.0), kl=np.full(2, live.sum()),
                                        elbo=np.full(2, -100.0), beta=np.full(2, 8.0),
                                        beta_changes=((1050, 8.0),), latest=latest))
    qtbot.waitUntil(lambda: "step 1,150" in explore.kl.summary.text(), timeout=5000)
    # the 150-step-old encoding predates the change, so no unit is counted until a fresh one: one definition
    # of an active unit (Var_x(μ) > 0.01), never the KL's meanwhile (issue 35: the count jumped between the two)
    assert headlines(win) == ("—", "—"), (explore.kl.summary.text(), explore.sliders.summary.text())
    assert "predates the β change" in explore.kl.summary.text()
    assert all(slider_labels(win)) and all(bar_colours(win))  # nothing called inactive on another rule

    # a fresh encoding after the change decides again, for all three views at once
    fresh = dataclasses.replace(latents, step=1200, kl_per_dim=live,
                                mu_variance=np.array([0.5, 0.5, 0.5, 0.0, 0.5, 0.0, 0.005, 0.0]))
    worker.sig_explore.emit(fresh)
    qtbot.waitUntil(lambda: "held-out encoding at step 1,200" in explore.kl.summary.text(), timeout=5000)
    expected = [True, True, True, False, True, False, False, False]
    assert headlines(win) == ("4", "4") and slider_labels(win) == expected and bar_colours(win) == expected
    # dimension 6 pays 1.1 nats of KL and is inactive all the same: its label says which measure decided
    assert "inactive" in win.explore.sliders.row_text(6) and "1.10" in win.explore.sliders.row_text(6)
    close(win)


# --- 5. status messages --------------------------------------------------------------------------------
def test_status_messages_are_cut_at_a_word_with_the_whole_text_in_the_tooltip(qtbot):
    win = new_window(qtbot)
    win.resize(1150, 760)
    win.show()
    qtbot.waitExposed(win)
    long = ("Could not read /home/user/data/very/long/path/to/some/folder/train-images-idx3-ubyte.gz: the file "
            "ends after 4,096 of 47,040,016 bytes (truncated download?); delete it and download it again, or "
            "choose another folder in the Controls panel.")
    win.status.showMessage(long)
    qtbot.wait(10)
    label = win.status.childAt(8, win.status.height() // 2)  # what the user sees at the message's place
    assert isinstance(label, QLabel), f"no widget shows the message there, only QStatusBar's clipped text: {label}"
    assert label is win.status.message_label
    shown = label.text()
    assert shown.endswith("…") and len(shown) < len(long)
    kept = shown[:-1]
    assert long.startswith(kept) and long[len(kept)] in " ,;:.", f"cut mid-word: {shown!r}"
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    assert label.toolTip() == long  # readable in full
    win.status.showMessage("Saved run.h5 (step 1,200)")
    assert label.text() == "Saved run.h5 (step 1,200)"
    # the status tips Qt shows itself (menus, toolbar) go through the same label
    QApplication.sendEvent(win, QStatusTipEvent(long))
    assert label.text() == shown and label.toolTip() == long
    win.status.clearMessage()
    assert label.text() == ""
    close(win)
