"""One side of benchmarks/peers.py: train one model with one library on the whole MNIST and score its test log p(x).

    python benchmarks/peers_worker.py --library pythae --model iwae5 --epochs 10 --k 5000 --test-examples 1000 \
        --data-dir ../shared/datasets/mnist-full

Prints one JSON line: library, model, epochs, train_s, samples_per_s (training examples per second of training),
log_px and its standard error over the test images, n, k, the estimator. Both libraries get the same data (the 60,000
training images, a fresh Bernoulli draw of every image each epoch; the first --test-examples of t10k in the one fixed
draw vae-explorer scores), the same network (Burda et al.'s 784-200-200-50, tanh, Bernoulli decoder), batch 20 and
Adam at 1e-3. Each scores log p(x) with its own importance-sampling estimator (ours: trainer.analysis.metrics.evaluate;
pythae: the model's get_nll), K samples from q(z|x) per image. pythae runs here only when peers.py starts this
script with the Python of its own venv.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

HIDDEN, LATENT, BATCH, LR = (200, 200), 50, 20, 1e-3
PROTOCOLS = {"vae": "burda16-vae-1layer-k1", "iwae5": "burda16-iwae-1layer-k5", "vamp": "burda16-vae-1layer-k1"}
"""The row whose protocol each model follows; vamp is the VAE row's network and training with the VampPrior (500
pseudo-inputs), which no reproducible row has (trainer.comparability.protocols)."""


def data(data_dir: str, seed: int, n_test: int):
    """(training images float32 (N, 1, 28, 28) in [0, 1], the first n_test test images as vae-explorer scores them:
    one fixed Bernoulli draw, float32 0/1), read and checked by vae-explorer's own loader."""
    from trainer.config import DatasetSpec, TrainConfig
    from trainer.data import load_dataset
    from trainer.model.likelihood import heldout_for_likelihood

    ds = load_dataset(DatasetSpec(name="mnist", data_dir=data_dir))
    if ds.identity != "mnist" or ds.split != "standard":
        raise SystemExit(f"{data_dir}: not MNIST's published train and t10k files")
    test = heldout_for_likelihood(ds, TrainConfig(binarize="dynamic", seed=seed))[:n_test]
    return ds, ds.x_train.astype(np.float32) / 255, test.astype(np.float32) / 255


def ours(model: str, epochs: int, k: int, n_test: int, data_dir: str, seed: int) -> dict:
    from trainer.analysis.metrics import evaluate
    from trainer.comparability.protocols import protocol, protocol_settings
    from trainer.training.opening import open_trainer

    ds, _, x_test = data(data_dir, seed, n_test)
    settings = protocol_settings(protocol(PROTOCOLS[model]), {"epochs": epochs, "seed": seed, "device": "cpu"})
    if model == "vamp":
        settings.update(prior="vamp", pseudo_inputs=500, protocol="")
    trainer = open_trainer(ds, **settings)
    start = time.perf_counter()
    for _ in trainer.run():
        pass
    train_s = time.perf_counter() - start
    result = evaluate(trainer.model, x_test, None, "cpu", iwae_samples=k,
                      generator=torch.Generator().manual_seed(seed + 1), rate_split_points=None)
    return {"train_s": train_s, "log_px": result["iwae_log_px"], "log_px_se": result["iwae_log_px_se"],
            "estimator": "vae-explorer IWAE bound L_K (trainer.analysis.metrics.evaluate)"}


def pythae(model: str, epochs: int, k: int, n_test: int, data_dir: str, seed: int) -> dict:
    import logging
    import tempfile

    from pythae.data.datasets import BaseDataset, DatasetOutput
    from pythae.models import IWAE, VAE, VAMP, IWAEConfig, VAEConfig, VAMPConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig
    from torch import nn

    logging.getLogger("pythae").setLevel(logging.ERROR)
    torch.manual_seed(seed)
    _, x_train, x_test = data(data_dir, seed, n_test)

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, HIDDEN[0]), nn.Tanh(),
                                      nn.Linear(HIDDEN[0], HIDDEN[1]), nn.Tanh())
            self.mu, self.logvar = nn.Linear(HIDDEN[1], LATENT), nn.Linear(HIDDEN[1], LATENT)

        def forward(self, x):
            h = self.body(x)
            return ModelOutput(embedding=self.mu(h), log_covariance=self.logvar(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(LATENT, HIDDEN[1]), nn.Tanh(), nn.Linear(HIDDEN[1], HIDDEN[0]),
                                      nn.Tanh(), nn.Linear(HIDDEN[0], 784))

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.body(z)).reshape(-1, 1, 28, 28))

    class DynamicBinarization(BaseDataset):
        """A fresh Bernoulli draw of every image each time it is read: dynamic binarization, each epoch anew."""

        def __getitem__(self, index):
            return DatasetOutput(data=torch.bernoulli(self.data[index]), labels=self.labels[index])

    common = dict(input_dim=(1, 28, 28), latent_dim=LATENT, reconstruction_loss="bce")
    built = {"vae": lambda: VAE(VAEConfig(**common), encoder=Encoder(), decoder=Decoder()),
             "iwae5": lambda: IWAE(IWAEConfig(**common, number_samples=5), encoder=Encoder(), decoder=Decoder()),
             "vamp": lambda: VAMP(VAMPConfig(**common, number_components=500), encoder=Encoder(),
                                  decoder=Decoder())}[model]()
    train = DynamicBinarization(torch.from_numpy(x_train), torch.zeros(len(x_train)))
    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=LR, optimizer_cls="Adam",
                                   per_device_train_batch_size=BATCH, no_cuda=True, seed=seed)
        trainer = BaseTrainer(built, train_dataset=train, training_config=config)
        start = time.perf_counter()
        trainer.train()
        train_s = time.perf_counter() - start
    built.eval()
    x = torch.from_numpy(x_test)
    with torch.no_grad():  # per image, for the standard error (get_nll loops over the images itself)
        each = np.array([built.get_nll(x[i:i + 1], n_samples=k, batch_size=min(k, 1000)) for i in range(len(x))])
    return {"train_s": train_s, "log_px": float(each.mean()), "log_px_se": float(each.std(ddof=1) / np.sqrt(len(each))),
            "estimator": "pythae get_nll (importance sampling from q(z|x))"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", choices=("ours", "pythae"), required=True)
    ap.add_argument("--model", choices=tuple(PROTOCOLS), required=True)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--k", type=int, default=5000)
    ap.add_argument("--test-examples", type=int, default=10_000)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    run = ours if args.library == "ours" else pythae
    out = run(args.model, args.epochs, args.k, args.test_examples, args.data_dir, args.seed)
    out.update(library=args.library, model=args.model, epochs=args.epochs, k=args.k, n=args.test_examples,
               samples_per_s=args.epochs * 60_000 / out["train_s"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
