"""Test configuration: Qt runs offscreen so CI needs no screen; shared data lives in ../shared."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The app's QSettings file and autosaves live under these: never the user's own (also for the subprocesses
# the launch tests start). Each test then gets its own fresh folders (isolated_settings below).
_SCRATCH = tempfile.mkdtemp(prefix="vae-explorer-tests-")
atexit.register(shutil.rmtree, _SCRATCH, True)
os.environ["XDG_CONFIG_HOME"] = os.path.join(_SCRATCH, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_SCRATCH, "data")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST t10k IDX pair, read where CI has it; never copied into the repository."""
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.fail(f"{SHARED_MNIST} is missing: the integration tests need ../shared/datasets/mnist")
    return SHARED_MNIST


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, monkeypatch):
    """Every test starts with no saved settings, layout or recent files, and autosaves into its own folder."""
    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / "data"))
    from explorer.settings_store import use_settings_folder

    use_settings_folder(folder / "config")
    yield folder


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    """Delete the widgets pytest-qt closed (deleteLater) now, while this test's threads are joined.

    Left to the next test's first nested event loop, a window's destructor once ran while that test's dataset
    loader decoded images in its thread: the destructor held a Qt signal-slot mutex and waited for the GIL,
    the loader held the GIL and waited for the same mutex (a PySide6 lock-order inversion), and CI hung.
    """
    import sys

    widgets = sys.modules.get("PySide6.QtWidgets")  # headless tests never import Qt: leave it so
    if widgets is not None and widgets.QApplication.instance() is not None:
        from PySide6.QtCore import QEvent

        widgets.QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
