"""The window names its figures for what they are: log p(x) only under a normalized likelihood, log p(x|y) for a
CVAE, and the Binarize choice reaches the training run."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from explorer.panels.elbo_gap import ElboGapPanel
from explorer.runtime.background import LatestJob
from trainer.config import DatasetSpec, TrainConfig
from trainer.data.dataset import Dataset
from trainer.analysis.publishing import ExplorePublisher
from trainer.analysis.snapshots import DecoderSnapshot, LatentSnapshot
from trainer.model.likelihood import data_is_binary
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def grey():
    """Grey-level blobs (uint8 0..255 with most pixels in between), two classes."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:16, 0:16]
    c = rng.uniform(4, 12, size=(240, 2))
    x = (255 * np.exp(-((yy[None] - c[:, 0, None, None]) ** 2 + (xx[None] - c[:, 1, None, None]) ** 2)
                      / 18)).astype(np.uint8)
    y = (c[:, 0] > 8).astype(np.int64)
    return Dataset(DatasetSpec(name="path", path="grey.npz"), x[:200, None], x[200:, None], y[:200], y[200:],
                   num_classes=2, class_names=("top", "bottom"))


def published(dataset, **train) -> tuple[DecoderSnapshot, LatentSnapshot]:
    """What the worker publishes for a briefly trained model: its decoder and its held-out encoding."""
    conditional = train.pop("conditional", False)
    trainer = Trainer(model_config_for(dataset, conditional=conditional, hidden=(32,), latent_dim=2),
                      TrainConfig(epochs=1, batch_size=40, device="cpu", **train), dataset)
    list(trainer.run())
    items = ExplorePublisher().poll(trainer, force=True)
    return (next(i for i in items if isinstance(i, DecoderSnapshot)),
            next(i for i in items if isinstance(i, LatentSnapshot)))


def estimate(qtbot, panel, decoder, latents) -> dict:
    panel.set_model(decoder)
    panel.set_data(latents.x, latents.labels, latents.meaning)
    panel.k_spin.setValue(4)
    panel.n_spin.setValue(20)
    qtbot.mouseClick(panel.button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    return panel.result()


def test_a_bernoulli_decoder_on_grey_levels_is_not_said_to_estimate_log_px(qtbot, grey):
    panel = ElboGapPanel(LatestJob("vae-explorer IWAE"))
    qtbot.addWidget(panel)
    panel.show()
    decoder, latents = published(grey)
    assert not latents.meaning.normalized
    panel.set_model(decoder)
    panel.set_data(latents.x, latents.labels, latents.meaning)
    assert "log p(x)" not in panel.button.text() and panel.button.text() == "Estimate the IWAE bound (K=100)"
    assert "not a log-likelihood" in panel.note.text() or "not a\nlog-likelihood" in panel.note.text()
    result = estimate(qtbot, panel, decoder, latents)
    assert result is not None
    assert "log p(x)" not in panel.logpx_caption.text() and "not a log-likelihood" in panel.logpx_caption.text()
    assert panel.elbo_caption.text() == "ELBO (no bound)"


def test_binarized_training_scores_a_binarized_held_out_set_and_calls_it_log_px(qtbot, grey):
    panel = ElboGapPanel(LatestJob("vae-explorer IWAE"))
    qtbot.addWidget(panel)
    decoder, latents = published(grey, binarize="dynamic")
    assert latents.meaning.normalized and data_is_binary(latents.x)  # the panel scores the binarized sample
    estimate(qtbot, panel, decoder, latents)
    assert panel.logpx_caption.text() == "log p(x) ≈ (IWAE, K=4)" and panel.elbo_caption.text() == "ELBO"


def test_a_cvae_estimate_is_log_p_of_x_given_y(qtbot, grey):
    panel = ElboGapPanel(LatestJob("vae-explorer IWAE"))
    qtbot.addWidget(panel)
    decoder, latents = published(grey, binarize="static", conditional=True)
    estimate(qtbot, panel, decoder, latents)
    assert panel.logpx_caption.text() == "log p(x|y) ≈ (IWAE, K=4)"
    assert panel.button.text() == "Estimate log p(x|y) (IWAE, K=4)"


def test_the_binarize_choice_trains_the_run_and_locks_with_the_model(qtbot, small_window):
    win = small_window(sprites_n=600)
    win.controls.binarize_combo.setCurrentText("static")
    assert win.run_settings.value.train_config().binarize == "static"
    win.start_action.trigger()
    qtbot.waitUntil(lambda: win.session.worker.trainer is not None and win.session.worker.trainer.step >= 10,
                    timeout=WAIT_MS)
    trainer = win.session.worker.trainer
    assert trainer.config.binarize == "static"
    assert not win.controls.binarize_combo.isEnabled()  # a setting of the model: locked while it exists


def test_the_estimate_says_why_it_does_not_compare_with_a_published_figure(qtbot, grey):
    panel = ElboGapPanel(LatestJob("vae-explorer IWAE"))
    qtbot.addWidget(panel)
    decoder, latents = published(grey, binarize="dynamic")
    assert latents.provenance is not None and latents.provenance.label == "grey.npz"
    panel.set_latents(latents)
    estimate(qtbot, panel, decoder, latents)
    reason = "Not comparable with published figures: dataset: grey.npz is not mnist as published"
    assert reason in panel.published.text()


def test_an_estimate_under_a_rows_protocol_names_the_row_and_its_distance(qtbot, grey):
    import dataclasses

    from trainer.comparability.protocols import protocol

    jobs = LatestJob("vae-explorer IWAE")
    panel = ElboGapPanel(jobs)
    qtbot.addWidget(panel)
    decoder, latents = published(grey, binarize="dynamic")
    # the provenance of a run on MNIST's published files that follows the VAE row (what the publisher would send)
    row = protocol("burda16-vae-1layer-k1")
    prov = dataclasses.replace(latents.provenance, identity="mnist", split="standard", train_examples=60_000,
                               test_examples=10_000, epochs=10,
                               train_config=dataclasses.replace(latents.provenance.train_config, protocol=row.name))
    panel.set_model(decoder)
    panel.set_latents(dataclasses.replace(latents, provenance=prov))
    # an estimate with the row's K on the 10,000 test images finishing (the job's own signal, its result's keys)
    jobs.sig_done.emit(0, {"elbo": -99.0, "log_px": -95.5, "gap": 3.5, "k": 5000, "n": 10_000, "step": 30_000,
                           "log_px_se": 0.2})
    text = panel.published.text()
    assert "Comparable with <b>Burda et al., MNIST, VAE, 1 stochastic layer, k = 1</b>" in text
    assert "published -86.76, Δ -8.74 nats; epochs 10 here, 3,280 there" in text
