"""What the Trainer remembers of its reports: the history columns a checkpoint stores, and the open report windows.

    history.add_report("steps", report)     # one row: every field of the report that is a history column
    history.arrays()                        # {"steps/recon": float64 (n,), "steps/kl_per_dim": float32 (n, D), ...}
    window.add_step(terms, batch)           # sums on the device; read once per report

Both go into checkpoints (history as `group/name` arrays, windows as running sums), so a resumed run continues
the same columns and reports the same rows as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from trainer.errors import ConfigError

INT_COLUMNS = {"step", "epoch", "active_units", "restored_step", "layer"}
"""History columns stored as int64; the others are float64, per-dimension KL float32."""
NOT_A_COLUMN = {"history": False}
RATE_SPLIT_KEYS = ("mutual_information", "marginal_kl", "total_correlation", "dimwise_kl", "log_n", "n",
                   "mutual_information_se", "mutual_information_at_half_n", "marginal_kl_se", "total_correlation_se",
                   "dimwise_kl_se")
"""The columns of group rate_split (beside step and epoch), as trainer.analysis.metrics.split_of names them;
a hierarchy's total_correlation and dimwise_kl (None in the split) are NaN, and so are the columns a checkpoint
written before they existed lacks (n and the standard errors)."""
LAYER_SPLIT_KEYS = ("rate", "mutual_information", "marginal_kl")
"""The columns of group rate_split_layers (beside step, epoch and layer, 0 at the bottom): a hierarchy's split
per layer, one row per layer per evaluation."""
"""Field metadata of a report field that is a live reading only (epoch progress, the β target), not a column."""


@dataclass
class ReportWindow:
    """What the steps since the last report (or epoch end) summed; tensors stay on the device until a report."""

    sums: torch.Tensor
    """(3,): recon, KL and loss, each times the batch size, summed over the steps."""
    kl_dims: torch.Tensor
    """(latent_dim,): per-dimension KL times the batch size, summed over the steps."""
    n: int = 0
    """Examples seen."""
    steps: int = 0
    busy_s: float = 0.0
    """Training seconds booked to this window (time paused, evaluating or in the consumer excluded)."""
    tc_sum: torch.Tensor | None = None
    """β-TCVAE: the batches' total-correlation estimates times the batch size, summed (None until one came)."""
    tc_n: int = 0
    """Examples tc_sum counts (a window resumed from a checkpoint written before it existed counts fewer)."""

    @classmethod
    def empty(cls, latent_dim: int, device: torch.device) -> "ReportWindow":
        return cls(torch.zeros(3, device=device), torch.zeros(latent_dim, device=device))

    def add_step(self, terms, batch: int) -> None:
        with torch.no_grad():  # sums stay on the device: no sync until the report
            self.sums += torch.stack([terms.recon, terms.kl, terms.loss]).detach() * batch
            self.kl_dims += terms.kl_per_dim.detach() * batch
            if getattr(terms, "total_correlation", None) is not None:
                tc = terms.total_correlation.detach().float() * batch
                self.tc_sum = tc if self.tc_sum is None else self.tc_sum + tc
                self.tc_n += batch
        self.n += batch
        self.steps += 1

    @property
    def batch_tc(self) -> float:
        """The mean batch TC estimate over the window (one device sync), NaN when it has none."""
        return float(self.tc_sum) / self.tc_n if self.tc_n else math.nan

    def add(self, other: "ReportWindow") -> None:
        self.sums += other.sums
        self.kl_dims += other.kl_dims
        self.n += other.n
        self.steps += other.steps
        if other.tc_n:
            self.tc_sum = other.tc_sum if self.tc_sum is None else self.tc_sum + other.tc_sum
            self.tc_n += other.tc_n

    def summed_over(self, group) -> "ReportWindow":
        """The window summed over every rank of a torchrun group (trainer.training.distributed.Group): one
        all-reduce of its sums, per-dimension KLs, β-TCVAE's batch TC and example counts."""
        d, device = self.kl_dims.shape[0], self.sums.device
        tc = self.tc_sum.double().reshape(1) if self.tc_n else torch.zeros(1, dtype=torch.float64, device=device)
        packed = torch.cat([self.sums.double(), self.kl_dims.double(), tc,
                            torch.tensor([float(self.tc_n), float(self.n)], dtype=torch.float64, device=device)])
        group.all_reduce_sum(packed)
        tc_n = int(round(packed[-2].item()))
        return ReportWindow(sums=packed[:3].float(), kl_dims=packed[3:3 + d].float(), n=int(round(packed[-1].item())),
                            steps=self.steps, busy_s=self.busy_s, tc_sum=packed[3 + d].float() if tc_n else None,
                            tc_n=tc_n)

    def save(self, name: str, progress: dict, running: dict) -> None:
        """Into a checkpoint: counts into `progress`, sums into `running` (float32 values, exactly)."""
        progress.update({f"{name}_n": self.n, f"{name}_steps": self.steps, f"{name}_busy_s": self.busy_s})
        running[f"{name}_sums"] = self.sums.detach().cpu().numpy().astype(np.float64)
        running[f"{name}_kl_dims"] = self.kl_dims.detach().cpu().numpy().astype(np.float64)
        if self.tc_n:
            progress[f"{name}_tc_n"] = self.tc_n
            running[f"{name}_tc_sum"] = self.tc_sum.detach().cpu().numpy().astype(np.float64).reshape(1)

    @classmethod
    def load(cls, name: str, progress: dict, running: dict, latent_dim: int, device: torch.device) -> "ReportWindow":
        """From a checkpoint; one written before windows were saved gives an empty window."""
        win = cls.empty(latent_dim, device)
        if f"{name}_sums" not in running:
            return win
        sums, kl_dims = np.asarray(running[f"{name}_sums"]), np.asarray(running.get(f"{name}_kl_dims", ()))
        if sums.shape != (3,) or kl_dims.shape != (latent_dim,):
            raise ConfigError(f"checkpoint's running sums {name} have shapes {sums.shape} and {kl_dims.shape}, "
                              f"expected (3,) and ({latent_dim},)")
        win.sums = torch.tensor(sums, dtype=torch.float32, device=device)
        win.kl_dims = torch.tensor(kl_dims, dtype=torch.float32, device=device)
        win.n = int(progress.get(f"{name}_n", 0))
        win.steps = int(progress.get(f"{name}_steps", 0))
        win.busy_s = float(progress.get(f"{name}_busy_s", 0.0))
        tc_sum = np.asarray(running.get(f"{name}_tc_sum", ()))
        if tc_sum.shape == (1,) and int(progress.get(f"{name}_tc_n", 0)) > 0:
            win.tc_sum = torch.tensor(tc_sum[0], dtype=torch.float32, device=device)
            win.tc_n = int(progress[f"{name}_tc_n"])
        return win



class History:
    """Every report as growing columns; `arrays()` gives the flat `group/name` arrays a checkpoint stores."""

    def __init__(self, arrays: dict[str, np.ndarray] | None = None):
        self._cols: dict[str, dict[str, list]] = {}
        for key, arr in (arrays or {}).items():
            group, name = key.split("/", 1)
            self._cols.setdefault(group, {})[name] = list(np.asarray(arr))

    def add(self, group: str, **values) -> None:
        """One row of `group`. A column the group had not (an older checkpoint's history resumed) starts with NaN
        for the rows before; a column this row lacks gets NaN: the group's columns keep one length."""
        cols = self._cols.setdefault(group, {})
        rows = len(next(iter(cols.values()))) if cols else 0
        for name, value in values.items():
            cols.setdefault(name, [math.nan] * rows).append(value)
        for name, column in cols.items():
            if name not in values:
                column.append(math.nan)

    def add_report(self, group: str, report) -> None:
        """One row of a report dataclass: each of its fields but those marked NOT_A_COLUMN, as it is (no copy)."""
        self.add(group, **{f.name: getattr(report, f.name) for f in dataclasses.fields(report)
                           if f.metadata.get("history", True)})

    def add_epoch(self, report) -> None:
        """An EpochReport: its row of group epochs, and one of group rate_split when it carries the split (a group
        of its own, so the epochs of a checkpoint written before the split existed still line up)."""
        self.add_report("epochs", report)
        if report.rate_split is not None:
            split = report.rate_split
            self.add("rate_split", step=report.step, epoch=report.epoch,
                     **{k: math.nan if split.get(k) is None else split[k] for k in RATE_SPLIT_KEYS})
            for layer, parts in enumerate(split.get("layers", ())):
                self.add("rate_split_layers", step=report.step, epoch=report.epoch, layer=layer,
                         **{k: parts[k] for k in LAYER_SPLIT_KEYS})

    def evaluation_at(self, step: int, split_n: int) -> dict | None:
        """The held-out evaluation that closed an epoch at `step`, in evaluate()'s names (rate, distortion, elbo,
        elbo_se, active_units, kl_per_dim and rate_split of `split_n` points, with a hierarchy's layers), or None
        when no epoch closed there or its row lacks one of them (a checkpoint written before they were kept)."""
        from trainer.analysis.information_ceiling import near_ceiling

        def row_at(group: str) -> list[int]:
            return [i for i, s in enumerate(self.column(group, "step")) if int(s) == int(step)]

        epoch_rows, split_rows = row_at("epochs"), row_at("rate_split")
        if not epoch_rows or not split_rows:
            return None
        e, r = epoch_rows[-1], split_rows[-1]
        epoch = {name: self.column("epochs", name)[e] for name in ("test_recon", "test_kl", "test_elbo",
                                                                    "test_elbo_se", "active_units", "test_kl_per_dim")
                 if len(self.column("epochs", name)) > e}
        split = {k: self.column("rate_split", k)[r] for k in RATE_SPLIT_KEYS if len(self.column("rate_split", k)) > r}
        if (len(epoch) < 6 or not math.isfinite(float(epoch["test_elbo_se"])) or len(split) < len(RATE_SPLIT_KEYS)
                or int(split["n"]) != int(split_n)):
            return None
        split = {k: (None if not math.isfinite(float(v)) else int(v) if k == "n" else float(v))
                 for k, v in split.items()}
        split["near_ceiling"] = near_ceiling(split["mutual_information"], split["mutual_information_se"],
                                             split["mutual_information_at_half_n"], split["log_n"])
        layers = [i for i, s in enumerate(self.column("rate_split_layers", "step")) if int(s) == int(step)]
        if layers:
            split["layers"] = [{k: float(self.column("rate_split_layers", k)[i]) for k in LAYER_SPLIT_KEYS}
                               for i in layers]
        rate, distortion = float(epoch["test_kl"]), float(epoch["test_recon"])
        return {"rate": rate, "kl": rate, "distortion": distortion, "recon": distortion,
                "elbo": float(epoch["test_elbo"]), "elbo_se": float(epoch["test_elbo_se"]),
                "active_units": int(epoch["active_units"]),
                "kl_per_dim": np.asarray(epoch["test_kl_per_dim"], dtype=np.float64).tolist(), "rate_split": split}

    def column(self, group: str, name: str) -> list:
        return self._cols.get(group, {}).get(name, [])

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for group, cols in self._cols.items():
            for name, values in cols.items():
                if name in INT_COLUMNS:
                    dtype = np.int64
                elif name.endswith("kl_per_dim"):
                    dtype = np.float32
                else:
                    dtype = np.float64
                out[f"{group}/{name}"] = np.asarray(values, dtype=dtype)
        return out
