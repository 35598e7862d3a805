"""The ELBO gap of VAEs on binarized MNIST split into its approximation and amortization parts (Cremer et al. 2018).

    python benchmarks/inference_gaps.py [--epochs 50] [--examples 200] [--data-dir ../shared/datasets/mnist] [--json]

Two VAEs share a 784-400-20 decoder and differ in their encoder: a small one (64 units) and a large one (1,024).
Both train with the same engine, data, optimiser and seed on dynamically binarized MNIST (the t10k files in
../shared: 9,000 to train, 1,000 held out, scored as one fixed binarized sample), their epochs alternating so
machine noise hits both alike. After 1, 5 and the last epoch each model's gap is split on the first `--examples`
held-out examples by trainer.analysis.inference_gaps: classical VI from the encoder's guess (at most
`--svi-steps` Adam steps), log p(x) by IWAE with K samples of both proposals, the tighter kept. Reported per
model and epoch, nats per example: ELBO of the encoder's q and of q*, log p(x), the two gaps with their standard
errors, and the time per example of amortized inference (one encoder pass) against classical VI.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import add_mnist_args, emit  # noqa: E402
from trainer.analysis.inference_gaps import inference_gaps  # noqa: E402
from trainer.analysis.svi_settings import SviSettings  # noqa: E402
from trainer.config import DatasetSpec, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.model.likelihood import heldout_for_likelihood  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402

KEYS = ("elbo_encoder", "elbo_optimized", "log_px", "amortization_gap", "approximation_gap")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--examples", type=int, default=200, help="held-out examples the gaps are split on")
    ap.add_argument("--svi-steps", type=int, default=500, help="at most this many classical-VI steps per example")
    ap.add_argument("--iwae-samples", type=int, default=1000)
    ap.add_argument("--encoders", default="64,1024", help="the small and the large encoder's width")
    add_mnist_args(ap)
    args = ap.parse_args()

    data = load_dataset(DatasetSpec(name="mnist", data_dir=args.data_dir, limit=args.limit))
    train = TrainConfig(epochs=args.epochs, batch_size=100, lr=1e-3, seed=args.seed, device="cpu",
                        binarize="dynamic", report_every=1000)
    widths = [int(w) for w in args.encoders.split(",")]
    trainers = {f"encoder_{w}": Trainer(model_config_for(data, hidden=(400,), encoder_hidden=(w,), latent_dim=20),
                                        train, data) for w in widths}
    x = heldout_for_likelihood(data, train)[: args.examples]
    settings = SviSettings(max_steps=args.svi_steps)
    measured_at = sorted({e for e in (1, 5, args.epochs) if e <= args.epochs})
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
              "epochs": args.epochs, "examples": len(x), "iwae_samples": args.iwae_samples,
              "svi_max_steps": args.svi_steps, "train_examples": len(data.x_train)}
    for name in trainers:
        result[name] = {}
    for epoch in range(1, args.epochs + 1):  # alternate: one epoch of each in turn
        for name, trainer in trainers.items():
            for _ in trainer.run(max_steps=epoch * trainer.steps_per_epoch):
                pass
            if epoch in measured_at:
                start = time.perf_counter()
                s = inference_gaps(trainer.model, x, None, trainer.device, settings, k=args.iwae_samples,
                                   seed=args.seed + 12345).summary()
                row = {key: round(s[key], 3) for key in KEYS}
                row.update({f"{key}_se": round(s[f"{key}_se"], 3) for key in ("amortization_gap", "approximation_gap")})
                row.update(svi_steps=round(s["svi_steps"], 1), log_px_proposal=s["log_px_proposal"],
                           amortized_ms=round(1e3 * s["seconds_per_example_amortized"], 4),
                           classical_ms=round(1e3 * s["seconds_per_example_classical"], 1),
                           split_s=round(time.perf_counter() - start, 1))
                result[name][f"epoch_{epoch}"] = row
    emit(result, args.json)


if __name__ == "__main__":
    main()
