"""Projection: UMAP and t-SNE maps of a trained MNIST model's encoder means, their time and how well they keep labels.

    python benchmarks/projection.py [--epochs 5] [--data-dir ../shared/datasets/mnist] [--skip-70k] [--json]

A 784-400-20 MLP VAE is trained for `--epochs` on the MNIST test set from ../shared (9,000 train / 1,000 test),
then all 10,000 digits are encoded (μ). Timed, in one process:
  umap_first_call_s   the first UMAP of the process (umap-learn compiles its numba kernels then)
  umap_10k_s          UMAP of the 10,000 means, warm
  tsne_10k_s          openTSNE (FFT) of the same
  umap_70k_s          UMAP of 70,000 points: the 10,000 means tiled 7 times with small noise (σ = 0.05)
  umap_refresh_10k_s  a refresh that starts from the previous map (what the window does while training)
and, on the 10,000: knn10_accuracy_{umap,tsne,pca} (leave-one-out 10-NN label accuracy in 2-D, on 2,000
points) and faithfulness_{umap,tsne,pca} (the share of 10 latent neighbours still neighbours on the map).
and heartbeat_p99_ms / heartbeat_max_gap_ms: a 5 ms QTimer in the real window (offscreen) while the window's own
LatentProjection computes a UMAP and then a t-SNE map of the 10,000 means in its background thread.
Goals on the 2-core machine: 10k <= 20 s each, UMAP 70k <= 120 s, UMAP and t-SNE above PCA on labels, heartbeat
p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.report import emit  # noqa: E402
from trainer.config import DatasetSpec, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.analysis.geometry import StablePCA  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402
from trainer.analysis.metrics import encode_dataset  # noqa: E402
from trainer.analysis.projection import (ProjectionParams, ProjectionRequest, faithfulness, knn_accuracy,  # noqa: E402
                                project)

SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "mnist"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t0, 1)


def window_heartbeat(mu: np.ndarray) -> dict:
    """Heartbeat gaps of the real window's event loop while its projection thread maps `mu` (UMAP, then t-SNE)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from explorer.window.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1440, 900)
    window.show()
    app.processEvents()
    beats: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    heartbeat = QTimer(interval=5)
    heartbeat.setTimerType(Qt.PreciseTimer)
    heartbeat.timeout.connect(lambda: beats.append(clock.nsecsElapsed() / 1e6))
    loop = QEventLoop()
    projection = window.explore.projection
    done = []

    def finished(token, _result):
        done.append(token)
        loop.quit()

    projection.sig_done.connect(finished)
    projection.sig_failed.connect(lambda token, message: (done.append(token), loop.quit()))
    heartbeat.start()
    for token, method in enumerate(("umap", "tsne"), start=1):
        projection.request(ProjectionRequest(token, mu, ProjectionParams(method=method)))
        loop.exec()
    heartbeat.stop()
    window.close()
    gaps = np.diff(beats)
    return {"heartbeat_p99_ms": round(float(np.percentile(gaps, 99)), 1),
            "heartbeat_max_gap_ms": round(float(gaps.max()), 1), "heartbeats": len(beats)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--data-dir", default=str(SHARED_MNIST))
    p.add_argument("--points", type=int, default=10_000, help="encoder means to map (at most the data's)")
    p.add_argument("--skip-70k", action="store_true")
    p.add_argument("--skip-window", action="store_true", help="no heartbeat measurement in the window")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    if (Path(args.data_dir) / "t10k-images-idx3-ubyte.gz").exists():
        data = load_dataset(DatasetSpec(name="mnist", data_dir=args.data_dir))
    else:
        data = load_dataset(DatasetSpec(name="sprites", n=10_000, image_size=28))
    trainer = Trainer(model_config_for(data, hidden=(400,), latent_dim=20),
                      TrainConfig(epochs=args.epochs, device="cpu"), data)
    for _ in trainer.run():
        pass
    x = np.concatenate([data.x_train, data.x_test])[: args.points]
    labels = (np.concatenate([data.y_train, data.y_test]) if data.y_train is not None
              else np.concatenate([data.factors_train, data.factors_test])[:, 0])[: args.points]
    mu = encode_dataset(trainer.model, x, None, trainer.device)[0]

    umap, tsne = ProjectionParams(method="umap"), ProjectionParams(method="tsne")
    _, first = timed(lambda: project(mu[:5000], umap))
    xy_umap, umap_s = timed(lambda: project(mu, umap))
    _, refresh_s = timed(lambda: project(mu + np.float32(0.01) * np.random.default_rng(1).standard_normal(mu.shape,
                                         dtype=np.float32), umap, previous=xy_umap))
    xy_tsne, tsne_s = timed(lambda: project(mu, tsne))
    xy_pca = StablePCA().project(mu)
    result = {
        "benchmark": "projection",
        "data": f"{len(mu):,} encoder means (20-D) of an MLP VAE trained {args.epochs} epochs on {data.describe()}",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "umap_first_call_s": first,
        "umap_10k_s": umap_s,
        "umap_refresh_10k_s": refresh_s,
        "tsne_10k_s": tsne_s,
    }
    if not args.skip_70k:
        rng = np.random.default_rng(0)
        tiled = np.concatenate([mu + np.float32(0.05) * rng.standard_normal(mu.shape, dtype=np.float32)
                                for _ in range(7)])
        _, result["umap_70k_s"] = timed(lambda: project(tiled, umap))
    for name, xy in (("umap", xy_umap), ("tsne", xy_tsne), ("pca", xy_pca)):
        result[f"knn10_accuracy_{name}"] = round(knn_accuracy(xy, labels), 3)
        result[f"faithfulness_{name}"] = round(faithfulness(mu, xy), 3)
    if not args.skip_window:
        result.update(window_heartbeat(mu))
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
