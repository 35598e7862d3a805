"""eval's AIS and BDMC figures of a trained model: what `eval --ais` and `eval --bdmc` add (trainer.evaluate too).

    figures = ais_figures(ckpt, dataset, model, "cpu", EvalOptions(ais=True, bdmc=True), seed=12345)
    # log_px_ais (+ _se, _mc_se), ais_examples, ais_steps, ais_chains, ais_leapfrog, ais_acceptance, ais_start;
    # bdmc_lower, bdmc_upper, bdmc_gap (each + _se), bdmc_examples, bdmc_steps, bdmc_chains, bdmc_leapfrog, ...

AIS runs from the prior (Wu et al. 2017's protocol: the estimate owes nothing to the encoder) on the first
`ais_examples` held-out examples, scored as training scores them (binarized when training binarizes). BDMC runs
on `bdmc_examples` examples the model simulates itself, with the same AIS settings, so its sandwich says how far
below log p(x) AIS of that length may fall on data like the model's.
"""

from __future__ import annotations

from typing import Callable

from trainer.analysis.ais import ais_log_px
from trainer.analysis.ais_settings import AisSettings
from trainer.analysis.bdmc import bdmc
from trainer.config import EvalOptions
from trainer.model.likelihood import heldout_for_likelihood


def ais_settings_of(options: EvalOptions) -> AisSettings:
    """The AIS settings an evaluation's options name."""
    return AisSettings(steps=options.ais_steps, chains=options.ais_chains, leapfrog=options.ais_leapfrog)


def ais_figures(trained, dataset, model, device, options: EvalOptions, seed: int,
                progress: Callable[[str, float], None] | None = None) -> dict:
    """eval's AIS keys (options.ais) and BDMC keys (options.bdmc) for a model trained as `trained` says (its
    model_config and train_config: a checkpoint), {} when neither is asked for. progress(message, fraction) over
    both, by their decoder passes; noise seeded by `seed`."""
    settings = ais_settings_of(options)
    settings.validate()
    out: dict = {}
    x_test = heldout_for_likelihood(dataset, trained.train_config) if options.ais else None
    n_ais = min(len(x_test), options.ais_examples) if options.ais else 0
    n_bdmc = options.bdmc_examples if options.bdmc else 0
    total = max(n_ais + 2 * n_bdmc, 1)

    def part(offset: int, size: int) -> Callable[[str, float], None] | None:
        if progress is None:
            return None
        return lambda message, fraction: progress(message, (offset + size * fraction) / total)

    if options.ais:
        y = dataset.y_test[:n_ais] if trained.model_config.conditional else None
        out.update(ais_log_px(model, x_test[:n_ais], y, device, settings, seed=seed,
                              progress=part(0, n_ais)).summary())
    if options.bdmc:
        out.update(bdmc(model, n_bdmc, settings, seed=seed + 1, device=device,
                        progress=part(n_ais, 2 * n_bdmc)).summary())
    return out
