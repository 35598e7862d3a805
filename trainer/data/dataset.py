"""The Dataset container every loader returns, the seeded train/test split, and how pixel values are read.

Arrays are laid out (N, C, H, W): uint8 0..255 for image data, or float32 in [0, 1]. Binary images (bool, or
integers whose largest value is 1) are stored as uint8 0/255, so every consumer reads them as 0/1;
`Dataset.values` says how a source's values were read. `trainer.pixels.to_float01` is the one conversion to float.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from trainer.config import DatasetSpec
from trainer.errors import DataError

Progress = Optional[Callable[[str, float], None]]
"""`progress(message, fraction)`: the fraction of the current step done in [0, 1], from the loading thread."""

TEST_FRACTION = 0.1
"""Share of a single-file dataset held out as the test split (seeded, so a spec reproduces it)."""


@dataclass
class Dataset:
    """Train and test arrays plus whatever ground truth the source has (labels, generative factors)."""

    spec: DatasetSpec
    x_train: np.ndarray
    """(N, C, H, W), uint8 0..255 or float32 in [0, 1]."""
    x_test: np.ndarray
    """Same layout and dtype as x_train: the held-out split."""
    y_train: np.ndarray | None
    """int64 (N,) class labels, or None."""
    y_test: np.ndarray | None
    num_classes: int = 0
    """0 when there are no labels."""
    class_names: tuple[str, ...] = ()
    factors_train: np.ndarray | None = None
    """int64 (N, F) ground-truth factor indices (sprites), for disentanglement metrics such as MIG."""
    factors_test: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    values: str = ""
    """How the source's pixel values were read, e.g. 'int64 0/1 read as binary'; filled in when empty."""
    identity: str = ""
    """What the data is, told by its content: the name of one of the field's datasets when the files' checksums
    match the published ones (binarized-mnist), else empty; a name alone never makes data comparable."""
    prebinarized: bool = False
    """The source is a binarization already (Larochelle's .amat files): binarizing it again is refused."""
    heldout: str = "test"
    """Which split x_test holds: test, or valid for a source with its own validation split (binarized-mnist)."""
    split: str = ""
    """Where train and held-out came from: "standard" when they are the source's own published splits, whole (MNIST's
    train and t10k files, binarized-mnist's .amat files); else what the seeded split was cut from ("a seeded split of
    t10k"); empty when nothing is known. `load_dataset` turns "standard" into a description when --limit cut it."""
    notes: tuple[str, ...] = ()
    """What the loader left out that the user should hear of, one line each naming the source (an image folder's
    decompression bombs): every front end (train, sweep, eval, the window) shows them."""

    def __post_init__(self) -> None:
        # Checked once here so every consumer (loop, metrics, GUI) can trust the layout.
        for split, x in (("train", self.x_train), ("test", self.x_test)):
            if x.ndim != 4:
                raise DataError(f"{self._label()}: x_{split} must be (N, C, H, W), got shape {x.shape}")
        if self.x_train.shape[1:] != self.x_test.shape[1:] or self.x_train.dtype != self.x_test.dtype:
            raise DataError(f"{self._label()}: train {self.x_train.shape[1:]} {self.x_train.dtype} and "
                            f"test {self.x_test.shape[1:]} {self.x_test.dtype} differ")
        for split, x, extra in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test),
                                ("train", self.x_train, self.factors_train),
                                ("test", self.x_test, self.factors_test)):
            if extra is not None and len(extra) != len(x):
                raise DataError(f"{self._label()}: {len(x)} {split} examples but {len(extra)} labels/factors")
        # Whoever built the arrays (a loader, the window's image folders, a caller), every consumer gets
        # uint8 0..255 or float32 in [0, 1]. float32 is trusted as is: scanning it again would cost a pass.
        # Rows streamed from disk (trainer.data.streaming) were checked by their loader and are never scanned.
        if self.x_train.dtype == np.float32 or not isinstance(self.x_train, np.ndarray):
            note = "float32 in [0, 1]"
        else:
            (self.x_train, self.x_test), note = as_pixels((self.x_train, self.x_test), self._label())
        self.values = self.values or note

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one example."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    def describe(self) -> str:
        """One line, e.g. 'sprites: 18000 train / 2000 test, 1x64x64, 5 factors, uint8 0..255 scaled to [0, 1]'."""
        c, h, w = self.input_shape
        text = f"{self._label()}: {len(self.x_train)} train / {len(self.x_test)} {self.heldout}, {c}x{h}x{w}"
        if self.num_classes:
            text += f", {self.num_classes} classes"
        if self.factor_names:
            text += f", {len(self.factor_names)} factors"
        return f"{text}, {self.values}"

    def _label(self) -> str:
        if self.spec.name == "path":
            return Path(self.spec.path).name + (f"[{self.spec.key}]" if self.spec.key else "")
        return self.spec.name



def same_source(a: DatasetSpec, b: DatasetSpec) -> bool:
    """Two DatasetSpecs read the same examples, whatever their sprite fields say (the split seed aside): what
    decides whether a model trained on one may go on training on the other, or a pinned dataset serves a spec."""
    if a.name != b.name or int(a.limit) != int(b.limit):
        return False
    if a.name == "path":  # an image folder read at another size or in other channels is other data
        return (str(a.path), a.key, a.folder_size, a.channels) == (str(b.path), b.key, b.folder_size, b.channels)
    if a.name == "sprites":
        return a == b
    return a.data_dir == b.data_dir


def split_indices(n: int, seed: int, test_fraction: float = TEST_FRACTION, where: str = "dataset"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic held-out split of range(n): (train, test) index arrays, each in ascending order.

    Ascending order keeps the source order inside each split (the trainer shuffles per epoch anyway).
    """
    if n < 2:
        raise DataError(f"{where}: {n} example(s) is too few to hold out a test split (need at least 2)")
    n_test = max(1, int(round(n * test_fraction)))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def split_dataset(spec: DatasetSpec, x: np.ndarray, y: np.ndarray | None, values: str = "") -> Dataset:
    train, test = split_indices(len(x), spec.seed, where=spec.path)
    num_classes = int(y.max()) + 1 if y is not None else 0
    return Dataset(spec, x[train], x[test], None if y is None else y[train], None if y is None else y[test],
                   num_classes=num_classes, class_names=tuple(str(i) for i in range(num_classes)), values=values)


def as_pixels(arrays: tuple[np.ndarray, ...], where: str) -> tuple[tuple[np.ndarray, ...], str]:
    """Arrays of one dtype (a whole source, or its train and test splits) as uint8 0..255 or float32 in [0, 1].

    Returns the arrays (contiguous, uncopied where already so) and one phrase saying how the values were
    read. bool, and integers whose largest value is 1, are binary images: 0/1 becomes uint8 0/255, so the
    training loop, the metrics and the window, which all divide uint8 by 255, read 0/1 (int 0/1 read as
    0..255 pixels would train on inputs of at most 1/255). Other integers and integer-valued floats in
    0..255 are pixel values; other floats must lie in [0, 1]. Anything else is rejected rather than
    silently rescaled, because a guess there would train on the wrong data without saying so. The range
    is taken over all the arrays together, so train and test are always read the same way.
    """
    dtype = arrays[0].dtype
    if dtype.kind == "b":
        return tuple(np.ascontiguousarray(a, dtype=np.uint8) * np.uint8(255) for a in arrays), "bool read as binary"
    if dtype.kind == "f":
        bad = sum(np.size(a) - np.count_nonzero(np.isfinite(a)) for a in arrays)
        if bad:
            raise DataError(f"{where}: {bad} NaN/Inf values")
    filled = [a for a in arrays if a.size]
    if not filled:
        return arrays, f"{dtype} (no values)"
    lo, hi = min(a.min() for a in filled), max(a.max() for a in filled)
    if dtype.kind in "iu" and lo >= 0 and hi == 1:
        return (tuple(np.ascontiguousarray(a, dtype=np.uint8) * np.uint8(255) for a in arrays),
                f"{dtype} 0/1 read as binary")
    if dtype.kind == "f" and lo >= 0 and hi <= 1:
        return tuple(np.ascontiguousarray(a, dtype=np.float32) for a in arrays), f"{dtype} in [0, 1]"
    if lo >= 0 and hi <= 255 and (dtype.kind in "iu" or all(np.array_equal(a, np.round(a)) for a in filled)):
        return (tuple(np.ascontiguousarray(a, dtype=np.uint8) for a in arrays),
                f"{dtype} 0..255 scaled to [0, 1]")
    raise DataError(f"{where}: values span [{lo:g}, {hi:g}]; expected floats in [0, 1] or pixel values 0..255")

