"""One step's input (Batch) and which examples of a global batch each rank of a distributed run trains."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainer.training.distributed import Group


@dataclass(frozen=True)
class Batch:
    """One step's input: examples, labels (a CVAE's), reparameterization noise, and the β it is trained with."""

    x: torch.Tensor
    y: torch.Tensor | None
    eps: torch.Tensor
    beta: float
    n: int
    idx: torch.Tensor
    """Which training examples (rows of x_train) the batch holds."""
    weight: float = 1.0
    """This rank's share of the global batch times the world size: the loss is scaled by it, so that the
    gradients DistributedDataParallel averages are the global batch's mean even when shards differ by one.
    0 for a rank whose shard of a short last batch is empty (it trains on one example with weight 0)."""


def shard_positions(order: torch.Tensor, b: int, batch_size: int, group: Group) -> tuple[torch.Tensor, int, float]:
    """(examples of batch b of an epoch's `order` that this rank trains, how many count, loss weight)."""
    idx = order[b * batch_size : (b + 1) * batch_size]
    if not group.active:
        return idx, len(idx), 1.0
    # rank r takes positions r, r + W, ... of the global batch: disjoint shards of one (seed, epoch) order
    shard = idx[group.rank :: group.world]
    weight = len(shard) * group.world / len(idx)
    return (shard if len(shard) else idx[:1]), len(shard), weight  # an empty shard: one example, weight 0


def to_device_tensor(x: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    """The whole array as one tensor on `device` (None stays None): batches are slices of it."""
    return None if x is None else torch.from_numpy(np.ascontiguousarray(x)).to(device)


def epoch_order(stream, n_train: int, seed: int, epoch: int, device: torch.device) -> torch.Tensor:
    """An epoch's permutation of the training examples; it depends only on (seed, epoch), so a resumed run sees
    the same batches. A streamed set (`stream`, its H5Rows) shuffles its chunks, then within a buffer
    (chunk_order), and its order stays on the CPU."""
    if stream is not None:
        from trainer.data.streaming import chunk_order

        return torch.from_numpy(chunk_order(stream, seed, epoch))
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n_train, generator=g).to(device)
