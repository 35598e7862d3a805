"""Guided experiments (Experiments menu): sweeps that reproduce what the theory predicts, each explained.

    for experiment in EXPERIMENTS:            # what the menu lists
        experiment.title, experiment.stages   # the sweep(s) it trains: epochs totals, one sweep each
    panel = ExperimentPanel()                 # the explanation, then the measured result and its plot
    panel.show_experiment(experiment)
    panel.show_result(experiment, rows_by_stage)   # trainer.training.sweep.SummaryRow lists, one per finished stage

Every experiment trains on the built-in sprites at 28x28 (no download, seconds per epoch on a laptop CPU) with
the 400-unit MLP, so each finishes in a few minutes on two cores; the README lists the times measured. The
conclusion is written from the runs' summary numbers, never from expectations: if a run does not show what the
theory predicts, the panel says what it measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from explorer.plotting.axes import steady_axes
from explorer.models.run_settings import RunSettings

BASE = RunSettings(dataset="sprites", sprites_n=10_000, sprites_size=28, arch="mlp", hidden=(400,), latent_dim=10,
                   batch_size=128, lr=1e-3, seed=0, device="auto", epochs=10)
"""What every experiment shares: 9,000 training sprites of 28x28, the 784-400-10 MLP, Adam 1e-3."""


@dataclass(frozen=True)
class Experiment:
    key: str
    title: str
    explanation: str
    """What the theory says and what to look at, in the seeds' words (HTML)."""
    settings: RunSettings
    betas: tuple[float, ...] = (1.0,)
    free_bits: tuple[float, ...] = ()
    schedules: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    """TrainConfig.objective values swept (elbo, tcvae); empty: the settings' own."""
    seeds: tuple[int, ...] = ()
    """Seeds swept; empty: the settings' own."""
    stages: tuple[int, ...] = (10,)
    """Epoch totals: the sweep is trained to each in turn (resuming), and measured after each."""
    iwae_samples: int = 0
    disentanglement_points: int = 0
    """DCI, SAP and FactorVAE of each run on this many points (0: none; the protocol's 15,000 take minutes)."""
    panel: str = "Rate–distortion"
    """The panel that makes the point, raised at the end."""
    select: str = "last"
    """Which run to explore at the end: "last" (the largest value swept) or "first"."""
    x_label: str = "β"
    y_label: str = "rate R (nats)"
    tags: tuple[str, ...] = field(default_factory=tuple)
    variants: tuple[tuple[str, dict], ...] = ()
    """(label, RunSettings changes) of each model compared, each trained through every stage as a sweep of its own,
    in a subfolder of that label; empty: the settings alone."""
    gap_examples: int = 0
    """The amortization and approximation gaps of each finished run on this many held-out examples (0: none)."""

    def x_values(self) -> list[str]:
        return [f"{b:g}" for b in self.betas]

    def plan(self) -> list[tuple[str, RunSettings]]:
        """(subfolder, settings with their epoch total) of each sweep, in training order: every variant through
        every stage; rows_by_stage lists their summary rows in this order."""
        variants = self.variants or (("", {}),)
        return [(label, self.settings.replace(**changes, epochs=epochs)) for label, changes in variants
                for epochs in self.stages]


EXPERIMENTS = (
    Experiment(
        "collapse", "Posterior collapse at high β",
        "<p>The loss is <b>D + βR</b> with rate R = KL(q(z|x) ‖ p(z)) = ½Σ(μ² + σ² − 1 − log σ²). "
        "Each nat of rate costs β nats of distortion, so as β grows the encoder sends less about x. "
        "R = 0 only when q(z|x) = N(0, I) for every x: the <b>posterior has collapsed</b> onto the prior, "
        "z carries nothing, and the decoder must ignore it (every image decodes to the same mean).</p>"
        "<p>Five runs, β = 0.1 … 30. Watch the end points slide up the rate–distortion plane towards R = 0, "
        "and the KL strip of the largest β empty out.</p>",
        BASE, betas=(0.1, 1.0, 3.0, 10.0, 30.0), panel="KL per dimension", y_label="rate R (nats)"),
    Experiment(
        "free-bits", "Free bits keep dimensions alive",
        "<p>With free bits λ (Kingma et al. 2016) each dimension's batch-averaged KL is charged "
        "max(λ, KL<sub>j</sub>): below λ nats a dimension costs nothing more, so the optimiser gains nothing "
        "by collapsing it. At a β strong enough to collapse the posterior, λ > 0 keeps the rate up, about λ "
        "nats in every dimension.</p>"
        "<p>Three runs at β = 30: λ = 0, 0.25 and 0.5 nats per dimension. Compare the rate and the KL strips.</p>",
        BASE.replace(beta=30.0), betas=(30.0,), free_bits=(0.0, 0.25, 0.5), panel="KL per dimension",
        x_label="free bits λ (nats)", y_label="rate R (nats)"),
    Experiment(
        "warmup", "KL warm-up versus none",
        "<p>KL warm-up (Bowman et al. 2016) multiplies β by a factor that ramps from 0 to 1 over the first "
        "steps: early on the decoder learns to use z before the rate is charged at all, which counters an "
        "early collapse.</p><p>Two runs at β = 4: a constant β, and β warmed up over 1,000 steps. Compare their "
        "rate curves on the Curves panel, and where they end on the plane.</p>",
        BASE.replace(beta=4.0), betas=(4.0,), schedules=("constant", "warmup:1000"), panel="Rate–distortion",
        x_label="schedule", y_label="rate R (nats)"),
    Experiment(
        "gap", "The ELBO gap shrinks as the encoder improves",
        "<p>log p(x) = ELBO + KL(q(z|x) ‖ p(z|x)): the ELBO falls short of the log-likelihood by how far the "
        "encoder's q(z|x) is from the true posterior. IWAE with K samples estimates log p(x) much more "
        "tightly, so IWAE − ELBO estimates that gap.</p><p>One run at β = 1, measured after 1, 3 and 10 "
        "epochs with K = 50: as the encoder learns, the gap closes.</p>",
        BASE.replace(binarize="dynamic"), betas=(1.0,), stages=(1, 3, 10), iwae_samples=50, panel="ELBO gap",
        x_label="epochs", y_label="IWAE − ELBO (nats)"),
    Experiment(
        "mig", "β-VAE: reconstruction traded for disentanglement",
        "<p>Higgins et al. (2017): a β above 1 presses q(z|x) towards the factorised prior N(0, I), which "
        "favours codes whose dimensions follow separate factors of variation — bought with distortion. The "
        "sprites have known factors (shape, scale, orientation, x, y), so the Mutual Information Gap (Chen et "
        "al. 2018) measures it: for each factor, the gap between the two latent dimensions that know most "
        "about it, in nats, over the factor's entropy.</p><p>Four runs, β = 1, 4, 8, 16, with a 6-dimensional "
        "latent space for the 5 factors, 20 epochs: MIG (blue) against β, beside DCI disentanglement "
        "(orange), SAP (purple) and the FactorVAE score (brown), each computed on 3,000 encoded sprites (fewer than "
        "disentanglement_lib's 15,000, to stay within a few minutes), and D on the plane.</p>",
        BASE.replace(latent_dim=6), betas=(1.0, 4.0, 8.0, 16.0), stages=(20,), panel="Rate–distortion",
        y_label="score", disentanglement_points=3000),
    Experiment(
        "bottleneck", "The information bottleneck: what the rate is made of",
        "<p>The KL term limits the information z carries about x: I(X; Z) ≤ KL(q(z|x) ‖ p(z)). The rate of "
        "the held-out posteriors splits exactly into that information and how far their average q(z) is from "
        "the prior: <b>R = I(X; Z) + KL(q(z) ‖ p(z))</b> (Hoffman &amp; Johnson 2016). Raising β charges "
        "both.</p><p>Six runs, β = 0.1 … 30: I(X; Z) (blue) and KL(q(z) ‖ p(z)) (orange) against β, each "
        "measured on the N held-out sprites (1,000 here), so I cannot show more than log N = 6.9 nats. The "
        "Information panel shows the explored run's split over its training.</p>",
        BASE, betas=(0.1, 0.3, 1.0, 3.0, 10.0, 30.0), panel="Information", y_label="nats"),
    Experiment(
        "tcvae", "β-TCVAE against β-VAE",
        "<p>The rate splits into index-code mutual information, total correlation and dimension-wise KL "
        "(Chen et al. 2018). A β-VAE's β charges all three, so a β that makes codes factorised also throttles "
        "the information z carries; <b>β-TCVAE</b> charges β only on the <b>total correlation</b>, the "
        "dependence between latent dimensions, and keeps weight 1 on the other two. Chen et al. report a higher "
        "MIG for β-TCVAE on dSprites.</p><p>Six runs at β = 6, a 6-dimensional latent space and 20 epochs: "
        "β-VAE and β-TCVAE, three seeds each. MIG by run, and their distortion, below.</p>",
        BASE.replace(latent_dim=6), betas=(6.0,), objectives=("elbo", "tcvae"), seeds=(0, 1, 2), stages=(20,),
        panel="Rate–distortion", x_label="run", y_label="MIG", select="last"),
    Experiment(
        "layers", "What each layer of a hierarchy encodes",
        "<p>A hierarchical VAE (Ladder VAE, Sønderby et al. 2016) has p(z<sub>2</sub>) = N(0, I) on top, "
        "p(z<sub>1</sub> | z<sub>2</sub>) below it, and the rate Σ<sub>l</sub> KL(q(z<sub>l</sub> | ·) ‖ "
        "p(z<sub>l</sub> | z<sub>l+1</sub>)). Early in training the bottom layer is the cheaper place for "
        "information, and without <b>warm-up</b> the top layer tends to stay thin or collapse.</p>"
        "<p>Two runs of a 2-layer hierarchy (5 + 5 dimensions) at β = 1, 10 epochs (710 steps): a constant β, "
        "and β warmed up over the first 500. The rate of the top layer (blue) and of the bottom layer (orange) "
        "for each; the Traversals "
        "panel's Layer choice then shows what each layer of the explored (warmed-up) run encodes, the KL strip "
        "each layer's units.</p>",
        BASE.replace(layers=2), betas=(1.0,), schedules=("constant", "warmup:500"), panel="Traversals",
        x_label="schedule", y_label="rate of the top layer (nats)"),
    Experiment(
        "inference", "Amortized or classical inference",
        "<p>Classical variational inference fits q(z) to each x on its own; a VAE trains one encoder to "
        "<b>amortize</b> that work, guessing q(z|x) in a single forward pass (seed 001 §9). The ELBO's gap to "
        "log p(x), KL(q(z|x) ‖ p(z|x)), then has two parts (Cremer, Li &amp; Duvenaud 2018): the "
        "<b>approximation gap</b> log p(x) − ELBO(q*), where q* is the best diagonal Gaussian for this x, found "
        "here by classical VI from the encoder's guess; and the <b>amortization gap</b> ELBO(q*) − ELBO(q_φ), "
        "what the encoder loses by guessing. Cremer et al. found the amortization gap often the larger on "
        "MNIST, and closing as the encoder grows.</p>"
        "<p>Two models with the same 400-unit decoder, one with a small encoder (32 units), one with a large "
        "one (1,024 units), each measured after 1, 3 and 10 epochs on 100 held-out sprites: the amortization gap "
        "of the small encoder (blue) and of the large (orange), and their approximation gaps (purple, brown), "
        "with the time each way of inferring q takes per example. The ELBO gap panel splits the gap again for "
        "the explored run, or for a selection, and optimizes one point's q.</p>",
        BASE.replace(binarize="dynamic"), betas=(1.0,), stages=(1, 3, 10), gap_examples=100,
        variants=(("small-encoder", {"encoder_hidden": (32,)}), ("large-encoder", {"encoder_hidden": (1024,)})),
        panel="ELBO gap", x_label="epochs", y_label="gap (nats per example)"),
)


def result_points(experiment: Experiment, rows_by_stage: list[list]) -> tuple[list[str], list[float]]:
    """(x labels, y values) of the experiment's plot, from the summary rows (trainer.training.sweep.SummaryRow)."""
    last = rows_by_stage[-1] if rows_by_stage else []
    if experiment.key == "gap":
        xs = [str(e) for e in experiment.stages[: len(rows_by_stage)]]
        ys = [rows[0].iwae_log_px - rows[0].elbo if rows else math.nan for rows in rows_by_stage]
        return xs, ys
    if experiment.key == "free-bits":
        return [f"{r.free_bits:g}" for r in last], [r.rate for r in last]
    if experiment.key == "warmup":
        return [r.beta_schedule for r in last], [r.rate for r in last]
    if experiment.key == "mig":
        return [f"{r.beta:g}" for r in last], [r.mig for r in last]
    if experiment.key == "bottleneck":
        return [f"{r.beta:g}" for r in last], [r.mutual_information for r in last]
    if experiment.key == "tcvae":
        return [f"{'TC' if r.objective == 'tcvae' else 'β'} s{r.seed}" for r in last], [r.mig for r in last]
    if experiment.key == "layers":
        return [r.beta_schedule for r in last], [r.rate_top_layer for r in last]
    if experiment.key == "inference":
        return [str(e) for e in experiment.stages], _by_variant(experiment, rows_by_stage, "amortization_gap")[0]
    return [f"{r.beta:g}" for r in last], [r.rate for r in last]


EXTRA_COLOURS = ("#ff7f0e", "#9467bd", "#8c564b")


def extra_series(experiment: Experiment, rows_by_stage: list[list]) -> list[tuple[str, list[float]]]:
    """(name, values) of the series drawn beside result_points' (same x), in EXTRA_COLOURS order."""
    last = rows_by_stage[-1] if rows_by_stage else []
    if experiment.key == "bottleneck" and last:
        return [("KL(q(z) ‖ p(z))", [r.marginal_kl for r in last])]
    if experiment.key == "layers" and last:
        return [("rate of the bottom layer", [r.rate_bottom_layer for r in last])]
    if experiment.key == "inference":
        amortization = _by_variant(experiment, rows_by_stage, "amortization_gap")
        approximation = _by_variant(experiment, rows_by_stage, "approximation_gap")
        names = [label for label, _ in experiment.variants]
        return [(f"amortization, {names[-1]}", amortization[-1]),
                *((f"approximation, {name}", values) for name, values in zip(names, approximation))]
    if experiment.key == "mig" and last and experiment.disentanglement_points:
        return [("DCI disentanglement", [r.dci_disentanglement for r in last]),
                ("SAP (disentanglement_lib's discrete protocol)", [r.sap for r in last]),
                ("FactorVAE score", [r.factorvae_score for r in last])]
    return []


def _by_variant(experiment: Experiment, rows_by_stage: list[list], key: str) -> list[list[float]]:
    """One list per variant of the value `key` of its run after each stage (NaN where none finished)."""
    stages = len(experiment.stages)
    out = []
    for v in range(max(len(experiment.variants), 1)):
        values = []
        for rows in rows_by_stage[v * stages:(v + 1) * stages]:
            values.append(float(getattr(rows[0], key)) if rows and rows[0].status == "done" else math.nan)
        out.append(values + [math.nan] * (stages - len(values)))
    return out


def _inference_text(experiment: Experiment, rows_by_stage: list[list]) -> str:
    """Each encoder's gaps after each stage, its times per example, and what changed, from the runs' numbers."""
    amortization = _by_variant(experiment, rows_by_stage, "amortization_gap")
    approximation = _by_variant(experiment, rows_by_stage, "approximation_gap")
    stages = len(experiment.stages)
    text = ""
    for v, (label, _) in enumerate(experiment.variants):
        rows = [r[0] for r in rows_by_stage[v * stages:(v + 1) * stages] if r and r[0].status == "done"]
        if not rows:
            continue
        parts = ", ".join(f"after {r.epochs} epoch{'s' if r.epochs != 1 else ''} amortization "
                          f"{r.amortization_gap:.2f} and approximation "
                          f"{r.approximation_gap:.2f} nats" for r in rows)
        last = rows[-1]
        text += (f"<p><b>{label.replace('-', ' ')}</b>: {parts}. Per example the encoder took "
                 f"{last.amortized_ms:.3f} ms, classical VI {last.classical_ms:.0f} ms "
                 f"({last.classical_ms / max(last.amortized_ms, 1e-9):,.0f}× longer).</p>")
    small, large = amortization[0][-1], amortization[-1][-1]
    if math.isfinite(small) and math.isfinite(large) and len(experiment.variants) > 1:
        text += (f"<p>After {experiment.stages[-1]} epochs the large encoder's amortization gap is {large:.2f} "
                 f"nats against the small one's {small:.2f}: "
                 + ("the larger encoder guesses q closer to what classical VI finds." if large < small else
                    "on these sprites the larger encoder did not guess q better.") + "</p>")
        ends = []
        for (label, _), a, b in zip(experiment.variants, (small, large), (approximation[0][-1], approximation[-1][-1])):
            if math.isfinite(b) and a + b > 0:
                most = "amortization" if a > b else "approximation"
                ends.append(f"the {label.replace('-', ' ')}'s gap is mostly {most} ({100 * a / (a + b):.0f}% "
                            "amortization)")
        if ends:
            text += f"<p>At the end {' and '.join(ends)}.</p>"
    return text


def _tcvae_text(last: list) -> str:
    """Mean MIG and distortion of each objective over its seeds, and which is ahead, from the runs' numbers."""
    by = {}
    for r in last:
        if r.status == "done" and math.isfinite(r.mig):
            by.setdefault(r.objective, []).append(r)
    if len(by) < 2:
        return ""
    means = {k: (float(np.mean([r.mig for r in rs])), float(np.std([r.mig for r in rs])),
                 float(np.mean([r.distortion for r in rs])), len(rs)) for k, rs in by.items()}
    names = {"elbo": "β-VAE", "tcvae": "β-TCVAE"}
    text = "<p>" + "; ".join(f"{names.get(k, k)}: MIG {m:.3f} ± {s:.3f} over {n} seeds, distortion {d:.1f} nats"
                             for k, (m, s, d, n) in means.items()) + ".</p>"
    (tc_mig, tc_sd, *_), (b_mig, b_sd, *_) = means["tcvae"], means["elbo"]
    if abs(tc_mig - b_mig) <= max(tc_sd, b_sd):
        text += ("<p>On these sprites the two are within their spread over seeds: at this size and training "
                 "length the runs do not separate them.</p>")
    else:
        ahead = "β-TCVAE" if tc_mig > b_mig else "β-VAE"
        text += f"<p>{ahead} has the higher MIG here, by more than its spread over seeds.</p>"
    return text


def _bottleneck_text(last: list) -> str:
    """Which part of the rate remains as β grows, from the runs' numbers."""
    parts = []
    for r in (last[0], last[-1]):
        if not (math.isfinite(r.mutual_information) and r.rate > 0):
            continue
        if r.mutual_information >= r.rate:  # a Monte Carlo estimate of I can exceed a tiny closed-form rate
            parts.append(f"at β = {r.beta:g} the rate is {r.rate:.2f} nats, all of it information (I = "
                         f"{r.mutual_information:.2f}, the same within Monte Carlo error)")
            continue
        share = r.mutual_information / r.rate
        parts.append(f"at β = {r.beta:g} the rate is {r.rate:.2f} nats, {share:.0%} of it information "
                     f"(I = {r.mutual_information:.2f}) and {1 - share:.0%} marginal KL "
                     f"({r.marginal_kl:.2f}, of which total correlation {r.total_correlation:.2f})")
    text = "<p>" + "; ".join(parts) + ".</p>" if parts else ""
    low = last[0]
    if math.isfinite(low.mutual_information) and low.mutual_information > 0.95 * low.log_n:
        text += (f"<p>At β = {low.beta:g} I sits at its ceiling log N = {low.log_n:.2f}: the code tells every "
                 "held-out sprite apart, and more examples would show more information; the rest of its rate "
                 "is q(z) spreading away from the prior.</p>")
    high = last[-1]
    if math.isfinite(high.mutual_information) and high.rate > 0:
        most = "information" if high.mutual_information >= high.marginal_kl else "marginal KL"
        text += (f"<p>At the largest β what is left of the rate is mostly {most}: "
                 + ("the encoder keeps the few nats that tell examples apart and lets q(z) match the prior."
                    if most == "information" else
                    "q(z) no longer matches the prior, while z carries little about x.") + "</p>")
    return text


def conclusion(experiment: Experiment, rows_by_stage: list[list]) -> str:
    """What the runs measured, in one paragraph (HTML)."""
    last = rows_by_stage[-1] if rows_by_stage else []
    failed = [r for r in last if r.status != "done"]
    if not last or len(failed) == len(last):
        return "<p><b>No run finished</b>; the Runs panel says why.</p>"
    xs, ys = result_points(experiment, rows_by_stage)
    pairs = ", ".join(f"{x}: {y:.3g}" for x, y in zip(xs, ys))
    text = f"<p><b>Measured</b> ({experiment.y_label} by {experiment.x_label}): {pairs}.</p>"
    if experiment.key == "collapse":
        top = last[-1]
        text += (f"<p>At β = {top.beta:g} the rate is {top.rate:.2f} nats with {top.active_units} of "
                 f"{BASE.latent_dim} dimensions active, against {last[0].rate:.1f} nats and "
                 f"{last[0].active_units} at β = {last[0].beta:g}; distortion rose from {last[0].distortion:.1f} to "
                 f"{top.distortion:.1f} nats.</p>")
    elif experiment.key == "free-bits":
        text += "<p>Active units (Cov<sub>x</sub> E[z<sub>j</sub>] > 0.01): " + ", ".join(
            f"λ = {r.free_bits:g}: {r.active_units} of {BASE.latent_dim}" for r in last) + ".</p>"
    elif experiment.key == "gap":
        text += "<p>The ELBO gap panel estimates it again for the explored run, on the held-out images.</p>"
    elif experiment.key == "bottleneck":
        text += _bottleneck_text(last)
    elif experiment.key == "tcvae":
        text += _tcvae_text(last)
    elif experiment.key == "inference":
        text += _inference_text(experiment, rows_by_stage)
    elif experiment.key == "layers":
        text += "<p>" + "; ".join(
            f"{r.beta_schedule}: top layer {r.rate_top_layer:.2f} nats, bottom {r.rate_bottom_layer:.2f}, "
            f"{r.active_units} of {BASE.latent_dim} units active" for r in last) + ".</p>"
    elif experiment.key == "mig":
        best = max(last, key=lambda r: r.mig if math.isfinite(r.mig) else -1)
        text += (f"<p>The highest MIG, {best.mig:.3f}, is at β = {best.beta:g}; distortion went from "
                 f"{last[0].distortion:.1f} nats at β = {last[0].beta:g} to {last[-1].distortion:.1f} at "
                 f"β = {last[-1].beta:g}.</p>")
        scored = [r for r in last if math.isfinite(r.dci_disentanglement)]
        if scored:
            text += "<p>Beside MIG: " + "; ".join(
                f"β = {r.beta:g}: DCI {r.dci_disentanglement:.2f} (completeness {r.dci_completeness:.2f}), "
                f"SAP {r.sap:.3f} ± {r.sap_se:.3f}, FactorVAE {r.factorvae_score:.2f} ± {r.factorvae_score_se:.2f} "
                f"({r.factorvae_active_dims} active dimensions)" for r in scored
            ) + (f" (on {scored[0].disentanglement_points:,} encoded sprites; SAP by {scored[0].sap_protocol}, "
                 "where a perfectly disentangled code scores about 0.25, not 1; each ± is the sampling error of "
                 "the test points or votes, not the spread over seeds).</p>")
    if failed:
        text += f"<p>{len(failed)} run(s) did not finish: {', '.join(r.run for r in failed)}.</p>"
    return text


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
