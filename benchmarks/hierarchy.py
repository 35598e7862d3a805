"""Quality of a 2-layer hierarchical VAE against a 1-layer VAE of the same parameter count, on binarized MNIST.

    python benchmarks/hierarchy.py [--epochs 10] [--iwae-samples 5000] [--test-examples 10000]
                                   [--hidden 200,200] [--layer-sizes 64,32] [--flat-latent-dim 50]
                                   [--norm batch] [--ladder plain] [--data-dir ../shared/datasets/mnist-full] [--json]

Both are trained with the same engine, data, epochs, optimiser, seed and β warm-up on dynamically binarized MNIST
(the full set in ../shared: 60,000 to train, each batch a fresh Bernoulli draw; the 10,000 test images scored as
one fixed draw; a folder with only t10k gives its 9,000 / 1,000 split). The defaults follow Burda et al. (2016)
and Sønderby et al. (2016): two deterministic layers of 200 between x and the bottom stochastic layer, a
hierarchy of 64 + 32 latents (--layer-sizes) against a flat VAE of 50 (--flat-latent-dim), batch normalisation of
every hidden layer in both (--norm, which Sønderby et al. found crucial), the plain ladder (--ladder; residual
adds residual cells and a skip to the decoder) and per-layer free bits (--free-bits) if asked. The flat VAE gets
the hidden width (the same number of layers) that brings its parameter count nearest the hierarchy's. Epochs
alternate between the two so machine noise hits both alike. Reported: test IWAE log p(x) with K samples over the
joint z on the first --test-examples images (nats per example, ± SE), the ELBO, each layer's rate KL(q(z_l | ·)
‖ p(z_l | z_{l+1})), active units and information I(X; Z_l | Z_{>l}) for the hierarchy, and the difference
hierarchy − flat on the same images with its paired SE (the goal: ≥ 0.5 nats).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.priors import SHARED_MNIST_FULL, evaluate, train_alternating  # noqa: E402
from benchmarks.report import add_mnist_args, emit  # noqa: E402
from trainer.analysis.metrics import standard_error  # noqa: E402
from trainer.config import LADDERS, NORMS, DatasetSpec, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.model.hierarchy import build_model  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402



def parameters(config) -> int:
    return sum(p.numel() for p in build_model(config).parameters())


def matched_flat(data, hierarchy, latent_dim: int):
    """The 1-layer config, as many hidden layers as the hierarchy's, whose width gives the parameter count nearest
    the hierarchy's."""
    target = parameters(hierarchy)
    best = None
    for width in range(16, 4096, 2):
        cfg = model_config_for(data, hidden=(width,) * len(hierarchy.hidden), latent_dim=latent_dim,
                               norm=hierarchy.norm)
        gap = abs(parameters(cfg) - target)
        if best is None or gap < best[0]:
            best = (gap, cfg)
        elif parameters(cfg) > target:
            break
    return best[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--iwae-samples", type=int, default=5000)
    ap.add_argument("--test-examples", type=int, default=10_000, help="test images the IWAE log p(x) averages")
    ap.add_argument("--hidden", default="200,200", help="the hierarchy's hidden widths between x and z_1")
    ap.add_argument("--layer-sizes", default="64,32", help="the hierarchy's latent dimensions, bottom first")
    ap.add_argument("--flat-latent-dim", type=int, default=50, help="the flat VAE's latent dimensions")
    ap.add_argument("--warmup", type=int, default=2000, help="steps of β warm-up, for both models")
    ap.add_argument("--free-bits", type=float, default=0.0, help="the hierarchy's free bits per dimension, each layer")
    ap.add_argument("--norm", default="batch", choices=NORMS, help="both models' hidden layers")
    ap.add_argument("--ladder", default="plain", choices=LADDERS)
    add_mnist_args(ap)
    ap.set_defaults(data_dir=str(SHARED_MNIST_FULL))
    args = ap.parse_args()

    data = load_dataset(DatasetSpec(name="mnist", data_dir=args.data_dir, limit=args.limit))
    sizes = tuple(int(v) for v in args.layer_sizes.split(","))
    hier_cfg = model_config_for(data, hidden=tuple(int(v) for v in args.hidden.split(",")), latent_dim=sum(sizes),
                                layers=len(sizes), layer_sizes=sizes, ladder=args.ladder, norm=args.norm)
    flat_cfg = matched_flat(data, hier_cfg, args.flat_latent_dim)
    train = TrainConfig(epochs=args.epochs, batch_size=100, lr=1e-3, seed=args.seed, device="cpu",
                        binarize="dynamic", beta_schedule=f"warmup:{args.warmup}", report_every=1000)
    layered = dataclasses.replace(train, layer_free_bits=(args.free_bits,) * 2) if args.free_bits else train
    trainers = {"flat": Trainer(flat_cfg, train, data), "hierarchy": Trainer(hier_cfg, layered, data)}
    seconds = train_alternating(trainers, args.epochs)

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    result = {"machine": machine, "epochs": args.epochs, "iwae_samples": args.iwae_samples,
              "train_examples": len(data.x_train), "test_examples": min(args.test_examples, len(data.x_test)),
              "ladder": args.ladder, "norm": args.norm, "free_bits": args.free_bits, "warmup_steps": args.warmup}
    per_example = {}
    for name, trainer in trainers.items():
        figures = evaluate(trainer, args.iwae_samples, args.test_examples)
        per_example[name] = figures.pop("per_example")
        evaluated = trainer.evaluate_test(rate_split_points=min(len(data.x_test), 2000))
        cfg = trainer.model_config
        result[name] = {
            "parameters": parameters(cfg), "hidden": list(cfg.hidden), "layer_dims": list(cfg.layer_dims),
            "iwae_log_px": figures["log_px"], "iwae_log_px_se": figures["log_px_se"], "elbo": figures["elbo"],
            "rate": figures["rate"], "distortion": figures["distortion"], "active_units": figures["active_units"],
            "train_s": round(seconds[name], 1),
            "mutual_information": round(evaluated["rate_split"]["mutual_information"], 3),
        }
        if cfg.layers > 1:
            result[name]["kl_per_layer"] = [round(v, 3) for v in evaluated["kl_per_layer"]]
            result[name]["active_units_per_layer"] = [
                int(sum(v > 0.01 for v in variance)) for variance in _mu_variance_per_layer(trainer)]
            result[name]["information_per_layer"] = [round(layer["mutual_information"], 3)
                                                     for layer in evaluated["rate_split"]["layers"]]
    gain = per_example["hierarchy"] - per_example["flat"]
    result["iwae_gain_nats"] = round(float(gain.mean()), 3)
    result["iwae_gain_se"] = round(standard_error(gain) or 0.0, 3)
    result["goal_met"] = result["iwae_gain_nats"] >= 0.5
    emit(result, args.json)


def _mu_variance_per_layer(trainer):
    """Var_x of each dimension's posterior mean (the Burda et al. activity statistic), split by layer."""
    from trainer.analysis.metrics import encode_dataset

    mu, _ = encode_dataset(trainer.model, trainer.x_test, None, trainer.device)
    variance = mu.var(0)
    return [variance[s] for s in trainer.model_config.layer_slices()]


if __name__ == "__main__":
    main()
