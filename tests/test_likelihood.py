"""Likelihoods that are what their labels say: binarized data, the continuous Bernoulli, the Gaussian's sigma floor,
and the names ("log p(x)", "log p(x|y)", or not a log-likelihood at all) the numbers get."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import ContinuousBernoulli

from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data.dataset import Dataset
from trainer.errors import ConfigError
from trainer.model.likelihood import LikelihoodMeaning, binarize_fixed, data_is_binary, heldout_for_likelihood
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.model.vae import LOG_SIGMA_FLOOR, VAE, continuous_bernoulli_log_norm, continuous_bernoulli_mean


def grey_dataset(n=300, seed=0) -> Dataset:
    """Smooth grey-level 16x16 blobs as uint8 0..255: most pixels are neither 0 nor 255."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:16, 0:16]
    centres = rng.uniform(4, 12, size=(n, 2))
    x = np.exp(-((yy[None] - centres[:, 0, None, None]) ** 2 + (xx[None] - centres[:, 1, None, None]) ** 2) / 18)
    x = (x * 255).astype(np.uint8)[:, None]
    y = (centres[:, 0] > 8).astype(np.int64)
    spec = DatasetSpec(name="path", path="grey-blobs.npz")
    return Dataset(spec, x[: n - 60], x[n - 60:], y[: n - 60], y[n - 60:])


def trainer_for(dataset, likelihood="bernoulli", binarize="none", conditional=False, **kwargs):
    cfg = model_config_for(dataset, conditional=conditional, hidden=(32,), latent_dim=2, likelihood=likelihood)
    train = dict(epochs=2, batch_size=40, lr=2e-3, seed=3, device="cpu", report_every=3, binarize=binarize)
    train.update(kwargs)
    return Trainer(cfg, TrainConfig(**train), dataset)


# --- the continuous Bernoulli ---------------------------------------------------------------------------


def test_continuous_bernoulli_matches_torch_and_integrates_to_one():
    logits = torch.tensor([-8.0, -2.0, -0.3, -0.004, 0.0, 0.002, 0.05, 1.0, 6.0], dtype=torch.float64)
    x = torch.tensor(0.37, dtype=torch.float64)
    ours = (continuous_bernoulli_log_norm(logits)
            - F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none"))
    reference = ContinuousBernoulli(logits=logits)
    torch.testing.assert_close(ours, reference.log_prob(x), atol=1e-8, rtol=0)
    torch.testing.assert_close(continuous_bernoulli_mean(logits), reference.mean, atol=1e-8, rtol=0)
    # a density on [0, 1]: exp(log p) integrates to 1 for every logit, including far out where torch clamps
    grid = torch.linspace(0, 1, 100_001, dtype=torch.float64)
    for eta in (-30.0, -0.001, 0.0, 3.0, 40.0):
        eta_t = torch.full_like(grid, eta)
        density = torch.exp(continuous_bernoulli_log_norm(eta_t)
                            - F.binary_cross_entropy_with_logits(eta_t, grid, reduction="none"))
        assert torch.trapezoid(density, grid).item() == pytest.approx(1.0, abs=1e-4), eta


def test_continuous_bernoulli_trains_and_its_decoded_mean_is_its_expectation():
    dataset = grey_dataset()
    trainer = trainer_for(dataset, likelihood="continuous-bernoulli")
    list(trainer.run())
    assert all(math.isfinite(v) for v in trainer.history.arrays()["steps/loss"])
    logits = trainer.model.decode(torch.zeros(1, 2))
    assert torch.allclose(trainer.model.mean_image(logits), continuous_bernoulli_mean(logits).clamp(0, 1))
    assert not torch.allclose(trainer.model.mean_image(logits), torch.sigmoid(logits))


# --- the Gaussian's sigma floor ----------------------------------------------------------------------------


def test_a_learned_gaussian_sigma_is_soft_clipped_at_the_floor():
    model = VAE(ModelConfig(input_shape=(1, 4, 4), hidden=(8,), latent_dim=2, likelihood="gaussian", sigma=0.0))
    with torch.no_grad():
        model.log_sigma.fill_(-40.0)  # what an unfloored sigma drifts toward on near-perfect reconstructions
    assert model.obs_log_sigma().item() == pytest.approx(LOG_SIGMA_FLOOR, abs=1e-6)
    x = torch.full((1, 1, 4, 4), 0.5)
    ll = model.log_likelihood(x, x.clone())  # a perfect reconstruction: log p = 16 * (-log sigma - log 2pi / 2)
    assert ll.item() == pytest.approx(16 * (-LOG_SIGMA_FLOOR - 0.5 * math.log(2 * math.pi)), rel=1e-5)
    with torch.no_grad():
        model.log_sigma.fill_(0.0)
    assert model.obs_log_sigma().item() == pytest.approx(0.0, abs=3e-3)  # far above the floor: barely changed


# --- binarization ----------------------------------------------------------------------------------------


def test_static_binarization_is_one_sample_from_the_seed_kept_across_resume(tmp_path):
    dataset = grey_dataset()
    a = trainer_for(dataset, binarize="static")
    assert data_is_binary(a.x_train.numpy()) and not data_is_binary(dataset.x_train)
    # a Bernoulli(x) sample: brighter pixels come out white more often
    bright = dataset.x_train > 200
    assert a.x_train.numpy()[bright].mean() > 200 and a.x_train.numpy()[dataset.x_train < 30].mean() < 40
    list(a.run(max_steps=5))
    save_checkpoint(tmp_path / "s.h5", a.checkpoint())
    ckpt = load_checkpoint(tmp_path / "s.h5")
    resumed = Trainer(ckpt.model_config, ckpt.train_config, dataset, checkpoint=ckpt)
    assert torch.equal(resumed.x_train, a.x_train)
    other_seed = trainer_for(dataset, binarize="static", seed=4)
    assert not torch.equal(other_seed.x_train, a.x_train)


def test_dynamic_binarization_draws_fresh_bits_every_batch_and_resumes_exactly(tmp_path):
    grey = np.full((120, 1, 16, 16), 128, np.uint8)  # every image the same mid grey
    same = Dataset(DatasetSpec(name="path", path="grey.npz"), grey[:80], grey[80:], None, None)
    trainer = trainer_for(same, binarize="dynamic", epochs=1)
    seen = []
    original = trainer.model.forward
    trainer.model.forward = lambda x, y=None, eps=None: (seen.append(x.detach().clone()), original(x, y, eps))[1]
    list(trainer.run())
    assert set(torch.unique(seen[0]).tolist()) == {0.0, 1.0}
    assert seen[0].mean().item() == pytest.approx(0.5, abs=0.05)  # Bernoulli(128/255)
    assert not torch.equal(seen[0], seen[1])  # the same grey images, other bits: a fresh sample per batch

    dataset = grey_dataset()
    full = trainer_for(dataset, binarize="dynamic", epochs=2)
    list(full.run())
    part = trainer_for(dataset, binarize="dynamic", epochs=2)
    list(part.run(max_steps=full.steps_per_epoch + 2))
    save_checkpoint(tmp_path / "d.h5", part.checkpoint())
    ckpt = load_checkpoint(tmp_path / "d.h5")
    resumed = Trainer(ckpt.model_config, ckpt.train_config, dataset, checkpoint=ckpt)
    list(resumed.run())
    np.testing.assert_array_equal(resumed.history.arrays()["steps/loss"], full.history.arrays()["steps/loss"])


def test_the_held_out_set_is_one_fixed_binarized_sample_when_training_binarizes():
    dataset = grey_dataset()
    config = TrainConfig(binarize="dynamic", seed=3)
    a, b = heldout_for_likelihood(dataset, config), heldout_for_likelihood(dataset, config)
    np.testing.assert_array_equal(a, b)
    assert data_is_binary(a)
    assert heldout_for_likelihood(dataset, TrainConfig()) is dataset.x_test
    np.testing.assert_array_equal(binarize_fixed(np.full((3, 5), 255, np.uint8), 0), np.full((3, 5), 255))
    np.testing.assert_array_equal(binarize_fixed(np.zeros((3, 5), np.float32), 0), np.zeros((3, 5)))


def test_binarize_must_be_one_of_the_three_settings():
    with pytest.raises(ConfigError, match="binarize"):
        TrainConfig(binarize="yes").validate()


# --- what the numbers are called ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "likelihood, binarize, binary_data, conditional, normalized, marginal",
    [
        ("bernoulli", "none", False, False, False, "cross-entropy bound on grey levels"),
        ("bernoulli", "dynamic", False, False, True, "log p(x)"),
        ("bernoulli", "static", False, True, True, "log p(x|y)"),
        ("bernoulli", "none", True, False, True, "log p(x)"),
        ("continuous-bernoulli", "none", False, False, True, "log p(x)"),
        ("gaussian", "none", False, True, True, "log p(x|y)"),
    ],
)
def test_log_px_is_named_so_only_under_a_normalized_likelihood(likelihood, binarize, binary_data, conditional,
                                                              normalized, marginal):
    x = np.array([[0, 255], [255, 0]], np.uint8) if binary_data else np.array([[0, 128], [255, 3]], np.uint8)
    meaning = LikelihoodMeaning.of(ModelConfig(likelihood=likelihood, num_classes=10 if conditional else 0),
                                   TrainConfig(binarize=binarize), x)
    assert (meaning.normalized, meaning.marginal) == (normalized, marginal)
    assert bool(meaning.note) is not normalized
    assert ("lower bound on" in meaning.elbo_name) is normalized
