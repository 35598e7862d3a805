"""Each epoch's held-out evaluation beside training (the window's way): the same numbers as in line, every epoch
reported, training going on meanwhile, and a checkpoint that waits for the rows it must hold."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from trainer.config import DatasetSpec
from trainer.data import load_dataset
from trainer.training.epoch_analyses import EpochAnalyses
from trainer.training.reports import EpochReport, StepReport

from test_loop import small_trainer


@pytest.fixture(scope="module")
def sprites():
    return load_dataset(DatasetSpec(name="sprites", n=640, image_size=28, seed=3))


def test_beside_training_gives_the_same_rows_as_in_line(sprites):
    in_line, beside = small_trainer(sprites, epochs=3), small_trainer(sprites, epochs=3)
    beside.epoch_analyses.beside = True
    a = [r for r in in_line.run() if isinstance(r, EpochReport)]
    b = [r for r in beside.run() if isinstance(r, EpochReport)]
    assert [r.epoch for r in b] == [1, 2, 3] and [r.step for r in b] == [r.step for r in a]
    for x, y in zip(a, b):  # scored on a copy of the very weights of the epoch's last step
        assert x.test_elbo == y.test_elbo and x.active_units == y.active_units
        assert x.rate_split == y.rate_split
    ha, hb = in_line.checkpoint().history, beside.checkpoint().history
    assert set(ha) == set(hb)
    for key in set(ha) - {"steps/samples_per_s", "steps/elapsed_s"}:  # the clock's, not the model's
        np.testing.assert_array_equal(ha[key], hb[key], err_msg=key)


def test_training_goes_on_while_an_epoch_is_evaluated_and_the_checkpoint_waits_for_it(sprites):
    trainer = small_trainer(sprites, epochs=2)
    trainer.epoch_analyses.beside = True
    per_epoch = trainer.steps_per_epoch
    scoring = trainer._epoch_report
    trained_past = threading.Event()

    def slow_report(model, closing):
        # the job waits until the training thread has taken a step of the next epoch: in line, it never would
        assert trained_past.wait(120), "training did not go on while the epoch was evaluated"
        return scoring(model, closing)

    trainer._epoch_report = slow_report
    seen = []
    for report in trainer.run(max_steps=per_epoch + 3):
        seen.append(report)
        if isinstance(report, StepReport) and report.step > per_epoch:
            trained_past.set()
    epochs = [r for r in seen if isinstance(r, EpochReport)]
    assert [r.epoch for r in epochs] == [1] and epochs[0].step == per_epoch  # the weights it scored
    assert seen.index(epochs[0]) > next(i for i, r in enumerate(seen) if isinstance(r, StepReport)
                                        and r.step > per_epoch)  # it came after later steps' reports
    assert list(trainer.checkpoint().history["epochs/step"]) == [per_epoch]


def test_a_failed_evaluation_is_raised_in_the_training_thread():
    analyses = EpochAnalyses(beside=True)
    analyses.submit(lambda: 1)
    analyses.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        analyses.collect(wait=True)
    assert analyses.pending == 0
