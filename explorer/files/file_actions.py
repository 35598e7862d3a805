"""The File menu: open and save checkpoints, autosave, recent files, drag and drop, open a dataset, export.

    files = FileController(window)        # adds its actions to the window's File menu; GUI thread only
    files.open_checkpoint("run.h5")       # what Ctrl+O, Open Recent, a drop and `vae-explorer run.h5` do
    files.save("run.h5")                  # Ctrl+S / Ctrl+Shift+S without the file dialog
    files.open_dataset()                  # Ctrl+Shift+O: DatasetDialog, then the worker trains on its Dataset
    files.export()                        # Ctrl+E: ExportDialog, then PNG/SVG/CSV files
    files.before_close(); ...; files.shutdown()   # from closeEvent: autosave, then join the I/O thread

Nothing here reads or writes a checkpoint on the GUI thread. Opening: the I/O thread reads and validates the
file first and the current run is only touched once it is known good, so a bad file costs a dialog and nothing
else (training goes on if it was going). Saving: the training thread copies the model between steps
(TrainSession.request_snapshot), the I/O thread writes the copy atomically, and the status bar says "Saved …".
"""

from __future__ import annotations

import itertools
from datetime import datetime
from functools import partial
from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QEvent, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QLabel, QMenu, QMessageBox

from explorer.files.settings_store import SettingsStore
from explorer.runtime.checkpoint_io import IoJob, IoThread

CHECKPOINT_SUFFIXES = (".h5", ".hdf5")
DATASET_SUFFIXES = {".npz": "npz", ".npy": "npz"}
CHECKPOINT_FILTER = "vae-explorer checkpoints (*.h5 *.hdf5);;All files (*)"
BUSY_STATES = ("loading", "training", "paused")


class FileController(QObject):
    """Owns the File menu's actions, the I/O thread, autosave and the recent-files list for one MainWindow."""

    sig_open_failed = Signal(str)
    """A checkpoint could not be opened: its one-line message (also shown in a dialog, or the banner)."""
    sig_io_done = Signal(object)
    """checkpoint_io.IoResult of every save, autosave and CSV export, after the window has shown it."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.store = SettingsStore()
        self.io = IoThread(self)
        self.error_dialogs = True
        """False (screenshots, scripts): errors go to the window's banner instead of a modal dialog."""
        self.current_path: str | None = None
        """The checkpoint this run was opened from or last saved to; Save writes there."""
        self._latest_step = 0  # newest step the worker reported for the current run
        self._saved_step = 0  # step of the last explicit save or open: later steps are unsaved
        self._autosaved_step = 0
        self._autosave_path: str | None = None
        self._job_ids = itertools.count(1)
        self._load_id = 0
        self._after_save: dict[int, object] = {}  # job id -> what to do once that save succeeded
        self._skip_autosave_on_end = False  # the run ends because another replaces it (the user said so)
        self._remember: dict[str, bool] = {}  # path being opened -> join recent files and become Save's target
        self._closing = False

        self._create_actions()
        self._install_menu()
        # "Saved run.h5 at step 1,200": stays in the status bar, where passing messages (epochs) cannot hide it
        self.saved_label = QLabel()
        self.saved_label.setToolTip("The file the model was last saved to or opened from, and at which step")
        window.status.add_badge(self.saved_label)
        self.saved_label.hide()
        self._autosave_timer = QTimer(self)
        self._autosave_timer.timeout.connect(self._on_autosave_due)
        self._apply_autosave_interval()

        session = self.session
        # training thread -> I/O thread, directly: the copy never passes through the GUI thread
        session.sig_snapshot.connect(self.io.worker.write)
        self.io.worker.sig_done.connect(self._on_io_done)
        self.io.worker.sig_loaded.connect(self._on_checkpoint_loaded)
        self.io.worker.sig_load_failed.connect(self._on_checkpoint_load_failed)
        # the run's progress, end and opened checkpoints arrive through the window's slots (on_progress,
        # on_opened, on_run_ended), in the same event as the curves and the run state: never a moment between
        session.sig_dataset_changed.connect(self._on_dataset_changed)
        window.sig_state_changed.connect(self._on_state_changed)
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        self._on_state_changed(window.state.value)

    # --- menu -------------------------------------------------------------------------------------------
    def _create_actions(self) -> None:
        w = self.window

        def action(text, shortcut, tip, slot):
            a = QAction(text, w)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(tip)
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            return a

        self.open_action = action("&Open Checkpoint…", QKeySequence.Open,
                                  "Open a checkpoint (.h5): model, optimizer, settings, β schedule and curves; "
                                  "Continue resumes it", self._on_open_triggered)
        self.open_runs_action = action("Open R&uns…", "Ctrl+Shift+R",
                                       "Open a sweep folder or any folder of checkpoints: every run joins the Runs "
                                       "panel, the curves and the rate–distortion plane", self._on_open_runs_triggered)
        self.open_dataset_action = action("Open &Dataset…", "Ctrl+Shift+O",
                                          "Train on an IDX folder, an .npz, an HDF5 dataset or a folder of images",
                                          self._on_open_dataset_triggered)
        self.save_action = action("&Save", QKeySequence.Save,
                                  "Save the model, optimizer state, settings and curves (in the background)",
                                  self._on_save_triggered)
        self.save_as_action = action("Save &As…", "Ctrl+Shift+S", "Save to a new checkpoint file",
                                     self._on_save_as_triggered)
        self.export_action = action("&Export…", "Ctrl+E",
                                    "Export the plots (PNG, SVG), the image grids (PNG) and the history (CSV)",
                                    self._on_export_triggered)
        self.preferences_action = action("&Preferences…", "Ctrl+,", "Autosave interval and folder, recent files",
                                         self._on_preferences_triggered)
        self.recent_menu = QMenu("Open &Recent", w)
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.aboutToShow.connect(self._rebuild_recent_menu)
        self._rebuild_recent_menu()

    def _install_menu(self) -> None:
        """Put the actions into the window's File menu, above Quit."""
        quit_action = self.window.quit_action
        file_menu = next((m for m in self.window.menuBar().findChildren(QMenu) if quit_action in m.actions()), None)
        if file_menu is None:
            file_menu = self.window.menuBar().addMenu("&File")
            file_menu.addAction(quit_action)
        self.file_menu = file_menu
        file_menu.setToolTipsVisible(True)
        before = quit_action
        file_menu.insertAction(before, self.open_action)
        file_menu.insertMenu(before, self.recent_menu)
        file_menu.insertAction(before, self.open_runs_action)
        file_menu.insertAction(before, self.open_dataset_action)
        file_menu.insertSeparator(before)
        file_menu.insertAction(before, self.save_action)
        file_menu.insertAction(before, self.save_as_action)
        file_menu.insertAction(before, self.export_action)
        file_menu.insertSeparator(before)
        file_menu.insertAction(before, self.preferences_action)
        file_menu.insertSeparator(before)

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.store.recent_files()
        for i, path in enumerate(files, 1):
            p = Path(path)
            a = self.recent_menu.addAction(f"&{i % 10}  {p.name}   —   {p.parent}")
            a.setToolTip(path)
            a.setData(path)
            a.triggered.connect(partial(self._on_recent_triggered, path))
        if files:
            self.recent_menu.addSeparator()
            clear = self.recent_menu.addAction("Clear Recent Files")
            clear.triggered.connect(self._on_clear_recent_triggered)
        else:
            self.recent_menu.addAction("No recent files").setEnabled(False)

    def recent_files(self) -> list[str]:
        return self.store.recent_files()

    # --- state ------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.window.state.value in BUSY_STATES

    @property
    def has_model(self) -> bool:
        return self.window.state.value != "idle"

    @property
    def unsaved(self) -> bool:
        """Steps trained since the last save or open (autosaves do not count: the user did not choose them)."""
        return self.has_model and self._latest_step > self._saved_step

    @Slot(str)
    def _on_state_changed(self, state: str) -> None:
        has_model = state != "idle"
        self.save_action.setEnabled(has_model)
        self.save_as_action.setEnabled(has_model)
        if state == "idle":  # no model: a new run starts from nothing and has no file yet
            self._latest_step = self._saved_step = self._autosaved_step = 0
            self.current_path = None
            self._autosave_path = None
            self._show_saved("", "")
        if state in ("training", "paused"):
            if not self._autosave_timer.isActive() and self._autosave_timer.interval() > 0 and self.store.autosave_minutes:
                self._autosave_timer.start()
        else:
            self._autosave_timer.stop()

    def on_progress(self, batch) -> None:
        self._latest_step = int(batch.latest.step)

    # --- open a checkpoint ----------------------------------------------------------------------------
    def open_checkpoint(self, path: str | None = None, remember: bool = True) -> None:
        """Ask (if the current run has unsaved steps), then read `path` (or a chosen file) in the I/O thread.

        remember=False opens a file as a template (the bundled demo model): it joins no recent-files list and
        Save asks for a new name instead of writing over it.
        """
        self.confirm_then("opening another checkpoint", partial(self._choose_and_open, path, remember))

    def _choose_and_open(self, path: str | None, remember: bool = True) -> None:
        if path is None:
            start = self.store.last_folder("checkpoint") or str(Path.home())
            path, _ = QFileDialog.getOpenFileName(self.window, "Open checkpoint", start, CHECKPOINT_FILTER)
            if not path:
                return
        self._load_id += 1
        self._remember[str(path)] = remember
        self.window.status.showMessage(f"Opening {path}…")
        self.io.load(self._load_id, str(path))

    @Slot(object)
    def _on_checkpoint_loaded(self, loaded) -> None:
        if loaded.request_id != self._load_id or self._closing:
            return  # a newer Open superseded this one
        if self._remember.get(loaded.path, True):
            self.store.add_recent(loaded.path)
            self.store.set_last_folder("checkpoint", loaded.path)
            self._rebuild_recent_menu()
        if self.window.run_in_flight:
            self._skip_autosave_on_end = True  # the user already chose to replace this run
            self.session.stop()
        self.session.adopt_checkpoint(loaded)  # queued behind the stopping run: it lands once that has ended
        self.window.checkpoint_queued()

    @Slot(object)
    def _on_checkpoint_load_failed(self, failed) -> None:
        if failed.request_id != self._load_id or self._closing:
            return
        self.window.status.showMessage("Nothing was opened; the current run is unchanged.", 10_000)
        if "no such file" in failed.message:
            self.store.remove_recent(failed.path)
            self._rebuild_recent_menu()
        self._show_error("Cannot open checkpoint", failed.message)
        self.sig_open_failed.emit(failed.message)

    def on_opened(self, opened) -> None:
        self.current_path = opened.path if self._remember.pop(opened.path, True) else None
        self._latest_step = self._saved_step = self._autosaved_step = int(opened.step)
        self._autosave_path = None
        self._show_saved(f"Opened {Path(opened.path).name} at step {opened.step:,}", opened.path)

    # --- save -----------------------------------------------------------------------------------------
    def save(self, path: str | None = None, then=None) -> int | None:
        """Save to `path` (default: the current file; none yet: ask for one). Returns the job id, or None."""
        if not self.has_model:
            self.window.status.showMessage("Nothing to save yet: train or open a model first.", 5000)
            return None
        if path is None:
            path = self.current_path or self._ask_save_path()
            if not path:
                return None
        path = str(Path(path).expanduser())
        if Path(path).suffix.lower() not in CHECKPOINT_SUFFIXES:
            path += ".h5"
        job = IoJob(next(self._job_ids), "checkpoint", path, "save")
        if then is not None:
            self._after_save[job.job_id] = then
        self.window.status.showMessage(f"Saving {path}…")
        self.session.request_snapshot(job)
        return job.job_id

    def save_as(self) -> int | None:
        path = self._ask_save_path()
        return self.save(path) if path else None

    def _ask_save_path(self) -> str:
        start = self.current_path or str(Path(self.store.last_folder("checkpoint") or Path.home()) / "run.h5")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save checkpoint", start, CHECKPOINT_FILTER)
        return path

    def autosave(self) -> int | None:
        """Write the current run to <autosave folder>/<name>.autosave.h5; never the user's own file."""
        if not self.has_model:
            return None
        if self._autosave_path is None:
            stem = Path(self.current_path).stem if self.current_path else f"untitled-{datetime.now():%Y%m%d-%H%M%S}"
            self._autosave_path = str(Path(self.store.autosave_folder()) / f"{stem}.autosave.h5")
        try:
            Path(self._autosave_path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.window.banner.show_message(f"Autosave failed: {self._autosave_path}: {exc.strerror or exc}", "warning")
            return None
        job = IoJob(next(self._job_ids), "checkpoint", self._autosave_path, "autosave")
        self.session.request_snapshot(job)
        return job.job_id

    @Slot(object)
    def _on_io_done(self, result) -> None:
        job = result.job
        then = self._after_save.pop(job.job_id, None)
        name = Path(job.path).name
        if result.ok and job.kind == "checkpoint":
            if job.reason == "save":
                self._saved_step = max(self._saved_step, result.step)
                self.current_path = job.path
                self.store.add_recent(job.path)
                self.store.set_last_folder("checkpoint", job.path)
                self._rebuild_recent_menu()
                self.window.setWindowTitle(f"{self.window.windowTitle().split(' — ')[0]} — {job.path}")
                self.window.status.showMessage(f"Saved {job.path} (step {result.step:,}) in {result.seconds:.2f} s", 10_000)
                self._show_saved(f"Saved {name} at step {result.step:,}", job.path)
            else:
                self._autosaved_step = max(self._autosaved_step, result.step)
                self.window.status.showMessage(f"Autosaved {job.path} (step {result.step:,})", 10_000)
                if self._saved_step < result.step:
                    self._show_saved(f"Autosaved {name} at step {result.step:,}", job.path)
            if then is not None:
                then()
        elif result.ok:  # a CSV export
            shown = ", ".join(Path(f).name for f in result.files)
            self.window.status.showMessage(f"Exported the history to {shown}", 10_000)
        elif job.reason == "autosave":
            self.window.banner.show_message(f"Autosave failed: {result.message}", "warning")
        elif job.kind == "history":
            self._show_error("Export failed", result.message)
        else:
            self.window.status.showMessage(f"Not saved: {name}", 10_000)
            self._show_error("Cannot save checkpoint", result.message)
        self.sig_io_done.emit(result)

    # --- autosave ---------------------------------------------------------------------------------------
    def _apply_autosave_interval(self) -> None:
        minutes = self.store.autosave_minutes
        self._autosave_timer.setInterval(max(minutes, 0) * 60_000)
        if minutes <= 0:
            self._autosave_timer.stop()
        elif self.window.state.value in ("training", "paused") and not self._autosave_timer.isActive():
            self._autosave_timer.start()

    @property
    def autosave_interval_ms(self) -> int:
        """How often autosave runs while training, ms (0: never)."""
        return self._autosave_timer.interval() if self.store.autosave_minutes > 0 else 0

    def set_autosave_interval_ms(self, ms: int) -> None:
        """Autosave this often while training (tests and benchmarks use seconds, not minutes)."""
        self._autosave_timer.setInterval(int(ms))
        if self.window.state.value in ("training", "paused"):
            self._autosave_timer.start()

    def _on_autosave_due(self) -> None:
        if self.busy and self._latest_step > self._autosaved_step:
            self.autosave()

    def on_run_ended(self, info) -> None:
        skip, self._skip_autosave_on_end = self._skip_autosave_on_end, False
        if skip or self._closing or not info.has_model:
            return
        self._latest_step = max(self._latest_step, int(info.step))
        if self.store.autosave_on_stop and self._latest_step > max(self._saved_step, self._autosaved_step):
            self.autosave()

    # --- open a dataset -------------------------------------------------------------------------------
    def open_dataset(self, path: str | None = None, kind: str | None = None) -> None:
        """The dataset dialog (preview, size, errors); on OK the worker trains on its Dataset from now on."""
        from explorer.files.dataset_dialog import DatasetDialog
        from explorer.runtime.worker import same_source

        settings = self.window.controls.settings()
        dialog = DatasetDialog(self.window, seed=settings.seed, start_dir=self.store.last_folder("dataset"))
        try:
            if path is not None:
                dialog.load_path(path, kind or DATASET_SUFFIXES.get(Path(path).suffix.lower(), "npz"))
            accepted = dialog.exec() == QDialog.Accepted
            dataset = dialog.dataset()
            source = dialog.path_edit.text().strip()
        finally:
            dialog.shutdown()
            dialog.setParent(None)
            dialog.deleteLater()  # the dialog holds the loaded arrays until it is gone
        if not accepted or dataset is None:
            return
        if source:
            self.store.set_last_folder("dataset", source)
        try:
            keeps_model = same_source(settings.dataset_spec(), dataset.spec)
        except Exception:  # noqa: BLE001 - an invalid current setting simply does not match
            keeps_model = False
        if keeps_model:
            self._use_dataset(dataset)
        else:
            self.confirm_then("switching the dataset (the model is discarded)", partial(self._use_dataset, dataset))

    def _use_dataset(self, dataset) -> None:
        spec = dataset.spec
        if self.window.run_in_flight:
            self._skip_autosave_on_end = True
            self.session.stop()
        self.session.use_dataset(dataset)  # queued behind the stopping run
        controls = self.window.controls
        # shown at once, so a Start pressed meanwhile already asks for this dataset
        controls.set_settings(controls.settings().replace(dataset=spec.name, path=spec.path, key=spec.key,
                                                          data_dir=spec.data_dir, limit=spec.limit))
        self.window.status.showMessage(f"Switching to {dataset.describe()}…")

    @Slot(object)
    def _on_dataset_changed(self, changed) -> None:
        if not changed.kept_model and hasattr(self.window, "clear_run"):
            self.window.clear_run()
        what = "the model is kept; Continue trains it on" if changed.kept_model else "press Start to train on"
        self.window.status.showMessage(f"Dataset: {changed.description}, {changed.n_train:,} training images; "
                                       f"{what} it.", 15_000)

    # --- export -----------------------------------------------------------------------------------------
    def export(self) -> None:
        from explorer.files.export_dialog import ExportDialog
        from explorer.files.exports import export_targets

        targets = export_targets(self.window)
        folder = self.store.last_folder("export") or (str(Path(self.current_path).parent) if self.current_path
                                                      else str(Path.home()))
        base = Path(self.current_path).stem if self.current_path else "vae-explorer"
        checked = self.store.qsettings.value("export/checked", None)
        checked = set(checked) if isinstance(checked, list) else ({checked} if isinstance(checked, str) else None)
        dialog = ExportDialog(self.window, targets, folder, base, checked)
        try:
            if dialog.exec() != QDialog.Accepted:
                return
            chosen, folder, base = dialog.chosen(), dialog.folder(), dialog.base()
        finally:
            dialog.setParent(None)
            dialog.deleteLater()
        self.store.qsettings.setValue("export/checked", [t.key for t in chosen])
        self.store.set_last_folder("export", folder)
        self.run_exports(chosen, folder, base)

    def run_exports(self, targets, folder: str, base: str) -> tuple[list[str], list[str]]:
        """Write the image targets now (GUI thread, milliseconds each) and queue the CSV; (written, failures)."""
        from explorer.files.exports import ExportError

        written, failures = [], []
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._show_error("Export failed", f"{folder}: cannot create the folder ({exc.strerror or exc})")
            return written, [str(exc)]
        for target in targets:
            path = str(Path(folder) / target.filename(base))
            if target.write is None:  # the history lives in the training thread: copy there, write in I/O
                self.session.request_snapshot(IoJob(next(self._job_ids), "history", path, "export"))
                continue
            try:
                target.write(path)
                written.append(path)
            except ExportError as exc:
                failures.append(str(exc))
        if written:
            self.window.status.showMessage(f"Exported {len(written)} file{'s' * (len(written) != 1)} to {folder}", 10_000)
        if failures:
            self._show_error("Some exports failed", "\n".join(failures), warning=True)
        return written, failures

    # --- drag and drop ------------------------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if obj is self.window:
            kind = event.type()
            if kind in (QEvent.DragEnter, QEvent.DragMove):
                if self._dropped(event.mimeData()) is not None:
                    event.acceptProposedAction()
                    return True
            elif kind == QEvent.Drop:
                dropped = self._dropped(event.mimeData())
                if dropped is not None:
                    event.acceptProposedAction()
                    # open after the drop has returned: a dialog inside the drop handler would stall the drag source
                    QTimer.singleShot(0, partial(self._open_dropped, *dropped))
                    return True
        return False

    @staticmethod
    def _dropped(mime) -> tuple[str, str] | None:
        """(kind, path) of the first droppable local file: checkpoint (.h5), dataset (.npz) or a folder of runs."""
        if mime is None or not mime.hasUrls():
            return None
        for url in mime.urls():
            if not url.isLocalFile():
                continue
            path = url.toLocalFile()
            if Path(path).is_dir():
                return "runs", path
            suffix = Path(path).suffix.lower()
            if suffix in CHECKPOINT_SUFFIXES:
                return "checkpoint", path
            if suffix in DATASET_SUFFIXES:
                return "dataset", path
        return None

    def _open_dropped(self, kind: str, path: str) -> None:
        if kind == "checkpoint":
            self.open_checkpoint(path)
        elif kind == "runs":
            self.window.compare.open_folder(path)
        else:
            self.open_dataset(path, DATASET_SUFFIXES[Path(path).suffix.lower()])

    # --- asking -----------------------------------------------------------------------------------------
    def confirm_then(self, doing: str, then) -> None:
        """Run `then` now, or after asking when the current run has unsaved steps (Save first, Discard, Cancel)."""
        if not self.unsaved:
            then()
            return
        answer = QMessageBox.question(
            self.window, "Unsaved training",
            f"The current run has {self._latest_step - self._saved_step:,} unsaved steps (step {self._latest_step:,})."
            f" Save it before {doing}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save,
        )
        if answer == QMessageBox.Save:
            self.save(then=then)  # `then` runs once the file is written; a failed save stops here
        elif answer == QMessageBox.Discard:
            then()

    def _show_saved(self, text: str, path: str) -> None:
        self.saved_label.setText(text)
        self.saved_label.setToolTip(path)
        self.saved_label.setVisible(bool(text))

    def _show_error(self, title: str, text: str, warning: bool = False) -> None:
        if self.error_dialogs and self.window.isVisible():
            (QMessageBox.warning if warning else QMessageBox.critical)(self.window, title, text)
        else:
            self.window.banner.show_message(text, "warning" if warning else "error")

    # --- slots of the actions -------------------------------------------------------------------------
    def _on_open_triggered(self) -> None:
        self.open_checkpoint()

    def _on_open_runs_triggered(self) -> None:
        start = self.store.last_folder("runs") or self.store.last_folder("checkpoint") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self.window, "Open a folder of runs", start)
        if folder:
            self.store.set_last_folder("runs", folder)
            self.window.compare.open_folder(folder)

    def _on_recent_triggered(self, path: str, _checked: bool = False) -> None:
        self.open_checkpoint(path)

    def _on_clear_recent_triggered(self) -> None:
        self.store.clear_recent()
        self._rebuild_recent_menu()

    def _on_open_dataset_triggered(self) -> None:
        self.open_dataset()

    def _on_save_triggered(self) -> None:
        self.save()

    def _on_save_as_triggered(self) -> None:
        self.save_as()

    def _on_export_triggered(self) -> None:
        self.export()

    def _on_preferences_triggered(self) -> None:
        from explorer.files.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.window, self.store)
        try:
            if dialog.exec() == QDialog.Accepted:
                dialog.apply()
                self._apply_autosave_interval()
                self._rebuild_recent_menu()
        finally:
            dialog.setParent(None)
            dialog.deleteLater()

    # --- closing ----------------------------------------------------------------------------------------
    def before_close(self) -> None:
        """Closing with unsaved steps: queue an autosave; the training thread copies the model as it stops."""
        if self.store.autosave_on_stop and self.has_model and self._latest_step > max(self._saved_step, self._autosaved_step):
            self.autosave()
        self._closing = True
        self._autosave_timer.stop()

    def shutdown(self) -> None:
        """After the training thread has been joined: copy what is still queued, write it, join the I/O thread."""
        self._closing = True
        self._autosave_timer.stop()
        self.session.drain_after_shutdown()  # a copy asked for while the worker was idle and then quit
        self.io.shutdown()
        self.store.sync()
