"""Sweep wall time: an 8-β sweep of one epoch against one run of it, as `vae-explorer` runs them, alternately.

    python benchmarks/sweep_wall.py [--runs 8] [--rounds 3] [--epochs 1] [--data-dir ../shared/datasets/mnist] [--json]

The model of issue 34: the MNIST MLP 784-400-20 (Bernoulli, batch 128, Adam 1e-3) on the MNIST test set from
../shared (9,000 training / 1,000 held-out images; 28x28 sprites when it is absent). Each round runs
`vae-explorer train --json` and `vae-explorer sweep --json` (β = 0.1 · 2^k, k < --runs) in this process, one after
the other, and reads the `wall_s` each reports (from the data loaded to the last checkpoint written, each epoch's
evaluation and the sweep's summary included). The goal: the sweep's wall time at most 3x the single run's
(`sweep_vs_single` <= 3). Both also report samples_per_s over that same work.

It also prints the floor the machine sets: the runs' matrix products alone (forward, and backward to the
weights and the hidden layers), at the best fp32 rate this machine reaches on a matrix product
(`matmul_gflops`, the best of a 2048-square product and the model's largest layer at batch 1,024), take
`matmul_floor_s`; `floor_vs_single` is that over the single run's wall time. No batching of the runs can take
the sweep below it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.report import SHARED_MNIST, emit  # noqa: E402
from trainer.cli import main as cli  # noqa: E402

GOAL = 3.0
HIDDEN, LATENT, PIXELS = 400, 20, 784
MODEL = ["--hidden", str(HIDDEN), "--latent-dim", str(LATENT), "--batch-size", "128", "--lr", "1e-3",
         "--device", "cpu"]
LAYERS = [(PIXELS, HIDDEN), (HIDDEN, LATENT), (HIDDEN, LATENT), (LATENT, HIDDEN), (HIDDEN, PIXELS)]
"""The MLP's Linear layers (in, out): encoder to μ and log σ², decoder to the pixels' logits."""


def matmul_flops_per_sample() -> int:
    """Multiply-adds x 2 of one training example: forward, the weights' gradients, and the inputs' gradients
    of every layer but the first (the data needs none)."""
    forward = sum(2 * i * o for i, o in LAYERS)
    return 3 * forward - 2 * LAYERS[0][0] * LAYERS[0][1]


def matmul_gflops(repeats: int = 20) -> float:
    """The best fp32 matrix-product rate measured here: a 2048-square product, and the largest layer at batch
    1,024."""
    import torch

    best = 0.0
    for (m, k), n in (((2048, 2048), 2048), ((1024, PIXELS), HIDDEN)):
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * m * k * n * repeats / (time.perf_counter() - t) / 1e9)
    return best


def data_args(data_dir: Path) -> list[str]:
    if (data_dir / "t10k-images-idx3-ubyte.gz").exists():
        return ["--dataset", "mnist", "--data-dir", str(data_dir)]
    return ["--dataset", "sprites", "--image-size", "28"]


def json_of(argv: list[str]) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = cli(argv)
    if code != 0:
        raise RuntimeError(f"vae-explorer {' '.join(argv)} exited {code}")
    return json.loads(out.getvalue().strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--data-dir", default=str(SHARED_MNIST))
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    data = [*data_args(Path(args.data_dir)), *MODEL, "--epochs", str(args.epochs)]
    betas = ",".join(f"{0.1 * 2 ** k:g}" for k in range(args.runs))
    scratch = Path(tempfile.mkdtemp(prefix="vae-explorer-sweep-wall-"))
    json_of(["train", *data, "--out", str(scratch / "warm.h5"), "--json"])  # imports, first-touch allocations
    single, sweep, single_rate, sweep_rate = [], [], [], []
    for r in range(args.rounds):
        one = json_of(["train", *data, "--out", str(scratch / f"one-{r}.h5"), "--json"])
        folder = scratch / f"sweep-{r}"
        folder.mkdir()
        many = json_of(["sweep", *data, "--beta", betas, "--out", str(folder), "--json"])
        single.append(one["wall_s"])
        sweep.append(many["wall_s"])
        single_rate.append(one["samples_per_s"])
        sweep_rate.append(many["samples_per_s"])
    ratios = [s / o for s, o in zip(sweep, single)]
    gflops = matmul_gflops()
    trained = many["trained_samples"]  # every round trains the same examples
    floor_s = trained * matmul_flops_per_sample() / (gflops * 1e9)
    result = {
        "benchmark": "sweep_wall",
        "data": " ".join(data_args(Path(args.data_dir))),
        "model": "mlp 784-400-20 bernoulli, batch 128, Adam 1e-3",
        "runs": args.runs,
        "epochs": args.epochs,
        "single_wall_s": [round(v, 3) for v in single],
        "sweep_wall_s": [round(v, 3) for v in sweep],
        "single_samples_per_s": [round(v, 1) for v in single_rate],
        "sweep_samples_per_s": [round(v, 1) for v in sweep_rate],
        "sweep_vs_single": round(statistics.median(ratios), 2),
        "sweep_vs_single_per_round": [round(v, 2) for v in ratios],
        "goal": GOAL,
        "matmul_gflops": round(gflops, 1),
        "matmul_floor_s": round(floor_s, 3),
        "floor_vs_single": round(floor_s / statistics.median(single), 2),
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
