"""What a guided experiment measured, written from its runs' summary numbers, never from expectations.

    xs, ys = result_points(experiment, rows_by_stage)    # the plot's labels and values
    extra_series(experiment, rows_by_stage)              # [(name, values)] drawn beside them
    conclusion(experiment, rows_by_stage)                # one paragraph (HTML): if a run does not show what the
                                                         # theory predicts, it says what it measured

rows_by_stage: one list of trainer.training.sweep.SummaryRow per sweep of experiment.plan(), in its order.
"""

from __future__ import annotations

import math

import numpy as np

from trainer.experiments.catalogue import Experiment


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
    if experiment.key == "holes":
        return [label for label, _ in experiment.variants], [v[-1] for v in _by_variant(experiment, rows_by_stage,
                                                                                         "marginal_kl")]
    return [f"{r.beta:g}" for r in last], [r.rate for r in last]


def extra_series(experiment: Experiment, rows_by_stage: list[list]) -> list[tuple[str, list[float]]]:
    """(name, values) of the series drawn beside result_points' (same x), in the order they are coloured."""
    last = rows_by_stage[-1] if rows_by_stage else []
    if experiment.key == "bottleneck" and last:
        return [("KL(q(z) ‖ p(z))", [r.marginal_kl for r in last])]
    if experiment.key == "layers" and last:
        return [("rate of the bottom layer", [r.rate_bottom_layer for r in last])]
    if experiment.key == "holes":
        return [("I(X; Z)", [v[-1] for v in _by_variant(experiment, rows_by_stage, "mutual_information")])]
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


def _holes_text(experiment: Experiment, rows_by_stage: list[list]) -> str:
    """Each prior's rate, information and marginal KL, and whether the learned prior closed the gap, from the
    runs' numbers."""
    stages = len(experiment.stages)
    finished = {}
    for v, (label, _) in enumerate(experiment.variants):
        rows = rows_by_stage[(v + 1) * stages - 1] if len(rows_by_stage) >= (v + 1) * stages else []
        if rows and rows[0].status == "done":
            finished[label] = rows[0]
    parts = [f"<b>{label.replace('-', ' ')}</b>: rate {r.rate:.2f} nats = I(X; Z) {r.mutual_information:.2f} "
             f"± {r.mutual_information_se:.2f} + KL(q(z) ‖ p(z)) {r.marginal_kl:.2f} ± {r.marginal_kl_se:.2f} "
             f"({r.mutual_information / r.rate:.0%} information); ELBO {r.elbo:.1f}" for label, r in finished.items()
             if r.rate > 0]
    text = "<p>" + "; ".join(parts) + ".</p>" if parts else ""
    if len(finished) == 2:
        standard, learned = finished.values()
        closed = learned.marginal_kl < standard.marginal_kl
        text += (f"<p>The learned prior's marginal KL is {learned.marginal_kl:.2f} nats against N(0, I)'s "
                 f"{standard.marginal_kl:.2f}: "
                 + ("the VampPrior took the shape of q(z) and left fewer holes." if closed else
                    "on these sprites the VampPrior did not bring p(z) closer to q(z) than N(0, I).")
                 + f" (I(X; Z) is capped at log N = {learned.log_n:.2f} nats for N held-out points.)</p>")
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
                 f"{experiment.model.latent_dim} dimensions active, against {last[0].rate:.1f} nats and "
                 f"{last[0].active_units} at β = {last[0].beta:g}; distortion rose from {last[0].distortion:.1f} to "
                 f"{top.distortion:.1f} nats.</p>")
    elif experiment.key == "free-bits":
        text += "<p>Active units (Cov<sub>x</sub> E[z<sub>j</sub>] > 0.01): " + ", ".join(
            f"λ = {r.free_bits:g}: {r.active_units} of {experiment.model.latent_dim}" for r in last) + ".</p>"
    elif experiment.key == "gap":
        text += "<p>The ELBO gap panel estimates it again for the explored run, on the held-out images.</p>"
    elif experiment.key == "bottleneck":
        text += _bottleneck_text(last)
    elif experiment.key == "tcvae":
        text += _tcvae_text(last)
    elif experiment.key == "inference":
        text += _inference_text(experiment, rows_by_stage)
    elif experiment.key == "holes":
        text += _holes_text(experiment, rows_by_stage)
    elif experiment.key == "layers":
        text += "<p>" + "; ".join(
            f"{r.beta_schedule}: top layer {r.rate_top_layer:.2f} nats, bottom {r.rate_bottom_layer:.2f}, "
            f"{r.active_units} of {experiment.model.latent_dim} units active" for r in last) + ".</p>"
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
