"""How every benchmark answers: one JSON object on the last line of stdout (--json), or the same keys as a table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
"""The published MNIST t10k pair beside the repository (never copied into it)."""


def add_mnist_args(ap: argparse.ArgumentParser) -> None:
    """--limit, --data-dir, --seed and --json: the options of a benchmark that trains on the MNIST t10k split."""
    ap.add_argument("--limit", type=int, default=0, help="training examples (0 = all 9,000)")
    ap.add_argument("--data-dir", default=str(SHARED_MNIST))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")


def machine() -> str:
    """This machine in a few words, e.g. "AMD EPYC 7B13, 2 cores", for a benchmark's figures to name."""
    import os
    import platform

    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0] if names else platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def emit(result: dict, as_json: bool, skip: tuple[str, ...] = ()) -> None:
    """Print `result`: one JSON line, or one `key: value` line per entry (`skip`: keys too long for a table)."""
    if as_json:
        print(json.dumps(result))
        return
    width = max(len(k) for k in result) + 2
    for key, value in result.items():
        if key not in skip:
            print(f"{key:>{width}}: {value}")
