"""Exact numbers from the Trainer: a stopped-and-resumed run has the uninterrupted run's history, a divergence
never fakes an epoch, the last good weights are finite, and samples/s means what it says across a pause."""

import math
import threading
import time

import numpy as np
import pytest
import torch

from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import DivergedReport, EpochReport, StepReport

# wall-clock columns: two uninterrupted runs differ in them too
TIMING_COLUMNS = {"steps/samples_per_s", "steps/elapsed_s"}


@pytest.fixture(scope="module")
def sprites():
    return load_dataset(DatasetSpec(name="sprites", n=400, image_size=28, seed=5))


def make_trainer(dataset, checkpoint=None, on_divergence="stop", **kwargs):
    cfg = model_config_for(dataset, hidden=(32,), latent_dim=3)
    # 360 training sprites / 32 = 12 steps an epoch (the last one short); report_every 5 does not divide 12
    train = dict(epochs=3, batch_size=32, lr=2e-3, seed=4, device="cpu", report_every=5)
    train.update(kwargs)
    return Trainer(cfg, TrainConfig(**train), dataset, checkpoint=checkpoint, on_divergence=on_divergence)


def stop_at(trainer, step):
    """Ask the trainer to stop after `step` optimizer steps: queued between steps, as the GUI's Stop is."""

    def check():
        if trainer.step + 1 >= step:
            trainer.stop()  # the step about to run still runs; the loop stops before the next one
        else:
            trainer.call_between_steps(check)

    trainer.call_between_steps(check)


def resumed_from(trainer, dataset, tmp_path, name):
    path = tmp_path / f"{name}.h5"
    save_checkpoint(path, trainer.checkpoint())
    ckpt = load_checkpoint(path)
    return Trainer(ckpt.model_config, ckpt.train_config, dataset, checkpoint=ckpt)


def comparable(history):
    return {k: v for k, v in history.arrays().items() if k not in TIMING_COLUMNS}


def test_a_run_stopped_mid_window_and_mid_epoch_resumes_into_the_uninterrupted_history(sprites, tmp_path):
    full = make_trainer(sprites)
    list(full.run())
    assert full.steps_per_epoch == 12

    # stop twice: inside a report window of epoch 1 (step 11), and inside a window of epoch 2 (step 17)
    part = make_trainer(sprites)
    stop_at(part, 11)
    list(part.run())
    assert part.step == 11
    part = resumed_from(part, sprites, tmp_path, "first")
    stop_at(part, 17)
    list(part.run())
    assert part.step == 17
    part = resumed_from(part, sprites, tmp_path, "second")
    list(part.run())

    expected, got = comparable(full.history), comparable(part.history)
    assert sorted(got) == sorted(expected)
    # report rows at the same steps: the interruption adds no row of its own (not [5, 10, 11, 12, ...])
    assert got["steps/step"].tolist() == expected["steps/step"].tolist()
    assert expected["steps/step"].tolist()[:4] == [5, 10, 12, 15]
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    for (name, a), b in zip(full.model.state_dict().items(), part.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_stop_right_after_an_epochs_last_step_leaves_the_epoch_to_the_resumed_run(sprites, tmp_path):
    full = make_trainer(sprites, epochs=2)
    list(full.run())

    part = make_trainer(sprites, epochs=2)
    stop_at(part, 12)
    got = list(part.run())
    assert part.step == 12 and not any(isinstance(r, EpochReport) for r in got)  # stopped: not evaluated
    part = resumed_from(part, sprites, tmp_path, "edge")
    list(part.run())
    expected, got = comparable(full.history), comparable(part.history)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def diverge_in_last_window(trainer):
    """Blow the learning rate up inside the epoch's last report window (steps 11 and 12 of 12)."""

    def check():
        if trainer.step + 1 >= 10:
            trainer.set_lr(1e39)  # float32 Adam: an infinite update at step 11, a NaN loss at step 12
        else:
            trainer.call_between_steps(check)

    trainer.call_between_steps(check)


def test_a_divergence_in_an_epochs_last_window_that_stops_training_neither_fakes_nor_evaluates_the_epoch(sprites):
    trainer = make_trainer(sprites, epochs=2, report_every=4)
    diverge_in_last_window(trainer)
    got = list(trainer.run())
    assert isinstance(got[-1], DivergedReport) and got[-1].step == 12
    assert not any(isinstance(r, EpochReport) for r in got)
    assert trainer.epoch == 0 and "epochs/epoch" not in trainer.history.arrays()


def test_a_divergence_in_an_epochs_last_window_that_pauses_ends_the_epoch_on_resume_with_real_train_metrics(sprites):
    trainer = make_trainer(sprites, epochs=1, report_every=4, on_divergence="pause")
    diverge_in_last_window(trainer)
    got = []
    for report in trainer.run():
        got.append(report)
        if isinstance(report, DivergedReport):
            assert trainer.paused
            trainer.set_lr(1e-3)
            threading.Timer(0.2, trainer.resume).start()
    epochs = [r for r in got if isinstance(r, EpochReport)]
    assert len(epochs) == 1
    steps = [r for r in got if isinstance(r, StepReport)]
    assert [r.step for r in steps] == [4, 8]  # the diverged window (steps 9-12) is in no report
    # the epoch's train metrics are its two finite windows, not zeros
    recon = np.average([r.recon for r in steps], weights=[4, 4])
    assert epochs[0].train_recon == pytest.approx(recon, rel=1e-5)
    assert epochs[0].train_recon > 1 and math.isfinite(epochs[0].test_elbo)


def test_the_weights_kept_for_recovery_are_finite_even_when_the_last_step_before_the_copy_blew_them_up(sprites):
    trainer = make_trainer(sprites, epochs=20, report_every=1)
    for report in trainer.run():
        if isinstance(report, StepReport) and report.step == 99:
            trainer.set_lr(1e39)  # applied to step 100, the step right before the copy every 100 steps
        if isinstance(report, DivergedReport):
            break
    assert report.step == 101, "step 100's loss was computed before its update, so it is finite"
    assert report.restored_step == 0  # the copy after step 100 would have held Inf
    assert all(torch.isfinite(v).all() for v in trainer.model.state_dict().values())


def test_samples_per_s_counts_the_time_before_a_pause_as_well_as_after(sprites):
    trainer = make_trainer(sprites, epochs=1, report_every=10)
    calls = {"n": 0}

    def slow_then_pause():
        calls["n"] += 1
        time.sleep(0.1)  # steps 1-5 of the window take 0.5 s or more between them
        if calls["n"] == 5:
            trainer.pause()
            threading.Timer(0.5, trainer.resume).start()
        else:
            trainer.call_between_steps(slow_then_pause)

    trainer.call_between_steps(slow_then_pause)
    first = next(r for r in trainer.run() if isinstance(r, StepReport))
    assert first.step == 10
    # 320 samples in at least 0.5 s of training: at most 640 samples/s (the pause itself is not training)
    assert first.samples_per_s <= 320 / 0.5
    assert first.elapsed_s >= 0.5
