"""Bad input, third round (issue 32, item 16): a decompression bomb in an image folder read straight by `train`,
`sweep`, `eval` or the window is left out and said, in one line naming how many images and which, as `convert`
says it; never skipped without a word."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inprocess import run_main
from trainer.config import DatasetSpec
from trainer.data import load_dataset

WAIT_MS = 120_000
SMALL = ["--hidden", "16", "--latent-dim", "2", "--batch-size", "8", "--epochs", "1", "--device", "cpu"]


def _bomb(path: Path, width: int = 100_000, height: int = 100_000) -> None:
    """A PNG whose header declares width x height pixels (10^10, over Pillow's limit); its data is a token."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


@pytest.fixture
def folder(tmp_path) -> Path:
    """Two classes of 20 small gray images, with two bombs among them."""
    root = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(20):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(root / cls / f"{i:02d}.png")
    _bomb(root / "a" / "huge.png")
    _bomb(root / "b" / "wide.png", 10**6, 10**4)
    return root


def _note(folder: Path) -> str:
    return (f"{folder}: 2 images over Pillow's decompression-bomb limit of {Image.MAX_IMAGE_PIXELS:,} pixels "
            f"skipped: a/huge.png, b/wide.png")


def _warnings(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.replace("\r", "\n").splitlines() if line.startswith("warning:")]


def test_a_folder_read_as_a_dataset_carries_the_note_convert_prints(folder):
    dataset = load_dataset(DatasetSpec(name="path", path=str(folder)))
    assert len(dataset.x_train) + len(dataset.x_test) == 40  # the bombs left out
    assert dataset.notes == (_note(folder),)
    clean = folder.parent / "clean"
    (clean / "a").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.full((8, 8), 9 * i, np.uint8)).save(clean / "a" / f"{i}.png")
    assert load_dataset(DatasetSpec(name="path", path=str(clean))).notes == ()


def test_train_and_eval_on_a_folder_say_what_they_skipped(folder, tmp_path):
    out = tmp_path / "run.h5"
    proc = run_main(["train", "--dataset", folder, *SMALL, "--out", out])
    assert proc.returncode == 0, proc.stderr
    assert _warnings(proc.stderr) == [f"warning: {_note(folder)}"]
    proc = run_main(["eval", out, "--iwae-samples", "0", "--rate-split-points", "0"])  # the checkpoint's folder
    assert proc.returncode == 0, proc.stderr
    assert _warnings(proc.stderr) == [f"warning: {_note(folder)}"]
    proc = run_main(["train", "--resume", out, "--epochs", "2", "--out", out])
    assert proc.returncode == 0, proc.stderr
    assert _warnings(proc.stderr) == [f"warning: {_note(folder)}"]


def test_sweep_on_a_folder_says_what_it_skipped(folder, tmp_path):
    proc = run_main(["sweep", "--dataset", folder, *SMALL, "--beta", "1", "--iwae-samples", "0",
                     "--out", tmp_path / "runs"])
    assert proc.returncode == 0, proc.stderr
    assert _warnings(proc.stderr) == [f"warning: {_note(folder)}"]


def test_the_window_says_what_it_skipped_in_its_banner(qtbot, folder, tmp_path):
    import explorer

    out = tmp_path / "run.h5"
    assert run_main(["train", "--dataset", folder, *SMALL, "--out", out]).returncode == 0
    viewer = explorer.show(out, block=False)  # the checkpoint's data is read again from the folder
    qtbot.addWidget(viewer.window)
    banner = viewer.window.banner
    qtbot.waitUntil(lambda: _note(folder) in banner.text(), timeout=WAIT_MS)
    assert banner.level == "warning"
    viewer.close()
    qtbot.waitUntil(lambda: not viewer.window.session.running, timeout=WAIT_MS)
