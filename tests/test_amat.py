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
