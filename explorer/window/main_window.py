"""The main window: training curves in the centre, dockable panels around them, run actions on top.

    window = MainWindow()
    window.add_panel("Latent space", LatentPanel(), Qt.RightDockWidgetArea)   # how later panels slot in
    window.start_training(max_steps=200)      # what the Start action does (max_steps for screenshots/tests)
    window.open_checkpoint("run.h5")
    window.run.state, window.run.unsaved      # the run and its file: explorer.models.run_model

The window composes and forwards: training, data loading and checkpoint reading happen in the `TrainSession`'s
worker thread, whose queued signals land in the `_on_*` slots below (or in the RunModel's own slots); the run
state lives in `self.run`, the actions that follow it in `self.actions` (explorer.window.run_actions).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QMessageBox, QToolBar, QVBoxLayout, QWidget

from explorer.files.exports import export_targets
from explorer.files.settings_store import SettingsStore
from explorer.models.explored_run import ExploredRun
from explorer.models.run_model import RunModel, epochs_text
from explorer.models.run_settings import new_run_settings
from explorer.models.run_settings_model import RunSettingsModel
from explorer.models.run_state import RunState
from explorer.models.sweep_state import SweepState
from explorer.panels.controls import ControlsPanel
from explorer.panels.curves import CurvesPanel
from explorer.panels.timeline import TimelineBar
from explorer.runtime.session import TrainSession
from explorer.window.file_actions import FileController
from explorer.window.fitting import fits_screen, shrinkable
from explorer.window.habits import WindowHabits
from explorer.window.dock_layout import arrange_docks, hide_orphan_tab_bars, size_docks
from explorer.window.film import FilmExport
from explorer.window.latent_panels import LatentPanels
from explorer.window.panel_names import film_panels, panel_widget, refresh_views
from explorer.window.run_actions import RunActions
from explorer.window.run_comparison import RunComparison
from explorer.window.status_bar import ExploredBadge, MessageBanner, TrainingStatusBar
from explorer.window.wheel_guard import WheelGuard
from trainer.experiments import EXPERIMENTS

APP_NAME = "vae-explorer"
SCREEN_SHARE = 0.9
"""On first launch the window takes this share of the screen's available width and height, centred on it."""
COMFORTABLE_SIZE = (1280, 800)
"""...but at least this much where the screen has it (on a small laptop screen, all of it)."""
FRAME_ALLOWANCE = (16, 40)
"""px the window manager's frame and title bar may add around the window, kept free on a small screen."""
DEVICE_PROBE_DELAY_MS = 300
"""torch loads in the worker after the window has painted, so it never delays the first frame."""


class MainWindow(QMainWindow):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(APP_NAME)
        self.session = TrainSession(self)
        self._accelerated = False  # the device probe found a GPU (new runs get the larger model)
        self.store = SettingsStore()  # the one store of what the window remembers (files, habits, Reset)
        self._had_selection = False  # the scatter had a box/lasso selection: a new one does not raise its panel
        self.docks: dict[str, QDockWidget] = {}
        """Every panel's dock by its title (add_panel)."""
        self.explored = ExploredRun(self)
        """Which run the views show, and its moment: the one owner, for the curves, the timeline and the panels."""
        self.curves = CurvesPanel(self.explored)
        self.run_settings = RunSettingsModel(new_run_settings(False), self)
        """What a new run trains with: the Controls are its view; Start, sweeps and the habits read it."""
        self.controls = ControlsPanel(self.run_settings)
        self.banner = MessageBanner()
        self.status = TrainingStatusBar()
        self.setStatusBar(self.status)
        self.run = RunModel(epochs=self.run_settings.value.epochs, parent=self)
        self.sweeps = SweepState(self)
        """The window's sweep (busy: Start waits) and its guided experiment."""
        self.actions = RunActions(self.run, self.session, self.run_settings, self.sweeps, self.controls, self.banner,
                                  self.status, parent=self)
        self.start_action, self.pause_action = self.actions.start_action, self.actions.pause_action
        self.stop_action, self.reset_action = self.actions.stop_action, self.actions.reset_action
        self.quit_action = QAction("Quit", self, shortcut=QKeySequence.Quit)
        self.about_action = QAction(f"About {APP_NAME}", self)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.banner)
        layout.addWidget(self.curves, 1)
        self.timeline = TimelineBar(self.explored)
        """Under the curves: the explored run's moments, scrubbed, played and pinned."""
        layout.addWidget(self.timeline)
        self.setCentralWidget(central)
        self.controls_dock = self.add_panel("Controls", self.controls, Qt.LeftDockWidgetArea)
        self.controls_dock.setMinimumWidth(300)

        self._create_menus_and_toolbar()
        # the latent-space panels join through add_panel like any other (after the menus: View lists them)
        self.explore = LatentPanels(self, self.explored)
        self.explore_docks = {title: self.add_panel(title, panel, area) for title, panel, area in self.explore.docks()}
        self.status.add_badge(ExploredBadge(self.explore.explored))
        # runs side by side: the Runs panel, overlays, the explored run
        self.compare = RunComparison(self, self.session, self.run, self.run_settings, self.sweeps, self.status,
                                     self.banner, self.curves, self.explore, show_dock=self.show_dock)
        self.runs_dock = self.add_panel("Runs", self.compare.panel, Qt.BottomDockWidgetArea)
        self.compare.sig_play_requested.connect(self.timeline.play_from_start)
        self.film_export = FilmExport(self, self.explored, self.explore, partial(panel_widget, self),
                                      partial(refresh_views, self), self.status, self.banner, film_panels(self.docks),
                                      folder=lambda: self.store.last_folder("checkpoint") or str(Path.home()))
        self.timeline.sig_film_requested.connect(self.film_export.ask)
        self.experiment_dock = self.add_panel("Experiment", self.compare.experiment_panel, Qt.BottomDockWidgetArea)
        self.train_menu.addSeparator()
        self.train_menu.addAction(self.compare.sweep_action)
        self.train_menu.addAction(self.compare.stop_sweep_action)
        self._create_experiments_menu()
        arrange_docks(self)
        self._docks_sized = False  # sized in proportion to the window when it first shows (size_docks)
        self._connect()
        self._probe_timer = QTimer(self, singleShot=True, interval=DEVICE_PROBE_DELAY_MS)
        self._probe_timer.timeout.connect(self.session.probe_devices)
        self._probe_timer.start()
        self.status.show_device("auto")
        self.curves.graphics.setFocus()  # not the first spinbox: a blinking cursor there invites typos
        self.fit_to_screen()  # the first launch; WindowHabits then restores the size the user left, if any
        # the File menu (open, save, autosave, recent, drop, dataset, export), then what the window remembers
        # (layout, settings) and Space: last, so every dock and menu they touch exists
        self.files = FileController(self, self._file_menu, self.session, self.run, self.status, self.banner,
                                    self.run_settings, targets=self.export_targets,
                                    open_runs=self.compare.open_folder, clear_run=self.clear_run, store=self.store)
        self.files.sig_io_done.connect(self._on_io_done)
        self.habits = WindowHabits(self, self.store)
        if not fits_screen(self):  # a remembered frame larger than this screen (or off it)
            self.fit_to_screen()
        self.wheel_guard = WheelGuard(self)  # the wheel scrolls panels; it steps only the box being edited

    @property
    def state(self) -> RunState:
        """The run state (the RunModel owns it)."""
        return self.run.state

    # --- composition ------------------------------------------------------------------------------
    def add_panel(self, title: str, widget: QWidget, area=Qt.RightDockWidgetArea) -> QDockWidget:
        """Dock a panel; its show/hide toggle joins the View menu. objectName keeps layouts restorable."""
        dock = QDockWidget(title, self)
        self.docks[title] = dock
        dock.setObjectName(title.replace(" ", "") + "Dock")
        dock.setWidget(shrinkable(widget))  # squeezed, a panel scrolls: it never widens the window off the screen
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        if hasattr(self, "view_menu"):
            self.view_menu.addAction(dock.toggleViewAction())
        return dock

    def export_targets(self) -> list:
        """What File > Export offers now (explorer.files.exports): the curves, every panel's plots and grids, the
        Runs table."""
        return export_targets(self.curves.graphics.ci, [(title, panel) for title, panel, _ in self.explore.docks()],
                              self.compare.catalog.records())

    def show_dock(self, title: str) -> None:
        """Show the panel of this title, in front of the tabs it shares (one the window does not have: nothing)."""
        dock = self.docks.get(title)
        if dock is not None:
            dock.show()
            dock.raise_()

    def fit_to_screen(self) -> None:
        """Most of the screen's available area (QScreen.availableGeometry), centred: the four curve plots and the
        image grids need room, and a fixed 1280x800 left them a few tens of px on a large screen."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(*COMFORTABLE_SIZE)
            return
        area = screen.availableGeometry()
        width = min(area.width() - FRAME_ALLOWANCE[0], max(int(SCREEN_SHARE * area.width()), COMFORTABLE_SIZE[0]))
        height = min(area.height() - FRAME_ALLOWANCE[1], max(int(SCREEN_SHARE * area.height()), COMFORTABLE_SIZE[1]))
        self.resize(max(width, 1), max(height, 1))
        frame = self.frameGeometry()
        frame.moveCenter(area.center())
        self.move(max(frame.left(), area.left()), max(frame.top(), area.top()))

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._docks_sized:
            QTimer.singleShot(0, partial(hide_orphan_tab_bars, self))  # after the first layout pass made the tab bars
            self._docks_sized = True
            habits = getattr(self, "habits", None)
            if habits is None or not habits.restored_layout:  # a layout the user left wins
                size_docks(self)

    def _create_menus_and_toolbar(self) -> None:
        menus = self.menuBar()
        self._file_menu = menus.addMenu("&File")
        self._file_menu.addAction(self.quit_action)
        train_menu = menus.addMenu("&Training")
        for action in self.actions.all:
            train_menu.addAction(action)
        self.train_menu = train_menu
        self.view_menu = menus.addMenu("&View")
        self.view_menu.addAction(self.controls_dock.toggleViewAction())
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self.about_action)

        toolbar = QToolBar("Training", self)
        toolbar.setObjectName("TrainingToolBar")
        toolbar.setIconSize(QSize(18, 18))
        toolbar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        for action in self.actions.all:
            toolbar.addAction(action)
        self.addToolBar(Qt.TopToolBarArea, toolbar)
        self.toolbar = toolbar

    def _create_experiments_menu(self) -> None:
        """Experiments ▸ one action per guided experiment (trainer.experiments), before Help."""
        menu = QMenu("E&xperiments", self)
        menu.setToolTipsVisible(True)
        for experiment in EXPERIMENTS:
            runs = experiment.runs
            action = menu.addAction(experiment.title)
            action.setToolTip(f"Train a small sweep that shows it ({runs} run{'s' if runs > 1 else ''} on 28×28 "
                              "sprites), then say what it measured")
            action.triggered.connect(partial(self._on_experiment_triggered, experiment))
        help_action = self.menuBar().actions()[-1]
        self.menuBar().insertMenu(help_action, menu)
        self.experiments_menu = menu

    def _on_experiment_triggered(self, experiment, _checked: bool = False) -> None:
        self.compare.start_experiment(experiment)

    def _connect(self) -> None:
        self.reset_action.triggered.connect(self._on_reset_triggered)
        self.quit_action.triggered.connect(self.close)
        self.about_action.triggered.connect(self._on_about_triggered)
        # live settings go straight to the trainer's thread-safe setters
        # β: the Controls ask, LiveBeta owns it (the plane draws it), the trainer gets the settled targets
        self.controls.sig_beta_changed.connect(self.explore.beta.request)
        self.controls.sig_beta_previewed.connect(self.explore.beta.preview)
        self.explore.beta.sig_requested.connect(self.session.set_beta)
        self.controls.sig_lr_changed.connect(self.session.set_lr)
        self.controls.sig_free_bits_changed.connect(self.session.set_free_bits)
        self.explore.cursor.sig_selection_changed.connect(self._on_selection_changed)
        self.run_settings.sig_changed.connect(self._on_settings_changed)
        self.explore.kl.sig_collapse_changed.connect(self._on_collapse_changed)
        self.explore_docks["Traversals"].visibilityChanged.connect(self.explore.traversal.on_shown)
        self.explore_docks["Latent arithmetic"].visibilityChanged.connect(self.explore.attribute.on_shown)
        self.explore_docks["Prior vs q(z)"].visibilityChanged.connect(self.explore.aggregate.on_shown)
        self.explore.scatter.sig_refresh_requested.connect(self.session.request_latents)
        self.explore.scatter.sig_refresh_every_changed.connect(self.session.set_latent_every)
        self.session.set_latent_every(self.explore.scatter.refresh_every())
        # session -> window: queued connections to methods of this GUI-thread object (never lambdas)
        session = self.session
        session.worker.sig_devices.connect(self._on_devices_found)
        session.worker.sig_status.connect(self._on_worker_status)
        session.worker.sig_started.connect(self._on_run_started)
        session.worker.sig_progress.connect(self._on_progress)
        session.worker.sig_epoch.connect(self._on_epoch_done)
        session.worker.sig_diverged.connect(self._on_diverged)
        session.worker.sig_failed.connect(self._on_failed)
        session.worker.sig_data_notes.connect(self._on_data_notes)
        session.worker.sig_ended.connect(self._on_run_ended)
        session.worker.sig_opened.connect(self._on_checkpoint_opened)
        # the run state follows the engine: a pause when the steps have stopped, a refused open as it is refused
        session.worker.sig_paused.connect(self.run.on_paused)
        session.worker.sig_open_refused.connect(self.run.on_open_refused)

    # --- what the actions do ------------------------------------------------------------------------
    def start_training(self, max_steps: int | None = None) -> bool:
        """What Start does (explorer.window.run_actions); max_steps for screenshots and tests."""
        return self.actions.start_training(max_steps)

    def open_checkpoint(self, path: str) -> None:
        """File > Open with a path: read and validated off the GUI thread, then it replaces the current run."""
        self.files.open_checkpoint(path)

    def _on_reset_triggered(self) -> None:
        if self.state is RunState.STOPPED:
            # asks only when steps were trained since the last save or open: an opened file loses nothing
            self.files.confirm_then("resetting", self.clear_run)

    def clear_run(self) -> None:
        """Forget the model and everything drawn from it (Reset; a new dataset that the model cannot fit). A
        template's settings (the demo's conv at 64 px) go with it: the user's last own settings come back, or the
        new-run settings of this machine (explorer.models.run_settings.new_run_settings)."""
        if self.run.template:
            remembered = self.store.run_settings()
            self.run_settings.set(remembered or new_run_settings(self._accelerated))
        else:
            self.run_settings.restore_epochs()  # Continue may have raised Epochs for the run that goes now
        self.session.reset()
        self.curves.clear()
        self.explore.clear()
        self.status.reset()
        self.banner.clear()
        self.setWindowTitle(APP_NAME)
        self.run.cleared()

    def _on_selection_changed(self, positions) -> None:
        """A first box or lasso selection brings its panel to the front, where its tab was behind another."""
        had, self._had_selection = self._had_selection, len(positions) > 0
        if self._had_selection and not had:
            self.explore_docks["Selection"].raise_()

    def _on_about_triggered(self) -> None:
        QMessageBox.about(
            self, f"About {APP_NAME}",
            f"<b>{APP_NAME}</b><p>Train variational autoencoders live and watch the rate–distortion "
            "trade-off: the loss is distortion −E log p(x|z) plus β times the rate KL(q(z|x)‖p(z)).</p>",
        )

    # --- what the worker reports ------------------------------------------------------------------
    # @Slot matters here: PySide6 queues a cross-thread call to the receiver's thread reliably only for
    # declared slots (a method wrapped after class creation ran in the worker thread in our checks).
    @Slot(object)
    def _on_devices_found(self, devices: list) -> None:
        self.controls.set_devices(devices)
        self._accelerated = any(d in ("cuda", "mps") for d in devices)
        self.controls.show_machine(self._accelerated)
        untouched = self.run_settings.value == new_run_settings(False) and self.state is RunState.IDLE
        if self._accelerated and untouched:  # nothing chosen or opened yet: a GPU gets the larger model
            self.run_settings.set(new_run_settings(True))

    @Slot(str)
    def _on_worker_status(self, text: str) -> None:
        if self.run.continue_text:  # stopped: e.g. "Encoded 2,000 held-out examples." and what Continue does
            text = f"{text} {self.run.continue_text}"
        self.status.showMessage(text)

    @Slot(object)
    def _on_run_started(self, info) -> None:
        self.status.clearMessage()
        if info.added_epochs:  # Continue on a finished run: the worker added the Epochs value's worth
            self.run_settings.show_run_epochs(info.epochs)
            # in the banner, not the status bar: training reports overwrite a status message within a second
            self.banner.show_message(
                f"The run had done its {epochs_text(info.epoch)}: Continue trains {info.added_epochs} more, so Epochs"
                f" now shows the new total, {info.epochs} (Reset gives back the value you set).", "info")
        self.status.show_started(info)
        self.curves.show_bound(info.iwae_k)
        self.explore.rd.show_bound(info.iwae_k)
        self.setWindowTitle(f"{APP_NAME} — {info.dataset}")
        self.run.on_started(info)

    def _on_collapse_changed(self, collapsed: bool) -> None:
        # the KL strip may sit behind another tab: on a collapse its tab comes to the front (unless the user
        # closed the dock) and says so, so its warning is seen; the banner stays for errors and divergence
        dock = self.explore_docks["KL per dimension"]
        dock.setWindowTitle("KL per dimension ⚠ collapse" if collapsed else "KL per dimension")
        if collapsed and dock.toggleViewAction().isChecked():
            dock.raise_()

    def _on_settings_changed(self, settings) -> None:
        if settings.epochs == self.run.epochs:
            return
        self.run.set_epochs(settings.epochs)
        if self.run.continue_text:  # stopped: what Continue will do now
            self.status.showMessage(self.run.continue_text, 10_000)

    @Slot(object)
    def _on_progress(self, batch) -> None:
        self.curves.add_steps(batch.step, batch.recon, batch.kl, batch.elbo, batch.beta, batch.loss)
        self.explore.on_progress(batch)
        if batch.beta_changes:
            self.curves.add_beta_changes(batch.beta_changes)
        self.status.show_report(batch.latest)
        self.run.on_step(batch.latest.step)

    @Slot(object)
    def _on_epoch_done(self, report) -> None:
        self.curves.add_epoch(report.step, report.test_recon, report.test_kl, report.test_elbo)
        self.explore.on_epoch(report)
        # no active-unit count here: the KL strip and the sliders show the one decision about which are active
        # (explorer.models.latent_activity), and a second count from another measurement contradicted it now and then
        self.status.showMessage(
            f"Epoch {report.epoch}: held-out ELBO {report.test_elbo:.2f} nats (distortion {report.test_recon:.2f},"
            f" rate {report.test_kl:.2f})",
            10_000,
        )

    @Slot(str)
    def _on_diverged(self, message: str) -> None:
        self.banner.show_message(f"Training diverged. {message}", "warning")  # the pause follows: PauseChanged

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.status.clearMessage()
        self.banner.show_message(message, "error")

    @Slot(str)
    def _on_data_notes(self, notes: str) -> None:
        self.banner.show_message(notes, "warning")

    @Slot(object)
    def _on_run_ended(self, info) -> None:
        self.status.show_position(info.step, info.epoch, epoch_progress=info.epoch_progress)
        stopping = self.run.stopping  # the user's Stop ended it (not the text on the status bar)
        self.run.on_ended(info)
        if info.finished:
            self.status.showMessage(f"Finished {epochs_text(info.epoch)}. {self.run.continue_text}")
        elif stopping:
            self.status.showMessage(f"Stopped at step {info.step:,}.", 5000)
        self.files.autosave.on_run_ended(info)  # autosave on stop: after the state, in this same event

    @Slot(object)
    def _on_checkpoint_opened(self, opened) -> None:
        self.run_settings.set(opened.settings)
        bound_k = opened.settings.iwae_k if opened.settings.objective == "iwae" else None
        self.curves.show_bound(bound_k)
        self.explore.rd.show_bound(bound_k)
        self.curves.set_history(opened.history)
        self.explore.clear()  # the opened model's decoder and encodings follow from the worker
        self.explore.set_history(opened.history)
        self.status.show_position(opened.step, opened.epoch, opened.settings.epochs)
        self.setWindowTitle(f"{APP_NAME} — {opened.path}")
        # what counts as unsaved: in the event that shows the opened curves
        self.run.on_opened(opened, keep_path=self.files.take_remembered(opened.path))
        self.status.showMessage(f"Opened {opened.path} at step {opened.step:,}. {self.run.continue_text}", 10_000)

    @Slot(object)
    def _on_io_done(self, result) -> None:
        if result.ok and result.job.kind == "checkpoint" and result.job.reason == "save":
            self.setWindowTitle(f"{APP_NAME} — {result.job.path}")

    def closeEvent(self, event: QCloseEvent) -> None:
        # stop, quit and join the thread before Qt destroys it: no "QThread destroyed while running"
        self._probe_timer.stop()
        # stop first: the autosave below is copied at the step where the run stops, not one or two steps before it
        # (joining the background jobs between the two let the trainer take another step, unsaved)
        self.session.stop()
        self.files.before_close()  # unsaved steps: an autosave the stopping run copies
        self.explore.shutdown()  # joins the ELBO-gap estimate's thread
        self.compare.shutdown()  # joins the run-loading thread
        self.session.shutdown()
        self.files.shutdown()  # writes what is queued, joins the I/O thread
        super().closeEvent(event)

