"""The training loop: a `Trainer` that a GUI thread or the CLI drives, and that yields reports.

    trainer = Trainer(model_config, train_config, dataset)
    for report in trainer.run():          # StepReport every `report_every` steps, EpochReport per epoch
        ...                               # another thread may call set_beta / set_lr / pause / stop
    ckpt = trainer.checkpoint()           # plain numpy copies, ready for save_checkpoint

The dataset lives on the device as one tensor and is sliced per batch, so no per-item loader limits
throughput. Live settings arrive through thread-safe setters and apply at the next step.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

import numpy as np
import torch

from trainer.checkpoint import Checkpoint
from trainer.config import BetaSchedule, ModelConfig, TrainConfig
from trainer.data import Dataset
from trainer.errors import ConfigError
from trainer.metrics import evaluate
from trainer.model import VAE
from trainer.objective import negative_elbo

PAUSED_POLL_S = 0.05  # while paused, how often queued calls (call_between_steps) are looked at
SNAPSHOT_EVERY = 100  # steps between copies of the last good weights (divergence recovery)
INT_COLUMNS = {"step", "epoch", "active_units", "restored_step"}
# how Adam runs on this machine, not what it learned: never taken from a checkpoint
IMPLEMENTATION_FLAGS = {"fused", "foreach", "capturable", "differentiable"}


def pick_device(name: str = "auto") -> torch.device:
    """auto picks cuda, then mps, then cpu; an explicit device that is absent is a ConfigError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda requested but no CUDA GPU is available (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device mps requested but MPS is not available (use --device cpu or auto)")
    return torch.device(name)


def model_config_for(dataset: Dataset, conditional: bool = False, **kwargs) -> ModelConfig:
    """A ModelConfig whose input shape (and, for a CVAE, class count) matches the dataset."""
    if conditional and not dataset.num_classes:
        raise ConfigError(f"{dataset.spec.describe()} has no labels, so it cannot train a conditional VAE")
    cfg = ModelConfig(input_shape=tuple(dataset.input_shape), num_classes=dataset.num_classes if conditional else 0, **kwargs)
    cfg.validate()
    return cfg


def _to_device_tensor(x: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    return None if x is None else torch.from_numpy(np.ascontiguousarray(x)).to(device)


def _as_float01(xb: torch.Tensor) -> torch.Tensor:
    # images stay uint8 on the device (4x less memory); each batch is scaled to [0, 1] as it is used
    return xb.float().div_(255.0) if xb.dtype == torch.uint8 else xb.float()


@dataclass(frozen=True)
class StepReport:
    """Training progress averaged over the steps since the previous report; nats per example."""

    step: int
    """Optimizer steps taken so far."""
    epoch: int
    """0-based epoch in progress."""
    epoch_progress: float
    """Fraction of the current epoch done, 0..1."""
    beta: float
    """Effective beta of the last step (target times schedule factor)."""
    beta_target: float
    lr: float
    free_bits: float
    recon: float
    kl: float
    elbo: float
    loss: float
    kl_per_dim: np.ndarray
    samples_per_s: float
    elapsed_s: float
    """Training seconds so far, excluding evaluation and time spent paused."""


@dataclass(frozen=True)
class EpochReport:
    """End-of-epoch evaluation on the held-out split, nats per example."""

    epoch: int
    """Epochs completed."""
    step: int
    train_recon: float
    train_kl: float
    train_elbo: float
    test_recon: float
    test_kl: float
    test_elbo: float
    test_kl_per_dim: np.ndarray
    active_units: int


@dataclass(frozen=True)
class DivergedReport:
    """The loss went NaN/Inf: the last good weights were restored and training paused or stopped."""

    step: int
    restored_step: int
    message: str


class History:
    """Every report as growing columns; `arrays()` gives the flat `group/name` arrays a checkpoint stores."""

    def __init__(self, arrays: dict[str, np.ndarray] | None = None):
        self._cols: dict[str, dict[str, list]] = {}
        for key, arr in (arrays or {}).items():
            group, name = key.split("/", 1)
            self._cols.setdefault(group, {})[name] = list(np.asarray(arr))

    def add(self, group: str, **values) -> None:
        cols = self._cols.setdefault(group, {})
        for name, value in values.items():
            cols.setdefault(name, []).append(value)

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


class Trainer:
    """Trains a VAE on a Dataset; thread-safe live controls; reproducible from `seed`."""

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        dataset: Dataset,
        checkpoint: Checkpoint | None = None,
        on_divergence: str = "stop",
    ):
        model_config.validate()
        train_config.validate()
        if tuple(model_config.input_shape) != tuple(dataset.input_shape):
            raise ConfigError(
                f"model expects {tuple(model_config.input_shape)} images but {dataset.spec.describe()} has {tuple(dataset.input_shape)}"
            )
        if model_config.conditional and dataset.y_train is None:
            raise ConfigError(f"{dataset.spec.describe()} has no labels for a conditional VAE")
        self.model_config = model_config
        self.config = train_config
        self.dataset = dataset
        self.on_divergence = on_divergence
        self.device = pick_device(train_config.device)
        self.schedule = BetaSchedule.parse(train_config.beta_schedule)

        torch.manual_seed(train_config.seed)
        self.model = VAE(model_config).to(self.device)
        # fused Adam: one kernel per parameter instead of ~10 small ops (CPU too since torch 2.4)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=train_config.lr, fused=self.device.type in ("cpu", "cuda"))
        self._noise = torch.Generator(device=self.device)
        self._noise.manual_seed(train_config.seed)

        self.x_train = _to_device_tensor(dataset.x_train, self.device)
        self.y_train = _to_device_tensor(dataset.y_train, self.device) if model_config.conditional else None

        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.elapsed_s = 0.0
        self.beta_target = float(train_config.beta)
        self.lr = float(train_config.lr)
        self.free_bits = float(train_config.free_bits)
        self.history = History()
        self.last_eval: dict | None = None

        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._good: dict | None = None
        self._good_step = 0
        self._calls: list = []  # callables another thread asked to run here between steps

        if checkpoint is not None:
            self._restore(checkpoint)

    # --- live controls: any thread; applied before the next step --------------------------
    def set_beta(self, beta: float) -> None:
        if not (math.isfinite(beta) and beta >= 0):
            raise ConfigError(f"beta must be >= 0, got {beta}")
        with self._lock:
            self._pending["beta"] = float(beta)

    def set_lr(self, lr: float) -> None:
        if not (math.isfinite(lr) and lr > 0):
            raise ConfigError(f"lr must be positive, got {lr}")
        with self._lock:
            self._pending["lr"] = float(lr)

    def set_free_bits(self, free_bits: float) -> None:
        if not (math.isfinite(free_bits) and free_bits >= 0):
            raise ConfigError(f"free_bits must be >= 0, got {free_bits}")
        with self._lock:
            self._pending["free_bits"] = float(free_bits)

    def set_epochs(self, epochs: int) -> None:
        """Change the total epochs to train; checked between epochs, so a finished run can continue."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ConfigError(f"epochs must be a whole number >= 0, got {epochs!r}")
        self.config = dataclasses.replace(self.config, epochs=epochs)

    def call_between_steps(self, fn) -> None:
        """Run `fn()` in the training thread before the next step, or soon while paused; any thread.

        For work that must see the model hold still, e.g. `checkpoint()` for a save from a GUI: the training
        thread is inside `run()`, so a call queued to it otherwise waits for the whole run. Calls not yet run
        when `run()` returns wait for the next `run()` or `run_pending_calls()`.
        """
        with self._lock:
            self._calls.append(fn)

    def run_pending_calls(self) -> None:
        """Run the queued calls now; only from the thread that trains (or while no thread trains)."""
        with self._lock:
            calls, self._calls = self._calls, []
        for fn in calls:
            fn()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so it can see the stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.x_train) / self.config.batch_size)

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    def beta_at(self, step: int) -> float:
        return self.beta_target * self.schedule.factor(step)

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if "beta" in pending and pending["beta"] != self.beta_target:
            self.beta_target = pending["beta"]
            self.history.add("beta_changes", step=self.step, value=self.beta_target)
        if "lr" in pending:
            self.lr = pending["lr"]
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr
        if "free_bits" in pending:
            self.free_bits = pending["free_bits"]

    # --- the loop ------------------------------------------------------------------------
    def _epoch_order(self, epoch: int) -> torch.Tensor:
        # a permutation that depends only on (seed, epoch), so a resumed run sees the same batches
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.x_train), generator=g).to(self.device)

    def run(self, max_steps: int | None = None) -> Iterator[StepReport | EpochReport | DivergedReport]:
        """Train until the configured epochs are done, `stop()` is called, or `max_steps` more steps ran."""
        self._stop.clear()
        bs = self.config.batch_size
        n = len(self.x_train)
        end_step = None if max_steps is None else self.step + max_steps
        self.model.train()
        self._snapshot()
        win = self._new_window()
        epoch_acc = self._new_window()
        while not self.finished and not self._stop.is_set():
            order = self._epoch_order(self.epoch)
            while self.batch_in_epoch < self.steps_per_epoch:
                if not self._running.is_set():
                    self.elapsed_s += time.perf_counter() - win["t0"]
                    while not self._running.wait(PAUSED_POLL_S):
                        self.run_pending_calls()  # a save asked for while paused must not wait for Resume
                    win["t0"] = time.perf_counter()
                if self._stop.is_set() or (end_step is not None and self.step >= end_step):
                    break
                self._apply_pending()
                if self._calls:  # unlocked peek: a call queued just now runs before the step after
                    self.run_pending_calls()
                idx = order[self.batch_in_epoch * bs : (self.batch_in_epoch + 1) * bs]
                xb = _as_float01(self.x_train[idx])
                yb = self.y_train[idx] if self.y_train is not None else None
                beta = self.beta_at(self.step)
                eps = torch.randn((len(idx), self.model_config.latent_dim), generator=self._noise, device=self.device)
                terms = negative_elbo(self.model, xb, yb, beta=beta, free_bits=self.free_bits, eps=eps)
                self.optimizer.zero_grad(set_to_none=True)
                terms.loss.backward()
                self.optimizer.step()
                self.step += 1
                self.batch_in_epoch += 1
                win["n"] += len(idx)
                win["steps"] += 1
                with torch.no_grad():  # sums stay on the device: no sync until the report
                    win["sum"] += torch.stack([terms.recon, terms.kl, terms.loss]) * len(idx)
                    win["kl_dims"] += terms.kl_per_dim * len(idx)
                # windows end on multiples of report_every, so a resumed run reports at the same steps
                if self.step % self.config.report_every == 0 or self.batch_in_epoch == self.steps_per_epoch:
                    self._merge(epoch_acc, win)
                    report = self._close_window(win, beta)
                    win = self._new_window()
                    if isinstance(report, DivergedReport):
                        epoch_acc = self._new_window()
                        # pause/stop before yielding: the consumer may never ask for another report
                        if self.on_divergence == "stop":
                            self._stop.set()
                        else:
                            self.pause()
                        yield report
                        continue
                    yield report
            if win["steps"]:
                self._merge(epoch_acc, win)
                report = self._close_window(win, self.beta_at(self.step - 1))
                win = self._new_window()
                yield report
            if self.batch_in_epoch >= self.steps_per_epoch:
                yield self._end_epoch(epoch_acc)
                epoch_acc = self._new_window()
                win = self._new_window()
            if end_step is not None and self.step >= end_step:
                break

    def _new_window(self) -> dict:
        return {
            "n": 0,
            "steps": 0,
            "sum": torch.zeros(3, device=self.device),
            "kl_dims": torch.zeros(self.model_config.latent_dim, device=self.device),
            "t0": time.perf_counter(),
        }

    @staticmethod
    def _merge(into: dict, win: dict) -> None:
        into["n"] += win["n"]
        into["steps"] += win["steps"]
        into["sum"] += win["sum"]
        into["kl_dims"] += win["kl_dims"]

    def _close_window(self, win: dict, beta: float) -> StepReport | DivergedReport:
        sums = (win["sum"] / win["n"]).tolist()  # the one device sync per report
        dt = time.perf_counter() - win["t0"]
        self.elapsed_s += dt
        if not all(math.isfinite(v) for v in sums):
            return self._recover()
        recon, kl, loss = sums
        if self.step - self._good_step >= SNAPSHOT_EVERY:
            self._snapshot()
        report = StepReport(
            step=self.step,
            epoch=self.epoch,
            epoch_progress=self.batch_in_epoch / self.steps_per_epoch,
            beta=beta,
            beta_target=self.beta_target,
            lr=self.lr,
            free_bits=self.free_bits,
            recon=recon,
            kl=kl,
            elbo=-(recon + kl),
            loss=loss,
            kl_per_dim=(win["kl_dims"] / win["n"]).cpu().numpy().astype(np.float32),
            samples_per_s=win["n"] / dt if dt > 0 else 0.0,
            elapsed_s=self.elapsed_s,
        )
        self.history.add(
            "steps",
            step=report.step,
            epoch=report.epoch,
            beta=report.beta,
            lr=report.lr,
            recon=report.recon,
            kl=report.kl,
            elbo=report.elbo,
            loss=report.loss,
            kl_per_dim=report.kl_per_dim,
            samples_per_s=report.samples_per_s,
            elapsed_s=report.elapsed_s,
        )
        return report

    def _end_epoch(self, acc: dict) -> EpochReport:
        n = max(acc["n"], 1)
        train_recon, train_kl, _ = (acc["sum"] / n).tolist()
        self.epoch += 1
        self.batch_in_epoch = 0
        result = self.evaluate_test()
        self.model.train()
        report = EpochReport(
            epoch=self.epoch,
            step=self.step,
            train_recon=train_recon,
            train_kl=train_kl,
            train_elbo=-(train_recon + train_kl),
            test_recon=result["recon"],
            test_kl=result["kl"],
            test_elbo=result["elbo"],
            test_kl_per_dim=np.asarray(result["kl_per_dim"], dtype=np.float32),
            active_units=int(result["active_units"]),
        )
        self.history.add(
            "epochs",
            epoch=report.epoch,
            step=report.step,
            train_recon=report.train_recon,
            train_kl=report.train_kl,
            train_elbo=report.train_elbo,
            test_recon=report.test_recon,
            test_kl=report.test_kl,
            test_elbo=report.test_elbo,
            test_kl_per_dim=report.test_kl_per_dim,
            active_units=report.active_units,
        )
        return report

    def evaluate_test(self, **kwargs) -> dict:
        """Held-out metrics with a fixed noise seed, so evaluations compare across epochs and runs."""
        g = torch.Generator().manual_seed(self.config.seed + 12345)
        y = self.dataset.y_test if self.model_config.conditional else None
        self.last_eval = evaluate(self.model, self.dataset.x_test, y, self.device, generator=g, **kwargs)
        return self.last_eval

    # --- divergence recovery ----------------------------------------------------------------
    def _snapshot(self) -> None:
        self._good = {
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optim": copy.deepcopy(self.optimizer.state_dict()),
        }
        self._good_step = self.step

    def _recover(self) -> DivergedReport:
        bad_step = self.step
        self.model.load_state_dict(self._good["model"])
        self.optimizer.load_state_dict(self._good["optim"])
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        action = "stopped" if self.on_divergence == "stop" else "paused"
        msg = (
            f"loss became NaN/Inf by step {bad_step}: restored the weights of step {self._good_step} and {action}"
            f" training (lr {self.lr:g}, beta {self.beta_target:g}); lower the learning rate before resuming"
        )
        self.history.add("divergences", step=bad_step, restored_step=self._good_step)
        return DivergedReport(step=bad_step, restored_step=self._good_step, message=msg)

    # --- checkpoints ----------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """A copy of everything needed to resume; call it between steps (from the training thread)."""
        optim = self.optimizer.state_dict()
        groups = []
        for g in optim["param_groups"]:
            groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()})
        state = {
            int(i): {k: v.detach().cpu().numpy().copy() for k, v in s.items()} for i, s in optim["state"].items()
        }
        return Checkpoint(
            model_config=self.model_config,
            train_config=self.config,
            dataset=self.dataset.spec,
            model_state={k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()},
            optimizer_state={"param_groups": groups, "state": state},
            progress={
                "step": self.step,
                "epoch": self.epoch,
                "batch_in_epoch": self.batch_in_epoch,
                "beta": self.beta_target,
                "lr": self.lr,
                "free_bits": self.free_bits,
                "elapsed_s": self.elapsed_s,
            },
            rng_state={"noise": self._noise.get_state().cpu().numpy().copy()},
            history=self.history.arrays(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

    def _restore(self, ckpt: Checkpoint) -> None:
        if ckpt.model_config != self.model_config:
            raise ConfigError("checkpoint model config differs from the requested one")
        self.model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ckpt.model_state.items()})
        self._restore_optimizer(ckpt.optimizer_state)
        p = ckpt.progress
        self.step = int(p["step"])
        self.epoch = int(p["epoch"])
        self.batch_in_epoch = int(p["batch_in_epoch"])
        self.beta_target = float(p["beta"])
        self.lr = float(p["lr"])
        self.free_bits = float(p["free_bits"])
        self.elapsed_s = float(p.get("elapsed_s", 0.0))
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        if "noise" in ckpt.rng_state:
            try:
                self._noise.set_state(torch.from_numpy(np.asarray(ckpt.rng_state["noise"], dtype=np.uint8)))
            except (RuntimeError, ValueError):
                # a state from another device's generator (a CUDA run resumed on the CPU): training goes
                # on with noise seeded from (seed, step), reproducible but not the uninterrupted run's
                self._noise.manual_seed(self.config.seed * 1_000_003 + self.step)
        self.history = History(ckpt.history)

    def _restore_optimizer(self, saved: dict) -> None:
        if not saved.get("param_groups"):
            return  # a checkpoint without Adam state (e.g. exported weights): Adam starts afresh
        groups = []
        for live, group in zip(self.optimizer.param_groups, saved["param_groups"]):
            merged = {k: v for k, v in live.items() if k != "params"}
            merged.update({k: v for k, v in group.items() if k not in IMPLEMENTATION_FLAGS})
            if "betas" in merged:
                merged["betas"] = tuple(merged["betas"])
            groups.append(merged)
        state = {int(i): {k: torch.as_tensor(np.asarray(v)) for k, v in s.items()} for i, s in saved["state"].items()}
        self.optimizer.load_state_dict({"param_groups": groups, "state": state})
