"""trainer.data.amat: Larochelle's .amat text files, read by content (plain or gzip), every fault one line."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from trainer.data.amat import read_amat
from trainer.errors import DataError

SIDE = 4  # the reader takes any square side; 4x4 keeps the files small


def image_lines(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(str(v) for v in rng.integers(0, 2, SIDE * SIDE)) for _ in range(n)]


def write(path, lines, gz=False, end="\n"):
    text = ("\n".join(lines) + end).encode()
    path.write_bytes(gzip.compress(text) if gz else text)
    return text


@pytest.mark.parametrize("gz", [False, True])
def test_it_reads_images_row_major_and_the_digest_of_the_uncompressed_text(tmp_path, gz):
    lines = image_lines(3)
    text = write(tmp_path / "x.amat", lines, gz=gz)
    x, digest = read_amat(tmp_path / "x.amat", side=SIDE)
    assert x.shape == (3, SIDE, SIDE) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[1].ravel(), [int(v) for v in lines[1].split()])
    assert digest == hashlib.sha1(text).hexdigest()  # the same whether the file was gzipped or not


@pytest.mark.parametrize("bad_line,problem", [
    (" ".join(["0"] * (SIDE * SIDE - 1)), "line 2 has 15 values, expected 16"),
    (" ".join(["1"] * (SIDE * SIDE + 2)), "line 2 has 18 values, expected 16"),
    (" ".join(["0"] * (SIDE * SIDE - 1) + ["0.5"]), "line 2: value 0.5 is not 0 or 1"),
    (" ".join(["0"] * (SIDE * SIDE - 1) + ["2"]), "line 2: value 2 is not 0 or 1"),
    (" ".join(["0"] * (SIDE * SIDE - 1) + ["x"]), "line 2: 'x' is not a number"),
])
def test_a_bad_line_is_refused_in_one_line_naming_the_file_and_the_line(tmp_path, bad_line, problem):
    lines = image_lines(3)
    lines[1] = bad_line
    write(tmp_path / "bad.amat", lines)
    with pytest.raises(DataError) as err:
        read_amat(tmp_path / "bad.amat", side=SIDE)
    assert problem in str(err.value) and "bad.amat" in str(err.value) and "\n" not in str(err.value)


def test_a_file_that_ends_inside_a_line_or_inside_its_gzip_stream_is_truncated(tmp_path):
    lines = image_lines(3)
    lines[2] = lines[2][:7]
    write(tmp_path / "cut.amat", lines, end="")
    with pytest.raises(DataError, match="line 3 is truncated"):
        read_amat(tmp_path / "cut.amat", side=SIDE)
    whole = gzip.compress(("\n".join(image_lines(50)) + "\n").encode())
    (tmp_path / "cut.amat.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="cut.amat.gz: truncated or corrupt gzip data"):
        read_amat(tmp_path / "cut.amat.gz", side=SIDE)


def test_an_empty_file_or_a_missing_one_says_so(tmp_path):
    (tmp_path / "empty.amat").write_bytes(b"")
    with pytest.raises(DataError, match="empty.amat: no images"):
        read_amat(tmp_path / "empty.amat", side=SIDE)
    with pytest.raises(DataError, match="nothere.amat: no such file"):
        read_amat(tmp_path / "nothere.amat", side=SIDE)


# --- binarized-mnist, the dataset -----------------------------------------------------------------------------
from trainer.config import DatasetSpec  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.errors import ConfigError  # noqa: E402


def amat_folder(tmp_path, sizes=(30, 8, 6)):
    """binarized_mnist_{train,valid,test}.amat of random 28x28 0/1 images: the right names, not the published files."""
    for seed, (split, n) in enumerate(zip(("train", "valid", "test"), sizes)):
        rng = np.random.default_rng(seed)
        lines = [" ".join(map(str, rng.integers(0, 2, 784))) for _ in range(n)]
        write(tmp_path / f"binarized_mnist_{split}.amat", lines, gz=split == "train")
    return tmp_path


def test_the_dataset_holds_out_validation_while_training_and_test_when_asked(tmp_path):
    folder = amat_folder(tmp_path)
    (folder / "binarized_mnist_train.amat").rename(folder / "binarized_mnist_train.amat.gz")  # gzipped, by name
    data = load_dataset(DatasetSpec(name="binarized-mnist", data_dir=str(folder)))
    assert (len(data.x_train), len(data.x_test), data.heldout) == (30, 8, "valid")
    assert set(np.unique(data.x_train)) == {0, 255} and "binary" in data.values
    assert data.identity == "" and "not the published ones" in data.notes[0]  # named right, but other images
    test = load_dataset(DatasetSpec(name="binarized-mnist", data_dir=str(folder), heldout="test"))
    assert (len(test.x_test), test.heldout) == (6, "test")
    np.testing.assert_array_equal(test.x_train, data.x_train)


def test_missing_files_a_missing_folder_and_a_validation_split_elsewhere_are_one_line(tmp_path):
    with pytest.raises(DataError, match="binarized_mnist_train.amat.*not in"):
        load_dataset(DatasetSpec(name="binarized-mnist", data_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="binarized-mnist needs --data-dir"):
        DatasetSpec(name="binarized-mnist").validate()
    with pytest.raises(ConfigError, match="mnist has no validation split"):
        DatasetSpec(name="mnist", heldout="valid").validate()


def test_an_amat_file_by_path_is_split_like_any_single_file(tmp_path):
    folder = amat_folder(tmp_path)
    data = load_dataset(DatasetSpec(name="path", path=str(folder / "binarized_mnist_valid.amat")))
    assert len(data.x_train) + len(data.x_test) == 8 and data.input_shape == (1, 28, 28)


def test_the_published_files_are_recognised_by_content(shared_binarized_dir):
    data = load_dataset(DatasetSpec(name="binarized-mnist", data_dir=str(shared_binarized_dir), heldout="test"))
    assert (len(data.x_train), len(data.x_test), data.identity, data.notes) == (50_000, 10_000, "binarized-mnist", ())


def test_binarizing_binary_images_again_is_refused_and_eval_scores_the_test_split(tmp_path):
    import json

    from inprocess import run_main

    folder = amat_folder(tmp_path)
    common = ["train", "--dataset", "binarized-mnist", "--data-dir", str(folder), "--epochs", "1", "--hidden", "16",
              "--latent-dim", "2", "--batch-size", "10", "--device", "cpu"]
    bad = run_main([*common, "--binarize", "dynamic", "--out", str(tmp_path / "bad.h5")])
    assert bad.returncode != 0 and "already a binarization (0/1)" in bad.stderr and "use binarize none" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad.h5").exists()
    good = run_main([*common, "--out", str(tmp_path / "m.h5")])
    assert good.returncode == 0, good.stderr
    assert "valid elbo" in good.stdout
    for split, n in (("test", 6), ("valid", 8)):
        proc = run_main(["eval", str(tmp_path / "m.h5"), "--split", split, "--rate-split-points", "0", "--json"])
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert (result["split"], result["n"]) == (split, n)
