"""What the window remembers between sessions, in one QSettings INI file.

    store = SettingsStore()                       # organisation and application "vae-explorer"
    store.add_recent("/runs/a.h5");  store.recent_files()
    store.set_last_folder("checkpoint", "/runs");  store.last_folder("checkpoint")
    store.autosave_on_stop, store.autosave_minutes, store.autosave_folder()
    store.save_run_settings(settings.value);  store.run_settings()   # None when nothing valid was saved
    store.save_layout(geometry, state);  store.layout()                  # the window's geometry and dock layout

Always the INI format in the user scope, so a test can point every QSettings at a temporary folder with
`use_settings_folder(tmp_path)` and never touch the user's own file (~/.config/vae-explorer/vae-explorer.ini).
Values are read defensively: a hand-edited or older file yields defaults, never an exception.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from explorer.models.run_settings import FIELDS, RunSettings

ORGANISATION = "vae-explorer"
APPLICATION = "vae-explorer"
MAX_RECENT = 10
LAYOUT_VERSION = 2
"""Bump when the docks change so much that an old saved layout would look broken (restoreState refuses it)."""
DEFAULT_AUTOSAVE_MINUTES = 5


def use_settings_folder(folder: str | Path) -> None:
    """Point every QSettings of this process (user scope, INI) at `folder`: for tests and benchmarks."""
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(folder))


def use_scratch_settings(prefix: str = "vae-explorer-") -> str:
    """Settings in a fresh temporary folder, removed at exit, with autosave off: for screenshots and scripts
    whose windows are not the user's work. Returns the folder."""
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, True)
    use_settings_folder(folder)
    SettingsStore().autosave_on_stop = False
    return folder


def default_autosave_folder() -> str:
    """<user data>/vae-explorer/autosave, e.g. ~/.local/share/vae-explorer/autosave ($XDG_DATA_HOME first)."""
    base = QStandardPaths.writableLocation(QStandardPaths.GenericDataLocation) or str(Path.home())
    return str(Path(base) / APPLICATION / "autosave")


def default_tensorboard_folder() -> str:
    """~/vae-explorer-runs/tensorboard: beside the guided experiments' runs."""
    return str(Path.home() / "vae-explorer-runs" / "tensorboard")


class SettingsStore:
    """Typed access to the settings file; every getter falls back to a default on a missing or odd value."""

    def __init__(self):
        self.qsettings = QSettings(QSettings.IniFormat, QSettings.UserScope, ORGANISATION, APPLICATION)

    # --- recent files ---------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.qsettings.value("files/recent", [])
        if isinstance(value, str):  # QSettings hands back a one-element list as a plain string
            value = [value]
        if not isinstance(value, list):
            return []
        return [str(v) for v in value if isinstance(v, str) and v][:MAX_RECENT]

    def add_recent(self, path: str | Path) -> list[str]:
        path = str(Path(path).resolve())
        files = [path] + [f for f in self.recent_files() if f != path]
        self.qsettings.setValue("files/recent", files[:MAX_RECENT])
        return files[:MAX_RECENT]

    def remove_recent(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        self.qsettings.setValue("files/recent", [f for f in self.recent_files() if f != path])

    def clear_recent(self) -> None:
        self.qsettings.setValue("files/recent", [])

    # --- folders ----------------------------------------------------------------------------------
    def last_folder(self, kind: str) -> str:
        """The folder last used for `kind` (checkpoint, dataset, export); '' when none or it is gone."""
        value = self.qsettings.value(f"folders/{kind}", "")
        return value if isinstance(value, str) and value and Path(value).is_dir() else ""

    def set_last_folder(self, kind: str, path: str | Path) -> None:
        path = Path(path)
        self.qsettings.setValue(f"folders/{kind}", str(path if path.is_dir() else path.parent))

    # --- autosave -----------------------------------------------------------------------------------
    @property
    def autosave_on_stop(self) -> bool:
        return _as_bool(self.qsettings.value("autosave/on_stop", True), True)

    @autosave_on_stop.setter
    def autosave_on_stop(self, on: bool) -> None:
        self.qsettings.setValue("autosave/on_stop", bool(on))

    @property
    def autosave_minutes(self) -> int:
        """Minutes between autosaves while training; 0 turns the periodic autosave off."""
        try:
            return min(max(int(self.qsettings.value("autosave/minutes", DEFAULT_AUTOSAVE_MINUTES)), 0), 24 * 60)
        except (TypeError, ValueError):
            return DEFAULT_AUTOSAVE_MINUTES

    @autosave_minutes.setter
    def autosave_minutes(self, minutes: int) -> None:
        self.qsettings.setValue("autosave/minutes", int(minutes))

    def autosave_folder(self) -> str:
        value = self.qsettings.value("autosave/folder", "")
        return value if isinstance(value, str) and value else default_autosave_folder()

    def set_autosave_folder(self, folder: str) -> None:
        self.qsettings.setValue("autosave/folder", str(folder))

    # --- TensorBoard ---------------------------------------------------------------------------------
    @property
    def tensorboard_folder(self) -> str:
        """Where each run of the window writes TensorBoard event files; empty: nowhere."""
        value = self.qsettings.value("tensorboard/folder", "")
        return value if isinstance(value, str) else ""

    @tensorboard_folder.setter
    def tensorboard_folder(self, folder: str) -> None:
        self.qsettings.setValue("tensorboard/folder", str(folder))

    # --- the last run's settings --------------------------------------------------------------------
    def save_run_settings(self, settings: RunSettings) -> None:
        self.qsettings.setValue("run/settings", json.dumps(settings.to_flat()))

    def run_settings(self) -> RunSettings | None:
        """The settings of the last Start, validated; None when absent or no longer valid."""
        text = self.qsettings.value("run/settings", "")
        if not isinstance(text, str) or not text:
            return None
        try:
            data = json.loads(text)
            # a field an older version had is dropped; every other value goes through its setting's rule
            # (explorer.models.run_settings.rule_of), the one the CLI and the Python API check it by
            values = {name: value for name, value in data.items() if name in FIELDS}
            settings = RunSettings(**values)
            settings.train_config()  # refuses out-of-range values the panel could not show
            if settings.dataset != "path":
                settings.dataset_spec()
        except Exception:  # noqa: BLE001 - a bad entry means "no saved settings", never a crash at start
            return None
        return settings

    # --- the window -------------------------------------------------------------------------------
    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        """QMainWindow.saveGeometry() and saveState(LAYOUT_VERSION), as the window was closed."""
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    def layout(self) -> tuple[QByteArray | None, QByteArray | None]:
        """(geometry, dock state) as last saved, each None when none is stored."""
        def stored(key: str):
            value = self.qsettings.value(key)
            return value if isinstance(value, QByteArray) and not value.isEmpty() else None

        return stored("window/geometry"), stored("window/state")

    def sync(self) -> None:
        self.qsettings.sync()


def _as_bool(value, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):  # the INI format stores booleans as text
        return value.strip().lower() in ("1", "true", "yes", "on")
    return default
