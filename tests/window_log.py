"""What a test's MainWindow said through its public signals, recorded as the window handled them.

    log = WindowLog(win)         # attach when the window is made, before anything runs
    seen(win).report             # newest StepReport of the current model (None once the window goes idle)
    seen(win).io                 # every save, autosave and export result (checkpoint_io.IoResult)
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from explorer.models.run_state import RunState


class WindowLog(QObject):
    """Listens to session.worker.sig_progress, files.sig_io_done and run.sig_state_changed: a test reads the window's
    reports and file results from here, not from attributes the window would keep only for tests."""

    def __init__(self, win):
        super().__init__(win)
        self.report = None
        self.io: list = []
        win.session.worker.sig_progress.connect(self._on_progress)
        win.files.sig_io_done.connect(self.io.append)
        win.run.sig_state_changed.connect(self._on_state)

    @Slot(object)
    def _on_progress(self, batch) -> None:
        self.report = batch.latest

    @Slot(object)
    def _on_state(self, state: RunState) -> None:
        if state is RunState.IDLE:
            self.report = None


def seen(win) -> WindowLog:
    """The WindowLog attached to `win`."""
    log = win.findChild(WindowLog)
    assert log is not None, "attach a WindowLog when the window is made"
    return log


def new_window(qtbot):
    """A MainWindow with its WindowLog, closed by pytest-qt at the test's end (not yet shown)."""
    from explorer.window.main_window import MainWindow

    win = MainWindow()
    WindowLog(win)
    qtbot.addWidget(win)
    return win


def close(win) -> None:
    """Close the window as the user would, and check its training thread was joined."""
    win.close()
    assert not win.session.running, "the training thread must be joined when the window closes"
