"""Image folders through Pillow (files written by QImage): exact pixels, labels from subfolders, resizing,
and one-line errors."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from trainer.data.image_folder import image_folder_dataset, load_image_folder
from qimage_files import RNG, gray, write_image
from trainer.data.dataset import split_indices
from trainer.errors import DataError


def test_flat_gray_folder_reads_exact_pixels_in_name_order(tmp_path):
    want = {name: write_image(tmp_path / name, gray()) for name in ("b.png", "a.png", "c.PNG")}
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"ignored: hidden")
    folder = load_image_folder(tmp_path)
    assert folder.files == ("a.png", "b.png", "c.PNG")
    assert folder.x.shape == (3, 1, 28, 28) and folder.x.dtype == np.uint8
    for i, name in enumerate(folder.files):
        np.testing.assert_array_equal(folder.x[i, 0], want[name])
    assert folder.y is None and folder.class_names == () and folder.resized == 0
    assert folder.summary() == "3 images, 1x28x28 grayscale"


def test_one_colour_image_makes_the_set_rgb(tmp_path):
    g = write_image(tmp_path / "a.png", gray(8, 10))
    c = write_image(tmp_path / "b.png", RNG.integers(0, 256, (8, 10, 3), dtype=np.uint8))
    folder = load_image_folder(tmp_path)
    assert folder.x.shape == (2, 3, 8, 10) and folder.colour_images == 1
    for ch in range(3):  # the gray image read before the colour one is gray in every channel
        np.testing.assert_array_equal(folder.x[0, ch], g)
    np.testing.assert_array_equal(folder.x[1], c.transpose(2, 0, 1))
    assert "3x8x10 RGB" in folder.summary()


def test_rgb_files_whose_pixels_are_gray_count_as_gray(tmp_path):
    g = gray(6, 6)
    write_image(tmp_path / "a.png", np.stack([g, g, g], axis=-1))
    folder = load_image_folder(tmp_path)
    assert folder.x.shape == (1, 1, 6, 6)
    np.testing.assert_array_equal(folder.x[0, 0], g)


def test_modes_force_the_channels(tmp_path):
    write_image(tmp_path / "a.png", np.dstack([np.full((4, 4), v, np.uint8) for v in (255, 0, 0)]))
    forced = load_image_folder(tmp_path, mode="gray")
    assert forced.x.shape == (1, 1, 4, 4) and 0 < forced.x[0, 0, 0, 0] < 255  # pure red has some luminance
    write_image(tmp_path / "a.png", gray(4, 4))
    assert load_image_folder(tmp_path, mode="rgb").x.shape == (1, 3, 4, 4)
    with pytest.raises(ValueError):
        load_image_folder(tmp_path, mode="sepia")


def test_subfolders_are_classes_in_sorted_order(tmp_path):
    for cls, n in (("zebra", 2), ("ant", 3), ("moth", 1)):
        for i in range(n):
            write_image(tmp_path / cls / f"{i}.png", gray())
    write_image(tmp_path / "ant" / "nested" / "deep.png", gray())  # class folders are searched recursively
    write_image(tmp_path / ".cache" / "x.png", gray())               # hidden folders are not classes
    (tmp_path / "empty").mkdir()
    folder = load_image_folder(tmp_path)
    assert folder.class_names == ("ant", "moth", "zebra")
    assert folder.files[:4] == ("ant/0.png", "ant/1.png", "ant/2.png", "ant/nested/deep.png")
    assert folder.y.tolist() == [0, 0, 0, 0, 1, 2, 2]
    assert folder.empty_classes == ("empty",)
    assert folder.summary() == "7 images, 3 classes, 1x28x28 grayscale; empty subfolder skipped: empty"


def test_mixed_sizes_resize_to_the_most_common_by_center_crop(tmp_path):
    for i in range(3):
        write_image(tmp_path / f"common{i}.png", gray(20, 20))
    # 40 wide, 20 high: the outer quarters are white, the middle half black. A center crop keeps only black;
    # padding or squashing would keep white.
    wide = np.full((20, 40), 255, np.uint8)
    wide[:, 10:30] = 0
    write_image(tmp_path / "wide.png", wide)
    write_image(tmp_path / "tall.png", gray(30, 20))
    folder = load_image_folder(tmp_path)
    assert folder.x.shape == (5, 1, 20, 20)
    assert folder.resized == 2 and folder.other_sizes == 2
    assert folder.x[folder.files.index("wide.png")].max() == 0
    assert "2 resized from 2 other sizes (center-cropped, then scaled)" in folder.summary()


def test_a_chosen_size_resizes_everything(tmp_path):
    for i in range(2):
        write_image(tmp_path / f"{i}.png", np.full((28, 28), 200, np.uint8))
    folder = load_image_folder(tmp_path, size=(14, 16))
    assert folder.x.shape == (2, 1, 14, 16) and folder.resized == 2
    assert np.all(folder.x == 200)  # scaling a flat image changes no value
    assert load_image_folder(tmp_path, size=28).resized == 0
    with pytest.raises(DataError, match="out of range"):
        load_image_folder(tmp_path, size=5000)


def test_strict_mode_names_two_files_of_different_sizes(tmp_path):
    write_image(tmp_path / "a.png", gray(28, 28))
    write_image(tmp_path / "b.png", gray(28, 28))
    write_image(tmp_path / "c.png", gray(32, 30))
    with pytest.raises(DataError) as info:
        load_image_folder(tmp_path, strict=True)
    message = str(info.value)
    assert "mixed image sizes" in message and "a.png is 28x28" in message and "c.png is 30x32" in message
    assert "\n" not in message


def test_jpeg_files_load(tmp_path):
    pixels = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (24, 1))
    write_image(tmp_path / "smooth.jpg", pixels)
    folder = load_image_folder(tmp_path)
    assert folder.x.shape == (1, 1, 24, 32)
    assert np.abs(folder.x[0, 0].astype(int) - pixels).max() < 12  # lossy, but close on a smooth ramp


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda d: None, "the folder is empty"),
        (lambda d: (d / "readme.txt").write_text("x"), "no PNG or JPEG images (found 1 other file, e.g. readme.txt)"),
        (lambda d: (d / "sub").mkdir(), "no PNG or JPEG images"),
        (lambda d: (write_image(d / "top.png", gray()), write_image(d / "cls" / "a.png", gray())),
         "images both at the top (top.png) and in subfolders (cls/)"),
    ],
    ids=["empty", "only-text", "only-empty-subfolder", "top-and-subfolders"],
)
def test_nothing_to_load_is_explained(tmp_path, make, fragment):
    make(tmp_path)
    with pytest.raises(DataError) as info:
        load_image_folder(tmp_path)
    assert fragment in str(info.value) and str(tmp_path) in str(info.value) and "\n" not in str(info.value)


def test_missing_or_file_path(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DataError, match="not a folder"):
        load_image_folder(tmp_path / "file.png")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "spoil, fragment",
    [
        (_truncate, "cannot decode the image, it may be truncated or corrupt"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40)), "not a readable PNG or JPEG image"),
        (lambda p: p.write_text("hello"), "not a readable PNG or JPEG image"),
    ],
    ids=["truncated", "bad-header", "text"],
)
def test_a_corrupt_image_is_named(tmp_path, spoil, fragment):
    write_image(tmp_path / "good.png", gray())
    write_image(tmp_path / "zbad.png", gray(64, 64))  # sorted last: the good file is read first
    spoil(tmp_path / "zbad.png")
    with pytest.raises(DataError) as info:
        load_image_folder(tmp_path)
    message = str(info.value)
    assert fragment in message and "zbad.png" in message and "\n" not in message


def test_a_truncated_jpeg_is_named_not_filled_with_gray(tmp_path):
    # libjpeg would decode it "fine" with the missing rows gray; the loader must notice the cut itself
    write_image(tmp_path / "broken.jpg", gray(64, 64))
    _truncate(tmp_path / "broken.jpg")
    with pytest.raises(DataError, match="broken.jpg: the JPEG is truncated"):
        load_image_folder(tmp_path)


def test_data_after_the_jpeg_end_marker_is_fine(tmp_path):
    write_image(tmp_path / "ok.jpg", gray(16, 16))
    with open(tmp_path / "ok.jpg", "ab") as f:
        f.write(b"trailer some cameras append")
    assert load_image_folder(tmp_path).x.shape == (1, 1, 16, 16)


@pytest.mark.qt_log_ignore("Corrupt JPEG", "Invalid JPEG", "Unsupported marker")  # libjpeg's own complaints
def test_a_jpeg_with_garbage_markers_is_named(tmp_path):
    write_image(tmp_path / "a.png", gray())
    (tmp_path / "mangled.jpg").write_bytes(b"\xff\xd8\xff" + b"\x11" * 50)
    with pytest.raises(DataError, match="mangled.jpg"):
        load_image_folder(tmp_path)


def test_dataset_is_split_90_10_with_labels(tmp_path):
    for cls in ("cat", "dog"):
        for i in range(10):
            write_image(tmp_path / cls / f"{i:02d}.png", np.full((12, 12), 10 * i + (cls == "dog"), np.uint8))
    dataset, folder = image_folder_dataset(tmp_path, seed=3)
    train, test = split_indices(20, 3)
    np.testing.assert_array_equal(dataset.x_train, folder.x[train])
    np.testing.assert_array_equal(dataset.x_test, folder.x[test])
    assert dataset.y_test.tolist() == folder.y[test].tolist() and len(dataset.x_test) == 2
    assert dataset.num_classes == 2 and dataset.class_names == ("cat", "dog")
    assert dataset.spec.name == "path" and dataset.spec.path == str(tmp_path) and dataset.spec.seed == 3
    assert dataset.describe() == (f"{tmp_path.name}: 18 train / 2 test, 1x12x12, 2 classes, "
                                  "uint8 0..255 scaled to [0, 1]")


def test_loads_in_a_plain_worker_thread(tmp_path):
    """QImage (not QPixmap) decodes off the GUI thread; the dialog's worker relies on it."""
    want = write_image(tmp_path / "a.png", gray())
    out = {}
    thread = threading.Thread(target=lambda: out.update(folder=load_image_folder(tmp_path)))
    thread.start()
    thread.join(30)
    np.testing.assert_array_equal(out["folder"].x[0, 0], want)


def test_progress_is_reported_and_can_cancel(tmp_path):
    for i in range(3):
        write_image(tmp_path / f"{i}.png", gray())
    calls = []
    load_image_folder(tmp_path, progress=lambda msg, frac: calls.append(frac))
    assert calls[0] == 0.0 and calls[-1] == 1.0

    class Stop(BaseException):
        pass

    def stop(msg, frac):
        if frac > 0:
            raise Stop

    with pytest.raises(Stop):
        load_image_folder(tmp_path, progress=stop)
