"""Data-parallel training across processes, GPUs and nodes with torch.distributed, as torchrun launches it.

    torchrun --nproc-per-node=2 -m trainer train --dataset mnist --batch-size 128 --out mnist.h5
    torchrun --nnodes=2 --nproc-per-node=4 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 --rdzv-id=job \\
             -m trainer train ...

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK in each worker's environment; `join()` reads them and joins the
process group: NCCL with one GPU per local rank, gloo on CPUs. Without them (a plain `vae-explorer train`, the
window) nothing here runs and the Trainer is a single process, world size 1.

What the Trainer does with a `Group` (trainer/loop.py):
- the model is wrapped in DistributedDataParallel, which averages the gradients of the ranks' shards;
- every epoch's permutation still depends only on (seed, epoch); each global batch of `--batch-size` examples
  is split across the ranks, rank r taking positions r, r + W, r + 2W, ... of it: disjoint, nothing repeated,
  and a 2-process run and a 1-process run with the same settings train on the same global batches;
- free bits decide their clamp max(KL_j, λ) on the global batch's per-dimension KL (one all-reduce of
  latent_dim numbers a step), so a W-process step charges and differentiates what a 1-process step would;
- report windows all-reduce their sums (one small all-reduce every `report_every` steps), so the StepReports
  and the epoch's train metrics are over every rank's examples;
- the held-out evaluation runs whole on every rank with the same weights and noise: the figures are exactly a
  single process's, and no rank waits for another's;
- `checkpoint()` gathers every rank's noise generator; only rank 0 writes (trainer/cli.py).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from trainer.errors import ConfigError

TIMEOUT = datetime.timedelta(minutes=10)
"""How long a collective waits for a missing rank before failing (torchrun then restarts the group)."""


@dataclass(frozen=True)
class Group:
    """This process's place among the workers of one training run."""

    rank: int = 0
    """0 .. world - 1; rank 0 prints and writes."""
    world: int = 1
    """Processes training together."""
    local_rank: int = 0
    """Rank on this node: which GPU it uses."""

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def leader(self) -> bool:
        """Rank 0: the one process that prints, writes checkpoints and answers in JSON."""
        return self.rank == 0

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The elementwise sum over the ranks (in place, and returned); the tensor itself when alone."""
        if self.active:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def mean_over_ranks(self, values: torch.Tensor, weight: float) -> torch.Tensor:
        """The global batch's mean of a per-shard mean `values`, from this rank's loss weight (its share of the
        batch times the world, trainer.training.batches.shard_positions): Σ_r weight_r · values_r / W."""
        if not self.active:
            return values
        return self.all_reduce_sum(values * weight) / self.world

    def any(self, flag: bool, device: torch.device) -> bool:
        """Whether `flag` is true on any rank: how the ranks agree on a decision one of them made (a save due)."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        return bool(self.all_reduce_sum(t).item() > 0)

    def all_gather_bytes(self, data: torch.Tensor, device: torch.device) -> list[torch.Tensor]:
        """Every rank's 1-D uint8 tensor (each may differ in length), in rank order, on every rank."""
        if not self.active:
            return [data]
        data = data.to(device)
        sizes = [torch.zeros(1, dtype=torch.int64, device=device) for _ in range(self.world)]
        dist.all_gather(sizes, torch.tensor([data.numel()], dtype=torch.int64, device=device))
        longest = int(max(s.item() for s in sizes))
        padded = torch.zeros(longest, dtype=torch.uint8, device=device)
        padded[: data.numel()] = data
        out = [torch.empty(longest, dtype=torch.uint8, device=device) for _ in range(self.world)]
        dist.all_gather(out, padded)
        return [o[: int(s.item())].cpu() for o, s in zip(out, sizes)]


SINGLE = Group()
"""One process: what the window, a plain `train` and every test without torchrun use."""


def launched_by_torchrun() -> bool:
    """torchrun (torch.distributed.run) set this process's rank and world size."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def restarted_by_torchrun() -> bool:
    """torchrun restarted the group after a worker failed (--max-restarts): the run continues from its last save."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0) > 0


def join(device: str) -> Group:
    """Join the process group torchrun set up, for a run on `device` (a TrainConfig.device name).

    NCCL with one GPU per local rank when the run uses CUDA (the Trainer then trains on cuda:LOCAL_RANK), else
    gloo. A plain process returns SINGLE.
    """
    if not launched_by_torchrun():
        return SINGLE
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (torchrun sets them)") from None
    if world == 1:
        return SINGLE
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"local rank {local_rank} has no GPU: this node has {torch.cuda.device_count()}; "
                              f"use --nproc-per-node at most that, or --device cpu")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", store=_attempt_store(rank, world), rank=rank,
                                world_size=world, timeout=TIMEOUT)
    return Group(rank=rank, world=world, local_rank=local_rank)


def _attempt_store(rank: int, world: int) -> dist.Store:
    """The store the ranks meet in, its keys prefixed by torchrun's restart count.

    torchrun keeps one store (its agent's) across the restarts of --max-restarts, and the group's keys (each
    rank's gloo address) would otherwise be read back from the failed attempt: a restarted group then waits on
    a dead rank's port ("connectFullMesh failed ... Connection refused"). Seen with torch 2.13 on gloo.
    """
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    try:
        host, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    except (KeyError, ValueError):
        raise ConfigError("MASTER_ADDR and MASTER_PORT must name the rendezvous (torchrun sets them)") from None
    store = dist.TCPStore(host, port, world_size=world, is_master=not agent_store and rank == 0, timeout=TIMEOUT,
                          multi_tenant=not agent_store)
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return dist.PrefixStore(f"vae-explorer/attempt-{attempt}", store)


def leave(group: Group) -> None:
    """Leave the process group at the end of a run."""
    if group.active and dist.is_initialized():
        dist.destroy_process_group()
