"""Small builders of the Controls' form rows (a spin box, a combo box, widgets side by side), its choices, and the β
slider's log scale."""

from __future__ import annotations

import math

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSpinBox, QWidget


def spin_box(lo: int, hi: int, value: int, step: int = 1, suffix: str = "") -> QSpinBox:
    spin = QSpinBox(minimum=lo, maximum=hi, singleStep=step, suffix=suffix)
    spin.setValue(value)
    spin.setGroupSeparatorShown(hi >= 10_000)
    return spin


def combo_box(items, current: str) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(items))
    combo.setCurrentText(current)
    return combo


def form_row(*widgets: QWidget, stretch: tuple[int, ...] = ()) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, stretch[i] if i < len(stretch) else (1 if i == 0 else 0))
    return row


# --- the Controls' choices and the β slider's scale ----------------------------------------------------
BETA_MIN, BETA_MAX = 0.01, 100.0
BETA_TICKS_PER_DECADE = 100
"""The slider moves in log10(β) steps of 0.01: fine enough to feel continuous over four decades."""
LIVE_DEBOUNCE_MS = 150
"""A slider drag sends β to the trainer at most this often, so each change lands as one clean step."""

DATASET_LABELS = {"sprites": "Sprites (built in)", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST",
                  "binarized-mnist": "Binarized MNIST (Larochelle)"}
SCHEDULE_LABELS = {"constant": "Constant", "warmup": "Warm-up", "cyclical": "Cyclical"}

PRIOR_LABELS = {"standard": "N(0, I)", "vamp": "VampPrior"}

OBJECTIVE_LABELS = {"elbo": "ELBO (β-VAE)", "tcvae": "β-TCVAE (β on total correlation)",
                    "iwae": "IWAE (K importance samples, no β)"}


def beta_to_tick(beta: float) -> int:
    beta = min(max(beta, BETA_MIN), BETA_MAX)
    return round(math.log10(beta) * BETA_TICKS_PER_DECADE)


def tick_to_beta(tick: int) -> float:
    return 10.0 ** (tick / BETA_TICKS_PER_DECADE)
