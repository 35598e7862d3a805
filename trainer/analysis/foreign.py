"""What the latent panels show of your own model (trainer.model.foreign): its decoder, its encodings, previews.

    x = as_images(data)                                          # checked before any window opens
    labels, names = as_labels(labels, len(x), class_names)       # likewise
    decoder, latents, previews = explore_module(ModuleSnapshot.of(wrapped), x, labels, names)   # in a background thread

The decoder snapshot is a private deep copy of the module, decoded through torch (the numpy fast path knows only
the tool's MLP), and the held-out encodings are of `x`, the data you gave; the ELBO gap's IWAE and classical VI
run on copies of it too. Bad data or labels are a DataError of one line; a model whose encodings or decodings are
not finite is a ConfigError naming it, before the panels (and their PCA) see a NaN.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout, preview_images
from trainer.config import MAX_CLASSES, DatasetSpec
from trainer.data.array_files import check_labels
from trainer.data.dataset import Dataset
from trainer.errors import ConfigError, DataError
from trainer.model.foreign import nonfinite_message, nonfinite_rows
from trainer.model.likelihood import LikelihoodMeaning


@dataclass(frozen=True, eq=False)
class ModuleSnapshot(DecoderSnapshot):
    """A DecoderSnapshot of a user's module: copies of the module itself instead of a state dict."""

    module_copy: object = field(default=None, repr=False)
    """A trainer.model.foreign.ForeignVAE, deep-copied from the caller's; build_model copies it again per thread."""

    @classmethod
    def of(cls, wrapped) -> "ModuleSnapshot":
        return cls(config=wrapped.config, state={}, step=0, module_copy=wrapped.frozen_copy())

    def build_model(self):
        return self.module_copy.frozen_copy()

    def decode(self, z: np.ndarray, y=None) -> np.ndarray:
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be (n, {self.latent_dim}), got shape {z.shape}")
        return self.decode_torch(z, y)


def as_images(data) -> np.ndarray:
    """numpy (N, C, H, W) uint8 0..255 or float32 in [0, 1] from an array or tensor of images; (N, H, W) is one
    channel. Anything else is a DataError of one line."""
    try:
        if hasattr(data, "detach"):
            tensor = data.detach().cpu()
            x = (tensor.float() if tensor.is_floating_point() and tensor.element_size() < 4 else tensor).numpy()
        else:
            x = np.asarray(data)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DataError(f"data must be images (N, C, H, W): {type(data).__name__} could not be read as an array "
                        f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or not len(x) or not x.size:
        raise DataError(f"data must be images (N, C, H, W) or (N, H, W), got shape {x.shape}")
    if not 1 <= x.shape[1] <= 4:
        raise DataError(f"data must be images (N, C, H, W) with 1 to 4 channels, got shape {x.shape} (channels "
                        "last? x.transpose(0, 3, 1, 2) puts them first)")
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind not in "buif":
        raise DataError(f"data must be uint8 0..255 or floats in [0, 1], got dtype {x.dtype}")
    x = x.astype(np.float32)
    bad = nonfinite_rows(x)
    if len(bad):
        raise DataError(f"data must be uint8 0..255 or floats in [0, 1], but {len(bad):,} of {len(x):,} images hold "
                        f"NaN or Inf (the first is #{int(bad[0])})")
    if x.min() < 0 or x.max() > 1:
        raise DataError(f"data must be uint8 0..255 or floats in [0, 1], got values in {x.min():g}..{x.max():g}")
    return x


def as_labels(labels, n: int, class_names=()) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """(int64 labels (n,) or None, the class names): checked before anything is sized by them, as a dataset's labels
    are (integers in 0..MAX_CLASSES - 1, one per image), and the names, when given, cover every label."""
    names = _class_names(class_names)
    if labels is None:
        return None, names
    try:
        y = labels.detach().cpu().numpy() if hasattr(labels, "detach") else np.asarray(labels)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DataError(f"labels: {type(labels).__name__} could not be read as an array of integers "
                        f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    y = check_labels(y, n, "labels")
    classes = int(y.max()) + 1
    if names and len(names) < classes:
        raise DataError(f"class_names: {len(names)} names, but the labels go up to {classes - 1} ({classes} classes)")
    return y, names or tuple(str(c) for c in range(classes))


def _class_names(class_names) -> tuple[str, ...]:
    if class_names is None:
        return ()
    if isinstance(class_names, (str, bytes)):
        raise DataError(f"class_names must be a sequence of names, one per class, got the string {class_names!r:.60}")
    try:  # at most one more than the limit is read: a generator of 10^9 names is never held
        names = tuple(itertools.islice(iter(class_names), MAX_CLASSES + 1))
    except TypeError:
        raise DataError(f"class_names must be a sequence of names, got {type(class_names).__name__}") from None
    if len(names) > MAX_CLASSES:
        raise DataError(f"class_names: more than {MAX_CLASSES} names; a dataset may have at most {MAX_CLASSES} classes")
    return tuple(str(name) for name in names)


def explore_module(decoder: ModuleSnapshot, x: np.ndarray, labels: np.ndarray | None = None, class_names=(),
                   progress=None, should_stop=None, n_preview: int = 16):
    """(the ModuleSnapshot, a LatentSnapshot of all of x, PreviewImages): what the window's latent panels take, as
    background work (explorer.runtime.background.LatestJob's progress(message, fraction) and should_stop, which
    raises trainer.errors.Stopped between the phases). Encodings or decodings that are not finite are a
    ConfigError: 'Model.encode gave NaN/Inf for 3 of 1,000 examples (the first is #17)'."""
    from trainer.errors import Stopped

    def phase(message: str, fraction: float) -> None:
        if should_stop is not None and should_stop():
            raise Stopped()
        if progress is not None:
            progress(message, fraction)

    wrapped = decoder.module_copy
    labels, names = as_labels(labels, len(x), class_names)
    dataset = Dataset(DatasetSpec(name="path", path=f"<{wrapped.name} data>"), x, x, labels, labels,
                      num_classes=len(names), class_names=names)
    phase(f"encoding {len(x):,} examples with {wrapped.name}", 0.1)
    model = decoder.module()  # the snapshot's own copy, which the previews below decode with too
    meaning = None
    if wrapped.likelihood is not None:
        from trainer.config import TrainConfig

        meaning = LikelihoodMeaning.of(wrapped.config, TrainConfig(), x)
    latents = encode_heldout(model, dataset, "cpu", meaning=meaning)
    bad = nonfinite_rows(latents.mu, latents.logvar)
    if len(bad):  # before the panels' PCA meets it
        raise ConfigError(nonfinite_message(wrapped.name, "encode", latents.indices[bad], len(x)))
    phase("decoding reconstructions and prior samples", 0.9)
    # through the snapshot: a plain object's copy has no parameters to find a device by
    previews = preview_images(decoder, x[:n_preview], None, n_samples=32)
    for images, what in ((previews.recons, "reconstructions"), (previews.samples, "prior samples")):
        bad = nonfinite_rows(images)
        if len(bad):
            raise ConfigError(nonfinite_message(wrapped.name, "decode", bad, len(images), what))
    return decoder, latents, previews
