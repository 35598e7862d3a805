"""Test configuration: Qt runs offscreen so CI needs no screen; MNIST-like data is written per session.

Tests that need some IDX files take `synthetic_mnist_dir` (a real IDX pair of synthetic digits in a temporary
folder). Only tests of the published MNIST files take `shared_mnist_dir`: ../shared/datasets/mnist beside the
repository; without it they skip, unless CI=true, where it must be there and they fail.
"""

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

from idx_files import write_digit_idx_pair  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"
T10K_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
SYNTHETIC_MNIST_N = 1200  # split 90/10: 1,080 train / 120 test


@pytest.fixture(scope="session")
def synthetic_mnist_dir(tmp_path_factory) -> Path:
    """A folder holding only a t10k IDX pair (gzip) of 1,200 synthetic 28x28 digits labelled 0-9 (idx_files.py).

    Shared by the session: tests read it, none writes into it.
    """
    folder = tmp_path_factory.mktemp("synthetic-mnist")
    write_digit_idx_pair(folder, SYNTHETIC_MNIST_N, seed=0)
    return folder


SHARED_DATASETS = REPO.parent / "shared" / "datasets"
SHARED_BINARIZED = SHARED_DATASETS / "binarized-mnist"
SHARED_MNIST_FULL = SHARED_DATASETS / "mnist-full"


def _shared(folder: Path, names, what: str) -> Path:
    """`folder` when it holds every file of `names`; else the test skips, except under CI=true, where it fails:
    CI must test the real files."""
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        lacks = f"lacks {', '.join(missing)}" if folder.is_dir() else "is absent"
        reason = f"{folder} {lacks}: this test checks {what} there"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}, and CI=true requires them")
        pytest.skip(reason)
    return folder


@pytest.fixture(scope="session")
def shared_mnist_dir() -> Path:
    """The published MNIST t10k pair in ../shared/datasets/mnist, never copied into the repository.

    Absent, the test skips (a plain clone passes its own tests), except under CI=true: CI must test the real files.
    """
    return _shared(SHARED_MNIST, T10K_FILES, "the published MNIST files")


@pytest.fixture(scope="session")
def shared_mnist_full_dir() -> Path:
    """The whole MNIST (60,000 + 10,000, IDX gzip) in ../shared/datasets/mnist-full; as shared_mnist_dir."""
    return _shared(SHARED_MNIST_FULL, ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", *T10K_FILES),
                   "the published MNIST files")


@pytest.fixture(scope="session")
def shared_binarized_dir() -> Path:
    """Larochelle's binarized MNIST (.amat.gz) in ../shared/datasets/binarized-mnist; as shared_mnist_dir."""
    return _shared(SHARED_BINARIZED, [f"binarized_mnist_{split}.amat.gz" for split in ("train", "valid", "test")],
                   "the published .amat files")


SMALL_RUN = dict(sprites_n=1200, sprites_size=28, batch_size=64, latent_dim=4, epochs=1000)
"""Window settings for a run that trains fast on a CPU: 28x28 sprites, a tiny latent space."""


@pytest.fixture
def small_window(qtbot):
    """Makes shown MainWindows set up for a small sprites run (SMALL_RUN, overridable); at teardown closes each
    and checks its training thread was joined."""
    made = []

    def make(**settings):
        from explorer.window.main_window import MainWindow

        from window_log import WindowLog

        win = MainWindow()
        WindowLog(win)
        qtbot.addWidget(win)
        win.run_settings.set(win.run_settings.value.replace(**{**SMALL_RUN, **settings}))
        win.show()
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()
        assert not win.session.running, "the training thread must be joined when the window closes"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, monkeypatch):
    """Every test starts with no saved settings, layout or recent files, and autosaves into its own folder."""
    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder / "data"))
    from explorer.files.settings_store import use_settings_folder

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
    # once a window's thread has started, Python collects garbage only in the GUI thread, on a timer
    # (explorer.runtime.memory): a test that runs no event loop gets its collection here, between tests
    memory = sys.modules.get("explorer.runtime.memory")
    collector = memory.gui_thread_collector() if memory is not None else None
    if collector is not None:
        collector.check()
