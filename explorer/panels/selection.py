"""What a box or lasso selection on the latent scatter holds: its images, its labels or factors, its mean latent.

    panel = SelectionPanel(cursor)        # an explorer.models.LatentCursor: it shows the cursor's selection
    panel.set_latents(latents)            # trainer.analysis.snapshots.LatentSnapshot the scatter shows
    panel.sig_export_requested.connect(...)   # ("csv" | "npz", path): written off the GUI thread by the caller

"Use mean as A/B" makes the selection's mean μ an interpolation end of the cursor; Clear clears its selection.

The mean of the selected posteriors' means is a latent vector like any other: used as an endpoint it shows what
the group has in common (Shift adds a second group, so "mean of these" to "mean of those" is one drag each).
The histogram puts the selection's share of each class beside the whole held-out split's, so a selection that
is "mostly 7s" reads as such, and the mean-latent bars beside the data's mean show which dimensions set it apart.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget)

from explorer.models.latent_cursor import LatentCursor
from explorer.plotting.axes import steady_axes
from explorer.plotting.image_grid import ImageGridView
from trainer.analysis.selection import categories, category_keys, counts

MAX_IMAGES = 64
"""Images shown; a larger selection shows a fixed random sample of this many."""
SELECTED = "#d62728"
ALL = "#9a9a9a"


def replace_items(combo: QComboBox, items: list[str]) -> bool:
    """Give `combo` these items, without emitting, unless it has them already; True when they changed."""
    if [combo.itemText(i) for i in range(combo.count())] == items:
        return False
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(items)
    combo.blockSignals(False)
    return True


class SelectionPanel(QWidget):
    """The scatter's box/lasso selection: images, a class histogram, the mean latent, its uses and exports."""

    sig_export_requested = Signal(str, str)
    """("csv" or "npz", path): write the selection there (the caller does it off the GUI thread)."""

    def __init__(self, cursor: LatentCursor | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.cursor = cursor if cursor is not None else LatentCursor(self)
        """Whose selection is shown, and where "Use mean as A/B" puts the mean."""
        self._latents = None
        self._build_views()
        self._build_buttons()
        self._build_layout()

        self.use_a.clicked.connect(lambda: self._use_mean("a"))
        self.use_b.clicked.connect(lambda: self._use_mean("b"))
        self.export_csv.clicked.connect(lambda: self._ask_export("csv"))
        self.export_npz.clicked.connect(lambda: self._ask_export("npz"))
        self.clear_button.clicked.connect(self.cursor.clear_selection)
        self.cursor.sig_selection_changed.connect(self._on_selection_changed)
        self.group_combo.currentIndexChanged.connect(self._draw_histogram)
        self._redraw()

    def _build_views(self) -> None:
        """The heading, the selected images, the class histogram and the mean-latent bars."""
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setMinimumWidth(120)
        self.images = ImageGridView("Selected inputs", "Choose Box or Lasso above the latent scatter and drag "
                                    "around some points.")
        self.images.setToolTip("The inputs x of the selected points (at most 64, a fixed random sample of a larger "
                               "selection)")
        self.group_combo = QComboBox()
        self.group_combo.setToolTip("Count the selection by class label or by a ground-truth factor")
        self.hist = pg.PlotWidget()
        self.mean_plot = pg.PlotWidget()
        for plot in (self.hist, self.mean_plot):
            steady_axes(plot.getPlotItem())
            plot.setMenuEnabled(False)
            plot.getPlotItem().hideButtons()
            plot.setMouseEnabled(x=False, y=False)
            plot.setMinimumSize(150, 110)
        self.hist.setLabel("left", "share")
        self.hist.setToolTip("Red: the share of the selection in each class or factor value. Grey: the share of the "
                             "whole held-out split,\nwhat a selection made at random would show")
        self.hist_all = pg.BarGraphItem(x=[], height=[], width=0.8, brush=ALL, pen=None)
        self.hist_sel = pg.BarGraphItem(x=[], height=[], width=0.45, brush=SELECTED, pen=None)
        self.hist.addItem(self.hist_all)
        self.hist.addItem(self.hist_sel)
        self.mean_plot.setLabel("left", "mean μ")
        self.mean_plot.setToolTip("Red bars: the selection's mean posterior mean, dimension by dimension. Grey dashes: "
                                  "the mean over every held-out point.\nThe dimensions where they differ are what sets "
                                  "the selection apart in latent space.")
        self.mean_all = pg.ScatterPlotItem(symbol="_", size=18, pen=pg.mkPen(ALL, width=3), brush=None)
        self.mean_sel = pg.BarGraphItem(x=[], height=[], width=0.6, brush=SELECTED, pen=None)
        self.mean_plot.addItem(self.mean_sel)
        self.mean_plot.addItem(self.mean_all)
        self.mean_plot.addLine(y=0, pen=pg.mkPen("#b0b0b0"))

    def _build_buttons(self) -> None:
        """The selection's uses (interpolation ends), its exports, Clear, and the status line under them."""
        self.use_a = QPushButton("Mean as A")
        self.use_a.setToolTip("Interpolation endpoint A (Traversals panel) at the selection's mean latent")
        self.use_b = QPushButton("Mean as B")
        self.use_b.setToolTip("Interpolation endpoint B at the selection's mean latent")
        self.export_csv = QPushButton("Export CSV…")
        self.export_csv.setToolTip("A CSV with each selected example's index in the held-out split (and its label)")
        self.export_npz = QPushButton("Export NPZ…")
        self.export_npz.setToolTip("An NPZ with the selected inputs, their posterior μ and log σ², indices and labels")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Drop the selection (Esc in the latent scatter does the same)")
        self.status = QLabel()
        self.status.setStyleSheet("color: #707070")

    def _build_layout(self) -> None:
        """The heading row on top, the images and both plots side by side, the buttons and status under them."""
        buttons = QHBoxLayout()
        for b in (self.use_a, self.use_b, self.export_csv, self.export_npz, self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        # side by side, not stacked: the panel shares its tab group (and so the window's minimum height) with the
        # traversals, and two plots stacked under the images made it 150 px taller than them
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(QLabel("Count by"))
        top.addWidget(self.group_combo)
        body = QHBoxLayout()
        body.addWidget(self.images, 3)
        body.addWidget(self.hist, 2)
        body.addWidget(self.mean_plot, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        # the plots' own hints (640 px wide) would make the window wider than the screen when it first opens
        return QSize(460, 280)

    # --- data in --------------------------------------------------------------------------------
    def set_latents(self, latents) -> None:
        self._latents = latents
        keys = category_keys(latents)
        replace_items(self.group_combo, keys)
        self.group_combo.setVisible(bool(keys))
        self._redraw()

    def _on_selection_changed(self, _positions) -> None:
        self.status.clear()
        self._redraw()

    def clear(self) -> None:
        self._latents = None
        self.status.clear()
        self._redraw()

    def show_export_result(self, message: str) -> None:
        """One line under the buttons: what was written, or why not."""
        self.status.setText(message)

    # --- what tests and the window may read ------------------------------------------------------
    def mean_latent(self) -> np.ndarray | None:
        """The selection's mean μ (float32 (D,)), or None when nothing is selected."""
        picked = self.cursor.selection
        if self._latents is None or not len(picked):
            return None
        return self._latents.mu[picked].mean(0, dtype=np.float64).astype(np.float32)

    def shown_positions(self) -> np.ndarray:
        """Positions (into the snapshot) of the images shown, in their order."""
        picked = self.cursor.selection
        if len(picked) <= MAX_IMAGES:
            return picked
        pick = np.random.default_rng(0).choice(len(picked), MAX_IMAGES, replace=False)
        return picked[np.sort(pick)]

    def histogram(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(selection's share, all points' share) per category of the chosen grouping, or None."""
        grouped = self._grouping()
        picked = self.cursor.selection
        if grouped is None or not len(picked):
            return None
        codes, names = grouped
        sel = counts(codes[picked], len(names))
        every = counts(codes, len(names))
        return sel / max(sel.sum(), 1), every / max(every.sum(), 1)

    # --- drawing ----------------------------------------------------------------------------------
    def _grouping(self):
        if self._latents is None or not self.group_combo.count():
            return None
        return categories(self._latents, self.group_combo.currentText())

    def _redraw(self) -> None:
        lat, n = self._latents, len(self.cursor.selection)
        has = lat is not None and n > 0
        for b in (self.use_a, self.use_b, self.export_csv, self.export_npz, self.clear_button):
            b.setEnabled(has)
        if not has:
            self.heading.setText("<span style='color:#707070'>Nothing selected. In the Latent space panel, choose "
                                 "<b>Box</b> or <b>Lasso</b> and drag around points (Shift adds, Ctrl removes).</span>")
            self.images.clear()
            for item in (self.hist_all, self.hist_sel, self.mean_sel):
                item.setOpts(x=[], height=[])
            self.mean_all.setData([], [])
            for plot in (self.hist, self.mean_plot):  # no 0.2 0.4 ... crowding an empty, narrow axis
                plot.getPlotItem().getAxis("bottom").setTicks([[]])
            return
        self.heading.setText(f"<b>{n:,}</b> of {len(lat):,} held-out examples selected")
        shown = self.shown_positions()
        self.images.set_images(np.asarray(lat.x[shown]), ncols=8, pad=2, pad_value=255, reflow=True)
        self.images.title = f"{len(shown)} of {n:,} selected inputs" if len(shown) < n else f"{n:,} selected inputs"
        self._draw_histogram()
        mean, every = self.mean_latent(), lat.mu.mean(0)
        dims = np.arange(len(mean))
        self.mean_sel.setOpts(x=dims, height=mean)
        self.mean_all.setData(dims, every, size=max(4, min(18, 200 // max(len(dims), 1))))
        self.mean_plot.getPlotItem().getAxis("bottom").setTicks([[(int(i), f"z{i}") for i in dims]]
                                                                if len(dims) <= 16 else None)

    def _draw_histogram(self, *_args) -> None:
        shares = self.histogram()
        if shares is None:
            self.hist_all.setOpts(x=[], height=[])
            self.hist_sel.setOpts(x=[], height=[])
            return
        sel, every = shares
        _, names = self._grouping()
        x = np.arange(len(names))
        self.hist_all.setOpts(x=x, height=every)
        self.hist_sel.setOpts(x=x, height=sel)
        ticks = [(int(i), names[i]) for i in x] if len(names) <= 12 else None
        self.hist.getPlotItem().getAxis("bottom").setTicks([ticks] if ticks else None)

    # --- actions ----------------------------------------------------------------------------------
    def _use_mean(self, key: str) -> None:
        mean = self.mean_latent()
        if mean is not None:
            self.cursor.set_end(key, mean, f"mean of {len(self.cursor.selection):,}")

    def _ask_export(self, kind: str) -> None:
        what = "CSV files (*.csv)" if kind == "csv" else "NumPy archives (*.npz)"
        path, _ = QFileDialog.getSaveFileName(self, "Export the selection", f"selection.{kind}", what)
        if path:
            self.request_export(kind, path)

    def request_export(self, kind: str, path: str) -> None:
        """Export the selection as `kind` ("csv" or "npz") to `path`: what the buttons do after their dialog."""
        if not path.lower().endswith(f".{kind}"):
            path += f".{kind}"
        self.status.setText(f"Writing {path}…")
        self.sig_export_requested.emit(kind, path)
