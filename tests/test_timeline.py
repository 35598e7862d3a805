"""The timeline of a run: snapshots kept while training, in the checkpoint, and a moment loaded back."""

import h5py
import numpy as np
import pytest
import torch

import trainer
from trainer.checkpoints.hdf5 import load_checkpoint, read_info, save_checkpoint
from trainer.errors import CheckpointError, ConfigError
from trainer.training.opening import open_trainer
from trained_runs import trained
from trainer.training.snapshot_keeper import SnapshotKeeper, ladder_after

SMALL = dict(latent_dim=3, hidden=(32,), batch_size=50)  # 540 training sprites at batch 50: 11 steps an epoch
EPOCH = 11


@pytest.fixture(scope="module")
def data():
    return trainer.load_dataset("sprites", n=600, image_size=28)


def state_of(model) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def test_the_ladder_is_dense_early_and_geometric_later():
    steps, s = [], 0
    while s < 100:
        s = ladder_after(s)
        steps.append(s)
    assert steps[:10] == [1, 2, 3, 4, 5, 7, 9, 12, 15, 19]
    assert all(b / a <= 1.25 + 1 / a for a, b in zip(steps, steps[1:]))


def test_a_run_keeps_step_zero_the_ladder_and_every_epoch_end_and_each_is_the_model_of_its_step(data):
    run = open_trainer(data, epochs=3, **SMALL)
    seen = {0: state_of(run.model)}
    while not run.finished:  # one step at a time: the weights after each step, to compare with the snapshots
        for _ in run.run(max_steps=1):
            pass
        seen[run.step] = state_of(run.model)
    timeline = run.checkpoint().timeline
    assert run.steps_per_epoch == EPOCH
    ladder = [0, 1, 2, 3, 4, 5, 7, 9, 12, 15, 19, 24, 30]
    assert list(timeline.steps) == sorted(set(ladder) | {EPOCH, 2 * EPOCH, 3 * EPOCH})
    assert list(timeline.epochs[timeline.steps == EPOCH]) == [1.0] and timeline.epochs[-1] == 3.0
    assert timeline.epochs[timeline.steps == 12] == pytest.approx(12 / EPOCH)
    for i, step in enumerate(timeline.steps):
        for key, value in timeline.state(i).items():
            np.testing.assert_allclose(value, seen[int(step)][key], rtol=2e-3, atol=1e-4)  # half precision
    assert all(w.dtype == np.float16 for w in timeline.weights.values())


def test_the_budget_thins_the_densest_keeping_the_first_and_the_last(data):
    run = trained(data, epochs=20, snapshots=8, **SMALL)
    steps = run.checkpoint().timeline.steps
    assert len(steps) == 8 and steps[0] == 0 and steps[-1] == run.step == 20 * EPOCH
    assert steps[1] <= EPOCH, "the start stays dense"
    assert np.max(np.diff(steps)) < 10 * EPOCH, "and the late epochs are not left empty"
    size = 2 * sum(v.numel() for v in run.model.state_dict().values())
    run_mb = trained(data, epochs=2, snapshot_mb=3.5 * size / 1e6, **SMALL)
    assert len(run_mb.checkpoint().timeline) == 3


def test_a_resumed_run_keeps_the_snapshots_of_the_uninterrupted_one(data, tmp_path):
    whole = trained(data, epochs=4, snapshots=10, **SMALL)
    half = open_trainer(data, epochs=2, snapshots=10, **SMALL)
    for _ in half.run(max_steps=17):  # stopped inside an epoch
        pass
    save_checkpoint(tmp_path / "half.h5", half.checkpoint())
    resumed = trained(data, checkpoint=load_checkpoint(tmp_path / "half.h5"), epochs=4)
    a, b = whole.checkpoint().timeline, resumed.checkpoint().timeline
    assert list(a.steps) == list(b.steps)
    for key in a.weights:
        np.testing.assert_array_equal(a.weights[key], b.weights[key])


def test_a_checkpoint_round_trips_its_timeline_and_a_moment_is_that_snapshots_model(data, tmp_path):
    path = tmp_path / "run.h5"
    run = trained(data, path, epochs=2, **SMALL)
    ckpt = load_checkpoint(path)
    assert list(ckpt.timeline.steps) == list(run.checkpoint().timeline.steps)
    info = read_info(path)["timeline"]
    assert info["snapshots"] == len(ckpt.timeline) and info["last_step"] == 2 * EPOCH and info["bytes"] > 0
    moment = ckpt.at(6)  # nearest: 5 and 7 are as near; the earlier one
    assert moment.progress["step"] == 5 and moment.progress["beta"] == 1.0
    model = trainer.load_model(path, step=5)
    assert model.step == 5 and model.steps == tuple(int(s) for s in ckpt.timeline.steps)
    x = data.x_test[:16]
    mu, _ = model.encode(x)
    i = list(ckpt.timeline.steps).index(5)
    ref = open_trainer(data, epochs=2, **SMALL).model.eval()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ckpt.timeline.state(i).items()})
    with torch.no_grad():
        expected, _ = ref.encode(torch.from_numpy(x).float() / 255)
    np.testing.assert_allclose(mu.detach().numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    final = trainer.load_model(path)
    assert final.step == 2 * EPOCH and not torch.allclose(final.encode(x)[0], mu)
    with pytest.warns(UserWarning, match="no snapshot at step 6; loaded the nearest, step 5"):
        assert trainer.load_model(path, step=6).step == 5
    with pytest.raises(ConfigError, match="step must be None or a whole number"):
        trainer.load_model(path, step=-1)


def test_a_run_without_snapshots_and_an_older_file_open_with_the_timeline_off_and_say_why(data, tmp_path):
    trained(data, tmp_path / "off.h5", epochs=1, snapshots=0, **SMALL)
    off = load_checkpoint(tmp_path / "off.h5").timeline
    assert len(off) == 0 and off.off == "snapshots were turned off for this run (snapshots 0)"
    with pytest.raises(ConfigError, match="load_model: .*off.h5: step 3: no snapshot to go back to: snapshots were"):
        trainer.load_model(tmp_path / "off.h5", step=3)
    trained(data, tmp_path / "old.h5", epochs=1, **SMALL)
    with h5py.File(tmp_path / "old.h5", "a") as f:  # as version 3 wrote it: no timeline
        del f["timeline"]
        f.attrs["format_version"] = np.int64(3)
    old = load_checkpoint(tmp_path / "old.h5")
    assert old.timeline.off == "this checkpoint was written before vae-explorer kept snapshots (format version 3)"
    assert read_info(tmp_path / "old.h5")["timeline"] == {"snapshots": 0, "off": old.timeline.off}
    assert trainer.load_model(tmp_path / "old.h5").steps == ()


@pytest.mark.parametrize("damage, message", [
    (lambda f: f["timeline/steps"].__setitem__(1, 0), "timeline steps must increase"),
    (lambda f: f["timeline/steps"].__setitem__(-1, 10**6), "timeline steps must increase"),
    (lambda f: f["timeline/betas"].__setitem__(0, np.nan), "timeline epochs or betas contain NaN/Inf"),
    (lambda f: f["timeline/weights/fc_mu.bias"].__setitem__(0, np.inf), "timeline weights contain NaN/Inf"),
    (lambda f: f["timeline/weights"].__delitem__("fc_mu.bias"), "'fc_mu.bias' is missing"),
    (lambda f: f["timeline"].__delitem__("epochs"), "/timeline has no member 'epochs'"),
    (lambda f: f["timeline"].create_dataset("extra", data=[1]), "/timeline has an unexpected member 'extra'"),
])
def test_a_damaged_timeline_is_refused_in_one_line_naming_the_file(data, tmp_path, damage, message):
    path = tmp_path / "bad.h5"
    trained(data, path, epochs=1, **SMALL)
    with h5py.File(path, "a") as f:
        if "fc_mu.bias" not in f["timeline/weights"]:  # the names follow the model: damage one that is there
            pytest.fail(f"no fc_mu.bias among {list(f['timeline/weights'])}")
        damage(f)
    with pytest.raises(CheckpointError, match=message) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("family", [
    dict(layers=2, latent_dim=4), dict(objective="tcvae", beta=4.0), dict(objective="iwae", iwae_k=3),
    dict(prior="vamp", pseudo_inputs=5), dict(norm="batch")])
def test_every_model_family_keeps_the_same_kind_of_snapshot(data, tmp_path, family):
    settings = {**SMALL, **family}
    run = trained(data, tmp_path / "f.h5", epochs=1, **settings)
    ckpt = load_checkpoint(tmp_path / "f.h5")
    assert set(ckpt.timeline.weights) == set(run.model.state_dict()) and ckpt.timeline.steps[-1] == EPOCH
    model = trainer.load_model(tmp_path / "f.h5", step=3)
    assert model.step == 3 and torch.isfinite(model.encode(data.x_test[:4])[0]).all()


def test_a_sweeps_runs_keep_their_timelines(data, tmp_path):
    rows = trainer.sweep(data, tmp_path / "sweep", betas=[0.5, 4.0], epochs=2, **SMALL)
    steps = [trainer.load_model(tmp_path / "sweep" / f"{r['run']}.h5").steps for r in rows]
    assert steps[0] == steps[1] and steps[0][0] == 0 and steps[0][-1] == 2 * EPOCH and EPOCH in steps[0]
    a, b = (trainer.load_model(tmp_path / "sweep" / f"{r['run']}.h5", step=EPOCH) for r in rows)
    assert not torch.allclose(a.encode(data.x_test[:8])[0], b.encode(data.x_test[:8])[0])


def test_a_diverging_step_is_not_kept():
    keeper = SnapshotKeeper(4)
    good, bad = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    with torch.no_grad():
        bad.weight.fill_(float("nan"))
        big = torch.nn.Linear(2, 2)
        big.weight.fill_(1e6)  # past float16: kept at float32
    keeper.keep(0, 0.0, 1.0, good)
    keeper.keep(1, 0.1, 1.0, bad)
    keeper.keep(2, 0.2, 1.0, big)
    timeline = keeper.timeline()
    assert list(timeline.steps) == [0, 2]
    assert timeline.weights["weight"].dtype == np.float32 and timeline.state(1)["weight"][0, 0] == 1e6
