"""The settings a new run trains with: one owner, of which the Controls panel is a view.

    settings = RunSettingsModel(new_run_settings(accelerated=False))
    controls = ControlsPanel(settings)                 # shows settings.value; an edit sets a new value
    settings.sig_changed.connect(view.on_settings)     # RunSettings: any change, from the form or from code
    settings.set(opened.settings)                      # an opened checkpoint's, a template's, `--set` overrides
    settings.update(dataset="path", path="faces/")     # some fields, by the panel's names
    settings.value                                     # what Start, a sweep, Save and the habits read
    settings.show_run_epochs(6)                        # Continue raised the run's total: Epochs says 6 ...
    settings.restore_epochs()                          # ... until Reset brings back the value the user set
    settings.checked()                                 # the value, or ConfigError when the form holds a bad entry

Start, the sweep dialog, File ▸ Open dataset and the window's habits read the value here, never the widgets. An
entry the form cannot turn into settings (a layer warm-up of "abc") leaves the last valid value in place and is
kept as `problem`, which `checked()` raises, so Start refuses it in one line instead of training something else.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal

from explorer.models.run_settings import RunSettings
from trainer.errors import ConfigError


class RunSettingsModel(QObject):
    """The run settings of the window (GUI thread)."""

    sig_changed = Signal(object)
    """RunSettings: the settings changed (an edit in the Controls, or set by the window)."""

    def __init__(self, settings: RunSettings | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.value = settings if settings is not None else RunSettings()
        self.problem = ""
        """One line: why the form's current entry is not valid settings ("" when it is)."""
        self._user_epochs: int | None = None  # the Epochs the user set, while a run's raised total is shown
        self._raising = False

    def set(self, settings: RunSettings) -> None:
        self.problem = ""
        if settings != self.value:
            if settings.epochs != self.value.epochs and not self._raising:
                self._user_epochs = None  # the user (or the window) chose a total: that one stays
            self.value = settings
            self.sig_changed.emit(settings)

    def update(self, **changes) -> None:
        """Change some fields, by the panel's names (RunSettings.replace)."""
        self.set(self.value.replace(**changes))

    def show_run_epochs(self, epochs: int) -> None:
        """The run trains to `epochs` now (Continue on a finished run added the Epochs value's worth): Epochs
        shows it, and restore_epochs() brings back the value the user had set."""
        if self._user_epochs is None:
            self._user_epochs = self.value.epochs
        self._raise_to(int(epochs))

    def restore_epochs(self) -> None:
        """The Epochs value the user set before a run raised it (Reset: the raised total was that run's)."""
        if self._user_epochs is not None:
            self._raise_to(self._user_epochs)
            self._user_epochs = None

    def _raise_to(self, epochs: int) -> None:
        self._raising = True
        try:
            self.update(epochs=epochs)
        finally:
            self._raising = False

    def refuse(self, message: str) -> None:
        """The form holds an entry that is not valid settings: the value stays, Start says `message`."""
        self.problem = " ".join(str(message).split())

    def checked(self) -> RunSettings:
        """The settings to train with; ConfigError (one line) while the form holds an invalid entry."""
        if self.problem:
            raise ConfigError(self.problem)
        return self.value
