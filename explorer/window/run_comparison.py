"""Runs side by side: the run catalog, the Runs panel, the overlays on the curves and the plane, and which run
the latent panels explore.

    compare = RunComparison(window, session, run, settings, sweeps, status, banner, curves, explore, show_dock)
    window.add_panel("Runs", compare.panel, ...)          # tabbed with the image grids below the curves
    compare.open_folder("sweep/")                         # File > Open Runs…, `vae-explorer DIR`, a dropped folder
    compare.start_sweep(request)                          # Training > β sweep…: runs appear as they train
    compare.shutdown()                                    # in closeEvent

The catalog (explorer.models.run_catalog.RunCatalog) is the one owner of what is known about each run; the Runs
panel, the curves' overlays and the rate–distortion plane are views of it. Selecting a run (a click in the panel or on
its end point in the plane) makes it the explored model: its checkpoint is read and encoded in the run-loading
thread and its snapshots go to the latent panels, while the live run's are held back until the live run is
selected again (then the worker publishes its current model afresh).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QWidget

from explorer.panels.experiments import ExperimentPanel
from explorer.panels.runs import RunsPanel
from explorer.files.sweep_dialog import SweepDialog
from explorer.models.run_catalog import LIVE, RunCatalog, RunRecord, data_label
from explorer.models.run_model import RunModel
from explorer.models.run_settings import RunSettings
from explorer.models.run_state import RunState
from explorer.models.sweep_state import SweepState
from explorer.runtime.run_loading import RunLoading
from explorer.runtime.sweep_job import SweepJob, SweepRequest
from trainer.experiments import Experiment

REDRAW_DELAY_MS = 150
"""Runs arrive one by one from a folder: the overlays are redrawn once they stop arriving for this long."""
SWEEP_REDRAW_MS = 1000
"""While a sweep trains its runs report several times a second: the overlays follow once a second."""


class RunComparison(QObject):
    """The catalog of runs and its views, the sweep job and the guided experiments of one window (GUI thread)."""

    sig_runs_read = Signal(str, int)
    """(folder, or "" for single files; how many runs were read): they are in the catalog and shown."""
    sig_sweep_finished = Signal(object)
    """SweepFinished, once the window has shown it (the actions are enabled again; its runs are being read)."""
    sig_play_requested = Signal()
    """An experiment ended on a run whose timeline is to be played from its start."""

    def __init__(self, host: QWidget, session, run: RunModel, settings, sweeps: SweepState, status, banner, curves,
                 explore,
                 show_dock: Callable[[str], None]):
        """host: parent of the actions and the sweep dialog; explore: the latent panels (explorer.window.
        latent_panels), which show the selected run; show_dock(title): show and raise a dock ("Runs", ...)."""
        super().__init__(host)
        self.host, self.session, self.run, self.settings, self.sweeps = host, session, run, settings, sweeps
        self.status, self.banner, self.curves, self.explore = status, banner, curves, explore
        self._show_dock = show_dock
        self.catalog = RunCatalog(explore.explored, self)
        self.panel = RunsPanel(self.catalog)
        self.loading = RunLoading(self)
        self.sweep = SweepJob(sweeps, self)
        self.sweep_action = QAction("β &sweep…", host)
        self.sweep_action.setToolTip("Train the current settings at several β (and seeds) side by side, one checkpoint "
                                     "each, and compare them on the rate–distortion plane")
        self.stop_sweep_action = QAction("Stop s&weep", host)
        self.stop_sweep_action.setToolTip("Stop the sweep between two steps; every run is saved and a new sweep on the "
                                          "same folder resumes it")
        self.stop_sweep_action.setEnabled(False)
        sweeps.sig_changed.connect(self._on_sweeps_changed)
        self.sweep_action.triggered.connect(self._on_sweep_triggered)
        self.stop_sweep_action.triggered.connect(self.sweep.stop)
        self.sweep.worker.sig_progress.connect(self._on_sweep_progress)
        self.sweep.worker.sig_finished.connect(self._on_sweep_finished)
        self.experiment_panel = ExperimentPanel()
        self._select_after_load: str | None = None  # a run's checkpoint to explore once its folder has been read
        self._panel_after_load: str | None = None  # the dock to bring forward once that folder has been read
        self._play_after_load = False  # an experiment that ends by replaying its explored run's timeline
        self._play_key: str | None = None  # that run, until its timeline arrives
        explore.explored.sig_timeline_changed.connect(self._on_timeline)
        self._sweep_data = ""  # what the sweep in progress trains on (data_label)
        self._redraw_timer = QTimer(self, singleShot=True, interval=REDRAW_DELAY_MS)
        self._redraw_timer.timeout.connect(self._redraw)

        self.loading.worker.sig_record.connect(self._on_record)
        self.loading.worker.sig_folder_done.connect(self._on_folder_done)
        self.loading.worker.sig_explore.connect(self._on_run_explore)
        self.loading.worker.sig_explore_failed.connect(self._on_explore_failed)
        self.catalog.sig_changed.connect(self._on_catalog_changed)
        self.catalog.sig_removed.connect(self._on_catalog_changed)
        self.catalog.sig_selected.connect(self._on_selected)
        explore.rd.sig_run_clicked.connect(self.catalog.select)
        session.worker.sig_started.connect(self._on_live_started)
        session.worker.sig_epoch.connect(self._on_live_epoch)
        session.worker.sig_ended.connect(self._on_live_ended)
        session.worker.sig_opened.connect(self._on_live_opened)
        # a @Slot of a GUI-thread QObject: queued; it passes them on while the live run is the explored one
        session.worker.sig_explore.connect(self.on_live_explore)
        run.sig_state_changed.connect(self._on_run_state)
        run.sig_file_changed.connect(self._on_run_file)

    # --- opening runs -----------------------------------------------------------------------------
    def open_folder(self, folder: str) -> None:
        """Every checkpoint in `folder` joins the runs (a sweep's summary.csv gives their status)."""
        self.status.showMessage(f"Reading the runs in {folder}…")
        self.loading.open_folder(folder)

    def open_files(self, paths: list[str]) -> None:
        self.loading.open_files(paths)

    @Slot(object)
    def _on_record(self, record: RunRecord) -> None:
        self.catalog.put(record)

    @Slot(str, int, object)
    def _on_folder_done(self, folder: str, read: int, refused: list) -> None:
        where = f" from {folder}" if folder else ""
        text = f"Read {read} run{'s' if read != 1 else ''}{where}."
        if refused:
            more = f" (and {len(refused) - 3} more)" if len(refused) > 3 else ""
            text += f" Not read: {'; '.join(refused[:3])}{more}"
            self.banner.show_message(text, "warning" if read else "error")
        self.status.showMessage(text, 10_000)
        if self._select_after_load is not None:
            wanted = Path(self._select_after_load).resolve()
            chosen = next((r for r in self.catalog.compared() if r.path and Path(r.path).resolve() == wanted), None)
            self._select_after_load = None
            if chosen is not None:
                self.catalog.select(chosen.key)
                self._play_key = chosen.key if self._play_after_load else None
        self._play_after_load = False
        panel, self._panel_after_load = self._panel_after_load, None
        if read:
            self._show_dock(panel or "Runs")  # an experiment ends on the panel that shows what it measured
        self.sig_runs_read.emit(folder, read)

    @Slot(object)
    def _on_timeline(self, explored) -> None:
        """The explored run's timeline arrived: an experiment that ends by replaying it asks for it now."""
        if self._play_key is not None and explored.key == self._play_key and explored.steps:
            self._play_key = None
            self.sig_play_requested.emit()

    # --- views -------------------------------------------------------------------------------------
    @Slot(str)
    def _on_catalog_changed(self, key: str) -> None:
        if key == LIVE:  # the panels draw the live run from its own reports; its row is the Runs panel's business
            return
        if not self._redraw_timer.isActive():
            self._redraw_timer.start(SWEEP_REDRAW_MS if self.sweeps.busy else REDRAW_DELAY_MS)

    def _redraw(self) -> None:
        compared = self.catalog.compared()
        self.curves.set_overlays(compared)
        self.explore.rd.set_runs(compared, selected=self.catalog.selected)

    def redraw_now(self) -> None:
        self._redraw_timer.stop()
        self._redraw()

    # --- the explored run ---------------------------------------------------------------------------
    @Slot(str)
    def _on_selected(self, key: str) -> None:
        explore = self.explore
        explore.clear(trajectory=False)  # the live trajectory stays on the plane whichever run is explored
        self.redraw_now()
        if key == LIVE:
            self.loading.stop_exploring()
            self.session.republish()
            self.status.showMessage("Exploring the live run.", 5000)
            return
        record = self.catalog.get(key)
        if record is None:
            return
        self.loading.explore(key)
        back = "; click the live run to come back" if self.catalog.get(LIVE) is not None else ""
        self.status.showMessage(f"Exploring {record.name} (β {record.beta:g}){back}.")

    @Slot(object)
    def on_live_explore(self, item) -> None:
        """The worker's snapshots of the live model: shown only while the live run is the explored one."""
        if self.catalog.selected == LIVE:
            self.explore.on_explore(item)

    @Slot(object)
    def _on_run_explore(self, item) -> None:
        if self.catalog.selected != LIVE:
            self.explore.on_explore(item)

    @Slot(str, str)
    def _on_explore_failed(self, path: str, message: str) -> None:
        if self.catalog.selected == path:
            self.status.showMessage(f"No latent scatter for this run: {message}", 10_000)

    # --- the live run --------------------------------------------------------------------------------
    def _live_record(self, **fields) -> None:
        settings = self.settings.value
        current = self.catalog.get(LIVE)
        name = current.name if current is not None else live_name(settings)
        base = dict(name=name, beta=float(settings.beta), seed=int(settings.seed), epochs=int(settings.epochs),
                    data=settings_data(settings))
        if current is None:
            self.catalog.put(RunRecord(key=LIVE, **{**base, **fields}))
        else:
            self.catalog.update(LIVE, **{**base, **fields})

    @Slot(object)
    def _on_live_started(self, info) -> None:
        self._live_record(status="training", epoch=int(info.epoch))

    @Slot(object)
    def _on_live_epoch(self, report) -> None:
        epochs = self.settings.value.epochs
        split = report.rate_split or {}
        self._live_record(status="training", epoch=int(report.epoch), rate=float(report.test_kl),
                          distortion=float(report.test_recon), elbo=float(report.test_elbo),
                          information=float(split.get("mutual_information", math.nan)),
                          progress=min(1.0, report.epoch / epochs) if epochs else 1.0)

    @Slot(object)
    def _on_live_ended(self, info) -> None:
        if not info.has_model:
            self.catalog.remove(LIVE)
            return
        self._live_record(status="done" if info.finished else "stopped", epoch=int(info.epoch))

    @Slot(object)
    def _on_run_state(self, state) -> None:
        if state is RunState.IDLE:  # no model any more (Reset, a dataset it cannot fit): the next run is new
            self.catalog.remove(LIVE)

    @Slot(str, str)
    def _on_run_file(self, _text: str, _path: str) -> None:
        """Saved (or opened) under a file name: the live run is called by it from now on."""
        if self.run.current_path and self.catalog.get(LIVE) is not None:
            self.catalog.update(LIVE, name=Path(self.run.current_path).stem)

    @Slot(object)
    def _on_live_opened(self, opened) -> None:
        from trainer.analysis.rd import final_rd

        rate, distortion, elbo = final_rd(opened.history)
        self.catalog.remove(LIVE)
        self.catalog.put(RunRecord(key=LIVE, name=Path(opened.path).stem, beta=float(opened.settings.beta),
                                   data=settings_data(opened.settings),
                                   seed=int(opened.settings.seed), status="opened", epoch=int(opened.epoch),
                                   epochs=int(opened.settings.epochs), rate=rate, distortion=distortion, elbo=elbo))
        self.catalog.select(LIVE)

    # --- a sweep from the window ------------------------------------------------------------------------
    @Slot()
    def _on_sweeps_changed(self) -> None:
        self.sweep_action.setEnabled(not self.sweeps.busy)
        self.stop_sweep_action.setEnabled(self.sweeps.busy)

    def _on_sweep_triggered(self) -> None:
        if self.sweeps.busy:
            return
        folder = str(Path.home() / "vae-explorer-runs" / time.strftime("sweep-%Y%m%d-%H%M%S"))
        dialog = SweepDialog(self.settings.value, folder, self.host)
        if dialog.exec() != QDialog.Accepted:
            return
        settings = self.settings.value.replace(epochs=dialog.epochs())
        self.start_sweep(SweepRequest(settings, tuple(dialog.betas()), tuple(dialog.seeds()), dialog.folder(),
                                      iwae_ks=tuple(dialog.iwae_ks())))

    def start_sweep(self, request: SweepRequest) -> bool:
        """Train the request's runs in the sweep thread; False (and a message) when settings are invalid or the
        window is training: one training at a time, as two on the same cores slow each other far more than twice."""
        if self.run.busy:
            self.banner.show_message("The window is training a run: stop it before starting a sweep.", "warning")
            return False
        try:
            request.settings.dataset_spec()
            request.settings.train_config()
        except Exception as exc:
            self.banner.show_message(str(exc), "error")
            return False
        self._sweep_data = settings_data(request.settings)
        self.sweep.start(request)
        runs = request.runs
        self.status.showMessage(f"Training {runs} run{'s' if runs != 1 else ''} side by side into {request.folder}…")
        if self.sweeps.experiment is None:  # an experiment keeps its own panel in front while it trains
            self._show_dock("Runs")
        return True

    @Slot(object)
    def _on_sweep_progress(self, updates: list) -> None:
        for u in updates:
            record = self.catalog.get(u.path)
            history = dict(record.history) if record is not None else {}
            for key, column in (("steps/step", u.step), ("steps/recon", u.recon), ("steps/kl", u.kl),
                                ("steps/beta", u.beta_used)):
                history[key] = np.concatenate([history.get(key, np.zeros(0)), column])
            fields = dict(name=u.name, beta=u.beta, seed=u.seed, epoch=u.epoch, epochs=u.epochs, history=history,
                          data=self._sweep_data,
                          progress=min(1.0, u.epoch / u.epochs) if u.epochs else 1.0,
                          status="failed" if u.failed else "training", message=u.failed)
            if u.test is not None:
                fields.update(rate=u.test[0], distortion=u.test[1], elbo=-(u.test[0] + u.test[1]))
            if record is None:
                self.catalog.put(RunRecord(key=u.path, **fields))
            else:
                self.catalog.update(u.path, **fields)

    @Slot(object)
    def _on_sweep_finished(self, finished) -> None:
        try:
            self._show_sweep_finished(finished)
        finally:
            self.sig_sweep_finished.emit(finished)

    def _show_sweep_finished(self, finished) -> None:
        if finished.error:
            self.banner.show_message(f"The sweep did not start: {finished.error}", "error")
            if self.sweeps.experiment is not None:
                self.sweeps.experiment_ended()
            return
        if self.sweeps.experiment is not None and self._next_stage(finished):
            return
        done = sum(r.status == "done" for r in finished.rows)
        how = "stopped; start it again on the same folder to resume" if finished.stopped else "finished"
        self.status.showMessage(
            f"Sweep {how}: {done} of {len(finished.rows)} runs done ({finished.samples_per_s:,.0f} training samples/s"
            f" over all runs). Summary in {Path(finished.folder) / 'summary.csv'}.")
        self.loading.open_folder(finished.folder)  # the runs as saved, with the summary's status and numbers

    # --- guided experiments -----------------------------------------------------------------------------
    def start_experiment(self, experiment: Experiment, folder: str | None = None) -> bool:
        """Train the experiment's sweep stage by stage into `folder` (default: a new one under
        ~/vae-explorer-runs), then show what it measured in the Experiment panel and explore the run that shows it."""
        if self.sweeps.busy:
            self.status.showMessage("A sweep is running; stop it first (Training ▸ Stop sweep).", 10_000)
            return False
        folder = folder or str(Path.home() / "vae-explorer-runs" / time.strftime(f"{experiment.key}-%Y%m%d-%H%M%S"))
        self.sweeps.experiment_started(experiment, folder)
        self.experiment_panel.show_experiment(experiment)
        self._show_dock("Experiment")
        return self._start_stage(0)

    def _start_stage(self, index: int) -> bool:
        progress = self.sweeps.experiment
        experiment = progress.experiment
        plan = experiment.plan()
        label, model, train = plan[index]
        settings = RunSettings(data=experiment.data, model=model, train=train)
        folder = str(Path(progress.folder) / label) if label else progress.folder
        self.experiment_panel.show_stage(
            f"Training {label.replace('-', ' ') + ' ' if label else ''}to epoch {settings.epochs}"
            + (f" (stage {index + 1} of {len(plan)})" if len(plan) > 1 else "") + f" into {folder}…")
        request = SweepRequest(settings, experiment.betas, experiment.seeds or (train.seed,), folder,
                               free_bits=experiment.free_bits, schedules=experiment.schedules,
                               objectives=experiment.objectives, iwae_samples=experiment.iwae_samples,
                               disentanglement_points=experiment.disentanglement_points,
                               gap_examples=experiment.gap_examples)
        if not self.start_sweep(request):
            self.sweeps.experiment_ended()
            return False
        return True

    def _next_stage(self, finished) -> bool:
        """After one stage of the experiment's sweep: the next, or the result. True when this took it over."""
        more = self.sweeps.stage_finished(finished.rows)
        progress = self.sweeps.experiment
        if more and not finished.stopped:
            self._start_stage(progress.stage)
            return True
        self.sweeps.experiment_ended()
        experiment = progress.experiment
        self.experiment_panel.show_result(experiment, [list(rows) for rows in progress.rows])
        rows = progress.rows[-1]
        if rows:
            # by its file: the runs of two variants of one experiment share their names
            self._select_after_load = (rows[-1] if experiment.select == "last" else rows[0]).checkpoint
        self._panel_after_load = experiment.panel
        self._play_after_load = experiment.replay
        self.loading.open_folder(finished.folder)
        self._show_dock(experiment.panel)
        self.status.showMessage(f"{experiment.title}: done. The Experiment panel says what it measured.")
        return True

    def shutdown(self) -> None:
        self._redraw_timer.stop()
        self.sweep.shutdown()  # stops between two steps and saves every run
        self.loading.shutdown()


def live_name(settings) -> str:
    """What the Runs table calls a new run before it has a file: "live · mnist", "live · faces" (a dataset
    file's or folder's name)."""
    data = Path(settings.path).stem if settings.dataset == "path" and settings.path else settings.dataset
    return f"live · {data}"


def settings_data(settings) -> str:
    """data_label of a RunSettings' dataset ("" when its settings do not name a valid one yet)."""
    try:
        return data_label(settings.dataset_spec())
    except Exception:  # noqa: BLE001 - an incomplete setting (no file chosen) labels nothing
        return ""
