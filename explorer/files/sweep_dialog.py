"""Training ▸ β sweep…: which β (and seeds) to train side by side with the current settings, and where to; for
IWAE settings, which K (IWAE has no β).

    dialog = SweepDialog(settings, folder="~/vae-explorer-runs/sweep-1", parent=window)
    if dialog.exec() == QDialog.Accepted:
        betas, seeds, epochs, folder = dialog.betas(), dialog.seeds(), dialog.epochs(), dialog.folder()
"""

from __future__ import annotations

import math

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from explorer.models.run_settings import RunSettings
from trainer.config import MAX_IWAE_TRAIN_K

DEFAULT_BETAS = "0.1, 0.3, 1, 3, 10"
DEFAULT_IWAE_KS = "1, 5, 50"


def parse_list(text: str, kind, what: str) -> list:
    """Comma- or space-separated values; ValueError naming the first bad one."""
    values = []
    for part in text.replace(",", " ").split():
        try:
            values.append(kind(part))
        except ValueError:
            raise ValueError(f"{part!r} is not {what}") from None
    if not values:
        raise ValueError(f"give at least one {what}")
    if len(set(values)) != len(values):
        raise ValueError(f"a value is listed twice in {text!r}")
    return values


def _iwae_k(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_IWAE_TRAIN_K:
        raise ValueError
    return value


def _beta(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError
    return value


class SweepDialog(QDialog):
    def __init__(self, settings: RunSettings, folder: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("β sweep")
        self.settings = settings
        self.iwae = settings.objective == "iwae"
        """The settings train IWAE, which has no β: the dialog sweeps its K instead."""
        if self.iwae:
            self.setWindowTitle("IWAE K sweep")
        self.beta_edit = QLineEdit(DEFAULT_IWAE_KS if self.iwae else DEFAULT_BETAS)
        self.beta_edit.setToolTip("IWAE's K, one run each: samples of q(z|x) per example in the bound" if self.iwae
                                  else "β values, one run each: the weight of the rate in the loss D + βR")
        self.seed_edit = QLineEdit(str(settings.seed))
        self.seed_edit.setToolTip("Seeds, one run per β and seed: they vary the weights, batches and noise")
        self.epochs_spin = QSpinBox(minimum=1, maximum=100_000, value=int(settings.epochs))
        self.folder_edit = QLineEdit(folder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020")
        form = QFormLayout()
        form.addRow("IWAE K values" if self.iwae else "β values", self.beta_edit)
        form.addRow("Seeds", self.seed_edit)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Folder", folder_row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Start sweep")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.explain)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        for edit in (self.beta_edit, self.seed_edit, self.folder_edit):
            edit.textChanged.connect(self._check)
        self.epochs_spin.valueChanged.connect(self._check)
        self._check()

    def betas(self) -> list[float]:
        """The β of the runs: the listed ones, or the settings' own 1 under IWAE."""
        if self.iwae:
            return [1.0]
        return parse_list(self.beta_edit.text(), _beta, "a β >= 0")

    def iwae_ks(self) -> list[int]:
        """IWAE's K of the runs (empty when the settings train another objective)."""
        if not self.iwae:
            return []
        return parse_list(self.beta_edit.text(), _iwae_k, f"a whole K in 1..{MAX_IWAE_TRAIN_K}")

    def seeds(self) -> list[int]:
        return parse_list(self.seed_edit.text(), int, "a whole-number seed")

    def epochs(self) -> int:
        return self.epochs_spin.value()

    def folder(self) -> str:
        return self.folder_edit.text().strip()

    def _check(self) -> None:
        try:
            n = len(self.betas()) * len(self.seeds()) * max(1, len(self.iwae_ks()))
            if not self.folder():
                raise ValueError("choose a folder for the runs' checkpoints")
        except ValueError as exc:
            self.error.setText(str(exc))
            self.buttons.button(QDialogButtonBox.Ok).setEnabled(False)
            return
        s = self.settings
        self.error.setText("")
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(True)
        self.explain.setText(
            f"{n} run{'s' if n != 1 else ''} of the current settings ({s.arch} {s.latent_dim}-d latent, "
            f"{s.likelihood}, batch {s.batch_size}, lr {s.lr:g}, on {s.dataset}) for {self.epochs()} epochs, trained "
            "side by side as one batched model. Each run is saved in the folder every few minutes and when the sweep "
            "stops; a sweep started again on the same folder resumes it. The runs appear in the Runs panel and on "
            "the rate–distortion plane as they train.")

    def _on_browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the sweep's runs", self.folder())
        if folder:
            self.folder_edit.setText(folder)
