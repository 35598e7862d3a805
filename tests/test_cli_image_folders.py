"""Image folders in the engine: `train --dataset FOLDER` (and its resume), `convert FOLDER --out data.h5`."""

from __future__ import annotations

import h5py
import numpy as np

from qimage_files import RNG, write_image
from test_cli import last_json, run_cli
from trainer.checkpoints.hdf5 import load_checkpoint
from trainer.config import DatasetSpec
from trainer.data import load_dataset


def colour_folder(root, n_per_class=12, side=40):
    """Two classes of colour images of mixed sizes: red-ish blobs and blue-ish blobs."""
    for cls, channel in (("blue", 2), ("red", 0)):
        for i in range(n_per_class):
            h = side if i % 3 else side + 8  # every third image is taller: center-cropped, then scaled
            pixels = RNG.integers(0, 60, (h, side, 3), dtype=np.uint8)
            pixels[h // 4 : 3 * h // 4, side // 4 : 3 * side // 4, channel] = 230
            write_image(root / cls / f"{i:02d}.png", pixels)
    return root


def test_train_on_a_colour_folder_with_conv_then_resume_without_naming_it(tmp_path):
    folder = colour_folder(tmp_path / "blobs")
    out = tmp_path / "blobs.h5"
    summary = last_json(run_cli("train", "--dataset", folder, "--image-size", "32", "--arch", "conv", "--hidden", "32",
                                "--latent-dim", "4", "--epochs", "1", "--batch-size", "8", "--likelihood",
                                "continuous-bernoulli", "--out", out, "--json").stdout)
    assert summary["epochs"] == 1
    ckpt = load_checkpoint(out)
    assert tuple(ckpt.model_config.input_shape) == (3, 32, 32)
    assert ckpt.dataset.path == str(folder) and ckpt.dataset.folder_size == 32
    # headless resume: the checkpoint's spec reads the folder again, at the same size, and the data matches
    resumed = last_json(run_cli("train", "--resume", out, "--epochs", "2", "--out", out, "--json").stdout)
    assert resumed["epochs"] == 2 and resumed["steps"] == 2 * summary["steps"]


def test_convert_writes_a_chunked_hdf5_that_trains_on_the_same_data(tmp_path):
    folder = colour_folder(tmp_path / "blobs")
    out = tmp_path / "blobs.h5"
    proc = run_cli("convert", folder, "--out", out, "--image-size", "32", "--json")
    assert "24 images, 2 classes, 3x32x32 RGB; 24 resized from 2 other sizes" in last_json(proc.stdout)["summary"]
    assert "decoding" in proc.stderr  # the progress bar
    with h5py.File(out, "r") as f:
        assert f["x"].shape == (24, 3, 32, 32) and f["x"].dtype == np.uint8 and f["x"].chunks is not None
        assert f["y"][()].tolist() == [0] * 12 + [1] * 12
        assert list(f.attrs["class_names"]) == ["blue", "red"]
    from_folder = load_dataset(DatasetSpec(name="path", path=str(folder), folder_size=32, seed=5))
    from_file = load_dataset(DatasetSpec(name="path", path=str(out), seed=5))
    np.testing.assert_array_equal(from_folder.x_train, from_file.x_train)
    np.testing.assert_array_equal(from_folder.y_test, from_file.y_test)
    assert from_file.class_names == ("blue", "red")


def test_convert_of_a_gray_folder_keeps_one_channel_and_no_dead_space(tmp_path):
    for i in range(300):
        write_image(tmp_path / "digits" / f"{i:03d}.png", RNG.integers(0, 256, (28, 28), dtype=np.uint8))
    out = tmp_path / "digits.h5"
    run_cli("convert", tmp_path / "digits", "--out", out)
    with h5py.File(out, "r") as f:
        assert f["x"].shape == (300, 1, 28, 28) and "y" not in f
    assert out.stat().st_size < 1.5 * 300 * 28 * 28  # the RGB copy written first was not left in the file


def test_convert_of_a_bad_folder_is_one_line_and_leaves_no_file(tmp_path):
    folder = colour_folder(tmp_path / "blobs", n_per_class=2)
    (folder / "red" / "zz.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    out = tmp_path / "blobs.h5"
    proc = run_cli("convert", folder, "--out", out, check_rc=2)
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("error: ") and "zz.png" in error and "not a readable PNG or JPEG image" in error
    assert not out.exists() and not list(tmp_path.glob(".blobs.h5*"))
