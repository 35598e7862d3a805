"""β-sweeps: many runs of one model, trained side by side, each written to its own checkpoint in one folder.

    runs = plan_runs(train_config, betas=[0.1, 1, 10], seeds=[0, 1])      # one SweepRun per (β, seed)
    result = run_sweep(Sweep(model_config, runs, dataset, Path("out")))    # trains, saves, evaluates
    result.rows                                                            # one SummaryRow per run
    # out/beta-0.1_seed-0.h5 ... out/summary.csv, out/summary_over_seeds.csv (trainer.training.sweep_summary)

Nothing is lost and nothing is repeated. A run whose checkpoint has all its epochs is not trained again; one
with fewer resumes from it. While training, every run is saved every `save_every_s` seconds and when the
sweep stops (Ctrl+C, or `should_stop`), atomically, so a killed sweep loses at most the time since the last
save. A run that fails (bad setting, divergence, an unreadable or foreign checkpoint in the folder) is a row
in the summary with its reason; the others go on, and a file that is not ours to overwrite is left alone.

The rate–distortion frontier of the runs' end points is trainer.analysis.rd.frontier_indices. Runs at the same point of
training are stepped together as one batched model (trainer.training.ensemble); `jobs`
worker processes split the runs between them (use it with several GPUs).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import multiprocessing
import os
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import RATE_SPLIT_POINTS, ModelConfig, TrainConfig
from trainer.schedules import BetaSchedule
from trainer.errors import ConfigError, VaeExplorerError
from trainer.training.loop import Trainer
from trainer.training.opening import open_trainer
from trainer.training.reports import DivergedReport, StepReport
from trainer.training.sweep_summary import (OVER_SEEDS_NAME, SUMMARY_FIELDS, SummaryRow, over_seeds,  # noqa: F401
                                            read_summary, write_over_seeds, write_summary)

SUMMARY_NAME = "summary.csv"
SUMMARY_SPLIT_POINTS = RATE_SPLIT_POINTS
"""Held-out examples the summary's rate split sums over: the epoch reports' and eval's N, so the three compare."""
SAVE_EVERY_S = 300.0
AXES = ("beta", "seed", "free_bits", "beta_schedule", "objective", "iwae_k")
"""The settings a sweep varies; every other setting is shared by its runs. iwae_k varies only the IWAE runs (the
other objectives have no K)."""
_SHORT = {"beta": "beta", "seed": "seed", "free_bits": "fb", "beta_schedule": "sched", "objective": "obj",
          "iwae_k": "k"}


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its full training settings and the name its checkpoint file carries."""

    name: str
    config: TrainConfig

    def checkpoint_path(self, folder: Path) -> Path:
        return folder / f"{self.name}.h5"


def _number(value: float) -> str:
    return f"{value:g}"


def _axis_values(axis: str, values) -> list | None:
    """The values a sweep lists for one setting, each checked by that setting's rule; None or [] lists none."""
    if values is None:
        return None
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, range)) and not hasattr(values,
                                                                                                  "tolist"):
        raise ConfigError(f"sweep: {axis} takes a list of values, got {type(values).__name__} {values!r:.60}")
    listed = values.tolist() if hasattr(values, "tolist") else list(values)
    rule = TrainConfig.rule(axis)
    checked = [rule.check(axis, v) for v in listed]
    if axis == "beta_schedule":
        for schedule in checked:
            BetaSchedule.parse(schedule)
    return checked


def plan_runs(base: TrainConfig, betas=None, seeds=None, free_bits=None, schedules=None,
              objectives=None, iwae_ks=None) -> list[SweepRun]:
    """Every combination of the listed values (None: the base config's value), named by what varies. The K of
    iwae_ks combine with the IWAE runs only: objectives elbo,iwae with K 5,50 plan an ELBO run and two IWAE runs."""
    given = {"beta": betas, "seed": seeds, "free_bits": free_bits, "beta_schedule": schedules,
             "objective": objectives, "iwae_k": iwae_ks}
    axes = {axis: _axis_values(axis, values) or [getattr(base, axis)] for axis, values in given.items()}
    for axis, values in axes.items():
        if len(set(values)) != len(values):
            raise VaeExplorerError(f"sweep: {axis} lists a value twice: {', '.join(map(str, values))}")
    if iwae_ks and "iwae" not in axes["objective"]:
        raise ConfigError("sweep: iwae_k lists the K of IWAE runs, and no run trains objective iwae")
    shown = [a for a in AXES if a in ("beta", "seed") or len(axes[a]) > 1]
    runs = []
    for objective, k, beta, fb, schedule, seed in itertools.product(
            axes["objective"], axes["iwae_k"], axes["beta"], axes["free_bits"], axes["beta_schedule"], axes["seed"]):
        if objective != "iwae" and k != axes["iwae_k"][0]:
            continue  # K varies the IWAE runs only
        cfg = dataclasses.replace(base, beta=beta, seed=seed, free_bits=fb, beta_schedule=schedule,
                                  objective=objective, iwae_k=k if objective == "iwae" else 1)
        values = {"beta": _number(cfg.beta), "seed": str(cfg.seed), "free_bits": _number(cfg.free_bits),
                  "beta_schedule": cfg.beta_schedule.replace(":", "-"), "objective": cfg.objective,
                  "iwae_k": str(cfg.iwae_k)}
        runs.append(SweepRun("_".join(f"{_SHORT[a]}-{values[a]}" for a in shown
                                      if a != "iwae_k" or objective == "iwae"), cfg))
    return runs


# --- training ----------------------------------------------------------------------------------------------
@dataclass
class Sweep:
    """What to train: one model configuration, its runs, the data, and the folder their checkpoints live in."""

    model_config: ModelConfig
    runs: list[SweepRun]
    dataset: object
    """trainer.data.dataset.Dataset, loaded once for every run."""
    folder: Path
    save_every_s: float = SAVE_EVERY_S
    iwae_samples: int = 0
    jobs: int = 1
    disentanglement_points: int = 0
    """Data with factors: DCI, SAP and the FactorVAE score of each finished run on this many points (0: none;
    disentanglement_lib's protocol uses 15,000, minutes per run on a CPU)."""
    gap_examples: int = 0
    """The amortization and approximation gaps of each finished run on this many held-out examples (0: none)."""
    tensorboard: str = ""
    """A folder for TensorBoard event files, one TensorBoard run per sweep run, named like its checkpoint."""


@dataclass
class RunOutcome:
    """What training did to one run: how far it got, and why it stopped short if it did."""

    status: str
    message: str = ""
    trained_samples: int = 0
    trainer: Trainer | None = field(default=None, repr=False, compare=False)
    """The run's Trainer as training left it (its checkpoint's state): the summary evaluates it without reading
    the checkpoint back. None for a run trained in a worker process, or not trained in this invocation."""


@dataclass
class SweepResult:
    rows: list[SummaryRow]
    wall_s: float
    """Seconds from the sweep's start (its data loaded) to its summary written, after the last checkpoint."""
    train_s: float
    """Seconds spent training (each epoch's evaluation and the saves included, the summary not)."""
    trained_samples: int
    """Training examples of all runs together, this invocation."""
    interrupted: bool = False
    outcomes: dict[str, RunOutcome] = field(default_factory=dict)

    @property
    def samples_per_s(self) -> float:
        """Training examples of all runs per second of wall_s: the work `train --json`'s samples_per_s counts."""
        return self.trained_samples / self.wall_s if self.wall_s > 0 else 0.0


def _trainer_for(sweep: Sweep, run: SweepRun) -> Trainer:
    """The run's Trainer: resumed from its checkpoint when the folder has one (under the one rule of
    trainer.training.opening: the settings must be this run's, the epochs may grow), else fresh."""
    path = run.checkpoint_path(sweep.folder)
    ckpt = load_checkpoint(path) if path.exists() else None
    if ckpt is None:
        return open_trainer(sweep.dataset, model=sweep.model_config, train=run.config, on_divergence="stop")
    try:
        return open_trainer(sweep.dataset, checkpoint=ckpt, where=str(path), model=sweep.model_config,
                            train=run.config, on_divergence="stop")
    except ConfigError as exc:
        raise ConfigError(f"{exc}; use another --out folder") from None


def train_runs(sweep: Sweep, runs: list[SweepRun], on_report: Callable,
               should_stop: Callable[[], bool]) -> dict[str, RunOutcome]:
    """Train these runs of the sweep to their epochs (or until should_stop), saving each; never raises for a run.

    on_report(run name, report) hears every StepReport, EpochReport and DivergedReport, from this thread."""
    outcomes: dict[str, RunOutcome] = {}
    groups: dict[tuple, list[tuple[SweepRun, Trainer]]] = {}
    for run in runs:
        try:
            trainer = _trainer_for(sweep, run)
        except VaeExplorerError as exc:
            outcomes[run.name] = RunOutcome("failed", str(exc))
            continue
        if trainer.finished:
            outcomes[run.name] = RunOutcome("done")
            continue
        # one ensemble per point of training and objective (a batched step computes one loss for all its runs)
        key = (trainer.step, trainer.epoch, trainer.batch_in_epoch, trainer.config.objective,
               trainer.samples_per_example)
        groups.setdefault(key, []).append((run, trainer))

    for members in groups.values():
        _train_group(sweep, members, on_report, should_stop, outcomes)
    return outcomes


def _train_group(sweep: Sweep, members: list[tuple[SweepRun, Trainer]], on_report, should_stop,
                 outcomes: dict[str, RunOutcome]) -> None:
    """Runs at one point of training, stepped together as one Ensemble; saved every save_every_s and at the end."""
    from trainer.training.ensemble import Ensemble

    run_of = {id(t): run for run, t in members}
    start_steps = {run.name: t.step for run, t in members}
    ensemble = Ensemble([t for _, t in members])
    last_save = time.monotonic()
    logs = {}
    try:
        if sweep.tensorboard:
            from trainer.training.tensorboard import TensorBoardLog

            for run, t in members:
                logs[run.name] = TensorBoardLog(sweep.tensorboard, run.name, t)
        for trainer, report in ensemble.run(should_stop=should_stop):
            run = run_of[id(trainer)]
            on_report(run.name, report)
            if logs:
                logs[run.name].add(report)
            if isinstance(report, DivergedReport):
                outcomes[run.name] = RunOutcome("failed", report.message)
            if isinstance(report, StepReport) and time.monotonic() - last_save >= sweep.save_every_s:
                _save(sweep, run_of, ensemble.trainers)
                last_save = time.monotonic()
    finally:
        _save(sweep, run_of, [t for _, t in members])  # whatever happened: every step trained is on disk
        for run, t in members:
            if run.name in logs:
                logs[run.name].close(finished=t.finished)
    for run, t in members:
        outcome = outcomes.setdefault(run.name, RunOutcome("done" if t.finished else "unfinished"))
        outcome.trained_samples = t.samples_since(start_steps[run.name])
        outcome.trainer = t


def _save(sweep: Sweep, run_of: dict[int, SweepRun], trainers: list[Trainer]) -> None:
    for t in trainers:
        save_checkpoint(run_of[id(t)].checkpoint_path(sweep.folder), t.checkpoint())


# --- evaluation --------------------------------------------------------------------------------------------
def evaluate_run(sweep: Sweep, run: SweepRun, outcome: RunOutcome, earlier: SummaryRow | None) -> SummaryRow:
    """The run's summary row: held-out R, D, ELBO, active units, MIG, IWAE of the Trainer training left
    (outcome.trainer), or of its checkpoint on disk."""
    from trainer.analysis.metrics import dataset_mig

    cfg = run.config
    path = run.checkpoint_path(sweep.folder)
    row = SummaryRow(run=run.name, beta=cfg.beta, seed=cfg.seed, free_bits=cfg.free_bits, objective=cfg.objective,
                     iwae_k=cfg.iwae_k, beta_schedule=cfg.beta_schedule, status=outcome.status, message=outcome.message)
    if outcome.status == "failed" and not outcome.trained_samples:
        return row  # nothing of ours to evaluate (a bad setting, or a file that is not this sweep's)
    try:
        trainer = outcome.trainer if outcome.trainer is not None else _trainer_for(sweep, run)
    except VaeExplorerError as exc:
        row.status, row.message = "failed", row.message or str(exc)
        return row
    row.checkpoint = str(path)
    row.steps, row.epochs = trainer.step, trainer.epoch
    done = outcome.status == "done"
    if (earlier is not None and earlier.status == "done" and done and earlier.steps == trainer.step
            and earlier.iwae_samples == sweep.iwae_samples and math.isfinite(earlier.mutual_information_se)
            and earlier.rate_split_n == min(SUMMARY_SPLIT_POINTS, len(sweep.dataset.x_test))
            and (not earlier.disentanglement_points or earlier.sap_protocol)
            and earlier.disentanglement_points == (sweep.disentanglement_points and row_points(sweep))
            and earlier.gap_examples == (sweep.gap_examples and min(sweep.gap_examples, len(sweep.dataset.x_test)))):
        return dataclasses.replace(earlier, checkpoint=str(path), message=row.message)  # nothing trained since
    full = done and sweep.iwae_samples > 0
    # the evaluation that closed the run's last epoch scored these very weights with the same seed: reused
    result = trainer.closing_evaluation()  # its rate split has the summary's N: SUMMARY_SPLIT_POINTS
    if result is None or full:
        fresh = trainer.evaluate_test(iwae_samples=sweep.iwae_samples if full else 0,
                                      rate_split_points=SUMMARY_SPLIT_POINTS if result is None else None)
        result = fresh if result is None else {**fresh, "rate_split": result["rate_split"]}
    if "kl_per_layer" not in result and trainer.model_config.layers > 1:
        result["kl_per_layer"] = [float(sum(result["kl_per_dim"][s])) for s in trainer.model_config.layer_slices()]
    row.rate, row.distortion, row.elbo = result["rate"], result["distortion"], result["elbo"]
    for key, value in result.get("rate_split", {}).items():
        if key == "n":
            row.rate_split_n = int(value)
        elif key != "layers":  # a hierarchy's per layer parts stay in its checkpoint's history
            setattr(row, key, math.nan if value is None else value)
    row.elbo_se = math.nan if result.get("elbo_se") is None else result["elbo_se"]
    row.active_units = int(result["active_units"])
    if "kl_per_layer" in result:
        row.rate_bottom_layer, row.rate_top_layer = result["kl_per_layer"][0], result["kl_per_layer"][-1]
    if full:
        row.iwae_log_px, row.iwae_samples = result["iwae_log_px"], sweep.iwae_samples
        row.iwae_log_px_se = math.nan if result.get("iwae_log_px_se") is None else result["iwae_log_px_se"]
    if done and sweep.gap_examples > 0:
        _measure_gaps(sweep, trainer, row)
    if done and sweep.dataset.factors_test is not None:
        row.mig = dataset_mig(trainer.model, sweep.dataset, trainer.device)["mig"]
        if sweep.disentanglement_points > 0:
            from trainer.analysis.disentanglement import dataset_disentanglement

            for key, value in dataset_disentanglement(trainer.model, sweep.dataset, trainer.device,
                                                      points=sweep.disentanglement_points).items():
                setattr(row, key, value)
    return row


def _measure_gaps(sweep: Sweep, trainer: Trainer, row: SummaryRow) -> None:
    """The row's amortization and approximation gaps, by classical VI on the first held-out examples."""
    from trainer.analysis.inference_gaps import inference_gaps
    from trainer.model.likelihood import heldout_for_likelihood

    n = min(int(sweep.gap_examples), len(sweep.dataset.x_test))
    x = heldout_for_likelihood(sweep.dataset, trainer.config)[:n]
    y = sweep.dataset.y_test[:n] if trainer.model_config.conditional else None
    gaps = inference_gaps(trainer.model, x, y, trainer.device, seed=trainer.config.seed + 12345).summary()
    row.amortization_gap, row.approximation_gap = gaps["amortization_gap"], gaps["approximation_gap"]
    row.amortization_gap_se, row.approximation_gap_se = gaps["amortization_gap_se"], gaps["approximation_gap_se"]
    row.log_px_estimator = str(gaps.get("log_px_estimator", gaps.get("proposal", "")))
    row.gap_examples = gaps["n"]
    row.amortized_ms = 1e3 * gaps["seconds_per_example_amortized"]
    row.classical_ms = 1e3 * gaps["seconds_per_example_classical"]


def row_points(sweep: Sweep) -> int:
    """The points a row's disentanglement metrics use: the sweep's ask, or all the data when it has fewer."""
    data = sweep.dataset
    return min(int(sweep.disentanglement_points), len(data.x_test) + len(data.x_train))


# --- the whole sweep ---------------------------------------------------------------------------------------
def run_sweep(sweep: Sweep, on_report: Callable = lambda name, report: None,
              should_stop: Callable[[], bool] = lambda: False) -> SweepResult:
    """Train every run of the sweep that is not done, then write summary.csv; see the module docstring."""
    t0 = time.perf_counter()
    if not sweep.folder.is_dir():
        raise VaeExplorerError(f"sweep: --out {sweep.folder}: no such folder")
    earlier = read_summary(sweep.folder / SUMMARY_NAME)
    outcomes: dict[str, RunOutcome] = {}
    runnable = []
    for run in sweep.runs:
        try:
            run.config.validate()
            runnable.append(run)
        except VaeExplorerError as exc:
            outcomes[run.name] = RunOutcome("failed", str(exc))
    t_train = time.perf_counter()
    if sweep.jobs <= 1 or len(runnable) <= 1:
        outcomes.update(train_runs(sweep, runnable, on_report, should_stop))
    else:
        outcomes.update(_train_in_processes(sweep, runnable, on_report, should_stop))
    train_s = time.perf_counter() - t_train
    rows = [evaluate_run(sweep, run, outcomes[run.name], earlier.get(run.name)) for run in sweep.runs]
    for outcome in outcomes.values():
        outcome.trainer = None  # the result keeps the rows, not every run's weights and data views
    write_summary(sweep.folder / SUMMARY_NAME, rows)
    write_over_seeds(sweep.folder / OVER_SEEDS_NAME, rows)
    return SweepResult(rows=rows, wall_s=time.perf_counter() - t0, train_s=train_s,
                       trained_samples=sum(o.trained_samples for o in outcomes.values()),
                       interrupted=should_stop(), outcomes=outcomes)


# --- worker processes --------------------------------------------------------------------------------------
def _worker(sweep: Sweep, runs: list[SweepRun], threads: int, reports, stop) -> None:
    torch.set_num_threads(threads)
    try:
        outcomes = train_runs(sweep, runs, lambda name, report: reports.put(("report", name, report)), stop.is_set)
        for outcome in outcomes.values():
            outcome.trainer = None  # the parent reads the checkpoint this process wrote
    except BaseException as exc:  # noqa: BLE001 - reported as the runs' failure, never lost silently
        outcomes = {run.name: RunOutcome("failed", f"worker process: {exc}") for run in runs}
    reports.put(("done", outcomes, None))


def _train_in_processes(sweep: Sweep, runs: list[SweepRun], on_report, should_stop) -> dict[str, RunOutcome]:
    ctx = multiprocessing.get_context("spawn")
    jobs = min(sweep.jobs, len(runs))
    reports, stop = ctx.Queue(), ctx.Event()
    threads = max(1, (os.cpu_count() or 1) // jobs)
    procs = [ctx.Process(target=_worker, args=(sweep, runs[k::jobs], threads, reports, stop), daemon=True)
             for k in range(jobs)]
    for p in procs:
        p.start()
    outcomes: dict[str, RunOutcome] = {}
    finished = 0
    while finished < jobs:
        if should_stop():
            stop.set()
        try:
            kind, a, b = reports.get(timeout=0.1)
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and reports.empty():
                break  # a worker died without a word (killed): its runs resume on the next invocation
            continue
        if kind == "report":
            on_report(a, b)
        else:
            outcomes.update(a)
            finished += 1
    for p in procs:
        p.join()
    for run in runs:
        outcomes.setdefault(run.name, RunOutcome("unfinished", "its worker process ended early"))
    return outcomes
