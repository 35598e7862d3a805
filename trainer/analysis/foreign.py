"""What the latent panels show of your own model (trainer.model.foreign): its decoder, its encodings, previews.

    decoder, latents, previews = explore_module(wrapped, x, labels)   # in a background thread

The decoder snapshot is a private deep copy of the module, decoded through torch (the numpy fast path knows only
the tool's MLP), and the held-out encodings are of `x`, the data you gave; the ELBO gap's IWAE and classical VI
run on copies of it too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout, preview_images
from trainer.config import DatasetSpec
from trainer.data.dataset import Dataset
from trainer.model.likelihood import LikelihoodMeaning


@dataclass(frozen=True, eq=False)
class ModuleSnapshot(DecoderSnapshot):
    """A DecoderSnapshot of a user's module: copies of the module itself instead of a state dict."""

    module_copy: object = field(default=None, repr=False)
    """A trainer.model.foreign.ForeignVAE, deep-copied from the caller's; build_model copies it again per thread."""

    @classmethod
    def of(cls, wrapped) -> "ModuleSnapshot":
        return cls(config=wrapped.config, state={}, step=0, module_copy=copy.deepcopy(wrapped).eval())

    def build_model(self):
        model = copy.deepcopy(self.module_copy).cpu().eval()
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    def decode(self, z: np.ndarray, y=None) -> np.ndarray:
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be (n, {self.latent_dim}), got shape {z.shape}")
        return self.decode_torch(z, y)


def as_images(data) -> np.ndarray:
    """numpy (N, C, H, W) uint8 0..255 or float32 in [0, 1] from an array or tensor of images; (N, H, W) is one
    channel. Other values are a ValueError."""
    x = data.detach().cpu().numpy() if hasattr(data, "detach") else np.asarray(data)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or not len(x):
        raise ValueError(f"data must be images (N, C, H, W) or (N, H, W), got shape {x.shape}")
    if x.dtype == np.uint8:
        return x
    x = x.astype(np.float32)
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError("data must be uint8 0..255 or floats in [0, 1]")
    return x


def explore_module(decoder: ModuleSnapshot, x: np.ndarray, labels: np.ndarray | None = None, class_names=(),
                   progress=None, should_stop=None, n_preview: int = 16):
    """(the ModuleSnapshot, a LatentSnapshot of all of x, PreviewImages): what the window's latent panels take, as
    background work (explorer.runtime.background.LatestJob's progress(message, fraction) and should_stop, which
    raises trainer.errors.Stopped between the phases)."""
    from trainer.errors import Stopped

    def phase(message: str, fraction: float) -> None:
        if should_stop is not None and should_stop():
            raise Stopped()
        if progress is not None:
            progress(message, fraction)

    wrapped = decoder.module_copy
    labels = None if labels is None else np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"{len(x)} images but {len(labels)} labels")
    names = tuple(class_names) or (tuple(str(c) for c in range(int(labels.max()) + 1)) if labels is not None else ())
    dataset = Dataset(DatasetSpec(name="path", path=f"<{wrapped.name} data>"), x, x, labels, labels,
                      num_classes=len(names), class_names=names)
    phase(f"encoding {len(x):,} examples with {wrapped.name}", 0.1)
    model = decoder.build_model()
    meaning = None
    if wrapped.likelihood is not None:
        from trainer.config import TrainConfig

        meaning = LikelihoodMeaning.of(wrapped.config, TrainConfig(), x)
    latents = encode_heldout(model, dataset, "cpu", meaning=meaning)
    phase("decoding reconstructions and prior samples", 0.9)
    previews = preview_images(model, x[:n_preview], None, n_samples=32)
    return decoder, latents, previews
