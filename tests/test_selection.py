"""Selections in the engine: shapes against an independent point-in-polygon (Qt's), directions, exports."""

import csv

import numpy as np
import pytest

from trainer.errors import ConfigError
from trainer.analysis.selection import (ExportFailed, class_direction, combine, inside_box, inside_polygon,
                               selection_direction, write_indices_csv, write_selection_npz)


def test_inside_polygon_matches_qt_on_a_star_and_a_self_crossing_lasso():
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QPainterPath, QPolygonF

    rng = np.random.default_rng(0)
    xy = rng.uniform(-1.2, 1.2, (4000, 2))
    angles = np.linspace(0, 2 * np.pi, 11)[:-1]
    radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.4)
    star = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    bowtie = np.array([[-1, -1], [1, 1], [1, -1], [-1, 1]], float)  # crosses itself at the origin
    for poly in (star, bowtie):
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(*p) for p in poly]))
        path.closeSubpath()
        path.setFillRule(Qt.OddEvenFill)
        expected = np.array([path.contains(QPointF(*p)) for p in xy])
        got = inside_polygon(xy, poly)
        assert 200 < got.sum() < len(xy)
        assert (got != expected).sum() <= 2  # points exactly on an edge may differ


def test_degenerate_shapes_select_nothing_and_boxes_take_any_corner_order():
    xy = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    assert not inside_polygon(xy, np.array([[0, 0], [2, 2]])).any()
    assert inside_box(xy, (1.5, 2.5), (-0.5, 0.5)).tolist() == [False, True, False]
    assert inside_box(xy, (2.5, 2.5), (0.5, 0.5)).tolist() == [False, True, True]


def test_combine_replaces_adds_and_removes():
    cur = np.array([1, 2, 3])
    assert combine(cur, np.array([5, 3]), "replace").tolist() == [3, 5]
    assert combine(cur, np.array([5, 3]), "add").tolist() == [1, 2, 3, 5]
    assert combine(cur, np.array([5, 3]), "remove").tolist() == [1, 2]


def test_directions_are_differences_of_means():
    mu = np.array([[0, 0], [2, 0], [0, 4], [0, 2]], np.float32)
    labels = np.array([1, 1, 2, 2])
    np.testing.assert_allclose(class_direction(mu, labels, 1, 2), [1.0, -3.0])
    np.testing.assert_allclose(selection_direction(mu, np.array([0, 1])), [1.0 - 0.5, 0.0 - 1.5])
    with pytest.raises(ConfigError, match="class 7"):
        class_direction(mu, labels, 1, 7)
    with pytest.raises(ConfigError, match="empty"):
        selection_direction(mu, np.array([], int))


def test_exports_round_trip_and_fail_with_one_line(tmp_path):
    write_indices_csv(tmp_path / "s.csv", np.array([4, 9]), np.array([0, 1]), ("cat", "dog"))
    rows = list(csv.reader(open(tmp_path / "s.csv")))
    assert rows == [["index", "label", "class"], ["4", "0", "cat"], ["9", "1", "dog"]]
    x = np.arange(2 * 1 * 2 * 2, dtype=np.uint8).reshape(2, 1, 2, 2)
    write_selection_npz(tmp_path / "s.npz", images=x, mu=np.ones((2, 3), np.float32), labels=None)
    with np.load(tmp_path / "s.npz") as f:
        assert sorted(f.files) == ["images", "mu"]
        np.testing.assert_array_equal(f["images"], x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.npz"]  # no temporary file left
    with pytest.raises(ExportFailed, match="missing/s.npz"):
        write_selection_npz(tmp_path / "missing" / "s.npz", mu=np.ones(2))
