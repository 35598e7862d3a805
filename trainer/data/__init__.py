"""Datasets for the trainer: procedural sprites, MNIST/Fashion-MNIST IDX files, .npz and HDF5 files.

Every loader returns plain numpy arrays in memory, laid out (N, C, H, W): uint8 0..255 for image data,
or float32 in [0, 1]. The trainer moves them to torch itself; `trainer.pixels.to_float01` is the one conversion.
Binary images (bool, or integers whose largest value is 1) are stored as uint8 0/255, so every consumer
reads them as 0/1; `Dataset.values` says how a source's values were read.

    from trainer.config import DatasetSpec
    from trainer.data import load_dataset
    ds = load_dataset(DatasetSpec(name="mnist", data_dir="../shared/datasets/mnist"))
    print(ds.describe())   # mnist: 9000 train / 1000 test, 1x28x28, 10 classes, uint8 0..255 scaled to [0, 1]

Anything wrong with the data raises `DataError` with one line naming the file and the problem; raw
numpy/zlib/h5py exceptions never escape. Nothing here unpickles (`allow_pickle=False` everywhere).

`progress`, where accepted, is an optional callable `progress(message: str, fraction: float)` with the
fraction of the current step done in [0, 1]; it is called from whatever thread does the loading.

    dataset.py      the Dataset container, the seeded train/test split, how pixel values are read
    sprites.py      procedural dSprites-style images with their generative factors
    idx.py          MNIST/Fashion-MNIST IDX files, and their opt-in download
    amat.py         Larochelle's statically binarized MNIST (.amat text files), by name or path
    array_files.py  .npz/.npy and HDF5 files named by path
"""

from __future__ import annotations

from trainer.config import DatasetSpec
from trainer.data.amat import load_amat_dataset
from trainer.data.array_files import load_path
from trainer.data.dataset import Dataset, Progress
from trainer.data.idx import IDX_SOURCES, load_idx_dataset
from trainer.data.sprites import load_sprites
from trainer.data.streaming import H5Rows


NAMED = ("sprites", "mnist", "fashion-mnist", "binarized-mnist")
"""Datasets named by name; anything else is a path (.npz, .h5, or a folder of images)."""


def spec_for(source: str, *, data_dir: str = "", key: str = "", limit: int = 0, seed: int = 0, image_size: int = 0,
             channels: str = "auto", in_memory: str = "auto", download: bool = False, n: int = 0) -> DatasetSpec:
    """The DatasetSpec a name or path and the command line's data options describe (validated).

    image_size: the sprites' side, or the side an image folder is resized to (0: their defaults); n: how many
    sprites (0: the default); seed: the split seed (`--split-seed`)."""
    from pathlib import Path

    if source in NAMED:
        sprites = {"image_size": image_size} if source == "sprites" and image_size else {}
        if source == "sprites" and n:
            sprites["n"] = n
        spec = DatasetSpec(name=source, data_dir=data_dir, limit=limit, seed=seed, download=download, **sprites)
    else:
        spec = DatasetSpec(name="path", path=str(Path(source)), key=key, limit=limit, seed=seed,
                           folder_size=image_size, channels=channels, in_memory=in_memory)
    spec.validate()
    return spec


def load_dataset(spec: DatasetSpec, progress: Progress = None, memory_budget: int | None = None) -> Dataset:
    """Load the dataset a spec names; `spec.limit` > 0 keeps only the first `limit` training examples.

    memory_budget: bytes above which an HDF5 dataset with in_memory "auto" is streamed from disk
    (trainer.data.streaming; default a quarter of this machine's RAM)."""
    spec.validate()
    if spec.name == "sprites":
        ds = load_sprites(spec, progress)
    elif spec.name in IDX_SOURCES:
        ds = load_idx_dataset(spec, progress, memory_budget)
    elif spec.name == "binarized-mnist":
        ds = load_amat_dataset(spec, progress)
    else:
        ds = load_path(spec, progress, memory_budget)
    if spec.limit and spec.limit < len(ds.x_train):
        if ds.split == "standard":
            ds.split = f"the first {spec.limit:,} of the training split"
        ds.x_train = ds.x_train.head(spec.limit) if isinstance(ds.x_train, H5Rows) else ds.x_train[: spec.limit]
        if ds.y_train is not None:
            ds.y_train = ds.y_train[: spec.limit]
        if ds.factors_train is not None:
            ds.factors_train = ds.factors_train[: spec.limit]
    return ds
