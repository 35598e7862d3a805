"""`vae-explorer eval`: a checkpoint's held-out ELBO, IWAE bound and (for labelled factors) MIG."""

from __future__ import annotations

import dataclasses
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
    split = getattr(args, "split", "test")
    # eval scores the test split unless told otherwise; training held out the validation split, where there is one
    heldout = split if split == "valid" or spec.name == "binarized-mnist" else "auto"
    try:
        spec = dataclasses.replace(spec, heldout=heldout)
        spec.validate()
    except ConfigError as exc:
        raise UsageError(f"{PROG} eval: --split {split}: {exc}") from None
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
    # the split ran its own AIS (from q*): --ais adds nothing to it, --bdmc its sandwich
    result = _with_ais(args, result, ckpt, dataset, model, device, held_out=False)
    if args.json:
        print_json(result)
        return 0
    ais = (f", AIS from q*: {result['ais_steps']:,} steps x {result['ais_chains']} chains"
           if "ais_steps" in result else "")
    print(f"{result['n']} held-out examples, IWAE K={k}{ais}, classical VI: {result['svi_steps']:.0f} Adam steps "
          f"of {result['svi_samples']} samples (at most {result['svi_max_steps']})")
    rows = (("ELBO, encoder's q", "elbo_encoder"), ("ELBO, optimized q*", "elbo_optimized"),
            (f"{result['marginal']} ({result['log_px_estimator']})", "log_px"),
            ("amortization gap", "amortization_gap"), ("approximation gap", "approximation_gap"))
    for label, key in rows:
        print(f"{label:>22}: {result[key]:10.3f} ± {result[key + '_se']:.3f} nats")
    estimates = [("iwae-encoder", "log_px_encoder_proposal"), ("iwae-optimized", "log_px_optimized_proposal"),
                 ("ais", "log_px_ais")]
    print(f"{'estimates':>22}: " + ", ".join(f"{name} {result[key]:.3f}" for name, key in estimates if key in result)
          + " (each a stochastic lower bound; the largest is used)")
    print(f"{'per example':>22}: amortized {1e3 * result['seconds_per_example_amortized']:.3f} ms, "
          f"classical {1e3 * result['seconds_per_example_classical']:.1f} ms")
    _print_sandwich(result)
    _print_note(result, ckpt, dataset)
    return 0


def _with_ais(args, result: dict, ckpt, dataset, model, device, held_out: bool) -> dict:
    """result with eval's AIS figures (--ais, on the held-out set when `held_out`) and BDMC's (--bdmc), each
    behind its own bar; every figure checked finite."""
    from tqdm import tqdm

    from trainer.analysis.marginal_likelihood import ais_figures
    from trainer.config import EvalOptions
    from trainer.errors import ConfigError
    from trainer.training.evaluation import EVAL_SEED_OFFSET, check_finite_result

    options = EvalOptions(ais=bool(args.ais and held_out), ais_examples=args.ais_examples, bdmc=args.bdmc,
                          bdmc_examples=args.bdmc_examples, ais_steps=args.ais_steps, ais_chains=args.ais_chains,
                          ais_leapfrog=args.ais_leapfrog)
    if not (options.ais or options.bdmc):
        return result
    what = " + ".join(name for name, on in (("ais", options.ais), ("bdmc", options.bdmc)) if on)
    with tqdm(total=1000, unit="‰", file=sys.stderr, mininterval=BAR_INTERVAL, desc=what) as bar:
        def progress(message: str, fraction: float) -> None:
            bar.set_postfix_str(message, refresh=False)
            bar.update(int(1000 * fraction) - bar.n)

        try:
            figures = ais_figures(ckpt, dataset, model, device, options,
                                  seed=ckpt.train_config.seed + EVAL_SEED_OFFSET, progress=progress)
        except ConfigError as exc:
            raise UsageError(f"{PROG} eval: {exc}") from None
    return check_finite_result({**result, **figures}, ckpt, args.checkpoint)


def _print_sandwich(result: dict) -> None:
    """What AIS's and BDMC's figures are, in a line each, when they were asked for."""
    if "bdmc_lower" in result:
        print(f"{'BDMC, simulated x':>22}: {result['bdmc_lower']:.3f} ± {result['bdmc_lower_se']:.3f} <= log p(x) "
              f"<= {result['bdmc_upper']:.3f} ± {result['bdmc_upper_se']:.3f} nats on {result['bdmc_examples']} "
              f"examples the model simulated (sandwich {result['bdmc_gap']:.3f} ± {result['bdmc_gap_se']:.3f}: "
              f"AIS of {result['bdmc_steps']:,} steps may fall that far below log p(x) on data like the model's)")


def _print_note(result: dict, ckpt, dataset) -> None:
    """The one sentence that says why the figures are no log-likelihoods, when they are not; and the one that
    says the rate split's I(X; Z) is short of the true value, when it is near its ceiling or still climbing."""
    from trainer.analysis.rate_split import ceiling_note

    if ceiling_note(result.get("rate_split") or {}):
        print(f"note: {ceiling_note(result['rate_split'])}")
    if not result["likelihood_normalized"]:
        from trainer.model.likelihood import LikelihoodMeaning, heldout_for_likelihood

        x_test = heldout_for_likelihood(dataset, ckpt.train_config)
        print(f"note: {LikelihoodMeaning.of(ckpt.model_config, ckpt.train_config, x_test).note}")


def cmd_eval(args) -> int:
    from tqdm import tqdm

    from trainer.errors import ConfigError
    from trainer.training.evaluation import comparison, evaluate_checkpoint, protocol_k

    if args.iwae_samples is not None and args.iwae_samples < 0:
        raise UsageError(f"{PROG} eval: --iwae-samples must be >= 0, got {args.iwae_samples}")
    if args.gaps:
        return cmd_gaps(args)
    if args.rate_split_points < 0 or args.rate_split_points == 1:
        raise UsageError(f"{PROG} eval: --rate-split-points must be 0 (skip) or >= 2, got {args.rate_split_points}")
    ckpt, dataset, model, device = _loaded(args)
    try:
        k = protocol_k(ckpt.train_config, args.iwae_samples, where=args.checkpoint)
    except ConfigError as exc:
        raise UsageError(f"{PROG} eval: {exc} (--iwae-samples)") from None
    # per mille, not examples: with many IWAE samples the bar moves within an example too
    with tqdm(total=1000, unit="‰", file=sys.stderr, mininterval=BAR_INTERVAL, desc="eval") as bar:
        def progress(done: float, total: int) -> None:
            bar.set_postfix_str(f"{int(done):,} / {total:,} examples", refresh=False)
            bar.update(int(1000 * done / max(total, 1)) - bar.n)

        try:
            result = evaluate_checkpoint(ckpt, dataset, model, device, iwae_samples=k,
                                         rate_split_points=args.rate_split_points,
                                         disentanglement=args.disentanglement,
                                         disentanglement_points=args.disentanglement_points, progress=progress,
                                         where=args.checkpoint)
        except ConfigError as exc:
            raise UsageError(f"{PROG} eval: {exc}") from None
    result = _with_ais(args, result, ckpt, dataset, model, device, held_out=True)
    result.update(comparison(ckpt, dataset, result, k, epochs=int(ckpt.progress.get("epoch", 0))))
    if args.json:
        print_json(result)
    else:
        for key, value in result.items():
            if key in ("comparable_to", "not_comparable"):
                continue  # _print_comparison says them
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
        if "log_px_ais" in result:
            print(f"note: log_px_ais is AIS from the prior ({result['ais_steps']:,} steps x {result['ais_chains']} "
                  f"chains x {result['ais_leapfrog']} leapfrog) on {result['ais_examples']} held-out examples: a "
                  f"stochastic lower bound on log p(x); _se is over the examples, _mc_se the chains' share of it")
        _print_sandwich(result)
        _print_note(result, ckpt, dataset)
        _print_comparison(result)
    return 0


def _print_comparison(result: dict) -> None:
    """The published rows beside the figure, or why none is."""
    if result["not_comparable"]:
        print(f"not comparable with published figures: {result['not_comparable']}")
    for c in result["comparable_to"]:
        differs = "; ".join(c["differs"]) or "the row's model and objective"
        print(f"comparable: {c['protocol']} ({c['row']}): published {c['figure']:.2f}, ours {c['ours']:.2f} ± "
              f"{c['ours_se']:.2f}, delta {c['delta']:+.2f} nats; epochs ours {c['epochs']['ours']:,}, the row's "
              f"{c['epochs']['row']:,}; {differs}")

