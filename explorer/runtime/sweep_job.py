"""A β-sweep started from the window (Training ▸ β sweep…), trained in its own thread by trainer.training.sweep.

    job = SweepJob(sweeps, parent=window)  # sweeps: explorer.models.SweepState, busy while it trains
    job.worker.sig_progress.connect(...)   # [RunProgress, ...] of the runs that reported, a few times a second
    job.worker.sig_finished.connect(...)   # SweepFinished: the folder, the summary rows, whether it was stopped
    job.start(SweepRequest(settings, betas=[0.1, 1, 10], seeds=[0], folder="runs/"))
    job.stop()                        # between two steps; every run is saved, a re-run resumes it
    job.shutdown()                    # in closeEvent: stop, then join

The runs are the same checkpoints, summary and resume rules as `vae-explorer sweep` (one engine): a sweep
stopped here and started again, from here or from the command line, goes on where it stopped.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal, Slot

from explorer.models.run_settings import RunSettings
from explorer.models.sweep_state import SweepState
from explorer.runtime.threads import ThreadWorker, WorkerHandle

PROGRESS_INTERVAL_S = 0.25
"""The runs' progress reaches the window at most four times a second."""


@dataclass(frozen=True)
class SweepRequest:
    settings: RunSettings
    """Everything the runs share (the controls' settings); β and the seed vary."""
    betas: tuple[float, ...]
    seeds: tuple[int, ...]
    folder: str
    free_bits: tuple[float, ...] = ()
    schedules: tuple[str, ...] = ()
    """TrainConfig.beta_schedule strings; empty: the settings' own."""
    objectives: tuple[str, ...] = ()
    """TrainConfig.objective values (elbo, tcvae, iwae); empty: the settings' own."""
    iwae_ks: tuple[int, ...] = ()
    """IWAE's K of the IWAE runs; empty: the settings' own."""
    iwae_samples: int = 0
    """K for each finished run's IWAE log p(x) in the summary (0: none)."""
    disentanglement_points: int = 0
    """Data with factors: DCI, SAP and FactorVAE on this many points per finished run (0: none)."""
    gap_examples: int = 0
    """The amortization and approximation gaps of each finished run on this many held-out examples (0: none)."""

    @property
    def runs(self) -> int:
        """How many runs the request trains: every combination of the values it lists."""
        return (len(self.betas) * len(self.seeds) * max(1, len(self.free_bits)) * max(1, len(self.schedules))
                * max(1, len(self.objectives)) * max(1, len(self.iwae_ks)))


@dataclass
class RunProgress:
    """One run's news since the last message: where its checkpoint goes, its settings and new report columns."""

    path: str
    name: str
    beta: float
    seed: int
    epoch: int
    epochs: int
    step: np.ndarray
    recon: np.ndarray
    kl: np.ndarray
    beta_used: np.ndarray
    test: tuple[float, float] | None = None
    """(rate, distortion) of its last finished epoch, held-out, or None."""
    failed: str = ""


@dataclass(frozen=True)
class SweepFinished:
    folder: str
    rows: list = field(default_factory=list)
    """trainer.training.sweep.SummaryRow of every run."""
    stopped: bool = False
    samples_per_s: float = 0.0
    error: str = ""


class SweepWorker(ThreadWorker):
    """Lives in the sweep thread and trains one SweepRequest at a time there."""

    sig_progress = Signal(object)
    """[RunProgress, ...]: the runs that reported since the last message."""
    sig_finished = Signal(object)
    """SweepFinished."""

    def __init__(self):
        super().__init__()
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    @Slot(object)
    def run(self, request: SweepRequest) -> None:
        from trainer.data import load_dataset
        from trainer.model.vae import model_config_for
        from trainer.training.reports import DivergedReport, EpochReport, StepReport
        from trainer.training.sweep import Sweep, plan_runs, run_sweep

        self._stop.clear()
        try:
            s = request.settings
            dataset = load_dataset(s.dataset_spec())
            model_cfg = model_config_for(dataset, **s.model_kwargs())
            runs = plan_runs(s.train_config(), betas=list(request.betas), seeds=list(request.seeds),
                             free_bits=list(request.free_bits) or None, schedules=list(request.schedules) or None,
                             objectives=list(request.objectives) or None, iwae_ks=list(request.iwae_ks) or None)
            folder = Path(request.folder)
            folder.mkdir(parents=True, exist_ok=True)
            sweep = Sweep(model_cfg, runs, dataset, folder, iwae_samples=request.iwae_samples,
                          disentanglement_points=request.disentanglement_points,
                          gap_examples=request.gap_examples)
        except Exception as exc:  # a bad folder or setting: one line in the window, nothing started
            self.sig_finished.emit(SweepFinished(str(request.folder), error=str(exc).splitlines()[0]))
            return
        by_name = {run.name: run for run in runs}
        pending: dict[str, dict] = {}
        last_emit = [0.0]

        def entry(name: str) -> dict:
            run = by_name[name]
            return pending.setdefault(name, {"run": run, "rows": [], "test": None, "failed": "", "epoch": 0})

        def flush() -> None:
            out = []
            for name, news in pending.items():
                run, rows = news["run"], np.array(news["rows"], dtype=float).reshape(-1, 4)
                out.append(RunProgress(
                    path=str(run.checkpoint_path(folder).resolve()), name=name, beta=run.config.beta,
                    seed=run.config.seed, epoch=news["epoch"], epochs=run.config.epochs, step=rows[:, 0],
                    recon=rows[:, 1], kl=rows[:, 2], beta_used=rows[:, 3], test=news["test"], failed=news["failed"]))
            pending.clear()
            if out:
                self.sig_progress.emit(out)
            last_emit[0] = time.monotonic()

        def on_report(name: str, report) -> None:
            news = entry(name)
            if isinstance(report, StepReport):
                news["rows"].append((report.step, report.recon, report.kl, report.beta))
                news["epoch"] = report.epoch
            elif isinstance(report, EpochReport):
                news["epoch"] = report.epoch
                news["test"] = (report.test_kl, report.test_recon)
            elif isinstance(report, DivergedReport):
                news["failed"] = report.message
            if time.monotonic() - last_emit[0] >= PROGRESS_INTERVAL_S:
                flush()

        try:
            result = run_sweep(sweep, on_report=on_report, should_stop=self._stop.is_set)
        except Exception as exc:
            flush()
            self.sig_finished.emit(SweepFinished(str(folder), error=f"{type(exc).__name__}: {exc}".splitlines()[0]))
            return
        flush()
        self.sig_finished.emit(SweepFinished(str(folder), rows=result.rows, stopped=result.interrupted,
                                             samples_per_s=result.samples_per_s))


class SweepJob(WorkerHandle):
    """The GUI thread's handle on the sweep thread; what the sweep reports are its worker's signals."""

    SHUTDOWN_MS = 120_000

    def __init__(self, state: SweepState | None = None, parent: QObject | None = None):
        """state: the window's SweepState, told when a sweep starts and ends (made here if not given)."""
        super().__init__(SweepWorker(), "vae-explorer sweep", parent)
        self.state = state if state is not None else SweepState(self)
        self.worker.sig_finished.connect(self._on_finished)  # first: not busy for every later receiver

    def start(self, request: SweepRequest) -> None:
        self.state.sweep_started()
        self.queue(self.worker.run, request)

    def stop(self) -> None:
        self.worker.request_stop()

    @Slot(object)
    def _on_finished(self, _finished) -> None:
        self.state.sweep_ended()

    def before_stop(self) -> None:
        self.worker.request_stop()  # the sweep saves every run as it stops
