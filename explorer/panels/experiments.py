"""The Experiment panel: a guided experiment's explanation, then what it measured, with its plot.

    panel = ExperimentPanel()
    panel.show_experiment(experiment)               # a trainer.experiments.Experiment: its explanation
    panel.show_stage("Training to epoch 3…")
    panel.show_result(experiment, rows_by_stage)    # trainer.training.sweep.SummaryRow lists, one per finished stage

The catalogue and the conclusions are the engine's (trainer.experiments); this panel only shows them.
"""

from __future__ import annotations

import math

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from explorer.plotting.axes import steady_axes
from trainer.experiments.catalogue import Experiment
from trainer.experiments.conclusions import conclusion, extra_series, result_points

EXTRA_COLOURS = ("#ff7f0e", "#9467bd", "#8c564b")
"""The colours of the series beside the first (extra_series), in their order."""


class ExperimentPanel(QWidget):
    """The running experiment: what it shows and why, then what it measured, with a small plot."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.text.setHtml("<p>Choose an experiment in the <b>Experiments</b> menu: each trains a small sweep and "
                          "ends with the plot that makes its point.</p>")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.getPlotItem().hideButtons()
        steady_axes(self.plot.getPlotItem())
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setMinimumHeight(150)
        self.bars = pg.PlotDataItem(pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=8,
                                    symbolBrush="#1f77b4")
        self.plot.addItem(self.bars)
        self.extras = [pg.PlotDataItem(pen=pg.mkPen(colour, width=2), symbol="s", symbolSize=7, symbolBrush=colour)
                       for colour in EXTRA_COLOURS]
        """The series beside the first (extra_series), in their colours."""
        for item in self.extras:
            self.plot.addItem(item)
        self.plot.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.text, 2)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)

    def show_experiment(self, experiment: Experiment) -> None:
        self.text.setHtml(f"<h3>{experiment.title}</h3>{experiment.explanation}")
        self.status.setText("Training…")
        self.bars.setData([], [])
        for item in self.extras:
            item.setData([], [])
        self.plot.hide()

    def show_stage(self, text: str) -> None:
        self.status.setText(text)

    def show_result(self, experiment: Experiment, rows_by_stage: list[list]) -> None:
        self.text.setHtml(f"<h3>{experiment.title}</h3>{experiment.explanation}{conclusion(experiment, rows_by_stage)}")
        xs, ys = result_points(experiment, rows_by_stage)
        self.status.setText("")
        self.plot.setLabel("bottom", experiment.x_label)
        self.plot.setLabel("left", experiment.y_label)
        self.plot.getPlotItem().getAxis("bottom").setTicks([list(enumerate(xs))])
        self.bars.setData(list(range(len(ys))), [y if math.isfinite(y) else float("nan") for y in ys])
        extras = extra_series(experiment, rows_by_stage)
        for i, item in enumerate(self.extras):
            values = extras[i][1] if i < len(extras) else []
            item.setData(list(range(len(values))), [y if math.isfinite(y) else float("nan") for y in values])
        self.plot.show()

    # --- what tests may read ------------------------------------------------------------------------
    def result_values(self) -> tuple[list, list]:
        """(x, y) of the plot as drawn."""
        x, y = self.bars.getData()
        return ([] if x is None else list(x)), ([] if y is None else list(y))
