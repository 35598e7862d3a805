"""Drag and drop onto the window: a checkpoint opens, a folder opens as runs, an .npz opens in the dataset dialog.

    drops = FileDrops(window, open_checkpoint, open_runs, open_dataset)   # an event filter on the window
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Callable

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

CHECKPOINT_SUFFIXES = (".h5", ".hdf5")
DATASET_SUFFIXES = {".npz": "npz", ".npy": "npz", ".amat": "npz"}


class FileDrops(QObject):
    """Accepts local files dropped on `target` and hands each to what opens its kind."""

    def __init__(self, target: QWidget, open_checkpoint: Callable[[str], None], open_runs: Callable[[str], None],
                 open_dataset: Callable[[str, str], None]):
        super().__init__(target)
        self.target = target
        self._open = {"checkpoint": open_checkpoint, "runs": open_runs}
        self._open_dataset = open_dataset
        target.setAcceptDrops(True)
        target.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if obj is self.target:
            kind = event.type()
            if kind in (QEvent.DragEnter, QEvent.DragMove):
                if dropped_file(event.mimeData()) is not None:
                    event.acceptProposedAction()
                    return True
            elif kind == QEvent.Drop:
                dropped = dropped_file(event.mimeData())
                if dropped is not None:
                    event.acceptProposedAction()
                    # open after the drop has returned: a dialog inside the drop handler would stall the drag source
                    QTimer.singleShot(0, partial(self._open_dropped, *dropped))
                    return True
        return False

    def _open_dropped(self, kind: str, path: str) -> None:
        if kind == "dataset":
            self._open_dataset(path, DATASET_SUFFIXES[Path(path).suffix.lower()])
        else:
            self._open[kind](path)


def dropped_file(mime) -> tuple[str, str] | None:
    """(kind, path) of the first droppable local file: checkpoint (.h5), dataset (.npz) or a folder of runs."""
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if not url.isLocalFile():
            continue
        path = url.toLocalFile()
        if Path(path).is_dir():
            return "runs", path
        suffix = Path(path).suffix.lower()
        if suffix in CHECKPOINT_SUFFIXES:
            return "checkpoint", path
        if suffix in DATASET_SUFFIXES:
            return "dataset", path
    return None
