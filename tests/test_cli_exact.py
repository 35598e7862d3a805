"""The command line's numbers are exact: Ctrl+C and resume continue the uninterrupted history, a resume refuses
other data, and `eval --json` says whether its figures are log-likelihoods."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from inprocess import run_main

REPO = Path(__file__).resolve().parents[1]
TIMING_COLUMNS = {"steps/samples_per_s", "steps/elapsed_s"}


def cli(*args):
    return [sys.executable, str(REPO / "main.py"), *map(str, args)]


def run(*args, rc=0):
    proc = run_main(list(args))  # in this process; the Ctrl+C test below starts a real one
    assert proc.returncode == rc, f"rc={proc.returncode}\nstdout={proc.stdout}\nstderr={proc.stderr}"
    return proc


def history(path):
    with h5py.File(path, "r") as f:
        out = {}
        f["history"].visititems(lambda name, obj: out.__setitem__(name, obj[()])
                                if isinstance(obj, h5py.Dataset) else None)
    return out


@pytest.fixture(scope="module")
def grey_npz(tmp_path_factory):
    """400 grey-level 14x14 images (float in [0, 1]) with two classes: not binary, so Bernoulli is no pmf of it."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:14, 0:14]
    c = rng.uniform(3, 11, size=(400, 2))
    x = np.exp(-((yy[None] - c[:, 0, None, None]) ** 2 + (xx[None] - c[:, 1, None, None]) ** 2) / 12).astype(np.float32)
    path = tmp_path_factory.mktemp("grey") / "grey.npz"
    np.savez(path, x=x, y=(c[:, 0] > 7).astype(np.int64))
    return path


TRAIN = ("train", "--dataset", "sprites", "--limit", "320", "--hidden", "32", "--latent-dim", "3",
         "--batch-size", "16", "--seed", "2", "--device", "cpu")


def test_ctrl_c_then_resume_gives_the_uninterrupted_history(grey_npz, tmp_path):
    train = ("train", "--dataset", grey_npz, "--hidden", "32", "--latent-dim", "3", "--batch-size", "16",
             "--seed", "2", "--device", "cpu", "--binarize", "dynamic", "--epochs", "60")
    full = tmp_path / "full.h5"
    run(*train, "--out", full)

    part = tmp_path / "part.h5"
    proc = subprocess.Popen(cli(*train, "--out", part), cwd=REPO, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # the first epoch's line: 59 epochs are still to go
        if line.startswith("epoch 1:"):
            break
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "interrupted at step" in err, "the run finished before Ctrl+C: make it longer"
    run("train", "--resume", part, "--epochs", "60", "--out", part)

    expected, got = history(full), history(part)
    assert sorted(got) == sorted(expected)
    for key in expected:
        if key not in TIMING_COLUMNS:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_resume_refuses_other_data_in_one_line_and_uses_its_own_when_none_is_named(tmp_path):
    out = tmp_path / "s.h5"
    run(*TRAIN, "--epochs", "1", "--out", out)
    # sprites from another split seed: other images and another split
    proc = run("train", "--resume", out, "--dataset", "sprites", "--split-seed", "3", "--epochs", "2",
               "--out", tmp_path / "x.h5", rc=2)
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "not the data this checkpoint was trained on" in err, err
    assert "seed 3 here, 0 in the checkpoint" in err
    assert not (tmp_path / "x.h5").exists()
    # the same sprites named again, or none named: the checkpoint's own data, and training goes on
    run("train", "--resume", out, "--dataset", "sprites", "--limit", "320", "--seed", "2", "--epochs", "2",
        "--out", out)
    proc = run("train", "--resume", out, "--epochs", "3", "--out", out, "--json")
    assert json.loads(proc.stdout.strip().splitlines()[-1])["epochs"] == 3


@pytest.mark.parametrize(
    "extra, normalized, marginal",
    [
        ((), False, "cross-entropy bound on grey levels"),
        (("--binarize", "dynamic"), True, "log p(x)"),
        (("--likelihood", "continuous-bernoulli"), True, "log p(x)"),
        (("--binarize", "static", "--conditional"), True, "log p(x|y)"),
    ],
)
def test_eval_says_whether_its_figures_are_log_likelihoods(grey_npz, tmp_path, extra, normalized, marginal):
    out = tmp_path / "g.h5"
    run("train", "--dataset", grey_npz, "--hidden", "32", "--latent-dim", "2", "--epochs", "1", "--device", "cpu",
        *extra, "--out", out)
    result = json.loads(run("eval", out, "--iwae-samples", "4", "--json").stdout.strip().splitlines()[-1])
    assert result["likelihood_normalized"] is normalized
    assert result["marginal"] == marginal
    text = run("eval", out).stdout
    assert ("note:" in text) is not normalized
