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


def cmd_eval(args) -> int:
    import torch
    from tqdm import tqdm

    from trainer.checkpoints.hdf5 import load_checkpoint
    from trainer.data import load_dataset
    from trainer.model.likelihood import LikelihoodMeaning, heldout_for_likelihood
    from trainer.training.devices import pick_device
    from trainer.analysis.metrics import dataset_mig, evaluate
    from trainer.model.hierarchy import build_model

    if args.iwae_samples < 0:
        raise UsageError(f"{PROG} eval: --iwae-samples must be >= 0, got {args.iwae_samples}")
    if args.rate_split_points < 0 or args.rate_split_points == 1:
        raise UsageError(f"{PROG} eval: --rate-split-points must be 0 (skip) or >= 2, got {args.rate_split_points}")
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
    y = dataset.y_test if cfg.conditional else None
    x_test = heldout_for_likelihood(dataset, ckpt.train_config)
    meaning = LikelihoodMeaning.of(cfg, ckpt.train_config, x_test)
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

