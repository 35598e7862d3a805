"""The binding and pyqtgraph workarounds apply only to the versions they fix."""

import pyqtgraph as pg

from explorer.files.exports import svg_closed_path_bug_applies
from explorer.qt_compat import APPLIED, refcount_bug_applies, version_series


def test_version_series_reads_major_and_minor():
    assert version_series("6.12.0") == (6, 12)
    assert version_series("0.14.1.dev0") == (0, 14)
    assert version_series("6.9") == (6, 9) < version_series("6.12")  # numbers, not text
    assert version_series("unknown") == (0, 0)


def test_the_refcount_workaround_is_gated_on_python_and_pyside6():
    assert refcount_bug_applies((3, 11), "cpython", "6.12.0")
    assert refcount_bug_applies((3, 10), "cpython", "6.12.3")  # the whole 6.12 series
    assert refcount_bug_applies((3, 11), "cpython", "6.8.1")
    assert not refcount_bug_applies((3, 11), "cpython", "6.13.0")  # a later PySide6 is taken to be fixed
    assert not refcount_bug_applies((3, 12), "cpython", "6.12.0")  # immortal singletons since 3.12
    assert not refcount_bug_applies((3, 11), "pypy", "6.12.0")
    assert refcount_bug_applies() or not APPLIED  # applied only where the gate says so


def test_the_svg_exporter_patch_is_gated_on_pyqtgraph():
    assert svg_closed_path_bug_applies("0.14.0") and svg_closed_path_bug_applies("0.13.7")
    assert not svg_closed_path_bug_applies("0.15.0") and not svg_closed_path_bug_applies("1.0.0")
    assert svg_closed_path_bug_applies() == (version_series(pg.__version__) <= (0, 14))
