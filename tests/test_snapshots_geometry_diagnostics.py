"""trainer.analysis.snapshots, .geometry, .diagnostics: decoder snapshots, held-out encodings, stable PCA, traversals,
interpolation, collapse, RD line.

No Qt here. Numbers are checked against the model itself (decode == mean_image(decode)) or closed forms.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from trainer.analysis.moments import RunTimeline
import torch

from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data import load_dataset
from trainer.analysis.diagnostics import Cancelled, collapse_state, estimate_log_px, variance_describes
from trainer.analysis.geometry import StablePCA, interpolate, prior_contour, rd_line, traversal_grid, traversal_latents
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.model.vae import VAE
from trainer.analysis.publishing import ExplorePublisher, latent_interval
from trainer.analysis.snapshots import (
    DecoderSnapshot,
    LatentSnapshot,
    PreviewImages,
    encode_heldout,
    preview_images,
    prior_samples,
    reconstructions,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sprites():
    return load_dataset(DatasetSpec(name="sprites", n=500, image_size=28))


def trained(dataset, beta: float, steps: int = 150, latent_dim: int = 4) -> Trainer:
    trainer = Trainer(model_config_for(dataset, latent_dim=latent_dim, hidden=(64,)),
                      TrainConfig(epochs=1000, batch_size=32, beta=beta, lr=3e-3, device="cpu"), dataset)
    for _ in trainer.run(max_steps=steps):
        pass
    return trainer


@pytest.fixture(scope="module")
def healthy(sprites):
    return trained(sprites, beta=1.0)


@pytest.fixture(scope="module")
def collapsed(sprites):
    return trained(sprites, beta=50.0)


def reference_model(latent_dim: int = 20) -> VAE:
    torch.manual_seed(0)
    return VAE(ModelConfig(latent_dim=latent_dim))  # the reference 784-400-20 MLP


# --- the layering ---------------------------------------------------------------------------------
def test_importing_snapshots_geometry_and_diagnostics_loads_neither_torch_nor_qt():
    code = ("import sys, trainer.analysis.snapshots, trainer.analysis.geometry, trainer.analysis.diagnostics; "
            "bad = {'torch', 'PySide6', 'pyqtgraph'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# --- DecoderSnapshot ------------------------------------------------------------------------------
def test_snapshot_decodes_exactly_like_the_model():
    model = reference_model()
    snap = DecoderSnapshot.from_model(model, step=7)
    z = np.random.default_rng(0).standard_normal((5, 20)).astype(np.float32)
    with torch.no_grad():
        expected = model.mean_image(model.decode(torch.from_numpy(z))).numpy()
    images = snap.decode(z)  # 5 points: the numpy path of an MLP decoder
    assert images.shape == (5, 1, 28, 28) and images.dtype == np.float32
    np.testing.assert_allclose(images, expected, atol=1e-5)
    assert images.min() >= 0 and images.max() <= 1 and snap.step == 7
    np.testing.assert_allclose(snap.decode(z[0]), expected[:1], atol=1e-5)  # one point as a 1-D z
    np.testing.assert_allclose(snap.decode_torch(z), expected, atol=1e-6)
    many = np.repeat(z, 4, axis=0)  # 20 points: the torch path
    np.testing.assert_allclose(snap.decode(many), np.repeat(expected, 4, axis=0), atol=1e-6)


@pytest.mark.parametrize("config", [
    ModelConfig(arch="conv", latent_dim=3),
    ModelConfig(latent_dim=3, likelihood="gaussian", hidden=(32, 16)),
    ModelConfig(latent_dim=3, num_classes=4),
])
def test_snapshot_decodes_every_architecture_like_the_model(config):
    torch.manual_seed(2)
    model = VAE(config)
    snap = DecoderSnapshot.from_model(model)
    z = 2 * np.random.default_rng(1).standard_normal((3, 3)).astype(np.float32)
    y = torch.tensor([1, 1, 1]) if config.conditional else None
    with torch.no_grad():
        expected = model.mean_image(model.decode(torch.from_numpy(z), y)).numpy()
    np.testing.assert_allclose(snap.decode(z, y=1 if config.conditional else None), expected, atol=1e-5)


def test_snapshot_is_a_copy_that_training_does_not_touch():
    model = reference_model()
    snap = DecoderSnapshot.from_model(model)
    z = np.zeros((1, 20), np.float32)
    before = snap.decode(z)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # what an optimizer step does to the live weights
    np.testing.assert_array_equal(snap.decode(z), before)
    assert all(not arr.flags.writeable for arr in snap.state.values())
    with pytest.raises(ValueError):
        snap.decode(np.zeros((1, 3)))


def test_snapshot_from_a_checkpoint_state_and_the_conditional_label():
    torch.manual_seed(1)
    model = VAE(ModelConfig(latent_dim=3, num_classes=4))
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    snap = DecoderSnapshot.from_state(model.config, state, step=3)
    z = np.ones((2, 3), np.float32)
    with torch.no_grad():
        expected = model.mean_image(model.decode(torch.from_numpy(z), torch.tensor([2, 2]))).numpy()
    np.testing.assert_allclose(snap.decode(z, y=2), expected, atol=1e-6)
    assert not np.allclose(snap.decode(z, y=0), expected, atol=1e-4)  # the label is really used


def test_one_point_decodes_in_well_under_5_ms():
    snap = DecoderSnapshot.from_model(reference_model())
    z = np.zeros((1, 20), np.float32)
    for _ in range(20):
        snap.decode(z)  # warm-up: the module is built on first use
    times = []
    for i in range(200):
        z[0, i % 20] = i / 100
        t0 = time.perf_counter()
        snap.decode(z)
        times.append(time.perf_counter() - t0)
    assert np.median(times) < 0.005, f"median decode {np.median(times) * 1e3:.2f} ms"


def test_reconstructions_agree_between_live_model_and_snapshot(healthy, sprites):
    x = sprites.x_test[:6]
    live = reconstructions(healthy.model, x)
    snap = reconstructions(DecoderSnapshot.from_model(healthy.model), x)
    np.testing.assert_allclose(live, snap, atol=1e-5)
    assert healthy.model.training, "the trainer's model must be back in train mode"
    # a trained model reconstructs better than a flat grey image
    target = x.astype(np.float32) / 255
    assert np.mean((live - target) ** 2) < np.mean((target.mean() - target) ** 2)


# --- held-out encodings ---------------------------------------------------------------------------
def test_encode_heldout_covers_the_whole_split_with_its_ground_truth(healthy, sprites):
    snap = encode_heldout(healthy.model, sprites, "cpu", step=healthy.step)
    n = len(sprites.x_test)
    assert isinstance(snap, LatentSnapshot) and len(snap) == n and snap.mu.shape == (n, 4)
    assert snap.mu.dtype == np.float32 and snap.logvar.shape == (n, 4)
    np.testing.assert_array_equal(snap.indices, np.arange(n))
    assert snap.x.shape == sprites.x_test.shape and not snap.x.flags.writeable
    np.testing.assert_array_equal(snap.factors, sprites.factors_test)
    assert snap.factor_names == sprites.factor_names and snap.labels is None
    # per-dim KL against torch.distributions, independently of the engine's closed form
    q = torch.distributions.Normal(torch.from_numpy(snap.mu).double(),
                                   torch.exp(0.5 * torch.from_numpy(snap.logvar).double()))
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).mean(0).numpy()
    np.testing.assert_allclose(snap.kl_per_dim, kl, rtol=1e-5)
    np.testing.assert_allclose(snap.mu_variance, snap.mu.astype(np.float64).var(0), rtol=1e-6)
    assert snap.rate == pytest.approx(kl.sum())
    part = encode_heldout(healthy.model, sprites, "cpu", max_points=10)
    assert len(part) == 10 and len(np.unique(part.indices)) == 10
    np.testing.assert_array_equal(part.x, sprites.x_test[part.indices])
    np.testing.assert_allclose(part.mu, snap.mu[part.indices], atol=1e-5)


# --- StablePCA ------------------------------------------------------------------------------------
def _cloud(seed: int = 0, n: int = 2000, d: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scales = np.array([3.0, 1.5, 0.5, 0.3, 0.2, 0.1])[:d]
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (rng.standard_normal((n, d)) * scales) @ basis.T


def test_pca_finds_the_two_widest_directions():
    mu = _cloud()
    pca = StablePCA()
    xy = pca.project(mu)
    np.testing.assert_allclose(pca.axes @ pca.axes.T, np.eye(2), atol=1e-9)
    var = xy.var(0)
    assert var[0] == pytest.approx(9.0, rel=0.1) and var[1] == pytest.approx(2.25, rel=0.1)
    assert pca.explained.sum() < 1 and pca.explained[0] > pca.explained[1]


def test_pca_refit_on_perturbed_data_stays_put():
    mu = _cloud()
    pca = StablePCA()
    first = pca.project(mu)
    noisy = mu + np.random.default_rng(5).normal(scale=0.05, size=mu.shape)
    second = pca.project(noisy)
    drift = np.sqrt(((second - first) ** 2).sum(1)).mean()
    assert drift < 0.15, f"points moved {drift:.3f} on average"


def test_pca_corrects_sign_flips_and_axis_swaps():
    mu = _cloud()
    pca = StablePCA()
    first = pca.project(mu)
    # an eigensolver is free to return -v: feed a fit whose raw axes are flipped and swapped
    fresh = StablePCA().fit(mu)
    pca.axes = np.stack([-fresh[1], fresh[0]])  # what the old picture would be if it had come out that way
    old = pca.transform(mu)
    new = pca.project(mu)  # refit: must land on the old orientation, not the eigensolver's
    np.testing.assert_allclose(new, old, atol=1e-4)
    assert not np.allclose(new, first, atol=1e-2)  # the stored orientation won, not a fresh fit's
    pca.axes = fresh * np.array([[1.0], [-1.0]])  # a reflection: PC2 came out negated
    old = pca.transform(mu)
    np.testing.assert_allclose(pca.project(mu), old, atol=1e-4)


def test_pca_projects_the_prior_to_a_unit_circle_and_lifts_back():
    pca = StablePCA()
    pca.fit(_cloud())
    samples = np.random.default_rng(2).standard_normal((20000, 6))
    xy = pca.transform(samples)
    assert np.cov(xy.T) == pytest.approx(np.eye(2), abs=0.05)  # N(0, I) -> N(0, I_2): circles stay circles
    z = np.arange(6, dtype=np.float32) / 10
    lifted = pca.lift(z, (1.0, -2.0))
    np.testing.assert_allclose(pca.transform(lifted[None])[0], (1.0, -2.0), atol=1e-5)
    residual = lifted - z  # moved only within the PCA plane
    np.testing.assert_allclose(residual - pca.axes.T @ (pca.axes @ residual), 0, atol=1e-6)


def test_prior_contour_is_a_closed_circle_of_the_radius():
    ring = prior_contour(2.0)
    np.testing.assert_allclose(np.hypot(ring[:, 0], ring[:, 1]), 2.0)
    np.testing.assert_allclose(ring[0], ring[-1], atol=1e-12)


# --- traversals and interpolation -----------------------------------------------------------------
def test_traversal_changes_only_the_chosen_dimension():
    z0 = np.linspace(-1, 1, 5).astype(np.float32)
    values = np.linspace(-3, 3, 7)
    lat = traversal_latents(z0, [1, 4], values)
    assert lat.shape == (2, 7, 5)
    for r, d in enumerate([1, 4]):
        np.testing.assert_allclose(lat[r, :, d], values, atol=1e-6)
        others = np.delete(lat[r], d, axis=1)
        np.testing.assert_array_equal(others, np.broadcast_to(np.delete(z0, d), others.shape))


def test_traversal_grid_decodes_those_latents():
    model = reference_model(latent_dim=5)
    snap = DecoderSnapshot.from_model(model)
    z0 = np.zeros(5, np.float32)
    grid = traversal_grid(snap, z0, [0, 2], np.linspace(-3, 3, 4))
    assert grid.shape == (2, 4, 1, 28, 28)
    np.testing.assert_allclose(grid[1, 0], snap.decode(np.array([[0, 0, -3, 0, 0]], np.float32))[0], atol=1e-6)
    assert not np.allclose(grid[0, 0], grid[0, -1])  # moving a dimension changes the picture


def test_linear_interpolation_hits_both_ends_evenly():
    a, b = np.array([0.0, 2.0]), np.array([4.0, -2.0])
    path = interpolate(a, b, 5, "linear")
    np.testing.assert_allclose(path[0], a)
    np.testing.assert_allclose(path[-1], b)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((b - a) / 4, (4, 1)), atol=1e-6)


def test_slerp_keeps_unit_vectors_on_the_sphere():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 16))
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    path = interpolate(a, b, 11, "slerp")
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 1.0, atol=1e-5)
    angles = np.arccos(np.clip((path[:-1] * path[1:]).sum(1), -1, 1))
    np.testing.assert_allclose(angles, angles[0], atol=1e-4)  # constant angular speed
    assert np.linalg.norm(interpolate(a, b, 11, "linear")[5]) < 0.99  # what linear does: cuts inside
    # parallel endpoints fall back to linear instead of dividing by sin(0)
    np.testing.assert_allclose(interpolate(a, 2 * a, 3, "slerp")[1], 1.5 * a, atol=1e-6)
    with pytest.raises(ValueError):
        interpolate(a, b, 5, "cubic")


def test_prior_samples_repeat_for_a_seed():
    snap = DecoderSnapshot.from_model(reference_model())
    first = prior_samples(snap, 4, seed=11)
    np.testing.assert_array_equal(first, prior_samples(snap, 4, seed=11))
    assert first.shape == (4, 1, 28, 28) and not np.allclose(first, prior_samples(snap, 4, seed=12))


def test_preview_images_from_the_live_model_match_the_snapshot(healthy, sprites):
    x = sprites.x_test[:4]
    live = preview_images(healthy.model, x, n_samples=6, seed=2, step=healthy.step)
    snap = preview_images(DecoderSnapshot.from_model(healthy.model), x, n_samples=6, seed=2)
    assert isinstance(live, PreviewImages) and live.samples.shape == (6, 1, 28, 28)
    np.testing.assert_allclose(live.inputs, x / 255.0, atol=1e-7)
    np.testing.assert_allclose(live.recons, snap.recons, atol=1e-5)
    np.testing.assert_allclose(live.samples, snap.samples, atol=1e-5)


# --- collapse and the RD line ---------------------------------------------------------------------
def test_collapse_flagged_for_a_huge_beta_and_not_for_beta_one(healthy, collapsed, sprites):
    bad = encode_heldout(collapsed.model, sprites, "cpu")
    state = collapse_state(bad.kl_per_dim, bad.mu_variance)
    assert state.collapsed and state.n_active == 0 and state.measure == "variance"
    assert state.rate < 0.05
    good = encode_heldout(healthy.model, sprites, "cpu")
    state = collapse_state(good.kl_per_dim, good.mu_variance)
    assert not state.collapsed and state.n_active >= 2 and state.rate > 1.0
    # the per-dim KL rule alone (live reports carry no mu variance) agrees
    assert collapse_state(bad.kl_per_dim).collapsed and not collapse_state(good.kl_per_dim).collapsed


def test_collapse_state_rules():
    state = collapse_state([0.5, 0.001, 2.0])
    np.testing.assert_array_equal(state.active, [True, False, True])
    assert state.n_active == 2 and state.measure == "kl" and not state.collapsed
    # KL paid for a posterior variance != 1 while the mean ignores x: inactive by Burda's measure
    state = collapse_state([0.3, 0.3], mu_variance=[1e-4, 1e-4])
    assert state.n_active == 0 and state.collapsed
    # a young encoder: means that ignore x, but far from the prior's (seen at step 40 on sprites), is not
    # q(z|x) ≈ p(z): no false alarm in the first seconds of every run
    young = collapse_state([0.3, 0.1, 5.2, 0.2, 8.3, 0.0, 5.7, 3.8], mu_variance=[1e-4] * 8)
    assert young.n_active == 0 and young.rate > 8 and not young.collapsed
    assert collapse_state([0.001] * 3).collapsed
    assert not collapse_state([]).collapsed


def test_rd_line_is_the_iso_loss_line_through_the_point():
    r, d = rd_line(rate=10.0, distortion=100.0, beta=2.5, r_range=(0.0, 30.0))
    np.testing.assert_allclose(r, [0.0, 30.0])
    np.testing.assert_allclose(d + 2.5 * r, 100.0 + 2.5 * 10.0)  # constant loss along it
    assert (d[1] - d[0]) / (r[1] - r[0]) == pytest.approx(-2.5)


# --- the ELBO gap ---------------------------------------------------------------------------------
def test_iwae_gap_is_nonnegative_and_grows_tighter_with_k(healthy, sprites):
    snap = DecoderSnapshot.from_model(healthy.model, step=healthy.step)
    calls = []
    one = estimate_log_px(snap, sprites.x_test, k=1, n=40, seed=0)
    many = estimate_log_px(snap, sprites.x_test, k=64, n=40, seed=0, progress=lambda d, t: calls.append((d, t)))
    # K=1 is the ELBO itself, up to the noise of two independent one-sample estimates
    assert abs(one["gap"]) < 0.1 * abs(one["elbo"])
    assert many["gap"] > 0 and many["log_px"] > one["log_px"]
    assert many["log_px"] == pytest.approx(many["elbo"] + many["gap"])
    assert many["n"] == 40 and many["k"] == 64 and many["step"] == healthy.step
    assert calls and calls[-1] == (40, 40) and len(calls) > 1


def test_iwae_estimate_can_be_cancelled(healthy, sprites):
    snap = DecoderSnapshot.from_model(healthy.model)
    stop = threading.Event()
    with pytest.raises(Cancelled):
        estimate_log_px(snap, sprites.x_test, k=64, progress=lambda d, t: stop.set(), should_stop=stop.is_set)


# --- the publisher --------------------------------------------------------------------------------
def test_publisher_sends_everything_first_then_only_what_is_due(sprites):
    trainer = Trainer(model_config_for(sprites, latent_dim=3, hidden=(32,)),
                      TrainConfig(epochs=100, batch_size=32, device="cpu"), sprites)
    pub = ExplorePublisher(decoder_interval_s=3600, preview_interval_s=3600, latent_every=20, n_preview=5, n_samples=7)
    kinds = lambda items: sorted(type(i).__name__ for i in items)  # noqa: E731
    first = pub.poll(trainer)
    assert kinds(first) == ["DecoderSnapshot", "LatentSnapshot", "PreviewImages", "RunTimeline"]
    preview = next(i for i in first if isinstance(i, PreviewImages))
    assert preview.inputs.shape == (5, 1, 28, 28) and preview.samples.shape == (7, 1, 28, 28)
    assert pub.poll(trainer) == []  # nothing is due
    for _ in trainer.run(max_steps=20):
        pass
    items = pub.poll(trainer)  # 20 steps later: held-out encoding, with the decoder of the same step
    assert kinds(items) == ["DecoderSnapshot", "LatentSnapshot", "RunTimeline"]  # and the snapshots kept since
    assert {i.step for i in items if not isinstance(i, RunTimeline)} == {20}
    timeline = next(i for i in items if isinstance(i, RunTimeline))
    assert timeline.steps == (0, 1, 2, 3, 4, 5, 7, 9, 12, 15, 19)
    pub.set_latent_every(0)
    for _ in trainer.run(max_steps=20):
        pass
    assert kinds(pub.poll(trainer)) == ["RunTimeline"]  # snapshots at 24, 30 and 38: the timeline is all that is due
    assert pub.poll(trainer) == []
    pub.request_latents()  # "Refresh now" from the GUI thread
    assert kinds(pub.poll(trainer)) == ["DecoderSnapshot", "LatentSnapshot"]
    # the same step: no second copy of the decoder; the timeline again, for a view that showed another run
    assert kinds(pub.poll(trainer, force=True)) == ["LatentSnapshot", "PreviewImages", "RunTimeline"]


def test_an_encoding_of_a_much_younger_model_does_not_judge_the_live_one():
    """Right after the start the held-out set is encoded at the first report, μ still near their initial
    values: that Var_x(μ) called every unit inactive and the window warned of a collapse while the rate rose."""
    assert variance_describes(500, 900) and variance_describes(10, 20) and variance_describes(None, 120)
    assert not variance_describes(10, 120) and not variance_describes(400, 1000)


def test_held_out_encodings_come_twice_as_often_while_the_model_is_young():
    steps, last = [], 10
    while last < 3000:
        last += latent_interval(last, 500)
        steps.append(last)
    assert steps[:7] == [20, 40, 80, 160, 320, 640, 1140]  # doubling, then every 500
    assert latent_interval(2256, 500) == 500 and latent_interval(0, 500) == 1  # a resumed run: the plain interval
