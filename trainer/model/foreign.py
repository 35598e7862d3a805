"""Your own torch model, seen through the tool's VAE interface, so that its latent panels explore it.

    wrapped = ForeignVAE.probed(my_vae, x[:2], likelihood="bernoulli")   # asks a copy of it for its latent size
    wrapped = ForeignVAE(my_vae, input_shape=(1, 28, 28), latent_dim=16, likelihood="bernoulli")
    wrapped.encode(x)              # my_vae.encode(x) -> (mu, logvar), each (N, latent_dim)
    wrapped.decode(z)              # my_vae.decode(z): what `likelihood` says it returns (below)
    wrapped.mean_image(params)     # E[x|z] in [0, 1], for display
    wrapped.log_likelihood(x, params)   # log p(x|z) per example, nats (only with a likelihood)
    wrapped.frozen_copy()          # a CPU copy in eval mode without gradients, for another thread

The protocol your module follows (any torch.nn.Module, or an object with these two methods):

    encode(x) -> (mu, logvar)   x: float (N, C, H, W) in [0, 1]; mu and logvar (N, latent_dim):
                                q(z|x) = N(mu, diag e^logvar)
    decode(z) -> ...            z: (N, latent_dim), the prior p(z) = N(0, I); it returns, by `likelihood`:
        None                    E[x|z] in [0, 1] (every latent panel works; no ELBO, so no ELBO gap)
        "bernoulli"             the logits of a Bernoulli per pixel, shaped like x
        "continuous-bernoulli"  the logits of a continuous Bernoulli per pixel (Loaiza-Ganem & Cunningham 2019)
        "gaussian"              the mean of N(mean, sigma^2 I), sigma fixed (`sigma`, a positive number)

An object that is no nn.Module is copied the same way; its cpu() and eval() are called where it has them.
Anything the model gives that breaks the protocol (a shape, NaN, an exception) is a ConfigError of one line
naming the model. Training it stays your business: the tool never calls backward on it, and freezes it where it
optimizes q.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from trainer.config import ModelConfig
from trainer.errors import ConfigError
from trainer.rules import number
from trainer.model.vae import VAE


SIGMA = number(0.0, low_open=True)
"""A Gaussian likelihood's fixed σ: the rule of ModelConfig.sigma, less its 0 (learned), which your model has not."""


def nonfinite_message(name: str, method: str, bad: np.ndarray, n: int, what: str = "examples") -> str:
    """'Model.encode gave NaN/Inf for 3 of 1,000 examples (the first is #17)': `bad` are the indices."""
    return f"{name}.{method} gave NaN/Inf for {len(bad):,} of {n:,} {what} (the first is #{int(bad[0])})"


def nonfinite_rows(*arrays) -> np.ndarray:
    """Indices of the rows (first axis) that hold a NaN or an infinity in any of the arrays or tensors."""
    bad = None
    for a in arrays:
        if torch.is_tensor(a):
            rows = (~torch.isfinite(a.detach().reshape(len(a), -1)).all(dim=1)).cpu().numpy()
        else:
            rows = ~np.isfinite(np.asarray(a).reshape(len(a), -1)).all(axis=1)
        bad = rows if bad is None else bad | rows
    return np.flatnonzero(bad)


def check_protocol(module, likelihood, sigma) -> str:
    """The module's name, once its encode/decode, `likelihood` and `sigma` are known good; else a ConfigError."""
    name = type(module).__name__
    if not (callable(getattr(module, "encode", None)) and callable(getattr(module, "decode", None))):
        raise ConfigError(f"{name}: a model needs encode(x) -> (mu, logvar) and decode(z)")
    if likelihood is not None:
        ModelConfig.rule("likelihood").check("likelihood (None: decode gives E[x|z])", likelihood)
    SIGMA.check("sigma (the Gaussian likelihood's fixed standard deviation)", sigma)
    return name


def _copied(obj, name: str):
    try:
        return copy.deepcopy(obj)
    except Exception as exc:  # a lock, a file handle, a generator...: one line, not deepcopy's traceback
        raise ConfigError(f"{name} could not be copied ({type(exc).__name__}: {_first_line(exc)}); the window "
                          "works on a copy so that your model is left as it is") from None


def _on_cpu_in_eval_mode(obj, name: str):
    """obj.cpu() and obj.eval(), each where obj has it (an nn.Module does; a plain object may not)."""
    for method in ("cpu", "eval"):
        call = getattr(obj, method, None)
        if callable(call):
            try:
                moved = call()
            except Exception as exc:
                raise ConfigError(f"{name}.{method}() raised {type(exc).__name__}: {_first_line(exc)}") from None
            obj = obj if moved is None else moved
    return obj


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


class ForeignVAE(nn.Module):
    """A user's module with encode/decode, wrapped with the tool's likelihood, display and shape facts."""

    def __init__(self, module, input_shape, latent_dim: int, likelihood: str | None = None, sigma: float = 1.0):
        super().__init__()
        self.name = check_protocol(module, likelihood, sigma)
        self.inner = module
        self.likelihood = likelihood
        """None: decode returns E[x|z] and there is no log-likelihood (the panels work, the ELBO gap does not)."""
        try:
            self.config = ModelConfig(input_shape=tuple(int(s) for s in input_shape), latent_dim=int(latent_dim),
                                      likelihood=likelihood or "bernoulli",
                                      sigma=float(sigma) if likelihood == "gaussian" else 0.0)
            self.config.validate()
        except ConfigError as exc:
            raise ConfigError(f"{self.name}: {exc}") from None
        self.vmapped = False  # what VAE's likelihood functions read
        self.register_parameter("log_sigma", None)

    @classmethod
    def probed(cls, module, x: np.ndarray, likelihood: str | None = None, sigma: float = 1.0) -> "ForeignVAE":
        """The wrapper, its latent size read from encode on the first examples of `x` (numpy (N, C, H, W), uint8 or
        floats in [0, 1]), asked of a CPU copy in eval mode, so a model on a GPU or with batch norm in train mode is
        neither refused nor changed; encode and decode are checked on them (shapes, NaN) before anything opens."""
        name = check_protocol(module, likelihood, sigma)
        probe = torch.from_numpy(np.asarray(x, dtype=np.float32) / (255.0 if x.dtype == np.uint8 else 1.0))
        copied = _on_cpu_in_eval_mode(_copied(module, name), name)
        with torch.no_grad():
            out = _call(name, "encode", copied.encode, probe)
            mu, logvar = _encodings(name, out, len(probe), None)
            if not mu.shape[1]:
                raise ConfigError(f"{name}.encode gave mu {tuple(mu.shape)}: no latent dimensions")
            bad = nonfinite_rows(mu, logvar)
            if len(bad):
                raise ConfigError(nonfinite_message(name, "encode", bad, len(probe), "examples tried"))
            trial = cls(copied, x.shape[1:], mu.shape[1], likelihood, sigma)
            params = trial.decode(mu)
            bad = nonfinite_rows(params)
            if len(bad):
                raise ConfigError(nonfinite_message(name, "decode", bad, len(probe), "examples tried") +
                                  ", decoding the encoder's mean")
        return cls(module, x.shape[1:], mu.shape[1], likelihood, sigma)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return _encodings(self.name, _call(self.name, "encode", self.inner.encode, x), len(x), self.config.latent_dim)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = _call(self.name, "decode", self.inner.decode, z)
        size = self.config.input_size
        if not torch.is_tensor(out) or out.dim() < 1 or len(out) != len(z) or out[0].numel() != size:
            shape = tuple(out.shape) if torch.is_tensor(out) else type(out).__name__
            raise ConfigError(f"{self.name}.decode gave {shape} for {len(z)} latent vectors: expected a tensor "
                              f"({len(z)}, {', '.join(map(str, self.config.input_shape))})")
        return out.reshape(len(z), *self.config.input_shape)

    def mean_image(self, params: torch.Tensor) -> torch.Tensor:
        if self.likelihood is None:
            return params.clamp(0.0, 1.0)
        return VAE.mean_image(self, params)

    def obs_log_sigma(self):
        return VAE.obs_log_sigma(self)

    def log_likelihood(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        if self.likelihood is None:
            raise ConfigError(f"{self.name}: no likelihood was named, so there is no log p(x|z) (and no ELBO)")
        return VAE.log_likelihood(self, x, params)

    reparameterize = staticmethod(VAE.reparameterize)

    def posterior_samples(self, x, y, eps):
        return VAE.posterior_samples(self, x, y, eps)

    def frozen_copy(self) -> "ForeignVAE":
        """A deep copy on the CPU in eval mode whose parameters need no gradient: what another thread works on.
        The inner model is copied too, module or plain object (whose cpu() and eval() are called where it has
        them), so nothing done to the copy reaches the caller's model."""
        copied = _copied(self, self.name)
        copied.inner = _on_cpu_in_eval_mode(copied.inner, self.name)
        copied.eval()
        for p in copied.parameters():
            p.requires_grad_(False)
        return copied

    def describe(self) -> str:
        return (f"{self.name} (your own model: {self.config.latent_dim} latent dimensions, "
                f"{'decode gives E[x|z]' if self.likelihood is None else self.likelihood + ' likelihood'})")


def _call(name: str, method: str, function, arg):
    """function(arg); whatever it raises becomes one line naming the model's method."""
    try:
        return function(arg)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{name}.{method} raised {type(exc).__name__}: {_first_line(exc)}") from None


def _encodings(name: str, out, n: int, latent_dim: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar) from what encode returned, checked: two tensors of shape (n, latent_dim)."""
    want = f"({n}, {latent_dim if latent_dim is not None else 'latent_dim'})"
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(torch.is_tensor(t) for t in out)):
        what = f"a {type(out).__name__}" + (f" of {len(out)}" if isinstance(out, (tuple, list)) else "")
        raise ConfigError(f"{name}.encode gave {what}: expected a pair (mu, logvar) of tensors {want}")
    mu, logvar = out
    if (mu.shape != logvar.shape or mu.dim() != 2 or len(mu) != n
            or (latent_dim is not None and mu.shape[1] != latent_dim)):
        raise ConfigError(f"{name}.encode gave mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} for {n} "
                          f"examples: expected two tensors {want}")
    return mu, logvar
