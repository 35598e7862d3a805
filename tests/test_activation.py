"""ModelConfig.activation: tanh hidden layers (Burda et al. 2016) in every model family, the sliders' numpy path
computing the same decoder, checkpoints keeping it, and older checkpoints reading as relu."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trainer.analysis.snapshots import DecoderSnapshot
from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data import load_dataset
from trainer.errors import ConfigError
from trainer.model.hierarchy import build_model
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer

LAYOUTS = {"flat": dict(layers=1), "plain ladder": dict(layers=2, ladder="plain"),
           "residual ladder": dict(layers=2, ladder="residual"), "batch norm": dict(layers=2, norm="batch")}


@pytest.fixture(scope="module")
def data():
    return load_dataset(DatasetSpec(name="sprites", n=200, image_size=28))


def trained(data, **model) -> Trainer:
    cfg = model_config_for(data, hidden=(24, 16), latent_dim=4, activation="tanh", **model)
    trainer = Trainer(cfg, TrainConfig(epochs=1, batch_size=40, lr=3e-3, seed=0, device="cpu", report_every=5), data)
    for _ in trainer.run(max_steps=4):
        pass
    return trainer


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_tanh_replaces_every_relu_and_keeps_the_state_names(arch):
    tanh = build_model(ModelConfig(arch=arch, hidden=(24, 16), latent_dim=4, layers=2, ladder="residual",
                                   activation="tanh"))
    relu = build_model(ModelConfig(arch=arch, hidden=(24, 16), latent_dim=4, layers=2, ladder="residual"))
    assert not any(isinstance(m, nn.ReLU) for m in tanh.modules())
    assert sum(isinstance(m, nn.Tanh) for m in tanh.modules()) == sum(isinstance(m, nn.ReLU) for m in relu.modules())
    assert list(tanh.state_dict()) == list(relu.state_dict())


def test_an_unknown_activation_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="activation"):
        ModelConfig(activation="sigmoid").validate()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_sliders_numpy_path_decodes_as_the_tanh_module_does(data, layout):
    trainer = trained(data, **LAYOUTS[layout])
    snapshot = DecoderSnapshot.from_model(trainer.model, trainer.step)
    z = 2 * np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(snapshot.decode(z), snapshot.decode_torch(z), atol=2e-6)


def test_a_checkpoint_keeps_the_activation_and_an_older_one_reads_as_relu(data, tmp_path):
    trainer = trained(data, layers=1)
    path = tmp_path / "tanh.h5"
    save_checkpoint(path, trainer.checkpoint())
    ckpt = load_checkpoint(path)
    assert ckpt.model_config.activation == "tanh"
    resumed = Trainer(ckpt.model_config, ckpt.train_config, data, checkpoint=ckpt)
    x = torch.rand(3, *data.input_shape)
    torch.testing.assert_close(resumed.model.encode(x)[0], trainer.model.encode(x)[0])
    older = {k: v for k, v in ckpt.model_config.to_dict().items() if k != "activation"}
    assert ModelConfig.from_dict(older).activation == "relu"


def test_the_window_rebuilds_an_opened_tanh_run_with_tanh(data):
    from explorer.models.run_settings import RunSettings

    cfg = model_config_for(data, hidden=(24,), latent_dim=4, activation="tanh")
    settings = RunSettings.from_configs(cfg, TrainConfig(), DatasetSpec(name="sprites", n=200, image_size=28))
    assert model_config_for(data, **settings.model_kwargs()).activation == "tanh"
