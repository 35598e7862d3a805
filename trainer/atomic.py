"""Writing a file so that a crash, a full disk or a kill leaves the old file or the new one, never half of one.

    with atomic_write(path) as tmp:      # a hidden temporary file beside `path`
        write_everything_to(tmp)
    # here: tmp was fsynced, renamed over `path`, and the rename made durable

Checkpoints, CSV exports and downloaded dataset files all go through it.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block ends cleanly, move the file written there into place.

    The temporary file is in the same folder as the target, so os.replace is a rename within one filesystem
    (atomic on POSIX and Windows); its leading dot hides it, and no reader looks at it. Its data is fsynced
    before the rename, or a power cut could leave a renamed empty file, and the folder after it. On any
    exception (KeyboardInterrupt too) the temporary file is removed and the exception goes on unchanged.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_dir(path.parent)  # make the rename itself durable


def _fsync_path(path: Path) -> None:
    # fsync through a fresh descriptor (h5py hides its own); O_RDWR because Windows needs write access
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; NTFS journals the rename itself
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (network, FUSE) refuse fsync on folders; the file is already in place
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
