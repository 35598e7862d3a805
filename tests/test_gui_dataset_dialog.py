"""File > Open dataset: real files loaded in the dialog's worker thread, previewed, summarised or explained."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import h5py
import numpy as np
import pytest

import explorer.qt_compat  # noqa: F401
from PySide6.QtWidgets import QDialog

from explorer.files.dataset_dialog import PREVIEW_HEIGHT, PREVIEW_WIDTH, DatasetDialog, preview_zoom
from explorer.files.dataset_loading import preview_grid
from qimage_files import gray, write_image

# The offscreen platform says this on every show(); it is not about the dialog (the window's tests ignore it too).

WAIT_MS = 120_000  # a cap for busy cores (30 s ran out beside a benchmark); the waits return when the signal comes


@pytest.fixture
def dialog(qtbot):
    d = DatasetDialog()
    qtbot.addWidget(d)
    d.show()
    yield d
    d.reject()
    assert not d.loader_running(), "the loading thread must be finished once the dialog is closed"


def load(qtbot, dialog, path, kind, key=None, ok=True):
    """load_path and wait for the dialog's answer; returns the signal's argument."""
    signal = dialog.sig_loaded if ok else dialog.sig_failed
    with qtbot.waitSignal(signal, timeout=WAIT_MS) as blocker:
        dialog.load_path(path, kind, key)
    assert not dialog.is_loading()
    return blocker.args[0]


def summary(dialog) -> dict[str, str]:
    return {name: label.text() for name, label in dialog.summary_labels.items()}


def write_idx(path: Path, magic: int, dims: tuple[int, ...], payload: bytes) -> None:
    path.write_bytes(struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + payload)


def test_good_npz_shows_preview_and_counts_and_ok_returns_it(qtbot, dialog, tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (60, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "digits.npz", x=x, y=np.arange(60) % 6)
    dataset = load(qtbot, dialog, tmp_path / "digits.npz", "npz")
    assert dataset is dialog.dataset() and dataset.x_train.shape == (54, 1, 28, 28)
    rows = summary(dialog)
    assert rows["Examples"] == "54 train / 6 test"
    assert rows["Each example"] == ("1 \N{MULTIPLICATION SIGN} 28 \N{MULTIPLICATION SIGN} 28, "
                                    "uint8 0..255 scaled to [0, 1]")
    assert rows["Labels"] == "6 classes: 0, 1, 2, 3, 4, 5"
    assert rows["Memory"] == "46.4 KB"  # 60 images of 784 bytes + 60 int64 labels
    pixmap = dialog.preview_label.pixmap()
    grid = preview_grid(dataset.x_train)
    zoom = int(preview_zoom(grid.shape[1], grid.shape[0]))
    assert (zoom == 2 and not pixmap.isNull()
            and (pixmap.width(), pixmap.height()) == (2 * grid.shape[1], 2 * grid.shape[0]))
    assert pixmap.width() <= PREVIEW_WIDTH and pixmap.height() <= PREVIEW_HEIGHT  # all of it shows
    assert dialog.ok_button.isEnabled() and dialog.error_text() == ""
    dialog.ok_button.click()
    assert dialog.result() == QDialog.Accepted
    assert dialog.spec().name == "path" and dialog.spec().path == str(tmp_path / "digits.npz")


def test_nan_in_npz_is_explained_and_ok_stays_off(qtbot, dialog, tmp_path):
    x = np.random.default_rng(0).random((20, 8, 8), dtype=np.float32)
    x[3, 2, 1] = np.nan
    np.savez(tmp_path / "bad.npz", x=x)
    message = load(qtbot, dialog, tmp_path / "bad.npz", "npz", ok=False)
    assert "bad.npz" in message and "NaN" in message and "\n" not in message
    assert dialog.error_text() == message and not dialog.error_label.isHidden()
    assert not dialog.ok_button.isEnabled() and dialog.dataset() is None
    assert dialog.preview_label.pixmap().isNull()


@pytest.mark.parametrize(
    "write, fragment",
    [
        (lambda p: write_idx(p, 0x803, (10, 28, 28), bytes(100)), "truncated"),
        (lambda p: p.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 10, 28, 28) + bytes(500))), "truncated"),
        (lambda p: write_idx(p, 0x0A0B0C0D, (10, 28, 28), bytes(7840)), "wrong magic number 0x0a0b0c0d"),
    ],
    ids=["truncated-raw", "truncated-gzip", "wrong-magic"],
)
def test_bad_idx_is_explained(qtbot, dialog, tmp_path, write, fragment):
    write(tmp_path / "t10k-images-idx3-ubyte")
    message = load(qtbot, dialog, tmp_path, "idx", ok=False)
    assert fragment in message and "t10k-images-idx3-ubyte" in message
    assert dialog.error_text() == message and not dialog.ok_button.isEnabled()


def test_mnist_idx_folder(qtbot, dialog, synthetic_mnist_dir):
    dataset = load(qtbot, dialog, synthetic_mnist_dir, "idx")
    rows = summary(dialog)
    assert rows["Examples"] == "1,080 train / 120 test"
    assert rows["Labels"].startswith("10 classes: 0, 1, 2, 3, 4, 5, ...")
    assert dataset.spec.name == "mnist" and dataset.spec.data_dir == str(synthetic_mnist_dir)
    assert dialog.ok_button.isEnabled() and not dialog.preview_label.pixmap().isNull()


def test_empty_folder_is_explained(qtbot, dialog, tmp_path):
    message = load(qtbot, dialog, tmp_path, "images", ok=False)
    assert message == f"{tmp_path}: the folder is empty"
    assert dialog.error_text() == message and not dialog.ok_button.isEnabled()


def test_image_folder_of_mixed_sizes_says_what_was_resized_and_strict_refuses(qtbot, dialog, tmp_path):
    for i in range(4):
        write_image(tmp_path / "a" / f"{i}.png", gray(16, 16))
    write_image(tmp_path / "b" / "wide.png", gray(16, 24))
    dataset = load(qtbot, dialog, tmp_path, "images")
    assert dataset.input_shape == (1, 16, 16) and dataset.class_names == ("a", "b")
    rows = summary(dialog)
    assert "1 resized from 1 other size (center-cropped, then scaled)" in rows["Notes"]
    assert rows["Labels"] == "2 classes: a, b"
    # strict mode reloads and refuses, naming two files of different sizes
    with qtbot.waitSignal(dialog.sig_failed, timeout=WAIT_MS) as blocker:
        dialog.strict_check.setChecked(True)
    assert "mixed image sizes" in blocker.args[0] and "wide.png" in blocker.args[0]
    assert not dialog.ok_button.isEnabled()
    # and a chosen size resizes everything
    dialog.strict_check.setChecked(False)
    with qtbot.waitSignal(dialog.sig_loaded, timeout=WAIT_MS) as blocker:
        dialog.size_spin.setValue(8)
    assert blocker.args[0].input_shape == (1, 8, 8) and "5 resized" in summary(dialog)["Notes"]


def test_hdf5_chooser_lists_every_dataset_and_loads_the_one_picked(qtbot, dialog, tmp_path):
    path = tmp_path / "two.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((20, 28, 28), np.uint8)
        f["other/small"] = np.random.default_rng(0).random((10, 16, 16, 3)).astype(np.float32)
    first = load(qtbot, dialog, path, "hdf5")
    assert first.input_shape == (1, 28, 28)
    items = [dialog.hdf5_combo.itemData(i) for i in range(dialog.hdf5_combo.count())]
    assert items == ["images", "other/small"]
    assert ("other/small    (10 \N{MULTIPLICATION SIGN} 16 \N{MULTIPLICATION SIGN} 16 "
            "\N{MULTIPLICATION SIGN} 3, float32)") == dialog.hdf5_combo.itemText(1)
    with qtbot.waitSignal(dialog.sig_loaded, timeout=WAIT_MS) as blocker:
        dialog.hdf5_combo.setCurrentIndex(1)
        dialog.hdf5_combo.activated.emit(1)  # what a user's pick emits
    second = blocker.args[0]
    assert second.input_shape == (3, 16, 16) and second.spec.key == "other/small"
    assert summary(dialog)["Each example"].endswith("float32 in [0, 1]")
    assert dialog.hdf5_combo.count() == 2 and dialog.hdf5_combo.currentData() == "other/small"


def _many_images(folder: Path, n: int) -> None:
    for i in range(n):
        write_image(folder / f"{i:04d}.png", gray(64, 64))


def test_a_newer_request_supersedes_the_older(qtbot, dialog, tmp_path):
    _many_images(tmp_path / "slow", 150)
    np.savez(tmp_path / "quick.npz", x=np.zeros((10, 4, 4), np.uint8))
    answers = []
    dialog.sig_loaded.connect(answers.append)
    dialog.sig_failed.connect(answers.append)
    dialog.load_path(tmp_path / "slow", "images")
    with qtbot.waitSignal(dialog.sig_loaded, timeout=WAIT_MS):
        dialog.load_path(tmp_path / "quick.npz", "npz")
    qtbot.wait(300)  # room for a stale answer to arrive, if one were sent
    assert len(answers) == 1 and answers[0].spec.path == str(tmp_path / "quick.npz")
    assert dialog.dataset() is answers[0]


def test_closing_while_loading_ends_the_thread(qtbot, tmp_path):
    _many_images(tmp_path, 150)
    d = DatasetDialog()
    qtbot.addWidget(d)
    d.show()
    d.load_path(tmp_path, "images")
    assert d.is_loading()
    d.reject()  # mid-decode: the worker notices between images
    assert not d.loader_running() and not d.is_loading()


def test_preview_grid_layout():
    x = np.stack([np.full((1, 3, 5), i, np.uint8) for i in range(10)])
    grid = preview_grid(x, columns=4, gap=1)
    assert grid.shape == (3 * 3 + 4, 4 * 5 + 5)  # 3 rows of 4, 1-pixel gaps
    assert grid[1, 1] == 0 and grid[1, 1 + 6] == 1 and grid[1 + 4, 1] == 4
    rgb = preview_grid(np.random.default_rng(0).random((2, 3, 200, 100)))  # float, big: subsampled to <= 64
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[0] <= 64 + 4


def test_the_second_rounds_bad_inputs_are_one_line_in_the_dialog(qtbot, dialog, tmp_path):
    """Issue 25's inputs through File > Open Dataset: each a line in the dialog, never a crash or a huge allocation."""
    import h5py
    from PIL import Image

    np.savez(tmp_path / "labels.npz", x=np.zeros((40, 8, 8), np.uint8), y=np.full(40, 10**9))
    message = load(qtbot, dialog, tmp_path / "labels.npz", "npz", ok=False)
    assert "labels.npz" in message and "at most 1000 classes" in message and "\n" not in message
    with h5py.File(tmp_path / "huge.h5", "w") as f:
        f.create_dataset("x", shape=(10**7, 1000, 1000), dtype=np.uint8, chunks=(1, 1000, 1000))
    message = load(qtbot, dialog, tmp_path / "huge.h5", "hdf5", key="x", ok=False)
    assert "huge.h5" in message and "held-out split" in message and "\n" not in message
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((8, 8), 50 * i, np.uint8)).save(folder / f"ok{i}.png")
    Image.new("L", (20000, 20000)).save(folder / "bomb.png")  # 4e8 pixels: over Pillow's limit
    dataset = load(qtbot, dialog, folder, "images")  # not strict: loaded, the bomb left out and said
    assert len(dataset.x_train) + len(dataset.x_test) == 4
    notes = summary(dialog)["Notes"]
    assert "bomb.png" in notes and "decompression-bomb limit" in notes and dialog.ok_button.isEnabled()


# --- the field's datasets: Larochelle's .amat folder and the whole MNIST -------------------------------------
def write_amat_folder(folder: Path, sizes=(40, 10, 12)) -> Path:
    """binarized_mnist_{train,valid,test}.amat(.gz) of random 0/1 images: the published names, other images."""
    for seed, (split, n) in enumerate(zip(("train", "valid", "test"), sizes)):
        rows = np.random.default_rng(seed).integers(0, 2, (n, 784))
        text = "".join(" ".join(map(str, r)) + "\n" for r in rows).encode()
        name = folder / f"binarized_mnist_{split}.amat"
        if split == "train":
            Path(f"{name}.gz").write_bytes(gzip.compress(text))
        else:
            name.write_bytes(text)
    return folder


def test_an_amat_folder_shows_its_three_way_split_and_its_static_binarization(qtbot, dialog, tmp_path):
    dataset = load(qtbot, dialog, write_amat_folder(tmp_path), "amat")
    assert dataset.spec.name == "binarized-mnist" and dataset.prebinarized
    rows = summary(dialog)
    assert rows["Examples"] == "40 train / 10 valid"
    assert rows["Split"].startswith("the published splits, whole; training holds out the validation split")
    assert rows["Split"].endswith("not a published set (its files' checksums say so)")
    assert rows["Binarization"] == "static: fixed 0/1 images (Binarize stays none)"


def test_the_published_files_of_both_sets_are_recognised_with_their_sizes(qtbot, dialog, shared_mnist_full_dir,
                                                                           shared_binarized_dir):
    load(qtbot, dialog, shared_mnist_full_dir, "idx")
    rows = summary(dialog)
    assert rows["Examples"] == "60,000 train / 10,000 test"
    assert rows["Split"] == "the published splits, whole; MNIST as published"
    assert rows["Binarization"].startswith("grey levels")
    load(qtbot, dialog, shared_binarized_dir, "amat")
    rows = summary(dialog)
    assert rows["Examples"] == "50,000 train / 10,000 valid"
    assert rows["Split"].endswith("Larochelle's binarized MNIST as published")


def test_choosing_binarized_mnist_in_the_controls_shows_its_folder_and_locks_binarize(qtbot):
    from explorer.panels.controls import ControlsPanel

    controls = ControlsPanel()
    qtbot.addWidget(controls)
    controls.binarize_combo.setCurrentText("dynamic")
    controls.dataset_combo.setCurrentIndex(controls.dataset_combo.findData("binarized-mnist"))
    assert controls.binarize_combo.currentText() == "none" and not controls.binarize_combo.isEnabled()
    assert not controls.conditional_check.isEnabled()  # Larochelle's files have no labels
    controls.folder_edit.setText("/data/binarized")
    controls.folder_edit.editingFinished.emit()
    spec = controls.settings_model.value.dataset_spec()
    assert (spec.name, spec.data_dir) == ("binarized-mnist", "/data/binarized")
    assert controls.settings_model.value.train_config().binarize == "none"
