"""vae-explorer from Python: the engine the CLI and the window drive, as a library. Nothing here pickles.

    import trainer
    data = trainer.load_dataset("sprites", n=2000, image_size=28)     # the CLI's names and options
    run = trainer.Run(data, out="run.h5", epochs=3, latent_dim=8)     # the CLI's settings, by their names
    for report in run:                                                # StepReport, EpochReport, ...
        ...                                                           # saved each epoch, and when the loop ends
    model = trainer.load_model("run.h5")                              # an eval-mode torch.nn.Module
    mu, logvar = model.encode(x)                                      # q(z|x) = N(mu, diag exp(logvar))
    images = model.decode(mu)                                         # E[x|z], in [0, 1]
    result = trainer.evaluate("run.h5", iwae_samples=100)             # what `eval --json` prints
    rows = trainer.sweep(data, "runs/", betas=[0.1, 1, 10], epochs=3)  # summary.csv's rows, as dicts

Every log-density is in nats per example. docs/python-api.md shows each call; its examples run in the tests.
"""

from trainer.api.data import load_dataset
from trainer.api.evaluation import evaluate, sweep
from trainer.api.model import VAEModel, load_model
from trainer.api.run import MODEL_OPTIONS, TRAIN_OPTIONS, Run, configs_for
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.training.reports import EpochReport, StepReport

__all__ = ["load_dataset", "load_model", "Run", "VAEModel", "evaluate", "sweep", "configs_for", "StepReport",
           "EpochReport", "ModelConfig", "TrainConfig", "DatasetSpec", "MODEL_OPTIONS", "TRAIN_OPTIONS"]
