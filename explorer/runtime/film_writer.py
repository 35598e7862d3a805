"""Frames to a GIF or an MP4 file, encoded in a thread of its own; the file appears whole or not at all.

    writer = FilmWriter("film.mp4", fps=4)       # GUI thread; a bad name or format is a ValueError at once
    writer.sig_done.connect(...)                 # (path, frames): written and in place
    writer.sig_failed.connect(...)               # one line naming the file; nothing is left behind
    writer.add(frame)                            # (H, W, 3) uint8, all of one size; returns at once
    writer.finish()                              # no more frames: encode the rest, then move the file in place
    writer.abort()                               # Cancel: stop, and leave no file

MP4 is H.264 through imageio-ffmpeg, whose ffmpeg ships inside its wheel (odd frame sides are cut to even ones,
as H.264's 4:2:0 needs); a GIF is written by imageio's Pillow plugin with the frames held until the end. Both are
written to a hidden ".part" file beside the target and renamed over it when complete (trainer.atomic's rule).
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal

FORMATS = (".gif", ".mp4")
MAX_FPS = 60
_END = object()


def film_path(path: str | os.PathLike, fps) -> Path:
    """`path` as a film's target, or a ValueError in one line: the format is its suffix (.gif, .mp4), the folder
    must exist, and fps is a whole number of frames per second in 1..MAX_FPS."""
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise ValueError(f"{target}: a film is a .gif or an .mp4 file, not {target.suffix or 'a file with no suffix'}")
    if not target.parent.is_dir():
        raise ValueError(f"{target}: the folder {target.parent} does not exist")
    if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= MAX_FPS:
        raise ValueError(f"{target}: frames per second must be a whole number in 1..{MAX_FPS}, got {fps!r}")
    return target


class FilmWriter(QObject):
    """Encodes frames in a background thread (no Qt object is touched there: it only emits signals)."""

    sig_done = Signal(str, int)
    """(path, frames): the film is complete and in place."""
    sig_failed = Signal(str)
    """One line naming the file: nothing was left behind."""

    def __init__(self, path: str | os.PathLike, fps: int = 4, parent: QObject | None = None):
        super().__init__(parent)
        self.path = film_path(path, fps)
        self.fps = int(fps)
        self._part = self.path.with_name(f".{self.path.stem}.part{self.path.suffix.lower()}")
        self._frames: queue.Queue = queue.Queue()
        self._aborted = threading.Event()
        self.frames = 0
        """Frames handed to add() so far."""
        self._thread = threading.Thread(target=self._run, name="vae-explorer film", daemon=True)
        self._thread.start()

    def add(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"a film frame is (H, W, 3) uint8, got {frame.dtype} {frame.shape}")
        self.frames += 1
        self._frames.put(frame)

    def finish(self) -> None:
        self._frames.put(_END)

    def abort(self) -> None:
        self._aborted.set()
        self._frames.put(_END)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the thread ends (tests and the headless replay; the window never calls it)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        count = 0
        try:
            if self.path.suffix.lower() == ".mp4":
                count = self._write_mp4()
            else:
                count = self._write_gif()
            if self._aborted.is_set():
                self._part.unlink(missing_ok=True)
                return
            if count == 0:
                raise ValueError("no frames to write")
            os.replace(self._part, self.path)
        except Exception as exc:  # an encoder or disk error: one line, and no half-written file
            self._part.unlink(missing_ok=True)
            self.sig_failed.emit(f"{self.path}: cannot write the film: {' '.join(str(exc).split())}")
            return
        self.sig_done.emit(str(self.path), count)

    def _frames_in(self):
        """The frames as they come, until finish() or abort()."""
        while True:
            frame = self._frames.get()
            if frame is _END or self._aborted.is_set():
                return
            yield frame

    def _write_mp4(self) -> int:
        import imageio.v2 as imageio

        count, writer, size = 0, None, None
        try:
            for frame in self._frames_in():
                h, w = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
                if writer is None:
                    size = (h, w)
                    writer = imageio.get_writer(self._part, format="FFMPEG", mode="I", fps=self.fps, codec="libx264",
                                                pixelformat="yuv420p", macro_block_size=1, quality=8)
                if (h, w) != size:
                    raise ValueError(f"frame {count + 1} is {w}x{h}, the film is {size[1]}x{size[0]}")
                writer.append_data(np.ascontiguousarray(frame[:h, :w]))
                count += 1
        finally:
            if writer is not None:
                writer.close()
        return count

    def _write_gif(self) -> int:
        import imageio.v3 as iio

        frames = list(self._frames_in())
        if frames and not self._aborted.is_set():
            if len({f.shape for f in frames}) > 1:
                raise ValueError("the frames differ in size")
            iio.imwrite(self._part, np.stack(frames), extension=".gif", duration=1000 / self.fps, loop=0)
        return len(frames)
