"""What the training curves are: each plot's quantity, title and meaning, the columns a curve buffer keeps, and
the step-aware smoothing of the train curves (explorer.panels.curves draws them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REPORT_STEPS = 10
"""Steps per StepReport (TrainConfig.report_every): the unit the smoothing factor is quoted in."""
MAX_OVERLAY_POINTS = 800
"""Points per curve of another run drawn over the live one."""


# --- smoothing ------------------------------------------------------------------------------------
def ema(steps: np.ndarray, values: np.ndarray, smoothing: float, prev: tuple[float, float] | None = None) -> np.ndarray:
    """Step-aware exponential moving average of report values.

    A point that averages d steps decays the average by smoothing ** (d / REPORT_STEPS), so a short report at
    an epoch's end, or a decimated point standing for many reports, weighs what it covers. `prev` is the
    (step, value) the average stood at before these points; without it the first value seeds it.
    """
    out = np.empty(len(values))
    if not len(values):
        return out
    last_step, y = prev if prev is not None else (steps[0] - REPORT_STEPS, values[0])
    for i, (step, x) in enumerate(zip(steps.tolist(), values.tolist())):
        keep = smoothing ** (max(step - last_step, 0.0) / REPORT_STEPS)
        y = keep * y + (1.0 - keep) * x
        out[i] = y
        last_step = step
    return out


@dataclass(frozen=True)
class PlotSpec:
    key: str
    title: str
    color: str
    tooltip: str


PLOTS = (
    PlotSpec("distortion", "Distortion  −E log p(x|z)", "#1f77b4",
             "Distortion: the reconstruction negative log-likelihood −E_q log p(x|z), nats per example.\n"
             "Lower means the decoder recovers x better from z."),
    PlotSpec("rate", "Rate  KL(q(z|x) ‖ p(z))", "#d62728",
             "Rate: KL(q(z|x) ‖ p(z)), nats per example: how much information z carries about x.\n"
             "A rate near zero means the posterior has collapsed onto the prior."),
    PlotSpec("nelbo", "−ELBO = distortion + rate", "#2ca02c",
             "Negative ELBO, nats per example: an upper bound on −log p(x) when p(x|z) is a normalized\n"
             "likelihood of the data (−log p(x|y) for a CVAE). A Bernoulli decoder on grey levels gives a\n"
             "cross-entropy instead, which bounds nothing: binarize, or use continuous-bernoulli.\n"
             "The loss itself is distortion + β·rate; at β = 1 they coincide."),
    PlotSpec("beta", "β  (after the schedule)", "#7b4fa0",
             "β weighs the rate against the distortion in the loss D + β·R.\n"
             "Dashed lines mark the steps where a live β change took effect."),
)
COLUMNS = ("step", "distortion", "rate", "nelbo", "beta", "distortion_ema", "rate_ema", "nelbo_ema", "loss", "loss_ema")
COLUMN_INDEX = {name: i for i, name in enumerate(COLUMNS)}
SMOOTHED = ("distortion", "rate", "nelbo")
"""The plots whose train curve is smoothed."""
EMA_COLUMNS = (*SMOOTHED, "loss")
"""The columns kept with their moving average: the plots' and the loss (drawn when it is IWAE's bound)."""
BOUND_COLOR = "#e377c2"
BOUND_TOOLTIP = ("IWAE trains on the importance-weighted bound log (1/K) Σ_k p(x, z_k) / q(z_k|x) (Burda et al.\n"
                 "2016): the dashed line is its negative, the training loss. It lies below −ELBO (a tighter bound on\n"
                 "−log p(x)), and the gap between them grows with K: the encoder broadens, so its ELBO (the solid\n"
                 "line, and the held-out dots) may even get worse while the bound, and log p(x), improve.")


def overlay_values(history: dict, smoothing: float) -> dict[str, np.ndarray] | None:
    """Another run's curves as the live run's are drawn ("step" and each plot's smoothed values), from its history
    ("steps/step", "steps/recon", "steps/kl", "steps/beta"); None when it has no steps. Thinned to
    MAX_OVERLAY_POINTS before smoothing: the step-aware average weighs each kept point by the steps it stands for,
    and the cost stays bounded however long the run (a sweep's runs update several times a second)."""
    steps = np.asarray(history.get("steps/step", ()), dtype=float)
    if not len(steps):
        return None
    pick = slice(None, None, max(1, len(steps) // MAX_OVERLAY_POINTS))
    recon = np.asarray(history["steps/recon"], dtype=float)[pick]
    kl = np.asarray(history["steps/kl"], dtype=float)[pick]
    beta = np.asarray(history.get("steps/beta", np.full(len(steps), np.nan)), dtype=float)[pick]
    steps = steps[pick]
    return {"step": steps, "distortion": ema(steps, recon, smoothing), "rate": ema(steps, kl, smoothing),
            "nelbo": ema(steps, recon + kl, smoothing), "beta": beta}
