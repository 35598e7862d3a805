"""The Runs panel: every run the window compares, like TensorBoard's run selector.

    panel = RunsPanel(catalog)     # a view of explorer.models.run_catalog.RunCatalog: it lists what the catalog holds
    # tick a run's box: it shows or hides on the curves and the rate–distortion plane (catalog.set_visible)
    # click a run: it becomes the explored model of the latent panels (catalog.select)

Columns: the run's colour and visibility, its name, β, seed, status (with progress), and its final rate R,
distortion D and ELBO on the held-out split, nats per example. Click a header to sort by it; type in the
filter to keep the rows whose text contains every word.
"""

from __future__ import annotations

import math

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from explorer.models.run_catalog import LIVE, RunCatalog, RunRecord
from trainer.config import RATE_SPLIT_POINTS

COLUMNS = ("", "Run", "β", "Seed", "Status", "R", "I(X;Z)", "D", "ELBO", "Data")
TOOLTIPS = ("Show this run on the curves and the rate–distortion plane", "Checkpoint file (or the live run)",
            "Weight of the rate in the loss D + βR", "Seed of weights, batches and noise",
            "Training state; a failed run says why in its tooltip",
            "Rate R = KL(q(z|x) ‖ p(z)), held-out, nats per example",
            "I(X; Z): the part of the rate that is information about x (the rest is KL(q(z) ‖ p(z)));\n"
            "the KL term limits the information z carries about x. Held-out, at the last epoch, summed over\n"
            f"the same N = {RATE_SPLIT_POINTS:,} examples as the epoch reports, sweep summaries and eval (so they\n"
            f"compare); an estimate short of the true value near log N = {math.log(RATE_SPLIT_POINTS):.1f}: the "
            "Information panel says when",
            "Distortion D = −E log p(x|z), held-out, nats per example (one draw of z per example)",
            "ELBO = −(R + D), held-out; the rate is exact (closed form), the distortion a one-draw estimate",
            "What the run trained on: numbers of runs on different data do not compare")
KEY_ROLE = Qt.UserRole
SORT_ROLE = Qt.UserRole + 1


class _Item(QTableWidgetItem):
    """Sorts by SORT_ROLE when set (numbers as numbers, NaN last), else by its text."""

    def __lt__(self, other) -> bool:  # noqa: D105
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if a is None or b is None:
            return super().__lt__(other)
        a = math.inf if isinstance(a, float) and math.isnan(a) else a
        b = math.inf if isinstance(b, float) and math.isnan(b) else b
        return a < b


def _number(value: float, digits: int = 2) -> str:
    return "–" if not math.isfinite(value) else f"{value:.{digits}f}"


def status_text(record: RunRecord) -> str:
    if record.status in ("training", "paused", "unfinished") and record.epochs:
        return f"{record.status} {record.epoch}/{record.epochs}"
    return record.status


class RunsPanel(QWidget):
    """A sortable, filterable table of the catalog's runs."""

    def __init__(self, catalog: RunCatalog, parent: QWidget | None = None):
        super().__init__(parent)
        self.catalog = catalog
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: words that every shown row contains, e.g. seed-0 done")
        self.filter.setClearButtonEnabled(True)
        self.summary = QLabel("Open a sweep folder (File ▸ Open Runs…) or run a β sweep (Training ▸ β sweep…).")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for i, tip in enumerate(TOOLTIPS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(2, Qt.AscendingOrder)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.setToolTip("Click a run to explore it in the latent panels; tick it to show it on the plots")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)

        self.filter.textChanged.connect(self._apply_filter)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        catalog.sig_changed.connect(self._on_run_changed)
        catalog.sig_removed.connect(self._on_run_removed)
        catalog.sig_selected.connect(self._on_run_selected)
        self._filling = False

    # --- from the catalog ---------------------------------------------------------------------------
    def _row_of(self, key: str) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 1)
            if item is not None and item.data(KEY_ROLE) == key:
                return row
        return -1

    def _on_run_changed(self, key: str) -> None:
        record = self.catalog.get(key)
        if record is None:
            return
        self._filling = True
        self.table.setSortingEnabled(False)  # rows would move while their cells are set
        row = self._row_of(key)
        if row < 0:
            row = self.table.rowCount()
            self.table.insertRow(row)
        show = _Item()
        show.setIcon(_swatch(record.colour))
        show.setData(SORT_ROLE, int(record.visible))
        if key != LIVE:  # the live run is always drawn, by the panels that draw it live
            show.setFlags(Qt.ItemIsEnabled | Qt.ItemIsUserCheckable | Qt.ItemIsSelectable)
            show.setCheckState(Qt.Checked if record.visible else Qt.Unchecked)
        cells = [show, _Item(record.name), _Item(f"{record.beta:g}" if math.isfinite(record.beta) else "–"),
                 _Item(str(record.seed)), _Item(status_text(record)), _Item(_number(record.rate)),
                 _Item(_number(record.information)), _Item(_number(record.distortion)), _Item(_number(record.elbo)),
                 _Item(record.data or "–")]
        cells[1].setData(KEY_ROLE, key)
        cells[1].setToolTip(record.path or "The run this window trains")
        for col, value in ((2, record.beta), (3, record.seed), (5, record.rate), (6, record.information),
                           (7, record.distortion), (8, record.elbo)):
            cells[col].setData(SORT_ROLE, value)
        if record.message:
            cells[4].setToolTip(record.message)
        if record.status == "failed":
            cells[4].setForeground(QColor("#b00020"))
        if key == self.catalog.selected:
            font = QFont()
            font.setBold(True)
            cells[1].setFont(font)
        for col, item in enumerate(cells):
            self.table.setItem(row, col, item)
        self.table.setSortingEnabled(True)
        self._filling = False
        self._apply_filter(self.filter.text())
        self._show_summary()

    def _on_run_removed(self, key: str) -> None:
        row = self._row_of(key)
        if row >= 0:
            self.table.removeRow(row)
        self._show_summary()

    def _on_run_selected(self, key: str) -> None:
        for record in self.catalog.records():  # the bold name follows the explored run
            self._on_run_changed(record.key)
        row = self._row_of(key)
        if row >= 0 and self.table.currentRow() != row:
            self._filling = True
            self.table.selectRow(row)
            self._filling = False

    def _show_summary(self) -> None:
        runs = self.catalog.records()
        if not runs:
            return
        done = sum(r.status == "done" for r in runs)
        failed = sum(r.status == "failed" for r in runs)
        text = (f"{len(runs)} runs: {done} done" + (f", {failed} failed" if failed else "")
                + ". Click one to explore it; tick to show it on the plots.")
        data = sorted({r.data for r in runs if r.data})
        if len(data) > 1:  # an experiment's sprites beside a live MNIST run: drawn together, not comparable
            text += (f"<br><span style='color:#b35900'>⚠ These runs trained on {len(data)} datasets "
                     f"({', '.join(data)}): the curves and the plane draw them together, but their numbers do "
                     "not compare. Untick the ones to leave out.</span>")
        self.summary.setText(text)

    # --- from the user ------------------------------------------------------------------------------
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 0:
            return
        key = self.table.item(item.row(), 1).data(KEY_ROLE)
        self.catalog.set_visible(key, item.checkState() == Qt.Checked)

    def _on_selection_changed(self) -> None:
        if self._filling:
            return
        rows = {i.row() for i in self.table.selectedItems()}
        if len(rows) == 1:
            self.catalog.select(self.table.item(rows.pop(), 1).data(KEY_ROLE))

    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for row in range(self.table.rowCount()):
            line = " ".join(self.table.item(row, c).text().lower() for c in range(1, len(COLUMNS))
                            if self.table.item(row, c) is not None)
            self.table.setRowHidden(row, not all(w in line for w in words))

    # --- what tests may read ------------------------------------------------------------------------
    def shown_names(self) -> list[str]:
        """The run names in the table's order, filtered rows left out."""
        return [self.table.item(r, 1).text() for r in range(self.table.rowCount()) if not self.table.isRowHidden(r)]

    def select_name(self, name: str) -> None:
        """Click the row of the run called `name`."""
        for r in range(self.table.rowCount()):
            if self.table.item(r, 1).text() == name:
                self.table.selectRow(r)
                return
        raise KeyError(name)


def _swatch(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour or "#888888"))
    return QIcon(pixmap)
