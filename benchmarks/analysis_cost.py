"""Analysis cost: what each analysis costs beside one training epoch of the same model, measured in one process.

    python benchmarks/analysis_cost.py [--rounds 3] [--split-n 10000] [--quick] [--data-dir DIR] [--json]

The model of issue 34: the MNIST MLP 784-400-20 (Bernoulli, batch 128, Adam 1e-3) on the MNIST test set from
../shared (9,000 training / 1,000 held-out images; 28x28 sprites when it is absent). Printed, in seconds, each
beside its ratio to one training epoch (`epoch_s`, the trainer's training seconds of one epoch):
  epoch_analyses_s        what closes each epoch in line (held-out ELBO, active units, the rate split on the
                          held-out set) — the training pause of the CLI and the sweeps
  beside_pause_s          what closing an epoch costs the training thread when its analyses run beside it
                          (the window): the copy of the weights
  epoch_wall_in_line_s / epoch_wall_beside_s
                          the wall time of an epoch and its analyses, in line and beside, alternated
  rate_split_10k_s        the rate split (I, marginal KL, TC, dimension-wise KL) of --split-n encoder posteriors
                          (the 10,000 MNIST digits), D = 20, one draw
and unless --quick, the long estimates the window and `eval` run with progress and Cancel:
  iwae_k5000_per_100_s    IWAE with K = 5,000 on 100 held-out images (eval --iwae-samples 5000: x100 for 10,000)
  gap_split_per_100_s     the ELBO gap split (classical VI, IWAE K = 1,000, AIS from q*) on 100 examples
  disentanglement_10k_s   MIG, DCI, SAP and FactorVAE of a sprite model on disentanglement_lib's points
  tsne_10k_s              t-SNE (the window's, openTSNE) of the 10,000 encoder means
Rounds alternate the sides of every ratio, so machine noise hits both alike; medians are reported.
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

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.report import SHARED_MNIST, emit  # noqa: E402
from trainer.config import DatasetSpec, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.training.epoch_analyses import weights_copy  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402
from trainer.training.reports import RATE_SPLIT_POINTS, EpochReport  # noqa: E402


def dataset_for(data_dir: Path, n: int = 10_000):
    if (data_dir / "t10k-images-idx3-ubyte.gz").exists():
        return load_dataset(DatasetSpec(name="mnist", data_dir=str(data_dir)))
    return load_dataset(DatasetSpec(name="sprites", n=n, image_size=28))


def seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def one_epoch(trainer: Trainer, beside: bool) -> tuple[float, float]:
    """(wall seconds, training seconds) of one epoch and its analyses, in line or beside training."""
    trainer.epoch_analyses.beside = beside
    trainer.set_epochs(trainer.epoch + 1)
    start_train = trainer.elapsed_s
    t0 = time.perf_counter()
    reports = [r for r in trainer.run() if isinstance(r, EpochReport)]
    wall = time.perf_counter() - t0
    assert len(reports) == 1, reports
    return wall, trainer.elapsed_s - start_train


def encoded(trainer: Trainer, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from trainer.analysis.metrics import encode_dataset

    return encode_dataset(trainer.model, x, None, trainer.device)  # in eval mode, then back


def long_estimates(trainer: Trainer, dataset, result: dict) -> None:
    from trainer.analysis.inference_gaps import inference_gaps
    from trainer.analysis.metrics import evaluate
    from trainer.analysis.projection import ProjectionParams, project

    model = trainer.model
    x100 = dataset.x_test[:100]
    result["iwae_k5000_per_100_s"] = round(seconds(lambda: evaluate(model, x100, None, trainer.device,
                                                                    iwae_samples=5000)), 2)
    result["gap_split_per_100_s"] = round(seconds(lambda: inference_gaps(model, x100, None, trainer.device)), 2)
    mu = np.concatenate([encoded(trainer, dataset.x_train)[0], encoded(trainer, dataset.x_test)[0]])[:10_000]
    result["tsne_points"] = len(mu)
    result["tsne_10k_s"] = round(seconds(lambda: project(mu, ProjectionParams(method="tsne"))), 2)

    from trainer.analysis.disentanglement import dataset_disentanglement

    sprites = load_dataset(DatasetSpec(name="sprites", n=20_000, image_size=28))
    sprite_trainer = Trainer(model_config_for(sprites, hidden=(400,), latent_dim=10),
                             TrainConfig(epochs=1, batch_size=128, lr=1e-3, device="cpu"), sprites)
    for _ in sprite_trainer.run():
        pass
    scores: dict = {}
    result["disentanglement_10k_s"] = round(seconds(lambda: scores.update(dataset_disentanglement(
        sprite_trainer.model.eval(), sprites, sprite_trainer.device, points=10_000))), 2)
    result["disentanglement_points"] = scores.get("disentanglement_points")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--split-n", type=int, default=10_000)
    p.add_argument("--quick", action="store_true", help="only the per-epoch analyses and the rate split")
    p.add_argument("--limit", type=int, default=0, help="training examples (0: all)")
    p.add_argument("--data-dir", default=str(SHARED_MNIST))
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    from trainer.analysis.rate_split import rate_split

    dataset = dataset_for(Path(args.data_dir))
    if args.limit:
        dataset = load_dataset(dataclasses.replace(dataset.spec, limit=args.limit))
    config = model_config_for(dataset, hidden=(400,), latent_dim=20)
    trainer = Trainer(config, TrainConfig(epochs=1, batch_size=128, lr=1e-3, device="cpu", seed=0), dataset)
    one_epoch(trainer, beside=False)  # warm-up: first-touch allocations, Adam's state, a model that has learned
    train_s, analyses_s, pause_s, wall_in_line, wall_beside = [], [], [], [], []
    for _ in range(args.rounds):
        wall, train = one_epoch(trainer, beside=False)
        wall_in_line.append(wall)
        train_s.append(train)
        analyses_s.append(seconds(lambda: trainer.evaluate_test(rate_split_points=RATE_SPLIT_POINTS)))
        pause_s.append(seconds(lambda: weights_copy(trainer.model)))
        wall_beside.append(one_epoch(trainer, beside=True)[0])
    epoch = statistics.median(train_s)
    x_all = np.concatenate([dataset.x_train, dataset.x_test])[:args.split_n]
    mu, logvar = encoded(trainer, x_all)
    split_s = [seconds(lambda: rate_split(mu, logvar, seed=0)) for _ in range(max(1, args.rounds - 1))]
    result = {
        "benchmark": "analysis_cost",
        "data": dataset.describe(),
        "model": "mlp 784-400-20 bernoulli, batch 128, Adam 1e-3",
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "epoch_s": round(epoch, 3),
        "epoch_analyses_s": round(statistics.median(analyses_s), 3),
        "epoch_analyses_vs_epoch": round(statistics.median(analyses_s) / epoch, 3),
        "rate_split_points": min(RATE_SPLIT_POINTS, len(dataset.x_test)),
        "beside_pause_s": round(statistics.median(pause_s), 4),
        "beside_pause_vs_epoch": round(statistics.median(pause_s) / epoch, 4),
        "epoch_wall_in_line_s": round(statistics.median(wall_in_line), 3),
        "epoch_wall_beside_s": round(statistics.median(wall_beside), 3),
        "rate_split_n": len(mu),
        "rate_split_d": mu.shape[1],
        "rate_split_10k_s": round(statistics.median(split_s), 2),
        "rate_split_10k_vs_epoch": round(statistics.median(split_s) / epoch, 2),
    }
    if not args.quick:
        long_estimates(trainer, dataset, result)
        for key in ("iwae_k5000_per_100_s", "gap_split_per_100_s", "tsne_10k_s", "disentanglement_10k_s"):
            result[key[:-2] + "_vs_epoch"] = round(result[key] / epoch, 1)
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
