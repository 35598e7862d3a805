"""The information inside the rate: I(X; Z) and KL(q(z) ‖ p(z)) against the step, per held-out evaluation.

    panel = InformationPanel(explored)  # explorer.models.ExploredRun: which run to draw and name
    panel.add_epoch(epoch_report)       # trainer.training.reports.EpochReport with its rate_split
    panel.set_history(arrays)           # an opened checkpoint: history groups epochs and rate_split
    explored.explore(path, name, history=arrays)   # another run explored: its history, named; the live run's
                                                   # epochs are kept apart until it is explored again
    panel.series()                      # {"rate": (steps, values), "mutual_information": ..., ...} as drawn

Seed 001 §5: the KL term limits the information z carries about x, I(X; Z) ≤ KL(q(z|x) ‖ p(z)). The rate of
the held-out posteriors splits exactly into that information and how far their aggregate q(z) is from the
prior (trainer.analysis.rate_split): rate = I(X; Z) + KL(q(z) ‖ p(z)), and KL(q(z) ‖ p(z)) = total
correlation + dimension-wise KL. The estimate of I cannot exceed log N for N examples: the dashed line. The
engine computes the split at every held-out evaluation (in the window, beside the training); this panel only
draws it, for the run the latent panels explore, and says which run that is.
"""

from __future__ import annotations

import bisect
import html

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from explorer.models.explored_run import Explored, ExploredRun
from explorer.plotting.axes import steady_axes
from explorer.plotting.moment_marks import MomentLines
from trainer.analysis.information_ceiling import ceiling_note

SERIES = (
    ("rate", "rate  E KL(q(z|x) ‖ p(z))", "#d62728", Qt.SolidLine),
    ("mutual_information", "I(X; Z)", "#1f77b4", Qt.SolidLine),
    ("marginal_kl", "KL(q(z) ‖ p(z))", "#ff7f0e", Qt.SolidLine),
    ("total_correlation", "total correlation", "#9467bd", Qt.DashLine),
    ("dimwise_kl", "dimension-wise KL", "#8c564b", Qt.DashLine),
)
"""(key, legend, colour, line style): the rate in the curves' rate colour, its two parts, and the second's two."""
BATCH_TC = ("batch_tc", "total correlation, the training batch's estimate", "#9467bd", Qt.DotLine)
"""β-TCVAE: what the objective weighs by β each step, estimated on the batch (MSS or MWS), beside the held-out TC."""
CEILING_COLOUR = "#909090"
LAYER_COLOURS = ("#2ca02c", "#17becf", "#bcbd22", "#e377c2", "#7f7f7f")
"""A hierarchy's layers, bottom first: each layer's rate (dotted) and I(X; Z_l | Z_{>l}) (solid) in its colour."""
EXPLANATION = ("The KL term limits the information z carries about x: I(X; Z) ≤ KL(q(z|x) ‖ p(z)).\n"
               "Held-out rate = I(X; Z) + KL(q(z) ‖ p(z)), with q(z) the average of every posterior q(z|x_n);\n"
               "KL(q(z) ‖ p(z)) = total correlation KL(q(z) ‖ Π q(z_j)) + Σ_j KL(q(z_j) ‖ p(z_j)).\n"
               "Dashed grey: log N, the most information N held-out examples can show.\n"
               "Each is a Monte Carlo estimate over the N held-out posteriors (one draw of z each), shown ± its\n"
               "standard error over the examples. I(X; Z) is exact for those N points but short of the true value\n"
               "well before log N; the panel warns when it is near log N or still climbing from N/2 to N, and then\n"
               "the total correlation and dimension-wise KL absorb what I misses (the parts still add up).\n"
               "β-TCVAE: the dotted purple line is the training batch's estimate of the total correlation, the\n"
               "one β weighs; the dashed one is the held-out set's (MSS, the default, keeps the two close).\n"
               "A CVAE shows I(X; Z | Y): what z says about x beyond the label.\n"
               "A hierarchy: joint over its layers, and per layer (thin, in the layer's colour) its rate\n"
               "KL(q(z_l | ·) ‖ p(z_l | z_{l+1})) dotted and I(X; Z_l | Z_{>l}) solid; by the chain rule the\n"
               "layers' information adds up to the joint I(X; Z).")


class _RunSeries:
    """What the panel draws of one run: each series' points, the newest split whole, a hierarchy's layers."""

    def __init__(self):
        self.points: dict[str, tuple[list[float], list[float]]] = {key: ([], []) for key, *_ in (*SERIES, BATCH_TC)}
        self.log_n: float | None = None
        self.split: dict = {}  # the newest split whole: its standard errors, N, the N/2 estimate
        self.layer_points: dict[str, tuple[list[float], list[float]]] = {}  # "z2_rate": a hierarchy's layer 2

    def add(self, step: int, rate: float, split: dict) -> None:
        # a hierarchy's total correlation and dimension-wise KL are None: no point, never a made-up one
        parts = {key: np.nan if split[key] is None else float(split[key]) for key, *_ in SERIES[1:]}
        for key, value in {"rate": rate, **parts}.items():
            if np.isfinite(value):
                xs, ys = self.points[key]
                xs.append(step)
                ys.append(value)
        self.log_n = float(split["log_n"])
        self.split = {k: v for k, v in split.items() if k != "layers"}

    def add_layer(self, step: int, layer: int, parts: dict) -> None:
        for part in ("rate", "mutual_information"):
            xs, ys = self.layer_points.setdefault(f"z{layer + 1}_{part}", ([], []))
            xs.append(step)
            ys.append(float(parts[part]))

    def add_batch_tc(self, steps, values) -> bool:
        values = np.asarray(values, dtype=float)
        keep = np.isfinite(values)
        if not keep.any():
            return False
        xs, ys = self.points["batch_tc"]
        xs.extend(np.asarray(steps)[keep].tolist())
        ys.extend(values[keep].tolist())
        return True

    @classmethod
    def of_history(cls, arrays: dict) -> "_RunSeries":
        """A checkpoint's history: group rate_split (step, the parts and their standard errors, log_n, n), the
        epochs' held-out rate, and a β-TCVAE's batch_tc."""
        run = cls()
        tc_steps = arrays.get("batch_tc/step")
        if tc_steps is not None:
            run.add_batch_tc(tc_steps, arrays.get("batch_tc/total_correlation", []))
        steps = arrays.get("rate_split/step")
        if steps is None:
            return run  # written before the engine split the rate: nothing to draw
        rate_at = dict(zip(np.asarray(arrays.get("epochs/step", [])).tolist(),
                           np.asarray(arrays.get("epochs/test_kl", [])).tolist()))
        names = {name.split("/", 1)[1] for name in arrays if name.startswith("rate_split/")} - {"step", "epoch"}
        columns = {key: np.asarray(arrays[f"rate_split/{key}"]) for key in names}
        rows = min((len(c) for c in columns.values()), default=0)
        for i, step in enumerate(np.asarray(steps).tolist()[:rows]):
            split = {key: float(values[i]) for key, values in columns.items()}
            if "log_n" in split and all(key in split for key, *_ in SERIES[1:]):
                run.add(int(step), rate_at.get(step, float("nan")), split)
        layer_columns = [np.asarray(arrays.get(f"rate_split_layers/{k}", []))
                         for k in ("step", "layer", "rate", "mutual_information")]
        for step, layer, rate, info in zip(*layer_columns):
            run.add_layer(int(step), int(layer), {"rate": float(rate), "mutual_information": float(info)})
        return run


class InformationPanel(QWidget):
    """Per held-out evaluation: the rate, I(X; Z), KL(q(z) ‖ p(z)) and its two parts, with the log N ceiling."""

    def __init__(self, explored: ExploredRun | None = None, parent: QWidget | None = None):
        """explored: which run to show (explorer.models.ExploredRun); the panel draws that run and names it."""
        super().__init__(parent)
        self.explored = explored if explored is not None else ExploredRun(self)
        self._live = _RunSeries()  # the window's own run: its epochs arrive while another run may be shown
        self._other: _RunSeries | None = None  # another run explored (its checkpoint's history), else None
        self._layer_curves: dict[str, pg.PlotDataItem] = {}
        self.run_label = QLabel()
        self.run_label.setWordWrap(True)
        self._other_key = ""  # the explored checkpoint whose history _other holds
        self.readout = QLabel()
        self.readout.setWordWrap(True)
        self.readout.setTextFormat(Qt.RichText)
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.getPlotItem().hideButtons()
        steady_axes(self.plot.getPlotItem())
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "nats per example")
        self.plot.setMinimumSize(260, 180)
        self._curves = {key: self.plot.plot(pen=pg.mkPen(colour, width=2, style=style), symbol="o",
                                            symbolSize=5, symbolBrush=colour, symbolPen=None)
                        for key, name, colour, style in SERIES}
        key, _name, colour, style = BATCH_TC
        self._curves[key] = self.plot.plot(pen=pg.mkPen(colour, width=1, style=style))
        self._ceiling = pg.InfiniteLine(angle=0, pen=pg.mkPen(CEILING_COLOUR, width=1, style=Qt.DashLine),
                                        label="log N", labelOpts={"position": 0.97, "color": CEILING_COLOUR,
                                                                 "anchors": [(1, 1), (1, 1)]})
        self._ceiling.hide()
        self.plot.addItem(self._ceiling)
        for widget in (self, self.plot, self.readout):
            widget.setToolTip(EXPLANATION)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.run_label)
        layout.addWidget(self.readout)
        layout.addWidget(self.plot, 1)
        self.explored.sig_changed.connect(self._on_explored)
        self.moment_lines = MomentLines([self.plot.getPlotItem()])
        """A line at the explored run's moment (and moment A): the readout then gives the evaluation before it."""
        self.explored.sig_moment_changed.connect(self._on_moment)
        self._redraw()

    @property
    def _shown(self) -> _RunSeries:
        return self._other if self._other is not None else self._live

    # --- what the window feeds it ------------------------------------------------------------------------
    def add_epoch(self, report) -> None:
        """An EpochReport of the live run: its held-out rate and, when the engine split it, the parts."""
        split = report.rate_split
        if split is None:
            return
        self._live.add(int(report.step), float(report.test_kl), split)
        for layer, parts in enumerate(split.get("layers", ())):
            self._live.add_layer(int(report.step), layer, parts)
        if self._other is None:
            self._redraw()

    def add_batch_tc(self, steps, values) -> None:
        """β-TCVAE: the live training batches' TC estimates of a batch of step reports (NaN for the ELBO)."""
        if self._live.add_batch_tc(steps, values) and self._other is None:
            self._redraw()

    def set_history(self, arrays: dict) -> None:
        """The live run's history as a checkpoint holds it (an opened checkpoint): groups rate_split (step, the
        parts and their standard errors, log_n, n), epochs' held-out rate, and a β-TCVAE's batch_tc."""
        self._live = _RunSeries.of_history(arrays)
        self._redraw()

    @Slot(object)
    def _on_explored(self, explored: Explored) -> None:
        """Another run explored: its checkpoint's history, named (the live run's epochs are kept apart); the
        live run again: its series, with every epoch that arrived meanwhile."""
        if explored.live:
            self._other, self._other_key = None, ""
        elif explored.key != self._other_key:
            self._other, self._other_key = _RunSeries.of_history(explored.history), explored.key
        else:
            self._show_run_label()  # the same run, a new name or step
            return
        self._redraw()

    @Slot(object)
    def _on_moment(self, explored: Explored) -> None:
        self.moment_lines.show(explored)
        self._show_readout()

    def clear(self) -> None:
        """No run at all (Reset): both the live series and another run's go."""
        self._live, self._other, self._other_key = _RunSeries(), None, ""
        self._redraw()

    # --- what tests may read ------------------------------------------------------------------------
    def series(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(steps, values) of each drawn series, by key."""
        shown = self._shown
        return {key: (np.asarray(xs), np.asarray(ys)) for key, (xs, ys) in (shown.points | shown.layer_points).items()}

    def ceiling(self) -> float | None:
        """log N of the newest split, drawn as the dashed line; None before the first."""
        return self._shown.log_n

    def warning(self) -> str:
        """The newest split's sentence on why I(X; Z) is short of the truth, or '' (information_ceiling)."""
        return ceiling_note(self._shown.split)

    # --- drawing ------------------------------------------------------------------------------------------
    def _layer_curve(self, key: str) -> pg.PlotDataItem:
        curve = self._layer_curves.get(key)
        if curve is None:
            layer = int(key[1:key.index("_")]) - 1
            colour = LAYER_COLOURS[layer % len(LAYER_COLOURS)]
            style = Qt.DotLine if key.endswith("_rate") else Qt.SolidLine
            curve = self._layer_curves[key] = self.plot.plot(pen=pg.mkPen(colour, width=1.5, style=style))
        return curve

    def _redraw(self) -> None:
        shown = self._shown
        for key, curve in self._curves.items():
            xs, ys = shown.points[key]
            curve.setData(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        for key in [k for k in self._layer_curves if k not in shown.layer_points]:  # another run's layers
            self.plot.removeItem(self._layer_curves.pop(key))
        for key, (xs, ys) in shown.layer_points.items():
            self._layer_curve(key).setData(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        if shown.log_n is None:
            self._ceiling.hide()
        else:
            self._ceiling.setValue(shown.log_n)
            self._ceiling.show()
        self._show_run_label()
        self._show_readout()

    def _show_run_label(self) -> None:
        explored = self.explored.value
        where = "" if explored.live else " (explored; its checkpoint's evaluations)"
        self.run_label.setText(f"Run: <b>{html.escape(explored.title)}</b>{where}")

    def _show_readout(self) -> None:
        """The newest values as the plot's key, each in its curve's colour and ± its standard error, N and the
        ceiling, and the warning when I is short of the truth."""
        series, moment = self._shown, self.explored.value.moment
        latest = {key: _at(xs, ys, moment) for key, (xs, ys) in series.points.items()}
        info, rate = latest["mutual_information"], latest["rate"]
        if info is None and moment is not None:
            self.readout.setText(f"No held-out evaluation before the moment shown (step {moment:,}).")
            return
        if info is None:
            self.readout.setText(
                "This run's history holds no rate split." if self._other is not None else
                "The rate's information appears after the first held-out evaluation (an epoch) of a run trained "
                "here.")
            return

        def key(name: str, label: str) -> str:
            colour = next(c for k, _n, c, _s in SERIES if k == name)
            value = latest[name]
            se = series.split.get(f"{name}_se") if moment is None else None  # the newest split's error only
            text = "–" if value is None or not np.isfinite(value) else f"{value:.2f}"
            if text != "–" and se is not None and np.isfinite(se):
                text += f" ± {se:.2f}"
            return f"<span style='color:{colour}'>■</span> {label} <b>{text}</b>"

        share = f" ({info / rate:.0%} of the rate)" if rate and np.isfinite(rate) and rate > 0 else ""
        n = series.split.get("n")
        points = f"N = {int(n):,} held-out examples, " if n is not None and np.isfinite(n) else ""
        ceiling = f"{points}ceiling log N = {series.log_n:.2f}"
        note = ceiling_note(series.split)
        warning = f"<br><span style='color:#b35900'>⚠ {note}.</span>" if note else ""
        steps = series.points["mutual_information"][0]
        at = "" if moment is None else (f"At the moment's last held-out evaluation, step "
                                        f"{int(steps[bisect.bisect_right(steps, moment) - 1]):,}: ")
        self.readout.setText(
            f"{at}{key('rate', 'rate')} = {key('mutual_information', 'I(X; Z)')}{share} + "
            f"{key('marginal_kl', 'KL(q(z) ‖ p(z))')}, and KL(q(z) ‖ p(z)) ="
            f" {key('total_correlation', 'total correlation')} + {key('dimwise_kl', 'dimension-wise KL')} nats"
            f" ({ceiling}).{self._batch_tc_text(latest)}{warning}{self._layers_text()}")

    @staticmethod
    def _batch_tc_text(latest: dict) -> str:
        """β-TCVAE: the training batch's TC estimate, beside the held-out one."""
        value = latest.get("batch_tc")
        if value is None:
            return ""
        colour = BATCH_TC[2]
        return (f"<br><span style='color:{colour}'>┈</span> The training batch's estimate of the total "
                f"correlation (what β weighs): <b>{value:.2f}</b> nats.")

    def _layers_text(self) -> str:
        """A hierarchy's newest split per layer, top first, each in its colour."""
        layer_points = self._shown.layer_points
        count = len(layer_points) // 2
        parts = []
        for layer in reversed(range(count)):
            rate, info = (layer_points.get(f"z{layer + 1}_{k}", ([], []))[1]
                          for k in ("rate", "mutual_information"))
            if rate and info:
                colour = LAYER_COLOURS[layer % len(LAYER_COLOURS)]
                parts.append(f"<span style='color:{colour}'>■</span> z<sub>{layer + 1}</sub> rate "
                             f"<b>{rate[-1]:.2f}</b>, I <b>{info[-1]:.2f}</b>")
        return "<br>Per layer (top first): " + " · ".join(parts) + " nats." if parts else ""


def _at(xs, ys, moment: int | None):
    """The newest value (moment None), or the one of the last evaluation at or before `moment`; None: none."""
    if moment is None:
        return ys[-1] if len(ys) else None
    i = bisect.bisect_right(xs, moment) - 1
    return ys[i] if i >= 0 else None
