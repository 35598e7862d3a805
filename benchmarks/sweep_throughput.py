"""Sweep throughput: training samples per second of 8 runs trained as one batched ensemble, against one run.

    python benchmarks/sweep_throughput.py [--runs 8] [--steps 300] [--rounds 3]
        [--data-dir ../shared/datasets/mnist] [--json]

The reference config of issue 13: the MNIST MLP 784-400-20, Bernoulli likelihood, Adam 1e-3, batch 128, on the
MNIST test set from ../shared (9,000 train / 1,000 test; 28x28 sprites when it is absent). One Trainer (what
`vae-explorer train` runs) and one Ensemble of `--runs` Trainers at different β (what `vae-explorer sweep`
runs) take turns, `--steps` steps each per round, in one process, so machine noise hits both alike.
samples/s counts every run's examples; the goal is ensemble >= 2.67 x single (8 runs in at most 3x the time of
one). Prints one JSON object (--json) or a short table.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.report import emit  # noqa: E402
from trainer.config import DatasetSpec, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.training.ensemble import Ensemble  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402

SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "mnist"
GOAL = 8 / 3


def dataset_for(data_dir: Path):
    if (data_dir / "t10k-images-idx3-ubyte.gz").exists():
        return load_dataset(DatasetSpec(name="mnist", data_dir=str(data_dir)))
    return load_dataset(DatasetSpec(name="sprites", n=10_000, image_size=28))


def timed(run, steps: int) -> float:
    """Seconds for `steps` steps of run(max_steps=...), the reports consumed as the CLI consumes them."""
    t0 = time.perf_counter()
    for _ in run(max_steps=steps):
        pass
    return time.perf_counter() - t0


def gemm_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """This machine's fp32 matrix-product rate on large square matrices: what the arithmetic can reach at best."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0) / 1e9


def training_flops_per_sample(model) -> float:
    """About 6 FLOPs per weight of each Linear per example: a multiply-add forward, two backward."""
    return 6.0 * sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data-dir", default=str(SHARED_MNIST))
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    dataset = dataset_for(Path(args.data_dir))
    model_cfg = model_config_for(dataset, hidden=(400,), latent_dim=20)
    base = TrainConfig(epochs=10_000, batch_size=128, lr=1e-3, device="cpu")
    single = Trainer(model_cfg, base, dataset)
    betas = [0.1 * 2 ** k for k in range(args.runs)]
    ensemble = Ensemble([Trainer(model_cfg, dataclasses.replace(base, beta=b), dataset) for b in betas])
    bs = base.batch_size
    timed(single.run, 20)  # warm-up: first-touch allocations, Adam's state
    timed(ensemble.run, 20)
    one, many = [], []
    for _ in range(args.rounds):
        one.append(args.steps * bs / timed(single.run, args.steps))
        many.append(args.steps * bs * args.runs / timed(ensemble.run, args.steps))
    ratios = [m / o for m, o in zip(many, one)]
    flops = training_flops_per_sample(single.model)
    peak = gemm_peak_gflops()
    result = {
        "benchmark": "sweep_throughput",
        "data": dataset.describe(),
        "model": "mlp 784-400-20 bernoulli, batch 128, Adam 1e-3",
        "runs": args.runs,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "single_samples_per_s": [round(v, 1) for v in one],
        "ensemble_samples_per_s": [round(v, 1) for v in many],
        "ratio_per_round": [round(r, 3) for r in ratios],
        "ratio_median": round(statistics.median(ratios), 3),
        "time_for_runs_vs_one": round(args.runs / statistics.median(ratios), 2),
        "goal_ratio": round(GOAL, 3),
        # the arithmetic: what one run already uses of this machine's matrix-product peak bounds what
        # batching the runs can add (Adam and the element-wise work come on top)
        "gemm_peak_gflops": round(peak, 1),
        "single_gflops": round(statistics.median(one) * flops / 1e9, 1),
        "ensemble_gflops": round(statistics.median(many) * flops / 1e9, 1),
        "ratio_ceiling_at_gemm_peak": round(peak / (statistics.median(one) * flops / 1e9), 2),
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
