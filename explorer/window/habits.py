"""What the window remembers and the keys it answers to, beyond the File menu.

    habits = WindowHabits(window)    # restores the last settings, geometry and dock layout; adds Space
    habits.save()                    # closeEvent does it: layout, geometry and the run settings

Space starts, pauses and resumes training from anywhere in the window (a window-level action), except where
the focused widget uses Space itself: a spin box or line edit keeps it (Qt asks the focus widget first, through
ShortcutOverride), so typing into the β box never toggles training; a focused check box, button or combo box
gets its usual Space (toggle, press, open) from the action, which hands it on. Sliders and plots have no use
for Space, so there it is the shortcut.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QMenu

from explorer.files.settings_store import LAYOUT_VERSION, SettingsStore


class WindowHabits(QObject):
    def __init__(self, window, store: SettingsStore | None = None):
        super().__init__(window)
        self.window = window
        self.store = store or SettingsStore()
        self.start_pause_action = QAction("Start / Pause", window)
        self.start_pause_action.setShortcut(QKeySequence(Qt.Key_Space))
        self.start_pause_action.setShortcutContext(Qt.WindowShortcut)
        tip = "Space: start training, pause it, or resume it (not while typing in a number box)"
        self.start_pause_action.setToolTip(tip)
        self.start_pause_action.setStatusTip(tip)
        self.start_pause_action.triggered.connect(self._on_start_pause_triggered)
        window.addAction(self.start_pause_action)  # active wherever the focus is in the window
        window.quit_action.setToolTip("Close the window: training stops, and unsaved steps are autosaved")
        window.about_action.setToolTip("What vae-explorer shows: the rate–distortion trade-off of a VAE")
        for menu in window.menuBar().findChildren(QMenu):  # the Training menu, above Start
            if window.start_action in menu.actions():
                menu.insertAction(window.start_action, self.start_pause_action)
                menu.insertSeparator(window.start_action)
                break

        self.restored_layout = self._restore_layout()
        settings = self.store.run_settings()
        if settings is not None:
            window.run_settings.set(settings)
        window.run.sig_state_changed.connect(self._on_state_changed)
        window.installEventFilter(self)

    def save(self) -> None:
        self.store.save_layout(self.window.saveGeometry(), self.window.saveState(LAYOUT_VERSION))
        if not self.window.run.template:  # the demo's settings are not the user's to come back to
            self.store.save_run_settings(self.window.run_settings.value)
        self.store.sync()

    def _restore_layout(self) -> bool:
        """Geometry and dock layout as last closed; False (and the built-in layout) when none is stored."""
        geometry, state = self.store.layout()
        restored = geometry is not None and self.window.restoreGeometry(geometry)
        if state is not None:  # a layout of another LAYOUT_VERSION is refused: the built-in one stays
            restored = self.window.restoreState(state, LAYOUT_VERSION) and restored
        return restored

    @Slot(object)
    def _on_state_changed(self, state) -> None:
        if state.value == "loading":  # Start was pressed: these are the settings worth coming back to
            self.store.save_run_settings(self.window.run_settings.value)

    def _on_start_pause_triggered(self) -> None:
        focus = QApplication.focusWidget()
        if isinstance(focus, QAbstractButton) and focus.isEnabled() and focus.window() is self.window:
            focus.click()  # what Space does to a focused check box or button
            return
        if isinstance(focus, QComboBox) and focus.isEnabled() and focus.window() is self.window:
            focus.showPopup()
            return
        w = self.window
        state = w.state.value
        if state in ("idle", "stopped"):
            w.start_action.trigger()
        elif state in ("training", "paused"):
            w.pause_action.trigger()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if obj is self.window and event.type() == QEvent.Close:
            self.save()  # before the docks go: saveState needs them
        return False
