"""A sweep's tables: summary.csv, one row per run, and summary_over_seeds.csv, one row per setting.

    write_summary(folder / "summary.csv", rows)              # SummaryRow per run, held-out figures with their _se
    earlier = read_summary(folder / "summary.csv")          # {run name: SummaryRow}: what a re-run may keep
    write_over_seeds(folder / "summary_over_seeds.csv", rows)   # each setting's runs over their seeds

A run's `_se` columns are Monte Carlo errors over its held-out examples (or the metric's test points). Across
seeds, a figure also varies with the training itself: summary_over_seeds.csv gives, for each setting (every axis
but the seed) with finished runs, the mean over its seeds and the standard error of that mean (`_se_seeds`,
the spread over seeds / sqrt of their count; empty for one seed), so a comparison of two β says whether their
difference is more than the seeds' spread.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from dataclasses import dataclass
from pathlib import Path

from trainer.atomic import atomic_write

SETTING_AXES = ("beta", "free_bits", "beta_schedule", "objective", "iwae_k")
"""What makes a setting: every axis a sweep varies but the seed."""
OVER_SEEDS_NAME = "summary_over_seeds.csv"


@dataclass
class SummaryRow:
    """One run's line of summary.csv; numbers are the held-out split's, in nats per example."""

    run: str
    beta: float
    seed: int
    free_bits: float
    beta_schedule: str
    status: str
    """done | unfinished (stopped before its last epoch; a re-run resumes it) | failed."""
    objective: str = "elbo"
    """elbo (β-VAE), tcvae (β-TCVAE: β weighs the total correlation) or iwae."""
    iwae_k: int = 1
    """iwae: the importance samples per example it trained with (1 for the other objectives)."""
    steps: int = 0
    epochs: int = 0
    rate: float = math.nan
    distortion: float = math.nan
    elbo: float = math.nan
    active_units: int = 0
    mig: float = math.nan
    """Mutual Information Gap, on data with ground-truth factors (sprites); empty otherwise."""
    elbo_se: float = math.nan
    """Standard error of elbo over the held-out examples (every `_se` column: the spread over the examples of
    the Monte Carlo figure beside it / sqrt N)."""
    iwae_log_px: float = math.nan
    iwae_log_px_se: float = math.nan
    iwae_samples: int = 0
    mutual_information: float = math.nan
    """I_q(X; Z) of the held-out posteriors (a CVAE: I(X; Z | Y)): the part of the rate that is information about
    x; the rest is marginal_kl = total_correlation + dimwise_kl (trainer.analysis.rate_split)."""
    mutual_information_se: float = math.nan
    mutual_information_at_half_n: float = math.nan
    """I on every other point (N/2): below mutual_information by more than its SE, I still climbs with N."""
    near_ceiling: bool | None = None
    """I is within 2 nats of log N or still climbing: it is short of the true I(X; Z), and total_correlation and
    dimwise_kl absorb what it misses."""
    marginal_kl: float = math.nan
    marginal_kl_se: float = math.nan
    total_correlation: float = math.nan
    total_correlation_se: float = math.nan
    dimwise_kl: float = math.nan
    dimwise_kl_se: float = math.nan
    log_n: float = math.nan
    """log N of the examples the split summed over: the ceiling of mutual_information."""
    rate_split_n: int = 0
    """N, the held-out examples the rate split summed over (the epoch reports' and eval's N)."""
    rate_bottom_layer: float = math.nan
    """A hierarchical VAE: held-out KL of its bottom layer, KL(q(z_1 | ·) ‖ p(z_1 | z_2)), nats."""
    rate_top_layer: float = math.nan
    """A hierarchical VAE: held-out KL of its top layer, KL(q(z_L | x) ‖ N(0, I)), nats."""
    dci_disentanglement: float = math.nan
    """DCI, SAP, FactorVAE (trainer.analysis.disentanglement), when the sweep asked for them."""
    dci_completeness: float = math.nan
    dci_informativeness: float = math.nan
    dci_informativeness_se: float = math.nan
    sap: float = math.nan
    sap_se: float = math.nan
    sap_protocol: str = ""
    """Which SAP: "discrete (disentanglement_lib)", the published protocol, unless asked otherwise."""
    factorvae_score: float = math.nan
    factorvae_score_se: float = math.nan
    factorvae_active_dims: int = 0
    disentanglement_points: int = 0
    amortization_gap: float = math.nan
    """ELBO(q*) − ELBO(q_φ) of the first gap_examples held-out examples, q* found by classical VI
    (trainer.analysis.inference_gaps), when the sweep asked for it."""
    approximation_gap: float = math.nan
    """log p(x) − ELBO(q*) of the same examples."""
    amortization_gap_se: float = math.nan
    approximation_gap_se: float = math.nan
    log_px_estimator: str = ""
    """Which estimator gave the log p(x) the approximation gap is measured from."""
    gap_examples: int = 0
    amortized_ms: float = math.nan
    """Time per example of the encoder's one forward pass (amortized inference), ms."""
    classical_ms: float = math.nan
    """Time per example of classical VI's optimization, ms."""
    checkpoint: str = ""
    message: str = ""

    def as_dict(self) -> dict:
        """JSON-safe: NaN (not measured) becomes None."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in dataclasses.asdict(self).items()}


SUMMARY_FIELDS = [f.name for f in dataclasses.fields(SummaryRow)]
_INT_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SummaryRow) if f.type == "int"}


def write_summary(path: Path, rows: list[SummaryRow]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.as_dict().items()})
    with atomic_write(path) as tmp:
        tmp.write_text(text.getvalue())


def read_summary(path: Path) -> dict[str, SummaryRow]:
    """The rows of an earlier summary.csv by run name; {} when there is none or it cannot be read."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    types = {f.name: f.type for f in dataclasses.fields(SummaryRow)}
    out = {}
    for raw in rows:
        try:
            values = {}
            for k, kind in types.items():
                text = raw.get(k) or ""
                if kind == "float":
                    values[k] = float(text) if text else math.nan
                elif kind == "int":  # a column an older summary lacks: the field's default
                    values[k] = int(text) if text else _INT_DEFAULTS[k]
                elif kind.startswith("bool"):
                    values[k] = {"True": True, "False": False}[text] if text else None
                else:
                    values[k] = text
            out[values["run"]] = SummaryRow(**values)
        except (TypeError, ValueError):
            continue  # a hand-edited line: that run is evaluated again
    return out




def over_seeds(rows: list[SummaryRow]) -> list[dict]:
    """One dict per setting with finished runs: the axes, `seeds` (how many), and for each measured number its
    mean over the seeds and `<name>_se_seeds` (None for one seed). Per-run errors (`_se`) are not averaged."""
    groups: dict[tuple, list[SummaryRow]] = {}
    for row in rows:
        if row.status == "done":
            groups.setdefault(tuple(getattr(row, a) for a in SETTING_AXES), []).append(row)
    measured = [f.name for f in dataclasses.fields(SummaryRow)
                if f.type in ("float", "int") and f.name not in (*SETTING_AXES, "seed", "steps", "epochs",
                                                                  "iwae_samples", "gap_examples", "rate_split_n",
                                                                  "disentanglement_points")
                and not f.name.endswith("_se")]
    out = []
    for key, members in groups.items():
        entry = {**dict(zip(SETTING_AXES, key)), "seeds": len(members)}
        for name in measured:
            values = [float(getattr(r, name)) for r in members if math.isfinite(float(getattr(r, name)))]
            if not values:
                continue
            mean = sum(values) / len(values)
            entry[name] = mean
            entry[f"{name}_se_seeds"] = (math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)
                                                   / len(values)) if len(values) > 1 else None)
        out.append(entry)
    return out


def write_over_seeds(path: Path, rows: list[SummaryRow]) -> None:
    """summary_over_seeds.csv (over_seeds), atomically; empty cells where a figure was not measured."""
    table = over_seeds(rows)
    names: list[str] = []
    for entry in table:
        names.extend(k for k in entry if k not in names)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=names or [*SETTING_AXES, "seeds"], lineterminator="\n")
    writer.writeheader()
    for entry in table:
        writer.writerow({k: ("" if v is None else v) for k, v in entry.items()})
    with atomic_write(path) as tmp:
        Path(tmp).write_text(text.getvalue(), encoding="utf-8")
