"""The ELBO gap panel's split into approximation and amortization gaps, and "Optimize q for this point", driven
offscreen around a small model trained on sprites, checked against trainer.analysis.inference_gaps."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from explorer.window.latent_panels import LatentPanels
from trainer.analysis.inference_gaps import SviSettings, inference_gaps
from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout
from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def trained():
    dataset = load_dataset(DatasetSpec(name="sprites", n=600, image_size=28))
    trainer = Trainer(model_config_for(dataset, latent_dim=4, hidden=(64,)),
                      TrainConfig(epochs=1000, batch_size=32, lr=3e-3, device="cpu"), dataset)
    for _ in trainer.run(max_steps=150):
        pass
    return (DecoderSnapshot.from_model(trainer.model, step=trainer.step),
            encode_heldout(trainer.model, dataset, "cpu", step=trainer.step))


@pytest.fixture
def explore(qtbot, trained):
    ex = LatentPanels()
    for _, panel, _ in ex.docks():
        qtbot.addWidget(panel)
    decoder, latents = trained
    ex.on_explore(decoder)
    ex.on_explore(latents)
    ex.flush()
    yield ex
    ex.shutdown()


def _split(qtbot, view) -> dict:
    with qtbot.waitSignal(view.sig_split, timeout=WAIT_MS) as done:
        qtbot.mouseClick(view.button, Qt.LeftButton)
        assert view.running and view.button.text() == "Cancel"  # the click returned while it runs
    qtbot.waitUntil(lambda: not view.running, timeout=WAIT_MS)
    return done.args[0]


def test_the_split_runs_in_the_background_and_shows_the_engines_numbers(qtbot, explore, trained):
    view = explore.gap.split
    view.n_spin.setValue(12)
    view.steps_spin.setValue(150)
    seen = []
    view.progress.valueChanged.connect(seen.append)
    result = _split(qtbot, view)
    assert seen and result["source"] == "held-out" and result["n"] == 12
    decoder, latents = trained
    engine = inference_gaps(decoder.build_model(), np.array(latents.x[:12]), None,
                            settings=SviSettings(max_steps=150), k=1000, seed=0).summary()
    for key in ("elbo_encoder", "elbo_optimized", "log_px", "amortization_gap", "approximation_gap"):
        assert result[key] == pytest.approx(engine[key], rel=1e-5, abs=1e-4), key
    assert result["amortization_gap"] > 0
    # drawn stacked: approximation from 0 (below it when negative: never clamped), amortization on top of it
    approx = view.approximation_bars.opts
    amort = view.amortization_bars.opts
    assert list(approx["height"]) == pytest.approx([result["approximation_gap"]])
    assert list(amort["y0"]) == pytest.approx([max(result["approximation_gap"], 0)])
    assert list(amort["height"]) == pytest.approx([result["amortization_gap"]])
    text = view.readout.text()
    assert f"{result['amortization_gap']:.2f}" in text and f"{result['approximation_gap']:.2f}" in text
    assert "amortization" in text and "approximation" in text
    assert result["log_px_estimator"] == engine["log_px_estimator"] == "ais" and "AIS from q*" in text
    # each example on the strip, negatives where they fall, counted and explained
    per = view.per_example()
    assert per["source"] == "held-out" and len(per["approximation"]) == 12
    assert np.mean(per["approximation"]) == pytest.approx(result["approximation_gap"], abs=1e-4)
    xs, _ = view.strip_points["approximation"].getData()
    assert sorted(xs) == pytest.approx(sorted(per["approximation"]))
    negatives = int(np.sum(per["approximation"] < 0)) + int(np.sum(per["amortization"] < 0))
    caption = view.strip_caption.text()
    assert ("estimator noise" in caption) == (negatives > 0) and ("every gap is ≥ 0" in caption) == (negatives == 0)


def test_the_split_cancels_and_keeps_the_last_result(qtbot, explore):
    view = explore.gap.split
    view.n_spin.setValue(4)
    view.steps_spin.setValue(50)
    first = _split(qtbot, view)
    view.n_spin.setValue(400)
    view.steps_spin.setValue(5000)
    qtbot.mouseClick(view.button, Qt.LeftButton)
    assert view.running
    qtbot.mouseClick(view.button, Qt.LeftButton)  # Cancel
    qtbot.waitUntil(lambda: not view.running, timeout=WAIT_MS)
    assert view.note.text() == "Cancelled." and view.result() is not None and view.result()["n"] == first["n"]


def test_the_split_of_a_selection(qtbot, explore):
    view = explore.gap.split
    view.set_source("selection")
    assert not view.button.isEnabled()  # nothing selected yet
    explore.cursor.set_selection([3, 5, 8, 13, 21])
    assert view.button.isEnabled() and "5 examples" in view.button.text()
    view.steps_spin.setValue(60)
    result = _split(qtbot, view)
    assert result["source"] == "selection" and result["n"] == 5
    assert view.result("selection") is result and view.result("held-out") is None
    assert list(view.amortization_bars.opts["x"]) == [1]  # the selection's column


def test_optimize_q_for_this_point_draws_its_path_and_the_decoder_switches(qtbot, explore, trained):
    _, latents = trained
    point_vi, scatter, sliders = explore.gap.point_vi, explore.scatter, explore.sliders
    explore.cursor.move_to(np.full(4, 0.123, np.float32))
    assert not point_vi.button.isEnabled()  # the sliders show no held-out example
    scatter.select(3)
    assert point_vi.button.isEnabled() and f"#{int(latents.indices[3])}" in point_vi.button.text()
    assert not sliders.q_switch.isVisibleTo(sliders)
    qtbot.mouseClick(point_vi.button, Qt.LeftButton)
    qtbot.waitUntil(lambda: explore.point.trace is not None and not point_vi.running, timeout=WAIT_MS)
    trace = explore.point.trace
    assert explore.point.position == 3
    np.testing.assert_allclose(trace.means[0], latents.mu[3], atol=1e-5)  # from the encoder's guess
    assert trace.elbo[-1] > trace.elbo[0]  # its ELBO rose
    x, y = point_vi.curve.getData()
    assert len(x) == trace.steps + 1
    # the path on the scatter, from the clicked point to q*
    px, py = scatter.vi_path_points()
    assert len(px) >= 2
    assert (px[0], py[0]) == pytest.approx(tuple(scatter.coordinates()[3]), abs=1e-4)
    assert (px[-1], py[-1]) == pytest.approx(scatter.project(trace.means[-1]), abs=1e-4)
    # the Decoder shows either end
    assert sliders.q_switch.isVisibleTo(sliders) and sliders.q_switch.showing == "encoder"
    encoder_image = sliders.image().copy()
    qtbot.mouseClick(sliders.q_switch.optimized_button, Qt.LeftButton)
    assert sliders.q_switch.showing == "optimized"
    np.testing.assert_array_equal(explore.cursor.z, trace.means[-1].astype(np.float32))
    assert not np.array_equal(sliders.image(), encoder_image)
    assert point_vi.example() == 3  # still this example at q*
    qtbot.mouseClick(sliders.q_switch.encoder_button, Qt.LeftButton)
    np.testing.assert_array_equal(explore.cursor.z, latents.mu[3])
    np.testing.assert_array_equal(sliders.image(), encoder_image)
    # new encodings: the trace described the old ones
    explore.on_explore(latents)
    explore.flush()
    assert explore.point.trace is None and not len(scatter.vi_path_points()[0])
    assert not sliders.q_switch.isVisibleTo(sliders)


def test_negative_gaps_are_drawn_where_they_fall_counted_and_explained(qtbot):
    from explorer.panels.gap_split import GapSplitView
    from explorer.runtime.background import LatestJob
    from trainer.analysis.inference_gaps import GapResult

    from PySide6.QtWidgets import QWidget

    host = QWidget()  # owns the job, as a window does: both go when the test's widgets are closed
    qtbot.addWidget(host)
    jobs = LatestJob("test gap split", host)
    view = GapSplitView(jobs, parent=host)
    encoder = np.array([-100.0, -100.0, -100.0, -100.0, -100.0])
    optimized = encoder + np.array([0.5, 0.4, 0.6, 0.5, -0.1])  # one example's VI ended a little worse
    log_px = optimized + np.array([-0.03, -0.02, 0.01, -0.05, 0.02])  # q* near exact: noise around 0
    result = GapResult(elbo_encoder=encoder, elbo_optimized=optimized, iwae_encoder=log_px - 1,
                       iwae_optimized=log_px, seconds_amortized=0.01, seconds_classical=1.0, steps=50.0, k=100)
    jobs.sig_done.emit(1, result)  # what the job sends of its newest submission
    assert list(view.approximation_bars.opts["height"]) == pytest.approx([np.mean(log_px - optimized)])
    assert view.approximation_bars.opts["height"][0] < 0  # a negative mean is drawn below 0, not clamped
    caption = view.strip_caption.text()
    assert "3 of 5 approximation gaps and 1 amortization gaps are below 0: estimator noise" in caption
    assert "A mean below 0 is estimator noise" in view.readout.text()
    xs, _ = view.strip_points["approximation"].getData()
    assert min(xs) == pytest.approx(-0.05)
    view.shutdown()
