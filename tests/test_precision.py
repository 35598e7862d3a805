"""--precision bf16 and --compile: the same training, through autocast or a compiled step (CPU here; CUDA too)."""

from __future__ import annotations

import pytest

from test_cli import last_json, run_cli
from trainer.checkpoints.hdf5 import load_checkpoint
from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.errors import ConfigError
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import EpochReport, StepReport


@pytest.fixture(scope="module")
def sprites():
    return load_dataset(DatasetSpec(name="sprites", n=1200, image_size=16, seed=2))


def test_bf16_autocast_trains_to_within_a_nat_of_fp32(sprites):
    model_cfg = model_config_for(sprites, hidden=(64,), latent_dim=4)
    elbo = {}
    for precision in ("fp32", "bf16"):
        trainer = Trainer(model_cfg, TrainConfig(epochs=3, batch_size=64, lr=3e-3, precision=precision), sprites)
        elbo[precision] = [r.test_elbo for r in trainer.run() if isinstance(r, EpochReport)][-1]
    assert elbo["fp32"] != elbo["bf16"]  # the forward really ran in bfloat16
    assert abs(elbo["fp32"] - elbo["bf16"]) < 1.0, elbo


def test_the_compiled_step_trains_as_the_eager_one(sprites):
    model_cfg = model_config_for(sprites, hidden=(32,), latent_dim=3)
    losses = {}
    for compiled in (False, True):
        cfg = TrainConfig(epochs=1, batch_size=256, report_every=1, compile=compiled)
        losses[compiled] = [r.loss for r in Trainer(model_cfg, cfg, sprites).run() if isinstance(r, StepReport)]
    assert len(losses[True]) == 5  # 1,080 examples / 256: four full batches and a short one (a second graph)
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)


def test_the_cli_records_the_precision_and_a_resume_keeps_it(tmp_path):
    out = tmp_path / "bf16.h5"
    common = ["--dataset", "sprites", "--image-size", "16", "--limit", "500", "--hidden", "32", "--latent-dim", "2"]
    run_cli("train", *common, "--epochs", "1", "--precision", "bf16", "--out", out)
    assert load_checkpoint(out).train_config.precision == "bf16"
    again = last_json(run_cli("train", "--resume", out, "--epochs", "2", "--out", out, "--json").stdout)
    assert again["epochs"] == 2 and load_checkpoint(out).train_config.precision == "bf16"


def test_an_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match="precision must be one of"):
        TrainConfig(precision="fp8").validate()
