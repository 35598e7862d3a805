"""`vae-explorer sweep` end to end on small data, and the pieces it is made of (plan, summary, frontier)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from trainer.checkpoints.hdf5 import load_checkpoint
from trainer.cli import main
from trainer.config import TrainConfig
from trainer.errors import VaeExplorerError
from trainer.analysis.rd import frontier_indices
from trainer.training.sweep import plan_runs, read_summary

ROOT = Path(__file__).resolve().parent.parent
MODEL = ["--hidden", "48", "--latent-dim", "4", "--batch-size", "48", "--lr", "3e-3", "--device", "cpu"]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> list[str]:
    """1,500 sprites of 28x28 in an .npz (1,350 train / 150 held out) and a small MLP: a sweep in seconds."""
    from trainer.config import DatasetSpec
    from trainer.data import load_dataset

    d = load_dataset(DatasetSpec(name="sprites", n=1500, image_size=28))
    path = tmp_path_factory.mktemp("data") / "sprites28.npz"
    np.savez(path, x=np.concatenate([d.x_train, d.x_test]))
    return ["--dataset", str(path), *MODEL]


def sweep(capsys, out: Path, *extra: str, data: list[str]) -> tuple[int, dict]:
    code = main(["sweep", *data, "--out", str(out), "--json", *extra])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-1])


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.h5"))}


def test_plan_names_each_run_by_what_varies():
    runs = plan_runs(TrainConfig(), betas=[0.3, 1, 10], seeds=[0, 1])
    assert [r.name for r in runs][:3] == ["beta-0.3_seed-0", "beta-0.3_seed-1", "beta-1_seed-0"]
    assert {(r.config.beta, r.config.seed) for r in runs} == {(b, s) for b in (0.3, 1.0, 10.0) for s in (0, 1)}
    more = plan_runs(TrainConfig(), betas=[1], free_bits=[0, 0.5], schedules=["constant", "warmup:100"])
    assert "beta-1_seed-0_fb-0.5_sched-warmup-100" in [r.name for r in more]
    with pytest.raises(VaeExplorerError, match="twice"):
        plan_runs(TrainConfig(), betas=[1, 1])


def test_frontier_is_the_lower_convex_envelope_down_to_the_least_distortion():
    #        A        B   C (above the chord B-D)  D        E (more rate, more distortion: beaten by D)
    rate = [0.0, 5.0, 10.0, 20.0, 30.0, 12.0, float("nan")]
    dist = [100.0, 60.0, 55.0, 30.0, 35.0, 80.0, 1.0]
    assert frontier_indices(rate, dist) == [0, 1, 3]
    assert frontier_indices([1.0], [2.0]) == [0]
    assert frontier_indices([], []) == []
    # collinear points: the middle one adds nothing to the envelope
    assert frontier_indices([0, 1, 2], [2, 1, 0]) == [0, 2]
    # the same rate twice: the lower distortion counts
    assert frontier_indices([1, 1, 3], [5, 4, 1]) == [1, 2]


def test_sweep_trains_every_run_rate_falls_and_distortion_rises_with_beta_and_a_rerun_trains_nothing(tmp_path, capsys,
                                                                                                     small_data):
    out = tmp_path / "runs"
    code, result = sweep(capsys, out, "--beta", "0.05,1,20", "--epochs", "4", data=small_data)
    assert code == 0
    rows = result["runs"]
    assert [r["run"] for r in rows] == ["beta-0.05_seed-0", "beta-1_seed-0", "beta-20_seed-0"]
    assert all(r["status"] == "done" and r["epochs"] == 4 and Path(r["checkpoint"]).exists() for r in rows)
    rates, dists = [r["rate"] for r in rows], [r["distortion"] for r in rows]
    assert rates[0] > rates[1] > rates[2], rates
    assert dists[0] < dists[1] < dists[2], dists
    assert all(r["mig"] is None for r in rows)  # no ground-truth factors in an .npz of images
    assert result["samples_per_s"] > 0 and result["wall_s"] > 0
    assert read_summary(out / "summary.csv")["beta-1_seed-0"].steps == rows[1]["steps"]
    with h5py.File(out / "beta-20_seed-0.h5") as f:  # an ordinary checkpoint of that run
        assert json.loads(f.attrs["train_config"])["beta"] == 20.0

    before = files(out)
    code, again = sweep(capsys, out, "--beta", "0.05,1,20", "--epochs", "4", data=small_data)
    assert code == 0 and files(out) == before  # nothing trained, nothing rewritten
    assert again["samples_per_s"] == 0
    assert [r["elbo"] for r in again["runs"]] == [r["elbo"] for r in rows]


def test_a_bad_run_or_a_foreign_file_is_a_row_and_the_others_train(tmp_path, capsys, small_data):
    out = tmp_path / "runs"
    out.mkdir()
    (out / "beta-2_seed-0_obj-elbo.h5").write_bytes(b"not a checkpoint")
    # each value is fine alone (a bad one is refused when parsed); β-TCVAE with free bits is not a run
    code, result = sweep(capsys, out, "--beta=0.5,2", "--objective", "elbo,tcvae", "--free-bits", "0.5",
                         "--epochs", "1", data=small_data)
    assert code == 1
    by_run = {r["run"]: r for r in result["runs"]}
    assert by_run["beta-0.5_seed-0_obj-elbo"]["status"] == "done"
    bad = by_run["beta-0.5_seed-0_obj-tcvae"]
    assert bad["status"] == "failed" and "free_bits" in bad["message"]
    foreign = by_run["beta-2_seed-0_obj-elbo"]
    assert foreign["status"] == "failed" and "beta-2_seed-0_obj-elbo.h5" in foreign["message"]
    assert (out / "beta-2_seed-0_obj-elbo.h5").read_bytes() == b"not a checkpoint"  # not ours to overwrite
    assert "\n" not in foreign["message"]


def test_a_killed_sweep_rerun_completes_with_finished_runs_intact(tmp_path, capsys, small_data):
    out = tmp_path / "runs"
    code, _ = sweep(capsys, out, "--beta", "0.5,2", "--epochs", "20", data=small_data)
    assert code == 0
    finished = files(out)

    # a longer sweep with one more β: killed (SIGKILL, no chance to save) after its periodic saves began
    cmd = [sys.executable, "-m", "trainer", "sweep", *small_data, "--out", str(out), "--beta", "0.5,2,8",
           "--epochs", "20", "--save-every", "0.002"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    new = out / "beta-8_seed-0.h5"
    deadline = time.monotonic() + 120
    while not new.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert new.exists(), proc.stderr.read().decode() if proc.poll() is not None else "no save within 2 minutes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert files(out)["beta-0.5_seed-0.h5"] == finished["beta-0.5_seed-0.h5"]
    assert files(out)["beta-2_seed-0.h5"] == finished["beta-2_seed-0.h5"]
    assert not [p for p in out.iterdir() if p.suffix not in (".h5", ".csv")], "a temporary file was left behind"
    saved_step = int(load_checkpoint(new).progress["step"])
    assert saved_step > 0

    code, result = sweep(capsys, out, "--beta", "0.5,2,8", "--epochs", "20", data=small_data)
    assert code == 0, [(r["run"], r["status"], r["message"]) for r in result["runs"]]
    assert all(r["status"] == "done" and r["epochs"] == 20 for r in result["runs"])
    history = load_checkpoint(new).history["steps/step"]
    assert (np.diff(history) > 0).all()
    per_epoch = -(-1350 // 48)
    assert result["trained_samples"] <= (20 * per_epoch - saved_step) * 48  # resumed from the save, not restarted
    assert files(out)["beta-0.5_seed-0.h5"] == finished["beta-0.5_seed-0.h5"]  # done runs untouched


def test_sweep_refuses_bad_options_in_one_line(tmp_path, capsys, small_data):
    assert main(["sweep", *small_data, "--beta", "1,x", "--out", str(tmp_path)]) == 2
    assert main(["sweep", *small_data, "--beta", "1", "--jobs", "0", "--out", str(tmp_path)]) == 2
    assert main(["sweep", *small_data, "--beta", "1", "--out", str(tmp_path / "no" / "such")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "--beta: must be a number >= 0, got 'x'" in err[0] and "--jobs" in err[1] and "does not exist" in err[2]


def test_sweep_in_two_worker_processes_writes_every_run(tmp_path, capsys, small_data):
    code, result = sweep(capsys, tmp_path / "runs", "--beta", "0.5,4", "--seed", "0,1", "--epochs", "1", "--jobs", "2",
                         data=small_data)
    assert code == 0
    assert sorted(r["run"] for r in result["runs"]) == sorted(
        f"beta-{b}_seed-{s}" for b in ("0.5", "4") for s in (0, 1))
    assert all(r["status"] == "done" and np.isfinite(r["elbo"]) for r in result["runs"])


def test_sweep_summary_has_mig_on_data_with_ground_truth_factors(tmp_path, capsys):
    code, result = sweep(capsys, tmp_path / "runs", "--beta", "1,4", "--epochs", "1",
                         data=["--dataset", "sprites", "--limit", "96", *MODEL])
    assert code == 0 and all(0 <= r["mig"] <= 1 for r in result["runs"])
    for r in result["runs"]:  # and the rate's information, in the summary as in eval --json
        assert 0 <= r["mutual_information"] <= r["log_n"] + 1e-9
        assert r["marginal_kl"] == pytest.approx(r["total_correlation"] + r["dimwise_kl"])
    header = (tmp_path / "runs" / "summary.csv").read_text().splitlines()[0].split(",")
    assert {"mutual_information", "marginal_kl", "total_correlation", "dimwise_kl", "log_n"} <= set(header)


def test_a_sweep_over_the_objective_trains_each_in_its_own_ensemble_and_names_it(tmp_path, capsys, small_data):
    code, result = sweep(capsys, tmp_path / "runs", "--beta", "4", "--objective", "elbo,tcvae", "--epochs", "1",
                         *MODEL, data=small_data)
    assert code == 0
    rows = {r["run"]: r for r in result["runs"]}
    assert set(rows) == {"beta-4_seed-0_obj-elbo", "beta-4_seed-0_obj-tcvae"}
    assert {r["objective"] for r in rows.values()} == {"elbo", "tcvae"} and all(r["status"] == "done"
                                                                                 for r in rows.values())
    from trainer.checkpoints.hdf5 import load_checkpoint

    ckpt = load_checkpoint(rows["beta-4_seed-0_obj-tcvae"]["checkpoint"])
    assert ckpt.train_config.objective == "tcvae"
    assert rows["beta-4_seed-0_obj-elbo"]["elbo"] != rows["beta-4_seed-0_obj-tcvae"]["elbo"]


def test_sweep_gap_examples_split_each_runs_gap_into_the_summary(tmp_path, capsys, small_data):
    from trainer.analysis.inference_gaps import inference_gaps
    from trainer.data import load_dataset
    from trainer.model.hierarchy import build_model
    from trainer.model.likelihood import heldout_for_likelihood

    out = tmp_path / "gaps"
    code, summary = sweep(capsys, out, "--beta", "1,4", "--epochs", "1", "--gap-examples", "5",
                          "--encoder-hidden", "16", data=small_data)
    assert code == 0
    rows = {r["run"]: r for r in summary["runs"]}
    csv_rows = list(csv.DictReader(open(out / "summary.csv")))
    assert {r["run"] for r in csv_rows} == set(rows) and all(float(r["amortization_gap"]) > 0 for r in csv_rows)
    # the row's numbers are the engine's on that checkpoint's first 5 held-out examples
    ckpt = load_checkpoint(out / "beta-1_seed-0.h5")
    assert ckpt.model_config.encoder_hidden == (16,) and ckpt.model_config.hidden == (48,)
    model = build_model(ckpt.model_config)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in ckpt.model_state.items()})
    assert model.fc_mu.in_features == 16 and model.dec_mlp[0].out_features == 48  # the encoder alone is narrower
    x = heldout_for_likelihood(load_dataset(ckpt.dataset), ckpt.train_config)[:5]
    engine = inference_gaps(model, x, None, seed=ckpt.train_config.seed + 12345).summary()
    row = rows["beta-1_seed-0"]
    assert row["gap_examples"] == 5 and row["classical_ms"] > row["amortized_ms"] > 0
    assert row["amortization_gap"] == pytest.approx(engine["amortization_gap"], rel=1e-4, abs=1e-4)
    assert row["approximation_gap"] == pytest.approx(engine["approximation_gap"], rel=1e-4, abs=1e-4)
    assert main(["sweep", *small_data, "--gap-examples", "-1", "--out", str(tmp_path)]) == 2


def _history(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path, "r") as f:
        out = {}
        f["history"].visititems(lambda name, obj: out.__setitem__(name, obj[()])
                                if isinstance(obj, h5py.Dataset) else None)
    return out


def test_every_run_of_a_sweep_is_the_experiment_train_runs_with_its_seed(tmp_path, capsys, small_data):
    """The split has a seed of its own (--split-seed), so a sweep's seed-1 run sees the data `train --seed 1`
    sees: before, the sweep drew the split of this single-file dataset with its first seed for every run."""
    code, _ = sweep(capsys, tmp_path / "runs", "--beta", "1", "--seed", "0,1", "--epochs", "1", data=small_data)
    assert code == 0
    for seed in (0, 1):
        alone = tmp_path / f"train-{seed}.h5"
        assert main(["train", *small_data, "--beta", "1", "--seed", str(seed), "--epochs", "1",
                     "--out", str(alone)]) == 0
        swept, trained = _history(tmp_path / "runs" / f"beta-1_seed-{seed}.h5"), _history(alone)
        assert set(swept) == set(trained) and len(swept) > 5
        clocks = {c for c in trained if c.endswith("elapsed_s") or c.endswith("per_s")}  # wall time: never shared
        assert len(clocks) < len(trained) - 5
        for column, values in trained.items():
            if column not in clocks:
                np.testing.assert_allclose(swept[column], values, rtol=2e-5, atol=2e-5,
                                           err_msg=f"seed {seed}: {column}")
        assert load_checkpoint(alone).dataset.seed == 0  # the split seed, not the training seed


def test_the_summary_reuses_the_evaluation_that_closed_each_run(tmp_path, capsys, small_data, monkeypatch):
    from trainer.training import sweep as sweep_module
    from trainer.training.loop import Trainer

    calls = []
    scored = Trainer.evaluate_test
    monkeypatch.setattr(Trainer, "evaluate_test", lambda self, **kw: calls.append(kw) or scored(self, **kw))
    out = tmp_path / "runs"
    code, result = sweep(capsys, out, "--beta", "1,4", "--epochs", "2", data=small_data)
    assert code == 0 and calls == []  # every row came from the history of its last epoch
    from trainer.checkpoints.hdf5 import load_checkpoint
    from trainer.data import load_dataset
    from trainer.training.opening import open_trainer

    for row in result["runs"]:  # and each equals a fresh evaluation of its checkpoint
        ckpt = load_checkpoint(row["checkpoint"])
        trainer = open_trainer(load_dataset(ckpt.dataset), checkpoint=ckpt, device="cpu")
        fresh = scored(trainer, rate_split_points=sweep_module.SUMMARY_SPLIT_POINTS)
        # the same weights, but the ensemble held them as transposed views into its stack: the BLAS may block
        # the float32 products differently, so each example's terms may differ by a few float32 roundings of
        # the per-example ELBO (the figures below are means of those, or built from them)
        tol = float(4 * np.finfo(np.float32).eps * abs(fresh["elbo"]))  # a float: pytest 9.2 refuses numpy's
        assert row["elbo"] == pytest.approx(fresh["elbo"], abs=tol)
        assert row["elbo_se"] == pytest.approx(fresh["elbo_se"], abs=tol)
        assert row["rate"] == pytest.approx(fresh["rate"], abs=tol) and row["active_units"] == fresh["active_units"]
        assert row["mutual_information"] == pytest.approx(fresh["rate_split"]["mutual_information"], abs=tol)
        assert row["near_ceiling"] == fresh["rate_split"]["near_ceiling"]
