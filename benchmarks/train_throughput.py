"""Training throughput and quality: our Trainer against a plain PyTorch loop, in one process.

    python benchmarks/train_throughput.py [--epochs 10] [--data-dir ../shared/datasets/mnist] [--json]

Both train the classic 784-400-20 MLP VAE (Bernoulli likelihood, Adam 1e-3, batch 128) on the same MNIST
split. The plain loop is the pytorch/examples VAE: a DataLoader over in-memory tensors and a summed loss.
Epochs alternate between the two so machine noise hits both alike. Prints one JSON object with both
throughputs (samples/s, training steps only), their ratio, and the held-out negative ELBO (nats per
example) of each after every epoch, plus the gap at epochs 5 and 10.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.config import DatasetSpec, TrainConfig  # noqa: E402
from trainer.data import load_dataset  # noqa: E402
from trainer.model.vae import model_config_for  # noqa: E402
from trainer.training.loop import Trainer  # noqa: E402
from trainer.training.reports import EpochReport  # noqa: E402
from trainer.pixels import to_float01  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


class PlainVAE(nn.Module):
    """pytorch/examples vae/main.py, unchanged in substance."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def plain_loss(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


@torch.no_grad()
def plain_test_loss(model, x_test: torch.Tensor) -> float:
    torch.manual_seed(12345)
    model.eval()
    total = 0.0
    for i in range(0, len(x_test), 1000):
        xb = x_test[i : i + 1000]
        logits, mu, logvar = model(xb)
        total += plain_loss(logits, xb, mu, logvar).item()
    model.train()
    return total / len(x_test)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--data-dir", default=str(DEFAULT_DATA))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="accepted for symmetry; output is always JSON")
    args = ap.parse_args()

    dataset = load_dataset(DatasetSpec(name="mnist", data_dir=args.data_dir, seed=args.seed))
    x_train = torch.from_numpy(to_float01(dataset.x_train))
    x_test = torch.from_numpy(to_float01(dataset.x_test))

    # ours
    cfg = model_config_for(dataset, arch="mlp", hidden=(400,), latent_dim=20, likelihood="bernoulli")
    ours = Trainer(cfg, TrainConfig(epochs=args.epochs, batch_size=128, lr=1e-3, seed=args.seed, device="cpu"), dataset)

    # the plain loop
    torch.manual_seed(args.seed)
    plain = PlainVAE()
    plain_opt = torch.optim.Adam(plain.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x_train), batch_size=128, shuffle=True)

    ours_s = plain_s = 0.0
    ours_n = plain_n = 0
    ours_loss, plain_losses = [], []
    for epoch in range(args.epochs):
        t_before, step_before = ours.elapsed_s, ours.step
        for report in ours.run(max_steps=ours.steps_per_epoch):
            if isinstance(report, EpochReport):
                ours_loss.append(-report.test_elbo)
        ours_s += ours.elapsed_s - t_before
        ours_n += len(x_train) if ours.step - step_before == ours.steps_per_epoch else 0

        t0 = time.perf_counter()
        for (xb,) in loader:
            logits, mu, logvar = plain(xb)
            loss = plain_loss(logits, xb, mu, logvar)
            plain_opt.zero_grad()
            loss.backward()
            plain_opt.step()
        plain_s += time.perf_counter() - t0
        plain_n += len(x_train)
        plain_losses.append(plain_test_loss(plain, x_test))
        print(f"epoch {epoch + 1}: ours {ours_loss[-1]:.2f}  plain {plain_losses[-1]:.2f} nats", file=sys.stderr)

    ours_tp, plain_tp = ours_n / ours_s, plain_n / plain_s
    result = {
        "benchmark": "train_throughput",
        "data": f"MNIST {len(x_train)} train / {len(x_test)} test",
        "torch_threads": torch.get_num_threads(),
        "ours_samples_per_s": round(ours_tp, 1),
        "plain_samples_per_s": round(plain_tp, 1),
        "ratio": round(ours_tp / plain_tp, 3),
        "ours_test_loss_per_epoch": [round(v, 3) for v in ours_loss],
        "plain_test_loss_per_epoch": [round(v, 3) for v in plain_losses],
    }
    for e in (5, 10):
        if e <= args.epochs:
            result[f"loss_gap_epoch{e}"] = round(ours_loss[e - 1] - plain_losses[e - 1], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
