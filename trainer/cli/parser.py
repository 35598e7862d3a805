"""The command line's arguments: the parser of every command, and what several commands share (dataset, JSON)."""

from __future__ import annotations

import argparse
import json
import math
import sys

from trainer.config import ARCHS, BINARIZE, LIKELIHOODS, OBJECTIVES, PRECISIONS, TC_SAMPLING, DatasetSpec, TrainConfig
from trainer.errors import VaeExplorerError

PROG = "vae-explorer"
# bars always show (stderr is for humans, stdout for --json); redirected to a log they redraw less often
BAR_INTERVAL = 0.1 if sys.stderr.isatty() else 2.0


class UsageError(VaeExplorerError):
    """A bad command-line argument."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message}")


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 400 or 512,256, got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError("expected at least one hidden size")
    return sizes


def _sigma(text: str) -> float:
    if text == "learned":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'learned', got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"sigma must be positive, got {text!r}")
    return value


def _add_dataset_args(p: argparse.ArgumentParser, default: str | None) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=default,
                   help="sprites | mnist | fashion-mnist | PATH (.npz, .h5, or a folder of PNG/JPEG images)")
    g.add_argument("--data-dir", default="", help="folder holding the MNIST/Fashion-MNIST IDX files")
    g.add_argument("--key", default="", help="HDF5 dataset name inside --dataset PATH")
    g.add_argument("--limit", type=int, default=0, help="use at most N training examples (0 = all)")
    g.add_argument("--split-seed", type=int, default=0, metavar="S",
                   help="seeds the train/held-out split of a single file or of MNIST's t10k, and sprite sampling, "
                        "apart from the training --seed, so runs of other seeds train on the same data (default 0; "
                        "a checkpoint keeps its own)")
    g.add_argument("--download", action="store_true", help="download missing MNIST files into the user cache")
    g.add_argument("--image-size", type=int, default=0,
                   help="image folder: resize every image to this square side (center-crop, then scale; 0 = the "
                        "most common size); sprites: their side (default 64)")
    g.add_argument("--channels", choices=("auto", "gray", "rgb"), default="auto",
                   help="image folder: gray or rgb; auto is gray when every image is gray")
    g.add_argument("--in-memory", choices=("auto", "always", "never"), default="auto",
                   help="HDF5: read into memory (always), stream the training rows from disk in chunks (never), or "
                        "stream only when larger than --memory-budget (auto)")
    g.add_argument("--memory-budget", type=float, default=None,
                   help="MB an HDF5 dataset may take in memory before auto streams it (default: a quarter of RAM)")


def _objective(text: str) -> str:
    if text.strip() not in OBJECTIVES:
        raise ValueError(text)
    return text.strip()


def _list_of(kind, what: str):
    def parse(text: str) -> list:
        try:
            values = [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} separated by commas, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"expected at least one {what}")
        return values
    return parse


def _add_training_args(p: argparse.ArgumentParser, sweep: bool) -> None:
    """The options of `train`; a sweep takes lists (comma-separated) for the settings it varies."""
    _add_dataset_args(p, default=None)
    m = p.add_argument_group("model")
    m.add_argument("--arch", choices=ARCHS, default="mlp")
    m.add_argument("--hidden", type=_hidden, default=(400,), help="hidden sizes, e.g. 400 or 512,256")
    m.add_argument("--encoder-hidden", type=_hidden, default=(), metavar="SIZES",
                   help="the encoder's own hidden sizes when they differ from the decoder's (default: --hidden)")
    m.add_argument("--latent-dim", type=int, default=20)
    m.add_argument("--likelihood", choices=LIKELIHOODS, default="bernoulli")
    m.add_argument("--sigma", type=_sigma, default=0.0, help="gaussian likelihood: fixed std, or 'learned' (default)")
    m.add_argument("--conditional", action="store_true", help="condition encoder and decoder on the label (CVAE)")
    m.add_argument("--layers", type=int, default=1,
                   help="stochastic layers: 2 or more train a hierarchical VAE (Ladder VAE), the latent dimensions "
                        "split among the layers, bottom first")
    m.add_argument("--layer-beta", type=_list_of(float, "numbers"), default=(),
                   help="a hierarchy: each layer's weight on β, bottom first, e.g. 1,2")
    m.add_argument("--layer-warmup", type=_list_of(int, "whole numbers"), default=(),
                   help="a hierarchy: steps over which each layer's KL weight ramps up from 0, bottom first, "
                        "e.g. 0,2000 (without it the upper layers tend to collapse)")
    m.add_argument("--layer-free-bits", type=_list_of(float, "numbers"), default=(),
                   help="a hierarchy: free bits (nats per dimension) of each layer, bottom first")
    o = p.add_argument_group("objective and optimisation")
    many = " (a sweep: comma-separated values, one run each)" if sweep else ""
    o.add_argument("--beta", type=_list_of(float, "numbers") if sweep else float, default=[1.0] if sweep else 1.0,
                   help="weight of KL (rate) in the loss" + many)
    o.add_argument("--beta-schedule", type=_list_of(str, "schedules") if sweep else str,
                   default=["constant"] if sweep else "constant",
                   help="constant | warmup:STEPS | cyclical:PERIOD" + many)
    o.add_argument("--free-bits", type=_list_of(float, "numbers") if sweep else float, default=[0.0] if sweep else 0.0,
                   help="nats per latent dimension not penalised" + many)
    o.add_argument("--objective", **({"type": _list_of(_objective, f"objectives ({', '.join(OBJECTIVES)})"),
                                      "default": ["elbo"]} if sweep else {"choices": OBJECTIVES, "default": "elbo"}),
                   help="elbo: the β-VAE loss D + β·KL; tcvae: β-TCVAE, D + α·MI + β·TC + γ·dimension-wise KL, "
                        "so β weighs only the total correlation (Chen et al. 2018)" + many)
    o.add_argument("--tc-alpha", type=float, default=1.0, help="tcvae: weight of the index-code mutual information")
    o.add_argument("--tc-gamma", type=float, default=1.0, help="tcvae: weight of the dimension-wise KL")
    o.add_argument("--tc-sampling", choices=TC_SAMPLING, default="mws",
                   help="tcvae: how a batch estimates q(z): mws (minibatch-weighted) or mss (stratified)")
    o.add_argument("--epochs", type=int, default=10, help="total epochs (with --resume: the new total)")
    o.add_argument("--batch-size", type=int, default=128)
    o.add_argument("--lr", type=float, default=1e-3)
    o.add_argument("--tensorboard", default="", metavar="DIR",
                   help="also write TensorBoard event files into DIR (one TensorBoard run per run, named like its "
                        "checkpoint; needs the optional extra: pip install -e \".[tensorboard]\")")
    o.add_argument("--seed", type=_list_of(int, "whole numbers") if sweep else int, default=[0] if sweep else 0,
                   help="seeds weights, batches and noise" + many)
    o.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    o.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="fp32 (default), or bf16: the forward pass under bfloat16 autocast (CPU, CUDA); with --resume, "
                        "the checkpoint's unless given")
    o.add_argument("--compile", action="store_true",
                   help="compile the training step with torch.compile (on CUDA: CUDA graphs, mode reduce-overhead); "
                        "costs tens of seconds of compilation first")
    o.add_argument("--binarize", choices=BINARIZE, default="none",
                   help="none: pixel values as given; dynamic: a fresh Bernoulli(x) sample per batch (Burda et al. "
                        "2016); static: one sample drawn from the seed. Makes a Bernoulli likelihood a real one on "
                        "grey-level images")


def new_configs(args, dataset, **overrides):
    """The ModelConfig and TrainConfig a fresh `train` (or each run of a sweep, given `overrides`) starts from."""
    from trainer.model.vae import model_config_for

    model_cfg = model_config_for(
        dataset, conditional=args.conditional, arch=args.arch, hidden=args.hidden,
        encoder_hidden=args.encoder_hidden,
        latent_dim=args.latent_dim, likelihood=args.likelihood, sigma=args.sigma, layers=args.layers,
    )
    settings = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, beta=args.beta,
                    beta_schedule=args.beta_schedule, free_bits=args.free_bits, seed=args.seed, device=args.device,
                    binarize=args.binarize, precision=args.precision or "fp32", compile=args.compile,
                    objective=args.objective, tc_alpha=args.tc_alpha, tc_gamma=args.tc_gamma,
                    tc_sampling=args.tc_sampling, layer_beta=tuple(args.layer_beta),
                    layer_warmup=tuple(args.layer_warmup), layer_free_bits=tuple(args.layer_free_bits))
    train_cfg = TrainConfig(**{**settings, **overrides})
    return model_cfg, train_cfg


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Train and explore variational autoencoders. "
                     "With no command, opens the window: "
                     "vae-explorer [FILE.h5] [--screenshot OUT.png [--train-steps N] [--panel NAME]] [--no-demo].")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train a VAE headlessly and write a checkpoint")
    _add_training_args(t, sweep=False)
    t.add_argument("--out", required=True, help="checkpoint to write (HDF5)")
    t.add_argument("--resume", help="checkpoint to continue from")
    t.add_argument("--save-every", type=float, default=5.0,
                   help="minutes between saves while training (default 5); every epoch's end is saved too")
    t.add_argument("--json", action="store_true", help="print one JSON summary as the last line of stdout")

    w = sub.add_parser("sweep", help="train one model at several beta (and seeds) side by side, one checkpoint each",
                       description="Train every combination of the listed values as one batched ensemble; re-running "
                                   "the same command skips finished runs and resumes unfinished ones.")
    _add_training_args(w, sweep=True)
    w.add_argument("--out", required=True, help="folder for the runs' checkpoints and summary.csv (made if missing)")
    w.add_argument("--jobs", type=int, default=1, help="worker processes, each training its share of the runs "
                   "(default 1: all runs in one batched ensemble, the fastest on one CPU or GPU)")
    w.add_argument("--iwae-samples", type=int, default=0,
                   help="K importance samples for each run's log p(x) (0 = skip)")
    w.add_argument("--disentanglement", action="store_true",
                   help="also DCI, SAP and the FactorVAE score of each finished run (sprites), on "
                        "disentanglement_lib's 15,000 points: minutes per run")
    w.add_argument("--gap-examples", type=int, default=0, metavar="N",
                   help="also split each finished run's ELBO gap into its amortization and approximation parts by "
                        "classical VI on the first N held-out examples (summary.csv; seconds per run for N=100)")
    w.add_argument("--save-every", type=float, default=5.0, help="minutes between saves while training (default 5)")
    w.add_argument("--json", action="store_true", help="print one JSON summary as the last line of stdout")

    e = sub.add_parser("eval", help="evaluate a checkpoint: ELBO, rate, distortion, active units, IWAE, MIG")
    e.add_argument("checkpoint")
    _add_dataset_args(e, default=None)
    e.add_argument("--iwae-samples", type=int, default=0, help="K importance samples for log p(x) (0 = skip)")
    e.add_argument("--disentanglement", action="store_true",
                   help="also DCI, SAP and the FactorVAE score, by disentanglement_lib's protocols (sprites; "
                        "gradient-boosted trees on 10,000 points: minutes)")
    e.add_argument("--rate-split-points", type=int, default=10_000, metavar="N",
                   help="held-out examples the rate split I(X;Z) + KL(q(z)||p(z)) sums over; its cost grows as N^2"
                        " (default 10000, 0 = skip)")
    e.add_argument("--gaps", action="store_true",
                   help="instead, split the ELBO gap (Cremer et al. 2018): optimize each example's q by classical VI "
                        "from the encoder's guess, and report the approximation gap log p(x) - ELBO(q*) and the "
                        "amortization gap ELBO(q*) - ELBO(encoder) on the first --limit held-out examples (default "
                        "100), with log p(x) by IWAE (--iwae-samples, default 1000) of both proposals")
    e.add_argument("--svi-steps", type=int, default=500, metavar="N",
                   help="with --gaps: at most N Adam steps of classical VI per example (default 500)")
    e.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    e.add_argument("--json", action="store_true")

    c = sub.add_parser("convert", help="decode a folder of PNG/JPEG images once into a chunked HDF5 dataset",
                       description="Decode FOLDER (class subfolders become labels y) into OUT's dataset x, uint8 "
                                   "(N, C, H, W) in chunks of about 1 MB, for training with --dataset OUT.")
    c.add_argument("folder")
    c.add_argument("--out", required=True, help="HDF5 file to write (.h5)")
    c.add_argument("--image-size", type=int, default=0, help="square side to resize to; 0 = the most common size")
    c.add_argument("--channels", choices=("auto", "gray", "rgb"), default="auto")
    c.add_argument("--strict", action="store_true", help="refuse images of mixed sizes instead of resizing them")
    c.add_argument("--json", action="store_true")

    i = sub.add_parser("info", help="show a checkpoint's configuration and history")
    i.add_argument("checkpoint")
    i.add_argument("--json", action="store_true")
    return parser


def dataset_spec(args, fallback: DatasetSpec | None, seed: int = 0) -> DatasetSpec:
    """The dataset named on the command line, or the checkpoint's own when none is named."""
    if args.dataset is None:
        spec = fallback or DatasetSpec()
        # a checkpoint never makes us touch the network: only this command line's --download does
        return DatasetSpec.from_dict({**spec.to_dict(), "data_dir": args.data_dir or spec.data_dir,
                                      "limit": args.limit or spec.limit, "download": args.download})
    from trainer.data import spec_for

    return spec_for(args.dataset, data_dir=args.data_dir, key=args.key, limit=args.limit, seed=seed,
                    image_size=args.image_size, channels=args.channels, in_memory=args.in_memory,
                    download=args.download)


def check_tensorboard(args, command: str) -> None:
    """--tensorboard needs an optional package: a UsageError at once, in one line, before any data is read."""
    if not getattr(args, "tensorboard", ""):
        return
    from trainer.errors import ConfigError
    from trainer.training.tensorboard import require_tensorboard

    try:
        require_tensorboard(args.tensorboard)
    except ConfigError as exc:
        raise UsageError(f"{PROG} {command}: {exc}") from None


def budget(args) -> int | None:
    """--memory-budget in bytes (None: the default, a quarter of RAM)."""
    if args.memory_budget is None:
        return None
    if not (math.isfinite(args.memory_budget) and args.memory_budget >= 0):
        raise UsageError(f"{PROG}: --memory-budget must be a number of MB >= 0, got {args.memory_budget}")
    return int(args.memory_budget * 2**20)


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def terms(d: dict) -> dict:
    return {"elbo": d["elbo"], "recon": d["recon"], "kl": d["kl"]}

