"""Runs side by side in the window: a sweep folder in the Runs panel, overlays, the frontier, the explored run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from explorer.models.run_catalog import LIVE
from explorer.models.run_state import RunState
from trainer.cli import main as cli

WAIT_MS = 60_000
BETAS = ("0.3", "1", "6")


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory) -> Path:
    """Three finished runs of a 3-dimensional VAE on small sprites, and one file that is not a checkpoint."""
    from trainer.config import DatasetSpec
    from trainer.data import load_dataset

    root = tmp_path_factory.mktemp("sweep")
    d = load_dataset(DatasetSpec(name="sprites", n=800, image_size=28))
    data = root / "sprites28.npz"
    np.savez(data, x=np.concatenate([d.x_train, d.x_test]))
    out = root / "runs"
    code = cli(["sweep", "--dataset", str(data), "--hidden", "32", "--latent-dim", "3", "--batch-size", "40",
                "--lr", "3e-3", "--epochs", "2", "--device", "cpu", "--beta", ",".join(BETAS), "--out", str(out)])
    assert code == 0
    (out / "notes.h5").write_bytes(b"not a checkpoint")
    return out


@pytest.fixture
def window(small_window):
    return small_window()


def open_runs(qtbot, window, folder: Path) -> None:
    with qtbot.waitSignal(window.compare.sig_runs_read, timeout=WAIT_MS):
        window.compare.open_folder(str(folder))
    window.compare.redraw_now()


def test_a_sweep_folder_lists_its_runs_draws_them_and_their_frontier(qtbot, window, sweep_folder):
    open_runs(qtbot, window, sweep_folder)
    panel = window.compare.panel
    assert panel.shown_names() == [f"beta-{b}_seed-0" for b in BETAS]  # sorted by β
    assert "notes.h5" in window.banner.text()  # the bad file is named; the others were read
    runs = window.compare.catalog.compared()
    assert {r.status for r in runs} == {"done"} and all(np.isfinite(r.rate) for r in runs)
    # the curves overlay every run, the plane draws their end points and the frontier through some of them
    assert sorted(window.curves.overlay_keys()) == sorted(r.key for r in runs)
    rate, dist = window.explore.rd.frontier_points()
    ends = {(r.rate, r.distortion) for r in runs}
    assert len(rate) >= 1 and {(a, b) for a, b in zip(rate, dist)} <= ends
    assert (np.diff(rate) > 0).all() and (np.diff(dist) < 0).all()  # rate up, distortion down along it

    # filter and sort by a column
    panel.filter.setText("beta-6")
    assert panel.shown_names() == ["beta-6_seed-0"]
    panel.filter.clear()
    panel.table.sortByColumn(5, Qt.DescendingOrder)  # R, largest first
    assert panel.shown_names()[0] == max(runs, key=lambda r: r.rate).name

    # hiding a run takes it off the curves and the plane
    hidden = runs[0]
    window.compare.catalog.set_visible(hidden.key, False)
    window.compare.redraw_now()
    assert hidden.key not in window.curves.overlay_keys()


def test_clicking_a_run_explores_it_and_the_live_run_comes_back(qtbot, window, sweep_folder):
    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.explore.decoder is not None, timeout=WAIT_MS)
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=WAIT_MS)
    assert window.explore.decoder.latent_dim == 4  # the window's own run (SMALL_RUN)
    open_runs(qtbot, window, sweep_folder)

    window.compare.panel.select_name("beta-1_seed-0")
    qtbot.waitUntil(lambda: window.explore.latents is not None and window.explore.latents.latent_dim == 3,
                    timeout=WAIT_MS)
    assert window.explore.decoder.latent_dim == 3
    chosen = window.compare.catalog.get(window.compare.catalog.selected)
    assert chosen.name == "beta-1_seed-0"
    beta_line = window.explore.rd.beta_line_points()
    assert (beta_line[1][1] - beta_line[1][0]) / (beta_line[0][1] - beta_line[0][0]) == pytest.approx(-1.0)
    assert "beta-1_seed-0" in window.explore.rd.readout.text()

    # a click on another run's end point in the plane does the same
    other = next(r for r in window.compare.catalog.compared() if r.name == "beta-6_seed-0")
    window.explore.rd.click_run(other.key)
    assert window.compare.catalog.selected == other.key

    window.compare.catalog.select(LIVE)
    qtbot.waitUntil(lambda: window.explore.latents is not None and window.explore.latents.latent_dim == 4,
                    timeout=WAIT_MS)
    assert window.explore.decoder.latent_dim == 4


def test_a_sweep_from_the_window_shows_its_runs_as_they_train_and_reads_them_back(qtbot, window, tmp_path):
    from explorer.runtime.sweep_job import SweepRequest

    progress = []
    window.compare.sweep.worker.sig_progress.connect(progress.append)
    settings = window.run_settings.value.replace(epochs=2)
    folder = tmp_path / "sweep"
    with qtbot.waitSignal(window.compare.sig_sweep_finished, timeout=WAIT_MS) as finished:
        assert window.compare.start_sweep(SweepRequest(settings, (0.5, 4.0), (0,), str(folder)))
        assert not window.compare.sweep_action.isEnabled() and window.compare.stop_sweep_action.isEnabled()
    result = finished.args[0]
    assert not result.error and not result.stopped and [r.status for r in result.rows] == ["done", "done"]
    assert progress, "the runs were shown while they trained"
    assert {u.name for batch in progress for u in batch} == {"beta-0.5_seed-0", "beta-4_seed-0"}
    assert (folder / "summary.csv").exists() and len(list(folder.glob("*.h5"))) == 2
    qtbot.waitUntil(lambda: {r.status for r in window.compare.catalog.compared()} == {"done"}
                    and len(window.compare.catalog.compared()) == 2, timeout=WAIT_MS)
    runs = {r.name: r for r in window.compare.catalog.compared()}
    assert runs["beta-0.5_seed-0"].rate > runs["beta-4_seed-0"].rate  # more β, less rate
    assert window.compare.sweep_action.isEnabled() and not window.compare.stop_sweep_action.isEnabled()


def test_a_sweep_with_a_folder_that_cannot_be_made_says_why(qtbot, window, tmp_path):
    from explorer.runtime.sweep_job import SweepRequest

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with qtbot.waitSignal(window.compare.sig_sweep_finished, timeout=WAIT_MS) as finished:
        window.compare.start_sweep(SweepRequest(window.run_settings.value, (1.0,), (0,), str(blocker / "sweep")))
    assert finished.args[0].error
    assert "did not start" in window.banner.text()
    assert window.compare.sweep_action.isEnabled()


def test_the_runs_export_as_a_summary_csv_and_the_plane_with_its_frontier(qtbot, window, sweep_folder, tmp_path):
    import csv

    open_runs(qtbot, window, sweep_folder)
    targets = {t.key: t for t in window.export_targets()}
    targets["runs-csv"].write(str(tmp_path / "runs.csv"))
    with open(tmp_path / "runs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["run"] for r in rows) == sorted(f"beta-{b}_seed-0" for b in BETAS)
    assert all(r["status"] == "done" and float(r["rate"]) > 0 and Path(r["checkpoint"]).exists() for r in rows)
    targets["rate-distortion-svg"].write(str(tmp_path / "rd.svg"))
    svg = (tmp_path / "rd.svg").read_text()
    assert "frontier" in svg and "posterior collapse" in svg
    for run in window.compare.catalog.compared():
        window.compare.catalog.set_visible(run.key, False)
    window.compare.redraw_now()
    targets["rate-distortion-svg"].write(str(tmp_path / "empty.svg"))
    empty = (tmp_path / "empty.svg").read_text()
    assert "frontier" not in empty
    assert svg.count("<polyline") >= empty.count("<polyline") + len(BETAS)  # a trajectory per run, and more


@pytest.mark.parametrize("key", ["collapse", "gap", "bottleneck", "tcvae", "mig", "layers", "inference"])
def test_a_guided_experiment_trains_its_stages_and_says_what_it_measured(qtbot, window, tmp_path, key, monkeypatch):
    import dataclasses
    import functools

    from trainer.experiments import EXPERIMENTS

    if key == "mig":  # what the panel shows of DCI, not DCI itself (tests/test_disentanglement.py): 10 boosting
        import sklearn.ensemble  # stages instead of 100 (disentanglement_lib's), 80% of this test's time before

        monkeypatch.setattr(sklearn.ensemble, "GradientBoostingClassifier",
                            functools.partial(sklearn.ensemble.GradientBoostingClassifier, n_estimators=10))

    full = next(e for e in EXPERIMENTS if e.key == key)
    # the same experiment on less data: what the menu runs, in seconds
    small = dataclasses.replace(full, data=dataclasses.replace(full.data, n=600),
                                model=dataclasses.replace(full.model, hidden=(64,)),
                                train=dataclasses.replace(full.train, batch_size=64),
                                betas=full.betas if key in ("gap", "tcvae", "layers") else (0.1, 30.0),
                                seeds=(0,) if key == "tcvae" else full.seeds,
                                stages=(1, 2) if key in ("gap", "inference") else (2,),
                                disentanglement_points=300 if full.disentanglement_points else 0,
                                iwae_samples=5 if key == "gap" else 0, gap_examples=6 if full.gap_examples else 0)
    finished = []
    window.compare.sig_sweep_finished.connect(finished.append)
    assert window.compare.start_experiment(small, str(tmp_path / key))
    assert small.title in window.compare.experiment_panel.text.toPlainText()
    # an experiment trains several runs and scores them: minutes on a busy machine (each wait ends once it holds)
    qtbot.waitUntil(lambda: len(finished) == len(small.plan()), timeout=5 * WAIT_MS)
    qtbot.waitUntil(lambda: window.compare.catalog.selected != LIVE, timeout=WAIT_MS)
    text = window.compare.experiment_panel.text.toPlainText()
    assert "Measured" in text
    xs, ys = window.compare.experiment_panel.result_values()
    assert len(ys) == (2 if key == "gap" else 2) and all(np.isfinite(ys))
    explored = window.compare.catalog.get(window.compare.catalog.selected)
    if key == "collapse":
        assert "At β = 30" in text and ys[0] > ys[1]  # more β, less rate
        assert explored.beta == 30.0
        # it ends by replaying the explored run's training on the timeline, to its last snapshot
        qtbot.waitUntil(lambda: window.explored.value.key == explored.key and window.timeline.playing,
                        timeout=WAIT_MS)
        qtbot.waitUntil(lambda: not window.timeline.playing, timeout=5 * WAIT_MS)
        assert window.explored.value.moment == window.explored.value.steps[-1]
    elif key == "bottleneck":  # I(X; Z) and KL(q(z) || p(z)) by β, from the summary's rate split
        rows = finished[-1].rows
        assert ys == [r.mutual_information for r in rows] and ys[0] > ys[1]  # more β, less information
        _, second = window.compare.experiment_panel.extras[0].getData()
        assert list(second) == pytest.approx([r.marginal_kl for r in rows])
        assert "of it information" in text
    elif key == "mig":  # MIG beside DCI, SAP and FactorVAE, each run's from the summary
        rows = finished[-1].rows
        panel = window.compare.experiment_panel
        for item, name in zip(panel.extras, ("dci_disentanglement", "sap", "factorvae_score")):
            assert list(item.getData()[1]) == pytest.approx([getattr(r, name) for r in rows]), name
        assert all(0 <= r.dci_disentanglement <= 1 and r.disentanglement_points == 300 for r in rows)
        assert "Beside MIG" in text and "SAP" in text
    elif key == "tcvae":  # one β-VAE and one β-TCVAE run at the same β, MIG of each
        rows = finished[-1].rows
        assert [r.objective for r in rows] == ["elbo", "tcvae"] and ys == [r.mig for r in rows]
        from trainer.experiments.conclusions import result_points

        assert result_points(small, [rows])[0] == ["β s0", "TC s0"]
        assert "β-TCVAE: MIG" in text and "β-VAE: MIG" in text
        assert explored.name == "beta-6_seed-0_obj-tcvae"
    elif key == "layers":  # a 2-layer hierarchy with and without warm-up: each layer's rate from the summary
        rows = finished[-1].rows
        assert [r.beta_schedule for r in rows] == ["constant", "warmup:500"]
        assert ys == [r.rate_top_layer for r in rows]
        _, bottom = window.compare.experiment_panel.extras[0].getData()
        assert list(bottom) == pytest.approx([r.rate_bottom_layer for r in rows]) and all(np.isfinite(bottom))
        assert "top layer" in text and "warmup" in explored.name
    elif key == "inference":  # a small and a large encoder, each after 1 and 2 epochs: their gaps from the summary
        rows = [batch.rows[0] for batch in finished]
        assert [r.epochs for r in rows] == [1, 2, 1, 2] and all(r.gap_examples == 6 for r in rows)
        assert [Path(batch.folder).name for batch in finished] == ["small-encoder"] * 2 + ["large-encoder"] * 2
        assert ys == [r.amortization_gap for r in rows[:2]] and all(r.amortization_gap > 0 for r in rows)
        extras = [list(item.getData()[1]) for item in window.compare.experiment_panel.extras]
        assert extras[0] == pytest.approx([r.amortization_gap for r in rows[2:]])
        assert extras[1] == pytest.approx([r.approximation_gap for r in rows[:2]])
        assert extras[2] == pytest.approx([r.approximation_gap for r in rows[2:]])
        assert all(r.classical_ms > r.amortized_ms > 0 for r in rows)
        assert "small encoder" in text and "large encoder" in text and "classical VI" in text
        assert Path(explored.path).parent.name == "large-encoder"
    else:
        rows = [r for batch in finished for r in batch.rows]
        assert [r.epochs for r in rows] == [1, 2] and all(r.iwae_samples == 5 for r in rows)
    assert window.explore_docks[small.panel].isVisible()
    front = window.explore_docks[small.panel]
    # the panel that shows what it measured is the front tab of its group, not the Runs table (issue 35)
    assert not front.visibleRegion().isEmpty(), f"{small.panel} is behind another tab"


def test_the_window_trains_one_thing_at_a_time(qtbot, window, tmp_path):
    from explorer.runtime.sweep_job import SweepRequest

    window.start_action.trigger()
    qtbot.waitUntil(lambda: window.state is RunState.TRAINING, timeout=WAIT_MS)
    assert not window.compare.start_sweep(SweepRequest(window.run_settings.value, (1.0,), (0,), str(tmp_path / "s")))
    assert "stop it before starting a sweep" in window.banner.text()
    window.stop_action.trigger()
    qtbot.waitUntil(lambda: window.state is RunState.STOPPED, timeout=WAIT_MS)
    with qtbot.waitSignal(window.compare.sig_sweep_finished, timeout=WAIT_MS):
        assert window.compare.start_sweep(SweepRequest(window.run_settings.value.replace(epochs=1), (1.0,), (0,),
                                                       str(tmp_path / "s")))
        assert not window.start_training()  # refused while the sweep trains
        assert "sweep is training" in window.banner.text()
