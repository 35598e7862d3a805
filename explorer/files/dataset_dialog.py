"""File > Open dataset: choose an IDX folder, Larochelle's .amat folder, an .npz, an HDF5 file or an image folder, see
it (its sizes, split and binarization), then train on it.

    dialog = DatasetDialog(parent, seed=settings.split_seed, start_dir=last_folder)
    dialog.load_path("/data/mnist", "idx")        # or let the user browse; loading runs in a worker thread
    if dialog.exec() == QDialog.Accepted:
        dataset, spec = dialog.dataset(), dialog.spec()   # trainer.data.Dataset and its DatasetSpec

Loading runs on a LatestJob (explorer.runtime.background; the work is explorer.files.dataset_loading's), never
on the GUI thread:
a 60 000-image IDX file or a folder of JPEGs takes seconds. The dialog then shows the first 32 images, the
size summary (train/test counts, C x H x W, dtype, classes, memory) and, for a bad file, the loader's one-line
DataError (truncated IDX, wrong magic number, NaN in an .npz, mixed image sizes in strict mode, empty folder)
with OK disabled. A newer request supersedes an older one: the older is cancelled between images and its
result, if it still arrives, is ignored.

Every spec, an image folder's included, reloads with trainer.data.load_dataset(spec) (same seed, same split,
same size and channels): the window and the CLI read folders with one reader, trainer.data.image_folder.
"""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt, Signal, Slot
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

from explorer.files.dataset_loading import KINDS, PREVIEW_COUNT, LoadedData, LoadRequest, load_work
from explorer.runtime.background import LatestJob

IDX_NAMES = {"mnist": "MNIST (digits 0-9)", "fashion-mnist": "Fashion-MNIST (10 clothing classes)"}
PREVIEW_WIDTH, PREVIEW_HEIGHT = 520, 264
"""Pixels the preview takes (8 x 4 tiles of 28 px magnified twice fit); small images are magnified by a whole
factor, so pixels stay square and sharp, and a grid larger than this is scaled down smoothly."""
def preview_zoom(width: int, height: int) -> float:
    """A whole magnification (at most 4) when the grid fits the preview area, else the fraction that fits it."""
    fit = min(PREVIEW_WIDTH / max(width, 1), PREVIEW_HEIGHT / max(height, 1))
    return float(min(4, int(fit))) if fit >= 1 else fit


SUMMARY_ROWS = ("Examples", "Split", "Binarization", "Each example", "Labels", "Memory")
"""The rows describe() fills, in order."""


def describe(dataset) -> list[tuple[str, str]]:
    """The summary rows the dialog shows: (label, text)."""
    c, h, w = dataset.input_shape
    labels = "none (unlabelled)"
    if dataset.num_classes:
        names = ", ".join(dataset.class_names[:6]) + (", ..." if len(dataset.class_names) > 6 else "")
        labels = f"{dataset.num_classes} classes: {names}"
    nbytes = sum(a.nbytes for a in (dataset.x_train, dataset.x_test, dataset.y_train, dataset.y_test) if a is not None)
    return [
        ("Examples", f"{len(dataset.x_train):,} train / {len(dataset.x_test):,} {dataset.heldout}"),
        ("Split", _split_text(dataset)),
        ("Binarization", _binarization_text(dataset)),
        # how the source's values were read (e.g. "int64 0/1 read as binary"), not the in-memory dtype
        ("Each example", f"{c} \N{MULTIPLICATION SIGN} {h} \N{MULTIPLICATION SIGN} {w}, {dataset.values}"),
        ("Labels", labels),
        ("Memory", _size_text(nbytes)),
    ]


def _split_text(dataset) -> str:
    """Where train and held-out come from, and whether the data is a published set (told by its checksums)."""
    known = {"mnist": "MNIST as published", "binarized-mnist": "Larochelle's binarized MNIST as published"}
    what = known.get(dataset.identity, "not a published set (its files' checksums say so)" if dataset.spec.name in
                     ("mnist", "binarized-mnist") else "")
    split = {"standard": "the published splits, whole", "": "a seeded 90/10 split"}.get(dataset.split, dataset.split)
    if dataset.heldout == "valid":
        split += "; training holds out the validation split, eval scores the test split"
    return f"{split}; {what}" if what else split


def _binarization_text(dataset) -> str:
    if dataset.prebinarized:
        return "static: fixed 0/1 images (Binarize stays none)"
    if "binary" in dataset.values:
        return "0/1 images"
    return "grey levels: Binarize dynamic gives a Bernoulli decoder a likelihood"


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

    def __init__(self, parent: QWidget | None = None, seed: int = 0, start_dir: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Open dataset")
        self._seed = seed
        self._start_dir = start_dir
        self._request_id = 0
        self._loaded: LoadedData | None = None
        self._listing_path = ""  # the HDF5 file the chooser currently lists
        self._loading = False

        self._jobs = LatestJob("vae-explorer dataset loading", self)  # the newest request wins
        self._jobs.sig_progress.connect(self._on_progress)
        self._jobs.sig_done.connect(self._on_loaded)
        self._jobs.sig_failed.connect(self._on_failed)

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

    def path(self) -> str:
        """The file or folder the dialog shows, as typed or chosen."""
        return self.path_edit.text().strip()

    def dataset(self):
        """The loaded trainer.data.Dataset, or None while nothing (valid) is loaded."""
        return self._loaded.dataset if self._loaded is not None else None

    def spec(self):
        """The loaded dataset's DatasetSpec (load_dataset reads it again, image folders included)."""
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
        """A loading thread is alive (one per load; none once the load ended or done() joined it)."""
        return self._jobs.running

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel any load and join its thread; True once none is left running. Called by done()."""
        self._jobs.drop()  # whatever still arrives answers no request
        self._loading = False
        return self._jobs.shutdown(timeout_ms)  # the load stops at its next image

    def done(self, result: int) -> None:  # accept, reject and close all end here
        self.shutdown()
        super().done(result)

    # --- widgets ------------------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_source())
        layout.addWidget(self._build_options())
        layout.addWidget(self._build_progress_bar())
        layout.addWidget(self._build_preview(), 1)
        layout.addWidget(self._build_summary())
        layout.addWidget(self._build_error_label())
        layout.addWidget(self._build_buttons())

    def _build_source(self) -> QFormLayout:
        """What to open and where: the kind, the path, Browse and Load."""
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
        return source

    def _build_options(self) -> QStackedWidget:
        """One options page per kind, in KINDS order: IDX class names, an HDF5 dataset, image size and colour."""
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
        self.options.addWidget(self._form_page())  # amat: nothing to choose
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
        return self.options

    def _build_progress_bar(self) -> QProgressBar:
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        return self.progress_bar

    def _build_preview(self) -> QGroupBox:
        self.preview_label = QLabel("No dataset loaded")
        self.preview_label.setAlignment(Qt.AlignCenter)
        self.preview_label.setMinimumSize(PREVIEW_WIDTH, PREVIEW_HEIGHT)
        self.preview_label.setStyleSheet("color: palette(mid);")
        preview_box = QGroupBox(f"First {PREVIEW_COUNT} training images")
        QVBoxLayout(preview_box).addWidget(self.preview_label)
        return preview_box

    def _build_summary(self) -> QGroupBox:
        """The size summary: one selectable row per line of describe(), and Notes."""
        self.summary_box = QGroupBox("Summary")
        self.summary_form = QFormLayout(self.summary_box)
        self.summary_labels: dict[str, QLabel] = {}
        for name in (*SUMMARY_ROWS, "Notes"):
            label = QLabel("\N{EM DASH}")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)
            self.summary_labels[name] = label
            self.summary_form.addRow(f"{name}:", label)
        return self.summary_box

    def _build_error_label(self) -> QLabel:
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.error_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.error_label.hide()
        return self.error_label

    def _build_buttons(self) -> QDialogButtonBox:
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("Use this dataset")
        self.ok_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        return self.buttons

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
        # GUI thread, first: cheap after worker.py's gc.freeze(), which exempts the long-lived objects.
        gc.collect()
        self._show_loading(f"Loading {Path(request.path).name or request.path}\N{HORIZONTAL ELLIPSIS}")
        self._jobs.submit(request.request_id, load_work(request))

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
            "amat": "Folder holding binarized_mnist_{train,valid,test}.amat(.gz)",
            "npz": ".npz with arrays x (N, H, W[, C]) and optional y, an .npy of x, or one .amat file",
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
        if kind in ("idx", "amat", "images"):
            chosen = QFileDialog.getExistingDirectory(self, KINDS[kind], start)
        else:
            pattern = ("NumPy arrays or .amat text (*.npz *.npy *.amat *.amat.gz)" if kind == "npz"
                       else "HDF5 files (*.h5 *.hdf5 *.hdf)")
            chosen, _ = QFileDialog.getOpenFileName(self, KINDS[kind], start, f"{pattern};;All files (*)")
        if chosen:
            self.load_path(chosen, kind)

    @Slot(int, str, float)
    def _on_progress(self, _request_id: int, message: str, fraction: float) -> None:
        message = message[:1].upper() + message[1:]
        self.progress_bar.setFormat(f"{message} \N{EM DASH} %p%")
        self.progress_bar.setValue(int(1000 * fraction))

    @Slot(int, object)
    def _on_loaded(self, _request_id: int, loaded: LoadedData) -> None:
        self._loading = False
        self.progress_bar.hide()
        self._loaded = loaded
        if loaded.hdf5_datasets:
            self._fill_hdf5_chooser(loaded.hdf5_datasets, loaded.key)
        self._show_preview(loaded.preview)
        self._show_summary(describe(loaded.dataset), loaded.notes)
        self.ok_button.setEnabled(True)
        self.sig_loaded.emit(loaded.dataset)

    @Slot(int, str)
    def _on_failed(self, _request_id: int, message: str) -> None:
        self._loading = False
        self.progress_bar.hide()
        self._loaded = None
        self._clear_preview("Nothing to preview")
        self.error_label.setText(message)
        self.error_label.show()
        self.ok_button.setEnabled(False)
        self.sig_failed.emit(message)

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
