"""trainer.training.ensemble: runs stepped together as one batched model train exactly as they would alone."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.training.ensemble import Ensemble
from trainer.errors import ConfigError
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import DivergedReport, EpochReport

TIME_COLUMNS = ("samples_per_s", "elapsed_s")


@pytest.fixture(scope="module")
def data():
    return load_dataset(DatasetSpec(name="sprites", n=500, image_size=28))


@pytest.fixture(scope="module")
def model_cfg(data):
    return model_config_for(data, hidden=(48,), latent_dim=3)


BASE = TrainConfig(epochs=2, batch_size=40, lr=2e-3, report_every=4, device="cpu")
CONFIGS = [dataclasses.replace(BASE, beta=0.5, seed=0), dataclasses.replace(BASE, beta=4.0, seed=1),
           dataclasses.replace(BASE, beta=1.0, seed=0, beta_schedule="warmup:20", free_bits=0.2)]


def trained_alone(model_cfg, configs, data) -> list[Trainer]:
    """Each config trained by a Trainer of its own, to the end: what an ensemble's runs must equal."""
    out = []
    for cfg in configs:
        t = Trainer(model_cfg, cfg, data)
        list(t.run())
        out.append(t)
    return out


def assert_same_history(a: dict, b: dict, rtol=1e-4, atol=1e-4) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key.split("/")[-1] in TIME_COLUMNS:
            continue
        np.testing.assert_allclose(a[key], b[key], rtol=rtol, atol=atol, err_msg=key)


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_each_run_of_an_ensemble_trains_as_it_would_alone(data, model_cfg, norm):
    """With batch norm, each run's running statistics are its own too (state_dict holds them). Its runs leave out
    the warm-up and free bits: where the KL has no gradient, the decoder's batch norm makes z's shift (fc_mu.bias)
    a symmetry whose gradient is zero up to rounding, and Adam scales rounding noise up to full steps."""
    model_cfg = dataclasses.replace(model_cfg, norm=norm)
    configs = CONFIGS if norm == "none" else CONFIGS[:2]
    alone = trained_alone(model_cfg, configs, data)
    together = [Trainer(model_cfg, cfg, data) for cfg in configs]
    epochs = [(t.config.beta, r.epoch) for t, r in Ensemble(together).run() if isinstance(r, EpochReport)]
    assert sorted(epochs) == sorted((c.beta, e) for c in configs for e in (1, 2))
    for a, b in zip(alone, together):
        assert (a.step, a.epoch) == (b.step, b.epoch) and b.finished
        assert_same_history(a.history.arrays(), b.history.arrays())
        for k, v in a.model.state_dict().items():
            torch.testing.assert_close(b.model.state_dict()[k], v, rtol=1e-3, atol=1e-4)
    # β differs, so the runs differ: the ensemble did not train one model three times
    assert alone[0].history.arrays()["steps/kl"][-1] != alone[1].history.arrays()["steps/kl"][-1]


@pytest.mark.parametrize("binarize", ["none", "dynamic"])
def test_runs_of_one_seed_share_their_batch_and_still_train_as_alone(data, model_cfg, binarize):
    configs = [dataclasses.replace(BASE, beta=b, seed=3, binarize=binarize) for b in (0.25, 1.0, 8.0)]
    alone = trained_alone(model_cfg, configs, data)
    together = [Trainer(model_cfg, cfg, data) for cfg in configs]
    ensemble = Ensemble(together)
    assert ensemble.shares_data  # one copy of each batch for all three runs
    list(ensemble.run())
    for a, b in zip(alone, together):
        assert_same_history(a.history.arrays(), b.history.arrays())
    assert not Ensemble([Trainer(model_cfg, c, data) for c in CONFIGS]).shares_data  # seeds 0 and 1


@pytest.mark.parametrize("stop_at", [17, 12], ids=["mid-epoch-and-window", "after-an-epochs-last-step"])
def test_an_ensemble_stopped_and_resumed_from_checkpoints_continues_the_same_runs(data, model_cfg, tmp_path, stop_at):
    straight = [Trainer(model_cfg, cfg, data) for cfg in CONFIGS]
    list(Ensemble(straight).run())

    first = [Trainer(model_cfg, cfg, data) for cfg in CONFIGS]
    assert first[0].steps_per_epoch == 12
    # stopped between steps, as Ctrl+C or a save-and-quit does: after step 12 the epoch is trained but not ended
    list(Ensemble(first).run(should_stop=lambda: first[0].step >= stop_at))
    paths = []
    for i, t in enumerate(first):
        paths.append(tmp_path / f"{i}.h5")
        save_checkpoint(paths[-1], t.checkpoint())
    again = [Trainer(model_cfg, cfg, data, checkpoint=load_checkpoint(p)) for cfg, p in zip(CONFIGS, paths)]
    assert {t.step for t in again} == {stop_at}
    list(Ensemble(again).run())
    for a, b in zip(straight, again):
        assert (a.step, a.epoch) == (b.step, b.epoch)
        assert_same_history(a.history.arrays(), b.history.arrays(), rtol=1e-5, atol=1e-5)


def test_a_diverged_run_is_dropped_with_its_last_good_weights_and_the_others_finish(data, model_cfg):
    trainers = [Trainer(model_cfg, cfg, data) for cfg in CONFIGS]
    ensemble = Ensemble(trainers)
    diverged = []
    for t, report in ensemble.run():
        if t is trainers[1] and t.step == 8 and not diverged:
            with torch.no_grad():  # its weights are views into the stack: poison them there
                next(t.model.parameters()).fill_(float("nan"))
        if isinstance(report, DivergedReport):
            diverged.append((t, report))
    assert [t for t, _ in diverged] == [trainers[1]]
    assert trainers[0].finished and trainers[2].finished and not trainers[1].finished
    bad = trainers[1]
    assert all(torch.isfinite(p).all() for p in bad.model.parameters())
    assert bad.checkpoint().progress["step"] == diverged[0][1].step
    assert ensemble.trainers == [trainers[0], trainers[2]]


def test_runs_that_cannot_share_one_batched_model_are_refused(data, model_cfg):
    other_lr = [Trainer(model_cfg, BASE, data), Trainer(model_cfg, dataclasses.replace(BASE, lr=1e-2), data)]
    with pytest.raises(ConfigError, match="learning rate"):
        Ensemble(other_lr)
    ahead = Trainer(model_cfg, BASE, data)
    list(ahead.run(max_steps=3))
    with pytest.raises(ConfigError, match="progress"):
        Ensemble([ahead, Trainer(model_cfg, BASE, data)])
