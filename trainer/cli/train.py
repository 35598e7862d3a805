"""`vae-explorer train`: one run, saved every few minutes and at every epoch's end, resumable, torchrun-aware."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from trainer.cli.evaluate import train_split_terms
from trainer.cli.parser import (PROG, BAR_INTERVAL, UsageError, budget, check_tensorboard, dataset_spec, given_settings,
                                new_configs, print_json, recording, terms)

def cmd_train(args) -> int:
    from trainer.training.distributed import join, leave

    out_dir = Path(args.out).resolve().parent
    if not out_dir.is_dir():
        # checked before training, so a typo in --out never throws a finished run away
        raise UsageError(f"{PROG} train: --out {args.out}: folder {out_dir} does not exist")
    check_tensorboard(args, "train")  # at once: not after the data is read and the model built
    group = join(args.device)  # torchrun's workers join their process group; a plain process stays alone
    try:
        return _train(args, group)
    finally:
        leave(group)


def _train(args, group) -> int:
    trainer, resume, loaded_at = _open_run(args, group)
    if group.leader:  # rank 0 prints and writes; every rank trains
        from trainer.cli.files import print_notes  # what the loader left out (an image folder's bombs)
        print_notes(trainer.dataset)
        where = f"{trainer.device}" + (f", {group.world} processes" if group.active else "")
        print(f"{PROG}: {trainer.dataset.describe()} on {where}" + (f", resumed from {resume}" if resume else ""),
              file=sys.stderr)
    start_step, start_elapsed = trainer.step, trainer.elapsed_s
    diverged = _train_and_save(args, trainer, group)
    wall_s = time.perf_counter() - loaded_at  # from the data loaded to the last checkpoint written
    if group.leader:
        print(f"{PROG}: wrote {args.out} (step {trainer.step}, epoch {trainer.epoch})", file=sys.stderr)
    return _report(args, trainer, group, start_step, start_elapsed, diverged, wall_s)


def _open_run(args, group):
    """(the Trainer, the checkpoint path it resumes or None): from --resume, or fresh from the arguments; either
    way through trainer.training.opening, whose rule says what a resume may change."""
    from trainer.checkpoints.hdf5 import load_checkpoint
    from trainer.data import load_dataset
    from trainer.training.distributed import restarted_by_torchrun
    from trainer.training.opening import open_trainer

    resume = args.resume
    if restarted_by_torchrun() and Path(args.out).is_file():
        resume = args.out  # torchrun restarted the group after a failure: go on from the last save
    ckpt = load_checkpoint(resume) if resume else None
    chosen = _protocol(args, ckpt)
    spec = dataset_spec(args, ckpt.dataset if ckpt else None, seed=args.split_seed)
    dataset = load_dataset(spec, memory_budget=budget(args))
    loaded_at = time.perf_counter()
    if ckpt is None and chosen is not None:
        from trainer.comparability.protocols import check_protocol_data, protocol_settings
        from trainer.errors import ConfigError

        try:
            check_protocol_data(chosen, dataset, where=spec.data_dir or spec.name)
            settings = protocol_settings(chosen, {**given_settings(args), **recording(args), "epochs": args.epochs,
                                                  "device": args.device, "precision": args.precision,
                                                  "compile": args.compile or None})
        except ConfigError as exc:
            raise UsageError(f"{PROG} train: --protocol {chosen.name}: {exc}") from None
        trainer = open_trainer(dataset, on_divergence="stop", group=group, **settings)
    elif ckpt is None:
        model_cfg, train_cfg = new_configs(args, dataset)
        trainer = open_trainer(dataset, model=model_cfg, train=train_cfg, on_divergence="stop", group=group)
    else:
        named = {**given_settings(args), **recording(args), "epochs": args.epochs, "device": args.device,
                 "compile": args.compile}
        if args.precision:
            named["precision"] = args.precision
        trainer = open_trainer(dataset, checkpoint=ckpt, where=str(resume), on_divergence="stop", group=group,
                               **named)
    return trainer, resume, loaded_at


def _protocol(args, ckpt):
    """The --protocol a fresh run follows (None: none), with --epochs and --dataset resolved against it: --epochs
    defaults to the protocol's (else 10), --dataset to its row's; a resume keeps the checkpoint's own protocol."""
    from trainer.comparability.protocols import protocol
    from trainer.errors import ConfigError

    if not args.protocol or ckpt is not None:
        if args.protocol and args.protocol != ckpt.train_config.protocol:
            raise UsageError(f"{PROG} train: --protocol {args.protocol}: a resume keeps {args.resume}'s protocol "
                             f"({ckpt.train_config.protocol or 'none'})")
        args.epochs = 10 if args.epochs is None else args.epochs
        return None
    try:
        chosen = protocol(args.protocol)
    except ConfigError as exc:
        raise UsageError(f"{PROG} train: --protocol: {exc}") from None
    if args.dataset not in (None, chosen.row.dataset):
        raise UsageError(f"{PROG} train: --protocol {chosen.name} trains on {chosen.row.dataset}, not --dataset "
                         f"{args.dataset}")
    args.dataset = chosen.row.dataset
    args.epochs = chosen.settings["epochs"] if args.epochs is None else args.epochs
    return chosen


def _epoch_line(trainer, report) -> str:
    """What an epoch's end prints: the train ELBO (and an IWAE run's bound, its loss) and the held-out terms."""
    bound = (f"train IWAE-{trainer.samples_per_example} bound {-report.train_loss:.2f}  "
             if trainer.config.objective == "iwae" else "")
    held = trainer.dataset.heldout  # test, or a source's own validation split (binarized-mnist)
    return (f"epoch {report.epoch}: {bound}train elbo {report.train_elbo:.2f}  {held} elbo {report.test_elbo:.2f}"
            f"  (recon {report.test_recon:.2f}, kl {report.test_kl:.2f}, active units {report.active_units})")


def _train_and_save(args, trainer, group) -> str | None:
    """Train to the configured epochs (or Ctrl+C), saving on schedule and at the end; the divergence message."""
    from tqdm import tqdm

    from trainer.checkpoints.hdf5 import save_checkpoint
    from trainer.training.reports import DivergedReport, EpochReport, StepReport

    leader = group.leader

    def say(text: str) -> None:
        if leader:
            bar.write(text, file=sys.stderr)

    def save() -> None:
        # every rank calls it (the generator states are gathered); whatever went wrong, the file is whole
        ckpt = trainer.checkpoint()
        if leader:
            save_checkpoint(args.out, ckpt)

    total = trainer.config.epochs * trainer.steps_per_epoch
    diverged = None
    bar = tqdm(total=total, initial=min(trainer.step, total), unit="step", file=sys.stderr, dynamic_ncols=True,
               mininterval=BAR_INTERVAL, desc="train", disable=not leader)
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
    log = None
    try:
        if args.tensorboard and leader:
            from trainer.training.tensorboard import TensorBoardLog

            log = TensorBoardLog(args.tensorboard, Path(args.out).stem, trainer)
        for report in trainer.run():
            if log is not None:
                log.add(report)
            if isinstance(report, StepReport):
                bar.update(report.step - bar.n)
                bar.set_postfix(epoch=report.epoch + 1, beta=f"{report.beta:.3g}", recon=f"{report.recon:.1f}",
                                kl=f"{report.kl:.2f}", refresh=False)
                # a rank's clock decides, and every rank hears of it in the same report: they save together
                if group.any(time.monotonic() - last_save >= save_every_s, trainer.device):
                    save()
                    last_save = time.monotonic()
            elif isinstance(report, EpochReport):
                say(_epoch_line(trainer, report))
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
        if log is not None:
            log.close(finished=trainer.finished)
        if finished or not group.active:
            # whatever happened, the steps already trained are written (atomically) before we leave
            save()
    return diverged


def _report(args, trainer, group, start_step: int, start_elapsed: float, diverged: str | None,
            wall_s: float) -> int:
    """The run's held-out and training ELBO and speed: one JSON object (--json) or one line; 1 if it diverged."""
    from trainer.model.likelihood import heldout_binarization

    seconds = trainer.elapsed_s - start_elapsed
    samples = trainer.samples_since(start_step)
    # the evaluation that closed the last epoch scored these weights with the same seed: reused when there is one
    test = trainer.closing_evaluation() or trainer.evaluate_test()
    train = train_split_terms(trainer)
    summary = {
        "wall_s": wall_s,
        "samples_per_s": samples / wall_s if wall_s > 0 else 0.0,
        "train_samples_per_s": samples / seconds if seconds > 0 else 0.0,
        "epochs": trainer.epoch,
        "steps": trainer.step,
        "train": terms(train),
        "test": terms(test),
        "heldout_split": trainer.dataset.heldout,
        "test_binarization": heldout_binarization(trainer.dataset, trainer.config),
        "protocol": trainer.config.protocol,
        "device": str(trainer.device),
        "world_size": group.world,
        "out": str(args.out),
    }
    if diverged:
        summary["diverged"] = diverged
    if group.leader and args.json:
        print_json(summary)
    elif group.leader:
        print(f"{trainer.dataset.heldout} elbo {test['elbo']:.3f} nats (recon {test['recon']:.3f}, "
              f"kl {test['kl']:.3f}); {summary['samples_per_s']:.0f} samples/s")
    return 1 if diverged else 0
