"""A film of the timeline: a panel (or the whole window) at each moment of a range, with its step and β on every
frame, written as a GIF or an MP4.

    recorder = FilmRecorder(explored, panels, lambda: panel_widget(window, "latent"), refresh, writer, steps,
                            title="collapse.h5")
    recorder.sig_progress.connect(...)       # (frames grabbed, frames in all)
    recorder.sig_finished.connect(...)       # (ok, one line: the file written, or why not)
    recorder.start()                         # returns at once; recorder.cancel() stops it and leaves no file
    export = FilmExport(window, explored, panels, widget_of, refresh, status, banner, names, folder)
    timeline_bar.sig_film_requested.connect(export.ask)   # the dialog, then the recording with progress and Cancel

The recorder moves the explored run's moment (explorer.models.explored_run) through `steps` as the timeline's
slider would, waits until every latent panel shows each moment (LatentPanels.sig_shown; the moments are built
in the background and cached), draws what the coalescing timers hold back (`refresh`), grabs the widget, prints
the run, step, epoch and β in a band above it, and hands the frame to a FilmWriter (explorer.runtime.film_writer), which
encodes in its own thread. The GUI thread never blocks; at the end the views go back to the moment they showed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter
from PySide6.QtWidgets import QDialog, QProgressDialog, QWidget

from explorer.runtime.film_writer import FilmWriter

SETTLE_MS = 60
"""After a moment is shown: time for the last panel's paint before the grab."""
MOMENT_WAIT_MS = 180_000
"""A moment whose encodings never arrive (its data is missing) ends the film with a message after this long."""


def frame_of(image: QImage) -> np.ndarray:
    """A grabbed image as (H, W, 3) uint8 RGB."""
    rgb = image.convertToFormat(QImage.Format_RGB888)
    h, w, stride = rgb.height(), rgb.width(), rgb.bytesPerLine()
    return np.frombuffer(rgb.constBits(), np.uint8, count=h * stride).reshape(h, stride)[:, : 3 * w].reshape(
        h, w, 3).copy()


def fitted(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`frame` cut or padded (white) to `size` (H, W): a panel that re-laid itself out by a pixel keeps the film's
    size."""
    h, w = size
    out = np.full((h, w, 3), 255, np.uint8)
    out[: min(h, frame.shape[0]), : min(w, frame.shape[1])] = frame[:h, :w]
    return out


def stamped(image: QImage, text: str) -> QImage:
    """`image` under a band that prints `text` (the band is added above it: nothing of the panel is covered)."""
    probe = QPainter(image)
    font = QFont(probe.font())
    probe.end()
    font.setPointSizeF(max(9.0, font.pointSizeF()))
    font.setBold(True)
    band = QFontMetrics(font).height() + 8
    out = QImage(image.width(), image.height() + band, QImage.Format_RGB888)
    out.fill(QColor("#f4f4f4"))
    painter = QPainter(out)
    painter.setFont(font)
    painter.setPen(QColor("#202020"))
    painter.drawText(QRectF(8, 0, image.width() - 16, band), Qt.AlignLeft | Qt.AlignVCenter, text)
    painter.drawImage(0, band, image)
    painter.end()
    return out


class FilmRecorder(QObject):
    """Drives the explored run's moment over `steps` and grabs a frame of each (GUI thread)."""

    sig_progress = Signal(int, int)
    """(frames grabbed, frames in all)."""
    sig_finished = Signal(bool, str)
    """(written, one line): the film's path and size, or why there is none."""

    def __init__(self, explored, panels, widget: Callable[[], QWidget], refresh: Callable[[], None], writer,
                 steps: list[int], title: str = "", parent: QObject | None = None):
        super().__init__(parent)
        self.explored, self.panels, self.widget, self.refresh, self.writer = explored, panels, widget, refresh, writer
        self.steps = [int(s) for s in steps]
        self.title = title
        self._index = 0
        self._size: tuple[int, int] | None = None
        self._active = False
        self._before = (explored.value.moment, explored.value.key)
        self._grab_timer = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._grab_timer.timeout.connect(self._grab)
        self._watchdog = QTimer(self, singleShot=True, interval=MOMENT_WAIT_MS)
        self._watchdog.timeout.connect(self._on_stuck)
        panels.sig_shown.connect(self._on_shown)
        panels.moments.sig_failed.connect(self._on_moment_failed)
        writer.sig_done.connect(self._on_written)
        writer.sig_failed.connect(self._on_write_failed)

    @property
    def active(self) -> bool:
        return self._active

    def start(self) -> None:
        if not self.steps:
            self._finish(False, "the range holds no moment of the timeline")
            return
        self._active = True
        self._next()

    def cancel(self) -> None:
        """Stop: no more frames, and the writer leaves no file."""
        if self._active:
            self.writer.abort()
            self._finish(False, "Cancelled: no film was written")

    # --- one frame per moment -------------------------------------------------------------------------
    def _next(self) -> None:
        if self._index >= len(self.steps):
            self._grab_timer.stop()
            self._watchdog.stop()
            self.writer.finish()  # sig_done or sig_failed ends it
            return
        step = self.steps[self._index]
        self._watchdog.start()
        latents = self.panels.latents
        if (self.explored.value.moment == step and latents is not None and latents.step == step
                and not self.panels.pending):
            self._grab_timer.start()  # already shown
        else:
            self.explored.seek(step)

    def _on_shown(self, step: int) -> None:
        if self._active and self._index < len(self.steps) and step == self.steps[self._index] \
                and self.explored.value.moment == step:
            self._grab_timer.start()

    def _grab(self) -> None:
        if not self._active:
            return
        self.refresh()
        image = self.widget().grab().toImage()
        timeline, step = self.explored.value.timeline, self.steps[self._index]
        i = timeline.nearest(step)
        label = f"step {step:,} · epoch {timeline.epochs[i]:.2f} · β {timeline.betas[i]:.3g}"
        frame = frame_of(stamped(image, f"{self.title} · {label}" if self.title else label))
        self._size = self._size or frame.shape[:2]
        self.writer.add(fitted(frame, self._size))
        self._index += 1
        self.sig_progress.emit(self._index, len(self.steps))
        self._next()

    # --- the end ----------------------------------------------------------------------------------------
    def _on_written(self, path: str, frames: int) -> None:
        h, w = self._size or (0, 0)
        self._finish(True, f"Wrote {path} ({frames} frames, {w // 2 * 2 if path.endswith('.mp4') else w}x"
                           f"{h // 2 * 2 if path.endswith('.mp4') else h}, {self.writer.fps} per second)")

    def _on_write_failed(self, message: str) -> None:
        self._finish(False, message)

    def _on_moment_failed(self, message: str) -> None:
        if self._active:
            self.writer.abort()
            self._finish(False, f"No film: {message}")

    def _on_stuck(self) -> None:
        if self._active:
            self.writer.abort()
            self._finish(False, f"No film: the moment at step {self.steps[self._index]:,} was never shown (is the "
                                "run's dataset there?)")

    def _finish(self, ok: bool, message: str) -> None:
        was_active, self._active = self._active, False
        self._grab_timer.stop()
        self._watchdog.stop()
        moment, key = self._before
        if was_active and self.explored.value.key == key:  # back to what the views showed before the film
            if moment is None:
                self.explored.follow()
            else:
                self.explored.seek(moment)
        self.sig_finished.emit(ok, message)


class FilmExport(QObject):
    """The timeline's Film… button: the dialog, then the recording with a progress dialog and Cancel, then a status
    line (or the banner, when it failed). GUI thread."""

    def __init__(self, host: QWidget, explored, panels, widget_of: Callable[[str], QWidget],
                 refresh: Callable[[], None], status, banner, panel_names: list[tuple[str, str]],
                 folder: Callable[[], str], parent: QObject | None = None):
        super().__init__(parent)
        self.host, self.explored, self.panels, self.widget_of, self.refresh = host, explored, panels, widget_of, refresh
        self.status, self.banner, self.panel_names, self.folder = status, banner, panel_names, folder
        self.recorder: FilmRecorder | None = None
        self.progress = None

    def ask(self) -> None:
        """Show the dialog; on Record, film."""
        from explorer.files.film_dialog import FilmDialog

        value = self.explored.value
        if not value.steps or (self.recorder is not None and self.recorder.active):
            return
        name = Path(value.title).stem.replace(" ", "-").replace("·", "") or "run"
        dialog = FilmDialog(self.host, value.steps, self.panel_names, str(Path(self.folder()) / f"{name}-latent.mp4"))
        if dialog.exec() == QDialog.Accepted:
            self.start(dialog.request())

    def start(self, request) -> FilmRecorder:
        """Film `request` (explorer.files.film_dialog.FilmRequest); returns the recorder (tests wait on it)."""
        writer = FilmWriter(request.path, request.fps, self)
        self.recorder = FilmRecorder(self.explored, self.panels, lambda: self.widget_of(request.panel),
                                     self.refresh, writer, list(request.steps), title=self.explored.value.title,
                                     parent=self)
        self.progress = QProgressDialog(f"Filming {len(request.steps)} moments into {Path(request.path).name}…",
                                        "Cancel", 0, len(request.steps), self.host)
        self.progress.setWindowModality(Qt.WindowModal)
        self.progress.setMinimumDuration(0)
        self.progress.canceled.connect(self.recorder.cancel)
        self.recorder.sig_progress.connect(self._on_progress)
        self.recorder.sig_finished.connect(self._on_finished)
        self.recorder.start()
        return self.recorder

    def _on_progress(self, done: int, _total: int) -> None:
        if self.progress is not None:
            self.progress.setValue(done)

    def _on_finished(self, ok: bool, message: str) -> None:
        if self.progress is not None:
            self.progress.canceled.disconnect(self.recorder.cancel)
            self.progress.close()
            self.progress = None
        if ok or message.startswith("Cancelled"):
            self.status.showMessage(message, 15_000)
        else:
            self.banner.show_message(message, "error")
