"""What the latent panels' background jobs run, off the GUI thread (explorer.runtime.background.LatestJob): writing a
selection, and the prior-versus-q(z) samples.

    job.submit(token, partial(export_selection, "npz", path, latents, picked))
    job.submit(token, partial(compare_samples, decoder, latents.mu, seed, components))
"""

from __future__ import annotations

import dataclasses

import numpy as np


def export_selection(kind: str, path: str, latents, picked, progress=None, should_stop=None) -> str:
    """Write the selected examples as a CSV of indices or an NPZ of images and latents; the line to show."""
    from trainer.analysis.selection import write_indices_csv, write_selection_npz

    def pick(a):
        return None if a is None else np.asarray(a)[picked]

    if kind == "csv":
        write_indices_csv(path, latents.indices[picked], pick(latents.labels), latents.class_names)
    else:
        write_selection_npz(path, images=pick(latents.x), mu=latents.mu[picked], logvar=latents.logvar[picked],
                            indices=latents.indices[picked], labels=pick(latents.labels), factors=pick(latents.factors),
                            class_names=np.array(latents.class_names) if latents.class_names else None,
                            factor_names=np.array(latents.factor_names) if latents.factor_names else None)
    return f"Wrote {len(picked):,} examples to {path}"


SAMPLES = 32
"""Samples drawn from each of p(z) and the fit of q(z)."""


def compare_samples(decoder, mu, seed: int, components: int, progress=None, should_stop=None) -> tuple:
    """(trainer.analysis.aggregate.SampleComparison, decoded prior samples, decoded q(z)-fit samples), in a worker
    thread."""
    from trainer.analysis.aggregate import compare_prior_and_aggregate

    comparison = compare_prior_and_aggregate(mu, n=SAMPLES, seed=seed, n_components=components,
                                             should_stop=should_stop, progress=progress,
                                             prior_components=decoder.prior_components())
    # a snapshot of its own: the GUI thread decodes with the shared one's module (one thread at a time)
    own = dataclasses.replace(decoder, _cache={})  # of the same kind: a ModuleSnapshot keeps its module
    return comparison, own.decode_torch(comparison.prior_z), own.decode_torch(comparison.aggregate_z)
