"""Where and in what precision a run trains: the device chosen by name, and the autocast context of a step."""

from __future__ import annotations

import contextlib

import torch

from trainer.config import TrainConfig
from trainer.errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """auto picks cuda, then mps, then cpu; an explicit device that is absent, or another name, is a ConfigError."""
    name = TrainConfig.rule("device").check("device", name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda requested but no CUDA GPU is available (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device mps requested but MPS is not available (use --device cpu or auto)")
    return torch.device(name)


def precision_context(device: torch.device, precision: str):
    """bfloat16 autocast for a bf16 run's forward pass; for fp32, a context that costs nothing on the training step."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
