"""Training history as CSV files a spreadsheet opens directly, one table per history group.

    from trainer.analysis.export import history_to_csv
    written = history_to_csv(trainer.history.arrays(), "run.csv")   # or load_checkpoint(p).history
    # run.csv               steps: step, epoch, beta, lr, recon, kl, elbo, loss, samples_per_s, elapsed_s,
    #                       kl_0..kl_{D-1}
    # run.epochs.csv        epochs: epoch, step, train_*/test_* terms, active_units, test_kl_0..
    # run.rate_split.csv    rate_split: epoch, step, mutual_information, marginal_kl, total_correlation, ...
    # run.beta_changes.csv  (and any other group, e.g. divergences) when the run has some

The file the user names holds the steps table, the curves most people want. Each other group gets its own
sibling file rather than one sheet with a `group` column, because a spreadsheet opens one CSV as one sheet
and groups have different columns and row counts. recon, kl, elbo and loss are in nats per example; rate is
kl, distortion is recon.

Cells: integers as integers, floats in the shortest form that reads back to the same value of their own
dtype (float32 per-dimension KL reads back exactly as float32); NaN as an empty cell (a missing value to any
spreadsheet), infinities as inf/-inf. Rows end with CRLF as RFC 4180 and Excel expect. Each file is written
to a temporary file beside it and renamed into place, so a crash never leaves half a table.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from trainer.atomic import atomic_write
from trainer.errors import VaeExplorerError

MAIN_GROUP = "steps"
"""The group written to the path the caller names; the others go to `<stem>.<group>.csv` beside it."""

COLUMN_ORDER = {
    "steps": ("step", "epoch", "beta", "lr", "recon", "kl", "elbo", "loss", "samples_per_s", "elapsed_s",
              "kl_per_dim"),
    "epochs": ("epoch", "step", "train_recon", "train_kl", "train_elbo", "test_recon", "test_kl", "test_elbo",
               "test_elbo_se", "active_units", "test_kl_per_dim"),
    "beta_changes": ("step", "value"),
    "divergences": ("step", "restored_step"),
    "rate_split": ("epoch", "step", "mutual_information", "marginal_kl", "total_correlation", "dimwise_kl", "log_n"),
}
"""The order a reader expects: position first, then the loss terms; unknown columns follow alphabetically."""


class ExportError(VaeExplorerError):
    """An export could not be written: one line naming the file, like every project error."""


def history_to_csv(history_arrays: dict[str, np.ndarray], path: str | Path) -> list[Path]:
    """Write each history group as a CSV table; returns the files written, the steps table first.

    `history_arrays` is the flat {"group/name": 1-D or 2-D array} of History.arrays() or Checkpoint.history;
    the arrays of one group share their first dimension (one row per report, per epoch...).
    """
    path = Path(path)
    groups = _group(history_arrays, path)
    if MAIN_GROUP not in groups:
        raise ExportError(f"{path}: nothing to export: the history has no training steps yet")
    written = []
    for name in [MAIN_GROUP] + sorted(set(groups) - {MAIN_GROUP}):
        target = path if name == MAIN_GROUP else path.with_name(f"{path.stem}.{name}.csv")
        header, columns = _table(name, groups[name], target)
        _write_atomic(target, header, columns)
        written.append(target)
    return written


def csv_paths(path: str | Path, groups) -> list[Path]:
    """The files history_to_csv(arrays, path) writes for these group names (for "overwrite?" prompts)."""
    path = Path(path)
    return [path] + [path.with_name(f"{path.stem}.{g}.csv") for g in sorted(set(groups) - {MAIN_GROUP})]


def _group(arrays: dict[str, np.ndarray], path: Path) -> dict[str, dict[str, np.ndarray]]:
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in arrays.items():
        group, sep, name = str(key).partition("/")
        if not sep or not group or not name:
            raise ExportError(f"{path}: history name {key!r} is not group/name")
        groups.setdefault(group, {})[name] = np.asarray(arr)
    return groups


def _column_names(name: str, arr: np.ndarray) -> list[str]:
    if arr.ndim == 1:
        return [name]
    # kl_per_dim -> kl_0, kl_1...: one column per latent dimension, named as the KL panel names them
    stem = name[: -len("_per_dim")] if name.endswith("_per_dim") else name
    return [f"{stem}_{i}" for i in range(arr.shape[1])]


def _table(group: str, cols: dict[str, np.ndarray], target: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the cells of one group, column by column."""
    preferred = COLUMN_ORDER.get(group, ())
    order = [c for c in preferred if c in cols] + sorted(set(cols) - set(preferred))
    rows = {len(cols[c]) for c in order}
    if len(rows) > 1:
        raise ExportError(f"{target}: the {group} columns have different lengths {sorted(rows)}")
    header: list[str] = []
    columns: list[list[str]] = []
    for name in order:
        arr = cols[name]
        if arr.ndim not in (1, 2) or arr.dtype.kind not in "biuf":
            raise ExportError(f"{target}: {group}/{name} is not a 1-D or 2-D numeric array ({arr.dtype}, {arr.shape})")
        header += _column_names(name, arr)
        cells = _strings(arr.reshape(len(arr), -1))
        columns += [cells[:, i].tolist() for i in range(cells.shape[1])]
    return header, columns


def _strings(arr: np.ndarray) -> np.ndarray:
    """A 2-D numeric array as CSV cells, converted in one numpy call, not a Python format() per cell."""
    if arr.dtype.kind in "biu":
        return arr.astype(np.int64).astype(str)
    # float64 gives repr; float32 its own shortest repr (0.1, not 0.10000000149011612), which reads back exactly
    cells = arr.astype(str)
    cells[np.isnan(arr)] = ""  # a missing value to any spreadsheet; "nan" is text to most of them
    return cells


def _write_atomic(target: Path, header: list[str], columns: list[list[str]]) -> None:
    try:
        with atomic_write(target) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)  # excel dialect: commas, CRLF, quoting only where needed
            writer.writerow(header)
            writer.writerows(zip(*columns))
    except OSError as exc:
        raise ExportError(f"{target}: cannot write ({exc.strerror or exc})") from None
