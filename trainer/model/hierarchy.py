"""A hierarchical VAE: L stochastic layers with top-down inference that shares the generative path.

    model = build_model(ModelConfig(latent_dim=32, layers=2))   # z_1 (16 dims) below z_2 (16 dims)
    mu, logvar, u, params = model(x, eps=eps)                   # one sample of the whole path, bottom layer first
    model.decode(u)                                             # u ~ N(0, I) is a prior sample of every layer

The generative model is top-down (Sønderby et al. 2016, the Ladder VAE):

    p(z_L) = N(0, I),   p(z_l | z_{l+1}) = N(mu_p(z_{l+1}), diag sigma_p^2(z_{l+1})),   p(x | z_1)

and so is the inference model. A bottom-up pass of x gives each layer a Gaussian N(mu_d, sigma_d^2), and
q(z_l | z_{l+1}, x) is its precision-weighted merge with the generative path's p(z_l | z_{l+1}):

    1/sigma_q^2 = 1/sigma_d^2 + 1/sigma_p^2,   mu_q = sigma_q^2 (mu_d / sigma_d^2 + mu_p / sigma_p^2)

The tool sees every layer in its prior's own coordinates, u_l = (z_l - mu_p) / sigma_p (NVAE's residual form,
Vahdat & Kautz 2020). There the prior of the whole path is N(0, I) over the concatenated u, q(u_l | u_{>l}, x)
is the diagonal Gaussian N((mu_q - mu_p) / sigma_p, sigma_q^2 / sigma_p^2), and, the map being affine in each
dimension, KL(q(u_l | ·) ‖ N(0, I)) = KL(q(z_l | ·) ‖ p(z_l | z_{l+1})) exactly. So the seeds' closed-form KL,
IWAE, the sliders (u ~ N(0, I)), prior samples and the latent panels apply to a hierarchy unchanged, per layer
by slicing u. `encode(x)` is the mean path: each layer's q at the upper layers' means.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from trainer.config import RESIDUAL_BLOCKS, ModelConfig
from trainer.model.layers import dense, nonlinearity
from trainer.model.vae import VAE


def merge_gaussians(mu_d, logvar_d, mu_p, logvar_p) -> tuple[torch.Tensor, torch.Tensor]:
    """The precision-weighted product of N(mu_d, e^logvar_d) and N(mu_p, e^logvar_p), renormalized (nats)."""
    logvar_q = -torch.logaddexp(-logvar_d, -logvar_p)
    mu_q = mu_d * torch.exp(logvar_q - logvar_d) + mu_p * torch.exp(logvar_q - logvar_p)
    return mu_q, logvar_q


def to_prior_coordinates(mu_q, logvar_q, mu_p, logvar_p) -> tuple[torch.Tensor, torch.Tensor]:
    """q(z_l | ·) = N(mu_q, e^logvar_q) as the distribution of u_l = (z_l - mu_p) / sigma_p."""
    return (mu_q - mu_p) * torch.exp(-0.5 * logvar_p), logvar_q - logvar_p


class ResidualBlock(nn.Module):
    """h + W2 act(W1 h + b1) + b2: a dense residual cell (NVAE's, without its convolutions). W2 starts at zero, so
    a new block is the identity and a deep ladder trains like a shallow one at first."""

    def __init__(self, width: int, norm: str = "none", act: str = "relu"):
        super().__init__()
        self.fc1 = dense(width, width, norm)
        self.act = nonlinearity(act)
        self.fc2 = nn.Linear(width, width)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(self.act(self.fc1(h)))


def _step(n_in: int, width: int, residual: bool, norm: str, act: str) -> nn.Sequential:
    """One deterministic step between stochastic layers: a dense layer, and a residual ladder's cells after it."""
    cells = [ResidualBlock(width, norm, act) for _ in range(RESIDUAL_BLOCKS)] if residual else []
    return nn.Sequential(dense(n_in, width, norm), nonlinearity(act), *cells)


class HierarchicalVAE(VAE):
    """The VAE's encoder body and decoder, with L stochastic layers between them (ModelConfig.layers)."""

    def __init__(self, config: ModelConfig, vmapped: bool = False):
        config.validate()
        dims = config.layer_dims
        widths = config.encoder_widths
        width = widths[-1] if config.arch == "mlp" else widths[0]  # what the encoder body gives the Gaussians
        self.skip = config.ladder == "residual"
        """The decoder sees z_1 and the top-down feature the layers above gave z_1's prior (a residual ladder)."""
        # the one-layer VAE of the bottom layer: its encoder body, its decoder p(x | z_1), its bottom-up Gaussian
        super().__init__(dataclasses.replace(config, latent_dim=dims[0], layers=1, layer_sizes=()), vmapped,
                         decoder_extra=width if self.skip else 0)
        self.config = config
        self.dims = dims
        # bottom-up: a deterministic step per stochastic layer above the first, then that layer's Gaussian
        self.up = nn.ModuleList(_step(width, width, self.skip, config.norm, config.activation) for _ in dims[1:])
        self.up_mu = nn.ModuleList(nn.Linear(width, d) for d in dims[1:])
        self.up_logvar = nn.ModuleList(nn.Linear(width, d) for d in dims[1:])
        # top-down: p(z_l | z_{l+1}) for l = 1 .. L-1, shared by the generative model and q
        self.down = nn.ModuleList(_step(dims[i + 1], width, self.skip, config.norm, config.activation)
                                  for i in range(len(dims) - 1))
        self.down_mu = nn.ModuleList(nn.Linear(width, dims[i]) for i in range(len(dims) - 1))
        self.down_logvar = nn.ModuleList(nn.Linear(width, dims[i]) for i in range(len(dims) - 1))

    @property
    def layers(self) -> int:
        return len(self.dims)

    def bottom_up(self, x: torch.Tensor, y: torch.Tensor | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(mu_d, logvar_d) of every layer, bottom first: what x alone says about each z_l."""
        h = self.enc_body(x)
        onehot = self._onehot(y, x.shape[0], x.device)
        if onehot is not None:
            h = torch.cat([h, onehot], dim=1)
        h = self.enc_mlp(h)
        out = [(self.fc_mu(h), self.fc_logvar(h))]
        for up, fc_mu, fc_logvar in zip(self.up, self.up_mu, self.up_logvar):
            h = up(h)
            out.append((fc_mu(h), fc_logvar(h)))
        return out

    def prior_step(self, layer: int, z_above: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu_p, logvar_p) of p(z_layer | z_{layer+1}), layers counted from 0 at the bottom."""
        return self._prior_heads(layer, self.down[layer](z_above))

    def _prior_heads(self, layer: int, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.down_mu[layer](h), self.down_logvar[layer](h)

    def _decoder_input(self, z_1: torch.Tensor, feature: torch.Tensor | None) -> torch.Tensor:
        """What the decoder takes: z_1, and with the skip the top-down feature of the layers above."""
        return torch.cat([z_1, feature], dim=-1) if self.skip else z_1

    def _split(self, u: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.split(u, list(self.dims), dim=-1))

    def top_down(self, bottom_up, eps: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                    torch.Tensor]:
        """One sample of q(u | x) down the path: (mu_u, logvar_u, u, the decoder's input: z_1, with a residual
        ladder's skip beside it), u and its parameters bottom first.

        eps: (N, latent_dim) standard normal noise, or None for the mean path (every layer at its mean)."""
        mu_u, logvar_u, u, _, _, z = self._descend(bottom_up, eps)
        return mu_u, logvar_u, u, z

    def _descend(self, bottom_up, eps):
        """top_down's pass, with the prior p(z_l | z_{l+1}) it met at each layer: (mu_u, logvar_u, u, mu_p,
        logvar_p, the decoder's input), concatenated bottom first (the top layer's prior is N(0, I))."""
        noise = self._split(eps) if eps is not None else [None] * self.layers
        out = [[None] * self.layers for _ in range(5)]  # mu_u, logvar_u, u, mu_p, logvar_p of each layer
        z = feature = None
        for layer in reversed(range(self.layers)):
            mu_d, logvar_d = bottom_up[layer]
            if z is None:  # the top layer: its prior is N(0, I), so u_L = z_L
                mu_p, logvar_p = torch.zeros_like(mu_d), torch.zeros_like(logvar_d)
            else:
                feature = self.down[layer](z)
                mu_p, logvar_p = self._prior_heads(layer, feature)
            mu_u, logvar_u = to_prior_coordinates(*merge_gaussians(mu_d, logvar_d, mu_p, logvar_p), mu_p, logvar_p)
            u = mu_u if noise[layer] is None else mu_u + torch.exp(0.5 * logvar_u) * noise[layer]
            z = mu_p + torch.exp(0.5 * logvar_p) * u
            for slot, value in zip(out, (mu_u, logvar_u, u, mu_p, logvar_p)):
                slot[layer] = value
        return (*(torch.cat(parts, dim=-1) for parts in out), self._decoder_input(z, feature))

    def path(self, x: torch.Tensor, y: torch.Tensor | None, eps: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the rate split of a hierarchy needs of one sampled path per example, each (N, latent_dim):
        the bottom-up Gaussians of x (mu_d, logvar_d) and, along the path eps takes, u with the priors it met
        (mu_p, logvar_p), its own q (mu_u, logvar_u), and encode's mean path (mean_mu, mean_logvar).
        q(u_l | u_{>l}, x_m) for any other x_m is then merge(x_m's bottom-up, this prior)."""
        up = self.bottom_up(x, y)
        mu_u, logvar_u, u, mu_p, logvar_p, _ = self._descend(up, eps)
        mean_mu, mean_logvar, _, _ = self.top_down(up, None)  # encode's mean path, from the same bottom-up pass
        return {"mu_d": torch.cat([m for m, _ in up], dim=-1), "logvar_d": torch.cat([lv for _, lv in up], dim=-1),
                "u": u, "mu_p": mu_p, "logvar_p": logvar_p, "mu_u": mu_u, "logvar_u": logvar_u,
                "mean_mu": mean_mu, "mean_logvar": mean_logvar}

    def generate(self, u: torch.Tensor) -> torch.Tensor:
        """The decoder's input for the path u (prior coordinates, bottom first): z_1, with z_L = u_L and
        z_l = mu_p + sigma_p * u_l (and a residual ladder's skip: the top-down feature beside it)."""
        parts = self._split(u)
        z, feature = parts[-1], None
        for layer in reversed(range(self.layers - 1)):
            feature = self.down[layer](z)
            mu_p, logvar_p = self._prior_heads(layer, feature)
            z = mu_p + torch.exp(0.5 * logvar_p) * parts[layer]
        return self._decoder_input(z, feature)

    # --- the VAE's interface, over the concatenated u ---------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of the mean path, (N, latent_dim): each layer's q with the layers above at their means."""
        mu, logvar, _, _ = self.top_down(self.bottom_up(x, y), None)
        return mu, logvar

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's output for the path u = z (prior coordinates of every layer, bottom first)."""
        return super().decode(self.generate(z), y)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, eps: torch.Tensor | None = None):
        if eps is None:
            eps = torch.randn(x.shape[0], self.config.latent_dim, device=x.device, dtype=x.dtype)
        if eps.dim() == 3:  # K samples per example: each takes its own path down from one bottom-up pass
            k, n, d = eps.shape
            up = [(m.repeat(k, 1), lv.repeat(k, 1)) for m, lv in self.bottom_up(x, y)]
            mu, logvar, u, decoder_in = self.top_down(up, eps.reshape(k * n, d))
            params = super().decode(decoder_in, None if y is None else y.repeat(k))
            return mu.view(k, n, d), logvar.view(k, n, d), u.view(k, n, d), params
        mu, logvar, u, decoder_in = self.top_down(self.bottom_up(x, y), eps)
        return mu, logvar, u, super().decode(decoder_in, y)

    def posterior_samples(self, x: torch.Tensor, y: torch.Tensor | None, eps: torch.Tensor):
        """(mu, logvar, u), each (K, N, latent_dim): K samples of q(u | x) for noise eps of that shape.

        The bottom-up pass runs once; each sample takes its own path down, so its layers' q differ."""
        k, n, d = eps.shape
        up = [(m.repeat(k, 1), lv.repeat(k, 1)) for m, lv in self.bottom_up(x, y)]
        mu, logvar, u, _ = self.top_down(up, eps.reshape(k * n, d))
        return mu.view(k, n, d), logvar.view(k, n, d), u.view(k, n, d)


def build_model(config: ModelConfig, vmapped: bool = False) -> VAE:
    """The model a config describes: a VAE, or a HierarchicalVAE when it has more than one layer."""
    return HierarchicalVAE(config, vmapped) if config.layers > 1 else VAE(config, vmapped)

