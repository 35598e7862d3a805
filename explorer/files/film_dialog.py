"""The timeline's Film… dialog: which panel, which range of moments, how fast, and the file (.gif or .mp4).

    dialog = FilmDialog(parent, steps, panels=[("latent", "Latent space"), ...], path="~/run-latent.mp4")
    if dialog.exec() == QDialog.Accepted:
        request = dialog.request()      # FilmRequest(panel, steps, fps, path), every field checked
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from explorer.runtime.film_writer import MAX_FPS, film_path


@dataclass(frozen=True)
class FilmRequest:
    panel: str
    """A panel's short name (explorer.window.panel_names), or "window"."""
    steps: tuple[int, ...]
    """The moments filmed, in order: one frame each."""
    fps: int
    path: str


class FilmDialog(QDialog):
    def __init__(self, parent: QWidget | None, steps: tuple[int, ...], panels: list[tuple[str, str]], path: str,
                 panel: str = "latent", fps: int = 4):
        super().__init__(parent)
        self.setWindowTitle("Film of the timeline")
        self.setMinimumWidth(440)  # the file's path reads whole
        self._steps = tuple(int(s) for s in steps)
        self.panel_combo = QComboBox()
        for name, title in panels:
            self.panel_combo.addItem(title, name)
        self.panel_combo.setCurrentIndex(max(0, self.panel_combo.findData(panel)))
        self.from_combo, self.to_combo = QComboBox(), QComboBox()
        for combo in (self.from_combo, self.to_combo):
            for step in self._steps:
                combo.addItem(f"step {step:,}", step)
        self.to_combo.setCurrentIndex(len(self._steps) - 1)
        self.fps_spin = QSpinBox(minimum=1, maximum=MAX_FPS, value=fps, suffix=" frames/s")
        self.fps_spin.setToolTip("One frame per moment of the timeline")
        self.path_edit = QLineEdit(path)
        self.path_edit.setToolTip("The film: its suffix picks the format, .mp4 (H.264) or .gif")
        self.browse_button = QToolButton(text="…")
        self.browse_button.setToolTip("Choose the file")
        self.count = QLabel()
        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        path_row = QWidget()
        row = QHBoxLayout(path_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        form = QFormLayout(self)
        form.addRow("Panel", self.panel_combo)
        form.addRow("From", self.from_combo)
        form.addRow("To", self.to_combo)
        form.addRow("Speed", self.fps_spin)
        form.addRow("File", path_row)
        form.addRow(self.count)
        form.addRow(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Record")
        form.addRow(self.buttons)
        self.buttons.accepted.connect(self._on_accept)
        self.buttons.rejected.connect(self.reject)
        self.browse_button.clicked.connect(self._on_browse)
        for signal in (self.from_combo.currentIndexChanged, self.to_combo.currentIndexChanged,
                       self.fps_spin.valueChanged):
            signal.connect(self._update_count)
        self._update_count()

    def chosen_steps(self) -> tuple[int, ...]:
        lo, hi = self.from_combo.currentData(), self.to_combo.currentData()
        return tuple(s for s in self._steps if lo <= s <= hi)

    def request(self) -> FilmRequest:
        """What to film; a ValueError in one line when a field is wrong (the dialog shows it and stays open)."""
        steps = self.chosen_steps()
        if not steps:
            raise ValueError("From is after To: no moment to film")
        path = film_path(Path(self.path_edit.text()).expanduser(), self.fps_spin.value())
        return FilmRequest(self.panel_combo.currentData(), steps, self.fps_spin.value(), str(path))

    def _update_count(self, *_args) -> None:
        n = len(self.chosen_steps())
        self.count.setText(f"{n} moment{'s' if n != 1 else ''}, one frame each: {n / self.fps_spin.value():.1f} s")

    def _on_browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Film", self.path_edit.text(), "MP4 video (*.mp4);;GIF (*.gif)")
        if path:
            self.path_edit.setText(path)

    def _on_accept(self) -> None:
        try:
            self.request()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
