"""One latent dimension's row of the Decoder panel: its name, its slider over ±3 prior σ, its value and its KL,
greyed and labelled when the dimension is inactive (explorer.models.LatentActivity decides which)."""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QSlider

from trainer.analysis.geometry import DEFAULT_SPAN

TICKS_PER_SIGMA = 100
"""Slider resolution: 0.01 prior standard deviations."""
INACTIVE_GREY = "#a0a0a0"



class SliderRow:
    """The widgets of one latent dimension: name, slider, value, KL."""

    def __init__(self, dim: int, grid: QGridLayout, row: int):
        self.dim = dim
        self.prior = "standard"
        """The model's p(z) (ModelConfig.prior): what the slider's units and the KL are of (DecoderPanel sets it)."""
        self.name = QLabel(f"z{dim}")
        self.name.setMinimumWidth(30)
        self.slider = QSlider(Qt.Horizontal)
        span = int(round(DEFAULT_SPAN * TICKS_PER_SIGMA))
        self.slider.setRange(-span, span)
        self.slider.setPageStep(TICKS_PER_SIGMA // 2)
        self.slider.setSingleStep(TICKS_PER_SIGMA // 20)
        self.slider.setMinimumWidth(80)
        self.value = QLabel("+0.00")
        self.value.setMinimumWidth(44)
        self.value.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.kl = QLabel("")
        self.kl.setMinimumWidth(150)
        self.kl.setTextFormat(Qt.RichText)
        self._normal_palette = QPalette(self.slider.palette())
        self.greyed = False
        """Drawn greyed out, labelled inactive (an inactive dimension)."""
        self._grey_palette = QPalette(self.slider.palette())
        for role in (QPalette.Highlight, QPalette.Button, QPalette.Window):
            self._grey_palette.setColor(role, QColor("#d6d6d6"))
        self.place(grid, row)

    def widgets(self):
        return (self.name, self.slider, self.value, self.kl)

    def stand_by(self, grid: QGridLayout, row: int) -> None:
        """Shown in the layout at `row`, its slider disabled: ready for a dimension of the next model."""
        self.place(grid, row)
        self.slider.setEnabled(False)
        for widget in self.widgets():
            widget.show()

    def set_aside(self, grid: QGridLayout) -> None:
        """Out of the layout and hidden, kept for a later model."""
        for widget in self.widgets():
            grid.removeWidget(widget)
            widget.hide()
        self.placed_at = None

    def place(self, grid: QGridLayout, row: int) -> None:
        for col, widget in enumerate(self.widgets()):
            grid.addWidget(widget, row, col)
        self.placed_at = row

    def assign(self, dim: int, name: str = "") -> None:
        """Show latent dimension `dim` from now on (a reused row): its name, no KL yet, value 0."""
        self.dim = dim
        self.name.setText(name or f"z{dim}")
        self.show_kl(None, True, "")
        self.show_value(0.0)

    def kl_text(self) -> str:
        return self.kl.text()

    def show_value(self, z: float) -> None:
        self.value.setText(f"{z + 0.0:+.2f}".replace("-0.00", "+0.00"))

    def show_kl(self, kl: float | None, active: bool, measure: str) -> None:
        if self.prior == "standard":
            tip = f"z{self.dim}: prior N(0, 1); the slider spans ±{DEFAULT_SPAN:g}σ."
        else:  # a mixture prior has no one σ: the slider's units are z's own
            tip = (f"z{self.dim} in its own units: the VampPrior is a mixture of the pseudo-inputs' posteriors, "
                   f"with no σ of its own, so the slider spans z = ±{DEFAULT_SPAN:g}, the range N(0, 1)'s "
                   f"±{DEFAULT_SPAN:g}σ would cover; its KL is to the prior's marginal p_j.")
        if kl is None:
            self.kl.setText("")
        elif active:
            self.kl.setText(f"KL {kl:.2f} nats")
            tip += f"\nKL(q(z{self.dim}|x) ‖ p(z{self.dim})) = {kl:.3f} nats per example."
            if measure == "variance":
                tip += " Active: its mean varies with x (Var_x(μ) > 0.01, Burda et al.)."
        else:
            self.kl.setText(f"<span style='color:{INACTIVE_GREY}'>inactive · KL {kl:.2f} nats</span>")
            tip += (f"\nInactive: Var_x(μ) ≤ 0.01 (Burda et al.), its mean ignores x. Its KL of {kl:.3f} nats is "
                    "paid by a σ that differs from the prior's, not by information about x; moving it changes "
                    "little.")
        grey = kl is not None and not active
        if grey != self.greyed:  # a style sheet re-polishes the widget: live KL arrives twice a second
            self.greyed = grey
            colour = f"color: {INACTIVE_GREY}" if grey else ""
            self.name.setStyleSheet(colour)
            self.value.setStyleSheet(colour)
            self.slider.setPalette(self._grey_palette if grey else self._normal_palette)
        for widget in self.widgets():
            widget.setToolTip(tip)
