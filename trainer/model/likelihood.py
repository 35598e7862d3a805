"""What the likelihood's numbers mean: binarized data, and whether "log p(x)" is an honest name for them.

    x_eval = heldout_for_likelihood(dataset, train_config)     # the held-out set every evaluation scores
    meaning = LikelihoodMeaning.of(model_config, train_config, x_eval)
    meaning.normalized        # is p(x|z) a normalized density (or mass) of the data as given?
    meaning.marginal          # "log p(x)", "log p(x|y)" for a CVAE, or what the number is when not normalized

A Bernoulli decoder scored on grey levels computes a cross-entropy against continuous targets, not a
log-likelihood: even a perfect decoder scores ~45 nats per MNIST image there, so its "ELBO" bounds nothing.
The field's fixes are to binarize the data (dynamic binarization, Burda et al. 2016) or to use a density on
[0, 1], the continuous Bernoulli (Loaiza-Ganem & Cunningham 2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.config import ModelConfig, TrainConfig

HELDOUT_SEED_OFFSET = 7_919
"""Seeds the one binarized sample of the held-out set, apart from the training sample's seed."""
_CHUNK = 1 << 22  # values per random draw, so binarizing a large set needs no set-sized float temporary


def binarize_fixed(x: np.ndarray, seed: int) -> np.ndarray:
    """One Bernoulli(x) sample of every pixel, drawn from `seed`: uint8 0/255, the shape of x.

    x is uint8 (0..255 as grey levels) or float in [0, 1]. numpy's generator makes the sample the same on any
    machine and device, which is what "static binarization kept identical across resume" needs.
    """
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    scale = np.float32(1 / 255) if flat.dtype == np.uint8 else np.float32(1)
    for start in range(0, len(flat), _CHUNK):
        p = flat[start:start + _CHUNK].astype(np.float32) * scale
        out[start:start + _CHUNK] = (rng.random(len(p), dtype=np.float32) < p) * np.uint8(255)
    return out.reshape(np.shape(x))


def data_is_binary(x: np.ndarray) -> bool:
    """Every value is 0 or the maximum (255 for uint8, 1 for floats): a Bernoulli likelihood is a pmf of it."""
    x = np.asarray(x)
    if x.dtype == np.bool_:
        return True
    if x.dtype == np.uint8:
        counts = np.bincount(x.reshape(-1), minlength=256)
        return int(counts[1:255].sum()) == 0
    flat = x.reshape(-1)
    return bool(np.all((flat == 0) | (flat == 1)))


def heldout_for_likelihood(dataset, train_config: TrainConfig) -> np.ndarray:
    """The held-out images as every evaluation scores them: as given, or one fixed binarized sample."""
    if train_config.binarize == "none":
        return dataset.x_test
    return binarize_fixed(dataset.x_test, train_config.seed + HELDOUT_SEED_OFFSET)


def heldout_binarization(dataset, train_config: TrainConfig) -> str:
    """How the held-out images were binarized for scoring, in words: a recorded property of the run, since the
    checkpoint's binarize and seed fix it (eval --json and train --json's test_binarization)."""
    if getattr(dataset, "prebinarized", False):
        return "none: the source's own 0/1 images (a static binarization)"
    if train_config.binarize == "none":
        return "none: the pixel values as given"
    return (f"one fixed Bernoulli draw of every pixel (seed {train_config.seed + HELDOUT_SEED_OFFSET}), the same at "
            "every evaluation of this run; not the expectation over draws")


@dataclass(frozen=True)
class Provenance:
    """What a held-out figure of a run was measured on, short of the estimate itself: the data told by its content,
    its splits, the run's binarization and settings. trainer.comparability.verdict judges from it whether the figure
    can stand beside a published one; LatentSnapshot carries it so the window judges as `eval` does."""

    identity: str
    """Dataset.identity: mnist or binarized-mnist when the files are the published ones, else ""."""
    label: str
    """The data's short name (its describe() before the colon)."""
    split: str
    """Dataset.split: "standard", or what the split was cut from."""
    heldout: str
    """test, or valid."""
    train_examples: int
    test_examples: int
    prebinarized: bool
    model_config: ModelConfig
    train_config: TrainConfig
    epochs: int
    """Epochs trained when the figure's weights were taken."""

    @classmethod
    def of(cls, dataset, model_config: ModelConfig, train_config: TrainConfig, epochs: int) -> "Provenance":
        return cls(identity=dataset.identity, label=dataset.describe().split(":")[0], split=dataset.split,
                   heldout=dataset.heldout, train_examples=len(dataset.x_train), test_examples=len(dataset.x_test),
                   prebinarized=bool(dataset.prebinarized), model_config=model_config, train_config=train_config,
                   epochs=int(epochs))


@dataclass(frozen=True)
class LikelihoodMeaning:
    """How to name the ELBO and the importance-sampled estimate of one model on one data set."""

    normalized: bool
    """p(x|z) is a normalized density or mass of the data as scored, so the ELBO is a bound on log p(x)."""
    marginal: str
    """The name of what IWAE estimates: "log p(x)", "log p(x|y)", or what it is when not normalized."""
    note: str
    """One sentence for a tooltip or --help when the numbers are not log-likelihoods; empty otherwise."""

    @classmethod
    def of(cls, model_config: ModelConfig, train_config: TrainConfig, x_scored: np.ndarray) -> "LikelihoodMeaning":
        if model_config.likelihood == "bernoulli":
            normalized = train_config.binarize != "none" or data_is_binary(x_scored)
        else:
            # gaussian: a density on R^D; continuous Bernoulli: a density on [0, 1]^D, for any pixel values
            normalized = True
        marginal = "log p(x|y)" if model_config.conditional else "log p(x)"
        if normalized:
            return cls(True, marginal, "")
        return cls(False, "cross-entropy bound on grey levels",
                   "A Bernoulli decoder on grey levels scores a cross-entropy against continuous targets, not a "
                   f"log-likelihood, so neither the ELBO nor the IWAE estimate is a bound on {marginal}: "
                   "binarize the data (dynamic) or use the continuous-bernoulli likelihood for one.")

    @property
    def elbo_name(self) -> str:
        return f"ELBO (a lower bound on {self.marginal})" if self.normalized else "ELBO on grey levels (no bound)"
