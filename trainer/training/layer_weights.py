"""A hierarchical VAE's per-layer β, warm-up and free bits, as one value per latent dimension.

    weights = LayerWeights.of(model_config, train_config, device)
    weights.beta(beta, step)        # β, or a (latent_dim,) tensor: β * layer_beta[l] * warm-up ramp of layer l
    weights.free_bits(free_bits)    # free_bits, or a (latent_dim,) tensor of each layer's free bits

negative_elbo takes either form. A model of one layer, or a hierarchy without per-layer settings, gets the
plain numbers back, so its step is the one it always was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from trainer.config import ModelConfig, TrainConfig
from trainer.errors import ConfigError


def _per_layer(name: str, values: tuple, layers: int) -> None:
    if values and len(values) != layers:
        raise ConfigError(f"{name} gives {len(values)} values for a model of {layers} layer(s): give one per layer, "
                          "bottom first")


@dataclass
class LayerWeights:
    dims: tuple[int, ...]
    """Latent dimensions of each layer, bottom first."""
    layer_beta: tuple[float, ...]
    layer_warmup: tuple[int, ...]
    layer_free_bits: tuple[float, ...]
    device: torch.device
    _beta_values: list = field(default_factory=list, repr=False)
    _beta_tensor: torch.Tensor | None = field(default=None, repr=False)

    @classmethod
    def of(cls, model: ModelConfig, train: TrainConfig, device) -> "LayerWeights":
        layers = int(model.layers)
        for name in ("layer_beta", "layer_warmup", "layer_free_bits"):
            _per_layer(name, getattr(train, name), layers)
        if layers > 1 and train.objective == "tcvae":
            raise ConfigError("β-TCVAE splits the KL of one layer of latents: train it with layers 1")
        return cls(model.layer_dims, tuple(map(float, train.layer_beta)), tuple(map(int, train.layer_warmup)),
                   tuple(map(float, train.layer_free_bits)), torch.device(device))

    @property
    def active(self) -> bool:
        return bool(self.layer_beta or self.layer_warmup or self.layer_free_bits)

    def factors(self, step: int) -> list[float]:
        """Each layer's weight on β at `step`: its layer_beta times its warm-up ramp min(1, step / steps)."""
        out = []
        for i in range(len(self.dims)):
            w = self.layer_beta[i] if self.layer_beta else 1.0
            if self.layer_warmup and self.layer_warmup[i] > 0:
                w *= min(1.0, step / self.layer_warmup[i])
            out.append(w)
        return out

    def warming_up(self, step: int) -> bool:
        """Some layer's KL weight is still ramping up at `step`."""
        return any(0 < steps and step < steps for steps in self.layer_warmup)

    def _per_dim(self, values: list[float]) -> torch.Tensor:
        return torch.tensor([v for v, d in zip(values, self.dims) for _ in range(d)], device=self.device)

    def beta(self, beta: float, step: int) -> float | torch.Tensor:
        if not (self.layer_beta or self.layer_warmup):
            return beta
        values = [beta * f for f in self.factors(step)]
        if values != self._beta_values:  # past the warm-ups the same tensor serves every step: no copy per step
            self._beta_values, self._beta_tensor = values, self._per_dim(values)
        return self._beta_tensor

    def free_bits(self, free_bits: float) -> float | torch.Tensor:
        if not self.layer_free_bits:
            return free_bits
        return self._per_dim(list(self.layer_free_bits))
