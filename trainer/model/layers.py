"""The dense layers of every MLP in the models, with batch normalisation when the config asks for it.

    dense(784, 400, norm="batch")     # Linear then BatchNorm: y = gamma (Wx + b - m) / sqrt(v + eps) + beta
    dense(784, 400, norm="none")      # a plain nn.Linear: the state names of every checkpoint before norms

Batch normalisation (Ioffe & Szegedy 2015) after each hidden dense layer, before its ReLU, is what Sønderby et al.
(2016) found crucial for training VAEs with several stochastic layers. While training, (m, v) are the batch's
mean and variance of each unit and the running averages follow them (momentum 0.1); in eval mode, which every
analysis runs in (trainer.model.vae.eval_mode), the running averages stand in, so the layer is an affine map of
its input and a numpy path folds it into the dense weights (`folded_dense`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


class BatchNorm(nn.Module):
    """Batch normalisation of each unit of (N, units) inputs, with learned scale and shift; torch's BatchNorm1d
    without its integer step counter, so a checkpoint's weights stay all floats."""

    def __init__(self, units: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(units))
        self.bias = nn.Parameter(torch.zeros(units))
        self.register_buffer("running_mean", torch.zeros(units))
        self.register_buffer("running_var", torch.ones(units))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(h, self.running_mean, self.running_var, self.weight, self.bias, self.training,
                            BN_MOMENTUM, BN_EPS)


class NormedLinear(nn.Linear):
    """nn.Linear without a bias, followed by BatchNorm of its outputs (state: weight, bn.*). A bias would be
    subtracted again with the batch mean: its gradient is zero up to rounding, which Adam would blow up to steps
    of the learning rate's size."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__(n_in, n_out, bias=False)
        self.bn = BatchNorm(n_out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.bn(super().forward(h))


def dense(n_in: int, n_out: int, norm: str = "none") -> nn.Linear:
    """A hidden dense layer (a nonlinearity follows it): normalised when norm is "batch"."""
    return NormedLinear(n_in, n_out) if norm == "batch" else nn.Linear(n_in, n_out)


def nonlinearity(name: str) -> nn.Module:
    """The hidden layers' activation (ModelConfig.activation): relu or tanh; parameter-free, so a checkpoint's state
    names are the same under either."""
    return nn.Tanh() if name == "tanh" else nn.ReLU()
