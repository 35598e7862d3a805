"""The window from Python, as napari.Viewer opens it: from a script, or beside a Jupyter/IPython session.

    import explorer
    explorer.show("run.h5")          # a script: the window with that checkpoint; returns once it is closed

    %gui qt                          # IPython or Jupyter: Qt's event loop runs between cells
    viewer = explorer.show("runs/")  # returns at once with a handle; the window lives beside the kernel
    viewer.open("other.h5")          # a checkpoint, or a folder of runs to compare
    viewer.start(max_steps=500)      # train (Start / Continue); viewer.stop() stops between two steps
    viewer.state, viewer.history()   # "training", "stopped", ...; every report so far as numpy columns
    viewer.steps                     # the steps of the explored run's snapshots (its timeline)
    viewer.seek(1200)                # every view shows the snapshot nearest step 1,200; seek(None): the newest
    viewer.close()

Whether to block is decided as napari decides it: when IPython's Qt event loop integration is on
(`%gui qt`, or Jupyter's qt kernel loop), `show` returns at once; otherwise it runs the event loop until the
window closes. `block=` overrides that. All of it runs on the thread that imported Qt (the notebook's).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from trainer.errors import CheckpointError, ConfigError

QT_LOOPS = ("qt", "qt5", "qt6")
"""IPython's names for the Qt event loop integration."""
HISTORY_WAIT_S = 10.0
"""How long history() waits for the training thread to copy the reports between two steps."""
OPEN: list = []
"""Every Viewer not yet closed: Qt would abort if a window were deleted while its training thread runs."""
PROBE_EXAMPLES = 2
"""Examples your model encodes and decodes before the window opens: its latent size, shapes and NaN show there (two,
so that a lost batch axis shows too)."""


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
        """Open a checkpoint (read and validated in the background) or a folder of runs to compare; a path that is
        neither is a trainer.CheckpointError."""
        path = _existing(path)
        if path.is_dir():
            self.window.compare.open_folder(str(path))
        else:
            self.window.open_checkpoint(str(path))

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
        """Show your own model (see show) in every latent panel: encoded in the background, then drawn. Bad input
        is a trainer.VaeExplorerError of one line, raised here; a failure while encoding is a line in the banner."""
        self._explore(*wrap_model(model, data, likelihood, sigma, labels, class_names))

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
        self._token += 1  # a newer model replaces one still being encoded: the job drops the older result
        self._jobs.submit(self._token, partial(explore_module, decoder, x, labels, tuple(class_names)))

    def _on_explore_failed(self, _token: int, message: str) -> None:
        self.window.banner.show_message(f"Could not explore {self._model_name}: {message}", "error")

    def _on_explored(self, _token: int, items) -> None:
        for item in items:
            self.window.explore.on_explore(item)

    @property
    def steps(self) -> tuple[int, ...]:
        """The steps of the explored run's snapshots (its timeline), oldest first; () before they arrived or for a
        run that kept none."""
        return self.window.explored.value.steps

    @property
    def moment(self) -> int | None:
        """The step of the snapshot every view shows, or None: they follow the run's newest model."""
        return self.window.explored.value.moment

    def seek(self, step: int | None) -> int | None:
        """Move every view to the snapshot nearest `step` (None: back to the run's newest model), as the timeline's
        slider does; returns the snapshot's step (the views fill in as its model is encoded, in the background). A
        step that is not a whole number >= 0, or a run with no timeline (the reason is given), is a
        trainer.ConfigError."""
        if step is None:
            self.window.explored.follow()
            return None
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ConfigError(f"seek: step must be None or a whole number >= 0, got {step!r:.60}")
        timeline = self.window.explored.value.timeline
        if timeline is None:
            raise ConfigError("seek: the explored run's timeline has not arrived yet (open a checkpoint or train)")
        if not len(timeline):
            raise ConfigError(f"seek: the explored run has no timeline: {timeline.off}")
        self.window.explored.seek(int(step))
        return self.window.explored.value.moment

    def close(self) -> None:
        """Close the window the normal way: stop training, join its threads, autosave."""
        if self._jobs is not None:
            self._jobs.shutdown()
        self.window.close()
        if self in OPEN:
            OPEN.remove(self)


def wrap_model(model, data, likelihood: str | None = None, sigma: float = 1.0, labels=None, class_names=()):
    """(trainer.model.foreign.ForeignVAE around `model`, the data as numpy images, the labels, the class names):
    checked before any window opens (the data, the labels before anything is sized by them, then encode and decode
    on the first examples); bad input is a trainer.DataError or trainer.ConfigError of one line."""
    from trainer.analysis.foreign import as_images, as_labels
    from trainer.model.foreign import ForeignVAE

    x = as_images(data)
    y, names = as_labels(labels, len(x), class_names)
    return ForeignVAE.probed(model, x[:PROBE_EXAMPLES], likelihood, sigma), x, y, names


def _existing(source: str | Path) -> Path:
    try:
        path = Path(source)
    except TypeError:
        raise ConfigError(f"a checkpoint or a folder of runs is a path, got {type(source).__name__}") from None
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    return path


def show(source: str | Path | None = None, *, model=None, data=None, labels=None, likelihood: str | None = None,
         sigma: float = 1.0, class_names=(), block: bool | None = None, demo: bool = True) -> Viewer:
    """Open the explorer window, with a checkpoint or a folder of runs, or the demo model (`demo`); or your own
    `model` (encode(x) -> (mu, logvar), decode(z); trainer.model.foreign says what decode returns for each
    `likelihood`) on `data` (images (N, C, H, W), a numpy array or tensor, uint8 or floats in [0, 1]) with
    optional `labels` (integers 0..999, one per image, and their `class_names`).

    Bad arguments are a trainer.VaeExplorerError of one line (ConfigError, DataError, CheckpointError), raised
    before any window opens; a model that fails while its data is encoded says so in the window's banner.

    block: run Qt's event loop until the window closes (a script); None decides by qt_loop_integrated()."""
    import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
    from PySide6.QtWidgets import QApplication

    from explorer.window.first_paint import DemoOpener, demo_checkpoint
    from explorer.window.main_window import MainWindow

    if source is not None:
        _existing(source)
    if model is not None and (source is not None or data is None):
        raise ConfigError("show(model=...) explores your model on its `data` (and no checkpoint beside it)")
    if model is None and data is not None:
        raise ConfigError("show(data=...) is the data your own model is explored on: pass model= too")
    prepared = wrap_model(model, data, likelihood, sigma, labels, class_names) if model is not None else None
    app = QApplication.instance() or QApplication(["vae-explorer"])
    app.setApplicationName("vae-explorer")
    app.setOrganizationName("vae-explorer")
    window = MainWindow()
    viewer = Viewer(window)
    if prepared is not None:
        viewer._explore(*prepared)
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
