"""train/sweep --tensorboard: event files read back with TensorBoard's own reader and checked against the
checkpoint's history; and the one-line refusal when the optional package is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from inprocess import run_main

from trainer.checkpoints.hdf5 import load_checkpoint

pytest.importorskip("tensorboard", reason="the tensorboard extra is part of the test install")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--dataset", "sprites", "--image-size", "28", "--limit", "600", "--hidden", "48", "--latent-dim", "4",
         "--batch-size", "64", "--epochs", "2", "--device", "cpu"]


def events(folder: Path) -> EventAccumulator:
    ea = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    ea.Reload()
    return ea


def hparams_of(ea: EventAccumulator) -> tuple[dict, int | None]:
    """(the run's hyperparameters as TensorBoard's HParams view reads them, its session end status: None while
    the session has not ended)."""
    content = ea.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    values = {}
    for name, value in start.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        values[name] = getattr(value, kind)
    if "_hparams_/session_end_info" not in content:
        return values, None
    end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"])
    return values, end.session_end_info.status


def test_train_writes_its_reports_epochs_images_and_hparams(tmp_path):
    out, tb = tmp_path / "run.h5", tmp_path / "tb"
    proc = run_main(["train", *SMALL, "--beta", "2", "--seed", "3", "--out", str(out), "--tensorboard", str(tb)])
    assert proc.returncode == 0, proc.stderr
    ea = events(tb / "run")  # one TensorBoard run, named like the checkpoint
    history = load_checkpoint(out).history
    for tag, column in (("train/distortion", "steps/recon"), ("train/rate", "steps/kl"), ("train/beta", "steps/beta")):
        scalars = ea.Scalars(tag)
        assert [s.step for s in scalars] == history["steps/step"].tolist(), tag
        np.testing.assert_allclose([s.value for s in scalars], history[column], rtol=1e-6, err_msg=tag)
    np.testing.assert_allclose([s.value for s in ea.Scalars("train/neg_elbo")], -history["steps/elbo"], rtol=1e-6)
    for tag, column in (("heldout/elbo", "epochs/test_elbo"), ("heldout/rate", "epochs/test_kl"),
                        ("heldout/distortion", "epochs/test_recon")):
        scalars = ea.Scalars(tag)
        assert [s.step for s in scalars] == history["epochs/step"].tolist(), tag
        np.testing.assert_allclose([s.value for s in scalars], history[column], rtol=1e-6, err_msg=tag)
    for tag in ("heldout/inputs_and_reconstructions", "prior_samples"):
        assert [i.step for i in ea.Images(tag)] == history["epochs/step"].tolist(), tag
        assert ea.Images(tag)[-1].width > 28  # a grid of several images
    values, status = hparams_of(ea)
    assert values["beta"] == 2.0 and values["seed"] == 3.0 and values["latent_dim"] == 4.0
    assert values["beta_schedule"] == "constant" and values["hidden"] == "48" and status == 1  # STATUS_SUCCESS


def test_a_sweep_writes_one_tensorboard_run_per_run_for_the_hparams_view(tmp_path):
    tb = tmp_path / "tb"
    proc = run_main(["sweep", *SMALL, "--beta", "0.5,2,8", "--out", str(tmp_path / "runs"), "--tensorboard", str(tb)])
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.stem for p in (tmp_path / "runs").glob("*.h5"))
    assert sorted(p.name for p in tb.iterdir()) == names == ["beta-0.5_seed-0", "beta-2_seed-0", "beta-8_seed-0"]
    for name in names:
        ea = events(tb / name)
        history = load_checkpoint(tmp_path / "runs" / f"{name}.h5").history
        np.testing.assert_allclose([s.value for s in ea.Scalars("heldout/elbo")], history["epochs/test_elbo"],
                                   rtol=1e-6)
        values, status = hparams_of(ea)
        assert values["beta"] == float(name.split("_")[0].split("-")[1]) and status == 1


def test_without_tensorboard_the_flag_fails_at_once_in_one_line(tmp_path):
    # the package made unimportable, as on a machine without the extra
    code = ("import sys; sys.modules['tensorboard'] = None; from trainer.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    for command in ("train", "sweep"):
        out = tmp_path / command
        proc = subprocess.run([sys.executable, "-c", code, command, *SMALL, "--out", str(out),
                               "--tensorboard", str(tmp_path / "tb")], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and 'pip install -e ".[tensorboard]"' in lines[0], proc.stderr
        assert not out.exists() and not (tmp_path / "tb").exists()


def test_the_window_writes_tensorboard_events_when_preferences_name_a_folder(qtbot, small_window, tmp_path):
    from explorer.files.preferences import PreferencesDialog
    from explorer.files.settings_store import SettingsStore
    from explorer.models.run_state import RunState

    tb = tmp_path / "tb"
    dialog = PreferencesDialog(None, SettingsStore())
    qtbot.addWidget(dialog)
    assert dialog.tensorboard_check.isEnabled()  # the package is installed
    dialog.tensorboard_check.setChecked(True)
    dialog.tensorboard_edit.setText(str(tb))
    dialog.apply()
    assert SettingsStore().tensorboard_folder == str(tb)
    window = small_window()  # a window reads the preference when it opens
    assert window.session.tensorboard == str(tb)
    window.start_training(max_steps=40)  # more than two epochs of 17 steps
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=120_000)
    history = window.session.worker.trainer.history.arrays()
    (run,) = tb.iterdir()
    assert run.name.startswith("run-")
    ea = events(run)
    np.testing.assert_allclose([s.value for s in ea.Scalars("train/distortion")], history["steps/recon"], rtol=1e-6)
    np.testing.assert_allclose([s.value for s in ea.Scalars("heldout/elbo")], history["epochs/test_elbo"], rtol=1e-6)
    assert len(ea.Images("prior_samples")) == len(history["epochs/step"]) == 2
    assert hparams_of(ea)[1] is None  # stopped before its epochs: its session goes on when Continue trains more
    # the preference switched off: the next window writes nothing
    dialog.tensorboard_check.setChecked(False)
    dialog.apply()
    assert SettingsStore().tensorboard_folder == "" and small_window().session.tensorboard == ""


def test_a_folder_that_cannot_be_written_is_refused_at_once(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_main(["train", *SMALL, "--out", str(tmp_path / "r.h5"), "--tensorboard", str(blocker / "tb")])
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "cannot write TensorBoard events" in lines[0], proc.stderr
    assert not (tmp_path / "r.h5").exists()
