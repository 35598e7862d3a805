"""The Information panel draws the engine's rate split per held-out evaluation, live and from a checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.panels.information import InformationPanel
from explorer.panels.rd import RateDistortionPanel
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
