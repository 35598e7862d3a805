"""Thumbnails mode of the latent scatter: `pick_non_overlapping` directly, then a real ThumbnailItem
in a real PlotWidget.

The item's tests read the grabbed widget's pixels: every image is painted in colours that name its point, so a
thumbnail can be found on screen, measured (all of it visible: nothing overlaps it) and checked the right way up.
"""

from __future__ import annotations

import numpy as np
import pytest
import explorer.qt_compat  # noqa: F401
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

from explorer.plotting.point_cloud import PointCloudItem, argb_words, palette
from explorer.plotting.thumbnails import DEFAULT_SIZE_PX, ThumbnailItem, pick_non_overlapping

SIZE = 32


def scattered(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Screen-like positions: a dense blob, a sparse halo and some uniform clutter, in an 800 x 600 px window."""
    rng = np.random.default_rng(seed)
    k = n // 3
    blob = rng.normal((400, 300), 60, (k, 2))
    halo = rng.normal((400, 300), 200, (k, 2))
    flat = rng.uniform((0, 0), (800, 600), (n - 2 * k, 2))
    xy = np.concatenate([blob, halo, flat])
    return xy[:, 0], xy[:, 1]


def overlapping_pairs(x: np.ndarray, y: np.ndarray, size: float) -> int:
    dx = np.abs(x[:, None] - x[None, :])
    dy = np.abs(y[:, None] - y[None, :])
    clash = (dx < size) & (dy < size)
    np.fill_diagonal(clash, False)
    return int(clash.sum() // 2)


# --- the pick, in numbers ----------------------------------------------------------------------------
@pytest.mark.parametrize("cell", [None, (32.0, 32.0), (38.0, 34.5)])
def test_pick_never_overlaps_and_leaves_no_point_far_from_a_chosen_one(cell):
    x, y = scattered(20_000)
    priority = np.random.default_rng(1).permutation(len(x))
    chosen = pick_non_overlapping(x, y, priority, SIZE, cell)
    assert 50 < len(chosen) < 20_000 and len(np.unique(chosen)) == len(chosen)
    assert overlapping_pairs(x[chosen], y[chosen], SIZE) == 0
    # dense: a point goes unchosen only when its cell's best point, or the better one that crowded it out,
    # is near; so every point has a chosen square within two cells in x and in y
    cw, ch = (SIZE, SIZE) if cell is None else cell
    nearest_x = np.abs(x[:, None] - x[chosen][None, :])
    nearest_y = np.abs(y[:, None] - y[chosen][None, :])
    within = ((nearest_x < 2 * cw) & (nearest_y < 2 * ch)).any(1)
    assert within.all(), f"{(~within).sum()} points have no thumbnail within two cells"
    # in priority order, and the best point of all is always shown
    assert np.all(np.diff(priority[chosen]) > 0)
    assert chosen[0] == np.argmin(priority)


def test_pick_is_exact_at_the_edges_and_ties():
    # squares that touch do not overlap; 0.1 px closer, they do
    x = np.array([0.0, 32.0, 100.0, 131.9])
    y = np.array([0.0, 0.0, 0.0, 10.0])
    assert sorted(pick_non_overlapping(x, y, np.arange(4), SIZE).tolist()) == [0, 1, 2]
    assert pick_non_overlapping(x, y, np.array([3, 2, 1, 0]), SIZE).tolist() == [3, 1, 0]
    # equal priorities: the lower index first
    assert pick_non_overlapping(np.array([5.0, 6.0]), np.array([5.0, 6.0]), np.zeros(2), SIZE).tolist() == [0]
    assert pick_non_overlapping(np.zeros(0), np.zeros(0), np.zeros(0), SIZE).tolist() == []
    with pytest.raises(ValueError):
        pick_non_overlapping(x, y, np.arange(4), SIZE, cell_px=20)


def test_pick_shows_more_as_the_points_spread_and_all_once_they_fit():
    x, y = scattered(20_000)
    priority = np.random.default_rng(2).permutation(len(x))
    counts = [len(pick_non_overlapping(x * zoom, y * zoom, priority, SIZE)) for zoom in (0.5, 1, 2, 4, 8)]
    assert all(b > 1.3 * a for a, b in zip(counts, counts[1:])), counts
    gx, gy = np.meshgrid(np.arange(12) * 40.0, np.arange(9) * 40.0)  # 40 px apart: every one fits
    assert len(pick_non_overlapping(gx.ravel(), gy.ravel(), np.arange(108)[::-1], SIZE)) == 108


def test_pick_ignores_far_away_points_whatever_the_grid_size():
    """An outlier a million cells away makes the grid too big to hold densely; the choice must not change."""
    x, y = scattered(5000)
    priority = np.random.default_rng(3).permutation(len(x))
    near = pick_non_overlapping(x, y, priority, SIZE)
    far = pick_non_overlapping(np.r_[x, 4e7], np.r_[y, -3e7], np.r_[priority, len(x)], SIZE)
    assert far.tolist() == near.tolist() + [len(x)]


def test_pick_is_stable_while_panning():
    """The item gives the pick the points in view, in pixels from the view's origin: a pan changes only which
    points are given. Away from the window's edges, what was chosen stays chosen."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(0, 400, (2, 100_000))
    priority = rng.permutation(len(x))

    def pick_in(left, top, w=800, h=600):
        inside = np.flatnonzero((x >= left) & (x < left + w) & (y >= top) & (y < top + h))
        return set(inside[pick_non_overlapping(x[inside], y[inside], priority[inside], SIZE, 35.0)].tolist())

    before, after = pick_in(-400, -300), pick_in(-337, -271)  # 63 and 29 px: not whole cells
    margin = 3 * 35
    inner = (x > -337 + margin) & (x < 400 - margin) & (y > -271 + margin) & (y < 300 - margin)
    kept = [i for i in before if inner[i]]
    assert len(kept) > 50
    assert np.mean([i in after for i in kept]) > 0.9


# --- the item, on screen -----------------------------------------------------------------------------
def rgb_of(widget) -> np.ndarray:
    """(H, W) uint32 0xRRGGBB of the grabbed widget (offscreen: one device pixel per widget pixel)."""
    image = widget.grab().toImage().convertToFormat(QImage.Format_RGB32)
    assert image.devicePixelRatio() == 1.0
    words = np.frombuffer(image.constBits(), np.uint32, count=image.height() * image.bytesPerLine() // 4)
    return (words.reshape(image.height(), -1)[:, : image.width()] & 0xFFFFFF).copy()


def screen_xy(plot: pg.PlotWidget, xy: np.ndarray) -> np.ndarray:
    """(N, 2) view coordinates -> widget pixels, floats (the pixel holding a point is their floor)."""
    vb = plot.getViewBox()
    to_view = plot.viewportTransform()
    offset = plot.viewport().pos()
    out = []
    for x, y in xy:
        p = to_view.map(vb.mapViewToScene(QPointF(float(x), float(y))))
        out.append((p.x() + offset.x(), p.y() + offset.y()))
    return np.array(out)


def quadrant_images(n: int, side: int, colour: bool) -> tuple[np.ndarray, np.ndarray]:
    """(n, C, side, side) uint8 images split in four quadrants whose colours encode the point and the quadrant,
    and those colours as (n, 4) 0xRRGGBB (top left, top right, bottom left, bottom right). Grey: one level per
    point and quadrant, n <= 60."""
    if colour:
        rgb = np.zeros((n, 4, 3), np.uint8)
        rgb[:, :, 0] = (np.arange(n) % 256)[:, None]
        rgb[:, :, 1] = (np.arange(n) // 256)[:, None] * 8 + np.arange(4)[None, :]  # index and quadrant
        rgb[:, :, 2] = 77  # no tab10 colour has blue 77: a pixel so coloured is an image's
    else:
        assert n <= 60
        level = (np.arange(n)[:, None] * 4 + np.arange(4)[None, :] + 130).astype(np.uint8)  # 0x7f is tab10's
        rgb = np.repeat(level[:, :, None], 3, axis=2)
    half = side // 2
    images = np.zeros((n, 3, side, side), np.uint8)
    for q, (rows, cols) in enumerate([(slice(0, half), slice(0, half)), (slice(0, half), slice(half, None)),
                                      (slice(half, None), slice(0, half)), (slice(half, None), slice(half, None))]):
        images[:, :, rows, cols] = rgb[:, q, :, None, None]
    words = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    return (images if colour else images[:, :1]), words


def make_plot(qtbot, xy, images, labels, view=None, size=None):
    plot = pg.PlotWidget(background="w")
    qtbot.addWidget(plot)
    plot.resize(640, 520)
    colours = argb_words(palette(10))[labels]
    cloud = PointCloudItem()
    cloud.set_points(xy, colours)
    plot.addItem(cloud)
    item = ThumbnailItem()
    if size is not None:
        item.set_size(size)
    item.set_images(images)
    item.set_points(xy, colours)
    plot.addItem(item)
    plot.show()
    qtbot.waitExposed(plot)
    if view is not None:
        plot.getViewBox().setRange(xRange=view[0], yRange=view[1], padding=0)
    return plot, item


@pytest.mark.parametrize("side, colour", [(28, False), (64, True), (9, True)])
def test_each_thumbnail_shows_its_own_image_the_right_way_up_in_its_frame(qtbot, side, colour):
    gx, gy = np.meshgrid(np.arange(6), np.arange(5))
    xy = np.c_[gx.ravel(), gy.ravel()].astype(float) * 10  # 10 units apart: at this zoom every one fits
    labels = np.arange(len(xy)) % 10
    images, words = quadrant_images(len(xy), side, colour)
    plot, item = make_plot(qtbot, xy, images, labels, view=((-8, 58), (-8, 48)))
    rgb = rgb_of(plot)
    assert sorted(item.shown().tolist()) == list(range(len(xy)))
    frames = argb_words(palette(10))[labels] & 0xFFFFFF
    for i, (sx, sy) in enumerate(screen_xy(plot, xy)):
        cx, cy = int(np.floor(sx)), int(np.floor(sy))
        # screen y grows downwards and the view's y upwards, but an image's first row is its top either way
        seen = [rgb[cy - 7, cx - 7], rgb[cy - 7, cx + 7], rgb[cy + 7, cx - 7], rgb[cy + 7, cx + 7]]
        assert seen == words[i].tolist(), f"point {i}: quadrants {[hex(v) for v in seen]}"
        assert rgb[cy, cx - 15] == frames[i] and rgb[cy - 15, cx] == frames[i] and rgb[cy + 14, cx] == frames[i]
        assert rgb[cy, cx - 17] != frames[i] and rgb[cy, cx + 16] != frames[i]  # a 2 px frame, not more

    item.set_images(None)  # and gone again
    rgb = rgb_of(plot)
    assert len(item.shown()) == 0
    for i, (sx, sy) in enumerate(screen_xy(plot, xy)):
        cx, cy = int(np.floor(sx)), int(np.floor(sy))
        assert not np.isin(rgb[cy - 15:cy + 15, cx - 15:cx + 15], words[i]).any()


def plot_area(plot):
    vb = plot.getViewBox()
    return plot.viewportTransform().mapRect(vb.mapRectToScene(vb.boundingRect())).toRect()


def dense_cloud(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    xy = rng.standard_normal((n, 2))
    labels = rng.integers(0, 10, n)
    images, words = quadrant_images(n, 8, colour=True)
    return xy, labels, images, words


def whole_thumbnails(plot, item, xy, words, size=DEFAULT_SIZE_PX):
    """For the shown thumbnails lying wholly inside the plot area: how many of their image pixels are visible."""
    rgb = rgb_of(plot)
    area = plot_area(plot).adjusted(6, 6, -6, -6)  # the axes' ticks reach 5 px into the plot, over everything
    shown = item.shown()
    pos = screen_xy(plot, xy[shown])
    left, top = np.floor(pos[:, 0] - size / 2), np.floor(pos[:, 1] - size / 2)
    whole = (left >= area.left()) & (left + size <= area.right()) & (top >= area.top()) & (top + size <= area.bottom())
    counts = [int(np.isin(rgb, words[i]).sum()) for i in shown[whole]]
    return counts, pos


def test_zooming_in_shows_more_thumbnails_and_none_overlap_on_screen(qtbot):
    xy, labels, images, words = dense_cloud(5000)
    plot, item = make_plot(qtbot, xy, images, labels, view=((-8, 8), (-8, 8)))
    counts, pos = whole_thumbnails(plot, item, xy, words)
    wide = len(item.shown())
    assert wide > 20 and len(counts) > 20
    # every wholly visible thumbnail shows all of its 28 x 28 image pixels: nothing is drawn over any of them
    assert counts == [28 * 28] * len(counts)
    assert overlapping_pairs(pos[:, 0], pos[:, 1], DEFAULT_SIZE_PX) == 0

    plot.getViewBox().setRange(xRange=(-2, 2), yRange=(-2, 2), padding=0)  # 4x
    counts, pos = whole_thumbnails(plot, item, xy, words)
    assert len(item.shown()) > 1.5 * wide
    assert counts == [28 * 28] * len(counts)
    assert overlapping_pairs(pos[:, 0], pos[:, 1], DEFAULT_SIZE_PX) == 0
    assert np.all(np.abs(xy[item.shown()]) < 2 + 0.2)  # only points in view (and half a thumbnail past it)


def test_set_size_draws_bigger_thumbnails_and_fewer_of_them(qtbot):
    xy, labels, images, words = dense_cloud(5000, seed=1)
    plot, item = make_plot(qtbot, xy, images, labels, view=((-2, 2), (-2, 2)))
    rgb_of(plot)
    small = len(item.shown())
    item.set_size(48)
    counts, pos = whole_thumbnails(plot, item, xy, words, size=48)
    assert len(item.shown()) < 0.7 * small
    assert counts and counts == [44 * 44] * len(counts)
    assert overlapping_pairs(pos[:, 0], pos[:, 1], 48) == 0


def test_the_same_thumbnails_stay_while_panning(qtbot):
    xy, labels, images, _ = dense_cloud(20_000, seed=2)
    plot, item = make_plot(qtbot, xy, images, labels, view=((-1, 1), (-1, 1)))
    vb = plot.getViewBox()
    rgb_of(plot)
    before = set(item.shown().tolist())
    vb.setRange(xRange=(-0.83, 1.17), yRange=(-1.09, 0.91), padding=0)
    rgb_of(plot)
    after = set(item.shown().tolist())
    margin = 0.35  # about three cells: a choice there cannot depend on points outside the other view
    x, y = xy[:, 0], xy[:, 1]
    inner = (x > -0.83 + margin) & (x < 1 - margin) & (y > -1 + margin) & (y < 0.91 - margin)
    kept = [i for i in before if inner[i]]
    assert len(kept) > 20
    assert np.mean([i in after for i in kept]) > 0.9


def test_mismatched_or_malformed_images_draw_nothing_or_are_refused(qtbot):
    xy, labels, images, words = dense_cloud(300, seed=3)
    plot, item = make_plot(qtbot, xy, images[:299], labels, view=((-3, 3), (-3, 3)))
    assert not np.isin(rgb_of(plot), words).any() and len(item.shown()) == 0
    item.set_images(images)
    assert np.isin(rgb_of(plot), words).any() and len(item.shown()) > 0
    with pytest.raises(ValueError):
        item.set_images(images.astype(np.float32))
    with pytest.raises(ValueError):
        item.set_images(images[:, :2])
