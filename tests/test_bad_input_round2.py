"""Bad input, second round (issue 25): inputs that ended in a traceback or ate all memory, each now one line on
stderr and exit status 2 (a closed output pipe: a quiet exit, as Unix tools make), with peak memory measured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PEAK_MB = 1024
# the CLI in a fresh process that reports its own peak resident memory (kB on Linux) on stdout's last line
# VmHWM, the peak of this process's own memory: ru_maxrss would keep the peak of the test process it was forked
# from, which is over 1 GB once the GUI tests have run in it
MEASURED = ("import sys\nfrom trainer.cli import main\ncode = main(sys.argv[1:])\n"
            "print('peak_kb', open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\nsys.exit(code)")


def cli(*args, timeout=120) -> tuple[int, str, float]:
    """(exit status, stderr, peak memory in MB) of one CLI command in its own process."""
    proc = subprocess.run([sys.executable, "-c", MEASURED, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    peak = [line for line in proc.stdout.splitlines() if line.startswith("peak_kb")]
    return proc.returncode, proc.stderr, int(peak[-1].split()[1]) / 1024 if peak else float("nan")


def one_line(stderr: str) -> str:
    """The one error line (progress bars may come before it on stderr), and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("conditional", [False, True])
def test_labels_of_a_billion_are_one_line_before_anything_is_sized_by_them(tmp_path, conditional):
    path = tmp_path / "big-labels.npz"
    np.savez(path, x=np.zeros((200, 1, 8, 8), np.uint8), y=np.full(200, 10**9))
    rc, err, peak = cli("train", "--dataset", path, "--epochs", "1", "--out", tmp_path / "r.h5",
                        *(["--conditional"] if conditional else []))
    line = one_line(err)
    assert rc == 2 and str(path) in line and "at most 1000 classes" in line and peak < PEAK_MB
    assert not (tmp_path / "r.h5").exists()


def test_an_idx_header_as_long_as_a_sparse_file_is_checked_against_the_budget_first(tmp_path):
    folder = tmp_path / "idx"
    folder.mkdir()
    n = 15_000_000  # 15M 28x28 images: 11.8 GB declared, and the sparse file really is that long
    images = folder / "t10k-images-idx3-ubyte"
    with open(images, "wb") as f:
        f.write((0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
        f.truncate(16 + n * 28 * 28)
    labels = folder / "t10k-labels-idx1-ubyte"
    with open(labels, "wb") as f:
        f.write((0x801).to_bytes(4, "big") + n.to_bytes(4, "big"))
        f.truncate(8 + n)
    rc, err, peak = cli("train", "--dataset", "mnist", "--data-dir", folder, "--memory-budget", "512",
                        "--epochs", "1", "--out", tmp_path / "r.h5")
    line = one_line(err)
    assert rc == 2 and str(images) in line and "memory budget of 512 MB" in line and peak < PEAK_MB


def test_every_command_exits_quietly_when_its_output_pipe_closes(tmp_path):
    from inprocess import run_main

    out = tmp_path / "r.h5"
    assert run_main(["train", "--dataset", "sprites", "--image-size", "28", "--limit", "200", "--hidden", "16",
                     "--latent-dim", "2", "--epochs", "1", "--out", str(out)]).returncode == 0
    for args in (["info", out], ["info", out, "--json"], ["eval", out, "--rate-split-points", "0"]):
        proc = subprocess.Popen([sys.executable, "-m", "trainer", *map(str, args)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.close()  # the reader went away, as `| head -1` does once it has its line
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 141 and "Traceback" not in err and "BrokenPipe" not in err, (args, err)


def test_a_gzipped_idx_larger_than_the_budget_stops_growing_at_the_budget(tmp_path):
    import gzip

    from trainer.data.idx import read_idx
    from trainer.errors import DataError

    n = 4000  # 4000 28x28 images: 3.1 MB once decompressed, a few kB compressed
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress((0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
                                   + bytes(n * 28 * 28)))
    assert read_idx(path, ndim=3).shape == (n, 28, 28)
    with pytest.raises(DataError, match=r"images.gz: .*more than the memory budget of 1 MB"):
        read_idx(path, ndim=3, memory_budget=2**20)


def _png(path: Path, width: int, height: int) -> None:
    """A PNG whose header declares width x height (its data is a token: Pillow refuses it from the header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def _small_pngs(folder: Path, n: int = 6) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"img{i}.png")


def test_a_decompression_bomb_is_skipped_and_said_or_refused_in_strict_mode(tmp_path):
    folder = tmp_path / "images"
    _small_pngs(folder)
    _png(folder / "bomb.png", 100_000, 100_000)
    rc, err, peak = cli("convert", folder, "--out", tmp_path / "strict.h5", "--strict")
    line = one_line(err)
    assert rc == 2 and "bomb.png" in line and "decompression-bomb limit" in line and peak < PEAK_MB
    assert not (tmp_path / "strict.h5").exists()
    proc = subprocess.run([sys.executable, "-m", "trainer", "convert", str(folder), "--out", str(tmp_path / "ok.h5")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 image over Pillow's decompression-bomb limit" in proc.stdout + proc.stderr and "bomb.png" in \
        proc.stdout + proc.stderr
    import h5py

    with h5py.File(tmp_path / "ok.h5") as f:
        assert f["x"].shape[0] == 6  # the six readable images, the bomb left out


def test_a_class_folder_whose_name_is_not_utf8_is_refused_in_one_line_by_convert(tmp_path):
    import os

    folder = tmp_path / "classes"
    _small_pngs(folder / "good")
    bad = os.path.join(os.fsencode(str(folder)), b"caf\xe9")  # Latin-1, not UTF-8
    try:
        os.mkdir(bad)
    except OSError:
        pytest.skip("this filesystem refuses names that are not UTF-8")
    _small_pngs(Path(os.fsdecode(bad)))
    rc, err, _ = cli("convert", folder, "--out", tmp_path / "c.h5")
    line = one_line(err)
    assert rc == 2 and "caf\\xe9" in line and "not valid UTF-8" in line
    assert not (tmp_path / "c.h5").exists()


def test_an_hdf5_declaring_terabytes_is_refused_from_its_shape_with_the_budget_named(tmp_path):
    import h5py

    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:  # 10^7 images of 1000x1000 declared, none written: a small file
        f.create_dataset("x", shape=(10**7, 1000, 1000), dtype=np.uint8, chunks=(1, 1000, 1000))
    rc, err, peak = cli("train", "--dataset", path, "--memory-budget", "512", "--epochs", "1",
                        "--out", tmp_path / "r.h5")
    line = one_line(err)
    assert rc == 2 and str(path) in line and "held-out split" in line and "a quarter of RAM" in line
    assert peak < PEAK_MB


def _corrupt_chunked(tmp_path: Path, chunk: int) -> Path:
    """4,000 binary 28x28 images in gzip chunks of 100 rows, chunk `chunk` overwritten in its middle."""
    import h5py

    rng = np.random.default_rng(0)
    path = tmp_path / f"bad-chunk-{chunk}.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=(rng.random((4000, 1, 28, 28)) < 0.3).astype(np.uint8) * 255,
                         chunks=(100, 1, 28, 28), compression="gzip")
    with h5py.File(path, "r") as f:
        info = f["x"].id.get_chunk_info(chunk)
    data = bytearray(path.read_bytes())
    middle = info.byte_offset + info.size // 2
    data[middle:middle + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("chunk, trained", [(30, False), (12, True)])
def test_a_corrupt_chunk_in_a_streamed_file_is_one_line_and_what_was_trained_is_kept(tmp_path, chunk, trained):
    """Chunk 30 is in the held-out split (seed 0), read when the file is opened: nothing has trained, so no
    checkpoint. Chunk 12 is a training chunk first read mid-epoch: the steps before it are saved."""
    from trainer.checkpoints.hdf5 import load_checkpoint

    path, out = _corrupt_chunked(tmp_path, chunk), tmp_path / "r.h5"
    rc, err, _ = cli("train", "--dataset", path, "--in-memory", "never", "--epochs", "2", "--hidden", "32",
                     "--latent-dim", "2", "--out", out)
    line = one_line(err)
    assert rc == 2 and str(path) in line and f"rows {chunk * 100}..{chunk * 100 + 99}" in line
    assert out.exists() == trained
    if trained:
        assert load_checkpoint(out).progress["step"] > 0


def test_an_image_folder_larger_than_the_budget_is_refused_from_its_headers(tmp_path):
    folder = tmp_path / "images"
    _small_pngs(folder, 3)
    rc, err, peak = cli("train", "--dataset", folder, "--image-size", "1000", "--memory-budget", "1", "--epochs", "1",
                        "--out", tmp_path / "r.h5")
    line = one_line(err)
    assert rc == 2 and str(folder) in line and "memory budget of 1 MB" in line and "vae-explorer convert" in line
    assert peak < PEAK_MB
