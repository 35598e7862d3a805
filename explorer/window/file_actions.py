"""The File menu: open and save checkpoints, autosave, recent files, drag and drop, open a dataset, export.

    files = FileController(window, file_menu, session, run, status, banner, settings, targets=..., open_runs=...,
                           clear_run=...)     # adds its actions to the File menu, above Quit; GUI thread only
    files.open_checkpoint("run.h5")       # what Ctrl+O, Open Recent, a drop and `vae-explorer run.h5` do
    files.save("run.h5")                  # Ctrl+S / Ctrl+Shift+S without the file dialog
    files.open_dataset()                  # Ctrl+Shift+O: DatasetDialog, then the worker trains on its Dataset
    files.export()                        # Ctrl+E: ExportDialog, then PNG/SVG/CSV files
    files.before_close(); ...; files.shutdown()   # from closeEvent: autosave, then join the I/O thread

Nothing here reads or writes a checkpoint on the GUI thread. Opening: the I/O thread reads and validates the
file first and the current run is only touched once it is known good, so a bad file costs a dialog and nothing
else (training goes on if it was going). Saving: the training thread copies the model between steps
(TrainSession.request_snapshot), the I/O thread writes the copy atomically, and the status bar says "Saved …".
Which steps are saved is the RunModel's to say (explorer.models.run_model); this class reports what landed.
"""

from __future__ import annotations

import itertools
from functools import partial
from pathlib import Path
from typing import Callable

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QLabel, QMenu, QMessageBox, QWidget

from explorer.files.settings_store import SettingsStore
from explorer.models.run_model import RunModel
from explorer.runtime.checkpoint_io import IoJob, IoThread
from explorer.window.autosave import Autosave
from explorer.window.file_drops import CHECKPOINT_SUFFIXES, DATASET_SUFFIXES, FileDrops

CHECKPOINT_FILTER = "vae-explorer checkpoints (*.h5 *.hdf5);;All files (*)"


class FileController(QObject):
    """Owns the File menu's actions, the I/O thread, autosave and the recent-files list for one MainWindow."""

    sig_open_failed = Signal(str)
    """A checkpoint could not be opened: its one-line message (also shown in a dialog, or the banner)."""
    sig_io_done = Signal(object)
    """checkpoint_io.IoResult of every save, autosave and CSV export, after the window has shown it."""

    def __init__(self, host: QWidget, file_menu: QMenu, session, run: RunModel, status, banner, settings,
                 targets: Callable[[], list], open_runs: Callable[[str], None], clear_run: Callable[[], None],
                 store: SettingsStore | None = None):
        """host: the window, parent of the dialogs and target of drops; file_menu: where the actions go, above
        its last action (Quit); targets: what File > Export offers; open_runs: a folder of runs (Open Runs, a
        dropped folder); clear_run: the model is discarded (a dataset it cannot fit)."""
        super().__init__(host)
        self.host, self.session, self.run = host, session, run
        self.status, self.banner, self.settings = status, banner, settings
        self._targets, self._open_runs, self._clear_run = targets, open_runs, clear_run
        self.store = store or SettingsStore()  # the window's one store (recent files, folders, autosave)
        self.io = IoThread(self)
        self.error_dialogs = True
        """False (screenshots, scripts): errors go to the window's banner instead of a modal dialog."""
        self._job_ids = itertools.count(1)
        self._load_id = 0
        self._after_save: dict[int, object] = {}  # job id -> what to do once that save succeeded
        self._remember: dict[str, bool] = {}  # path being opened -> join recent files and become Save's target
        self._closing = False
        self.autosave = Autosave(run, session, self.store, banner, partial(next, self._job_ids), self)
        session.tensorboard = self.store.tensorboard_folder  # each Start writes its events there (Preferences)

        self._create_actions()
        self._install_menu(file_menu)
        # "Saved run.h5 at step 1,200": stays in the status bar, where passing messages (epochs) cannot hide it
        self.saved_label = QLabel()
        self.saved_label.setToolTip("The file the model was last saved to or opened from, and at which step")
        status.add_badge(self.saved_label)
        self.saved_label.hide()
        run.sig_file_changed.connect(self._show_saved)

        # training thread -> I/O thread, directly: the copy never passes through the GUI thread
        session.worker.sig_snapshot.connect(self.io.worker.write)
        self.io.worker.sig_done.connect(self._on_io_done)
        self.io.worker.sig_loaded.connect(self._on_checkpoint_loaded)
        self.io.worker.sig_load_failed.connect(self._on_checkpoint_load_failed)
        # the run's progress, end and opened checkpoints reach the RunModel through the window's slots, in the
        # same event as the curves: never a moment between
        session.worker.sig_dataset_changed.connect(self._on_dataset_changed)
        run.sig_state_changed.connect(self._on_state_changed)
        self.drops = FileDrops(host, self.open_checkpoint, open_runs, self.open_dataset)
        self._on_state_changed(run.state)

    # --- menu -------------------------------------------------------------------------------------------
    def _create_actions(self) -> None:
        w = self.host

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

    def _install_menu(self, file_menu: QMenu) -> None:
        """Put the actions into the File menu, above its last action (Quit)."""
        self.file_menu = file_menu
        file_menu.setToolTipsVisible(True)
        before = file_menu.actions()[-1]
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

    # --- state ---------------------------------------------------------------------------------------------
    @Slot(object)
    def _on_state_changed(self, _state) -> None:
        self.save_action.setEnabled(self.run.has_model)
        self.save_as_action.setEnabled(self.run.has_model)

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
            path, _ = QFileDialog.getOpenFileName(self.host, "Open checkpoint", start, CHECKPOINT_FILTER)
            if not path:
                return
        self._load_id += 1
        self._remember[str(path)] = remember
        self.status.showMessage(f"Opening {path}…")
        self.io.load(self._load_id, str(path))

    @Slot(object)
    def _on_checkpoint_loaded(self, loaded) -> None:
        if loaded.request_id != self._load_id or self._closing:
            return  # a newer Open superseded this one
        if self._remember.get(loaded.path, True):
            self.store.add_recent(loaded.path)
            self.store.set_last_folder("checkpoint", loaded.path)
            self._rebuild_recent_menu()
        self._replace_run()
        self.session.adopt_checkpoint(loaded)  # queued behind the stopping run: it lands once that has ended
        self.run.checkpoint_queued()

    @Slot(object)
    def _on_checkpoint_load_failed(self, failed) -> None:
        if failed.request_id != self._load_id or self._closing:
            return
        self.status.showMessage("Nothing was opened; the current run is unchanged.", 10_000)
        if "no such file" in failed.message:
            self.store.remove_recent(failed.path)
            self._rebuild_recent_menu()
        self._show_error("Cannot open checkpoint", failed.message)
        self.sig_open_failed.emit(failed.message)

    def take_remembered(self, path: str) -> bool:
        """The opened `path` is the user's file (Save writes there), not a template such as the demo model."""
        return self._remember.pop(path, True)

    def _replace_run(self) -> None:
        """Another run replaces the current one (the user chose so): stop it, without an autosave of its end."""
        if self.run.run_in_flight:
            self.autosave.skip_next_end()
            self.session.stop()

    # --- save -----------------------------------------------------------------------------------------
    def save(self, path: str | None = None, then=None) -> int | None:
        """Save to `path` (default: the current file; none yet: ask for one). Returns the job id, or None."""
        if not self.run.has_model:
            self.status.showMessage("Nothing to save yet: train or open a model first.", 5000)
            return None
        if path is None:
            path = self.run.current_path or self._ask_save_path()
            if not path:
                return None
        path = str(Path(path).expanduser())
        if Path(path).suffix.lower() not in CHECKPOINT_SUFFIXES:
            path += ".h5"
        job = IoJob(next(self._job_ids), "checkpoint", path, "save")
        if then is not None:
            self._after_save[job.job_id] = then
        self.status.showMessage(f"Saving {path}…")
        self.session.request_snapshot(job)
        return job.job_id

    def save_as(self) -> int | None:
        path = self._ask_save_path()
        return self.save(path) if path else None

    def _ask_save_path(self) -> str:
        start = self.run.current_path or str(Path(self.store.last_folder("checkpoint") or Path.home()) / "run.h5")
        path, _ = QFileDialog.getSaveFileName(self.host, "Save checkpoint", start, CHECKPOINT_FILTER)
        return path

    @Slot(object)
    def _on_io_done(self, result) -> None:
        job = result.job
        then = self._after_save.pop(job.job_id, None)
        name = Path(job.path).name
        if result.ok and job.kind == "checkpoint":
            if job.reason == "save":
                self.run.saved(job.path, result.step)
                self.store.add_recent(job.path)
                self.store.set_last_folder("checkpoint", job.path)
                self._rebuild_recent_menu()
                self.status.showMessage(f"Saved {job.path} (step {result.step:,}) in {result.seconds:.2f} s",
                                        10_000)
            else:
                self.run.autosaved(job.path, result.step)
                self.status.showMessage(f"Autosaved {job.path} (step {result.step:,})", 10_000)
            if then is not None:
                then()
        elif result.ok:  # a CSV export
            shown = ", ".join(Path(f).name for f in result.files)
            self.status.showMessage(f"Exported the history to {shown}", 10_000)
        elif job.reason == "autosave":
            self.banner.show_message(f"Autosave failed: {result.message}", "warning")
        elif job.kind == "history":
            self._show_error("Export failed", result.message)
        else:
            self.status.showMessage(f"Not saved: {name}", 10_000)
            self._show_error("Cannot save checkpoint", result.message)
        if job.reason == "autosave":
            self.autosave.written(job.job_id)
        self.sig_io_done.emit(result)

    # --- open a dataset -------------------------------------------------------------------------------
    def open_dataset(self, path: str | None = None, kind: str | None = None) -> None:
        """The dataset dialog (preview, size, errors); on OK the worker trains on its Dataset from now on."""
        from explorer.files.dataset_dialog import DatasetDialog
        from trainer.data.dataset import same_source

        settings = self.settings.value
        dialog = DatasetDialog(self.host, seed=settings.split_seed, start_dir=self.store.last_folder("dataset"))
        try:
            if path is not None:
                dialog.load_path(path, kind or DATASET_SUFFIXES.get(Path(path).suffix.lower(), "npz"))
            accepted = dialog.exec() == QDialog.Accepted
            dataset = dialog.dataset()
            source = dialog.path()
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
        self._replace_run()
        self.session.use_dataset(dataset)  # queued behind the stopping run
        # set at once, so a Start pressed meanwhile already asks for this dataset
        self.settings.update(dataset=spec.name, path=spec.path, key=spec.key, data_dir=spec.data_dir,
                             limit=spec.limit)
        self.status.showMessage(f"Switching to {dataset.describe()}…")

    @Slot(object)
    def _on_dataset_changed(self, changed) -> None:
        if not changed.kept_model:
            self._clear_run()
        what = "the model is kept; Continue trains it on" if changed.kept_model else "press Start to train on"
        self.status.showMessage(f"Dataset: {changed.description}, {changed.n_train:,} training images; "
                                       f"{what} it.", 15_000)

    # --- export -----------------------------------------------------------------------------------------
    def export(self) -> None:
        from explorer.files.export_dialog import ExportDialog

        targets = self._targets()
        current = self.run.current_path
        folder = self.store.last_folder("export") or (str(Path(current).parent) if current else str(Path.home()))
        base = Path(current).stem if current else "vae-explorer"
        checked = self.store.qsettings.value("export/checked", None)
        checked = set(checked) if isinstance(checked, list) else ({checked} if isinstance(checked, str) else None)
        dialog = ExportDialog(self.host, targets, folder, base, checked)
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
            self.status.showMessage(f"Exported {len(written)} file{'s' * (len(written) != 1)} to {folder}", 10_000)
        if failures:
            self._show_error("Some exports failed", "\n".join(failures), warning=True)
        return written, failures

    # --- asking -----------------------------------------------------------------------------------------
    def confirm_then(self, doing: str, then) -> None:
        """Run `then` now, or after asking when the current run has unsaved steps (Save first, Discard, Cancel)."""
        run = self.run
        if not run.unsaved:
            then()
            return
        answer = QMessageBox.question(
            self.host, "Unsaved training",
            f"The current run has {run.latest_step - run.saved_step:,} unsaved steps (step {run.latest_step:,})."
            f" Save it before {doing}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save,
        )
        if answer == QMessageBox.Save:
            self.save(then=then)  # `then` runs once the file is written; a failed save stops here
        elif answer == QMessageBox.Discard:
            then()

    @Slot(str, str)
    def _show_saved(self, text: str, path: str) -> None:
        self.saved_label.setText(text)
        self.saved_label.setToolTip(path)
        self.saved_label.setVisible(bool(text))

    def _show_error(self, title: str, text: str, warning: bool = False) -> None:
        if self.error_dialogs and self.host.isVisible():
            (QMessageBox.warning if warning else QMessageBox.critical)(self.host, title, text)
        else:
            self.banner.show_message(text, "warning" if warning else "error")

    # --- slots of the actions -------------------------------------------------------------------------
    def _on_open_triggered(self) -> None:
        self.open_checkpoint()

    def _on_open_runs_triggered(self) -> None:
        start = self.store.last_folder("runs") or self.store.last_folder("checkpoint") or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self.host, "Open a folder of runs", start)
        if folder:
            self.store.set_last_folder("runs", folder)
            self._open_runs(folder)

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

        dialog = PreferencesDialog(self.host, self.store)
        try:
            if dialog.exec() == QDialog.Accepted:
                dialog.apply()
                self.autosave.apply_interval()
                self.session.tensorboard = self.store.tensorboard_folder
                self._rebuild_recent_menu()
        finally:
            dialog.setParent(None)
            dialog.deleteLater()

    # --- closing ---------------------------------------------------------------------------------------------
    def before_close(self) -> None:
        """Closing with unsaved steps: queue an autosave (the training thread copies the model as it stops)."""
        self.autosave.before_close()
        self._closing = True

    def shutdown(self) -> None:
        """After the training thread has been joined: copy what is still queued, write it, join the I/O thread."""
        self._closing = True
        self.autosave.shutdown()
        self.session.drain_after_shutdown()  # a copy asked for while the worker was idle and then quit
        self.io.shutdown()
        self.store.sync()
