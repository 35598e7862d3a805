"""Bad input, round 3 (issue 32), items 10, 11 and 15: trainer.load_model and the VAEModel it gives check what
they are handed (a path, a device, images, labels, latent points, a count) and say in one line what they expected,
instead of a torch traceback; the module is in eval mode, as the docs promise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import trainer
from trainer.errors import VaeExplorerError


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A VAE of 28x28 sprites (latent_dim 3) and a CVAE of two classes of 8x8 images (latent_dim 2), one epoch."""
    folder = tmp_path_factory.mktemp("model")
    sprites = trainer.load_dataset("sprites", n=300, image_size=28)
    trainer.Run(sprites, out=folder / "vae.h5", epochs=1, latent_dim=3, hidden=(16,)).train()
    rng = np.random.default_rng(0)
    np.savez(folder / "two.npz", x=(rng.random((200, 1, 8, 8)) < 0.3).astype(np.uint8) * 255, y=np.arange(200) % 2)
    trainer.Run(trainer.load_dataset(folder / "two.npz"), out=folder / "cvae.h5", conditional=True, epochs=1,
                latent_dim=2, hidden=(16,)).train()
    return {"vae": folder / "vae.h5", "cvae": folder / "cvae.h5"}


@pytest.fixture(scope="module")
def vae(models):
    return trainer.load_model(models["vae"])


@pytest.fixture(scope="module")
def cvae(models):
    return trainer.load_model(models["cvae"])


def _refused(error, call, *expected: str) -> str:
    with pytest.raises(error) as err:
        call()
    text = str(err.value)
    assert "\n" not in text
    for part in expected:
        assert part in text, text
    return text


def test_load_model_gives_a_module_in_eval_mode(vae):
    assert vae.training is False
    assert not any(module.training for module in vae.modules())


@pytest.mark.parametrize("path", [12345, None, 3.5, b"run.h5", ["run.h5"], ""])
def test_load_model_refuses_what_is_no_path(path):
    _refused(trainer.ConfigError, lambda: trainer.load_model(path), "load_model: ")


@pytest.mark.parametrize("device", ["tpu", "CPU", 0, None])
def test_load_model_refuses_a_device_it_does_not_know(models, device):
    _refused(trainer.ConfigError, lambda: trainer.load_model(models["vae"], device=device),
             "load_model: device must be one of auto, cpu, cuda, mps, got ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_load_model_refuses_cuda_without_a_gpu(models):
    _refused(trainer.ConfigError, lambda: trainer.load_model(models["vae"], device="cuda"),
             "load_model: device cuda requested but no CUDA GPU is available")


GOOD = np.zeros((3, 1, 28, 28), np.uint8)


@pytest.mark.parametrize("x, expected", [
    (GOOD[0], "encode: expected images (N, 1, 28, 28), uint8 0..255 or float in [0, 1], got shape (1, 28, 28)"),
    (np.zeros((3, 28, 28), np.uint8), "got shape (3, 28, 28)"),
    (np.zeros((2, 3, 28, 28), np.float32), "got shape (2, 3, 28, 28)"),
    (torch.zeros(2, 1, 14, 14), "got shape (2, 1, 14, 14)"),
    (GOOD.astype(np.int64), "got dtype int64"),
    (torch.zeros(2, 1, 28, 28, dtype=torch.int64), "got dtype torch.int64"),
    (GOOD.astype(bool), "got dtype bool"),
    (np.full((2, 1, 28, 28), np.nan, np.float32), "encode: the images have NaN"),
    (torch.full((2, 1, 28, 28), math.inf), "encode: the images have infinite values"),
    (np.full((2, 1, 28, 28), 255.0, np.float32), "encode: float images must be in [0, 1], got values in [255, 255]"),
])
def test_encode_refuses_images_it_cannot_take(vae, x, expected):
    _refused(trainer.DataError, lambda: vae.encode(x), expected)


def test_an_unconditional_vae_refuses_labels(vae):
    _refused(trainer.ConfigError, lambda: vae.encode(GOOD, y=1), "encode: this VAE is not conditional")


@pytest.mark.parametrize("y, expected", [
    (5000, "labels must be in 0..1 (the classes this VAE was trained on), got 5000"),
    (-1, "labels must be in 0..1 (the classes this VAE was trained on), got -1"),
    (torch.tensor([0, 7]), "got 7"),
    (0.5, "y must be integer class labels in 0..1, got dtype float64"),
    (np.array([1.0, 0.0]), "got dtype float64"),
    ([0, 1, 0], "y has 3 labels for 2 inputs (give one label, or one each)"),
    (None, "this is a conditional VAE: give the labels y (0..1)"),
])
def test_a_cvae_refuses_labels_it_was_not_trained_on(cvae, y, expected):
    x = np.zeros((2, 1, 8, 8), np.uint8)
    z = np.zeros((2, 2), np.float32)
    for what, call in (("encode", lambda: cvae.encode(x, y)), ("decode", lambda: cvae.decode(z, y)),
                       ("sample", lambda: cvae.sample(2, y=y))):
        _refused(trainer.ConfigError, call, f"{what}: ", expected)
    assert cvae.sample(2, y=[0, 1], seed=0).shape == (2, 1, 8, 8)  # one label each is right


@pytest.mark.parametrize("z, expected", [
    (torch.zeros(3, 99), "decode: expected z (N, 3) or (3,), got shape (3, 99)"),
    (np.zeros(4), "got shape (1, 4)"),
    (np.zeros((2, 2, 3)), "got shape (2, 2, 3)"),
    (torch.full((2, 3), math.nan), "decode: z has NaN"),
    ([[0.0, math.inf, 0.0]], "decode: z has infinite values"),
    (torch.zeros(2, 3, dtype=torch.bool), "decode: expected z (N, 3) of real numbers, got dtype torch.bool"),
    ([["a", "b", "c"]], "decode: expected z (N, 3) of numbers, got list"),
])
def test_decode_refuses_latent_points_of_the_wrong_shape_or_not_finite(vae, z, expected):
    _refused(trainer.ConfigError, lambda: vae.decode(z), expected)


@pytest.mark.parametrize("n", [-1, 0, 1.5, True, "5", 10**9])
def test_sample_refuses_a_count_that_is_no_count_or_too_many(vae, n):
    _refused(trainer.ConfigError, lambda: vae.sample(n), "sample: n must be a whole number of images in 1..85,598 "
             "(at most 256 MB a call), got ")


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, "0"])
def test_sample_refuses_a_seed_that_is_no_seed(vae, seed):
    _refused(trainer.ConfigError, lambda: vae.sample(2, seed=seed), "sample: seed must be None or a whole number")


def test_a_large_sample_is_decoded_in_passes_and_equals_one_pass(vae):
    n = 6000  # more than one pass of 28x28 images
    images = vae.sample(n, seed=3)
    z = torch.randn(n, 3, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(images, vae.decode(z), rtol=0, atol=1e-6)  # the same z, up to BLAS blocking


def test_outputs_that_are_not_finite_are_errors_not_nan(models):
    model = trainer.load_model(models["vae"])
    with torch.no_grad():
        model.net.fc_mu.bias.fill_(math.nan)
        model.net.dec_mlp[-1].bias.fill_(math.inf)
    _refused(VaeExplorerError, lambda: model.encode(GOOD), "encode: the network's mu has NaN")
    _refused(VaeExplorerError, lambda: model.decode(np.zeros((1, 3))), "decode: the network's decoder output has "
             "infinite values")
    _refused(VaeExplorerError, lambda: model.sample(2), "sample: the network's decoder output has infinite values")
