"""The front door to a run: a fresh one from settings by name, or a checkpoint resumed under one rule.

    model_cfg, train_cfg = configs_for(dataset, latent_dim=8, beta=4.0)      # a fresh run's configs
    model_cfg, train_cfg = resumed_configs(ckpt, "run.h5", epochs=20)        # a resumed run's configs
    trainer = open_trainer(dataset, checkpoint=ckpt, where="run.h5", epochs=20)   # either, built

The window's worker, the Python API (`trainer.Run`), `vae-explorer train` and `sweep` all go through here, so
they follow one rule for a resume: it may change only RESUMABLE (how long and where it trains); any other
setting named must equal the one the run was trained with, or the resume is refused in one line. Every value
is checked by its config field's rule (trainer.rules), whichever front door it came through.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from trainer.checkpoints.hdf5 import Checkpoint
from trainer.comparability.protocols import check_follows
from trainer.config import ModelConfig, TrainConfig
from trainer.data.dataset import Dataset
from trainer.errors import ConfigError
from trainer.model.vae import model_config_for
from trainer.training.distributed import SINGLE, Group
from trainer.training.evaluation import check_network
from trainer.training.loop import Trainer

MODEL_OPTIONS = frozenset(f.name for f in dataclasses.fields(ModelConfig)) - {"input_shape", "num_classes"}
"""Settings by name that shape the model (ModelConfig's fields); `conditional=True` makes a CVAE."""
TRAIN_OPTIONS = frozenset(f.name for f in dataclasses.fields(TrainConfig))
"""Settings by name that say how it trains (TrainConfig's fields)."""
RESUMABLE = ("epochs", "device", "precision", "compile", "snapshots", "snapshot_mb")
"""What a resume may change: the total epochs, the device, the forward pass's precision and compilation, and the
snapshot budget. Everything else (the model, the objective, β, the optimizer's settings, the seed, the data) is the
checkpoint's."""


def _check_names(options: dict[str, Any]) -> None:
    unknown = set(options) - MODEL_OPTIONS - TRAIN_OPTIONS - {"conditional"}
    if unknown:
        raise ConfigError(f"no setting(s) {', '.join(sorted(unknown))}: the model takes "
                          f"{', '.join(sorted(MODEL_OPTIONS))} and conditional; training takes "
                          f"{', '.join(sorted(TRAIN_OPTIONS))}")


def configs_for(dataset: Dataset, model: ModelConfig | None = None, train: TrainConfig | None = None,
                **options) -> tuple[ModelConfig, TrainConfig]:
    """The ModelConfig and TrainConfig that `options` (their fields by name, over `model` and `train` when given)
    describe for this dataset, each value checked by its field's rule."""
    _check_names(options)
    conditional = options.pop("conditional", model.conditional if model else False)
    if not isinstance(conditional, bool):
        raise ConfigError(f"conditional must be true or false, got {conditional!r}")
    base = {k: v for k, v in (model.to_dict() if model else {}).items() if k in MODEL_OPTIONS}
    model_kwargs = {**base, **{k: v for k, v in options.items() if k in MODEL_OPTIONS}}
    model_cfg = model_config_for(dataset, conditional=conditional, **model_kwargs)
    train_cfg = dataclasses.replace(train or TrainConfig(), **{k: v for k, v in options.items() if k in TRAIN_OPTIONS})
    train_cfg.validate()
    check_follows(model_cfg, train_cfg, dataset)  # a declared protocol is followed, or refused
    return model_cfg, train_cfg


def _trained_with(ckpt: Checkpoint, name: str) -> Any:
    if name == "conditional":
        return ckpt.model_config.conditional
    config = ckpt.model_config if name in MODEL_OPTIONS or name in ("input_shape", "num_classes") else ckpt.train_config
    return getattr(config, name)


def _as_field(name: str, value: Any) -> Any:
    """A value named for a resume in the type its field keeps, so 2 and 2.0, or [1, 2] and (1, 2), compare equal."""
    if name == "conditional":
        return value
    cls = TrainConfig if name in TRAIN_OPTIONS else ModelConfig
    return cls.rule(name).check(name, value)


def resumed_configs(ckpt: Checkpoint, where: str = "", **options) -> tuple[ModelConfig, TrainConfig]:
    """The checkpoint's configs with the RESUMABLE settings among `options` applied; a ConfigError in one line,
    naming `where` (the checkpoint), if `options` names another setting with another value than it was trained
    with. Naming one with the value it already has is no change, and allowed."""
    named = {k: v for k, v in options.items() if k not in ("input_shape", "num_classes")}
    _check_names(named)
    changed = []
    for name, value in options.items():
        if name in RESUMABLE:
            continue
        trained = _trained_with(ckpt, name)
        if _as_field(name, value) != trained:
            changed.append(f"{name} {value!r} (trained with {trained!r})")
    if changed:
        raise ConfigError(f"{where or 'the checkpoint'}: a resumed run keeps the settings it was trained with; only "
                          f"{', '.join(RESUMABLE)} may change, not {'; '.join(changed)}")
    changes = {k: v for k, v in options.items() if k in RESUMABLE}
    train_cfg = dataclasses.replace(ckpt.train_config, **changes)
    train_cfg.validate()
    return ckpt.model_config, train_cfg


def open_trainer(dataset: Dataset, *, checkpoint: Checkpoint | None = None, where: str = "",
                 model: ModelConfig | None = None, train: TrainConfig | None = None, on_divergence: str = "stop",
                 group: Group = SINGLE, **options) -> Trainer:
    """A Trainer: `checkpoint` resumed (resumed_configs' rule; `model`/`train` given whole count as named
    settings), or a fresh run of configs_for's settings."""
    if checkpoint is None:
        model_cfg, train_cfg = configs_for(dataset, model, train, **options)
    else:
        given = {**(model.to_dict() if model else {}), **(train.to_dict() if train else {}), **options}
        model_cfg, train_cfg = resumed_configs(checkpoint, where, **given)
    trainer = Trainer(model_cfg, train_cfg, dataset, checkpoint=checkpoint, on_divergence=on_divergence, group=group)
    if checkpoint is not None:  # weights that load but overflow would only show as "loss became NaN" steps later
        check_network(trainer.model, model_cfg, where)
    return trainer
