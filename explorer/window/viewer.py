"""The window from Python, as napari.Viewer opens it: from a script, or beside a Jupyter/IPython session.

    import explorer
    explorer.show("run.h5")          # a script: the window with that checkpoint; returns once it is closed

    %gui qt                          # IPython or Jupyter: Qt's event loop runs between cells
    viewer = explorer.show("runs/")  # returns at once with a handle; the window lives beside the kernel
    viewer.open("other.h5")          # a checkpoint, or a folder of runs to compare
    viewer.start(max_steps=500)      # train (Start / Continue); viewer.stop() stops between two steps
    viewer.state, viewer.history()   # "training", "stopped", ...; every report so far as numpy columns
    viewer.close()

Whether to block is decided as napari decides it: when IPython's Qt event loop integration is on
(`%gui qt`, or Jupyter's qt kernel loop), `show` returns at once; otherwise it runs the event loop until the
window closes. `block=` overrides that. All of it runs on the thread that imported Qt (the notebook's).
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import numpy as np

QT_LOOPS = ("qt", "qt5", "qt6")
"""IPython's names for the Qt event loop integration."""
HISTORY_WAIT_S = 10.0
"""How long history() waits for the training thread to copy the reports between two steps."""
OPEN: list = []
"""Every Viewer not yet closed: Qt would abort if a window were deleted while its training thread runs."""


def qt_loop_integrated() -> bool:
    """IPython (a terminal or a Jupyter kernel) runs Qt's event loop between cells: `%gui qt` is on."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "active_eventloop", None) in QT_LOOPS


class Viewer:
    """A handle on one explorer window opened from Python; every call runs on the GUI thread that made it."""

    def __init__(self, window):
        self.window = window
        """The explorer.window.main_window.MainWindow, for anything this handle does not offer."""
        self._jobs = None  # the LatestJob that encodes your own model's data, made on first use
        self._token = 0
        self._model_name = ""
        OPEN.append(self)  # a window whose threads run must outlive a dropped handle (`explorer.show(...);`)

    def open(self, path: str | Path) -> None:
        """Open a checkpoint (read and validated in the background) or a folder of runs to compare."""
        path = Path(path)
        if path.is_dir():
            self.window.compare.open_folder(str(path))
        elif path.is_file():
            self.window.open_checkpoint(str(path))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")

    def start(self, max_steps: int | None = None) -> bool:
        """Start (or Continue) training with the window's settings; False when it cannot start now."""
        return self.window.start_training(max_steps)

    def stop(self) -> None:
        """Stop training between two steps; the model stays, and start() continues it."""
        self.window.stop_action.trigger()

    @property
    def state(self) -> str:
        """"idle", "loading", "training", "paused" or "stopped"."""
        return self.window.state.name.lower()

    @property
    def visible(self) -> bool:
        return self.window.isVisible()

    def history(self) -> dict[str, np.ndarray]:
        """Every report of the window's run so far as {"group/column": numpy array} (empty before any). Read while
        training: a copy of what the curves have received."""
        trainer = self.window.session.worker.trainer
        if trainer is not None and self.state in ("training", "paused"):
            # the training thread appends to it: the copy is made there, between two steps
            done, box = threading.Event(), {}
            trainer.call_between_steps(lambda: (box.update(trainer.history.arrays()), done.set()))
            if done.wait(HISTORY_WAIT_S):
                return box
        if trainer is not None:
            return {k: np.array(v) for k, v in trainer.history.arrays().items()}
        opened = self.window.session.worker.opened_checkpoint
        return {k: np.array(v) for k, v in (opened.history if opened is not None else {}).items()}

    def explore_model(self, model, data, labels=None, likelihood: str | None = None, sigma: float = 1.0,
                      class_names=()) -> None:
        """Show your own model (see show) in every latent panel: encoded in the background, then drawn."""
        self._explore(*wrap_model(model, data, likelihood, sigma), labels, class_names)

    def _explore(self, wrapped, x, labels, class_names) -> None:
        from functools import partial

        from explorer.runtime.background import LatestJob
        from trainer.analysis.foreign import ModuleSnapshot, explore_module

        if self._jobs is None:
            self._jobs = LatestJob("vae-explorer your model", self.window)
            self._jobs.sig_done.connect(self._on_explored)
            self._jobs.sig_failed.connect(self._on_explore_failed)
        self._model_name = wrapped.name
        # copied here, on the caller's thread: the notebook may go on changing the module while the data encodes
        decoder = ModuleSnapshot.of(wrapped)
        self.window.banner.show_message(
            f"Exploring {wrapped.describe()} on {len(x):,} examples. Training it stays your business: Start trains "
            "a new model of the Controls' settings instead.", "info")
        self._token += 1  # a newer model replaces one still being encoded: the older result is dropped
        self._jobs.submit(self._token, partial(explore_module, decoder, x, labels, tuple(class_names)))

    def _on_explore_failed(self, token: int, message: str) -> None:
        if token == self._token:
            self.window.banner.show_message(f"Could not explore {self._model_name}: {message}", "error")

    def _on_explored(self, token: int, items) -> None:
        if token != self._token:
            return
        for item in items:
            self.window.explore.on_explore(item)

    def close(self) -> None:
        """Close the window the normal way: stop training, join its threads, autosave."""
        if self._jobs is not None:
            self._jobs.shutdown()
        self.window.close()
        if self in OPEN:
            OPEN.remove(self)


def wrap_model(model, data, likelihood: str | None = None, sigma: float = 1.0):
    """(trainer.model.foreign.ForeignVAE around `model`, the data as numpy images): checked before any window
    opens; bad input is a ValueError or trainer.ConfigError in one line."""
    import torch

    from trainer.analysis.foreign import as_images
    from trainer.model.foreign import ForeignVAE

    x = as_images(data)
    if not (callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))):
        raise ValueError(f"{type(model).__name__}: a model needs encode(x) -> (mu, logvar) and decode(z)")
    probe = torch.from_numpy(np.asarray(x[:1], dtype=np.float32) / (255.0 if x.dtype == np.uint8 else 1.0))
    with torch.no_grad():  # one example says how many latent dimensions the model has: asked of a CPU copy in
        # eval mode, so a model on a GPU or with batch norm in train mode is neither refused nor changed
        mu, _ = copy.deepcopy(model).cpu().eval().encode(probe)
    return ForeignVAE(model, x.shape[1:], int(mu.shape[-1]), likelihood, sigma), x


def show(source: str | Path | None = None, *, model=None, data=None, labels=None, likelihood: str | None = None,
         sigma: float = 1.0, class_names=(), block: bool | None = None, demo: bool = True) -> Viewer:
    """Open the explorer window, with a checkpoint or a folder of runs, or the demo model (`demo`); or your own
    `model` (encode(x) -> (mu, logvar), decode(z); trainer.model.foreign says what decode returns for each
    `likelihood`) on `data` (images (N, C, H, W), a numpy array or tensor, uint8 or floats in [0, 1]) with
    optional `labels` (and their `class_names`).

    block: run Qt's event loop until the window closes (a script); None decides by qt_loop_integrated()."""
    import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
    from PySide6.QtWidgets import QApplication

    from explorer.window.first_paint import DemoOpener, demo_checkpoint
    from explorer.window.main_window import MainWindow

    if source is not None and not Path(source).exists():
        raise FileNotFoundError(f"{source}: no such file or folder")
    if model is not None and (source is not None or data is None):
        raise ValueError("show(model=...) explores your model on its `data` (and no checkpoint beside it)")
    prepared = wrap_model(model, data, likelihood, sigma) if model is not None else None
    app = QApplication.instance() or QApplication(["vae-explorer"])
    app.setApplicationName("vae-explorer")
    app.setOrganizationName("vae-explorer")
    window = MainWindow()
    viewer = Viewer(window)
    if prepared is not None:
        viewer._explore(*prepared, labels, class_names)
    elif source is None and demo:
        checkpoint = demo_checkpoint()
        if checkpoint is not None:
            DemoOpener(window, str(checkpoint))
    window.show()
    if source is not None:
        viewer.open(source)
    if block if block is not None else not qt_loop_integrated():
        app.exec()
        if viewer._jobs is not None:  # the window is closed: nothing may still run when the script ends
            viewer._jobs.shutdown()
    return viewer
