"""Streaming throughput: training samples/s with the HDF5 training rows streamed from disk, against in memory.

    python benchmarks/stream_throughput.py [--steps 300] [--rounds 3] [--data-dir ../shared/datasets/mnist] [--json]

The MNIST test set from ../shared (10,000 28x28 digits; 28x28 sprites when it is absent) is written once into a
temporary HDF5 file the way `vae-explorer convert` lays it out (uint8 (N, 1, 28, 28), chunks of about 1 MB), which
then sits in the page cache. Two Trainers of the reference config (MLP 784-400-20, Bernoulli, batch 128, Adam 1e-3)
train on it, one with --in-memory always, one with --in-memory never (trainer.data.streaming: chunk-shuffled
order, a prefetch thread), taking turns `--steps` steps each per round in one process. The goal is streamed >=
0.9 x in-memory samples/s. Prints one JSON object (--json) or a short table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.report import emit  # noqa: E402
from trainer.config import DatasetSpec, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.data.dataset import Dataset  # noqa: E402
from trainer.data.image_folder import CHUNK_BYTES  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402

SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "mnist"
GOAL = 0.95


def images(data_dir: Path) -> tuple[np.ndarray, str]:
    if (data_dir / "t10k-images-idx3-ubyte.gz").exists():
        ds = load_dataset(DatasetSpec(name="mnist", data_dir=str(data_dir)))
        return np.concatenate([ds.x_train, ds.x_test]), "MNIST t10k (10,000 digits)"
    ds = load_dataset(DatasetSpec(name="sprites", n=10_000, image_size=28))
    return np.concatenate([ds.x_train, ds.x_test]), "sprites 28x28 (10,000)"


def timed(trainer: Trainer, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in trainer.run(max_steps=steps):
        pass
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data-dir", default=str(SHARED_MNIST))
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    x, source = images(Path(args.data_dir))
    rows_per_chunk = max(1, CHUNK_BYTES // int(np.prod(x.shape[1:])))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=x, chunks=(rows_per_chunk, *x.shape[1:]))
        # just written, so the file is in the page cache, as a dataset read again and again is
        streamed = load_dataset(DatasetSpec(name="path", path=str(path), in_memory="never"))
        # the same rows held in memory (the streamed split), so both train on the same examples
        in_memory = Dataset(streamed.spec, streamed.x_train[:], streamed.x_test, None, None)
        model_cfg = model_config_for(in_memory, hidden=(400,), latent_dim=20)
        cfg = TrainConfig(epochs=10_000, batch_size=128, lr=1e-3, device="cpu")
        memory, stream = Trainer(model_cfg, cfg, in_memory), Trainer(model_cfg, cfg, streamed)
        timed(memory, 20)  # warm-up
        timed(stream, 20)
        mem, st = [], []
        for _ in range(args.rounds):
            mem.append(args.steps * cfg.batch_size / timed(memory, args.steps))
            st.append(args.steps * cfg.batch_size / timed(stream, args.steps))
    ratios = [s / m for s, m in zip(st, mem)]
    result = {
        "benchmark": "stream_throughput",
        "data": f"{source} in HDF5, chunks of {rows_per_chunk} rows, page-cached",
        "model": "mlp 784-400-20 bernoulli, batch 128, Adam 1e-3",
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "in_memory_samples_per_s": [round(v, 1) for v in mem],
        "streamed_samples_per_s": [round(v, 1) for v in st],
        "ratio_per_round": [round(r, 3) for r in ratios],
        "ratio_median": round(statistics.median(ratios), 3),
        "goal_ratio": GOAL,
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
