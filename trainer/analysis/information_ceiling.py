"""When the estimate of I(X; Z) at N points is short of the truth, and how to say so; torch-free, so the window
can phrase it for a checkpoint's history without loading torch.

    near_ceiling(info, info_se, info_at_half_n, log_n)   # True: short, and TC and the marginal KL absorb the rest
    ceiling_note(split)                                  # one sentence, or '' (a rate split dict)

The estimate sums q(z) over the N posteriors it has: exact for those N points, never above log N, and biased low
against the population's I well before that ceiling (at N = 2,000, a true 6.83 nats reads about 6.1-6.3).
Two signs that it is short: I within CEILING_MARGIN nats of log N, or I still climbing from N/2 to N by more
than its standard error.
"""

from __future__ import annotations

import math

CEILING_MARGIN = 2.0
"""Nats below log N from which the estimate of I is treated as near its ceiling (and likely short)."""


def _finite(value) -> bool:
    return value is not None and math.isfinite(float(value))


def near_ceiling(info: float, info_se: float | None, info_at_half_n: float | None, log_n: float) -> bool:
    """I is within CEILING_MARGIN nats of log N, or climbs from N/2 to N by more than its standard error."""
    climbing = _finite(info_se) and _finite(info_at_half_n) and info - info_at_half_n > info_se
    return bool(info > log_n - CEILING_MARGIN or climbing)


def ceiling_note(split: dict) -> str:
    """One sentence on why I(X; Z) at N may be short, for a rate split dict (RateSplit.to_dict or eval's), or ''
    when it is not near its ceiling."""
    info, log_n = split.get("mutual_information"), split.get("log_n")
    if not (_finite(info) and _finite(log_n)):
        return ""
    half, se = split.get("mutual_information_at_half_n"), split.get("mutual_information_se")
    if not split.get("near_ceiling", near_ceiling(info, se, half, log_n)):
        return ""
    n = split.get("n")
    at_n = f"N = {int(n):,}" if _finite(n) else "N"
    why = (f"I = {info:.2f} nats is within {CEILING_MARGIN:g} of its ceiling log N = {log_n:.2f}"
           if info > log_n - CEILING_MARGIN else f"I climbs from {half:.2f} at N/2 to {info:.2f} at {at_n}")
    return (f"{why}: the estimate is short of the true I(X; Z), and the total correlation and dimension-wise KL "
            f"absorb what it misses; more points (--rate-split-points) read more")
