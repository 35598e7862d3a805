"""Latency of the latent panels on the GUI thread: decoder slider -> picture, and latent scatter refreshes.

    python benchmarks/slider_latency.py [--moves 300] [--json] [--no-training]

Slider latency: the real DecoderSlidersPanel with a snapshot of the reference MLP VAE (784-400-20, Bernoulli)
on the CPU, offscreen. One sample is the time from `slider.setValue(v)` (what a drag does) to the end of a
synchronous `repaint()` of the image widget: valueChanged -> decode E[x|z] from the DecoderSnapshot -> new
QImage -> paintEvent drawn. The panel decodes inside the valueChanged slot, so no event-loop turn is needed;
`app.processEvents()` runs after the repaint anyway, so anything the move queued (labels) is in the time too.
Measured twice: with the
machine otherwise idle, and while a Trainer trains the same architecture in a background thread (what the
window does while you drag), where the two threads also share Python's GIL.

Display alternatives: the same decode + show + repaint with a pyqtgraph ImageItem and with a QLabel pixmap,
to justify the ImageGridView choice.

Scatter refresh: LatentScatterPanel.set_snapshot of N posterior means (20-D, PCA view, 10 label colours) plus
a synchronous repaint of the plot's viewport, for N = 10,000 and 70,000.

Thumbnails mode: a ThumbnailItem (explorer.plotting.thumbnails) over the 70,000-point scatter, each point's
28x28 image, drawn at the default zoom and zoomed in 4x. One sample is a small pan (what a drag does, so that
nothing drawn before can be reused) and a synchronous repaint of the plot's viewport; the item's own paint is
timed inside it, and the same pans are repainted with the thumbnails hidden for comparison. `thumbnails_70k_ms`
holds the median repaints.

Prints one JSON object (--json) or a short table. Goals: slider p95 <= 10 ms (aim 5); scatter <= 50 / 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import explorer.qt_compat  # noqa: E402,F401
import pyqtgraph as pg  # noqa: E402
import torch  # noqa: E402
from PySide6.QtGui import QPixmap  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel  # noqa: E402

from explorer.panels.decoder import DecoderSlidersPanel  # noqa: E402
from explorer.panels.decoder_row import TICKS_PER_SIGMA  # noqa: E402
from explorer.panels.latent import LatentScatterPanel  # noqa: E402
from explorer.plotting.image_grid import to_qimage, to_uint8  # noqa: E402
from explorer.plotting.thumbnails import ThumbnailItem  # noqa: E402
from trainer.config import DatasetSpec, ModelConfig, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402
from trainer.model.vae import VAE  # noqa: E402
from trainer.analysis.snapshots import DecoderSnapshot, LatentSnapshot  # noqa: E402


def percentiles(ms: list[float]) -> dict:
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "max_ms": round(float(a.max()), 3), "n": int(len(a))}


def slider_moves(app, panel, moves: int, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    d = panel.cursor.latent_dim
    times = []
    for i in range(moves + 20):
        slider = panel.slider(i % d)
        value = int(rng.integers(-3 * TICKS_PER_SIGMA, 3 * TICKS_PER_SIGMA))
        if value == slider.value():
            value += 1
        version = panel.image_view.version
        t0 = time.perf_counter()
        slider.setValue(value)
        panel.image_view.repaint()
        app.processEvents()
        t1 = time.perf_counter()
        if panel.image_view.version == version:
            raise RuntimeError("the slider move did not reach the image")
        if i >= 20:  # the first moves warm caches up
            times.append((t1 - t0) * 1e3)
    return times


class BackgroundTraining:
    """A Trainer on sprites (784-400-20 MLP) in a plain thread, as the worker would run it."""

    def __init__(self):
        dataset = load_dataset(DatasetSpec(name="sprites", n=4000, image_size=28))
        self.trainer = Trainer(model_config_for(dataset, latent_dim=20), TrainConfig(epochs=10_000, device="cpu"),
                               dataset)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.steps = 0

    def _run(self) -> None:
        for _ in self.trainer.run():
            self.steps = self.trainer.step

    def __enter__(self):
        self.thread.start()
        while self.steps < 20:  # training is really under way
            time.sleep(0.01)
        return self

    def __exit__(self, *exc):
        self.trainer.stop()
        self.thread.join()


def display_alternatives(app, snap: DecoderSnapshot, moves: int) -> dict:
    """decode + show + repaint through three widgets, the same z sequence for each."""
    rng = np.random.default_rng(1)
    zs = rng.standard_normal((moves, snap.latent_dim)).astype(np.float32)
    out = {}

    panel = DecoderSlidersPanel()
    panel.resize(420, 640)
    panel.show()
    panel.set_decoder(snap)
    view = panel.image_view

    def grid_view(z):
        view.set_images(snap.decode(z[None]), ncols=1, pad=0)
        view.repaint()

    glw = pg.GraphicsLayoutWidget()
    glw.resize(372, 372)
    vb = glw.addViewBox(lockAspect=True, invertY=True)
    item = pg.ImageItem(axisOrder="row-major")
    vb.addItem(item)
    glw.show()

    def image_item(z):
        item.setImage(to_uint8(snap.decode(z[None])[0, 0]), levels=(0, 255), autoLevels=False)
        glw.viewport().repaint()

    label = QLabel()
    label.resize(372, 372)
    label.show()

    def qlabel(z):
        image = to_qimage(to_uint8(snap.decode(z[None])[0, 0]))
        label.setPixmap(QPixmap.fromImage(image).scaled(364, 364))
        label.repaint()

    app.processEvents()
    for name, fn in (("image_grid_view", grid_view), ("pyqtgraph_image_item", image_item), ("qlabel_pixmap", qlabel)):
        for z in zs[:20]:
            fn(z)
        times = []
        for z in zs:
            t0 = time.perf_counter()
            fn(z)
            times.append((time.perf_counter() - t0) * 1e3)
        out[name] = percentiles(times)
    for w in (panel, glw, label):
        w.close()
    return out


def fake_latents(n: int, d: int = 20, seed: int = 0, shift: float = 0.0) -> LatentSnapshot:
    rng = np.random.default_rng(seed)
    mu = (rng.standard_normal((n, d)) * np.linspace(2.0, 0.2, d) + shift).astype(np.float32)
    return LatentSnapshot(step=0, mu=mu, logvar=np.zeros_like(mu), x=np.zeros((n, 1, 28, 28), np.uint8),
                          indices=np.arange(n), labels=rng.integers(0, 10, n), class_names=tuple(map(str, range(10))),
                          kl_per_dim=np.ones(d), mu_variance=np.ones(d))


def scatter_refresh(app, n: int, repeats: int = 6) -> dict:
    panel = LatentScatterPanel()
    panel.resize(720, 620)
    panel.show()
    app.processEvents()
    panel.set_snapshot(fake_latents(n, seed=0))
    app.processEvents()
    set_ms, total_ms, grab_ms = [], [], []
    for r in range(repeats):
        snapshot = fake_latents(n, seed=r + 1, shift=0.01 * r)  # built outside the timing: it comes from the worker
        t0 = time.perf_counter()
        panel.set_snapshot(snapshot)
        t1 = time.perf_counter()
        panel.plot.viewport().repaint()
        t2 = time.perf_counter()
        panel.grab()
        t3 = time.perf_counter()
        set_ms.append((t1 - t0) * 1e3)
        total_ms.append((t2 - t0) * 1e3)
        grab_ms.append((t3 - t2) * 1e3)
    panel.close()
    return {"set_snapshot_plus_repaint_ms": percentiles(total_ms), "set_snapshot_ms": percentiles(set_ms),
            "whole_panel_grab_ms": percentiles(grab_ms)}


class TimedThumbnails(ThumbnailItem):
    """A ThumbnailItem that keeps how long each of its paints took, in ms."""

    def __init__(self):
        super().__init__()
        self.paint_ms: list[float] = []

    def paint(self, painter, option, widget=None) -> None:
        t0 = time.perf_counter()
        super().paint(painter, option, widget)
        self.paint_ms.append((time.perf_counter() - t0) * 1e3)


def thumbnails_paint(app, n: int = 70_000, repeats: int = 15) -> dict:
    panel = LatentScatterPanel()
    panel.resize(720, 620)
    panel.show()
    app.processEvents()
    snapshot = fake_latents(n, seed=0)
    panel.set_snapshot(snapshot)
    thumbs = TimedThumbnails()
    thumbs.set_images(np.random.default_rng(0).integers(0, 256, (n, 1, 28, 28), dtype=np.uint8))
    thumbs.set_points(panel.coordinates(), panel.cloud.colours())
    panel.plot.addItem(thumbs)
    app.processEvents()
    vb = panel.plot.getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()
    out = {}
    for name, zoom in (("default_zoom", 1), ("zoom_4x", 4)):
        w, h = (x1 - x0) / zoom, (y1 - y0) / zoom
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2

        def pan(r, w=w, h=h, cx=cx, cy=cy):  # 1% of the view per step, back and forth
            dx = 0.01 * w * (r % 10 - 5)
            vb.setRange(xRange=(cx - w / 2 + dx, cx + w / 2 + dx), yRange=(cy - h / 2, cy + h / 2), padding=0)

        stats = {}
        for shown in (False, True):
            thumbs.setVisible(shown)
            pan(0)
            panel.plot.viewport().repaint()  # warm up at this zoom
            total_ms, grab_ms, item_ms = [], [], []
            for r in range(repeats):
                pan(r + 1)
                thumbs.paint_ms.clear()
                t0 = time.perf_counter()
                panel.plot.viewport().repaint()
                t1 = time.perf_counter()
                item_ms.append(sum(thumbs.paint_ms))  # the repaint's, not the grab's
                panel.plot.grab()
                total_ms.append((t1 - t0) * 1e3)
                grab_ms.append((time.perf_counter() - t1) * 1e3)
            if shown:
                stats.update({"repaint_ms": percentiles(total_ms), "item_paint_ms": percentiles(item_ms),
                              "plot_grab_ms": percentiles(grab_ms), "shown": int(len(thumbs.shown()))})
            else:
                stats["without_thumbnails_repaint_ms"] = percentiles(total_ms)
        out[name] = stats
    panel.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=300, help="slider moves per measurement (>= 200)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-training", action="store_true", help="skip the measurement under background training")
    args = parser.parse_args()
    moves = max(200, args.moves)

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(background="w", foreground="#404040")
    torch.manual_seed(0)
    snap = DecoderSnapshot.from_model(VAE(ModelConfig()))  # the reference 784-400-20 decoder
    panel = DecoderSlidersPanel()
    panel.resize(420, 640)
    panel.show()
    panel.set_decoder(snap)
    app.processEvents()

    result = {"decoder": "mlp 784-400-20 bernoulli, cpu", "torch_threads": torch.get_num_threads(),
              "cpu_count": os.cpu_count()}
    idle = percentiles(slider_moves(app, panel, moves))
    result.update({"p50_ms": idle["p50_ms"], "p95_ms": idle["p95_ms"], "slider_idle": idle})
    if not args.no_training:
        with BackgroundTraining() as training:
            result["slider_while_training"] = percentiles(slider_moves(app, panel, moves, seed=1))
            result["slider_while_training"]["training_steps_during"] = training.steps
    result["display_alternatives"] = display_alternatives(app, snap, moves)
    result["scatter_10k"] = scatter_refresh(app, 10_000)
    result["scatter_70k"] = scatter_refresh(app, 70_000)
    result["thumbnails_70k"] = thumbnails_paint(app, 70_000)
    result["thumbnails_70k_ms"] = {k: v["repaint_ms"]["p50_ms"] for k, v in result["thumbnails_70k"].items()}
    result["goals"] = {"slider_p95_ms": 10, "scatter_10k_ms": 50, "scatter_70k_ms": 150}
    panel.close()

    if args.json:
        print(json.dumps(result))
    else:
        print(f"slider (idle):           p50 {idle['p50_ms']:.2f} ms   p95 {idle['p95_ms']:.2f} ms")
        if "slider_while_training" in result:
            t = result["slider_while_training"]
            print(f"slider (while training): p50 {t['p50_ms']:.2f} ms   p95 {t['p95_ms']:.2f} ms")
        for name, stats in result["display_alternatives"].items():
            print(f"  display {name:22s} p50 {stats['p50_ms']:.2f} ms   p95 {stats['p95_ms']:.2f} ms")
        for n in ("10k", "70k"):
            s = result[f"scatter_{n}"]["set_snapshot_plus_repaint_ms"]
            print(f"scatter {n}: set_snapshot + repaint p50 {s['p50_ms']:.1f} ms  max {s['max_ms']:.1f} ms")
        for zoom, t in result["thumbnails_70k"].items():
            print(f"thumbnails 70k, {zoom:12s}: pan + repaint p50 {t['repaint_ms']['p50_ms']:.1f} ms "
                  f"(without {t['without_thumbnails_repaint_ms']['p50_ms']:.1f} ms), "
                  f"item paint p50 {t['item_paint_ms']['p50_ms']:.1f} ms, {t['shown']} shown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
