"""The Information panel draws the engine's rate split per held-out evaluation, live and from a checkpoint."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from explorer.panels.information import InformationPanel
from explorer.panels.rd import RateDistortionPanel
from trainer.analysis.information_ceiling import ceiling_note
from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import EpochReport


@pytest.fixture(scope="module")
def trained():
    data = load_dataset(DatasetSpec(name="sprites", n=400, image_size=28, seed=2))
    trainer = Trainer(model_config_for(data, hidden=(32,), latent_dim=3), TrainConfig(epochs=3, batch_size=64), data)
    epochs = [r for r in trainer.run() if isinstance(r, EpochReport)]
    return trainer, epochs


def test_each_epoch_adds_the_rate_its_information_and_the_ceiling(qtbot, trained):
    trainer, epochs = trained
    panel = InformationPanel()
    qtbot.addWidget(panel)
    assert "after the first held-out evaluation" in panel.readout.text() and panel.ceiling() is None
    for report in epochs:
        panel.add_epoch(report)
    series = panel.series()
    steps = [r.step for r in epochs]
    assert list(series["rate"][0]) == steps and list(series["rate"][1]) == [r.test_kl for r in epochs]
    for key in ("mutual_information", "marginal_kl", "total_correlation", "dimwise_kl"):
        assert list(series[key][1]) == [r.rate_split[key] for r in epochs]
    assert panel.ceiling() == pytest.approx(np.log(len(trainer.dataset.x_test)))  # every held-out example
    text = panel.readout.text()
    assert f"{epochs[-1].rate_split['mutual_information']:.2f}" in text and "log N" in text
    assert "limits the information" in panel.toolTip()
    panel.clear()
    assert not len(panel.series()["rate"][0]) and panel.ceiling() is None


def test_an_opened_checkpoint_shows_its_split_and_an_older_one_shows_none(qtbot, trained):
    trainer, epochs = trained
    history = trainer.history.arrays()
    panel = InformationPanel()
    qtbot.addWidget(panel)
    panel.set_history(history)
    assert list(panel.series()["mutual_information"][1]) == [r.rate_split["mutual_information"] for r in epochs]
    assert list(panel.series()["rate"][1]) == pytest.approx([r.test_kl for r in epochs])
    older = {k: v for k, v in history.items() if not k.startswith("rate_split/")}
    panel.set_history(older)  # written before the split existed: an empty plot, no error
    assert not len(panel.series()["mutual_information"][0])


def test_the_rate_distortion_readout_names_the_information_inside_the_rate(qtbot):
    rd = RateDistortionPanel()
    qtbot.addWidget(rd)
    rd.add_steps(np.arange(1, 40), np.full(39, 12.0), np.full(39, 80.0))
    rd.refresh_now()
    assert "I(X;Z)" not in rd.readout.text()
    rd.set_information(4.25)
    assert "held-out I(X;Z) 4.25" in rd.readout.text()


def test_the_readout_gives_each_part_its_error_n_and_warns_when_i_is_short(qtbot, trained):
    trainer, epochs = trained
    panel = InformationPanel()
    qtbot.addWidget(panel)
    panel.add_epoch(epochs[-1])
    split = epochs[-1].rate_split
    text = panel.readout.text()
    assert f"{split['mutual_information']:.2f} ± {split['mutual_information_se']:.2f}" in text
    assert f"N = {split['n']:,} held-out examples" in text
    short = dict(split, mutual_information=7.0, mutual_information_se=0.02, mutual_information_at_half_n=6.6,
                 log_n=7.6, n=2000, near_ceiling=True)
    panel.add_epoch(dataclasses.replace(epochs[-1], step=epochs[-1].step + 1, rate_split=short))
    assert "⚠ I = 7.00 nats is within 2 of its ceiling log N = 7.60" in panel.readout.text()
    assert "absorb what it misses" in panel.warning()
    # an opened checkpoint says the same from its history's columns
    history = trainer.history.arrays()
    panel.set_history(history)
    last = {k.split("/")[1]: float(v[-1]) for k, v in history.items() if k.startswith("rate_split/")}
    assert panel.warning() == ceiling_note(last)  # from the history's newest row, not kept from before
    assert f"± {split['mutual_information_se']:.2f}" in panel.readout.text()


def test_a_tcvae_run_shows_its_batch_tc_beside_the_held_out_tc(qtbot):
    data = load_dataset(DatasetSpec(name="sprites", n=400, image_size=28, seed=2))
    trainer = Trainer(model_config_for(data, hidden=(32,), latent_dim=3),
                      TrainConfig(epochs=1, batch_size=64, objective="tcvae", report_every=2), data)
    list(trainer.run())
    history = trainer.history.arrays()
    panel = InformationPanel()
    qtbot.addWidget(panel)
    panel.set_history(history)
    steps, values = panel.series()["batch_tc"]
    assert list(steps) == list(history["batch_tc/step"]) and np.isfinite(values).all() and len(values) > 1
    assert f"what β weighs): <b>{values[-1]:.2f}</b>" in panel.readout.text()
    assert "total correlation" in panel.readout.text()
