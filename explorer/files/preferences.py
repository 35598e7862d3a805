"""File > Preferences: when and where the window autosaves, where runs write TensorBoard events, recent files.

    dialog = PreferencesDialog(window, store)      # a settings_store.SettingsStore
    if dialog.exec() == QDialog.Accepted:
        dialog.apply()                             # writes the choices to the store
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.files.settings_store import SettingsStore, default_autosave_folder, default_tensorboard_folder


class PreferencesDialog(QDialog):
    def __init__(self, parent: QWidget | None, store: SettingsStore):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.store = store

        self.on_stop_check = QCheckBox("when training stops or the window closes")
        self.on_stop_check.setChecked(store.autosave_on_stop)
        self.on_stop_check.setToolTip("Write the model, optimizer state and curves to the autosave folder whenever a\n"
                                      "run stops (Stop, the last epoch, closing the window) with unsaved steps.")
        self.minutes_spin = QSpinBox(minimum=0, maximum=24 * 60, suffix=" min")
        self.minutes_spin.setSpecialValueText("never")
        self.minutes_spin.setValue(store.autosave_minutes)
        self.minutes_spin.setMaximumWidth(120)
        self.minutes_spin.setToolTip("While training, autosave this often (0: never). The copy is taken between two\n"
                                     "steps and written by a background thread, so training and the window go on.")
        self.folder_edit = QLineEdit(store.autosave_folder())
        self.folder_edit.setToolTip("Autosaves go here as <name>.autosave.h5, one file per run, replaced each time;\n"
                                    "your own checkpoint files are never overwritten by an autosave.")
        self.browse_button = QToolButton(text="…")
        self.browse_button.setToolTip("Choose the autosave folder")
        self.default_button = QPushButton("Default")
        self.default_button.setToolTip(default_autosave_folder())
        folder_row = QWidget()
        row = QHBoxLayout(folder_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        row.addWidget(self.default_button)
        self.clear_recent_button = QPushButton("Clear the recent files list")
        self.clear_recent_button.setToolTip("Forget the files listed under File > Open Recent (the files stay).")
        self.clear_recent_button.setEnabled(bool(store.recent_files()))

        self._build_tensorboard_row(store)
        form = QFormLayout()
        form.addRow("Autosave", self.on_stop_check)
        form.addRow("Autosave every", self.minutes_spin)
        form.addRow("Autosave folder", folder_row)
        form.addRow("TensorBoard", self.tensorboard_row)
        form.addRow("", self.clear_recent_button)
        note = QLabel("Settings, window layout and recent files are kept in "
                      f"<code>{store.qsettings.fileName()}</code>.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #606060")
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.setMinimumWidth(640)

        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.default_button.clicked.connect(self._on_default_clicked)
        self.clear_recent_button.clicked.connect(self._on_clear_recent_clicked)
        self._clear_recent = False

    def _build_tensorboard_row(self, store: SettingsStore) -> None:
        import importlib.util

        available = importlib.util.find_spec("tensorboard") is not None
        self.tensorboard_check = QCheckBox("write each run's events to")
        self.tensorboard_check.setChecked(available and bool(store.tensorboard_folder))
        self.tensorboard_edit = QLineEdit(store.tensorboard_folder or default_tensorboard_folder())
        tip = ("Distortion, rate, −ELBO and β per report, the held-out figures and images per epoch, and the run's\n"
               "hyperparameters for the HParams view, as `train --tensorboard DIR` writes them: one TensorBoard run\n"
               "per run, named for its checkpoint file or its start. Then: tensorboard --logdir FOLDER")
        if not available:
            tip = 'Needs the tensorboard package, which is not installed: pip install -e ".[tensorboard]"'
        self.tensorboard_browse = QToolButton(text="…")
        self.tensorboard_row = QWidget()
        row = QHBoxLayout(self.tensorboard_row)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.tensorboard_check, self.tensorboard_edit, self.tensorboard_browse):
            widget.setToolTip(tip)
            widget.setEnabled(available)
            row.addWidget(widget, 1 if widget is self.tensorboard_edit else 0)
        self.tensorboard_browse.clicked.connect(self._on_tensorboard_browse_clicked)

    def _on_tensorboard_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "TensorBoard folder", self.tensorboard_edit.text())
        if folder:
            self.tensorboard_edit.setText(folder)

    def apply(self) -> None:
        self.store.autosave_on_stop = self.on_stop_check.isChecked()
        self.store.autosave_minutes = self.minutes_spin.value()
        self.store.set_autosave_folder(self.folder_edit.text().strip() or default_autosave_folder())
        on = self.tensorboard_check.isChecked() and bool(self.tensorboard_edit.text().strip())
        self.store.tensorboard_folder = self.tensorboard_edit.text().strip() if on else ""
        if self._clear_recent:
            self.store.clear_recent()

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Autosave folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _on_default_clicked(self) -> None:
        self.folder_edit.setText(default_autosave_folder())

    def _on_clear_recent_clicked(self) -> None:
        self._clear_recent = True
        self.clear_recent_button.setEnabled(False)
        self.clear_recent_button.setText("The list is cleared when you press OK")
