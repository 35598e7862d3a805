"""trainer.load_model and VAEModel: a trained VAE as a torch module for your own code.

Every argument is checked before it reaches torch: a wrong shape, dtype, label, count or device is one line
(trainer.ConfigError; trainer.DataError for the images themselves), never a torch traceback, and an output that
is not finite is an error, never NaN handed back.
"""

from __future__ import annotations

import numbers
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainer.checkpoints.hdf5 import Checkpoint, load_checkpoint
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.errors import ConfigError, DataError
from trainer.model.priors import prior_of
from trainer.pixels import to_float01
from trainer.rules import path_of
from trainer.training.devices import pick_device
from trainer.training.evaluation import model_from_checkpoint

MAX_SAMPLE_PIXELS = 1 << 26
"""The most pixel values one sample() call returns (256 MB of float32 images): a larger n is refused in one line
before anything is allocated; call it in batches instead."""
_DECODE_PIXELS = 1 << 22
"""Pixel values sample() decodes per pass, so a conv decoder's wider feature maps stay bounded too."""
MAX_SAMPLE_SEED = 2**63 - 1


def checkpoint_path(value, what: str = "load_model") -> Path:
    """`value` as a Path when it is a str or os.PathLike (trainer.rules.path_of); anything else is a ConfigError
    naming `what`. Whether the file exists and is a checkpoint is load_checkpoint's to say (a CheckpointError)."""
    try:
        return path_of("the checkpoint", value)
    except ConfigError as exc:
        raise ConfigError(f"{what}: {exc}") from None


def device_of(device, what: str = "load_model") -> torch.device:
    """The torch device a name of trainer.config.DEVICES (or a torch.device of one) picks; a ConfigError naming
    `what` for any other value, or for a device this machine does not have."""
    try:
        return pick_device(str(device) if isinstance(device, torch.device) else device)
    except ConfigError as exc:
        raise ConfigError(f"{what}: {exc}") from None


def _kind(values: torch.Tensor) -> str:
    return "NaN" if bool(torch.isnan(values).any()) else "infinite values"


def _finite_output(what: str, name: str, values: torch.Tensor) -> torch.Tensor:
    if not bool(torch.isfinite(values).all()):
        raise ConfigError(f"{what}: the network's {name} has {_kind(values)} for these inputs: its weights or "
                          f"the inputs overflow it")
    return values


class VAEModel(nn.Module):
    """A trained VAE as a torch module for your own code, in eval mode.

    encode(x) -> (mu, logvar) of q(z|x), decode(z) -> E[x|z] in [0, 1], sample(n) -> images decoded from
    z ~ p(z) (N(0, I) or the model's VampPrior), forward(x) -> the reconstruction decode(mu). x is (N, C, H, W),
    a torch tensor or numpy array, uint8 0..255 or float in [0, 1]; y is a CVAE's labels. `model_config`,
    `train_config` and `dataset` are the configs it was trained with, `history` its reports as {"group/column":
    numpy array}, `step` its steps, `steps` the steps of its timeline's snapshots (load_model(path, step=S)). A
    hierarchy's z is every layer in its prior's coordinates, bottom first (encode: the mean path)."""

    def __init__(self, net: nn.Module, model_config: ModelConfig, train_config: TrainConfig, dataset: DatasetSpec,
                 history: dict[str, np.ndarray], step: int = 0, path: str = "", steps: tuple[int, ...] = ()):
        super().__init__()
        self.net = net
        self.model_config, self.train_config, self.dataset = model_config, train_config, dataset
        self.history, self.step, self.path = history, int(step), path
        self.steps = tuple(int(s) for s in steps)
        """The steps of the run's snapshots (its timeline), oldest first: load_model(path, step=S) loads one."""
        self.eval()  # the module itself, not only its network: `.training` is False as the docs promise

    @property
    def latent_dim(self) -> int:
        return int(self.model_config.latent_dim)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def _x(self, x, what: str) -> torch.Tensor:
        """Images as float32 in [0, 1] on the model's device, or a DataError saying what was expected."""
        c, h, w = self.model_config.input_shape
        expected = f"images (N, {c}, {h}, {w}), uint8 0..255 or float in [0, 1]"
        if not torch.is_tensor(x):
            try:
                x = np.asarray(x)
            except (TypeError, ValueError) as exc:
                raise DataError(f"{what}: expected {expected}, got {type(x).__name__} ({exc})") from None
            if x.dtype.kind not in "uf":
                raise DataError(f"{what}: expected {expected}, got dtype {x.dtype}")
            # torch warns about (and cannot protect) a read-only array: copy one
            x = torch.from_numpy(np.ascontiguousarray(x) if x.flags.writeable else np.array(x))
        if x.dtype != torch.uint8 and not x.dtype.is_floating_point:
            raise DataError(f"{what}: expected {expected}, got dtype {x.dtype}")
        if tuple(x.shape[1:]) != (c, h, w) or x.dim() != 4:
            raise DataError(f"{what}: expected {expected}, got shape {tuple(x.shape)}")
        if x.is_floating_point() and x.numel():
            if not bool(torch.isfinite(x).all()):
                raise DataError(f"{what}: the images have {_kind(x)}")
            lo, hi = float(x.min()), float(x.max())
            if lo < 0 or hi > 1:
                raise DataError(f"{what}: float images must be in [0, 1], got values in [{lo:.4g}, {hi:.4g}] "
                                f"(pass uint8 for 0..255)")
        return to_float01(x).to(self.device)

    def _y(self, y, n: int, what: str) -> torch.Tensor | None:
        """n labels as a long tensor on the device (None for an unconditional model), or a ConfigError."""
        classes = int(self.model_config.num_classes)
        if not self.model_config.conditional:
            if y is not None:
                raise ConfigError(f"{what}: this VAE is not conditional, so it takes no labels: y must be None")
            return None
        if y is None:
            raise ConfigError(f"{what}: this is a conditional VAE: give the labels y (0..{classes - 1})")
        labels = y.detach().cpu().numpy() if torch.is_tensor(y) else np.asarray(y)
        if labels.dtype.kind not in "iu":
            raise ConfigError(f"{what}: y must be integer class labels in 0..{classes - 1}, got dtype {labels.dtype}")
        labels = labels.reshape(-1)
        if len(labels) not in (1, n):
            raise ConfigError(f"{what}: y has {len(labels)} labels for {n} inputs (give one label, or one each)")
        outside = labels[(labels < 0) | (labels >= classes)]
        if len(outside):
            raise ConfigError(f"{what}: labels must be in 0..{classes - 1} (the classes this VAE was trained on), "
                              f"got {outside[0]}")
        return torch.as_tensor(labels, dtype=torch.long, device=self.device).expand(n)

    def _z(self, z) -> torch.Tensor:
        """Latent points (N, latent_dim) (or one, (latent_dim,)) as float32 on the device, or a ConfigError."""
        d = self.latent_dim
        if not torch.is_tensor(z):
            try:
                z = torch.from_numpy(np.ascontiguousarray(np.asarray(z, dtype=np.float32)))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"decode: expected z (N, {d}) of numbers, got {type(z).__name__} ({exc})") from None
        elif z.dtype == torch.bool or z.is_complex():
            raise ConfigError(f"decode: expected z (N, {d}) of real numbers, got dtype {z.dtype}")
        z = z.to(dtype=torch.float32, device=self.device)
        z = z[None] if z.dim() == 1 else z
        if z.dim() != 2 or z.shape[1] != d:
            raise ConfigError(f"decode: expected z (N, {d}) or ({d},), got shape {tuple(z.shape)}")
        if not bool(torch.isfinite(z).all()):
            raise ConfigError(f"decode: z has {_kind(z)}")
        return z

    def _decoded(self, z: torch.Tensor, y: torch.Tensor | None, what: str) -> torch.Tensor:
        return self.net.mean_image(_finite_output(what, "decoder output", self.net.decode(z, y)))

    def encode(self, x, y=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), each (N, latent_dim): the encoder's q(z|x) = N(mu, diag exp(logvar))."""
        xb = self._x(x, "encode")
        mu, logvar = self.net.encode(xb, self._y(y, len(xb), "encode"))
        return _finite_output("encode", "mu", mu), _finite_output("encode", "log-variance", logvar)

    def decode(self, z, y=None) -> torch.Tensor:
        """E[x|z] (N, C, H, W) in [0, 1]: the decoder's mean image (not its logits or parameters)."""
        z = self._z(z)
        return self._decoded(z, self._y(y, len(z), "decode"), "decode")

    def forward(self, x, y=None) -> torch.Tensor:
        """The reconstruction E[x | z = mu(x)]."""
        return self.decode(self.encode(x, y)[0], y)

    @torch.no_grad()
    def sample(self, n: int, y=None, seed: int | None = None) -> torch.Tensor:
        """n images decoded from z ~ p(z), the model's prior (N(0, I), or its VampPrior; a CVAE: for the label(s) y),
        E[x|z] in [0, 1]. n is at most
        MAX_SAMPLE_PIXELS pixel values' worth of images (85,598 of 28x28); ask for more in batches."""
        most = max(1, MAX_SAMPLE_PIXELS // self.model_config.input_size)
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= most:
            raise ConfigError(f"sample: n must be a whole number of images in 1..{most:,} (at most "
                              f"{MAX_SAMPLE_PIXELS * 4 >> 20} MB a call), got {n!r:.60}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or not 0 <= seed <= MAX_SAMPLE_SEED):
            raise ConfigError(f"sample: seed must be None or a whole number in 0..2**63 - 1, got {seed!r:.60}")
        n = int(n)
        labels = self._y(y, n, "sample")
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        prior = prior_of(self.net)
        # N(0, I) keeps its own draw (a seed gives the images it always gave); a VampPrior draws from its mixture
        z = (torch.randn(n, self.latent_dim, generator=g) if prior.exact_kl
             else prior.sample(n, self.latent_dim, generator=g)).to(self.device)
        step = max(1, _DECODE_PIXELS // self.model_config.input_size)
        return torch.cat([self._decoded(z[i:i + step], None if labels is None else labels[i:i + step], "sample")
                          for i in range(0, n, step)])


def load_model(path: str | Path, device: str = "cpu", step: int | None = None) -> VAEModel:
    """A checkpoint as an eval-mode VAEModel on `device` (one of trainer.config.DEVICES): its final weights, or
    with `step`, the snapshot of its timeline nearest that step (`.step` says which; a warning says so when it is
    not the step asked for; `.steps` lists them all). A bad file, including one whose finite weights give
    non-finite outputs, raises trainer.CheckpointError in one line; a path that is no path, a device that is not
    one or is absent, or a step of a run that kept no snapshots, trainer.ConfigError."""
    file = checkpoint_path(path, "load_model")
    torch_device = device_of(device, "load_model")
    if step is not None and (isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0):
        raise ConfigError(f"load_model: step must be None or a whole number >= 0, got {step!r:.60}")
    ckpt = load_checkpoint(file)
    if step is not None:
        try:
            ckpt = ckpt.at(int(step))
        except ConfigError as exc:
            raise ConfigError(f"load_model: {file}: step {step}: {exc}") from None
        if ckpt.progress["step"] != step:
            warnings.warn(f"{file}: no snapshot at step {step}; loaded the nearest, step {ckpt.progress['step']}",
                          stacklevel=2)
    return _model_of(ckpt, model_from_checkpoint(ckpt, torch_device, where=str(file)), str(file))


def _model_of(ckpt: Checkpoint, net: nn.Module, path: str = "") -> VAEModel:
    return VAEModel(net, ckpt.model_config, ckpt.train_config, ckpt.dataset, dict(ckpt.history),
                    int(ckpt.progress.get("step", 0)), path, tuple(ckpt.timeline.steps))
