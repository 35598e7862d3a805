"""File > Open dataset: choose an IDX folder, an .npz, an HDF5 file or an image folder, see it, then train on it.

    dialog = DatasetDialog(parent, seed=settings.seed, start_dir=last_folder)
    dialog.load_path("/data/mnist", "idx")        # or let the user browse; loading runs in a worker thread
    if dialog.exec() == QDialog.Accepted:
        dataset, spec = dialog.dataset(), dialog.spec()   # trainer.data.Dataset and its DatasetSpec

Loading happens in a QThread (a QObject worker moved there, as in worker.py), never on the GUI thread:
a 60 000-image IDX file or a folder of JPEGs takes seconds. The dialog then shows the first 32 images, the
size summary (train/test counts, C x H x W, dtype, classes, memory) and, for a bad file, the loader's one-line
DataError (truncated IDX, wrong magic number, NaN in an .npz, mixed image sizes in strict mode, empty folder)
with OK disabled. A newer request supersedes an older one: the older is cancelled between images and its
result, if it still arrives, is ignored.

IDX, .npz and HDF5 specs reload with trainer.data.load_dataset(spec) (same seed, same split). An image folder
is decoded by Qt (explorer.image_folder), which the headless engine cannot do: its spec names the folder, but
the caller must hand the returned Dataset itself to the training worker.
"""

from __future__ import annotations

import gc
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from explorer.threads import move_to_new_thread, stop_thread
from trainer.errors import VaeExplorerError

KINDS = {
    "idx": "IDX folder (MNIST, Fashion-MNIST)",
    "npz": "NumPy file (.npz, .npy)",
    "hdf5": "HDF5 file (.h5, .hdf5)",
    "images": "Image folder (PNG, JPEG)",
}
"""Source kinds, as load_path takes them, and as the Source box names them."""
IDX_NAMES = {"mnist": "MNIST (digits 0-9)", "fashion-mnist": "Fashion-MNIST (10 clothing classes)"}
PREVIEW_COUNT = 32
PREVIEW_COLUMNS = 8
PREVIEW_TILE = 64
"""Larger images are shown subsampled to at most this many pixels a side; the preview is for recognising data."""
PREVIEW_WIDTH, PREVIEW_HEIGHT = 520, 264
"""Pixels the preview takes (8 x 4 tiles of 28 px magnified twice fit); small images are magnified by a whole
factor, so pixels stay square and sharp, and a grid larger than this is scaled down smoothly."""
PROGRESS_INTERVAL_S = 0.1


# --- what crosses the thread boundary --------------------------------------------------------------------
@dataclass(frozen=True)
class LoadRequest:
    """One thing to load; `request_id` tells a current answer from a superseded one."""

    request_id: int
    path: str
    kind: str
    key: str = ""
    """HDF5: the dataset inside the file; empty picks the only (or first) 3D/4D one."""
    idx_name: str = "mnist"
    """IDX: mnist or fashion-mnist, which only changes the class names."""
    size: int = 0
    """Image folder: side in pixels, 0 = the most common size."""
    mode: str = "auto"
    strict: bool = False
    seed: int = 0
    """Seeds the 90/10 split of a single-file dataset, as the window's run seed does."""


@dataclass(frozen=True)
class LoadProgress:
    request_id: int
    message: str
    fraction: float


@dataclass(frozen=True)
class LoadFailed:
    request_id: int
    message: str
    """One line: the DataError's text, or the exception's type and text for anything unexpected."""


@dataclass(frozen=True)
class LoadedData:
    """A loaded dataset with everything the dialog shows about it (numpy arrays only, no Qt objects)."""

    request_id: int
    dataset: object = field(repr=False)
    """trainer.data.Dataset."""
    preview: np.ndarray = field(repr=False)
    """uint8 grid of the first training images, (H, W) gray or (H, W, 3) RGB."""
    notes: str = ""
    """What the loader had to do (image folders: how many images were resized)."""
    hdf5_datasets: tuple = ()
    """HDF5: every (name, shape, dtype) in the file, for the chooser."""
    key: str = ""
    """HDF5: the dataset that was loaded."""


class _Superseded(BaseException):
    """Raised from the progress callback when a newer request came; BaseException so no loader swallows it."""


# --- the worker: lives in the loading thread -----------------------------------------------------------
class DatasetLoadWorker(QObject):
    """Loads one LoadRequest at a time in its thread; `want` (any thread) says which request still matters."""

    sig_progress = Signal(object)
    """LoadProgress, at most ~10 a second."""
    sig_loaded = Signal(object)
    """LoadedData for a request that was still wanted."""
    sig_failed = Signal(object)
    """LoadFailed: the request's one-line error."""

    def __init__(self):
        super().__init__()  # no parent: moveToThread refuses objects that have one
        self._wanted = 0
        self._lock = threading.Lock()

    def want(self, request_id: int) -> None:
        """Only `request_id` matters from now on (-1: none); thread-safe, checked between images."""
        with self._lock:
            self._wanted = request_id

    def _is_wanted(self, request_id: int) -> bool:
        with self._lock:
            return self._wanted == request_id

    @Slot(object)
    def load(self, request: LoadRequest) -> None:
        if not self._is_wanted(request.request_id):
            return  # superseded while it waited in the queue
        last = [0.0]

        def progress(message: str, fraction: float) -> None:
            if not self._is_wanted(request.request_id):
                raise _Superseded()
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL_S or fraction >= 1.0:
                last[0] = now
                self.sig_progress.emit(LoadProgress(request.request_id, message, float(fraction)))

        try:
            result = _load(request, progress)
        except _Superseded:
            return
        except VaeExplorerError as exc:
            self._fail(request, str(exc))
        except Exception as exc:  # never let an error vanish with the thread
            traceback.print_exc()
            self._fail(request, " ".join(f"{type(exc).__name__}: {exc}".split()))
        else:
            if self._is_wanted(request.request_id):
                self.sig_loaded.emit(result)

    def _fail(self, request: LoadRequest, message: str) -> None:
        if self._is_wanted(request.request_id):
            self.sig_failed.emit(LoadFailed(request.request_id, message))


def _load(request: LoadRequest, progress) -> LoadedData:
    """The GUI-free part: read the source, build the Dataset and its preview (runs in the worker thread)."""
    from trainer.config import DatasetSpec
    from trainer.data import list_hdf5_datasets, load_dataset

    path = request.path.strip()
    if not path:
        raise VaeExplorerError("choose a file or folder first")
    notes, listing, key = "", (), ""
    if request.kind == "idx":
        dataset = load_dataset(DatasetSpec(name=request.idx_name, data_dir=path, seed=request.seed), progress)
    elif request.kind == "npz":
        dataset = load_dataset(DatasetSpec(name="path", path=path, seed=request.seed), progress)
    elif request.kind == "hdf5":
        listing = tuple(list_hdf5_datasets(path))
        key = request.key or _default_key(listing)
        dataset = load_dataset(DatasetSpec(name="path", path=path, key=key, seed=request.seed), progress)
    elif request.kind == "images":
        from explorer.image_folder import image_folder_dataset

        dataset, folder = image_folder_dataset(path, size=request.size or None, mode=request.mode,
                                               strict=request.strict, seed=request.seed, progress=progress)
        notes = folder.summary()
    else:
        raise ValueError(f"unknown source kind {request.kind!r}; expected one of {tuple(KINDS)}")
    return LoadedData(request.request_id, dataset, preview_grid(dataset.x_train), notes, listing, key)


def _default_key(listing) -> str:
    """The first 3D/4D dataset (load_hdf5 refuses to guess among several; the chooser shows the others)."""
    images = [name for name, shape, _ in listing if len(shape) in (3, 4)]
    return images[0] if images else (listing[0][0] if listing else "")


def preview_grid(x: np.ndarray, count: int = PREVIEW_COUNT, columns: int = PREVIEW_COLUMNS,
                 tile: int = PREVIEW_TILE, gap: int = 2) -> np.ndarray:
    """The first `count` images of (N, C, H, W) uint8 or float [0, 1] as one uint8 grid, (H, W) or (H, W, 3)."""
    x = np.asarray(x[:count])
    n, c, h, w = x.shape
    step = max(1, -(-max(h, w) // tile))  # subsample big images: a preview, not a resample
    x = x[:, :, ::step, ::step]
    if x.dtype != np.uint8:
        x = (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)
    if c == 4:
        x = x[:, :3]  # alpha is not shown
    if c == 2:
        x = x[:, :1]
    h, w = x.shape[2:]
    rows = max(1, -(-n // columns))
    cols = min(columns, max(n, 1))
    channels = 1 if x.shape[1] == 1 else 3
    grid = np.full((rows * h + (rows + 1) * gap, cols * w + (cols + 1) * gap, channels), 96, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = gap + r * (h + gap), gap + col * (w + gap)
        grid[top:top + h, left:left + w] = x[i].transpose(1, 2, 0)
    return grid[:, :, 0] if channels == 1 else grid


def preview_zoom(width: int, height: int) -> float:
    """A whole magnification (at most 4) when the grid fits the preview area, else the fraction that fits it."""
    fit = min(PREVIEW_WIDTH / max(width, 1), PREVIEW_HEIGHT / max(height, 1))
    return float(min(4, int(fit))) if fit >= 1 else fit


def describe(dataset) -> list[tuple[str, str]]:
    """The summary rows the dialog shows: (label, text)."""
    c, h, w = dataset.input_shape
    labels = "none (unlabelled)"
    if dataset.num_classes:
        names = ", ".join(dataset.class_names[:6]) + (", ..." if len(dataset.class_names) > 6 else "")
        labels = f"{dataset.num_classes} classes: {names}"
    nbytes = sum(a.nbytes for a in (dataset.x_train, dataset.x_test, dataset.y_train, dataset.y_test) if a is not None)
    return [
        ("Examples", f"{len(dataset.x_train):,} train / {len(dataset.x_test):,} test"),
        # how the source's values were read (e.g. "int64 0/1 read as binary"), not the in-memory dtype
        ("Each example", f"{c} \N{MULTIPLICATION SIGN} {h} \N{MULTIPLICATION SIGN} {w}, {dataset.values}"),
        ("Labels", labels),
        ("Memory", _size_text(nbytes)),
    ]


def _size_text(nbytes: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024


# --- the dialog ---------------------------------------------------------------------------------------------
class DatasetDialog(QDialog):
    """Choose a dataset, preview it and its size, then OK hands the loaded Dataset to the caller."""

    sig_loaded = Signal(object)
    """trainer.data.Dataset: loaded, previewed and ready for OK."""
    sig_failed = Signal(str)
    """One-line error shown in the dialog (the DataError's text)."""
    _sig_request = Signal(object)
    """LoadRequest, queued to the worker's thread."""

    def __init__(self, parent: QWidget | None = None, seed: int = 0, start_dir: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Open dataset")
        self._seed = seed
        self._start_dir = start_dir
        self._request_id = 0
        self._loaded: LoadedData | None = None
        self._listing_path = ""  # the HDF5 file the chooser currently lists
        self._loading = False

        self._worker = DatasetLoadWorker()
        self._thread = move_to_new_thread(self._worker, "vae-explorer dataset loading", self)
        self._sig_request.connect(self._worker.load)
        # worker -> dialog: queued into the GUI thread, to methods of this GUI-thread object (never lambdas)
        self._worker.sig_progress.connect(self._on_progress)
        self._worker.sig_loaded.connect(self._on_loaded)
        self._worker.sig_failed.connect(self._on_failed)

        self._build_widgets()
        self._on_kind_changed()

    # --- public API -----------------------------------------------------------------------------------
    def load_path(self, path: str | Path, kind: str, key: str | None = None) -> None:
        """Show `path` as a source of `kind` (idx, npz, hdf5, images) and load it in the background."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {tuple(KINDS)}, got {kind!r}")
        # set the widgets without their change slots firing: one request, below, not three
        for widget in (self.kind_combo, self.idx_combo):
            widget.blockSignals(True)
        self.kind_combo.setCurrentIndex(list(KINDS).index(kind))
        if kind == "idx" and "fashion" in str(path).lower():
            self.idx_combo.setCurrentIndex(list(IDX_NAMES).index("fashion-mnist"))
        for widget in (self.kind_combo, self.idx_combo):
            widget.blockSignals(False)
        self.path_edit.setText(str(path))
        self._sync_kind_widgets()
        self._request(key=key or "")

    def dataset(self):
        """The loaded trainer.data.Dataset, or None while nothing (valid) is loaded."""
        return self._loaded.dataset if self._loaded is not None else None

    def spec(self):
        """The loaded dataset's DatasetSpec; for an image folder it names the folder, which load_dataset cannot read."""
        return self._loaded.dataset.spec if self._loaded is not None else None

    def kind(self) -> str:
        return list(KINDS)[self.kind_combo.currentIndex()]

    def is_loading(self) -> bool:
        """A request is out and neither its result nor its error has arrived."""
        return self._loading

    def error_text(self) -> str:
        """The one-line error on show, or '' when the last load worked."""
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def loader_running(self) -> bool:
        """The loading thread is alive (it lives from construction to done())."""
        return self._thread.isRunning()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel any load, end the thread and join it; True once it has finished. Called by done()."""
        self._worker.want(-1)
        self._loading = False
        # the loop ends once the current load notices it is no longer wanted
        return stop_thread(self._thread, timeout_ms)

    def done(self, result: int) -> None:  # accept, reject and close all end here
        self.shutdown()
        super().done(result)

    # --- widgets ------------------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(list(KINDS.values()))
        self.kind_combo.setToolTip("What to open: MNIST-style IDX files, a NumPy or HDF5 file, or a folder of images")
        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("File or folder")
        self.path_edit.returnPressed.connect(self._on_load_clicked)
        self.browse_button = QPushButton("Browse\N{HORIZONTAL ELLIPSIS}")
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.load_button = QPushButton("Load")
        self.load_button.setToolTip("Read the source again (e.g. after typing a path)")
        self.load_button.clicked.connect(self._on_load_clicked)

        source = QFormLayout()
        source.addRow("Source:", self.kind_combo)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        path_row.addWidget(self.load_button)
        source.addRow("Path:", path_row)

        # one options page per kind, in KINDS order
        self.idx_combo = QComboBox()
        self.idx_combo.addItems(list(IDX_NAMES.values()))
        self.idx_combo.setToolTip("MNIST and Fashion-MNIST share the IDX file names; this picks the class names")
        self.idx_combo.currentIndexChanged.connect(self._on_option_changed)
        self.hdf5_combo = QComboBox()
        self.hdf5_combo.setToolTip("The dataset inside the file that holds the images (N, H, W) or (N, H, W, C); "
                                   "labels come from a sibling named y or labels")
        self.hdf5_combo.activated.connect(self._on_hdf5_chosen)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(0, 1024)
        self.size_spin.setSpecialValueText("most common")
        self.size_spin.setSuffix(" px")
        self.size_spin.setKeyboardTracking(False)  # reload once the number is typed, not per digit
        self.size_spin.setToolTip("Side of the square every image is resized to (center-cropped, then scaled); "
                                  "'most common' keeps the size most files already have")
        self.size_spin.valueChanged.connect(self._on_option_changed)
        self.mode_combo = QComboBox()
        self.mode_combo.addItems(["auto", "gray", "rgb"])
        self.mode_combo.setToolTip("auto: one gray channel if every image is gray, else RGB")
        self.mode_combo.currentIndexChanged.connect(self._on_option_changed)
        self.strict_check = QCheckBox("Refuse mixed sizes")
        self.strict_check.setToolTip("Report two files of different sizes instead of resizing them")
        self.strict_check.toggled.connect(self._on_option_changed)

        self.options = QStackedWidget()
        self.options.addWidget(self._form_page(("Classes:", self.idx_combo)))
        self.options.addWidget(self._form_page())
        self.options.addWidget(self._form_page(("Dataset:", self.hdf5_combo)))
        images = QWidget()
        row = QHBoxLayout(images)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (QLabel("Size:"), self.size_spin, QLabel("Colour:"), self.mode_combo, self.strict_check):
            row.addWidget(widget)
        row.addStretch(1)
        self.options.addWidget(images)
        self.options.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()

        self.preview_label = QLabel("No dataset loaded")
        self.preview_label.setAlignment(Qt.AlignCenter)
        self.preview_label.setMinimumSize(PREVIEW_WIDTH, PREVIEW_HEIGHT)
        self.preview_label.setStyleSheet("color: palette(mid);")
        preview_box = QGroupBox(f"First {PREVIEW_COUNT} training images")
        QVBoxLayout(preview_box).addWidget(self.preview_label)

        self.summary_box = QGroupBox("Summary")
        self.summary_form = QFormLayout(self.summary_box)
        self.summary_labels: dict[str, QLabel] = {}
        for name in ("Examples", "Each example", "Labels", "Memory", "Notes"):
            label = QLabel("\N{EM DASH}")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)
            self.summary_labels[name] = label
            self.summary_form.addRow(f"{name}:", label)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.error_label.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("Use this dataset")
        self.ok_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(source)
        layout.addWidget(self.options)
        layout.addWidget(self.progress_bar)
        layout.addWidget(preview_box, 1)
        layout.addWidget(self.summary_box)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    @staticmethod
    def _form_page(*rows) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        for label, widget in rows:
            form.addRow(label, widget)
        return page

    # --- requests ------------------------------------------------------------------------------------------
    def _request(self, key: str = "") -> None:
        self._request_id += 1
        kind = self.kind()
        if kind == "hdf5" and self.path_edit.text().strip() != self._listing_path:
            self.hdf5_combo.clear()  # another file: its chooser is filled when the listing arrives
            key = ""                 # and a name chosen in the old file means nothing in it
        request = LoadRequest(
            request_id=self._request_id, path=self.path_edit.text(), kind=kind, key=key,
            idx_name=list(IDX_NAMES)[self.idx_combo.currentIndex()], size=self.size_spin.value(),
            mode=self.mode_combo.currentText(), strict=self.strict_check.isChecked(), seed=self._seed,
        )
        self._loaded = None  # free the previous arrays before the next ones arrive
        # The loader thread allocates, so CPython may run the cyclic GC there, and garbage the GUI thread made
        # (closed widgets, QTimers and event loops caught in reference cycles) would be destroyed off the GUI
        # thread: a Qt warning at best, a segfault in a race (seen in the test suite). Collect it here, on the
        # GUI thread, first: ~0 ms after worker.py's gc.freeze(), 140 ms in a process that never froze.
        gc.collect()
        self._worker.want(request.request_id)
        self._show_loading(f"Loading {Path(request.path).name or request.path}\N{HORIZONTAL ELLIPSIS}")
        if not self._thread.isRunning():  # reopened after done(): a finished QThread can start again
            self._thread.start()
        self._sig_request.emit(request)

    def _show_loading(self, text: str) -> None:
        self._loading = True
        self.ok_button.setEnabled(False)
        self.error_label.hide()
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(text)
        self.progress_bar.show()

    def _show_summary(self, rows: list[tuple[str, str]], notes: str) -> None:
        for name, text in rows:
            self.summary_labels[name].setText(text)
        self.summary_labels["Notes"].setText(notes or "\N{EM DASH}")

    def _clear_preview(self, text: str) -> None:
        self.preview_label.setPixmap(QPixmap())
        self.preview_label.setText(text)
        for label in self.summary_labels.values():
            label.setText("\N{EM DASH}")

    # --- slots ------------------------------------------------------------------------------------------------
    @Slot()
    def _on_kind_changed(self) -> None:
        self._sync_kind_widgets()
        if self.path_edit.text().strip():
            self._request()

    def _sync_kind_widgets(self) -> None:
        kind = self.kind()
        self.options.setCurrentIndex(self.kind_combo.currentIndex())
        folder = kind in ("idx", "images")
        self.browse_button.setToolTip("Choose the folder" if folder else "Choose the file")
        self.path_edit.setPlaceholderText({
            "idx": "Folder holding t10k-images-idx3-ubyte(.gz) and/or train-images-idx3-ubyte(.gz)",
            "npz": ".npz with arrays x (N, H, W[, C]) and optional y, or an .npy of x",
            "hdf5": ".h5 / .hdf5 file; choose the dataset inside below",
            "images": "Folder of PNG/JPEG images, or of class subfolders of them",
        }[kind])

    @Slot()
    def _on_option_changed(self) -> None:
        if self.path_edit.text().strip():
            self._request(key=self.hdf5_combo.currentData() or "")

    @Slot(int)
    def _on_hdf5_chosen(self, index: int) -> None:
        self._request(key=self.hdf5_combo.itemData(index) or "")

    @Slot()
    def _on_load_clicked(self) -> None:
        self._request(key=self.hdf5_combo.currentData() or "" if self.kind() == "hdf5" else "")

    @Slot()
    def _on_browse_clicked(self) -> None:
        kind = self.kind()
        start = self.path_edit.text().strip() or self._start_dir
        if kind in ("idx", "images"):
            chosen = QFileDialog.getExistingDirectory(self, KINDS[kind], start)
        else:
            pattern = "NumPy arrays (*.npz *.npy)" if kind == "npz" else "HDF5 files (*.h5 *.hdf5 *.hdf)"
            chosen, _ = QFileDialog.getOpenFileName(self, KINDS[kind], start, f"{pattern};;All files (*)")
        if chosen:
            self.load_path(chosen, kind)

    @Slot(object)
    def _on_progress(self, progress: LoadProgress) -> None:
        if progress.request_id != self._request_id:
            return
        message = progress.message[:1].upper() + progress.message[1:]
        self.progress_bar.setFormat(f"{message} \N{EM DASH} %p%")
        self.progress_bar.setValue(int(1000 * progress.fraction))

    @Slot(object)
    def _on_loaded(self, loaded: LoadedData) -> None:
        if loaded.request_id != self._request_id:
            return  # an answer to a request the user has since replaced
        self._loading = False
        self.progress_bar.hide()
        self._loaded = loaded
        if loaded.hdf5_datasets:
            self._fill_hdf5_chooser(loaded.hdf5_datasets, loaded.key)
        self._show_preview(loaded.preview)
        self._show_summary(describe(loaded.dataset), loaded.notes)
        self.ok_button.setEnabled(True)
        self.sig_loaded.emit(loaded.dataset)

    @Slot(object)
    def _on_failed(self, failed: LoadFailed) -> None:
        if failed.request_id != self._request_id:
            return
        self._loading = False
        self.progress_bar.hide()
        self._loaded = None
        self._clear_preview("Nothing to preview")
        self.error_label.setText(failed.message)
        self.error_label.show()
        self.ok_button.setEnabled(False)
        self.sig_failed.emit(failed.message)

    # --- helpers --------------------------------------------------------------------------------------------
    def _fill_hdf5_chooser(self, listing, key: str) -> None:
        self._listing_path = self.path_edit.text().strip()
        self.hdf5_combo.blockSignals(True)
        self.hdf5_combo.clear()
        for name, shape, dtype in listing:
            shape_text = " \N{MULTIPLICATION SIGN} ".join(map(str, shape)) or "scalar"
            self.hdf5_combo.addItem(f"{name}    ({shape_text}, {dtype})", name)
        self.hdf5_combo.setCurrentIndex(max(0, self.hdf5_combo.findData(key)))
        self.hdf5_combo.blockSignals(False)

    def _show_preview(self, grid: np.ndarray) -> None:
        grid = np.ascontiguousarray(grid)
        h, w = grid.shape[:2]
        fmt, line = (QImage.Format_Grayscale8, w) if grid.ndim == 2 else (QImage.Format_RGB888, 3 * w)
        image = QImage(grid.data, w, h, line, fmt).copy()  # copy: the QImage must own its pixels
        zoom = preview_zoom(w, h)
        if zoom >= 1:
            image = image.scaled(w * int(zoom), h * int(zoom), Qt.IgnoreAspectRatio, Qt.FastTransformation)
        else:
            image = image.scaled(round(w * zoom), round(h * zoom), Qt.KeepAspectRatio, Qt.SmoothTransformation)
        pixmap = QPixmap.fromImage(image)
        self.preview_label.setText("")
        self.preview_label.setPixmap(pixmap)
