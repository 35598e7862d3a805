"""Events the Trainer yields beside its reports: a live β change is one BetaChanged, at the step it applied."""

import dataclasses

import pytest

from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import BetaChanged, EpochReport, StepReport


@pytest.fixture(scope="module")
def sprites():
    return load_dataset(DatasetSpec(name="sprites", n=200, image_size=28, seed=5))


def make_trainer(dataset):
    cfg = model_config_for(dataset, hidden=(16,), latent_dim=2)
    # 180 training sprites / 32 = 6 steps an epoch; reports at steps 5 and 6 (epoch end), 10, 12, ...
    return Trainer(cfg, TrainConfig(epochs=2, batch_size=32, lr=2e-3, seed=4, device="cpu", report_every=5), dataset)


def test_a_live_beta_change_yields_one_event_before_the_report_of_the_steps_it_applies_to(sprites):
    trainer = make_trainer(sprites)
    got = []
    for item in trainer.run():
        got.append(item)
        if isinstance(item, StepReport) and item.step == 5:
            trainer.set_beta(2.5)
        if isinstance(item, StepReport) and item.step == 10:
            trainer.set_beta(2.5)  # the value it already trains with: no change, no event
    events = [r for r in got if isinstance(r, BetaChanged)]
    assert events == [BetaChanged(step=5, value=2.5)]
    at = got.index(events[0])
    assert isinstance(got[at - 1], StepReport) and got[at - 1].step == 5 and got[at - 1].beta == 1.0
    after = got[at + 1]
    assert isinstance(after, StepReport) and after.step == 6 and after.beta == 2.5  # the step it applied to
    assert not any(isinstance(r, EpochReport) and r.step < 6 for r in got[at:])
    # the history keeps the change exactly as before (the checkpoint's beta_changes group)
    hist = trainer.history.arrays()
    assert hist["beta_changes/step"].tolist() == [5]
    assert hist["beta_changes/value"].tolist() == [2.5]


def test_beta_changed_is_frozen_and_a_run_without_changes_yields_none(sprites):
    event = BetaChanged(step=3, value=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.step = 4  # type: ignore[misc]
    assert not any(isinstance(r, BetaChanged) for r in make_trainer(sprites).run(max_steps=8))
