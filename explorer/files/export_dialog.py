"""File > Export (Ctrl+E): pick what to export, a folder and a base name; the caller writes the files.

    dialog = ExportDialog(parent, window.export_targets(), folder="/out", base="run", checked={"curves-png"})
    if dialog.exec() == QDialog.Accepted:
        dialog.chosen(), dialog.folder(), dialog.base()    # ExportTargets, and where: <folder>/<base>-curves.png
"""

from __future__ import annotations

from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.files.exports import ExportTarget


class ExportDialog(QDialog):
    def __init__(self, parent: QWidget | None, targets: list[ExportTarget], folder: str, base: str,
                 checked: set[str] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self._targets = list(targets)
        checked = {"curves-png", "curves-svg", "history-csv"} if checked is None else set(checked)

        self.folder_edit = QLineEdit(folder)
        self.folder_edit.setToolTip("The folder the files go to; it is created if it does not exist.")
        self.browse_button = QToolButton(text="…")
        self.browse_button.setToolTip("Choose the folder")
        self.base_edit = QLineEdit(base)
        self.base_edit.setToolTip("Each file is named <name>-<what>.<ext>, e.g. run-curves.png; "
                                  "existing files are replaced.")
        folder_row = QWidget()
        row = QHBoxLayout(folder_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Folder", folder_row)
        form.addRow("Name", self.base_edit)

        self.list = QListWidget()
        self.list.setToolTip("Tick what to export. Plots come as PNG (pixels) or SVG (vectors);"
                             " the history as CSV tables a spreadsheet opens.")
        for target in self._targets:
            item = QListWidgetItem(target.label)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if target.key in checked else Qt.Unchecked)
            item.setToolTip(target.tooltip)
            item.setData(Qt.UserRole, target.key)
            self.list.addItem(item)
        self.list.setMinimumSize(460, 300)

        self.all_button = QPushButton("Select all")
        self.all_button.setToolTip("Tick every item")
        self.none_button = QPushButton("Select none")
        self.none_button.setToolTip("Untick every item")
        picks = QHBoxLayout()
        picks.addWidget(self.all_button)
        picks.addWidget(self.none_button)
        picks.addStretch(1)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setStyleSheet("color: #606060")

        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.export_button.setToolTip("Write the ticked files now")

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("What to export"))
        layout.addWidget(self.list, 1)
        layout.addLayout(picks)
        layout.addWidget(self.preview)
        layout.addWidget(self.buttons)

        self.buttons.accepted.connect(self._on_accepted)
        self.buttons.rejected.connect(self.reject)
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.all_button.clicked.connect(self._on_all_clicked)
        self.none_button.clicked.connect(self._on_none_clicked)
        self.list.itemChanged.connect(self._update)
        self.folder_edit.textChanged.connect(self._update)
        self.base_edit.textChanged.connect(self._update)
        self._update()

    # --- what the caller reads --------------------------------------------------------------------------
    def chosen(self) -> list[ExportTarget]:
        return [t for i, t in enumerate(self._targets) if self.list.item(i).checkState() == Qt.Checked]

    def folder(self) -> str:
        return str(Path(self.folder_edit.text().strip()).expanduser())

    def base(self) -> str:
        return self.base_edit.text().strip()

    def set_checked(self, keys: set[str]) -> None:
        for i, t in enumerate(self._targets):
            self.list.item(i).setCheckState(Qt.Checked if t.key in keys else Qt.Unchecked)

    # --- reactions ---------------------------------------------------------------------------------------
    def _update(self, *_args) -> None:
        chosen = self.chosen()
        base = self.base()
        ok = bool(chosen and base and self.folder_edit.text().strip()) and "/" not in base and "\\" not in base
        self.export_button.setEnabled(ok)
        if not chosen:
            self.preview.setText("Nothing ticked.")
        elif base:
            names = [t.filename(base) for t in chosen]
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            self.preview.setText(f"Writes {shown}")
        else:
            self.preview.setText("Give the files a name.")

    def _on_accepted(self) -> None:
        try:
            Path(self.folder()).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.preview.setText(f"Cannot create {self.folder()}: {exc.strerror or exc}")
            return
        self.accept()

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _on_all_clicked(self) -> None:
        self.set_checked({t.key for t in self._targets})

    def _on_none_clicked(self) -> None:
        self.set_checked(set())
