"""A Trainer's state to a Checkpoint and back: what makes a resumed run continue the uninterrupted one.

    ckpt = capture(trainer)        # trainer.checkpoint() calls this; between steps, from the training thread
    restore(trainer, ckpt)         # Trainer(..., checkpoint=ckpt) calls this on a freshly built trainer

Everything is copied: weights, Adam's moments and step counts, the noise and binarization generators, the
history, the half-summed report window and epoch, and the progress numbers (step, epoch, β target, lr, free
bits, training seconds). They read and write only the Trainer's public state, named by `Resumable`, so this
module does not import the Trainer (the Trainer imports it).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Protocol
import numpy as np
import torch

from trainer.checkpoints.hdf5 import Checkpoint
from trainer.config import ModelConfig, TrainConfig
from trainer.data.dataset import Dataset
from trainer.errors import ConfigError
from trainer.training.distributed import Group
from trainer.training.history import History, ReportWindow
from trainer.training.snapshot_keeper import SnapshotKeeper

class Resumable(Protocol):
    """What capture and restore read and write: the public state of a trainer.training.loop.Trainer."""

    model_config: ModelConfig
    config: TrainConfig
    dataset: Dataset
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    group: Group
    device: torch.device
    step: int
    epoch: int
    batch_in_epoch: int
    beta_target: float
    lr: float
    free_bits: float
    elapsed_s: float
    history: History
    report_window: ReportWindow
    epoch_sums: ReportWindow
    noise: torch.Generator
    binarize_noise: torch.Generator
    fingerprint: str
    snapshots: SnapshotKeeper

    def rank_seed(self, seed: int) -> int: ...


IMPLEMENTATION_FLAGS = {"fused", "foreach", "capturable", "differentiable"}
"""How Adam runs on this machine, not what it learned: never taken from a checkpoint."""


def capture(trainer: Resumable) -> Checkpoint:
    """A copy of everything needed to resume, as plain numpy arrays and numbers."""
    optim = trainer.optimizer.state_dict()
    groups = []
    for g in optim["param_groups"]:
        groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()})
    state = {
        int(i): {k: v.detach().cpu().numpy().copy() for k, v in s.items()} for i, s in optim["state"].items()
    }
    progress = {
        "step": trainer.step,
        "epoch": trainer.epoch,
        "batch_in_epoch": trainer.batch_in_epoch,
        "beta": trainer.beta_target,
        "lr": trainer.lr,
        "free_bits": trainer.free_bits,
        "elapsed_s": trainer.elapsed_s,
        "world_size": trainer.group.world,
    }
    running: dict[str, np.ndarray] = {}
    trainer.report_window.save("window", progress, running)
    trainer.epoch_sums.save("epoch", progress, running)
    return Checkpoint(
        model_config=trainer.model_config,
        train_config=trainer.config,
        dataset=dataclasses.replace(trainer.dataset.spec, download=False, fingerprint=trainer.fingerprint),
        model_state={k: v.detach().cpu().numpy().copy() for k, v in trainer.model.state_dict().items()},
        optimizer_state={"param_groups": groups, "state": state},
        progress=progress,
        rng_state=_generator_states(trainer),
        history=trainer.history.arrays(),
        running=running,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        timeline=trainer.snapshots.timeline(),
    )


def _rng_name(name: str, rank: int) -> str:
    """Rank 0's generators keep the names a single process uses; rank r's are name_rankR."""
    return name if rank == 0 else f"{name}_rank{rank}"


def _generator_states(trainer: Resumable) -> dict[str, np.ndarray]:
    """Every rank's noise and binarization generator states (a collective when distributed: all ranks call it)."""
    states = {}
    for name, generator in (("noise", trainer.noise), ("binarize", trainer.binarize_noise)):
        per_rank = trainer.group.all_gather_bytes(generator.get_state().cpu(), trainer.device)
        for rank, state in enumerate(per_rank):
            states[_rng_name(name, rank)] = state.numpy().copy()
    return states


def restore(trainer: Resumable, ckpt: Checkpoint) -> None:
    """Put a checkpoint's state into a trainer built with the same model config (and, if named, the same data)."""
    if ckpt.model_config != trainer.model_config:
        raise ConfigError("checkpoint model config differs from the requested one")
    if ckpt.dataset.fingerprint and ckpt.dataset.fingerprint != trainer.fingerprint:
        ours, theirs = trainer.dataset.spec.to_dict(), ckpt.dataset.to_dict()
        differ = [f"{k} {ours[k]!r} here, {theirs[k]!r} in the checkpoint" for k in ours
                  if k not in ("fingerprint", "download", "data_dir") and ours[k] != theirs[k]]
        raise ConfigError(
            f"{trainer.dataset.spec.describe()} is not the data this checkpoint was trained on "
            f"({'; '.join(differ) or 'other images or another train/test split'}); "
            "resume without naming a dataset to use the checkpoint's own")
    trainer.model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ckpt.model_state.items()})
    _restore_optimizer(trainer.optimizer, ckpt.optimizer_state)
    p = ckpt.progress
    trainer.step = int(p["step"])
    trainer.epoch = int(p["epoch"])
    trainer.batch_in_epoch = int(p["batch_in_epoch"])
    trainer.beta_target = float(p["beta"])
    trainer.lr = float(p["lr"])
    trainer.free_bits = float(p["free_bits"])
    trainer.elapsed_s = float(p.get("elapsed_s", 0.0))
    for group in trainer.optimizer.param_groups:
        group["lr"] = trainer.lr
    seed = trainer.config.seed * 1_000_003 + trainer.step
    rank = trainer.group.rank
    for name, generator, fallback in (("noise", trainer.noise, seed), ("binarize", trainer.binarize_noise, seed + 1)):
        key = _rng_name(name, rank)
        if key not in ckpt.rng_state:
            if rank > 0:  # a rank the saving run did not have (resumed at a larger world size)
                generator.manual_seed(trainer.rank_seed(fallback))
            continue
        try:
            generator.set_state(torch.from_numpy(np.asarray(ckpt.rng_state[key], dtype=np.uint8)))
        except (RuntimeError, ValueError):
            # a state from another device's generator (a CUDA run resumed on the CPU): training goes
            # on with draws seeded from (seed, step), reproducible but not the uninterrupted run's
            generator.manual_seed(trainer.rank_seed(fallback))
    trainer.history = History(ckpt.history)
    d = trainer.model_config.latent_dim
    trainer.report_window = ReportWindow.load("window", p, ckpt.running, d, trainer.device)
    trainer.epoch_sums = ReportWindow.load("epoch", p, ckpt.running, d, trainer.device)
    trainer.snapshots.resume(ckpt.timeline, trainer.step)


def _restore_optimizer(optimizer: torch.optim.Optimizer, saved: dict) -> None:
    if not saved.get("param_groups"):
        return  # a checkpoint without Adam state (e.g. exported weights): Adam starts afresh
    groups = []
    for live, group in zip(optimizer.param_groups, saved["param_groups"]):
        merged = {k: v for k, v in live.items() if k != "params"}
        merged.update({k: v for k, v in group.items() if k not in IMPLEMENTATION_FLAGS})
        if "betas" in merged:
            merged["betas"] = tuple(merged["betas"])
        groups.append(merged)
    state = {int(i): {k: torch.as_tensor(np.asarray(v)) for k, v in s.items()} for i, s in saved["state"].items()}
    optimizer.load_state_dict({"param_groups": groups, "state": state})
