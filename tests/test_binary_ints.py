"""Binary images stored as integers 0/1 (issue 11): read as 0/1, never as pixel values 0..1 out of 255.

A binarized dataset saved as int64 or uint8 0/1 must train, evaluate and preview exactly like the same data
saved as bool, and its load summary must say how its values were read.
"""

import dataclasses
import struct

import h5py
import numpy as np
import pytest
import torch

from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.data.array_files import load_hdf5, load_npz
from trainer.data.dataset import Dataset
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import EpochReport, StepReport
from trainer.analysis.metrics import evaluate
from trainer.analysis.snapshots import preview_images

INT_DTYPES = (np.int64, np.int32, np.int8, np.uint8)


def _bits(n=120, size=8, seed=0):
    """Bernoulli images with a little structure (each image a mix of two fixed masks), as bool (n, size, size)."""
    rng = np.random.default_rng(seed)
    masks = rng.random((2, size, size)) < 0.5
    which = rng.integers(0, 2, n)
    flips = rng.random((n, size, size)) < 0.1
    return masks[which] ^ flips


def _npz(tmp_path, name, x):
    path = tmp_path / f"{name}.npz"
    np.savez(path, x=x, y=np.arange(len(x)) % 3)
    return load_dataset(DatasetSpec(name="path", path=str(path), seed=1))


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_zero_one_files_load_like_bool(tmp_path, dtype):
    bits = _bits()
    as_bool = _npz(tmp_path, "bool", bits)
    as_int = _npz(tmp_path, "ints", bits.astype(dtype))
    assert as_int.x_train.dtype == as_bool.x_train.dtype == np.uint8
    assert np.array_equal(as_int.x_train, as_bool.x_train) and np.array_equal(as_int.x_test, as_bool.x_test)
    assert set(np.unique(as_int.x_train)) == {0, 255}   # 0/1 once divided by 255, like every uint8 image
    assert as_int.describe().endswith(f", {np.dtype(dtype).name} 0/1 read as binary")
    assert as_bool.describe().endswith(", bool read as binary")
    # the public file readers agree, HDF5 included
    assert np.array_equal(load_npz(tmp_path / "ints.npz")[0], load_npz(tmp_path / "bool.npz")[0])
    with h5py.File(tmp_path / "ints.h5", "w") as f:
        f["x"] = bits.astype(dtype)
    assert np.array_equal(load_hdf5(tmp_path / "ints.h5")[0], load_npz(tmp_path / "bool.npz")[0])
    from_h5 = load_dataset(DatasetSpec(name="path", path=str(tmp_path / "ints.h5"), seed=1))
    assert from_h5.describe().endswith(f"{np.dtype(dtype).name} 0/1 read as binary")


def test_summaries_say_how_values_were_read(tmp_path):
    bits = _bits()
    pixels = _npz(tmp_path, "pixels", (bits * 200 + 30).astype(np.int16))
    assert pixels.describe().endswith(", int16 0..255 scaled to [0, 1]")
    assert int(pixels.x_train.max()) == 230   # real pixel values are left alone
    unit = _npz(tmp_path, "unit", bits.astype(np.float32) * 0.5)
    assert unit.describe().endswith(", float32 in [0, 1]")
    sprites = load_dataset(DatasetSpec(name="sprites", n=50, image_size=16))
    assert sprites.describe().endswith(", uint8 0..255 scaled to [0, 1]")
    # all zeros is not evidence of binary data: read as ordinary pixels (the same zeros either way)
    zeros = _npz(tmp_path, "zeros", np.zeros((20, 4, 4), np.int64))
    assert zeros.describe().endswith(", int64 0..255 scaled to [0, 1]")


def test_the_dataset_dialog_shows_how_values_were_read(tmp_path):
    from explorer.files.dataset_dialog import describe

    rows = dict(describe(_npz(tmp_path, "ints", _bits().astype(np.int64))))
    assert rows["Each example"].endswith(", int64 0/1 read as binary")


def test_arrays_built_without_a_loader_are_read_the_same_way():
    # IDX files and the window's image folders arrive as uint8: a 0/1 uint8 dataset is binary too,
    # and train and test are judged together (a test split that happens to be all zeros stays 0).
    bits = _bits()[:, None]
    spec = DatasetSpec(name="sprites")
    ds = Dataset(spec, bits[:100].astype(np.uint8), np.zeros_like(bits[100:], dtype=np.uint8), None, None)
    assert np.array_equal(ds.x_train, bits[:100].astype(np.uint8) * 255) and not ds.x_test.any()
    assert ds.values == "uint8 0/1 read as binary"
    ints = Dataset(spec, bits[:100].astype(np.int64), bits[100:].astype(np.int64), None, None)
    assert ints.x_train.dtype == np.uint8 and np.array_equal(ints.x_test, bits[100:] * np.uint8(255))


def test_idx_folder_of_zero_one_images_is_binary(tmp_path):
    bits = _bits(n=40, size=28).astype(np.uint8)
    header = struct.pack(">IIII", 0x0803, len(bits), 28, 28)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(header + bits.tobytes())
    labels = (np.arange(len(bits)) % 10).astype(np.uint8)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x0801, len(bits)) + labels.tobytes())
    ds = load_dataset(DatasetSpec(name="mnist", data_dir=str(tmp_path)))
    assert set(np.unique(ds.x_train)) == {0, 255}
    assert ds.describe().endswith(", uint8 0/1 read as binary")


def _train(dataset):
    cfg = model_config_for(dataset, hidden=(32,), latent_dim=2)
    trainer = Trainer(cfg, TrainConfig(epochs=2, batch_size=32, lr=3e-3, seed=0, device="cpu", report_every=2),
                      dataset)
    numbers = []
    for report in trainer.run():
        if isinstance(report, (StepReport, EpochReport)):
            fields = {k: v for k, v in dataclasses.asdict(report).items() if k not in ("samples_per_s", "elapsed_s")}
            numbers.append({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in fields.items()})
    return trainer, numbers


def test_training_on_integer_zero_one_data_matches_bool_and_float(tmp_path):
    bits = _bits(n=200)
    trained = {name: _train(_npz(tmp_path, name, x)) for name, x in
               (("bool", bits), ("int64", bits.astype(np.int64)), ("float", bits.astype(np.float32)))}
    reference = trained["bool"][1]
    assert reference and any(isinstance(r, dict) and "test_elbo" in r for r in reference)
    assert trained["int64"][1] == reference
    # float 0/1 reaches the model by a different path (no /255): the same inputs, so the same numbers
    float_numbers = trained["float"][1]
    assert len(float_numbers) == len(reference)
    for got, want in zip(float_numbers, reference):
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-5, nan_ok=True), key  # batch_tc: NaN, no TC

    # evaluation and the explore previews read the held-out images as 0/1 too
    model = trained["bool"][0].model
    ints = trained["int64"][0].dataset
    floats = trained["float"][0].dataset
    a = evaluate(model, ints.x_test, None, "cpu", generator=torch.Generator().manual_seed(0))
    b = evaluate(model, floats.x_test, None, "cpu", generator=torch.Generator().manual_seed(0))
    assert a["recon"] == pytest.approx(b["recon"], rel=1e-5)
    preview = preview_images(model, ints.x_test[:6], n_samples=2)
    assert np.array_equal(preview.inputs, floats.x_test[:6])
