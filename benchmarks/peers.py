"""vae-explorer beside pythae (Chadebec et al. 2022) on the rows both implement: the same data, network and epochs.

    python benchmarks/peers.py [--models vae,iwae5,vamp] [--epochs 10] [--k 5000] [--test-examples 10000]
                               [--data-dir ../shared/datasets/mnist-full] [--venv DIR] [--json]

For each model (vae: Burda et al.'s VAE row; iwae5: their IWAE row with K = 5; vamp: the VAE row's network with the
VampPrior of 500 pseudo-inputs), both libraries train Burda et al.'s 784-200-200-50 tanh network with a Bernoulli
decoder on the 60,000 MNIST training images, dynamically binarized, batch 20, Adam at 1e-3, for --epochs; then each
scores test log p(x) with its own importance-sampling estimator, K = --k samples per image, on the first
--test-examples of t10k in the same fixed binarization (benchmarks/peers_worker.py). The two sides alternate
(ours first for the first model, pythae first for the next, ...), each in a fresh process, so machine noise hits
them alike. Throughput is training examples per second of training.

pythae is not a dependency of vae-explorer: the script installs it into a venv of its own (--venv; default
~/.cache/vae-explorer/peers-venv) that also sees the packages of the Python running this script (a .pth file), so
it uses this machine's torch (a plain `pip install pythae` could pull a multi-GB CUDA torch) and vae-explorer's own
data loader for the same data.
Each row names the published figure of its protocol (trainer/comparability/published.json) and both epoch counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.peers_worker import PROTOCOLS  # noqa: E402
from benchmarks.report import SHARED_MNIST, emit, machine  # noqa: E402
from trainer.comparability.published import published_row  # noqa: E402

WORKER = Path(__file__).with_name("peers_worker.py")
DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vae-explorer" / "peers-venv"


def peer_python(folder: Path) -> Path:
    """The venv's python, with pythae installed (made and installed on first use)."""
    python = folder / "bin" / "python"
    if not python.exists():
        print(f"peers: making a venv for pythae in {folder}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(folder)
        # this interpreter's packages (torch, numpy, h5py, vae-explorer itself) seen from the venv, below its own
        inner = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip()
        ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
        Path(inner, "vae-explorer-parent.pth").write_text("\n".join([*ours, str(Path(__file__).resolve().parents[1])])
                                                          + "\n")
    probe = subprocess.run([python, "-c", "import pythae"], capture_output=True)
    if probe.returncode:
        print("peers: pip install pythae into it", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "-q", "pythae"], check=True)
    return python


def run_side(python: Path, library: str, model: str, args) -> dict:
    cmd = [str(python), str(WORKER), "--library", library, "--model", model, "--epochs", str(args.epochs),
           "--k", str(args.k), "--test-examples", str(args.test_examples), "--data-dir", args.data_dir,
           "--seed", str(args.seed)]
    print(f"peers: {library} {model}", file=sys.stderr)
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if done.returncode:
        raise SystemExit(f"peers: {library} {model} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # pythae prints its own lines before ours


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="vae,iwae5,vamp")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--k", type=int, default=5000, help="importance samples per test image (the rows' 5,000)")
    ap.add_argument("--test-examples", type=int, default=10_000, help="the first N test images (the rows' 10,000)")
    ap.add_argument("--data-dir", default=str(SHARED_MNIST.parent / "mnist-full"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--venv", default=str(DEFAULT_VENV))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    unknown = set(models) - set(PROTOCOLS)
    if unknown:
        raise SystemExit(f"peers: unknown model(s) {', '.join(sorted(unknown))}; choose from {', '.join(PROTOCOLS)}")
    python = peer_python(Path(args.venv))
    version = subprocess.run([python, "-m", "pip", "show", "pythae"], capture_output=True, text=True).stdout
    rows = []
    for i, model in enumerate(models):
        order = ("ours", "pythae") if i % 2 == 0 else ("pythae", "ours")
        sides = {library: run_side(python, library, model, args) for library in order}
        row = published_row(PROTOCOLS[model])
        rows.append({
            "model": model, "protocol": PROTOCOLS[model] if model != "vamp" else f"{PROTOCOLS[model]} + VampPrior",
            "published": row.figure if model != "vamp" else None, "published_epochs": row.epochs,
            "epochs": args.epochs, "ours": sides["ours"], "pythae": sides["pythae"],
            "log_px_difference": sides["ours"]["log_px"] - sides["pythae"]["log_px"],
            "throughput_ratio": sides["ours"]["samples_per_s"] / sides["pythae"]["samples_per_s"]})
    emit({"machine": machine(),
          "pythae": next((line.split(": ", 1)[1] for line in version.splitlines() if line.startswith("Version")), "?"),
          "k": args.k, "test_examples": args.test_examples, "rows": rows}, args.json)


if __name__ == "__main__":
    main()
