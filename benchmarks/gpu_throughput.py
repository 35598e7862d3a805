"""GPU throughput: the plain training loop against the compiled step (--compile), on one device, in one process.

    python benchmarks/gpu_throughput.py [--device cuda] [--steps 300] [--rounds 3] [--json]

Two models, each trained by a plain Trainer and by a Trainer with compile=True (torch.compile; on CUDA mode
reduce-overhead, which replays CUDA graphs), taking turns `--steps` steps per round after a warm-up that includes
the compilation: the MNIST MLP (784-400-20, batch 128) and the 64 px conv model (sprites 64x64, batch 128). Also
the cost of determinism (torch.use_deterministic_algorithms) on the plain MLP loop. The goal of issue 14 is
compiled >= 2x plain for the MLP on a GPU, where a small VAE is launch-bound. `--device cpu` runs the same
comparison on the CPU. Prints one JSON object (--json) or a short table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.report import emit  # noqa: E402
from trainer.config import DatasetSpec, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402

SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "mnist"


def timed(trainer: Trainer, steps: int) -> float:
    """Seconds for `steps` steps, synchronised with the device at both ends."""
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in trainer.run(max_steps=steps):
        pass
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def compare(dataset, model_cfg, device: str, steps: int, rounds: int) -> dict:
    cfg = TrainConfig(epochs=10_000, batch_size=128, lr=1e-3, device=device)
    plain = Trainer(model_cfg, cfg, dataset)
    compiled = Trainer(model_cfg, TrainConfig(**{**cfg.to_dict(), "compile": True}), dataset)
    timed(plain, 20)
    t0 = time.perf_counter()
    timed(compiled, compiled.steps_per_epoch + 5)  # compiles both graphs: full batches, and an epoch's short last one
    compile_s = time.perf_counter() - t0
    a, b = [], []
    for _ in range(rounds):
        a.append(steps * 128 / timed(plain, steps))
        b.append(steps * 128 / timed(compiled, steps))
    ratios = [y / x for x, y in zip(a, b)]
    return {"plain_samples_per_s": [round(v) for v in a], "compiled_samples_per_s": [round(v) for v in b],
            "ratio_per_round": [round(r, 3) for r in ratios], "ratio_median": round(statistics.median(ratios), 3),
            "first_steps_with_compilation_s": round(compile_s, 1)}


def determinism_cost(dataset, model_cfg, device: str, steps: int, rounds: int) -> dict:
    cfg = TrainConfig(epochs=10_000, batch_size=128, lr=1e-3, device=device)
    trainer = Trainer(model_cfg, cfg, dataset)
    timed(trainer, 20)
    free, strict = [], []
    for _ in range(rounds):
        torch.use_deterministic_algorithms(False)
        free.append(steps * 128 / timed(trainer, steps))
        torch.use_deterministic_algorithms(True)
        strict.append(steps * 128 / timed(trainer, steps))
    torch.use_deterministic_algorithms(False)
    return {"deterministic_vs_default": round(statistics.median(s / f for s, f in zip(strict, free)), 3)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--skip-conv", action="store_true", help="only the MLP")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_throughput: no CUDA GPU here (torch.cuda.is_available() is False); use --device cpu",
              file=sys.stderr)
        return 2
    # cuBLAS needs this for deterministic matrix products (set before the first CUDA call)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        mnist = load_dataset(DatasetSpec(name="mnist", data_dir=str(SHARED_MNIST)))
    else:
        mnist = load_dataset(DatasetSpec(name="sprites", n=10_000, image_size=28))
    mlp = model_config_for(mnist, hidden=(400,), latent_dim=20)
    result = {
        "benchmark": "gpu_throughput",
        "device": torch.cuda.get_device_name() if args.device == "cuda" else f"cpu ({os.cpu_count()} cores)",
        "torch": torch.__version__,
        "mlp": {"model": "mlp 784-400-20 bernoulli, batch 128", "data": mnist.describe(),
                **compare(mnist, mlp, args.device, args.steps, args.rounds),
                **determinism_cost(mnist, mlp, args.device, args.steps, args.rounds)},
    }
    if not args.skip_conv:
        sprites = load_dataset(DatasetSpec(name="sprites", n=5_000, image_size=64))
        conv = model_config_for(sprites, arch="conv", hidden=(256,), latent_dim=10)
        result["conv64"] = {"model": "conv 64x64, dense 256, latent 10, batch 128", "data": sprites.describe(),
                            **compare(sprites, conv, args.device, max(20, args.steps // 5), args.rounds)}
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
