"""The Python API (trainer.api, docs/python-api.md): the page's examples run as written, and what they do not
show: errors, a CVAE, and that a run saves however its loop ends."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import trainer
from trainer.checkpoints.hdf5 import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "python-api.md"


def test_the_api_pages_examples_run_in_order(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{PAGE.name} example {i + 1}", "exec"), namespace)
    assert (tmp_path / "run.h5").exists() and (tmp_path / "runs" / "summary.csv").exists()


def test_import_trainer_stays_light_and_lists_its_api():
    code = ("import sys, trainer; assert 'torch' not in sys.modules, 'import trainer loaded torch'; "
            "assert callable(trainer.load_model) and 'torch' in sys.modules; print(sorted(trainer.__all__))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for name in ("load_model", "load_dataset", "Run", "evaluate", "sweep", "VAEModel"):
        assert name in out.stdout


@pytest.fixture(scope="module")
def data():
    return trainer.load_dataset("sprites", n=600, image_size=28)


def test_a_run_saves_when_its_loop_is_broken_and_when_stopped_from_another_thread(tmp_path, data):
    run = trainer.Run(data, out=tmp_path / "a.h5", epochs=50, latent_dim=3, hidden=(32,))
    for report in run:
        if isinstance(report, trainer.StepReport) and report.step >= 4:
            break
    assert load_checkpoint(tmp_path / "a.h5").progress["step"] == run.trainer.step >= 4
    other = trainer.Run(data, out=tmp_path / "b.h5", epochs=1000, latent_dim=3, hidden=(32,))
    threading.Timer(0.5, other.stop).start()
    summary = other.train()
    assert 0 < summary["steps"] == load_checkpoint(tmp_path / "b.h5").progress["step"] < 1000 * 17


def test_bad_settings_and_files_are_one_line_errors(tmp_path, data):
    with pytest.raises(trainer.ConfigError, match="no setting.*latent_dims"):
        trainer.Run(data, latent_dims=4)
    with pytest.raises(trainer.ConfigError, match="does not exist"):
        trainer.Run(data, out=tmp_path / "no" / "such.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file")
    with pytest.raises(trainer.CheckpointError) as err:
        trainer.load_model(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(trainer.DataError):
        trainer.load_dataset(tmp_path / "missing.npz")
    run = trainer.Run(data, out=tmp_path / "r.h5", epochs=1, latent_dim=3, hidden=(32,))
    run.train()
    with pytest.raises(trainer.ConfigError,
                       match="only epochs, device, precision, compile, snapshots, snapshot_mb may change, not beta 4."):
        trainer.Run(resume=tmp_path / "r.h5", beta=4.0)


def test_a_conditional_model_decodes_the_label_it_is_given(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.random((300, 1, 8, 8)) < 0.3).astype(np.uint8) * 255
    x[:150, :, :4] = 255  # class 0 has its top half on, class 1 does not
    y = np.r_[np.zeros(150), np.ones(150)].astype(np.int64)
    np.savez(tmp_path / "two.npz", x=x, y=y)
    data = trainer.load_dataset(tmp_path / "two.npz")
    trainer.Run(data, out=tmp_path / "c.h5", conditional=True, epochs=40, batch_size=32, lr=3e-3, latent_dim=2,
                hidden=(32,)).train()
    model = trainer.load_model(tmp_path / "c.h5")
    assert model.model_config.conditional
    with pytest.raises(trainer.ConfigError, match="labels"):
        model.encode(data.x_test)
    with torch.no_grad():
        top0 = model.sample(64, y=0, seed=1)[:, :, :4].mean()
        top1 = model.sample(64, y=1, seed=1)[:, :, :4].mean()
    assert float(top0) > float(top1) + 0.3


def test_a_run_can_write_tensorboard_events_like_train(tmp_path, data):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = trainer.Run(data, out=tmp_path / "tb-run.h5", epochs=2, latent_dim=3, hidden=(32,),
                      tensorboard=tmp_path / "tb")
    run.train()
    ea = EventAccumulator(str(tmp_path / "tb" / "tb-run"), size_guidance={"scalars": 0})
    ea.Reload()
    assert [s.value for s in ea.Scalars("heldout/elbo")] == pytest.approx(list(run.history["epochs/test_elbo"]))


def test_a_sweep_takes_a_single_beta_and_evaluate_takes_a_models_own_weights(tmp_path, data):
    rows = trainer.sweep(data, tmp_path / "one", beta=4.0, seed=2, epochs=1, latent_dim=3, hidden=(32,))
    assert [(r["run"], r["beta"], r["seed"]) for r in rows] == [("beta-4_seed-2", 4.0, 2)]
    run = trainer.Run(data, epochs=1, latent_dim=3, hidden=(32,))  # no file: evaluate sees the weights themselves
    run.train()
    result = trainer.evaluate(run.model(), data)
    assert result["elbo"] == pytest.approx(run.trainer.evaluate_test()["elbo"], abs=1e-3)
