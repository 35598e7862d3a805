"""Small models trained a few steps on random binary images: a real, imperfect encoder for the estimator tests."""

from __future__ import annotations

import torch

from trainer.config import ModelConfig
from trainer.model.hierarchy import build_model
from trainer.model.objective import negative_elbo


def trained_on_noise(config: ModelConfig, steps: int, seed: int = 0, n: int = 64):
    """(model in eval mode, x of n binary images, y or None), after `steps` Adam steps on the negative ELBO."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, *config.input_shape, generator=g) < 0.3).float()
    y = torch.randint(0, max(config.num_classes, 1), (n,), generator=g)
    model = build_model(config)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        opt.zero_grad()
        negative_elbo(model, x, y if config.conditional else None).loss.backward()
        opt.step()
    return model.eval(), x, y if config.conditional else None
