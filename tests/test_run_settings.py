"""RunSettings is a view of the engine's own configs: every value lives in a DatasetSpec, ModelConfig or
TrainConfig field, and the panel's names read and replace those fields."""

from __future__ import annotations

import pytest

from explorer.models.run_settings import FIELDS, VIEWS, RunSettings
from trainer.config import DatasetSpec, ModelConfig, TrainConfig


def test_the_panels_names_read_the_configs_fields():
    s = RunSettings(sprites_n=600, sprites_size=28, latent_dim=4, beta=2.5, lr=3e-4, hidden=[64])
    assert (s.data.n, s.data.image_size) == (600, 28)  # "sprites_n" is DatasetSpec.n: one value, one home
    assert s.model.latent_dim == 4 and s.model.hidden == (64,)
    assert (s.train.beta, s.train.lr) == (2.5, 3e-4)
    for name, (config, field) in VIEWS.items():
        assert getattr(s, name) == getattr(getattr(s, config), field)


def test_replace_changes_the_configs_and_the_seed_is_the_runs_not_the_datas():
    s = RunSettings().replace(seed=7, schedule="warmup", schedule_steps=500, epochs=3)
    # runs of other seeds train on the same data: the split has a seed of its own
    assert s.train.seed == s.seed == 7 and s.data.seed == s.split_seed == 0 == s.dataset_spec().seed
    assert s.replace(split_seed=3).dataset_spec().seed == 3 and s.replace(split_seed=3).train.seed == 7
    assert s.train.beta_schedule == "warmup:500" and (s.schedule, s.schedule_steps) == ("warmup", 500)
    assert s.train_config() is s.train and s.train.epochs == 3
    off = s.replace(schedule="constant")
    assert off.train.beta_schedule == "constant" and off.schedule_steps == 500  # shown again when switched on
    assert off.replace(schedule="cyclical").train.beta_schedule == "cyclical:500"
    with pytest.raises(TypeError, match="sprite_n"):
        s.replace(sprite_n=5)


def test_a_checkpoints_configs_come_in_whole_with_its_live_values():
    spec = DatasetSpec(name="mnist", data_dir="/data", fingerprint="abc", seed=3)
    model = ModelConfig(input_shape=(1, 28, 28), latent_dim=6, num_classes=10)
    train = TrainConfig(beta=1.0, lr=1e-3, beta_schedule="cyclical:300", report_every=25, seed=3)
    s = RunSettings.from_configs(model, train, spec, {"beta": 4.0, "lr": 5e-4, "free_bits": 0.1})
    assert s.data is spec and s.model is model and s.train.report_every == 25
    assert (s.beta, s.lr, s.free_bits) == (4.0, 5e-4, 0.1) and s.conditional
    assert (s.schedule, s.schedule_steps) == ("cyclical", 300)
    assert s.dataset_spec().fingerprint == ""  # a Start names the data; the checkpoint keeps its fingerprint
    # what the panel shows of it equals what the panel builds from the same values
    assert RunSettings(**s.to_flat()) == s
    assert set(s.to_flat()) == set(FIELDS)
