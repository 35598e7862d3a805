"""`vae-explorer eval`: a checkpoint's held-out ELBO, IWAE bound and (for labelled factors) MIG."""

from __future__ import annotations

import sys

from trainer.cli.parser import PROG, BAR_INTERVAL, UsageError, budget, dataset_spec, print_json


def train_split_terms(trainer) -> dict:
    from trainer.analysis.metrics import evaluate

    import torch

    g = torch.Generator().manual_seed(trainer.config.seed + 54321)
    y = trainer.dataset.y_train if trainer.model_config.conditional else None
    return evaluate(trainer.model, trainer.dataset.x_train, y, trainer.device, generator=g)


def _loaded(args):
    """(checkpoint, dataset, model on its device in eval mode, device) for a command line naming a checkpoint."""
    from trainer.checkpoints.hdf5 import load_checkpoint
    from trainer.data import load_dataset
    from trainer.errors import ConfigError
    from trainer.training.devices import pick_device
    from trainer.training.evaluation import check_data_fits, model_from_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    spec = dataset_spec(args, ckpt.dataset, seed=ckpt.dataset.seed)
    dataset = load_dataset(spec, memory_budget=budget(args))
    from trainer.cli.files import print_notes  # what the loader left out (an image folder's bombs)
    print_notes(dataset)
    try:
        check_data_fits(ckpt, dataset, args.checkpoint)
    except ConfigError as exc:
        raise UsageError(f"{PROG} eval: {exc}") from None
    device = pick_device(args.device)
    return ckpt, dataset, model_from_checkpoint(ckpt, device, where=args.checkpoint), device


GAP_EXAMPLES = 100
"""Held-out examples `eval --gaps` optimizes when --limit does not say: classical VI costs hundreds of decoder
passes per example, so the whole set would take hours on a CPU."""


def cmd_gaps(args) -> int:
    """`eval --gaps`: the ELBO gap of the first --limit held-out examples, split by classical VI."""
    from tqdm import tqdm

    from trainer.training.evaluation import checkpoint_gaps

    if args.svi_steps < 0:
        raise UsageError(f"{PROG} eval: --svi-steps must be >= 0, got {args.svi_steps}")
    ckpt, dataset, model, device = _loaded(args)
    k = args.iwae_samples or 1000
    with tqdm(total=1000, unit="‰", file=sys.stderr, mininterval=BAR_INTERVAL, desc="gaps") as bar:
        def progress(message: str, fraction: float) -> None:
            bar.set_postfix_str(message, refresh=False)
            bar.update(int(1000 * fraction) - bar.n)

        result = checkpoint_gaps(ckpt, dataset, model, device, examples=args.limit or GAP_EXAMPLES,
                                 svi_steps=args.svi_steps, iwae_samples=k, progress=progress,
                                 where=args.checkpoint)
    if args.json:
        print_json(result)
        return 0
    print(f"{result['n']} held-out examples, IWAE K={k}, classical VI: {result['svi_steps']:.0f} Adam steps "
          f"of {result['svi_samples']} samples (at most {result['svi_max_steps']})")
    rows = (("ELBO, encoder's q", "elbo_encoder"), ("ELBO, optimized q*", "elbo_optimized"),
            (f"{result['marginal']} (IWAE)", "log_px"), ("amortization gap", "amortization_gap"),
            ("approximation gap", "approximation_gap"))
    for label, key in rows:
        print(f"{label:>22}: {result[key]:10.3f} ± {result[key + '_se']:.3f} nats")
    print(f"{'per example':>22}: amortized {1e3 * result['seconds_per_example_amortized']:.3f} ms, "
          f"classical {1e3 * result['seconds_per_example_classical']:.1f} ms")
    _print_note(result, ckpt, dataset)
    return 0


def _print_note(result: dict, ckpt, dataset) -> None:
    """The one sentence that says why the figures are no log-likelihoods, when they are not."""
    if not result["likelihood_normalized"]:
        from trainer.model.likelihood import LikelihoodMeaning, heldout_for_likelihood

        x_test = heldout_for_likelihood(dataset, ckpt.train_config)
        print(f"note: {LikelihoodMeaning.of(ckpt.model_config, ckpt.train_config, x_test).note}")


def cmd_eval(args) -> int:
    from tqdm import tqdm

    from trainer.errors import ConfigError
    from trainer.training.evaluation import evaluate_checkpoint

    if args.iwae_samples < 0:
        raise UsageError(f"{PROG} eval: --iwae-samples must be >= 0, got {args.iwae_samples}")
    if args.gaps:
        return cmd_gaps(args)
    if args.rate_split_points < 0 or args.rate_split_points == 1:
        raise UsageError(f"{PROG} eval: --rate-split-points must be 0 (skip) or >= 2, got {args.rate_split_points}")
    ckpt, dataset, model, device = _loaded(args)
    # per mille, not examples: with many IWAE samples the bar moves within an example too
    with tqdm(total=1000, unit="‰", file=sys.stderr, mininterval=BAR_INTERVAL, desc="eval") as bar:
        def progress(done: float, total: int) -> None:
            bar.set_postfix_str(f"{int(done):,} / {total:,} examples", refresh=False)
            bar.update(int(1000 * done / max(total, 1)) - bar.n)

        try:
            result = evaluate_checkpoint(ckpt, dataset, model, device, iwae_samples=args.iwae_samples,
                                         rate_split_points=args.rate_split_points,
                                         disentanglement=args.disentanglement, progress=progress,
                                         where=args.checkpoint)
        except ConfigError as exc:
            raise UsageError(f"{PROG} eval: {exc}") from None
    if args.json:
        print_json(result)
    else:
        for key, value in result.items():
            if key == "kl_per_dim":
                value = " ".join(f"{v:.2f}" for v in value)
            elif key == "rate_split":
                value = "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()
                                  if k != "layers")
            elif key == "kl_per_layer":
                value = " ".join(f"{v:.2f}" for v in value) + "  (bottom first)"
            elif key == "mig_per_factor":
                value = "  ".join(f"{k} {'-' if v is None else f'{v:.4f}'}" for k, v in value.items())
            elif isinstance(value, float):
                value = f"{value:.4f}"
            print(f"{key:>14}: {value}")
        _print_note(result, ckpt, dataset)
    return 0

