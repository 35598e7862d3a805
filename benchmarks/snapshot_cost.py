"""What keeping a timeline costs: training throughput with snapshots (the default budget) against none, and what a
checkpoint then weighs and takes to save.

    python benchmarks/snapshot_cost.py [--epochs 10] [--data-dir ../shared/datasets/mnist] [--json]

Two Trainers of the same run (784-400-20 MLP, Bernoulli, Adam 1e-3, batch 128, one seed) train on the MNIST t10k
split, one with TrainConfig.snapshots = 64 (the default) and one with 0; their epochs alternate so machine noise
hits both alike. Throughput counts the training seconds each Trainer books (the snapshot copies are made inside
them, between steps). The goal: the snapshots cost at most 3% of throughput. The first epoch, where the ladder is
densest, is reported on its own too. Then each side's checkpoint is captured and saved three times (alternating)
and its size is read back.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import SHARED_MNIST, emit, machine  # noqa: E402
from trainer.checkpoints.hdf5 import save_checkpoint  # noqa: E402
from trainer.config import DatasetSpec  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.training.opening import open_trainer  # noqa: E402

GOAL_COST = 0.03


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--limit", type=int, default=0, help="training examples (0 = all 9,000)")
    ap.add_argument("--data-dir", default=str(SHARED_MNIST))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    dataset = load_dataset(DatasetSpec(name="mnist", data_dir=args.data_dir, seed=args.seed, limit=args.limit))
    settings = dict(hidden=(400,), latent_dim=20, likelihood="bernoulli", batch_size=128, lr=1e-3, seed=args.seed,
                    device="cpu", epochs=args.epochs)
    sides = {"snapshots": open_trainer(dataset, **settings), "none": open_trainer(dataset, snapshots=0, **settings)}
    seconds = {name: [] for name in sides}
    for _ in range(args.epochs):
        for name, trainer in sides.items():  # alternate: one epoch each
            before = trainer.elapsed_s
            for _report in trainer.run(max_steps=trainer.steps_per_epoch):
                pass
            seconds[name].append(trainer.elapsed_s - before)
    n = len(dataset.x_train)
    rate = {name: n * len(s) / sum(s) for name, s in seconds.items()}
    first = {name: n / s[0] for name, s in seconds.items()}

    save_s = {name: [] for name in sides}
    size = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(3):
            for name, trainer in sides.items():
                path = Path(folder) / f"{name}.h5"
                t0 = time.perf_counter()
                save_checkpoint(path, trainer.checkpoint())
                save_s[name].append(time.perf_counter() - t0)
                size[name] = path.stat().st_size
    kept = sides["snapshots"].checkpoint().timeline
    cost = 1 - rate["snapshots"] / rate["none"]
    result = {
        "benchmark": "snapshot_cost",
        "machine": machine(),
        "data": f"MNIST t10k split, {n:,} train",
        "epochs": args.epochs,
        "snapshots_kept": len(kept),
        "snapshot_steps": [int(s) for s in kept.steps],
        "samples_per_s_with_snapshots": round(rate["snapshots"], 1),
        "samples_per_s_without": round(rate["none"], 1),
        "throughput_cost": round(cost, 4),
        "first_epoch_cost": round(1 - first["snapshots"] / first["none"], 4),
        "goal_cost": GOAL_COST,
        "checkpoint_mb_with_snapshots": round(size["snapshots"] / 1e6, 2),
        "checkpoint_mb_without": round(size["none"] / 1e6, 2),
        "save_s_with_snapshots": round(min(save_s["snapshots"]), 3),
        "save_s_without": round(min(save_s["none"]), 3),
        "met": cost <= GOAL_COST,
    }
    emit(result, args.json, skip=("snapshot_steps",))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
