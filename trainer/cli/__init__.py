"""The headless command line: train, evaluate and inspect VAEs with the same engine and checkpoints as the window.

    vae-explorer train --dataset mnist --data-dir ../shared/datasets/mnist --epochs 5 --out mnist.h5 --json
    vae-explorer sweep --dataset sprites --beta 0.1,1,10 --seed 0,1 --epochs 5 --out runs/ --json
    vae-explorer eval mnist.h5 --iwae-samples 100 --json
    vae-explorer info mnist.h5

Progress bars go to stderr; with --json the last line of stdout is exactly one JSON object.
Any bad argument or file exits with status 2 and one error line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from pathlib import Path

from trainer.config import ARCHS, BINARIZE, LIKELIHOODS, PRECISIONS, DatasetSpec, TrainConfig
from trainer.errors import VaeExplorerError

PROG = "vae-explorer"
# bars always show (stderr is for humans, stdout for --json); redirected to a log they redraw less often
_BAR_INTERVAL = 0.1 if sys.stderr.isatty() else 2.0


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
    m.add_argument("--latent-dim", type=int, default=20)
    m.add_argument("--likelihood", choices=LIKELIHOODS, default="bernoulli")
    m.add_argument("--sigma", type=_sigma, default=0.0, help="gaussian likelihood: fixed std, or 'learned' (default)")
    m.add_argument("--conditional", action="store_true", help="condition encoder and decoder on the label (CVAE)")
    o = p.add_argument_group("objective and optimisation")
    many = " (a sweep: comma-separated values, one run each)" if sweep else ""
    o.add_argument("--beta", type=_list_of(float, "numbers") if sweep else float, default=[1.0] if sweep else 1.0,
                   help="weight of KL (rate) in the loss" + many)
    o.add_argument("--beta-schedule", type=_list_of(str, "schedules") if sweep else str,
                   default=["constant"] if sweep else "constant", help="constant | warmup:STEPS | cyclical:PERIOD" + many)
    o.add_argument("--free-bits", type=_list_of(float, "numbers") if sweep else float, default=[0.0] if sweep else 0.0,
                   help="nats per latent dimension not penalised" + many)
    o.add_argument("--epochs", type=int, default=10, help="total epochs (with --resume: the new total)")
    o.add_argument("--batch-size", type=int, default=128)
    o.add_argument("--lr", type=float, default=1e-3)
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


def _new_configs(args, dataset, **overrides):
    """The ModelConfig and TrainConfig a fresh `train` (or each run of a sweep, given `overrides`) starts from."""
    from trainer.model.vae import model_config_for

    model_cfg = model_config_for(
        dataset, conditional=args.conditional, arch=args.arch, hidden=args.hidden,
        latent_dim=args.latent_dim, likelihood=args.likelihood, sigma=args.sigma,
    )
    settings = dict(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, beta=args.beta,
                    beta_schedule=args.beta_schedule, free_bits=args.free_bits, seed=args.seed, device=args.device,
                    binarize=args.binarize, precision=args.precision or "fp32", compile=args.compile)
    train_cfg = TrainConfig(**{**settings, **overrides})
    return model_cfg, train_cfg


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Train and explore variational autoencoders. With no command, opens the window: "
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
    w.add_argument("--iwae-samples", type=int, default=0, help="K importance samples for each run's log p(x) (0 = skip)")
    w.add_argument("--save-every", type=float, default=5.0, help="minutes between saves while training (default 5)")
    w.add_argument("--json", action="store_true", help="print one JSON summary as the last line of stdout")

    e = sub.add_parser("eval", help="evaluate a checkpoint: ELBO, rate, distortion, active units, IWAE, MIG")
    e.add_argument("checkpoint")
    _add_dataset_args(e, default=None)
    e.add_argument("--iwae-samples", type=int, default=0, help="K importance samples for log p(x) (0 = skip)")
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


def _dataset_spec(args, fallback: DatasetSpec | None, seed: int = 0) -> DatasetSpec:
    """The dataset named on the command line, or the checkpoint's own when none is named."""
    if args.dataset is None:
        spec = fallback or DatasetSpec()
        # a checkpoint never makes us touch the network: only this command line's --download does
        return DatasetSpec.from_dict({**spec.to_dict(), "data_dir": args.data_dir or spec.data_dir,
                                      "limit": args.limit or spec.limit, "download": args.download})
    if args.dataset in ("sprites", "mnist", "fashion-mnist"):
        sprites = {"image_size": args.image_size} if args.dataset == "sprites" and args.image_size else {}
        spec = DatasetSpec(name=args.dataset, data_dir=args.data_dir, limit=args.limit, seed=seed, download=args.download,
                           **sprites)
    else:
        spec = DatasetSpec(name="path", path=str(Path(args.dataset)), key=args.key, limit=args.limit, seed=seed,
                           folder_size=args.image_size, channels=args.channels, in_memory=args.in_memory)
    spec.validate()
    return spec


def _budget(args) -> int | None:
    """--memory-budget in bytes (None: the default, a quarter of RAM)."""
    if args.memory_budget is None:
        return None
    if not (math.isfinite(args.memory_budget) and args.memory_budget >= 0):
        raise UsageError(f"{PROG}: --memory-budget must be a number of MB >= 0, got {args.memory_budget}")
    return int(args.memory_budget * 2**20)


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _terms(d: dict) -> dict:
    return {"elbo": d["elbo"], "recon": d["recon"], "kl": d["kl"]}


def cmd_train(args) -> int:
    from trainer.training.distributed import join, leave

    if not (math.isfinite(args.save_every) and args.save_every > 0):
        raise UsageError(f"{PROG} train: --save-every must be positive, got {args.save_every}")
    out_dir = Path(args.out).resolve().parent
    if not out_dir.is_dir():
        # checked before training, so a typo in --out never throws a finished run away
        raise UsageError(f"{PROG} train: --out {args.out}: folder {out_dir} does not exist")
    group = join(args.device)  # torchrun's workers join their process group; a plain process stays alone
    try:
        return _train(args, group)
    finally:
        leave(group)


def _train(args, group) -> int:
    from tqdm import tqdm

    from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
    from trainer.data import load_dataset
    from trainer.training.distributed import restarted_by_torchrun
    from trainer.training.loop import Trainer
    from trainer.training.reports import DivergedReport, EpochReport, StepReport

    resume = args.resume
    if restarted_by_torchrun() and Path(args.out).is_file():
        resume = args.out  # torchrun restarted the group after a failure: go on from the last save
    ckpt = load_checkpoint(resume) if resume else None
    spec = _dataset_spec(args, ckpt.dataset if ckpt else None, seed=args.seed)
    dataset = load_dataset(spec, memory_budget=_budget(args))
    if ckpt is not None:
        model_cfg = ckpt.model_config
        train_cfg = TrainConfig.from_dict({**ckpt.train_config.to_dict(), "epochs": args.epochs, "device": args.device,
                                           "compile": args.compile,
                                           "precision": args.precision or ckpt.train_config.precision})
    else:
        model_cfg, train_cfg = _new_configs(args, dataset)
        train_cfg.validate()
    trainer = Trainer(model_cfg, train_cfg, dataset, checkpoint=ckpt, on_divergence="stop", group=group)
    leader = group.leader  # rank 0 prints and writes; every rank trains
    if leader:
        where = f"{trainer.device}" + (f", {group.world} processes" if group.active else "")
        print(f"{PROG}: {dataset.describe()} on {where}" + (f", resumed from {resume}" if resume else ""),
              file=sys.stderr)

    def say(text: str) -> None:
        if leader:
            bar.write(text, file=sys.stderr)

    def save() -> None:
        # every rank calls it (the generator states are gathered); whatever went wrong, the file is whole
        ckpt = trainer.checkpoint()
        if leader:
            save_checkpoint(args.out, ckpt)

    start_step, start_elapsed = trainer.step, trainer.elapsed_s
    total = train_cfg.epochs * trainer.steps_per_epoch
    diverged = None
    bar = tqdm(total=total, initial=min(trainer.step, total), unit="step", file=sys.stderr, dynamic_ncols=True,
               mininterval=_BAR_INTERVAL, desc="train", disable=not leader)
    interrupted = []

    def on_interrupt(signum, frame):
        # Ctrl+C asks the trainer to stop between two steps, like the window's Stop, so the checkpoint holds a
        # whole step and its running sums, and resuming it continues the uninterrupted run's history exactly
        if interrupted:
            raise KeyboardInterrupt  # a second Ctrl+C: stop now
        interrupted.append(trainer.step)
        trainer.stop()

    # under torchrun the ranks cannot agree on a step to stop at: Ctrl+C ends them, and the last save stays
    previous_handler = signal.signal(signal.SIGINT, on_interrupt) if not group.active else None
    save_every_s, last_save = args.save_every * 60, time.monotonic()
    finished = False
    try:
        for report in trainer.run():
            if isinstance(report, StepReport):
                bar.update(report.step - bar.n)
                bar.set_postfix(epoch=report.epoch + 1, beta=f"{report.beta:.3g}", recon=f"{report.recon:.1f}",
                                kl=f"{report.kl:.2f}", refresh=False)
                # a rank's clock decides, and every rank hears of it in the same report: they save together
                if group.any(time.monotonic() - last_save >= save_every_s, trainer.device):
                    save()
                    last_save = time.monotonic()
            elif isinstance(report, EpochReport):
                say(f"epoch {report.epoch}: train elbo {report.train_elbo:.2f}  test elbo {report.test_elbo:.2f}"
                    f"  (recon {report.test_recon:.2f}, kl {report.test_kl:.2f}, active units {report.active_units})")
                save()  # every epoch's end is a save: a killed run loses at most the epoch in progress
                last_save = time.monotonic()
            elif isinstance(report, DivergedReport):
                diverged = report.message
                say(f"{PROG}: {report.message}")
        finished = True
    except KeyboardInterrupt:
        if group.active:
            raise
        interrupted.append(trainer.step)
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
        if interrupted:
            say(f"{PROG}: interrupted at step {trainer.step}; saving what was trained")
        bar.close()
        if finished or not group.active:
            # whatever happened, the steps already trained are written (atomically) before we leave
            save()
    if leader:
        print(f"{PROG}: wrote {args.out} (step {trainer.step}, epoch {trainer.epoch})", file=sys.stderr)

    seconds = trainer.elapsed_s - start_elapsed
    test = trainer.evaluate_test()
    train = _train_eval(trainer)
    summary = {
        "samples_per_s": trainer.samples_since(start_step) / seconds if seconds > 0 else 0.0,
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "train": _terms(train),
        "test": _terms(test),
        "device": str(trainer.device),
        "world_size": group.world,
        "out": str(args.out),
    }
    if diverged:
        summary["diverged"] = diverged
    if leader and args.json:
        _print_json(summary)
    elif leader:
        print(f"test elbo {test['elbo']:.3f} nats (recon {test['recon']:.3f}, kl {test['kl']:.3f}); "
              f"{summary['samples_per_s']:.0f} samples/s")
    return 1 if diverged else 0


def cmd_sweep(args) -> int:
    from tqdm import tqdm

    from trainer.data import load_dataset
    from trainer.training.reports import DivergedReport, EpochReport, StepReport
    from trainer.training.sweep import SUMMARY_NAME, Sweep, plan_runs, run_sweep

    for flag, value, ok in (("--jobs", args.jobs, args.jobs >= 1), ("--iwae-samples", args.iwae_samples, args.iwae_samples >= 0),
                            ("--save-every", args.save_every, math.isfinite(args.save_every) and args.save_every > 0)):
        if not ok:
            raise UsageError(f"{PROG} sweep: {flag} must be {'positive' if flag != '--iwae-samples' else '>= 0'}, got {value}")
    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        raise UsageError(f"{PROG} sweep: --out {args.out}: folder {out.resolve().parent} does not exist")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{PROG} sweep: --out {args.out} is a file, not a folder")
    # the data is drawn once, with the first seed (it only matters for sprites and single-file splits)
    dataset = load_dataset(_dataset_spec(args, None, seed=args.seed[0]), memory_budget=_budget(args))
    model_cfg, base = _new_configs(args, dataset, beta=args.beta[0], seed=args.seed[0], free_bits=args.free_bits[0],
                                   beta_schedule=args.beta_schedule[0])
    runs = plan_runs(base, args.beta, args.seed, args.free_bits, args.beta_schedule)
    out.mkdir(exist_ok=True)
    sweep = Sweep(model_cfg, runs, dataset, out, save_every_s=args.save_every * 60, iwae_samples=args.iwae_samples,
                  jobs=args.jobs)
    per_epoch = math.ceil(len(dataset.x_train) / args.batch_size)
    print(f"{PROG}: sweep of {len(runs)} runs on {dataset.describe()} into {out}", file=sys.stderr)

    bar = tqdm(total=len(runs) * args.epochs * per_epoch, unit="step", file=sys.stderr, dynamic_ncols=True,
               mininterval=_BAR_INTERVAL, desc="sweep")
    steps: dict[str, int] = {}
    stop: list[bool] = []

    def on_report(name, report) -> None:
        if isinstance(report, StepReport):
            steps[name] = report.step
            bar.update(sum(steps.values()) - bar.n)
            flying = [n for n, s in steps.items() if s < args.epochs * per_epoch]
            bar.set_postfix_str(", ".join(flying[:3]) + (f" +{len(flying) - 3}" if len(flying) > 3 else ""), refresh=False)
        elif isinstance(report, EpochReport):
            bar.write(f"{name} epoch {report.epoch}: test elbo {report.test_elbo:.2f} (D {report.test_recon:.2f}, "
                      f"R {report.test_kl:.2f}, active {report.active_units})", file=sys.stderr)
        elif isinstance(report, DivergedReport):
            bar.write(f"{PROG}: {name}: {report.message}", file=sys.stderr)

    def on_interrupt(signum, frame):
        if stop:
            raise KeyboardInterrupt  # a second Ctrl+C: stop now (the runs are still saved on the way out)
        stop.append(True)
        bar.write(f"{PROG}: stopping after this step; saving every run", file=sys.stderr)

    previous_handler = signal.signal(signal.SIGINT, on_interrupt)
    try:
        result = run_sweep(sweep, on_report=on_report, should_stop=lambda: bool(stop))
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        bar.close()
    summary = {"runs": [r.as_dict() for r in result.rows], "wall_s": result.wall_s,
               "samples_per_s": result.samples_per_s, "trained_samples": result.trained_samples,
               "summary": str(out / SUMMARY_NAME)}
    if args.json:
        _print_json(summary)
    else:
        print(f"{'run':<28} {'status':<10} {'steps':>7} {'R':>8} {'D':>9} {'ELBO':>9} {'active':>6}")
        for r in result.rows:
            numbers = " ".join(f"{v:>{w}.2f}" if math.isfinite(v) else f"{'-':>{w}}"
                               for v, w in ((r.rate, 8), (r.distortion, 9), (r.elbo, 9)))
            print(f"{r.run:<28} {r.status:<10} {r.steps:>7} {numbers} {r.active_units:>6}"
                  + (f"  {r.message}" if r.message else ""))
        print(f"{result.samples_per_s:.0f} training samples/s over all runs; summary in {out / SUMMARY_NAME}")
    if result.interrupted:
        return 130
    return 1 if any(r.status == "failed" for r in result.rows) else 0


def _train_eval(trainer) -> dict:
    from trainer.analysis.metrics import evaluate

    import torch

    g = torch.Generator().manual_seed(trainer.config.seed + 54321)
    y = trainer.dataset.y_train if trainer.model_config.conditional else None
    return evaluate(trainer.model, trainer.dataset.x_train, y, trainer.device, generator=g)


def cmd_eval(args) -> int:
    import torch
    from tqdm import tqdm

    from trainer.checkpoints.hdf5 import load_checkpoint
    from trainer.data import load_dataset
    from trainer.model.likelihood import LikelihoodMeaning, heldout_for_likelihood
    from trainer.training.devices import pick_device
    from trainer.analysis.metrics import dataset_mig, evaluate
    from trainer.model.vae import VAE

    if args.iwae_samples < 0:
        raise UsageError(f"{PROG} eval: --iwae-samples must be >= 0, got {args.iwae_samples}")
    ckpt = load_checkpoint(args.checkpoint)
    spec = _dataset_spec(args, ckpt.dataset, seed=ckpt.dataset.seed)
    dataset = load_dataset(spec, memory_budget=_budget(args))
    cfg = ckpt.model_config
    if tuple(dataset.input_shape) != tuple(cfg.input_shape):
        raise UsageError(f"{PROG} eval: {args.checkpoint} expects {tuple(cfg.input_shape)} images, "
                         f"{spec.describe()} has {tuple(dataset.input_shape)}")
    device = pick_device(args.device)
    model = VAE(cfg)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in ckpt.model_state.items()})
    model.to(device).eval()
    y = dataset.y_test if cfg.conditional else None
    x_test = heldout_for_likelihood(dataset, ckpt.train_config)
    meaning = LikelihoodMeaning.of(cfg, ckpt.train_config, x_test)
    with tqdm(total=len(x_test), unit="ex", file=sys.stderr, mininterval=_BAR_INTERVAL, desc="eval") as bar:
        result = evaluate(
            model, x_test, y, device,
            iwae_samples=args.iwae_samples,
            generator=torch.Generator().manual_seed(ckpt.train_config.seed + 12345),
            progress=lambda done, total: bar.update(done - bar.n),
        )
    if dataset.factors_test is not None:
        # disentanglement_lib's protocol: 10,000 points (held-out plus training), not just the held-out split
        result.update(dataset_mig(model, dataset, device))
    # the ELBO bounds, and IWAE estimates, log p(x) (log p(x|y) for a CVAE) only under a normalized likelihood
    result["likelihood_normalized"] = meaning.normalized
    result["marginal"] = meaning.marginal
    if args.json:
        _print_json(result)
    else:
        for key, value in result.items():
            if key == "kl_per_dim":
                value = " ".join(f"{v:.2f}" for v in value)
            elif key == "mig_per_factor":
                value = "  ".join(f"{k} {'-' if v is None else f'{v:.4f}'}" for k, v in value.items())
            elif isinstance(value, float):
                value = f"{value:.4f}"
            print(f"{key:>14}: {value}")
        if meaning.note:
            print(f"note: {meaning.note}")
    return 0


def cmd_info(args) -> int:
    from trainer.checkpoints.hdf5 import read_info

    info = read_info(args.checkpoint)
    if args.json:
        _print_json(info)
    else:
        for key, value in info.items():
            print(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return 0


def cmd_convert(args) -> int:
    from tqdm import tqdm

    from trainer.data.image_folder import convert_image_folder

    out = Path(args.out)
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise UsageError(f"{out}: the output must be an HDF5 file (.h5 or .hdf5)")
    with tqdm(total=1.0, unit="", bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}", file=sys.stderr,
              mininterval=_BAR_INTERVAL) as bar:
        def progress(message: str, fraction: float) -> None:
            bar.n = round(fraction, 4)
            bar.set_description_str("decoding" if message.startswith("decoding") else "reading sizes", refresh=False)
            bar.set_postfix_str(message.removeprefix("decoding "), refresh=False)
            bar.refresh()

        summary = convert_image_folder(args.folder, out, size=args.image_size or None, mode=args.channels,
                                       strict=args.strict, progress=progress)
    print(f"{out}: {summary}", file=sys.stderr)
    if args.json:
        _print_json({"out": str(out), "summary": summary})
    return 0


COMMANDS = {"train": cmd_train, "sweep": cmd_sweep, "eval": cmd_eval, "info": cmd_info, "convert": cmd_convert}


def main(argv: list[str] | None = None) -> int:
    """Run one headless command; every project error becomes one line on stderr and exit status 2."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return COMMANDS[args.command](args)
    except VaeExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
