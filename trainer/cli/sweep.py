"""`vae-explorer sweep`: many runs (β × seed × free bits × schedule), a summary table and the RD frontier."""

from __future__ import annotations

import math
import signal
import sys
from pathlib import Path

from trainer.cli.parser import (PROG, BAR_INTERVAL, UsageError, budget, check_tensorboard, dataset_spec, new_configs,
                                print_json)

def cmd_sweep(args) -> int:
    from tqdm import tqdm

    from trainer.data import load_dataset
    from trainer.training.reports import DivergedReport, EpochReport, StepReport
    from trainer.training.sweep import SUMMARY_NAME, Sweep, plan_runs, run_sweep
    from trainer.training.sweep_summary import OVER_SEEDS_NAME, over_seeds

    check_tensorboard(args, "sweep")  # at once: not after the data is read and the model built
    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        raise UsageError(f"{PROG} sweep: --out {args.out}: folder {out.resolve().parent} does not exist")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{PROG} sweep: --out {args.out} is a file, not a folder")
    # the data is drawn once, from the split seed: every run sees the data `train` with its seed would see
    dataset = load_dataset(dataset_spec(args, None, seed=args.split_seed), memory_budget=budget(args))
    from trainer.cli.files import print_notes  # what the loader left out (an image folder's bombs)
    print_notes(dataset)
    model_cfg, base = new_configs(args, dataset, sweep=True)
    runs = plan_runs(base, args.beta, args.seed, args.free_bits, args.beta_schedule, args.objective, args.iwae_k)
    out.mkdir(exist_ok=True)
    sweep = Sweep(model_cfg, runs, dataset, out, save_every_s=args.save_every * 60, iwae_samples=args.iwae_samples,
                  disentanglement_points=args.disentanglement_points if args.disentanglement else 0,
                  jobs=args.jobs, gap_examples=args.gap_examples, tensorboard=args.tensorboard)
    per_epoch = math.ceil(len(dataset.x_train) / base.batch_size)
    print(f"{PROG}: sweep of {len(runs)} runs on {dataset.describe()} into {out}", file=sys.stderr)

    bar = tqdm(total=len(runs) * args.epochs * per_epoch, unit="step", file=sys.stderr, dynamic_ncols=True,
               mininterval=BAR_INTERVAL, desc="sweep")
    steps: dict[str, int] = {}
    stop: list[bool] = []

    def on_report(name, report) -> None:
        if isinstance(report, StepReport):
            steps[name] = report.step
            bar.update(sum(steps.values()) - bar.n)
            flying = [n for n, s in steps.items() if s < args.epochs * per_epoch]
            bar.set_postfix_str(", ".join(flying[:3]) + (f" +{len(flying) - 3}" if len(flying) > 3 else ""),
                                refresh=False)
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
               "summary": str(out / SUMMARY_NAME), "over_seeds": over_seeds(result.rows),
               "summary_over_seeds": str(out / OVER_SEEDS_NAME)}
    if args.json:
        print_json(summary)
    else:
        print(f"{'run':<28} {'status':<10} {'steps':>7} {'R':>8} {'D':>9} {'ELBO':>9} {'active':>6}")
        for r in result.rows:
            numbers = " ".join(f"{v:>{w}.2f}" if math.isfinite(v) else f"{'-':>{w}}"
                               for v, w in ((r.rate, 8), (r.distortion, 9), (r.elbo, 9)))
            print(f"{r.run:<28} {r.status:<10} {r.steps:>7} {numbers} {r.active_units:>6}"
                  + (f"  {r.message}" if r.message else ""))
        print(f"{result.samples_per_s:.0f} training samples/s over all runs; summary in {out / SUMMARY_NAME}, "
              f"means over seeds in {out / OVER_SEEDS_NAME}")
    if result.interrupted:
        return 130
    return 1 if any(r.status == "failed" for r in result.rows) else 0

