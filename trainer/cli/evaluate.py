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
    """(checkpoint, dataset, model on its device in eval mode, device, held-out x as scored, its
    LikelihoodMeaning) for a command line naming a checkpoint."""
    import torch

    from trainer.checkpoints.hdf5 import load_checkpoint
    from trainer.data import load_dataset
    from trainer.model.hierarchy import build_model
    from trainer.model.likelihood import LikelihoodMeaning, heldout_for_likelihood
    from trainer.training.devices import pick_device

    ckpt = load_checkpoint(args.checkpoint)
    spec = dataset_spec(args, ckpt.dataset, seed=ckpt.dataset.seed)
    dataset = load_dataset(spec, memory_budget=budget(args))
    cfg = ckpt.model_config
    if tuple(dataset.input_shape) != tuple(cfg.input_shape):
        raise UsageError(f"{PROG} eval: {args.checkpoint} expects {tuple(cfg.input_shape)} images, "
                         f"{spec.describe()} has {tuple(dataset.input_shape)}")
    device = pick_device(args.device)
    model = build_model(cfg)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in ckpt.model_state.items()})
    model.to(device).eval()
    x_test = heldout_for_likelihood(dataset, ckpt.train_config)
    return ckpt, dataset, spec, model, device, x_test, LikelihoodMeaning.of(cfg, ckpt.train_config, x_test)


GAP_EXAMPLES = 100
"""Held-out examples `eval --gaps` optimizes when --limit does not say: classical VI costs hundreds of decoder
passes per example, so the whole set would take hours on a CPU."""


def cmd_gaps(args) -> int:
    """`eval --gaps`: the ELBO gap of the first --limit held-out examples, split by classical VI."""
    from tqdm import tqdm

    from trainer.analysis.inference_gaps import SviSettings, inference_gaps

    if args.svi_steps < 0:
        raise UsageError(f"{PROG} eval: --svi-steps must be >= 0, got {args.svi_steps}")
    ckpt, dataset, _, model, device, x_test, meaning = _loaded(args)
    n = min(len(x_test), args.limit or GAP_EXAMPLES)
    y = dataset.y_test[:n] if ckpt.model_config.conditional else None
    k = args.iwae_samples or 1000
    with tqdm(total=1000, unit="‰", file=sys.stderr, mininterval=BAR_INTERVAL, desc="gaps") as bar:
        def progress(message: str, fraction: float) -> None:
            bar.set_postfix_str(message, refresh=False)
            bar.update(int(1000 * fraction) - bar.n)

        result = inference_gaps(model, x_test[:n], y, device, SviSettings(max_steps=args.svi_steps), k=k,
                                seed=ckpt.train_config.seed + 12345, progress=progress).summary()
    result["likelihood_normalized"] = meaning.normalized
    result["marginal"] = meaning.marginal
    if args.json:
        print_json(result)
        return 0
    print(f"{result['n']} held-out examples, IWAE K={k}, classical VI: {result['svi_steps']:.0f} Adam steps "
          f"of {result['svi_samples']} samples (at most {result['svi_max_steps']})")
    rows = (("ELBO, encoder's q", "elbo_encoder"), ("ELBO, optimized q*", "elbo_optimized"),
            (f"{meaning.marginal} (IWAE)", "log_px"), ("amortization gap", "amortization_gap"),
            ("approximation gap", "approximation_gap"))
    for label, key in rows:
        print(f"{label:>22}: {result[key]:10.3f} ± {result[key + '_se']:.3f} nats")
    print(f"{'per example':>22}: amortized {1e3 * result['seconds_per_example_amortized']:.3f} ms, "
          f"classical {1e3 * result['seconds_per_example_classical']:.1f} ms")
    if meaning.note:
        print(f"note: {meaning.note}")
    return 0


def cmd_eval(args) -> int:
    import torch
    from tqdm import tqdm

    from trainer.analysis.metrics import dataset_mig, evaluate

    if args.iwae_samples < 0:
        raise UsageError(f"{PROG} eval: --iwae-samples must be >= 0, got {args.iwae_samples}")
    if args.gaps:
        return cmd_gaps(args)
    if args.rate_split_points < 0 or args.rate_split_points == 1:
        raise UsageError(f"{PROG} eval: --rate-split-points must be 0 (skip) or >= 2, got {args.rate_split_points}")
    ckpt, dataset, spec, model, device, x_test, meaning = _loaded(args)
    y = dataset.y_test if ckpt.model_config.conditional else None
    with tqdm(total=len(x_test), unit="ex", file=sys.stderr, mininterval=BAR_INTERVAL, desc="eval") as bar:
        result = evaluate(
            model, x_test, y, device,
            iwae_samples=args.iwae_samples,
            generator=torch.Generator().manual_seed(ckpt.train_config.seed + 12345),
            progress=lambda done, total: bar.update(done - bar.n),
            rate_split_points=args.rate_split_points or None,
        )
    if dataset.factors_test is not None:
        # disentanglement_lib's protocol: 10,000 points (held-out plus training), not just the held-out split
        result.update(dataset_mig(model, dataset, device))
        if args.disentanglement:
            from trainer.analysis.disentanglement import dataset_disentanglement

            result.update(dataset_disentanglement(model, dataset, device))
    elif args.disentanglement:
        raise UsageError(f"{PROG} eval: --disentanglement needs data with ground-truth factors (sprites); "
                         f"{spec.describe()} has none")
    # the ELBO bounds, and IWAE estimates, log p(x) (log p(x|y) for a CVAE) only under a normalized likelihood
    result["likelihood_normalized"] = meaning.normalized
    result["marginal"] = meaning.marginal
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
        if meaning.note:
            print(f"note: {meaning.note}")
    return 0

