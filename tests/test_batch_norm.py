"""ModelConfig.norm = "batch": batch-normalised hidden layers, trained on the batch's statistics and evaluated on
their running averages, which no analysis may move, which checkpoints keep, and which the sliders' numpy path
folds into its weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.analysis.snapshots import DecoderSnapshot
from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data import load_dataset
from trainer.errors import ConfigError
from trainer.model.hierarchy import build_model
from trainer.model.layers import BatchNorm, NormedLinear
from trainer.model.vae import eval_mode, model_config_for
from trainer.training.loop import Trainer

LAYOUTS = {"flat": dict(layers=1), "plain ladder": dict(layers=2, ladder="plain"),
           "residual ladder": dict(layers=2, ladder="residual")}


@pytest.fixture(scope="module")
def data():
    return load_dataset(DatasetSpec(name="sprites", n=300, image_size=28))


def trained(data, **model) -> Trainer:
    cfg = model_config_for(data, hidden=(24, 16), latent_dim=4, norm="batch", **model)
    trainer = Trainer(cfg, TrainConfig(epochs=1, batch_size=30, lr=3e-3, seed=0, device="cpu", report_every=5), data)
    for _ in trainer.run(max_steps=6):
        pass
    return trainer


def running_stats(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k}


def test_every_hidden_dense_layer_is_normalised_and_the_output_heads_are_not():
    model = build_model(ModelConfig(hidden=(24, 16), latent_dim=4, layers=2, ladder="residual", norm="batch"))
    normed = {n for n, m in model.named_modules() if isinstance(m, NormedLinear)}
    assert {"enc_mlp.0.0", "enc_mlp.0.2", "dec_mlp.0", "dec_mlp.2", "up.0.0", "down.0.0", "down.0.2.fc1"} <= normed
    assert not normed & {"fc_mu", "fc_logvar", "dec_mlp.4", "up_mu.0", "down_mu.0", "down.0.2.fc2"}
    plain = build_model(ModelConfig(hidden=(24, 16), latent_dim=4, layers=2, ladder="residual"))
    assert not any(isinstance(m, (NormedLinear, BatchNorm)) for m in plain.modules())


@pytest.mark.parametrize("layout", LAYOUTS)
def test_training_moves_the_running_statistics_and_evaluation_reads_them(data, layout):
    trainer = trained(data, **LAYOUTS[layout])
    stats = running_stats(trainer.model)
    assert stats and any(not torch.allclose(v, torch.zeros_like(v)) for k, v in stats.items() if "mean" in k)
    x = torch.rand(8, *data.input_shape)
    with eval_mode(trainer.model):  # one example alone gives the same mean as in a batch: no batch statistics
        one = trainer.model.encode(x[:1])[0]
        batch = trainer.model.encode(x)[0][:1]
    torch.testing.assert_close(one, batch)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_no_analysis_moves_the_running_statistics(data, layout):
    trainer = trained(data, **LAYOUTS[layout])
    before = running_stats(trainer.model)
    trainer.evaluate_test(rate_split_points=50, iwae_samples=4)
    trainer.checkpoint()
    snapshot = DecoderSnapshot.from_model(trainer.model, trainer.step)
    snapshot.decode(np.zeros((3, 4), np.float32))
    snapshot.encode(np.asarray(data.x_test[:5]))
    trainer.model.sample(3)
    after = running_stats(trainer.model)
    assert trainer.model.training  # and the trainer's model is back in train mode
    for key, value in before.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_sliders_numpy_path_folds_the_batch_norm_into_its_weights(data, layout):
    trainer = trained(data, **LAYOUTS[layout])
    snapshot = DecoderSnapshot.from_model(trainer.model, trainer.step)
    z = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(snapshot.decode(z), snapshot.decode_torch(z), atol=2e-6)


def test_a_checkpoint_keeps_the_running_statistics_and_resumes_them(data, tmp_path):
    trainer = trained(data, layers=2, ladder="plain")
    path = tmp_path / "bn.h5"
    save_checkpoint(path, trainer.checkpoint())
    ckpt = load_checkpoint(path)
    assert ckpt.model_config.norm == "batch"
    for key, value in running_stats(trainer.model).items():
        np.testing.assert_array_equal(ckpt.model_state[key], value.numpy())
    resumed = Trainer(ckpt.model_config, ckpt.train_config, data, checkpoint=ckpt)
    for key, value in running_stats(trainer.model).items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)
    for _ in trainer.run(max_steps=2):  # and it trains on as the original does
        pass
    for _ in resumed.run(max_steps=2):
        pass
    for key, value in trainer.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, msg=key)


def test_batch_norm_is_refused_with_the_vampprior():
    with pytest.raises(ConfigError, match="VampPrior.*batch norm"):
        ModelConfig(norm="batch", prior="vamp").validate()


# --- the window ---------------------------------------------------------------------------------------------
def test_the_controls_train_a_batch_normalised_hierarchy_and_the_vampprior_turns_it_off(qtbot, small_window):
    from explorer.models.run_state import RunState

    window = small_window(layers=2, latent_dim=4)
    controls = window.controls
    assert not controls.norm_check.isChecked() and window.run_settings.value.norm == "none"
    controls.norm_check.setChecked(True)
    assert window.run_settings.value.norm == "batch"
    window.start_training(max_steps=12)
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=60_000)
    trainer = window.session.worker.trainer
    assert trainer.model_config.norm == "batch" and trainer.model_config.layers == 2
    assert any(isinstance(m, NormedLinear) for m in trainer.model.modules())
    assert not controls.norm_check.isEnabled()  # a model exists: its layers are fixed


def test_the_vampprior_unchecks_batch_norm_in_the_controls(qtbot, small_window):
    window = small_window(norm="batch")
    controls = window.controls
    assert controls.norm_check.isChecked()
    controls.prior_combo.setCurrentIndex(controls.prior_combo.findData("vamp"))
    assert not controls.norm_check.isChecked() and not controls.norm_check.isEnabled()
    assert window.run_settings.value.norm == "none"


def test_choosing_a_hierarchy_by_hand_checks_batch_norm_and_it_can_be_unchecked(qtbot, small_window):
    window = small_window()
    controls = window.controls
    assert controls.layers_spin.value() == 1 and not controls.norm_check.isChecked()
    controls.layers_spin.setValue(2)
    assert controls.norm_check.isChecked() and window.run_settings.value.norm == "batch"
    controls.norm_check.setChecked(False)
    controls.layers_spin.setValue(3)  # from 2 to 3: the user's choice stands
    assert not controls.norm_check.isChecked() and window.run_settings.value.norm == "none"
