"""The VAE: an encoder gives q(z|x) = N(mu, diag sigma^2), z = mu + sigma * eps, a decoder gives p(x|z).

    model = VAE(ModelConfig(latent_dim=2))
    mu, logvar = model.encode(x)            # x: (N, C, H, W) float in [0, 1]
    z = model.reparameterize(mu, logvar)    # differentiable sample from q(z|x)
    params = model.decode(z)                # logits (bernoulli, continuous-bernoulli) or mean (gaussian)
    log_px_z = model.log_likelihood(x, params)   # (N,) nats, summed over pixels
    with eval_mode(model): ...              # evaluation, then back to whichever mode it was in
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from trainer.config import ModelConfig
from trainer.data.dataset import Dataset
from trainer.errors import ConfigError
from trainer.model.layers import dense, nonlinearity
from trainer.model.priors import STANDARD, MixturePrior

LOG_2PI = math.log(2 * math.pi)
LOG_SIGMA_FLOOR = -6.0
"""A learned Gaussian log sigma is soft-clipped above this (Rybkin et al. 2021): without a floor, sigma can
shrink until the likelihood of a near-perfect reconstruction grows without bound."""
_CB_TAYLOR = 1e-2  # |logit| below which the continuous Bernoulli's terms use their Taylor series


def continuous_bernoulli_log_norm(logits: torch.Tensor) -> torch.Tensor:
    """log C(lambda) of the continuous Bernoulli, lambda = sigmoid(logits).

    C(lambda) = 2 atanh(1 - 2 lambda) / (1 - 2 lambda), which in terms of the logit eta is eta / tanh(eta / 2):
    even in eta, 2 at eta = 0 (where both forms are 0/0, hence the series 2 + eta^2 / 6).
    """
    small = logits.abs() < _CB_TAYLOR
    safe = torch.where(small, torch.ones_like(logits), logits)
    exact = torch.log(safe.abs()) - torch.log(torch.tanh(safe.abs() / 2))
    return torch.where(small, torch.log(2 + logits.pow(2) / 6), exact)


def continuous_bernoulli_mean(logits: torch.Tensor) -> torch.Tensor:
    """E[x] of the continuous Bernoulli: lambda / (2 lambda - 1) + 1 / (2 atanh(1 - 2 lambda)), not lambda itself."""
    small = logits.abs() < _CB_TAYLOR
    safe = torch.where(small, torch.ones_like(logits), logits)
    exact = torch.sigmoid(safe) / torch.tanh(safe / 2) - 1 / safe
    return torch.where(small, 0.5 + logits / 12, exact)


def _mlp(sizes: list[int], norm: str = "none", hidden_last: bool = False, act: str = "relu") -> nn.Sequential:
    """Linear layers with the activation `act` between them (none after the last); the hidden ones batch-normalised
    when norm is "batch", and the last one too when hidden_last (an activation follows it outside)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        layers.append(dense(a, b, norm) if hidden or hidden_last else nn.Linear(a, b))
        if hidden:
            layers.append(nonlinearity(act))
    return nn.Sequential(*layers)


def _conv_channels(side: int) -> list[int]:
    """Output channels of the encoder's stride-2 convs: one per halving while the side stays even and above 4.

    28 -> 14 -> 7 and 64 -> 32 -> 16 -> 8 -> 4 (the layouts of earlier checkpoints, unchanged); 32 -> 16 -> 8 -> 4,
    128 -> ... -> 4, 36 -> 18 -> 9. A side that is a multiple of 4 always allows two halvings. The first half of
    the layers have 32 channels, the rest 64."""
    layers = 0
    while side % 2 == 0 and side > 4 and layers < 5:
        side //= 2
        layers += 1
    return [32] * (layers // 2) + [64] * (layers - layers // 2)


def _bernoulli_nll(logits: torch.Tensor, x: torch.Tensor, reduction: str, vmapped: bool) -> torch.Tensor:
    """-log Bernoulli(x; sigmoid(logits)) per pixel (reduction "none") or summed ("sum").

    Under torch.func.vmap (trainer.training.ensemble) the fused loss has no batching rule and runs once per run in a
    loop; softplus(l) - x*l is the same quantity, stable for any logit, and batches."""
    if not vmapped:
        return F.binary_cross_entropy_with_logits(logits, x, reduction=reduction)
    nll = F.softplus(logits) - x * logits
    return nll.sum() if reduction == "sum" else nll


def _repeated(y: torch.Tensor | None, k: int) -> torch.Tensor | None:
    """Labels (N,) repeated for K samples each, sample-major: (K * N,)."""
    return None if y is None else y.repeat(k)


class VAE(nn.Module):
    def __init__(self, config: ModelConfig, vmapped: bool = False, decoder_extra: int = 0):
        """vmapped: this module only runs under torch.func.vmap over stacked weights (trainer.training.ensemble).
        decoder_extra: inputs the decoder takes beside z (a residual ladder's top-down feature)."""
        super().__init__()
        config.validate()
        self.config = config
        self.vmapped = vmapped
        c, h, w = config.input_shape
        nc, d = config.num_classes, config.latent_dim
        norm, act = config.norm, config.activation
        hidden = [int(s) for s in config.hidden]
        encoder = list(config.encoder_widths)

        if config.arch == "mlp":
            self.enc_body = nn.Flatten()
            self.enc_mlp = nn.Sequential(_mlp([config.input_size + nc, *encoder], norm, True, act), nonlinearity(act))
            feat = encoder[-1]
            self.dec_mlp = _mlp([d + decoder_extra + nc, *reversed(hidden), config.input_size], norm, act=act)
            self.dec_conv = None
        else:
            chans = _conv_channels(h)
            enc: list[nn.Module] = []
            prev = c
            for ch in chans:
                enc += [nn.Conv2d(prev, ch, 4, 2, 1), nonlinearity(act)]
                prev = ch
            enc.append(nn.Flatten())
            self.enc_body = nn.Sequential(*enc)
            self._bottom = (chans[-1], h >> len(chans), w >> len(chans))
            flat = chans[-1] * self._bottom[1] * self._bottom[2]
            self.enc_mlp = nn.Sequential(dense(flat + nc, encoder[0], norm), nonlinearity(act))
            feat = encoder[0]
            self.dec_mlp = nn.Sequential(dense(d + decoder_extra + nc, hidden[0], norm), nonlinearity(act),
                                         dense(hidden[0], flat, norm), nonlinearity(act))
            dec: list[nn.Module] = []
            rev = list(reversed(chans))
            for i, ch in enumerate(rev):
                out = rev[i + 1] if i + 1 < len(rev) else c
                dec.append(nn.ConvTranspose2d(ch, out, 4, 2, 1))
                if i + 1 < len(rev):
                    dec.append(nonlinearity(act))
            self.dec_conv = nn.Sequential(*dec)
        self.fc_mu = nn.Linear(feat, d)
        self.fc_logvar = nn.Linear(feat, d)
        if config.prior == "vamp":
            # Tomczak & Welling's initialisation: pseudo-inputs near N(0.05, 0.01) in pixel space, kept in [0, 1] by
            # a sigmoid (their hardtanh stops the gradient of a pixel that leaves the range)
            start = (0.05 + 0.01 * torch.randn(config.pseudo_inputs, c, h, w)).clamp(0.01, 0.99)
            self.pseudo_logits = nn.Parameter(torch.logit(start))
        else:
            self.register_parameter("pseudo_logits", None)
        if config.likelihood == "gaussian" and config.sigma == 0:
            # one shared, learned observation noise (the "optimal sigma" of Rybkin et al. 2021)
            self.log_sigma = nn.Parameter(torch.zeros(()))
        else:
            self.register_parameter("log_sigma", None)

    # --- inference model q(z|x) -------------------------------------------------------------
    def _onehot(self, y: torch.Tensor | None, n: int, device) -> torch.Tensor | None:
        if not self.config.conditional:
            return None
        if y is None:
            raise ValueError("a conditional VAE needs labels y")
        return F.one_hot(y.long().to(device), self.config.num_classes).float()

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x[, y]), each (N, latent_dim)."""
        h = self.enc_body(x)
        onehot = self._onehot(y, x.shape[0], x.device)
        if onehot is not None:
            h = torch.cat([h, onehot], dim=1)
        h = self.enc_mlp(h)
        return self.fc_mu(h), self.fc_logvar(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a sample whose gradient flows to mu and sigma."""
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + torch.exp(0.5 * logvar) * eps

    # --- generative model p(x|z) ------------------------------------------------------------
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder output shaped like x: Bernoulli logits, or the Gaussian mean."""
        onehot = self._onehot(y, z.shape[0], z.device)
        if onehot is not None:
            z = torch.cat([z, onehot], dim=1)
        h = self.dec_mlp(z)
        n = z.shape[0]
        if self.dec_conv is None:
            return h.view(n, *self.config.input_shape)
        return self.dec_conv(h.view(n, *self._bottom))

    def obs_log_sigma(self) -> torch.Tensor | float:
        """The Gaussian likelihood's log sigma: fixed, or learned and soft-clipped at LOG_SIGMA_FLOOR."""
        if self.log_sigma is None:
            return math.log(self.config.sigma)
        return LOG_SIGMA_FLOOR + F.softplus(self.log_sigma - LOG_SIGMA_FLOOR)

    def log_likelihood(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per example in nats, summed over every pixel: shape (N,)."""
        if self.config.likelihood == "bernoulli":
            ll = -_bernoulli_nll(params, x, "none", self.vmapped)
        elif self.config.likelihood == "continuous-bernoulli":
            ll = continuous_bernoulli_log_norm(params) - _bernoulli_nll(params, x, "none", self.vmapped)
        else:
            log_sigma = torch.as_tensor(self.obs_log_sigma(), device=x.device)
            ll = -0.5 * ((x - params) ** 2 * torch.exp(-2 * log_sigma) + LOG_2PI) - log_sigma
        return ll.flatten(1).sum(1)

    def recon_nll(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) summed over pixels and averaged over the batch: the training-step distortion."""
        if self.config.likelihood == "bernoulli":
            # one fused reduction: a per-example (N,) intermediate is a noticeable share of a small MLP step on CPU
            return _bernoulli_nll(params, x, "sum", self.vmapped) / x.shape[0]
        return -self.log_likelihood(x, params).mean()

    def mean_image(self, params: torch.Tensor) -> torch.Tensor:
        """E[x|z] for display, clipped to [0, 1]."""
        if self.config.likelihood == "bernoulli":
            return torch.sigmoid(params)
        if self.config.likelihood == "continuous-bernoulli":
            return continuous_bernoulli_mean(params).clamp(0.0, 1.0)
        return params.clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, eps: torch.Tensor | None = None):
        """(mu, logvar, z, decoder output) of one sample per example; for eps of K samples each (K, N,
        latent_dim), mu, logvar and z are (K, N, latent_dim) and the decoder's output (K * N, ...), sample-major."""
        if eps is not None and eps.dim() == 3:
            mu, logvar, z = self.posterior_samples(x, y, eps)
            return mu, logvar, z, self.decode(z.reshape(-1, z.shape[-1]), _repeated(y, eps.shape[0]))
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar, eps)
        return mu, logvar, z, self.decode(z, y)

    def posterior_samples(self, x: torch.Tensor, y: torch.Tensor | None, eps: torch.Tensor):
        """(mu, logvar, z), each (K, N, latent_dim): K samples of q(z|x) for standard normal noise eps of that
        shape. The interface of IWAE and the evaluations, shared with trainer.model.hierarchy."""
        mu, logvar = self.encode(x, y)
        return mu.expand_as(eps), logvar.expand_as(eps), self.reparameterize(mu, logvar, eps)

    # --- the prior p(z) -----------------------------------------------------------------------
    def pseudo_inputs(self) -> torch.Tensor | None:
        """The VampPrior's learned pseudo-inputs u_k, images (K, C, H, W) in [0, 1]; None under N(0, I)."""
        return None if self.pseudo_logits is None else torch.sigmoid(self.pseudo_logits)

    def prior(self):
        """p(z) at the current weights (trainer.model.priors): N(0, I), or the VampPrior (1/K) Σ_k q(z | u_k)."""
        if self.pseudo_logits is None:
            return STANDARD
        return MixturePrior(*VAE.encode(self, self.pseudo_inputs()))

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images decoded from z ~ p(z), as E[x|z] (in eval mode: batch norm reads its running statistics)."""
        device = self.fc_mu.weight.device
        with eval_mode(self):
            z = self.prior().sample(n, self.config.latent_dim, generator=generator, device=device)
            return self.mean_image(self.decode(z, y))


@contextmanager
def eval_mode(model):
    """Eval mode for the block, then whatever the model was in (the trainer's model is in train mode).

    A duck-typed model that is no nn.Module (the metrics tests' closed-form VAE) has no mode: nothing happens.
    """
    if not isinstance(model, nn.Module):
        yield
        return
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def check_model_fits(config: ModelConfig, dataset: Dataset) -> None:
    """A ConfigError unless a model of `config` can train on `dataset` (its image shape, its labels)."""
    config.validate()
    if tuple(config.input_shape) != tuple(dataset.input_shape):
        raise ConfigError(f"model expects {tuple(config.input_shape)} images but {dataset.spec.describe()} "
                          f"has {tuple(dataset.input_shape)}")
    if config.conditional and dataset.y_train is None:
        raise ConfigError(f"{dataset.spec.describe()} has no labels for a conditional VAE")


def model_config_for(dataset: Dataset, conditional: bool = False, **kwargs) -> ModelConfig:
    """A ModelConfig whose input shape (and, for a CVAE, class count) matches the dataset."""
    if conditional and not dataset.num_classes:
        raise ConfigError(f"{dataset.spec.describe()} has no labels, so it cannot train a conditional VAE")
    cfg = ModelConfig(input_shape=tuple(dataset.input_shape), num_classes=dataset.num_classes if conditional else 0,
                      **kwargs)
    cfg.validate()
    return cfg
