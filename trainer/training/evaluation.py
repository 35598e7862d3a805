"""A checkpoint evaluated on its held-out data: what `vae-explorer eval` prints and `trainer.evaluate` returns.

    model = model_from_checkpoint(ckpt, device, where=path)         # its network, eval mode, on the device
    result = evaluate_checkpoint(ckpt, dataset, model, device, iwae_samples=100, where=path)  # eval --json's dict
    gaps = checkpoint_gaps(ckpt, dataset, model, device, examples=100, where=path)  # eval --gaps --json's dict

The held-out set is scored as training scores it (binarized when training binarizes); every figure is in nats
per example, with `likelihood_normalized` and `marginal` saying whether they are log-likelihoods.

A figure is never NaN or infinite: weights that load (finite) but overflow in the network are refused when the
network is built (probe_network), and a result with a figure that is not finite is an error naming `where` and
the figure (check_finite_result), never a number. A metric undefined on the data is None (MIG's constant factors).
"""

from __future__ import annotations

import math
import numbers
from typing import Callable

import torch

from trainer.checkpoints.hdf5 import Checkpoint
from trainer.config import DISENTANGLEMENT_POINTS, RATE_SPLIT_POINTS, TrainConfig
from trainer.errors import CheckpointError, ConfigError
from trainer.model.hierarchy import build_model
from trainer.model.likelihood import LikelihoodMeaning, heldout_for_likelihood
from trainer.model.vae import eval_mode

EVAL_SEED_OFFSET = 12345
"""Seeds an evaluation's noise from the run's training seed, so the same checkpoint gives the same numbers."""


def model_from_checkpoint(ckpt: Checkpoint, device="cpu", where: str = ""):
    """The checkpoint's network (a VAE or a HierarchicalVAE) with its weights, in eval mode, on `device`.

    A network whose outputs are not finite (weights that load, but overflow: probe_network) is a CheckpointError
    naming `where` (the file), so no caller evaluates or hands out a network that only gives NaN."""
    model = build_model(ckpt.model_config)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in ckpt.model_state.items()})
    model = model.to(device).eval()
    check_network(model, ckpt.model_config, where)
    return model


def check_network(model, config, where: str = "") -> None:
    """A CheckpointError naming `where` (the file) when the network's outputs are not finite (probe_network), in
    eval mode for the probe and then in whatever mode it was: loading and resuming both ask it."""
    with eval_mode(model):
        problem = probe_network(model, config)
    if problem:
        raise CheckpointError(f"{where or 'the checkpoint'}: the weights are finite but the network's outputs are "
                              f"not ({problem}): the weights are corrupt or the run diverged")


@torch.no_grad()
def probe_network(model, config) -> str:
    """'' when a tiny forward pass gives finite numbers, else which output did not: a grey image batch of the
    model's input shape encoded (a CVAE: with label 0), its mean decoded and scored, and z = 0 decoded."""
    device = next(model.parameters()).device
    x = torch.full((2, *config.input_shape), 0.5, device=device)
    y = torch.zeros(2, dtype=torch.long, device=device) if config.conditional else None
    mu, logvar = model.encode(x, y)
    params = model.decode(mu, y)
    outputs = {"the encoder's mu for a grey image": mu, "its log-variance": logvar,
               "the decoder's output at mu": params, "the log-likelihood there": model.log_likelihood(x, params),
               "the decoder's output at z = 0": model.decode(torch.zeros_like(mu), y)}
    for what, values in outputs.items():
        if not bool(torch.isfinite(values).all()):
            return f"{what} has {'NaN' if bool(torch.isnan(values).any()) else 'infinite values'}"
    return ""


def first_non_finite(value, key: str = "") -> tuple[str, float] | None:
    """(key, value) of the first float in a result (nested dicts and lists too) that is NaN or infinite, the key
    as "rate_split.layers[0].rate"; None when every one is finite."""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return None if math.isfinite(float(value)) else (key or "the value", float(value))
    if isinstance(value, dict):
        items = ((f"{key}.{k}" if key else str(k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{key}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    return next((bad for bad in (first_non_finite(v, k) for k, v in items) if bad is not None), None)


def check_finite_result(result: dict, ckpt, where: str = "") -> dict:
    """`result` itself when every figure in it is finite; else an error naming `where` and the first figure that
    is not: a CheckpointError for a checkpoint's weights, a ConfigError for a module's own."""
    bad = first_non_finite(result)
    if bad is None:
        return result
    error = CheckpointError if isinstance(ckpt, Checkpoint) else ConfigError
    raise error(f"{where or ('the checkpoint' if error is CheckpointError else 'the model')}: {bad[0]} is {bad[1]}, "
                f"not a finite number: the network's outputs overflow or are NaN on this data")


def check_data_fits(ckpt: Checkpoint, dataset, where: str = "") -> None:
    """A ConfigError unless the dataset's images have the shape the checkpoint's model takes."""
    if tuple(dataset.input_shape) != tuple(ckpt.model_config.input_shape):
        raise ConfigError(f"{where or 'the checkpoint'} expects {tuple(ckpt.model_config.input_shape)} images, "
                          f"{dataset.spec.describe()} has {tuple(dataset.input_shape)}")


def _meaning(ckpt: Checkpoint, x_test) -> dict:
    meaning = LikelihoodMeaning.of(ckpt.model_config, ckpt.train_config, x_test)
    return {"likelihood_normalized": meaning.normalized, "marginal": meaning.marginal}


def evaluate_checkpoint(ckpt: Checkpoint, dataset, model, device, iwae_samples: int = 0,
                        rate_split_points: int | None = RATE_SPLIT_POINTS, disentanglement: bool = False,
                        disentanglement_points: int = DISENTANGLEMENT_POINTS,
                        progress: Callable[[float, int], None] | None = None, where: str = "") -> dict:
    """Held-out ELBO terms, active units, IWAE (iwae_samples > 0), the rate split (rate_split_points, None or 0:
    skip), and on data with factors MIG (and DCI, SAP, FactorVAE with `disentanglement`): eval --json's keys.

    progress(done, total) counts examples (fractional within a batch's IWAE samples). A figure that is not finite
    is an error naming `where` (check_finite_result)."""
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

            result.update(dataset_disentanglement(model, dataset, device, points=disentanglement_points))
    # the ELBO bounds, and IWAE estimates, log p(x) (log p(x|y) for a CVAE) only under a normalized likelihood
    result.update(_meaning(ckpt, x_test))
    return check_finite_result(result, ckpt, where)


def checkpoint_gaps(ckpt: Checkpoint, dataset, model, device, examples: int = 100, svi_steps: int = 500,
                    iwae_samples: int = 1000, progress: Callable[[str, float], None] | None = None,
                    where: str = "") -> dict:
    """The ELBO gap of the first `examples` held-out examples split by classical VI: eval --gaps --json's keys.
    A figure that is not finite is an error naming `where` (check_finite_result)."""
    from trainer.analysis.inference_gaps import SviSettings, inference_gaps

    x_test = heldout_for_likelihood(dataset, ckpt.train_config)
    n = min(len(x_test), int(examples))
    y = dataset.y_test[:n] if ckpt.model_config.conditional else None
    result = inference_gaps(model, x_test[:n], y, device, SviSettings(max_steps=int(svi_steps)),
                            k=int(iwae_samples), seed=ckpt.train_config.seed + EVAL_SEED_OFFSET,
                            progress=progress).summary()
    result.update(_meaning(ckpt, x_test))
    return check_finite_result(result, ckpt, where)


def protocol_k(train_config: TrainConfig, given: int | None, where: str = "") -> int:
    """K of eval's IWAE estimate: `given`, or when None the K of the run's declared protocol (its row's estimator,
    which makes the figure comparable with the row), else 0 (no estimate)."""
    if given is not None:
        return int(given)
    if not train_config.protocol:
        return 0
    from trainer.comparability.protocols import protocol

    try:
        return protocol(train_config.protocol).eval_k
    except ConfigError as exc:
        raise ConfigError(f"{where or 'the checkpoint'}: {exc}; give the number of importance samples") from None


def comparison(trained, dataset, result: dict, k: int, epochs: int) -> dict:
    """eval --json's account of what its figure was measured on (split, test_binarization, iwae_samples, protocol)
    and the published rows it can stand beside: comparable_to, or not_comparable's first reason
    (trainer.comparability.verdict). `trained`: anything with model_config and train_config."""
    from trainer.comparability.verdict import judge
    from trainer.model.likelihood import Provenance, heldout_binarization

    provenance = Provenance.of(dataset, trained.model_config, trained.train_config, epochs)
    return {"split": dataset.heldout, "test_binarization": heldout_binarization(dataset, trained.train_config),
            "iwae_samples": k, "protocol": trained.train_config.protocol, **judge(provenance, result, k)}
