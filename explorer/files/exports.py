"""What File > Export can write: the plots as PNG and SVG, the image grids as PNG, the history as CSV.

    targets = export_targets(window)          # every exportable thing the window shows right now
    for t in targets: t.label, t.suffix       # "Training curves (SVG)", ".svg"
    written = t.write("/out/run-curves.svg")  # GUI thread; raises ExportError with one line on failure

Plots go through pyqtgraph's exporters (ImageExporter, SVGExporter) on the live plot items; the grids through
the panels' own export_*_png methods (or ImageGridView.export_png). Both draw with the GUI thread's scene, so
they run there; they take milliseconds. The history is the exception: it lives in the training thread, so its
target has no `write` and the caller asks the worker for a copy that the I/O thread writes
(trainer.analysis.export.history_to_csv). Panels are found by looking, not by name, so panels added later join in.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter, SVGExporter

from explorer.plotting.image_grid import ImageGridView
from explorer.qt_compat import version_series
from trainer.errors import VaeExplorerError

PNG_MIN_WIDTH = 1600
"""Plots are rendered at least this many pixels wide, so an exported figure is sharp on a slide."""


class ExportError(VaeExplorerError):
    """An export could not be written; one line naming the file."""


@dataclass(frozen=True)
class ExportTarget:
    key: str
    """Stable id, also the file-name suffix: curves-png -> <base>-curves.png."""
    label: str
    suffix: str
    kind: str
    """plot-png, plot-svg, grid-png, csv (the history) or runs-csv."""
    write: Callable[[str], None] | None = None
    """Writes the file (GUI thread); None for csv, which the worker and I/O thread write."""
    tooltip: str = ""

    def filename(self, base: str) -> str:
        stem = self.key.rsplit("-", 1)[0]
        return f"{base}-{stem}{self.suffix}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "panel"


def export_plot_png(item, path: str) -> None:
    try:
        exporter = ImageExporter(item)
        params = exporter.parameters()
        width = int(params["width"])
        if width < PNG_MIN_WIDTH:
            params["width"] = PNG_MIN_WIDTH  # the height follows the item's aspect ratio
        exporter.export(str(path))
    except Exception as exc:  # noqa: BLE001 - pyqtgraph raises assorted errors; the user gets one line
        raise ExportError(f"{path}: cannot export the plot as PNG: {type(exc).__name__}: {exc}") from exc
    if not Path(path).is_file():
        raise ExportError(f"{path}: Qt could not write the PNG")


LAST_SVG_CLOSED_PATH_BUG = (0, 14)
"""Newest pyqtgraph (major, minor) series whose SVG exporter fails on closed paths (see _accept_closed_paths)."""


def svg_closed_path_bug_applies(version: str | None = None) -> bool:
    """Whether this pyqtgraph (default: the running one) needs _accept_closed_paths: up to the 0.14 series."""
    return version_series(pg.__version__ if version is None else version) <= LAST_SVG_CLOSED_PATH_BUG


def _accept_closed_paths() -> None:
    """Let pyqtgraph's SVG exporter take closed paths.

    pyqtgraph 0.14 rewrites the coordinates of every path Qt writes, token by token ("M1,2 L3,4"), and fails
    on the "Z" that closes a path (pyqtgraph issue #3495), which Qt 6 writes for plot frames and filled
    symbols. Around its correctCoordinates: take the Z tokens out, let it transform the rest (one token out per
    token in), put them back where they were. Only where svg_closed_path_bug_applies: a later series is taken
    to be fixed, and its exporter is left as it is (raise LAST_SVG_CLOSED_PATH_BUG if one still fails).
    """
    if not svg_closed_path_bug_applies():
        return
    module = sys.modules.get("pyqtgraph.exporters.SVGExporter")
    original = getattr(module, "correctCoordinates", None)
    if original is None or getattr(original, "_accepts_closed_paths", False):
        return

    def correct_coordinates(node, defs, item, options):
        closed = []
        for element in node.getElementsByTagName("path"):
            tokens = element.getAttribute("d").split()
            if not any(t in ("Z", "z") for t in tokens):
                continue
            kept, marks = [], []
            for t in tokens:
                if t in ("Z", "z"):
                    marks.append((len(kept), t))  # after this many kept tokens
                else:
                    kept.append(t)
            element.setAttribute("d", " ".join(kept))
            closed.append((element, marks))
        original(node, defs, item, options)
        for element, marks in closed:
            tokens = element.getAttribute("d").split()
            for offset, (position, t) in enumerate(marks):
                tokens.insert(position + offset, t)
            element.setAttribute("d", " ".join(tokens))

    correct_coordinates._accepts_closed_paths = True
    module.correctCoordinates = correct_coordinates


def export_plot_svg(item, path: str) -> None:
    """pyqtgraph's SVGExporter (made to take closed paths), else Qt's own SVG painter as a last resort.

    The fallback paints the same scene region straight into a QSvgGenerator: vector lines and text, but
    without pyqtgraph's clean-ups (cosmetic pens, clipping), so some viewers draw it less well.
    """
    _accept_closed_paths()
    try:
        SVGExporter(item).export(str(path))
    except Exception:  # noqa: BLE001 - try the plain route before giving up
        try:
            _qt_svg(item, str(path))
        except Exception as exc:  # noqa: BLE001
            raise ExportError(f"{path}: cannot export the plot as SVG: {type(exc).__name__}: {exc}") from exc
    if not Path(path).is_file():
        raise ExportError(f"{path}: Qt could not write the SVG")


def _qt_svg(item, path: str) -> None:
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    rect = item.sceneBoundingRect()
    width, height = max(int(rect.width()), 1), max(int(rect.height()), 1)
    try:  # Qt >= 6.5: SVG 1.1 keeps the plots' clip paths (1.2 Tiny has none)
        generator = QSvgGenerator(QSvgGenerator.SvgVersion.Svg11)
    except (AttributeError, TypeError):
        generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(QSize(width, height))
    generator.setViewBox(QRectF(0, 0, width, height))
    generator.setTitle("vae-explorer")
    painter = QPainter(generator)
    try:
        item.scene().render(painter, QRectF(0, 0, width, height), rect)
    finally:
        painter.end()


def export_grid_png(fn: Callable[[str], bool], path: str) -> None:
    try:
        ok = fn(str(path))
    except RuntimeError as exc:  # ImageGridView: "nothing to export yet"
        raise ExportError(f"{path}: {exc}") from None
    if ok is False:
        raise ExportError(f"{path}: Qt could not write the PNG")


def _call(fn, *args):
    def run(path: str) -> None:
        fn(*args, path)
    return run


def _plot_targets(key: str, title: str, item, tooltip: str) -> list[ExportTarget]:
    return [
        ExportTarget(f"{key}-png", f"{title} (PNG)", ".png", "plot-png", _call(export_plot_png, item), tooltip),
        ExportTarget(f"{key}-svg", f"{title} (SVG)", ".svg", "plot-svg", _call(export_plot_svg, item),
                     tooltip + " As vector graphics, for papers and slides."),
    ]


def _grid_fn(grid: ImageGridView):
    return grid.export_png


def export_targets(curves, panels, runs=()) -> list[ExportTarget]:
    """Everything that can be exported now, curves first: `curves` the Curves panel's plot layout item, `panels`
    (title, panel) pairs whose plots and image grids export, `runs` the Runs panel's records (RunRecord)."""
    targets = _plot_targets("curves", "Training curves", curves,
                            "Distortion, rate, −ELBO and β against the step, as the Curves panel shows them.")
    targets.append(ExportTarget("history-csv", "History (CSV)", ".csv", "csv", None,
                                "Every report: step, β, learning rate, distortion (recon), rate (kl), ELBO,"
                                " per-dimension KL; plus per-epoch held-out values in <name>.epochs.csv."))
    for title, panel in panels:
        base = slug(title)
        plots = [panel] if isinstance(panel, pg.PlotWidget) else []
        plots += panel.findChildren(pg.PlotWidget)
        for i, plot in enumerate(plots):
            key = base if i == 0 else f"{base}-{i + 1}"
            targets += _plot_targets(key, title, plot.getPlotItem(), f"The {title} plot.")
        methods = sorted(m for m in dir(panel) if m.startswith("export_") and m.endswith("_png"))
        if methods:
            for name in methods:
                what = name[len("export_"):-len("_png")]
                targets.append(ExportTarget(f"{base}-{slug(what)}-png", f"{title}: {what} grid (PNG)", ".png",
                                            "grid-png", _call(export_grid_png, getattr(panel, name)),
                                            f"The {what} image grid of the {title} panel."))
        else:
            grids = panel.findChildren(ImageGridView)
            for i, grid in enumerate(grids):
                title_now = grid.title.split(" · ")[0].strip()  # "... · step 400": the step changes, the name must not
                name = title_now or (f"grid {i + 1}" if len(grids) > 1 else "grid")
                key = f"{base}-{slug(name)}" if len(grids) > 1 or title_now else base
                targets.append(ExportTarget(f"{key}-png", f"{title}: {name} (PNG)", ".png", "grid-png",
                                            _call(export_grid_png, _grid_fn(grid)), f"The {name} image grid."))
    runs = list(runs)
    if runs:
        targets.append(ExportTarget("runs-csv", "Runs summary (CSV)", ".csv", "runs-csv",
                                    _call(write_runs_csv, runs),
                                    "One row per run of the Runs panel: β, seed, status, epochs, held-out rate, "
                                    "distortion and ELBO, and its checkpoint."))
    unique, keys = [], set()
    for t in targets:  # two panels with the same title would clash: the first keeps the name
        if t.key not in keys:
            keys.add(t.key)
            unique.append(t)
    return unique


RUNS_CSV_COLUMNS = ("run", "beta", "seed", "status", "epoch", "epochs", "rate", "distortion", "elbo", "checkpoint")


def write_runs_csv(records, path: str) -> None:
    """The Runs panel as a table (explorer.models.run_catalog.RunRecord each); NaN (not measured) is an empty cell."""
    import csv
    import io
    import math

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(RUNS_CSV_COLUMNS)
    for r in records:
        numbers = ["" if not math.isfinite(v) else repr(float(v)) for v in (r.rate, r.distortion, r.elbo)]
        writer.writerow([r.name, "" if not math.isfinite(r.beta) else r.beta, r.seed, r.status, r.epoch, r.epochs,
                         *numbers, r.path or ""])
    try:
        Path(path).write_text(text.getvalue())
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or exc}") from None
