"""History as CSV: read back with the csv module, every number compared with the arrays it came from."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.errors import VaeExplorerError
from trainer.analysis.export import ExportError, csv_paths, history_to_csv
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def column(header: list[str], rows: list[list[str]], name: str, kind=float) -> list:
    i = header.index(name)
    return [kind(r[i]) for r in rows]


@pytest.fixture(scope="module")
def history() -> dict[str, np.ndarray]:
    """A real run's history (steps, epochs and a beta change), 4 latent dimensions."""
    dataset = load_dataset(DatasetSpec(name="sprites", n=256, image_size=28))
    cfg = model_config_for(dataset, hidden=(32,), latent_dim=4)
    trainer = Trainer(cfg, TrainConfig(epochs=2, batch_size=64, report_every=2, device="cpu"), dataset)
    for report in trainer.run():
        if report.step == 2 and trainer.beta_target == 1.0:
            trainer.set_beta(0.5)  # a live change at the next step: the beta_changes group gets a row
    return trainer.history.arrays()


def test_steps_table_has_the_columns_a_reader_expects_and_exact_numbers(tmp_path, history):
    written = history_to_csv(history, tmp_path / "run.csv")
    assert written[0] == tmp_path / "run.csv"
    header, rows = read_csv(written[0])
    assert header == ["step", "epoch", "beta", "lr", "recon", "kl", "elbo", "loss", "samples_per_s", "elapsed_s",
                      "kl_0", "kl_1", "kl_2", "kl_3"]
    n = len(history["steps/step"])
    assert len(rows) == n > 3
    assert column(header, rows, "step", int) == history["steps/step"].tolist()
    assert column(header, rows, "epoch", int) == history["steps/epoch"].tolist()
    for name in ("beta", "lr", "recon", "kl", "elbo", "loss", "samples_per_s", "elapsed_s"):
        assert column(header, rows, name) == history[f"steps/{name}"].tolist(), name  # exact, not approximate
    kl = np.array([[np.float32(r[header.index(f"kl_{d}")]) for d in range(4)] for r in rows])
    np.testing.assert_array_equal(kl, history["steps/kl_per_dim"])  # float32 read back bit for bit
    # the beta change shows in the table the way it happened
    assert column(header, rows, "beta")[0] == 1.0 and column(header, rows, "beta")[-1] == 0.5


def test_other_groups_go_to_sibling_files(tmp_path, history):
    written = history_to_csv(history, tmp_path / "run.csv")
    assert written == csv_paths(tmp_path / "run.csv", {k.split("/")[0] for k in history})
    assert {p.name for p in written} == {"run.csv", "run.epochs.csv", "run.beta_changes.csv", "run.rate_split.csv"}
    header, rows = read_csv(tmp_path / "run.rate_split.csv")  # the rate's information, one row per epoch
    assert column(header, rows, "mutual_information") == history["rate_split/mutual_information"].tolist()
    header, rows = read_csv(tmp_path / "run.epochs.csv")
    assert header[:10] == ["epoch", "step", "train_recon", "train_kl", "train_elbo", "test_recon", "test_kl",
                           "test_elbo", "test_elbo_se", "active_units"]
    # (an epoch's training loss, distortion + β·rate or IWAE's negative bound, comes after the KL columns)
    assert header[10:] == ["test_kl_0", "test_kl_1", "test_kl_2", "test_kl_3", "train_loss"]
    assert column(header, rows, "epoch", int) == [1, 2]
    assert column(header, rows, "test_elbo") == history["epochs/test_elbo"].tolist()
    assert column(header, rows, "active_units", int) == history["epochs/active_units"].tolist()
    header, rows = read_csv(tmp_path / "run.beta_changes.csv")
    assert header == ["step", "value"] and column(header, rows, "value") == [0.5]
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in written)  # no temp file left behind


def test_cells_are_spreadsheet_friendly(tmp_path):
    arrays = {
        "steps/step": np.array([1, 2, 3], np.int64),
        "steps/recon": np.array([0.1, np.nan, np.inf]),
        "steps/kl_per_dim": np.array([[0.1, 1e-7], [2.5, 0], [3, 4]], np.float32),
        "steps/zz_custom": np.array([True, False, True]),  # unknown columns follow the known ones
    }
    path = history_to_csv(arrays, tmp_path / "odd.csv")[0]
    raw = path.read_bytes().decode()
    assert raw.startswith("step,recon,kl_0,kl_1,zz_custom\r\n")  # RFC 4180 line ends, as Excel expects
    header, rows = read_csv(path)
    assert rows[0] == ["1", "0.1", "0.1", "1e-07", "1"]  # float32 0.1 written as 0.1, not 0.10000000149
    assert rows[1][1] == "" and rows[2][1] == "inf"     # NaN is a missing cell
    assert len(rows) == 3


def test_write_is_atomic_and_a_failure_keeps_the_old_file(tmp_path, history, monkeypatch):
    target = tmp_path / "run.csv"
    target.write_text("old contents\n")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ExportError) as info:
        history_to_csv(history, target)
    message = str(info.value)
    assert isinstance(info.value, VaeExplorerError) and "run.csv" in message and "\n" not in message
    assert "No space left" in message
    assert target.read_text() == "old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv"]  # the temp file was removed


@pytest.mark.parametrize(
    "arrays, fragment",
    [
        ({}, "no training steps"),
        ({"epochs/epoch": np.array([1])}, "no training steps"),
        ({"steps/step": np.arange(3), "steps/recon": np.zeros(2)}, "different lengths"),
        ({"steps/step": np.arange(3), "steps/x": np.zeros((3, 2, 2))}, "1-D or 2-D"),
        ({"steps/step": np.array(["a", "b"])}, "numeric"),
        ({"steps": np.arange(3)}, "group/name"),
    ],
    ids=["empty", "no-steps", "ragged", "3-d", "text", "bad-name"],
)
def test_bad_history_is_one_line_naming_the_file(tmp_path, arrays, fragment):
    with pytest.raises(ExportError) as info:
        history_to_csv(arrays, tmp_path / "bad.csv")
    assert fragment in str(info.value) and "bad.csv" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_one_line(tmp_path, history):
    with pytest.raises(ExportError, match="no-such-folder"):
        history_to_csv(history, tmp_path / "no-such-folder" / "run.csv")
