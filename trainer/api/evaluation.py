"""trainer.evaluate and trainer.sweep: eval --json and sweep from Python."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from trainer.analysis.marginal_likelihood import ais_figures
from trainer.api.data import as_dataset, load_dataset
from trainer.api.model import VAEModel, checkpoint_path, device_of
from trainer.api.run import configs_for
from trainer.checkpoints.hdf5 import load_checkpoint
from trainer.config import DISENTANGLEMENT_POINTS, RATE_SPLIT_POINTS, EvalOptions
from trainer.training.evaluation import (EVAL_SEED_OFFSET, check_data_fits, check_finite_result, checkpoint_gaps,
                                         comparison, evaluate_checkpoint, model_from_checkpoint, protocol_k)


def _checkpoint_and_data(model, data, device):
    """(what was trained: its model_config and train_config, the network on `device`, the data to score, where it
    came from, the epochs it trained): a VAEModel's own weights as they are now, or a checkpoint file's."""
    if isinstance(model, VAEModel):
        trained = SimpleNamespace(model_config=model.model_config, train_config=model.train_config)
        closed = model.history.get("epochs/epoch", ())
        epochs = int(closed[-1]) if len(closed) else 0
        net, spec, where = model.net.to(device).eval(), model.dataset, model.path or type(model).__name__
    else:
        path = checkpoint_path(model, "evaluate")  # a checkpoint's path, or a VAEModel
        trained = load_checkpoint(path)
        epochs = int(trained.progress.get("epoch", 0))
        net, spec, where = model_from_checkpoint(trained, device, where=str(path)), trained.dataset, str(path)
    dataset = as_dataset(data) if data is not None else load_dataset(spec)
    check_data_fits(trained, dataset, where)
    return trained, net, dataset, where, epochs


def evaluate(model: str | Path | VAEModel, data=None, *, iwae_samples: int | None = None,
             rate_split_points: int = RATE_SPLIT_POINTS,
             disentanglement: bool = False, disentanglement_points: int = DISENTANGLEMENT_POINTS,
             gaps: bool = False, gap_examples: int = 100, svi_steps: int = 500,
             ais: bool = False, ais_examples: int = 100, bdmc: bool = False, bdmc_examples: int = 50,
             ais_steps: int = 1000, ais_chains: int = 8, ais_leapfrog: int = 2, device: str = "cpu") -> dict:
    """What `vae-explorer eval --json` prints for a checkpoint (a path, or a VAEModel loaded from one), on its
    own held-out data or `data`: elbo, recon, kl, kl_per_dim, active_units, rate, distortion, iwae_log_px and
    elbo_gap (iwae_samples > 0; None: the K of the run's declared protocol, else none), rate_split, mig on sprites,
    DCI/SAP/FactorVAE with `disentanglement` (on disentanglement_points examples). With
    `gaps`, `eval --gaps --json`'s split of the ELBO gap on the first gap_examples held-out examples instead (its
    log p(x) the best of IWAE and AIS from q*, named by log_px_estimator). `ais`: also log_px_ais, AIS from the
    prior on the first ais_examples held-out examples (ais_steps, ais_chains, ais_leapfrog); `bdmc`: also the BDMC
    sandwich bdmc_lower <= log p(x) <= bdmc_upper on bdmc_examples examples simulated from the model.
    Without `gaps`, also what the figure was measured on and the published rows it can stand beside (split,
    test_binarization, comparable_to or not_comparable), as eval --json says it.
    Every option is checked as `eval` checks it (trainer.config.EvalOptions), before anything is loaded."""
    options = EvalOptions(iwae_samples=iwae_samples or 0, rate_split_points=rate_split_points,
                          disentanglement=disentanglement, disentanglement_points=disentanglement_points,
                          gaps=gaps, gap_examples=gap_examples, svi_steps=svi_steps,
                          ais=ais, ais_examples=ais_examples, bdmc=bdmc, bdmc_examples=bdmc_examples,
                          ais_steps=ais_steps, ais_chains=ais_chains, ais_leapfrog=ais_leapfrog, device=device)
    options.validate()
    target = device_of(options.device, "evaluate")
    ckpt, net, dataset, where, epochs = _checkpoint_and_data(model, data, target)
    if not options.gaps:
        options = dataclasses.replace(options, iwae_samples=protocol_k(ckpt.train_config, iwae_samples, where))
    if options.gaps:
        result = checkpoint_gaps(ckpt, dataset, net, target, examples=options.gap_examples,
                                 svi_steps=options.svi_steps, iwae_samples=options.iwae_samples or 1000, where=where)
        options = dataclasses.replace(options, ais=False)  # the split's own AIS (from q*) gave its log_px_ais
    else:
        result = evaluate_checkpoint(ckpt, dataset, net, target, iwae_samples=options.iwae_samples,
                                     rate_split_points=options.rate_split_points,
                                     disentanglement=options.disentanglement,
                                     disentanglement_points=options.disentanglement_points, where=where)
    if options.ais or options.bdmc:
        result.update(ais_figures(ckpt, dataset, net, target, options,
                                  seed=ckpt.train_config.seed + EVAL_SEED_OFFSET))
        result = check_finite_result(result, ckpt, where)
    if not options.gaps:
        result.update(comparison(ckpt, dataset, result, options.iwae_samples, epochs=epochs))
    return result


def sweep(data, out: str | Path, *, betas=None, seeds=None, free_bits=None, schedules=None, objectives=None,
          iwae_ks=None, iwae_samples: int = 0, gap_examples: int = 0, tensorboard: str | Path | None = None,
          on_report: Callable | None = None,
          should_stop: Callable[[], bool] | None = None, **options) -> list[dict]:
    """`vae-explorer sweep` from Python: every combination of the values listed trained into the folder `out`
    (one checkpoint a run, resumed and never repeated as the CLI does), and summary.csv's rows as dicts (the
    same keys, None where not measured). iwae_ks lists the K of the IWAE runs (objectives including "iwae").
    on_report(run name, report) hears every report; with `tensorboard`,
    each run also writes its TensorBoard events there, as `sweep --tensorboard` does."""
    from trainer.training.sweep import Sweep, plan_runs, run_sweep

    dataset = as_dataset(data)
    model_cfg, base = configs_for(dataset, **options)
    # a list not given sweeps nothing: the run's own beta= / seed= (or their defaults) then hold
    runs = plan_runs(base, betas, seeds, free_bits, schedules, objectives, iwae_ks)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if tensorboard:
        from trainer.training.tensorboard import require_tensorboard

        require_tensorboard(tensorboard)
    result = run_sweep(Sweep(model_cfg, runs, dataset, folder, iwae_samples=iwae_samples, gap_examples=gap_examples,
                             tensorboard=str(tensorboard or "")),
                       on_report=on_report or (lambda name, report: None),
                       should_stop=should_stop or (lambda: False))
    return [row.as_dict() for row in result.rows]
