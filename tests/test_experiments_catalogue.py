"""The guided experiments are the engine's (trainer.experiments): a catalogue of configs and conclusions written
from the runs' numbers, importable and usable without a window."""

from __future__ import annotations

import subprocess
import sys

from trainer.config import ModelConfig, TrainConfig
from trainer.experiments import EXPERIMENTS
from trainer.experiments.conclusions import conclusion, result_points
from trainer.training.sweep_summary import SummaryRow


def test_the_catalogue_imports_without_qt():
    code = ("import sys, trainer.experiments.conclusions; "
            "print(any(m.split('.')[0] in ('PySide6', 'explorer', 'pyqtgraph') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_each_experiment_plans_valid_configs_stage_by_stage():
    keys = [e.key for e in EXPERIMENTS]
    assert len(keys) == len(set(keys))
    for experiment in EXPERIMENTS:
        plan = experiment.plan()
        assert len(plan) == len(experiment.stages) * max(1, len(experiment.variants))
        for _label, model, train in plan:
            assert isinstance(model, ModelConfig) and isinstance(train, TrainConfig)
            assert train.epochs in experiment.stages
        assert experiment.data.name == "sprites" and experiment.data.image_size == 28
    inference = next(e for e in EXPERIMENTS if e.key == "inference")
    assert [(label, model.encoder_hidden, train.epochs) for label, model, train in inference.plan()] == [
        ("small-encoder", (32,), 1), ("small-encoder", (32,), 3), ("small-encoder", (32,), 10),
        ("large-encoder", (1024,), 1), ("large-encoder", (1024,), 3), ("large-encoder", (1024,), 10)]
    assert inference.runs == 2
    assert next(e for e in EXPERIMENTS if e.key == "tcvae").runs == 6  # 2 objectives x 3 seeds


def row(beta: float, rate: float, distortion: float, active: int, status: str = "done") -> SummaryRow:
    return SummaryRow(run=f"beta-{beta:g}_seed-0", beta=beta, seed=0, free_bits=0.0, beta_schedule="constant",
                      status=status, rate=rate, distortion=distortion, active_units=active)


def test_a_conclusion_reports_what_the_runs_measured_not_what_theory_predicts():
    collapse = next(e for e in EXPERIMENTS if e.key == "collapse")
    rows = [row(0.1, 25.0, 60.0, 10), row(30.0, 0.4, 140.0, 1)]
    assert result_points(collapse, [rows]) == (["0.1", "30"], [25.0, 0.4])
    text = conclusion(collapse, [rows])
    assert "At β = 30 the rate is 0.40 nats with 1 of 10 dimensions active" in text
    assert "distortion rose from 60.0 to 140.0" in text
    # a run that did not finish is named; none finished: the panel says so instead of a result
    assert "1 run(s) did not finish: beta-30_seed-0" in conclusion(collapse, [[rows[0], row(30.0, 0, 0, 0, "failed")]])
    assert "No run finished" in conclusion(collapse, [[row(30.0, 0, 0, 0, "failed")]])


def test_closing_the_holes_compares_the_two_priors_by_what_they_measured():
    import dataclasses

    holes = next(e for e in EXPERIMENTS if e.key == "holes")
    plan = holes.plan()
    assert [model.prior for _, model, _ in plan] == ["standard", "vamp"] and plan[1][1].pseudo_inputs == 100

    def measured(marginal_kl: float, information: float) -> SummaryRow:
        return dataclasses.replace(row(3.0, marginal_kl + information, 30.0, 10), marginal_kl=marginal_kl,
                                   marginal_kl_se=0.05, mutual_information=information, mutual_information_se=0.04,
                                   elbo=-33.0, log_n=6.91)

    rows = [[measured(2.28, 4.79)], [measured(1.48, 5.26)]]
    assert result_points(holes, rows) == (["standard-prior", "vampprior"], [2.28, 1.48])
    text = conclusion(holes, rows)
    assert "marginal KL is 1.48 nats against N(0, I)'s 2.28" in text and "left fewer holes" in text
    worse = conclusion(holes, [[measured(1.0, 4.0)], [measured(1.5, 4.0)]])
    assert "did not bring p(z) closer" in worse
