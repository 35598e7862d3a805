"""trainer.data and trainer.pixels: sprites geometry, IDX/npz/HDF5 loading, bad-file messages
and the offline download path.

No test touches the network: the URL opener is replaced. IDX files are written by the tests (synthetic_mnist_dir,
fake_mnist); only the tests of the published MNIST files read them from ../shared (shared_mnist_dir).
"""

import gzip
import io
import struct
import subprocess
import sys
import urllib.error
from pathlib import Path

import h5py
import numpy as np
import pytest

from trainer.config import DatasetSpec
from trainer.data import array_files, idx, load_dataset
from trainer.data.array_files import list_hdf5_datasets
from trainer.data.dataset import Dataset
from trainer.data.idx import read_idx
from trainer.data.sprites import SPRITE_FACTOR_SIZES, make_sprites, render_sprites
from trainer.errors import DataError
from trainer.pixels import to_float01

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------- helpers


def write_idx(path: Path, array: np.ndarray, gz: bool = False, magic: bytes | None = None) -> Path:
    """An IDX file as the format describes it: 0, 0, type code, ndim, big-endian dims, big-endian data."""
    codes = {np.dtype("u1"): 0x08, np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D}
    header = magic or bytes([0, 0, codes[array.dtype], array.ndim])
    blob = header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(blob) if gz else blob)
    return path


def fake_mnist(folder: Path, n: int, prefix: str = "t10k", gz: bool = True, labels: bool = True, seed: int = 0):
    """A small IDX images/labels pair with the standard names."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", x, gz)
    if labels:
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", y, gz)
    return x, y


def centred(shape: int, scale: int, orientation: int = 0) -> list[int]:
    return [shape, scale, orientation, 16, 16]


# ---------------------------------------------------------------------------------------------- sprites


def test_sprites_are_deterministic_per_seed_and_differ_across_seeds():
    x1, f1 = make_sprites(300, 28, seed=3)
    x2, f2 = make_sprites(300, 28, seed=3)
    x3, f3 = make_sprites(300, 28, seed=4)
    assert np.array_equal(x1, x2) and np.array_equal(f1, f2)
    assert not np.array_equal(f1, f3) and not np.array_equal(x1, x3)


def test_sprite_factors_cover_their_ranges_and_images_are_binary_uint8():
    x, f = make_sprites(3000, 28, seed=0)
    assert x.shape == (3000, 1, 28, 28) and x.dtype == np.uint8
    assert f.shape == (3000, 5) and f.dtype == np.int64
    assert set(np.unique(x)) == {0, 255}
    for col, size in enumerate(SPRITE_FACTOR_SIZES):
        assert set(np.unique(f[:, col])) == set(range(size)), f"factor {col} not uniform over 0..{size - 1}"
    # Every image shows a shape, so no sprite vanished off-screen or collapsed below a pixel.
    assert (x.reshape(3000, -1) > 0).sum(1).min() > 0


@pytest.mark.parametrize("size", [28, 64])
def test_sprites_scale_with_the_image_and_never_touch_the_border(size):
    x, _ = make_sprites(2000, size, seed=1)
    assert x.shape == (2000, 1, size, size)
    border = np.concatenate([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], axis=-1)
    assert border.max() == 0, "a sprite is clipped by the image border"
    # Geometry is proportional to the side: the lit fraction is about the same at 28 and 64.
    assert 0.02 < (x > 0).mean() < 0.06


def test_bigger_scale_lights_more_pixels_for_every_shape():
    for shape in range(3):
        counts = (render_sprites([centred(shape, s) for s in range(6)], 64) > 0).sum(axis=(1, 2, 3))
        assert np.all(np.diff(counts) > 0), f"shape {shape}: {counts}"


def test_shapes_differ_in_area_at_the_same_scale():
    square, ellipse, heart = (render_sprites([centred(k, 5) for k in range(3)], 64) > 0).sum(axis=(1, 2, 3))
    # Unit-box areas: square 4, heart ~2.9, ellipse (1 x 0.5) ~1.6.
    assert square > heart * 1.2 > heart > ellipse * 1.4


def test_heart_is_upright_with_a_notch_on_top_and_a_point_below():
    img = render_sprites([centred(2, 5)], 64)[0, 0] > 0
    rows = np.flatnonzero(img.any(1))
    cols = np.flatnonzero(img.any(0))
    mid = (cols[0] + cols[-1]) // 2
    top_at_mid = np.flatnonzero(img[:, mid])[0]
    assert top_at_mid > rows[0] + 1, "no notch between the lobes"
    widths = img.sum(1)[rows]
    assert widths[-1] < widths.max() / 3, "the bottom is not a point"
    assert widths[:len(widths) // 2].max() == widths.max(), "widest part should be in the upper half"


def test_orientation_rotates_and_position_moves_the_sprite():
    flat, upright = render_sprites([centred(1, 5, 0), centred(1, 5, 10)], 64)[:, 0] > 0  # 10/40 turn = 90°
    assert flat.any(0).sum() > 2 * flat.any(1).sum()          # wide
    assert upright.any(1).sum() > 2 * upright.any(0).sum()    # tall
    left, right = render_sprites([[0, 3, 0, 0, 16], [0, 3, 0, 31, 16]], 64)[:, 0] > 0
    assert np.argwhere(right)[:, 1].mean() > np.argwhere(left)[:, 1].mean() + 20


def test_load_sprites_holds_out_ten_percent_with_matching_factors():
    spec = DatasetSpec(name="sprites", n=500, image_size=28, seed=2)
    ds = load_dataset(spec)
    assert (len(ds.x_train), len(ds.x_test)) == (450, 50)
    assert ds.input_shape == (1, 28, 28)
    assert ds.y_train is None and ds.num_classes == 0
    assert ds.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert ds.factor_sizes == (3, 6, 40, 32, 32)
    # The factors travel with their own images through the split.
    assert np.array_equal(render_sprites(ds.factors_test, 28), ds.x_test)
    assert ds.describe() == "sprites: 450 train / 50 test, 1x28x28, 5 factors, uint8 0..255 scaled to [0, 1]"
    again = load_dataset(spec)
    assert np.array_equal(again.x_test, ds.x_test)
    limited = load_dataset(DatasetSpec(name="sprites", n=500, image_size=28, seed=2, limit=100))
    assert len(limited.x_train) == len(limited.factors_train) == 100 and len(limited.x_test) == 50


# ---------------------------------------------------------------------------------------------- MNIST


def test_mnist_from_the_t10k_pair_alone_splits_90_10_by_seed(synthetic_mnist_dir):
    spec = DatasetSpec(name="mnist", data_dir=str(synthetic_mnist_dir), seed=0)
    x = read_idx(synthetic_mnist_dir / "t10k-images-idx3-ubyte.gz")
    y = read_idx(synthetic_mnist_dir / "t10k-labels-idx1-ubyte.gz")
    ds = load_dataset(spec)
    assert (len(ds.x_train), len(ds.x_test)) == (1080, 120)
    assert ds.x_train.dtype == np.uint8 and ds.input_shape == (1, 28, 28)
    assert ds.y_train.dtype == np.int64 and set(np.unique(ds.y_train)) == set(range(10))
    assert set(np.unique(ds.y_test)) == set(range(10))
    assert ds.num_classes == 10 and ds.class_names == tuple("0123456789")
    assert ds.describe() == "mnist: 1080 train / 120 test, 1x28x28, 10 classes, uint8 0..255 scaled to [0, 1]"
    # The two splits partition the file's examples, each image with its own label, each split in file order.
    where = {image.tobytes(): i for i, image in enumerate(x)}
    assert len(where) == len(x)   # the synthetic digits are all different, so an image tells its index
    train = [where[image.tobytes()] for image in ds.x_train[:, 0]]
    test = [where[image.tobytes()] for image in ds.x_test[:, 0]]
    assert sorted(train + test) == list(range(len(x))) and train == sorted(train) and test == sorted(test)
    assert np.array_equal(ds.y_train, y[train]) and np.array_equal(ds.y_test, y[test])

    again = load_dataset(spec)
    assert np.array_equal(again.x_test, ds.x_test) and np.array_equal(again.y_test, ds.y_test)
    other = load_dataset(DatasetSpec(name="mnist", data_dir=str(synthetic_mnist_dir), seed=1, limit=500))
    assert not np.array_equal(other.y_test, ds.y_test)
    assert (len(other.x_train), len(other.y_train), len(other.x_test)) == (500, 500, 120)


def test_published_mnist_t10k_pair_alone_splits_9000_1000(shared_mnist_dir):
    ds = load_dataset(DatasetSpec(name="mnist", data_dir=str(shared_mnist_dir), seed=0))
    assert (len(ds.x_train), len(ds.x_test)) == (9000, 1000)
    assert set(np.unique(ds.y_train)) == set(np.unique(ds.y_test)) == set(range(10))
    assert ds.x_train.max() == 255 and 20 < ds.x_train.mean() < 50   # MNIST: mostly black, ink ~13%
    assert ds.describe() == "mnist: 9000 train / 1000 test, 1x28x28, 10 classes, uint8 0..255 scaled to [0, 1]"


def test_mnist_first_t10k_image_is_the_published_seven(shared_mnist_dir):
    x = read_idx(shared_mnist_dir / "t10k-images-idx3-ubyte.gz")
    y = read_idx(shared_mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    assert list(y[:5]) == [7, 2, 1, 0, 4]


def test_train_and_t10k_pairs_are_used_as_train_and_test(tmp_path):
    x_tr, _ = fake_mnist(tmp_path, 30, "train", gz=False)
    x_te, _ = fake_mnist(tmp_path, 10, "t10k", gz=True, seed=1)
    ds = load_dataset(DatasetSpec(name="fashion-mnist", data_dir=str(tmp_path)))
    assert np.array_equal(ds.x_train[:, 0], x_tr) and np.array_equal(ds.x_test[:, 0], x_te)
    assert ds.x_train.flags.writeable and ds.x_test.flags.writeable   # torch.from_numpy warns otherwise
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"


def test_images_without_labels_load_unlabelled(tmp_path):
    fake_mnist(tmp_path, 40, labels=False)
    ds = load_dataset(DatasetSpec(name="mnist", data_dir=str(tmp_path)))
    assert ds.y_train is None and ds.num_classes == 0 and (len(ds.x_train), len(ds.x_test)) == (36, 4)


def test_empty_data_dir_means_the_xdg_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fake_mnist(tmp_path / "vae-explorer" / "mnist", 20)
    ds = load_dataset(DatasetSpec(name="mnist"))
    assert len(ds.x_train) + len(ds.x_test) == 20


def test_missing_files_name_the_files_the_folder_and_the_options(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSpec(name="mnist", data_dir=str(tmp_path / "nowhere")))
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "nowhere") in msg
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte", "--data-dir", "--download"):
        assert name in msg


def test_label_count_mismatch_names_the_labels_file(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((20, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(19, np.uint8))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.*19 labels for 20 images"):
        load_dataset(DatasetSpec(name="mnist", data_dir=str(tmp_path)))


def test_out_of_range_labels_are_rejected(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((20, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(20, 12, np.uint8))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.*0..9"):
        load_dataset(DatasetSpec(name="mnist", data_dir=str(tmp_path)))


# ---------------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trips_raw_and_gz(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    ints = np.array([1, -2, 70000], np.int32)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a", images, gz)), images)
    got = read_idx(write_idx(tmp_path / "b", ints, gz))
    assert got.dtype == np.int32 and got.dtype.isnative and np.array_equal(got, ints)


def test_truncated_raw_idx(tmp_path):
    path = write_idx(tmp_path / "cut-idx3-ubyte", np.zeros((10, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"cut-idx3-ubyte: truncated: header declares 10x28x28"):
        read_idx(path)


def test_trailing_bytes_in_idx(tmp_path):
    path = write_idx(tmp_path / "long-idx1-ubyte", np.zeros(10, np.uint8))
    path.write_bytes(path.read_bytes() + b"\0\0")
    with pytest.raises(DataError, match="long-idx1-ubyte: trailing data"):
        read_idx(path)


def test_truncated_gz(tmp_path):
    path = write_idx(tmp_path / "cut.gz", np.random.default_rng(0).integers(0, 256, (50, 28, 28), np.uint8), gz=True)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match="cut.gz: truncated"):
        read_idx(path)


def test_gz_payload_shorter_than_the_header(tmp_path):
    blob = bytes([0, 0, 8, 3]) + struct.pack(">3I", 10, 28, 28) + bytes(500)
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(blob))
    with pytest.raises(DataError, match="short.gz: truncated: header declares 10x28x28 .* ends after 500 bytes"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_absurd_declared_size_fails_without_allocating(tmp_path, gz):
    # 4e9 x 4e9 bytes declared, 10 bytes present: must be refused from the header, not by a MemoryError.
    blob = bytes([0, 0, 8, 2]) + struct.pack(">2I", 4_000_000_000, 4_000_000_000) + bytes(10)
    path = tmp_path / "huge"
    path.write_bytes(gzip.compress(blob) if gz else blob)
    with pytest.raises(DataError, match="huge: truncated"):
        read_idx(path)


def test_wrong_magic_says_what_it_found(tmp_path):
    path = tmp_path / "notidx"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(DataError, match=r"notidx: wrong magic number 0x504b0304"):
        read_idx(path)
    labels = write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros(7, np.uint8))   # a labels file, misnamed
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: wrong magic number 0x00000801 .*0x00000803"):
        read_idx(labels, ndim=3)


def test_missing_idx_file(tmp_path):
    with pytest.raises(DataError, match="nothing-here: no such file"):
        read_idx(tmp_path / "nothing-here")


# ---------------------------------------------------------------------------------------------- npz


def test_npz_channels_last_with_labels(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (50, 8, 6, 3), dtype=np.uint8)
    y = np.arange(50) % 4
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = load_dataset(DatasetSpec(name="path", path=str(tmp_path / "d.npz")))
    assert ds.input_shape == (3, 8, 6) and ds.x_train.dtype == np.uint8
    assert (len(ds.x_train), len(ds.x_test)) == (45, 5)
    assert ds.num_classes == 4 and ds.y_train.dtype == np.int64
    # Each example keeps its own label and its pixels, moved to channels-first.
    all_x = np.concatenate([ds.x_train, ds.x_test])
    all_y = np.concatenate([ds.y_train, ds.y_test])
    for img, label in zip(all_x, all_y):
        i = int(np.flatnonzero((x.transpose(0, 3, 1, 2) == img).all(axis=(1, 2, 3)))[0])
        assert y[i] == label
    assert ds.describe() == "d.npz: 45 train / 5 test, 3x8x6, 4 classes, uint8 0..255 scaled to [0, 1]"


def test_npz_float_data(tmp_path):
    unit = np.random.default_rng(0).random((20, 1, 5, 5))
    np.savez(tmp_path / "unit.npz", x=unit)
    x, y = array_files.load_npz(tmp_path / "unit.npz")
    assert x.dtype == np.float32 and x.shape == (20, 1, 5, 5) and y is None
    # Whole-number floats 0..255 are pixel values: stored as uint8, not rescaled into near-black floats.
    np.savez(tmp_path / "pix.npz", x=np.round(unit * 255))
    assert array_files.load_npz(tmp_path / "pix.npz")[0].dtype == np.uint8
    np.savez(tmp_path / "odd.npz", x=unit * 3)
    with pytest.raises(DataError, match=r"odd.npz\[x\]: values span"):
        array_files.load_npz(tmp_path / "odd.npz")


def test_npz_nan_is_rejected(tmp_path):
    x = np.zeros((10, 4, 4), np.float32)
    x[3, 1, 1] = np.nan
    x[4, 0, 0] = np.inf
    np.savez(tmp_path / "nan.npz", x=x)
    with pytest.raises(DataError, match=r"nan.npz\[x\]: 2 NaN/Inf values"):
        load_dataset(DatasetSpec(name="path", path=str(tmp_path / "nan.npz")))


def test_npz_without_x(tmp_path):
    np.savez(tmp_path / "nox.npz", images=np.zeros((4, 3, 3)))
    with pytest.raises(DataError, match=r"nox.npz: no array named x \(found \['images'\]\)"):
        array_files.load_npz(tmp_path / "nox.npz")


def test_npz_object_array_is_never_unpickled(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match="obj.npz: holds Python objects"):
        array_files.load_npz(tmp_path / "obj.npz")


def test_npy_holds_x_alone_and_pickles_are_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((6, 5, 5, 1), np.uint8))
    x, y = array_files.load_npz(tmp_path / "x.npy")
    assert x.shape == (6, 1, 5, 5) and y is None
    import pickle
    (tmp_path / "p.npz").write_bytes(pickle.dumps({"x": [1, 2]}))
    with pytest.raises(DataError, match="p.npz: is a Python pickle"):
        array_files.load_npz(tmp_path / "p.npz")


@pytest.mark.parametrize("content,problem", [
    (b"definitely not a zip", "not a readable"),
    (None, "expected 4 labels"),
    ("2d", "must be 3D"),
    ("empty", "empty dataset"),
])
def test_npz_bad_content(tmp_path, content, problem):
    path = tmp_path / "bad.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "2d":
        np.savez(path, x=np.zeros((4, 4)))
    elif content == "empty":
        np.savez(path, x=np.zeros((0, 4, 4), np.uint8))
    else:
        np.savez(path, x=np.zeros((4, 4, 4), np.uint8), y=np.zeros(3, int))
    with pytest.raises(DataError, match=problem) as err:
        array_files.load_npz(path)
    assert "bad.npz" in str(err.value)


# ---------------------------------------------------------------------------------------------- HDF5


def test_hdf5_with_key_and_sibling_labels(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["train/x"] = np.random.default_rng(0).integers(0, 256, (30, 1, 6, 6), dtype=np.uint8)
        f["train/labels"] = np.arange(30) % 3
        f["other"] = np.zeros((5, 6, 6), np.float32)
    assert ("train/x", (30, 1, 6, 6), "uint8") in list_hdf5_datasets(path)
    ds = load_dataset(DatasetSpec(name="path", path=str(path), key="train/x"))
    assert ds.input_shape == (1, 6, 6) and ds.num_classes == 3 and len(ds.x_train) == 27
    assert ds.describe().startswith("d.h5[train/x]: 27 train / 3 test")
    # Two 3D/4D candidates and no key: the error lists both.
    with pytest.raises(DataError, match=r"d.h5: several 3D/4D datasets \(.*other.*train/x"):
        load_dataset(DatasetSpec(name="path", path=str(path)))


def test_hdf5_single_candidate_needs_no_key(tmp_path):
    path = tmp_path / "one.hdf5"
    with h5py.File(path, "w") as f:
        f["images"] = np.ones((10, 4, 4), np.float32) * 0.5
    x, y = array_files.load_hdf5(path)
    assert x.shape == (10, 1, 4, 4) and x.dtype == np.float32 and y is None


def test_hdf5_unknown_key_lists_what_is_there(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros((10, 4, 4), np.uint8)
    with pytest.raises(DataError, match=r"d.h5: no dataset 'pixels'; it holds images"):
        load_dataset(DatasetSpec(name="path", path=str(path), key="pixels"))


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "fake.h5"
    path.write_bytes(b"hello, not hdf5")
    with pytest.raises(DataError, match="fake.h5: not an HDF5 file"):
        load_dataset(DatasetSpec(name="path", path=str(path)))


def test_path_folder_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="the folder is empty"):  # a folder is read as a folder of images
        load_dataset(DatasetSpec(name="path", path=str(tmp_path)))
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(DataError, match="x.csv: unknown file type"):
        load_dataset(DatasetSpec(name="path", path=str(tmp_path / "x.csv")))
    with pytest.raises(DataError, match="gone.npz: no such file"):
        load_dataset(DatasetSpec(name="path", path=str(tmp_path / "gone.npz")))


# ---------------------------------------------------------------------------------------------- download


def test_offline_download_says_which_files_go_where(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def offline(url, timeout):
        calls.append(url)
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(idx, "_open_url", offline)
    with pytest.raises(DataError) as err:
        load_dataset(DatasetSpec(name="mnist", download=True))
    msg = str(err.value)
    folder = tmp_path / "vae-explorer" / "mnist"
    assert str(folder) in msg and "\n" not in msg
    for stem in idx.IDX_FILES:
        assert f"{stem}.gz" in msg
    assert "name resolution" in msg
    assert len(calls) == len(idx.IDX_SOURCES["mnist"].mirrors)   # every mirror tried, then a clear stop
    assert list(folder.iterdir()) == []                            # no partial files left behind


def test_checksum_mismatch_is_rejected_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "_open_url", lambda url, timeout: io.BytesIO(b"<html>captive portal</html>"))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz from .*: MD5 \w+ does not match .*9fb629c4"):
        idx.download_idx_files("mnist", tmp_path, ["t10k-images-idx3-ubyte.gz"])
    assert list(tmp_path.iterdir()) == []


def test_download_verifies_and_falls_back_to_the_next_mirror(tmp_path, monkeypatch, shared_mnist_dir):
    first_mirror = idx.IDX_SOURCES["mnist"].mirrors[0]

    def served(url, timeout):
        if url.startswith(first_mirror):
            raise urllib.error.URLError("connection refused")
        body = (shared_mnist_dir / url.rsplit("/", 1)[1]).read_bytes()  # the published bytes: their MD5s must match
        response = io.BytesIO(body)
        response.headers = {"Content-Length": str(len(body))}
        return response

    monkeypatch.setattr(idx, "_open_url", served)
    progress = []
    idx.download_idx_files("mnist", tmp_path / "cache", ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"],
                            progress=lambda msg, frac: progress.append((msg, frac)))
    assert progress[-1] == ("downloading t10k-labels-idx1-ubyte.gz", 1.0)
    ds = load_dataset(DatasetSpec(name="mnist", data_dir=str(tmp_path / "cache")))
    assert (len(ds.x_train), len(ds.x_test)) == (9000, 1000)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["t10k-images-idx3-ubyte.gz",
                                                                      "t10k-labels-idx1-ubyte.gz"]


# ---------------------------------------------------------------------------------------------- misc


def test_to_float01():
    x = to_float01(np.array([0, 51, 255], np.uint8))
    assert x.dtype == np.float32 and np.allclose(x, [0, 0.2, 1])
    assert to_float01(np.array([0.5])).dtype == np.float32
    with pytest.raises(TypeError):
        to_float01(np.array([1, 2], np.int64))


def test_dataset_rejects_inconsistent_arrays():
    spec = DatasetSpec()
    with pytest.raises(DataError, match="10 train examples but 9"):
        Dataset(spec, np.zeros((10, 1, 4, 4), np.uint8), np.zeros((2, 1, 4, 4), np.uint8), np.zeros(9), None)
    with pytest.raises(DataError, match="differ"):
        Dataset(spec, np.zeros((10, 1, 4, 4), np.uint8), np.zeros((2, 1, 4, 5), np.uint8), None, None)


def test_trainer_data_imports_no_qt():
    # A subprocess: pytest-qt may already have loaded PySide6 into this one.
    code = ("import sys, trainer.data; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'explorer')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
