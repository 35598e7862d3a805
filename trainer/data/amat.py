"""`.amat` text files: Larochelle & Murray's statically binarized MNIST, one image per line.

    x, digest = read_amat("binarized_mnist_test.amat.gz")   # uint8 (N, 28, 28) of 0/1, SHA-1 of the text

Each line holds one image's values, row-major, separated by whitespace; for binarized MNIST 784 values, each
0 or 1. The file may be gzip-compressed (told apart by content, not by name). The SHA-1 returned is that of the
uncompressed text, the digest the published files are known by (`AMAT_SHA1`), so a file is identified by what
it holds, never by its name. Every problem is one line naming the file and the line: a short or long line, a
value that is not 0 or 1, a file that ends inside a line or holds no image.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from trainer.errors import DataError

AMAT_SIDE = 28
AMAT_SPLITS = {"train": "binarized_mnist_train.amat", "valid": "binarized_mnist_valid.amat",
               "test": "binarized_mnist_test.amat"}
AMAT_SHA1 = {"train": "cf70514ec5f481e54ad3eb0e6c03c83326ff96f8", "valid": "13418487742e6ea6d48db7b5187353a20b1b1f8c",
             "test": "ca70bd7775e182596dec148d4dc1bc6bd6c4c5f4"}
"""SHA-1 of the published uncompressed files (Larochelle & Murray 2011): 50,000, 10,000 and 10,000 images."""
_MAX_LINE = 1 << 16  # a line of 784 one-character values is 1,568 bytes; far longer means this is no .amat


def read_amat(path, side: int = AMAT_SIDE) -> tuple[np.ndarray, str]:
    """(uint8 (N, side, side) images of 0/1, SHA-1 hex of the uncompressed text) of one .amat or .amat.gz file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    width = side * side
    digest = hashlib.sha1()
    rows: list[np.ndarray] = []
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
            for number, line in enumerate(iter(lambda: stream.readline(_MAX_LINE), b""), start=1):
                digest.update(line)
                if not line.endswith(b"\n"):
                    if len(line) >= _MAX_LINE:
                        raise DataError(f"{path}: line {number} is longer than {_MAX_LINE} bytes: not an .amat file")
                    if line.strip():
                        raise DataError(f"{path}: line {number} is truncated (the file ends inside it)")
                    continue
                rows.append(_values(path, number, line, width))
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not rows:
        raise DataError(f"{path}: no images (an .amat file has one image of {width} values 0/1 per line)")
    return np.stack(rows).reshape(len(rows), side, side), digest.hexdigest()


_ZERO, _ONE, _SPACE = ord("0"), ord("1"), ord(" ")


def _values(path: Path, number: int, line: bytes, width: int) -> np.ndarray:
    """One line's values as uint8 0/1; a line that is not `width` zeros and ones is refused, naming its line."""
    raw = np.frombuffer(line, np.uint8)
    if len(raw) in (2 * width, 2 * width + 1) and raw[-1] == ord("\n"):
        # the published files' layout, "0 1 0 ... 0\n" (a space after the last value or not): read as bytes, 20x
        # faster than parsing numbers; anything else takes the general path below, with its messages
        digits, gaps = raw[0:2 * width:2], raw[1:2 * width - 1:2]
        if np.all((digits == _ZERO) | (digits == _ONE)) and np.all(gaps == _SPACE):
            return digits - np.uint8(_ZERO)
    parts = line.split()
    if len(parts) != width:
        raise DataError(f"{path}: line {number} has {len(parts)} values, expected {width} (one {int(width ** 0.5)}x"
                        f"{int(width ** 0.5)} image per line)")
    try:
        values = np.array(parts, dtype=np.float64)
    except ValueError:
        bad = next(p for p in parts if not _is_number(p))
        raise DataError(f"{path}: line {number}: {bad.decode(errors='replace')!r} is not a number") from None
    binary = (values == 0) | (values == 1)
    if not binary.all():
        bad = values[~binary][0]
        raise DataError(f"{path}: line {number}: value {bad:g} is not 0 or 1 (an .amat of binarized images holds "
                        "only 0 and 1)")
    return values.astype(np.uint8)


def _is_number(text: bytes) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def load_amat_dataset(spec, progress=None):
    """binarized-mnist: the training split and the held-out one (spec.heldout: valid, or test) from data_dir.

    The images are 0/1 (stored 0/255 like every binary source). A split whose text matches the published SHA-1 is
    Larochelle's; `Dataset.identity` is "binarized-mnist" only when every file read matches, else empty (files of
    that name holding other images are not the published set, for any comparison)."""
    from trainer.data.dataset import Dataset

    folder = Path(spec.data_dir).expanduser()
    held = "test" if spec.heldout == "test" else "valid"
    found = {split: _find(folder, AMAT_SPLITS[split]) for split in ("train", held)}
    missing = [f"{AMAT_SPLITS[s]}(.gz)" for s, p in found.items() if p is None]
    if missing:
        raise DataError(f"binarized-mnist: {' and '.join(missing)} not in {folder} (Larochelle's "
                        "binarized_mnist_{train,valid,test}.amat files, gzipped or not)")
    arrays, matches = {}, []
    for i, (split, path) in enumerate(found.items()):
        if progress is not None:
            progress(f"reading {path.name}", i / len(found))
        x, digest = read_amat(path)
        arrays[split] = x[:, None]
        matches.append(digest == AMAT_SHA1[split])
    if progress is not None:
        progress("read", 1.0)
    published = all(matches)
    notes = () if published else (f"binarized-mnist: the files in {folder} are not the published ones (their SHA-1 "
                                  "differs): not comparable with published figures",)
    return Dataset(spec, arrays["train"], arrays[held], None, None, notes=notes,
                   identity="binarized-mnist" if published else "", heldout=held, prebinarized=True,
                   split="standard")
