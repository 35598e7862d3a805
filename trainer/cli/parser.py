"""The command line's arguments: the parser of every command, and what several commands share (dataset, JSON)."""

from __future__ import annotations

import argparse
import json
import math
import sys

from trainer.config import (ACTIVATIONS, ARCHS, BINARIZE, DEVICES, DISENTANGLEMENT_POINTS, LADDERS, LIKELIHOODS,
                            MAX_EXAMPLES, NORMS, OBJECTIVES, PRECISIONS, PRIORS, RATE_SPLIT_POINTS, SAVE_EVERY,
                            TC_SAMPLING, DatasetSpec, EvalOptions, ModelConfig, TrainConfig)
from trainer.errors import ConfigError, VaeExplorerError
from trainer.rules import Rule, number, whole

PROG = "vae-explorer"
# bars always show (stderr is for humans, stdout for --json); redirected to a log they redraw less often
BAR_INTERVAL = 0.1 if sys.stderr.isatty() else 2.0


class UsageError(VaeExplorerError):
    """A bad command-line argument."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message}")


def checked(rule: Rule, name: str):
    """An argparse type that parses and checks the text by `rule` (trainer.rules), so the command line refuses
    exactly what a config, the Python API and a checkpoint refuse, in the same words."""
    def parse(text: str):
        try:
            return rule.parse(name, text)
        except ConfigError as exc:  # argparse names the flag itself: "argument --lr: must be a number > 0, ..."
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name} ")) from None
    parse.__name__ = name  # argparse names the type in its own messages
    return parse


def option(cls, name: str, flag: str = ""):
    """An argparse type for the config field `name` of `cls`, checked by that field's rule."""
    return checked(cls.rule(name), flag or name)


def _sigma(text: str) -> float:
    if text == "learned":
        return 0.0
    value = option(ModelConfig, "sigma")(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"sigma must be positive (or 'learned'), got {text!r}")
    return value


def _add_dataset_args(p: argparse.ArgumentParser, default: str | None) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default=default,
                   help="sprites | mnist | fashion-mnist | binarized-mnist | PATH (.npz, .h5, .amat, or a folder of "
                        "PNG/JPEG images)")
    g.add_argument("--data-dir", default="", help="folder holding the MNIST/Fashion-MNIST IDX files, or "
                                                 "binarized-mnist's .amat files")
    g.add_argument("--key", default="", help="HDF5 dataset name inside --dataset PATH")
    g.add_argument("--limit", type=option(DatasetSpec, "limit", "--limit"), default=0,
                   help="use at most N training examples (0 = all)")
    g.add_argument("--split-seed", type=option(DatasetSpec, "seed", "--split-seed"), default=0, metavar="S",
                   help="seeds the train/held-out split of a single file or of MNIST's t10k, and sprite sampling, "
                        "apart from the training --seed, so runs of other seeds train on the same data (default 0; "
                        "a checkpoint keeps its own)")
    g.add_argument("--download", action="store_true", help="download missing MNIST files into the user cache")
    g.add_argument("--image-size", type=checked(whole(0, 1024), "--image-size"), default=0,
                   help="image folder: resize every image to this square side (center-crop, then scale; 0 = the "
                        "most common size); sprites: their side (default 64)")
    g.add_argument("--channels", choices=("auto", "gray", "rgb"), default="auto",
                   help="image folder: gray or rgb; auto is gray when every image is gray")
    g.add_argument("--in-memory", choices=("auto", "always", "never"), default="auto",
                   help="HDF5: read into memory (always), stream the training rows from disk in chunks (never), or "
                        "stream only when larger than --memory-budget (auto)")
    g.add_argument("--memory-budget", type=checked(number(0.0), "--memory-budget"), default=None,
                   help="MB an HDF5 dataset may take in memory before auto streams it (default: a quarter of RAM)")


def _list_of(parse_one, what: str):
    """A sweep's comma-separated list, each value parsed (and checked) by `parse_one`."""
    def parse(text: str) -> list:
        values = [parse_one(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected at least one {what}")
        return values
    return parse


TRAINED_WITH = {
    # the flag's dest -> (the config, its field): settings a resumed run keeps (trainer.training.opening), so
    # their defaults are None here, to tell a flag given from one left out; the configs hold the defaults
    "arch": (ModelConfig, "arch"), "hidden": (ModelConfig, "hidden"),
    "encoder_hidden": (ModelConfig, "encoder_hidden"), "latent_dim": (ModelConfig, "latent_dim"),
    "likelihood": (ModelConfig, "likelihood"), "sigma": (ModelConfig, "sigma"), "layers": (ModelConfig, "layers"),
    "ladder": (ModelConfig, "ladder"), "norm": (ModelConfig, "norm"),
    "activation": (ModelConfig, "activation"), "layer_sizes": (ModelConfig, "layer_sizes"),
    "prior": (ModelConfig, "prior"), "pseudo_inputs": (ModelConfig, "pseudo_inputs"),
    "layer_beta": (TrainConfig, "layer_beta"), "layer_warmup": (TrainConfig, "layer_warmup"),
    "layer_free_bits": (TrainConfig, "layer_free_bits"), "beta": (TrainConfig, "beta"),
    "beta_schedule": (TrainConfig, "beta_schedule"), "free_bits": (TrainConfig, "free_bits"),
    "objective": (TrainConfig, "objective"), "tc_alpha": (TrainConfig, "tc_alpha"),
    "tc_gamma": (TrainConfig, "tc_gamma"), "tc_sampling": (TrainConfig, "tc_sampling"),
    "iwae_k": (TrainConfig, "iwae_k"),
    "batch_size": (TrainConfig, "batch_size"), "lr": (TrainConfig, "lr"), "seed": (TrainConfig, "seed"),
    "binarize": (TrainConfig, "binarize"),
}
SWEPT = ("beta", "seed", "free_bits", "beta_schedule", "objective", "iwae_k")
"""The settings a sweep takes lists of (trainer.training.sweep.AXES)."""


def _setting(group, flag: str, sweep: bool, help: str = "", **kwargs) -> None:
    """A flag for a config field that a resume keeps: parsed and checked by the field's rule, default None."""
    dest = flag[2:].replace("-", "_")
    cls, name = TRAINED_WITH[dest]
    default = getattr(cls(), name)
    shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
    if "choices" not in kwargs:
        kwargs["type"] = kwargs.get("type") or option(cls, name, flag)
    if sweep and dest in SWEPT:
        kwargs["type"] = _list_of(kwargs.pop("type", None) or option(cls, name, flag), f"value for {flag}")
        kwargs.pop("choices", None)
        help += " (a sweep: comma-separated values, one run each)"
    group.add_argument(flag, default=None, help=f"{help} (default {shown})".lstrip(), **kwargs)


def _add_training_args(p: argparse.ArgumentParser, sweep: bool) -> None:
    """The options of `train`; a sweep takes lists (comma-separated) for the settings it varies."""
    _add_dataset_args(p, default=None)
    m = p.add_argument_group("model")
    _setting(m, "--arch", sweep, choices=ARCHS)
    _setting(m, "--hidden", sweep, "hidden sizes, e.g. 400 or 512,256")
    _setting(m, "--encoder-hidden", sweep, "the encoder's own hidden sizes when they differ from the decoder's "
             "(empty: --hidden)", metavar="SIZES")
    _setting(m, "--latent-dim", sweep)
    _setting(m, "--likelihood", sweep, choices=LIKELIHOODS)
    _setting(m, "--sigma", sweep, "gaussian likelihood: fixed std, or 'learned' (0)", type=_sigma)
    m.add_argument("--conditional", action="store_true", default=None,
                   help="condition encoder and decoder on the label (CVAE)")
    _setting(m, "--prior", sweep, "p(z): standard, N(0, I); vamp, the VampPrior (Tomczak & Welling 2018), the "
             "encoder's posterior averaged over --pseudo-inputs learned images, so the rate is a Monte Carlo KL",
             choices=PRIORS)
    _setting(m, "--pseudo-inputs", sweep, "vamp: learned pseudo-inputs (mixture components) of the prior",
             metavar="K")
    _setting(m, "--layers", sweep, "stochastic layers: 2 or more train a hierarchical VAE (Ladder VAE), the latent "
             "dimensions split among the layers, bottom first")
    _setting(m, "--layer-sizes", sweep, "a hierarchy: each layer's dimensions, bottom first, e.g. 64,32 (they add up "
             "to --latent-dim, which they set when it is not given); default: --latent-dim split evenly",
             metavar="SIZES")
    _setting(m, "--ladder", sweep, "a hierarchy's deterministic path: residual (dense residual cells in every step, "
             "and the decoder sees the top-down feature beside z_1) or plain (one dense layer a step)",
             choices=LADDERS)
    _setting(m, "--norm", sweep, "batch: batch normalisation after every hidden dense layer (the batch's statistics "
             "while training, their running averages in evaluation; Sønderby et al. 2016 found it crucial for "
             "hierarchies); none: plain layers", choices=NORMS)
    _setting(m, "--activation", sweep, "the hidden layers' nonlinearity: relu, or tanh (Burda et al. 2016)",
             choices=ACTIVATIONS)
    _setting(m, "--layer-beta", sweep, "a hierarchy: each layer's weight on β, bottom first, e.g. 1,2")
    _setting(m, "--layer-warmup", sweep, "a hierarchy: steps over which each layer's KL weight ramps up from 0, "
             "bottom first, e.g. 0,2000 (without it the upper layers tend to collapse)")
    _setting(m, "--layer-free-bits", sweep, "a hierarchy: free bits (nats per dimension) of each layer, bottom first")
    o = p.add_argument_group("objective and optimisation")
    _setting(o, "--beta", sweep, "weight of KL (rate) in the loss")
    _setting(o, "--beta-schedule", sweep, "constant | warmup:STEPS | cyclical:PERIOD")
    _setting(o, "--free-bits", sweep, "nats per latent dimension not penalised")
    _setting(o, "--objective", sweep, "elbo: the β-VAE loss D + β·KL; tcvae: β-TCVAE, D + α·MI + β·TC + γ·dimension-"
             "wise KL, so β weighs only the total correlation (Chen et al. 2018); iwae: the importance-weighted "
             "bound with --iwae-k samples per example (Burda et al. 2016), which has no β", choices=OBJECTIVES)
    _setting(o, "--iwae-k", sweep, "iwae: importance samples per example in the training bound (1 is the VAE; "
             "each costs a decoder pass)", metavar="K")
    _setting(o, "--tc-alpha", sweep, "tcvae: weight of the index-code mutual information")
    _setting(o, "--tc-gamma", sweep, "tcvae: weight of the dimension-wise KL")
    _setting(o, "--tc-sampling", sweep, "tcvae: how a batch estimates q(z): mss (minibatch stratified: "
             "q(z) unbiased, log q(z) short only by Jensen's gap) or mws (minibatch-weighted, biased by an offset "
             "that moves with the posteriors' overlap)",
             choices=TC_SAMPLING)
    o.add_argument("--epochs", type=option(TrainConfig, "epochs", "--epochs"), default=10 if sweep else None,
                   help="total epochs (with --resume: the new total; default 10, or the --protocol's)")
    _setting(o, "--batch-size", sweep)
    _setting(o, "--lr", sweep)
    o.add_argument("--tensorboard", default="", metavar="DIR",
                   help="also write TensorBoard event files into DIR (one TensorBoard run per run, named like its "
                        "checkpoint; needs the optional extra: pip install -e \".[tensorboard]\")")
    _setting(o, "--seed", sweep, "seeds weights, batches and noise")
    o.add_argument("--device", choices=DEVICES, default="auto")
    o.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="fp32 (default), or bf16: the forward pass under bfloat16 autocast (CPU, CUDA); with --resume, "
                        "the checkpoint's unless given")
    o.add_argument("--snapshots", type=option(TrainConfig, "snapshots", "--snapshots"), default=None, metavar="N",
                   help="the most snapshots of the weights kept in the checkpoint for the run's timeline (log-spaced "
                        "steps and one per epoch, thinned to fit; vae-explorer replay, load_model(path, step=)); 0 "
                        "keeps none (default 64; with --resume, the checkpoint's unless given)")
    o.add_argument("--snapshot-mb", type=option(TrainConfig, "snapshot_mb", "--snapshot-mb"), default=None,
                   metavar="MB", help="the most megabytes the snapshots take, at half precision (default 64)")
    o.add_argument("--compile", action="store_true",
                   help="compile the training step with torch.compile (on CUDA: CUDA graphs, mode reduce-overhead); "
                        "costs tens of seconds of compilation first")
    _setting(o, "--binarize", sweep, "none: pixel values as given; dynamic: a fresh Bernoulli(x) sample per batch "
             "(Burda et al. 2016); static: one sample drawn from the seed. Makes a Bernoulli likelihood a real one on "
             "grey-level images", choices=BINARIZE)


def given_settings(args) -> dict:
    """The settings a command line names, by their config fields' names: what a resume compares with the
    checkpoint's, and what a fresh run takes over the configs' defaults."""
    given = {name: getattr(args, dest) for dest, (cls, name) in TRAINED_WITH.items()
             if getattr(args, dest, None) is not None}
    if args.conditional:
        given["conditional"] = True
    if given.get("layer_sizes") and "latent_dim" not in given:  # the sizes say how many dimensions there are
        given["latent_dim"] = sum(given["layer_sizes"])
    return given


def recording(args) -> dict:
    """The snapshot budget the command line names (what a resume may change, as the precision)."""
    return {name: getattr(args, name) for name in ("snapshots", "snapshot_mb") if getattr(args, name, None) is not None}


def new_configs(args, dataset, sweep: bool = False):
    """The ModelConfig and TrainConfig a fresh `train` starts from; for a sweep, its base (the settings it lists
    values of, SWEPT, are left at their defaults for trainer.training.sweep.plan_runs to vary)."""
    from trainer.training.opening import configs_for

    settings = {**given_settings(args), **recording(args), "epochs": args.epochs, "device": args.device,
                "precision": args.precision or "fp32", "compile": args.compile}
    if sweep:
        settings = {k: v for k, v in settings.items() if k not in SWEPT}
    return configs_for(dataset, **settings)


def _add_eval_parser(sub) -> None:
    """`eval`'s options: what it estimates besides the ELBO, each checked by EvalOptions' rules."""
    e = sub.add_parser("eval", help="evaluate a checkpoint: ELBO, rate, distortion, active units, IWAE, MIG")
    e.add_argument("checkpoint")
    _add_dataset_args(e, default=None)
    e.add_argument("--split", choices=("test", "valid"), default="test",
                   help="the held-out split it scores: test (the default: the figure to report), or valid, the "
                        "validation split of a source that has one (binarized-mnist), which training evaluated")
    e.add_argument("--iwae-samples", type=option(EvalOptions, "iwae_samples", "--iwae-samples"), default=None,
                   help="K importance samples for log p(x) (0 = skip; default: the K of the run's protocol, which "
                        "makes the figure comparable with its row, else 0)")
    e.add_argument("--disentanglement", action="store_true",
                   help="also DCI, SAP and the FactorVAE score, by disentanglement_lib's protocols (sprites; "
                        "gradient-boosted trees on --disentanglement-points: minutes)")
    e.add_argument("--disentanglement-points", metavar="N", default=DISENTANGLEMENT_POINTS,
                   type=option(EvalOptions, "disentanglement_points", "--disentanglement-points"),
                   help=f"with --disentanglement: the encoded examples they use, held-out first (default "
                        f"{DISENTANGLEMENT_POINTS:,}, the protocol's; fewer is faster, with a larger standard error)")
    e.add_argument("--rate-split-points", type=option(EvalOptions, "rate_split_points", "--rate-split-points"),
                   default=RATE_SPLIT_POINTS, metavar="N",
                   help="held-out examples the rate split I(X;Z) + KL(q(z)||p(z)) sums over; its cost grows as N^2"
                        f" (default {RATE_SPLIT_POINTS}, the N of the epoch reports and sweep summaries, so they "
                        "compare; 0 = skip). Its I(X;Z) is short of the true value near log N: more points read more")
    e.add_argument("--gaps", action="store_true",
                   help="instead, split the ELBO gap (Cremer et al. 2018): optimize each example's q by classical VI "
                        "from the encoder's guess, and report the approximation gap log p(x) - ELBO(q*) and the "
                        "amortization gap ELBO(q*) - ELBO(encoder) on the first --limit held-out examples (default "
                        "100), with log p(x) the best of IWAE (--iwae-samples, default 1000) of both proposals and "
                        "AIS from q* (200 steps), named by log_px_estimator")
    e.add_argument("--svi-steps", type=option(EvalOptions, "svi_steps", "--svi-steps"), default=500, metavar="N",
                   help="with --gaps: at most N Adam steps of classical VI per example (default 500)")
    e.add_argument("--ais", action="store_true",
                   help="also log p(x) by annealed importance sampling (Neal 2001) from the prior, HMC along the "
                        "path, on the first --ais-examples held-out examples: log_px_ais, a stochastic lower bound "
                        "tighter than IWAE (with --gaps, AIS from q* runs anyway)")
    e.add_argument("--ais-examples", type=option(EvalOptions, "ais_examples", "--ais-examples"), default=100,
                   metavar="N", help="with --ais: held-out examples it runs on (default 100; each costs steps x "
                                     "chains x leapfrog decoder passes)")
    e.add_argument("--bdmc", action="store_true",
                   help="also sandwich log p(x) by bidirectional Monte Carlo (Grosse et al. 2015) on data simulated "
                        "from the model: forward AIS gives bdmc_lower, reverse AIS from the true z gives bdmc_upper; "
                        "their distance bounds how loose AIS of this length is on this model")
    e.add_argument("--bdmc-examples", type=option(EvalOptions, "bdmc_examples", "--bdmc-examples"), default=50,
                   metavar="N", help="with --bdmc: simulated examples (default 50; each costs two AIS runs)")
    e.add_argument("--ais-steps", type=option(EvalOptions, "ais_steps", "--ais-steps"), default=1000, metavar="T",
                   help="with --ais/--bdmc: annealing steps from the prior to the posterior (default 1000)")
    e.add_argument("--ais-chains", type=option(EvalOptions, "ais_chains", "--ais-chains"), default=8, metavar="C",
                   help="with --ais/--bdmc: independent chains per example, for the standard error (default 8)")
    e.add_argument("--ais-leapfrog", type=option(EvalOptions, "ais_leapfrog", "--ais-leapfrog"), default=2,
                   metavar="L", help="with --ais/--bdmc: leapfrog steps per HMC transition (default 2)")
    e.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    e.add_argument("--json", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Train and explore variational autoencoders. "
                     "With no command, opens the window: "
                     "vae-explorer [FILE.h5] [--screenshot OUT.png [--train-steps N] [--panel NAME]] [--no-demo]. "
                     "vae-explorer replay FILE.h5 --out FILM.mp4|FILM.gif [--panel NAME] [--from S] [--to S] [--fps N] "
                     "films a panel over the run's timeline (offscreen; see vae-explorer replay -h).")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train a VAE headlessly and write a checkpoint")
    _add_training_args(t, sweep=False)
    t.add_argument("--protocol", default="", metavar="NAME",
                   help="reproduce a published row (vae-explorer protocols): sets the data, split, binarization, "
                        "model, objective, batch and epochs to the row's, and eval then scores with the row's "
                        "estimator; --epochs may shorten it, --seed and --device may be given, anything else is "
                        "refused")
    t.add_argument("--out", required=True, help="checkpoint to write (HDF5)")
    t.add_argument("--resume", help="checkpoint to continue from")
    t.add_argument("--save-every", type=checked(SAVE_EVERY, "--save-every"), default=5.0,
                   help="minutes between saves while training (default 5); every epoch's end is saved too")
    t.add_argument("--json", action="store_true",
                   help="print one JSON summary as the last line of stdout: wall_s (seconds from the data loaded to "
                        "the last checkpoint written), samples_per_s (examples trained / wall_s, each epoch's "
                        "evaluation and the saves included: what a sweep's counts), train_samples_per_s (per "
                        "second of the steps alone), and the held-out and training ELBO")

    w = sub.add_parser("sweep", help="train one model at several beta (and seeds) side by side, one checkpoint each",
                       description="Train every combination of the listed values as one batched ensemble; re-running "
                                   "the same command skips finished runs and resumes unfinished ones.")
    _add_training_args(w, sweep=True)
    w.add_argument("--out", required=True, help="folder for the runs' checkpoints and summary.csv (made if missing)")
    w.add_argument("--jobs", type=checked(whole(1, 256), "--jobs"), default=1,
                   help="worker processes, each training its share of the runs "
                   "(default 1: all runs in one batched ensemble, the fastest on one CPU or GPU)")
    w.add_argument("--iwae-samples", type=option(EvalOptions, "iwae_samples", "--iwae-samples"), default=0,
                   help="K importance samples for each run's log p(x) (0 = skip)")
    w.add_argument("--disentanglement", action="store_true",
                   help="also DCI, SAP and the FactorVAE score of each finished run (sprites), on "
                        "--disentanglement-points: minutes per run")
    w.add_argument("--disentanglement-points", metavar="N", default=DISENTANGLEMENT_POINTS,
                   type=option(EvalOptions, "disentanglement_points", "--disentanglement-points"),
                   help=f"with --disentanglement: the encoded examples per run (default {DISENTANGLEMENT_POINTS:,}, "
                        "disentanglement_lib's protocol)")
    w.add_argument("--gap-examples", type=checked(whole(0, MAX_EXAMPLES), "--gap-examples"), default=0, metavar="N",
                   help="also split each finished run's ELBO gap into its amortization and approximation parts by "
                        "classical VI on the first N held-out examples (summary.csv; seconds per run for N=100)")
    w.add_argument("--save-every", type=checked(SAVE_EVERY, "--save-every"), default=5.0,
                   help="minutes between saves while training (default 5)")
    w.add_argument("--json", action="store_true",
                   help="print one JSON summary as the last line of stdout: the rows, wall_s (seconds from the data "
                        "loaded to the summary written, after the last checkpoint) and samples_per_s (the examples "
                        "every run trained / wall_s: what train's counts)")

    _add_eval_parser(sub)

    c = sub.add_parser("convert", help="decode a folder of PNG/JPEG images once into a chunked HDF5 dataset",
                       description="Decode FOLDER (class subfolders become labels y) into OUT's dataset x, uint8 "
                                   "(N, C, H, W) in chunks of about 1 MB, for training with --dataset OUT.")
    c.add_argument("folder")
    c.add_argument("--out", required=True, help="HDF5 file to write (.h5)")
    c.add_argument("--image-size", type=checked(whole(0, 1024), "--image-size"), default=0,
                   help="square side to resize to; 0 = the most common size")
    c.add_argument("--channels", choices=("auto", "gray", "rgb"), default="auto")
    c.add_argument("--strict", action="store_true", help="refuse images of mixed sizes instead of resizing them")
    c.add_argument("--json", action="store_true")

    pr = sub.add_parser("protocols", help="list the published rows a run can reproduce (train --protocol NAME), "
                                          "with what each sets, and the rows that cannot be reproduced here and why")
    pr.add_argument("--json", action="store_true")

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
    return int(args.memory_budget * 2**20)  # checked when parsed


def print_json(obj) -> None:
    """One line of strict JSON on stdout: a NaN or infinite figure (which JSON cannot hold) is an error naming it,
    and nothing is printed."""
    try:
        text = json.dumps(obj, allow_nan=False)
    except ValueError:
        from trainer.training.evaluation import first_non_finite

        key, value = first_non_finite(obj) or ("a figure", math.nan)
        raise VaeExplorerError(f"{PROG}: cannot print JSON: {key} is {value}, not a finite number") from None
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def terms(d: dict) -> dict:
    return {"elbo": d["elbo"], "recon": d["recon"], "kl": d["kl"]}

