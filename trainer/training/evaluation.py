"""A checkpoint evaluated on its held-out data: what `vae-explorer eval` prints and `trainer.evaluate` returns.

    model = model_from_checkpoint(ckpt, device)                     # its network, eval mode, on the device
    result = evaluate_checkpoint(ckpt, dataset, model, device, iwae_samples=100)   # eval --json's dict
    gaps = checkpoint_gaps(ckpt, dataset, model, device, examples=100)            # eval --gaps --json's dict

The held-out set is scored as training scores it (binarized when training binarizes); every figure is in nats
per example, with `likelihood_normalized` and `marginal` saying whether they are log-likelihoods.
"""

from __future__ import annotations

from typing import Callable

import torch

from trainer.checkpoints.hdf5 import Checkpoint
from trainer.errors import ConfigError
from trainer.model.hierarchy import build_model
from trainer.model.likelihood import LikelihoodMeaning, heldout_for_likelihood

EVAL_SEED_OFFSET = 12345
"""Seeds an evaluation's noise from the run's training seed, so the same checkpoint gives the same numbers."""


def model_from_checkpoint(ckpt: Checkpoint, device="cpu"):
    """The checkpoint's network (a VAE or a HierarchicalVAE) with its weights, in eval mode, on `device`."""
    model = build_model(ckpt.model_config)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in ckpt.model_state.items()})
    return model.to(device).eval()


def check_data_fits(ckpt: Checkpoint, dataset, where: str = "") -> None:
    """A ConfigError unless the dataset's images have the shape the checkpoint's model takes."""
    if tuple(dataset.input_shape) != tuple(ckpt.model_config.input_shape):
        raise ConfigError(f"{where or 'the checkpoint'} expects {tuple(ckpt.model_config.input_shape)} images, "
                          f"{dataset.spec.describe()} has {tuple(dataset.input_shape)}")


def _meaning(ckpt: Checkpoint, x_test) -> dict:
    meaning = LikelihoodMeaning.of(ckpt.model_config, ckpt.train_config, x_test)
    return {"likelihood_normalized": meaning.normalized, "marginal": meaning.marginal}


def evaluate_checkpoint(ckpt: Checkpoint, dataset, model, device, iwae_samples: int = 0,
                        rate_split_points: int | None = 10_000, disentanglement: bool = False,
                        progress: Callable[[int, int], None] | None = None) -> dict:
    """Held-out ELBO terms, active units, IWAE (iwae_samples > 0), the rate split (rate_split_points, None or 0:
    skip), and on data with factors MIG (and DCI, SAP, FactorVAE with `disentanglement`): eval --json's keys."""
    from trainer.analysis.metrics import dataset_mig, evaluate

    if disentanglement and dataset.factors_test is None:
        raise ConfigError(f"--disentanglement needs data with ground-truth factors (sprites); "
                          f"{dataset.spec.describe()} has none")
    x_test = heldout_for_likelihood(dataset, ckpt.train_config)
    y = dataset.y_test if ckpt.model_config.conditional else None
    result = evaluate(model, x_test, y, device, iwae_samples=iwae_samples,
                      generator=torch.Generator().manual_seed(ckpt.train_config.seed + EVAL_SEED_OFFSET),
                      progress=progress, rate_split_points=rate_split_points or None)
    if dataset.factors_test is not None:
        # disentanglement_lib's protocol: 10,000 points (held-out plus training), not just the held-out split
        result.update(dataset_mig(model, dataset, device))
        if disentanglement:
            from trainer.analysis.disentanglement import dataset_disentanglement

            result.update(dataset_disentanglement(model, dataset, device))
    # the ELBO bounds, and IWAE estimates, log p(x) (log p(x|y) for a CVAE) only under a normalized likelihood
    result.update(_meaning(ckpt, x_test))
    return result


def checkpoint_gaps(ckpt: Checkpoint, dataset, model, device, examples: int = 100, svi_steps: int = 500,
                    iwae_samples: int = 1000, progress: Callable[[str, float], None] | None = None) -> dict:
    """The ELBO gap of the first `examples` held-out examples split by classical VI: eval --gaps --json's keys."""
    from trainer.analysis.inference_gaps import SviSettings, inference_gaps

    x_test = heldout_for_likelihood(dataset, ckpt.train_config)
    n = min(len(x_test), int(examples))
    y = dataset.y_test[:n] if ckpt.model_config.conditional else None
    result = inference_gaps(model, x_test[:n], y, device, SviSettings(max_steps=int(svi_steps)),
                            k=int(iwae_samples), seed=ckpt.train_config.seed + EVAL_SEED_OFFSET,
                            progress=progress).summary()
    result.update(_meaning(ckpt, x_test))
    return result
