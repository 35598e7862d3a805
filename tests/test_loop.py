"""The Trainer without Qt: learning, determinism, resume, live controls, divergence recovery."""

import threading

import numpy as np
import pytest
import torch

from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data import load_dataset
from trainer.errors import ConfigError
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import DivergedReport, EpochReport, StepReport
from trainer.model.vae import VAE
from trainer.model.objective import negative_elbo


@pytest.fixture(scope="module")
def sprites():
    return load_dataset(DatasetSpec(name="sprites", n=640, image_size=28, seed=3))


@pytest.fixture(scope="module")
def mnist(synthetic_mnist_dir):
    """1,024 of the synthetic digits' 1,080 training images, 120 held out: an IDX pair read as MNIST."""
    return load_dataset(DatasetSpec(name="mnist", data_dir=str(synthetic_mnist_dir), limit=1024))


def small_trainer(dataset, **train_kwargs):
    model_kwargs = train_kwargs.pop("model", {})
    cfg = model_config_for(dataset, hidden=model_kwargs.pop("hidden", (64,)),
                           latent_dim=model_kwargs.pop("latent_dim", 4), **model_kwargs)
    defaults = dict(epochs=2, batch_size=64, lr=1e-3, seed=0, device="cpu", report_every=2)
    defaults.update(train_kwargs)
    return Trainer(cfg, TrainConfig(**defaults), dataset)


def reports(trainer, **kwargs):
    return list(trainer.run(**kwargs))


def test_training_lowers_the_held_out_loss(mnist):
    trainer = small_trainer(mnist, epochs=4, lr=3e-3)
    epochs = [r for r in reports(trainer) if isinstance(r, EpochReport)]
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]
    assert epochs[-1].test_elbo > epochs[0].test_elbo + 5, [e.test_elbo for e in epochs]
    steps = [r for r in trainer.history.column("steps", "step")]
    assert steps[-1] == trainer.step == 4 * trainer.steps_per_epoch
    # the ELBO reported is -(recon + KL), in nats per example, and negative for images
    last = [r for r in trainer.history.arrays()["steps/elbo"]][-1]
    assert last < 0


def test_step_reports_carry_the_terms(sprites):
    trainer = small_trainer(sprites, epochs=1)
    step_reports = [r for r in reports(trainer) if isinstance(r, StepReport)]
    assert step_reports, "no StepReport"
    r = step_reports[-1]
    assert r.elbo == pytest.approx(-(r.recon + r.kl))
    assert r.kl_per_dim.shape == (4,)
    assert r.kl == pytest.approx(float(r.kl_per_dim.sum()), rel=1e-4)
    assert r.samples_per_s > 0 and r.elapsed_s > 0
    # windows end on multiples of report_every (and at the epoch's end)
    assert all(s.step % 2 == 0 or s.epoch_progress == 1.0 for s in step_reports)


def test_same_seed_same_run_other_seed_other_run(sprites):
    a = small_trainer(sprites, epochs=1, seed=7)
    b = small_trainer(sprites, epochs=1, seed=7)
    c = small_trainer(sprites, epochs=1, seed=8)
    for t in (a, b, c):
        reports(t)
    ha, hb, hc = (t.history.arrays()["steps/loss"] for t in (a, b, c))
    np.testing.assert_array_equal(ha, hb)
    assert not np.allclose(ha, hc)


def test_resume_mid_epoch_matches_an_uninterrupted_run(sprites, tmp_path):
    full = small_trainer(sprites, epochs=2, seed=1)
    reports(full)

    first = small_trainer(sprites, epochs=2, seed=1)
    reports(first, max_steps=first.steps_per_epoch + 3)  # stop inside epoch 2
    path = tmp_path / "half.h5"
    save_checkpoint(path, first.checkpoint())
    ckpt = load_checkpoint(path)
    resumed = Trainer(ckpt.model_config, ckpt.train_config, sprites, checkpoint=ckpt)
    assert resumed.step == first.step and resumed.batch_in_epoch == 3
    reports(resumed)

    assert resumed.step == full.step
    for (k, v1), v2 in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(v1, v2), k
    f_hist, r_hist = full.history.arrays(), resumed.history.arrays()
    np.testing.assert_array_equal(f_hist["epochs/test_elbo"], r_hist["epochs/test_elbo"])
    # the report at the very end of training is the same number in both runs
    assert f_hist["steps/loss"][-1] == r_hist["steps/loss"][-1]


def test_live_beta_applies_at_the_next_step_and_is_recorded(sprites):
    trainer = small_trainer(sprites, epochs=2, beta=1.0)
    seen = []
    for r in trainer.run():
        if isinstance(r, StepReport):
            seen.append((r.step, r.beta))
            if r.step == 6:
                trainer.set_beta(4.0)
                trainer.set_lr(5e-4)
    before = [b for s, b in seen if s <= 6]
    after = [b for s, b in seen if s > 6]
    assert set(before) == {1.0} and set(after) == {4.0}
    hist = trainer.history.arrays()
    assert hist["beta_changes/step"].tolist() == [6]
    assert hist["beta_changes/value"].tolist() == [4.0]
    assert trainer.optimizer.param_groups[0]["lr"] == 5e-4
    with pytest.raises(ConfigError):
        trainer.set_beta(-1.0)


def test_warmup_schedule_scales_the_target(sprites):
    trainer = small_trainer(sprites, epochs=1, beta=2.0, beta_schedule="warmup:8")
    betas = {r.step: r.beta for r in trainer.run() if isinstance(r, StepReport)}
    # beta of the last step in each window: step s used factor (s - 1) / 8
    assert betas[2] == pytest.approx(2.0 * 1 / 8)
    assert betas[4] == pytest.approx(2.0 * 3 / 8)
    assert betas[9] == pytest.approx(2.0)  # the epoch's last step (9 of 9) is past the warm-up


def test_free_bits_changes_the_loss_but_not_the_reported_kl(sprites):
    plain = small_trainer(sprites, epochs=1, seed=2)
    fb = small_trainer(sprites, epochs=1, seed=2, free_bits=5.0)
    r1 = next(r for r in plain.run() if isinstance(r, StepReport))
    r2 = next(r for r in fb.run() if isinstance(r, StepReport))
    # same weights and noise for the first window's first step; free bits charge >= 5 nats per dim
    assert r2.loss >= r2.recon + 4 * 5.0 - 1e-3
    assert r1.loss == pytest.approx(r1.recon + r1.kl, rel=1e-5)


def test_pause_resume_stop_from_another_thread(sprites):
    trainer = small_trainer(sprites, epochs=1000)
    got = []
    worker = threading.Thread(target=lambda: got.extend(trainer.run()))
    worker.start()
    try:
        while trainer.step < 4:
            worker.join(0.01)
        trainer.pause()
        worker.join(0.2)
        frozen = trainer.step
        worker.join(0.3)
        assert trainer.step <= frozen + 1  # at most the step in flight finishes
        trainer.resume()
        while trainer.step < frozen + 4:
            worker.join(0.01)
    finally:
        trainer.stop()
        worker.join(10)
    assert not worker.is_alive()
    assert trainer.epoch < 1000


def test_calls_between_steps_run_in_the_training_thread_also_while_paused(sprites):
    trainer = small_trainer(sprites, epochs=1000)
    seen = []

    def probe():  # what a GUI's save does: look at the model while no step is in flight
        seen.append((threading.current_thread().name, trainer.step, trainer.checkpoint().progress["step"]))

    worker = threading.Thread(target=lambda: list(trainer.run()), name="training")
    worker.start()
    try:
        while trainer.step < 4:
            worker.join(0.01)
        trainer.call_between_steps(probe)
        while not seen:
            worker.join(0.01)
        trainer.pause()
        worker.join(0.3)
        paused_at = trainer.step
        trainer.call_between_steps(probe)  # while paused: must not wait for resume
        for _ in range(200):
            if len(seen) == 2:
                break
            worker.join(0.01)
        assert len(seen) == 2 and trainer.paused and trainer.step == paused_at
    finally:
        trainer.stop()
        worker.join(10)
    assert [name for name, _, _ in seen] == ["training", "training"]
    assert all(step == saved for _, step, saved in seen)  # each copy is of one whole step, not of one in flight
    trainer.call_between_steps(probe)  # after run(): waits until someone runs them
    assert len(seen) == 2
    trainer.run_pending_calls()
    assert len(seen) == 3


def test_divergence_restores_the_last_good_weights_and_stops(sprites):
    trainer = small_trainer(sprites, epochs=50, lr=1e6, report_every=1)
    out = reports(trainer)
    diverged = [r for r in out if isinstance(r, DivergedReport)]
    assert len(diverged) == 1, "an absurd learning rate should make the loss non-finite"
    d = diverged[0]
    assert "NaN/Inf" in d.message and d.restored_step < d.step
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert trainer.epoch < 50  # it stopped instead of training on
    assert trainer.history.arrays()["divergences/step"].tolist() == [d.step]


def test_divergence_in_pause_mode_pauses(sprites):
    trainer = Trainer(
        model_config_for(sprites, hidden=(32,), latent_dim=2),
        TrainConfig(epochs=50, batch_size=64, lr=1e6, device="cpu", report_every=1),
        sprites,
        on_divergence="pause",
    )
    for r in trainer.run():
        if isinstance(r, DivergedReport):
            break
    assert trainer.paused


@pytest.mark.parametrize(
    "model",
    [
        dict(arch="conv", hidden=(64,)),
        dict(likelihood="gaussian", sigma=0.0),
        dict(likelihood="gaussian", sigma=0.1),
        dict(conditional=True),
    ],
    ids=["conv28", "gaussian-learned", "gaussian-fixed", "cvae"],
)
def test_architectures_and_likelihoods_train(mnist, model):
    trainer = small_trainer(mnist, epochs=1, model=dict(model))
    epochs = [r for r in reports(trainer) if isinstance(r, EpochReport)]
    assert np.isfinite(epochs[-1].test_elbo)
    assert trainer.model_config.conditional == model.get("conditional", False)
    if model.get("sigma") == 0.0:
        assert trainer.model.log_sigma is not None and trainer.model.log_sigma.item() != 0.0


def test_conv_on_64px_sprites():
    data = load_dataset(DatasetSpec(name="sprites", n=200, image_size=64, seed=1))
    trainer = small_trainer(data, epochs=1, model=dict(arch="conv", hidden=(64,)))
    assert any(isinstance(r, EpochReport) for r in trainer.run())


@pytest.mark.parametrize("side", [28, 32, 36, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_conv_takes_any_square_side_multiple_of_4_from_28_to_128_in_gray_or_colour(side, channels):
    model = VAE(ModelConfig(arch="conv", input_shape=(channels, side, side), hidden=(32,), latent_dim=4))
    x = torch.rand(3, channels, side, side)
    terms = negative_elbo(model, x)
    terms.loss.backward()
    assert model.decode(torch.zeros(3, 4)).shape == x.shape
    assert np.isfinite(terms.loss.item())


@pytest.mark.parametrize("shape", [(1, 30, 30), (1, 24, 24), (1, 132, 132), (3, 32, 64)])
def test_conv_refuses_sides_it_cannot_halve_cleanly(shape):
    with pytest.raises(ConfigError, match="multiple of 4"):
        ModelConfig(arch="conv", input_shape=shape).validate()


def test_conditional_needs_labels(sprites):
    with pytest.raises(ConfigError):
        model_config_for(sprites, conditional=True)


def test_set_epochs_lets_a_finished_run_continue(sprites):
    trainer = small_trainer(sprites, epochs=1)
    reports(trainer)
    assert trainer.finished and trainer.epoch == 1
    trainer.set_epochs(2)
    epochs = [r.epoch for r in reports(trainer) if isinstance(r, EpochReport)]
    assert epochs == [2] and trainer.step == 2 * trainer.steps_per_epoch
    with pytest.raises(ConfigError):
        trainer.set_epochs(-1)
