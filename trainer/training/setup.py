"""What a Trainer trains: the network, Adam, the DDP wrapper of a distributed run and the compiled step.

    model, optimizer, forward, compiled = build_trained(model_config, train_config, device, group, tc)

`forward` is what the objective calls (the model, or its DistributedDataParallel wrapper); `compiled` is the
objective compiled by torch.compile for a --compile run, else None.
"""

from __future__ import annotations

import torch

from trainer.config import ModelConfig, TrainConfig
from trainer.errors import ConfigError
from trainer.model.hierarchy import build_model
from trainer.model.objective import TcWeights, objective_terms
from trainer.training.distributed import Group


def build_trained(model_config: ModelConfig, config: TrainConfig, device: torch.device, group: Group,
                  tc: TcWeights | None):
    """The network (seeded by config.seed), its fused Adam, the forward the objective calls, the compiled step."""
    torch.manual_seed(config.seed)
    model = build_model(model_config).to(device)
    # fused Adam: one kernel per parameter instead of ~10 small ops (CPU too since torch 2.4)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, fused=device.type in ("cpu", "cuda"))
    forward = model
    if group.active:
        from torch.nn.parallel import DistributedDataParallel

        # every rank starts from the same weights (same seed; DDP also broadcasts rank 0's)
        forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if config.precision == "bf16" and device.type not in ("cpu", "cuda"):
        raise ConfigError(f"bf16 precision runs on the CPU or CUDA, not {device.type}")
    compiled = None
    if config.compile:
        def objective(x, y, eps, beta, free_bits, kl_reduce):
            t = objective_terms(model, x, y, beta=beta, free_bits=free_bits, eps=eps, forward=forward, tc=tc,
                                kl_reduce=kl_reduce)
            return t.loss, t.recon, t.kl, t.kl_per_dim, t.total_correlation

        # on CUDA, reduce-overhead replays CUDA graphs: one launch for the whole forward (and backward)
        compiled = torch.compile(objective, mode="reduce-overhead" if device.type == "cuda" else None, dynamic=False)
    return model, optimizer, forward, compiled
