"""A dataset is told by its content: MNIST's images are MNIST for a comparison only when their uncompressed files
match the published MD5s, and the standard split is the published train and t10k files, whole."""

from __future__ import annotations

import hashlib
import shutil

from idx_files import digit_images, write_digit_idx_pair, write_idx
from trainer.config import DatasetSpec
from trainer.data import load_dataset
from trainer.data.idx import IDX_SOURCES, read_idx


def test_synthetic_digits_named_like_mnist_are_not_mnist(synthetic_mnist_dir):
    ds = load_dataset(DatasetSpec(name="mnist", data_dir=str(synthetic_mnist_dir)))
    assert ds.identity == ""
    assert ds.split == "a seeded split of t10k"


def test_a_train_and_t10k_pair_is_the_standard_split_and_limit_says_it_was_cut(tmp_path):
    write_digit_idx_pair(tmp_path, 60)
    x, y = digit_images(200, seed=1)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y)
    ds = load_dataset(DatasetSpec(name="mnist", data_dir=str(tmp_path)))
    assert (ds.split, ds.identity, len(ds.x_train), len(ds.x_test)) == ("standard", "", 200, 60)
    cut = load_dataset(DatasetSpec(name="mnist", data_dir=str(tmp_path), limit=50))
    assert cut.split == "the first 50 of the training split"


def test_the_digest_is_of_the_uncompressed_file(tmp_path):
    x, _ = digit_images(7)
    path = write_idx(tmp_path / "images.gz", x)
    import gzip

    digest = hashlib.md5()
    read_idx(path, ndim=3, digest=digest)
    assert digest.hexdigest() == hashlib.md5(gzip.decompress(path.read_bytes())).hexdigest()


def test_the_published_files_are_mnist_whatever_their_folder(shared_mnist_full_dir, tmp_path):
    ds = load_dataset(DatasetSpec(name="mnist", data_dir=str(shared_mnist_full_dir)))
    assert (ds.identity, ds.split, len(ds.x_train), len(ds.x_test)) == ("mnist", "standard", 60_000, 10_000)
    # t10k alone is MNIST's images too, cut by a seeded split that no paper uses
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(shared_mnist_full_dir / name, tmp_path / name)
    alone = load_dataset(DatasetSpec(name="mnist", data_dir=str(tmp_path)))
    assert (alone.identity, alone.split, len(alone.x_test)) == ("mnist", "a seeded split of t10k", 1_000)
    assert set(IDX_SOURCES["mnist"].images_md5) == {"train", "t10k"}
