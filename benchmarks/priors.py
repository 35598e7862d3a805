"""Test log p(x) of the VAE, IWAE (K = 5 and 50, trained), the VampPrior and a 2-layer hierarchy on full MNIST.

    python benchmarks/priors.py [--epochs 4] [--eval-k 5000] [--test-examples 10000]
                                [--models vae,iwae5,iwae50,hierarchy] [--data-dir ../shared/datasets/mnist-full]
                                [--device cpu] [--save DIR] [--json]

The protocol of Burda, Grosse & Salakhutdinov (2016): dynamically binarized MNIST (train on the 60,000, a fresh
Bernoulli draw per batch; score the 10,000 test images as one fixed draw), Adam, batch 100, one stochastic layer
of 50 dimensions behind two deterministic layers of 200 (ReLU here, tanh in the paper), and test log p(x) by IWAE
with K = 5,000 samples (± its standard error over the test images). Every model is trained with the same engine,
data, seed and epochs; the epochs alternate between the models, so machine noise hits them alike. The papers train
for 3,280 epochs (Burda et al.), so a CPU budget of a few epochs says whether the published ordering holds
early in training, not the papers' figures: each row names its epochs. `--epochs 3280 --device cuda` is the
papers' budget on a GPU.

Models (--models): vae (ELBO), iwae5 and iwae50 (IWAE bound, K = 5 and 50), vamp (the VampPrior with 500
pseudo-inputs, trained on the ELBO), vaebn (the VAE with batch-normalised hidden layers), hierarchy (the Ladder
VAE of trainer.model.hierarchy with 64 + 32 latents, the plain ladder and batch norm, trained on the ELBO, compared
with vaebn: batch norm alone lifts a VAE by several nats). Each row names the published figure it stands beside
(trainer/comparability/published.json: Burda et al. 2016, Table 1, checked against the paper's text, 3,280
epochs; the VampPrior's from a third party, marked unchecked).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import emit  # noqa: E402
from trainer.analysis.metrics import iwae_log_px, standard_error  # noqa: E402
from trainer.comparability.published import published_row  # noqa: E402
from trainer.config import DatasetSpec, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.model.hierarchy import build_model  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.pixels import to_float01  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402

SHARED_MNIST_FULL = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist-full"
MODELS = {
    # name: (what it is, model settings, train settings)
    "vae": ("VAE, ELBO", {}, {}),
    "iwae5": ("IWAE, K = 5", {}, {"objective": "iwae", "iwae_k": 5}),
    "iwae50": ("IWAE, K = 50", {}, {"objective": "iwae", "iwae_k": 50}),
    "vamp": ("VampPrior, 500 pseudo-inputs, ELBO", {"prior": "vamp", "pseudo_inputs": 500}, {}),
    "vaebn": ("VAE with batch norm, ELBO", {"norm": "batch"}, {}),
    "hierarchy": ("2-layer Ladder VAE (64 + 32 latents, plain ladder, batch norm), ELBO",
                  {"layers": 2, "latent_dim": 96, "layer_sizes": (64, 32), "ladder": "plain", "norm": "batch"}, {}),
}
PUBLISHED = {  # the rows of trainer/comparability/published.json each model's figure stands beside
    "vae": "burda16-vae-1layer-k1", "iwae5": "burda16-iwae-1layer-k5", "iwae50": "burda16-iwae-1layer-k50",
    "vamp": "tomczak18-vamp-1layer", "hierarchy": "burda16-vae-2layer-k1",
}


def published(name: str) -> dict | None:
    """The published figure a model's row stands beside: its value, source, table row, epochs and whether it was
    read in the paper itself."""
    if name not in PUBLISHED:
        return None
    row = published_row(PUBLISHED[name])
    return {"figure": row.figure, "source": f"{row.source}, {row.table}: {row.row}", "epochs": row.epochs,
            "checked": row.checked}


def train_alternating(trainers: dict[str, Trainer], epochs: int) -> dict[str, float]:
    """Train every trainer to `epochs`, one epoch of each in turn so machine noise hits them alike; the training
    seconds of each (its progress on stderr)."""
    seconds = dict.fromkeys(trainers, 0.0)
    for epoch in range(1, epochs + 1):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            for _ in trainer.run(max_steps=epoch * trainer.steps_per_epoch - trainer.step):
                pass
            seconds[name] += time.perf_counter() - start
            print(f"{name} epoch {epoch}: {seconds[name]:.0f} s", file=sys.stderr, flush=True)
    return seconds


def evaluate(trainer: Trainer, k: int, examples: int, batch: int = 100, seed: int = 12345) -> dict:
    """Test IWAE log p(x) with K samples over the first `examples` test images (± SE over them), and the ELBO."""
    x = torch.from_numpy(to_float01(np.asarray(trainer.x_test[:examples])))
    g = torch.Generator().manual_seed(seed)
    per_example = []
    model = trainer.model
    model.eval()
    with torch.no_grad():
        for start in range(0, len(x), batch):
            xb = x[start:start + batch].to(trainer.device)
            per_example.append(iwae_log_px(model, xb, None, k, generator=g).double().cpu().numpy())
    model.train()
    log_px = np.concatenate(per_example)
    heldout = trainer.evaluate_test(rate_split_points=0)
    return {"per_example": log_px,
            "log_px": round(float(log_px.mean()), 3), "log_px_se": round(standard_error(log_px), 3),
            "elbo": round(heldout["elbo"], 3), "rate": round(heldout["rate"], 3),
            "distortion": round(heldout["distortion"], 3), "active_units": heldout["active_units"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--eval-k", type=int, default=5000, help="IWAE samples of the test log p(x)")
    ap.add_argument("--test-examples", type=int, default=10_000, help="test images it is averaged over")
    ap.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--data-dir", default=str(SHARED_MNIST_FULL))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=0, metavar="STEPS",
                    help="a β warm-up of STEPS steps for the models trained on the ELBO (IWAE's bound has no β); "
                         "0: none, Burda et al.'s protocol")
    ap.add_argument("--save", default="", metavar="DIR", help="also write each trained model's checkpoint into DIR")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        ap.error(f"--models: unknown {', '.join(unknown)}; known: {', '.join(MODELS)}")

    data = load_dataset(DatasetSpec(name="mnist", data_dir=args.data_dir))
    trainers = {}
    for name in names:
        _, model_settings, train_settings = MODELS[name]
        cfg = model_config_for(data, **{"hidden": (200, 200), "latent_dim": 50, **model_settings})
        schedule = {"beta_schedule": f"warmup:{args.warmup}"} if args.warmup and not train_settings else {}
        train = TrainConfig(epochs=args.epochs, batch_size=100, lr=1e-3, seed=args.seed, device=args.device,
                            binarize="dynamic", report_every=1000, **train_settings, **schedule)
        trainers[name] = Trainer(cfg, train, data)
    seconds = train_alternating(trainers, args.epochs)

    if args.save:
        from trainer.checkpoints.hdf5 import save_checkpoint

        Path(args.save).mkdir(parents=True, exist_ok=True)
        for name, trainer in trainers.items():
            save_checkpoint(Path(args.save) / f"{name}.h5", trainer.checkpoint())
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
               if args.device == "cpu" else torch.cuda.get_device_name(0))
    result = {"machine": machine, "epochs": args.epochs, "eval_k": args.eval_k, "warmup_steps": args.warmup,
              "train_examples": len(data.x_train), "test_examples": min(args.test_examples, len(data.x_test)),
              "binarization": "dynamic (train), one fixed draw (test)", "models": {}}
    for name, trainer in trainers.items():
        start = time.perf_counter()
        figures = evaluate(trainer, args.eval_k, args.test_examples)
        figures.update(what=MODELS[name][0], parameters=sum(p.numel() for p in build_model(trainer.model_config)
                                                             .parameters()),
                       train_s=round(seconds[name], 1), eval_s=round(time.perf_counter() - start, 1),
                       epochs=trainer.epoch, published=published(name))
        result["models"][name] = figures
        print(f"{name}: log p(x) {figures['log_px']} ± {figures['log_px_se']}", file=sys.stderr, flush=True)
    result["published_ordering"] = ordering({name: m.pop("per_example") for name, m in result["models"].items()})
    emit(result, args.json)


def ordering(per_example: dict[str, np.ndarray]) -> dict:
    """The published orderings this run can test, each as the difference of test log p(x) on the same images
    (better − worse, nats) with its paired standard error, and whether it holds (difference > 0)."""
    pairs = (("iwae5", "vae"), ("iwae50", "iwae5"), ("vamp", "vae"), ("vaebn", "vae"), ("hierarchy", "vaebn"))
    out = {}
    for better, worse in pairs:
        if better in per_example and worse in per_example:
            diff = per_example[better] - per_example[worse]
            out[f"{better}_minus_{worse}"] = {"nats": round(float(diff.mean()), 3),
                                              "se": round(standard_error(diff), 3), "holds": bool(diff.mean() > 0)}
    return out


if __name__ == "__main__":
    main()
