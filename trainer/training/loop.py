"""The training loop: a `Trainer` that a GUI thread or the CLI drives, and that yields reports.

    trainer = Trainer(model_config, train_config, dataset)
    for report in trainer.run():          # StepReport every `report_every` steps, EpochReport per epoch,
                                          # BetaChanged when a live β change takes effect, PauseChanged
    trainer.epoch_analyses.beside = True  # epochs evaluated beside training (the window), reports a few steps late
        ...                               # another thread may call set_beta / set_lr / pause / stop
    ckpt = trainer.checkpoint()           # plain numpy copies, ready for save_checkpoint

The dataset lives on the device as one tensor and is sliced per batch, so no per-item loader limits
throughput. Live settings arrive through thread-safe setters and apply at the next step. What the reports
leave behind is trainer.history; what a checkpoint captures and restores is trainer.training.resume.
"""

from __future__ import annotations

import dataclasses
import math
import time
from functools import partial
from typing import Iterator

import numpy as np
import torch

from trainer.checkpoints.hdf5 import Checkpoint
from trainer.config import ModelConfig, TrainConfig, check_together
from trainer.schedules import BetaSchedule
from trainer.data.dataset import Dataset
from trainer.data.fingerprint import data_fingerprint
from trainer.data.streaming import H5Rows, Prefetcher
from trainer.training.distributed import SINGLE, Group
from trainer.training.epoch_analyses import EpochAnalyses, weights_copy
from trainer.errors import ConfigError
from trainer.training.batches import Batch, epoch_order, shard_positions, to_device_tensor
from trainer.training.devices import pick_device, precision_context
from trainer.training.history import History, ReportWindow
from trainer.training.recovery import LastGoodWeights
from trainer.training.reports import (RATE_SPLIT_POINTS, BetaChanged, DivergedReport, EpochReport, PauseChanged,
                                      StepReport)
from trainer.model.likelihood import binarize_fixed, heldout_for_likelihood
from trainer.analysis.metrics import evaluate
from trainer.model.vae import check_model_fits
from trainer.model.objective import TcWeights, Terms, objective_terms
from trainer.pixels import to_float01
from trainer.training.layer_weights import LayerWeights
from trainer.training.live_controls import LiveControls
from trainer.training.resume import capture, restore
from trainer.training.setup import build_trained
from trainer.training.snapshot_keeper import SnapshotKeeper

PAUSED_POLL_S = 0.05  # while paused, how often queued calls (call_between_steps) are looked at


class Trainer(LiveControls):
    """Trains a VAE on a Dataset; thread-safe live controls; reproducible from `seed`."""

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        dataset: Dataset,
        checkpoint: Checkpoint | None = None,
        on_divergence: str = "stop",
        group: Group = SINGLE,
    ):
        train_config.validate()
        check_model_fits(model_config, dataset)
        check_together(model_config, train_config)
        self.model_config = model_config
        self.config = train_config
        self.dataset = dataset
        self.on_divergence = on_divergence
        self.group = group
        """The processes training this model together (trainer.training.distributed); SINGLE when alone."""
        self.device = pick_device(train_config.device)
        if group.active and self.device.type == "cuda":
            self.device = torch.device("cuda", group.local_rank)  # one GPU per local rank
        self.schedule = BetaSchedule.parse(train_config.beta_schedule)

        self.tc = TcWeights.of(train_config, len(self.dataset.x_train))  # β-TCVAE's weights; None for the ELBO
        self.model, self.optimizer, self._forward, self._compiled = build_trained(
            model_config, train_config, self.device, group, self.tc)
        self.noise = torch.Generator(device=self.device)
        self.noise.manual_seed(self.rank_seed(train_config.seed))

        self._place_data()
        self.layer_weights = LayerWeights.of(model_config, train_config, self.device)  # a hierarchy's, per layer
        self.binarize_noise = torch.Generator(device=self.device)
        self.binarize_noise.manual_seed(self.rank_seed(train_config.seed + 1))
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.elapsed_s = 0.0
        self.beta_target = float(train_config.beta)
        self.lr = float(train_config.lr)
        self.free_bits = float(train_config.free_bits)
        self.history = History()
        self.last_eval: dict | None = None
        self.epoch_analyses = EpochAnalyses()
        """Where each epoch's held-out evaluation runs: in this thread, or (beside = True) beside it."""
        self._epochs_ready: list[EpochReport] = []  # evaluated beside training, in the history, not yet yielded
        self.report_window = ReportWindow.empty(model_config.latent_dim, self.device)
        """The open report window: steps since the last StepReport."""
        self.epoch_sums = ReportWindow.empty(model_config.latent_dim, self.device)
        """The closed windows of the epoch in progress: its train metrics."""
        self._t0 = time.perf_counter()
        """When the training clock last started (see _bank_time)."""

        self._init_controls()
        self.good_weights = LastGoodWeights()
        """What a divergence goes back to (trainer.training.recovery)."""
        self.snapshots = SnapshotKeeper.of(train_config, self.model)
        """The weights kept for the run's timeline (trainer.training.snapshot_keeper)."""
        self._order: torch.Tensor | None = None  # the epoch's batch order, drawn when its first batch is
        self._order_epoch = -1

        if checkpoint is not None:
            restore(self, checkpoint)
        else:
            self.snapshots.keep(0, 0.0, self.beta_at(0), self.model)  # the weights before training

    def _place_data(self) -> None:
        """The training set on the device (or streamed from disk), the held-out set as evaluations score it."""
        x_train = self.dataset.x_train
        self.n_train = len(x_train)
        """Training examples."""
        self._stream: Prefetcher | None = None
        """Reads a streamed training set's batches ahead (trainer.data.streaming); None when it is in memory."""
        if isinstance(x_train, H5Rows):
            if self.config.binarize == "static":
                raise ConfigError(f"{self.dataset.spec.describe()} is streamed from disk, and static binarization "
                                  "needs it in memory: use --binarize dynamic, or --in-memory always")
            self._stream = Prefetcher(x_train, pin=self.device.type == "cuda")
            self.x_train = x_train
        else:
            if self.config.binarize != "none" and self.dataset.prebinarized:
                raise ConfigError(f"{self.dataset.spec.describe()}: the images are already a binarization (0/1), so "
                                  f"binarize {self.config.binarize} would draw them again unchanged: use binarize none")
            if self.config.binarize == "static":
                # one sample drawn from the seed alone, so a resumed run trains on the very same bits
                x_train = binarize_fixed(x_train, self.config.seed)
            self.x_train = to_device_tensor(x_train, self.device)
        self.x_test = heldout_for_likelihood(self.dataset, self.config)
        """The held-out set as evaluations score it (one fixed binarized sample when binarizing)."""
        self._fingerprint: str | None = None
        self.y_train = to_device_tensor(self.dataset.y_train, self.device) if self.model_config.conditional else None

    def rank_seed(self, seed: int) -> int:
        """A generator seed of this rank: rank 0 uses `seed` itself, so a single process is unchanged."""
        return seed + (self.group.rank << 32)

    def set_epochs(self, epochs: int) -> None:
        """Change the total epochs to train; checked between epochs, so a finished run can continue."""
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ConfigError(f"epochs must be a whole number >= 0, got {epochs!r}")
        self.config = dataclasses.replace(self.config, epochs=epochs)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.n_train / self.config.batch_size)

    def samples_since(self, step: int) -> int:
        """Training examples in the steps after `step` up to now (an epoch's last batch may be short)."""
        n, bs, per_epoch = self.n_train, self.config.batch_size, self.steps_per_epoch
        return sum(min(bs, n - (s % per_epoch) * bs) for s in range(step, self.step))

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    def beta_at(self, step: int) -> float:
        return self.beta_target * self.schedule.factor(step)

    def _apply_pending(self) -> BetaChanged | None:
        """Apply the live settings set since the last step; a β change is returned, to be yielded."""
        with self._lock:
            pending, self._pending = self._pending, {}
        changed = None
        if "beta" in pending and pending["beta"] != self.beta_target:
            self.beta_target = pending["beta"]
            self.history.add("beta_changes", step=self.step, value=self.beta_target)
            changed = BetaChanged(step=self.step, value=float(self.beta_target))
        if "lr" in pending:
            self.lr = pending["lr"]
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr
        if "free_bits" in pending:
            self.free_bits = pending["free_bits"]
        return changed

    # --- the loop ------------------------------------------------------------------------
    def epoch_order(self, epoch: int) -> torch.Tensor:
        """The epoch's permutation of the training examples (trainer.training.batches.epoch_order)."""
        return epoch_order(self.x_train if self._stream is not None else None, self.n_train, self.config.seed,
                           epoch, self.device)

    def run(
        self, max_steps: int | None = None
    ) -> Iterator[StepReport | EpochReport | DivergedReport | BetaChanged | PauseChanged]:
        """Train until the configured epochs are done, `stop()` is called, or `max_steps` more steps ran.

        A run that ends inside a report window or an epoch keeps what it has summed so far (and the checkpoint
        stores it), so the next `run()` reports the same rows at the same steps as one uninterrupted run would.
        """
        end_step = None if max_steps is None else self.step + max_steps
        self.begin_run()
        try:
            while not self.finished and not self._stop.is_set():
                while self.batch_in_epoch < self.steps_per_epoch:
                    yield from self._pauses()
                    if self._stop.is_set() or (end_step is not None and self.step >= end_step):
                        break
                    changed = self._apply_pending()
                    if changed is not None:
                        self._bank_time()
                        yield changed  # the consumer hears of it before the report of the steps it applies to
                        self._t0 = time.perf_counter()
                    if self._calls:  # unlocked peek: a call queued just now runs before the step after
                        self.run_pending_calls()
                    batch = self.next_batch()
                    terms = self._terms(batch)
                    self.optimizer.zero_grad(set_to_none=True)
                    (terms.loss if batch.weight == 1.0 else terms.loss * batch.weight).backward()
                    self.optimizer.step()
                    report = self.record_step(terms, batch)
                    if report is not None:
                        yield report
                        self._t0 = time.perf_counter()  # the consumer's time is not training time
                    if self.epoch_analyses.pending or self._epochs_ready:
                        yield from self._evaluated_epochs(wait=False)
                # an epoch ends only in a run that goes on: a stopped run leaves it to the run that resumes it,
                # and one paused by a divergence in its last window waits for Resume
                if self.epoch_complete:
                    yield from self._pauses()
                if self.epoch_complete and not self._stop.is_set():
                    report = self.end_epoch()
                    if report is not None:
                        yield report
                    self._t0 = time.perf_counter()
                if end_step is not None and self.step >= end_step:
                    break
            yield from self._evaluated_epochs(wait=True)  # every epoch this run closed is reported in it
        finally:
            self._bank_time()

    # --- one step, in three parts: what run() does, and what trainer.training.ensemble does for several
    # trainers at once
    def begin_run(self) -> None:
        """Before the first step of a run: training mode, a first good-weights copy, the clock started."""
        self._stop.clear()
        self.model.train()
        self.good_weights.keep(self.model, self.optimizer, self.step)
        self._t0 = time.perf_counter()

    def end_run(self) -> None:
        """After a run's last step: book the training seconds since the clock last started."""
        self._bank_time()

    def restart_clock(self) -> None:
        """The time since the last report was the consumer's, not training time."""
        self._t0 = time.perf_counter()

    def next_batch(self) -> Batch:
        """The next step's examples, noise and β: the batch of this epoch's order at batch_in_epoch."""
        if self._order_epoch != self.epoch:
            self._order, self._order_epoch = self.epoch_order(self.epoch), self.epoch
        idx, n, weight = self._batch_positions(self.batch_in_epoch)
        if self._stream is not None:
            ahead = range(self.batch_in_epoch + 1, min(self.batch_in_epoch + 3, self.steps_per_epoch))
            upcoming = [self._batch_positions(b)[0].numpy() for b in ahead]
            xb = to_float01(self._stream.take(idx.numpy(), upcoming).to(self.device, non_blocking=True))
        else:
            xb = to_float01(self.x_train[idx])
        if self.config.binarize == "dynamic":
            xb = torch.bernoulli(xb, generator=self.binarize_noise)
        yb = self.y_train[idx.to(self.y_train.device)] if self.y_train is not None else None
        shape = (len(idx), self.model_config.latent_dim)
        if self.samples_per_example > 1:  # IWAE: K samples of every example, (K, N, latent_dim)
            shape = (self.samples_per_example, *shape)
        eps = torch.randn(shape, generator=self.noise, device=self.device)
        return Batch(x=xb, y=yb, eps=eps, beta=self.beta_at(self.step), n=n, idx=idx, weight=weight)

    @property
    def samples_per_example(self) -> int:
        """Samples of q(z|x) per example in a step: IWAE's K, else 1."""
        return int(self.config.iwae_k) if self.config.objective == "iwae" else 1

    def set_beta(self, beta: float) -> None:
        if self.config.objective == "iwae" and beta != 1:
            raise ConfigError(f"IWAE trains the importance-weighted bound, which has no β: it stays 1 (asked {beta:g})")
        super().set_beta(beta)

    def set_free_bits(self, free_bits: float) -> None:
        if self.config.objective == "iwae" and free_bits != 0:
            raise ConfigError(f"IWAE's bound has no KL term for free bits to clamp: they stay 0 (asked {free_bits:g})")
        super().set_free_bits(free_bits)

    def _terms(self, batch: Batch) -> Terms:
        """The training objective of a batch: under bf16 autocast when asked, through the compiled step when asked."""
        with precision_context(self.device, self.config.precision):
            beta = self.layer_weights.beta(batch.beta, self.step)
            free_bits = self.layer_weights.free_bits(self.free_bits)
            kl_reduce = partial(self.group.mean_over_ranks, weight=batch.weight) if self.group.active else None
            if self._compiled is not None:
                # β as a tensor: a Python float would be a constant of the compiled graph, recompiled per value
                return Terms(*self._compiled(batch.x, batch.y, batch.eps, torch.as_tensor(beta, device=self.device),
                                             free_bits, kl_reduce))
            return objective_terms(self.model, batch.x, batch.y, beta=beta, free_bits=free_bits, eps=batch.eps,
                                   forward=self._forward, tc=self.tc, kl_reduce=kl_reduce)

    def _batch_positions(self, b: int) -> tuple[torch.Tensor, int, float]:
        """(examples of batch b of this epoch's order that this rank trains, how many count, loss weight)."""
        return shard_positions(self._order, b, self.config.batch_size, self.group)

    def record_step(self, terms: Terms, batch: Batch) -> StepReport | DivergedReport | None:
        """After the optimizer step on `batch`: count it, and close the report window where one ends.

        A DivergedReport has already restored the last good weights and stopped or paused the trainer."""
        self.step += 1
        self.batch_in_epoch += 1
        self.report_window.add_step(terms, batch.n)
        if self.snapshots.due(self.step, self.epoch_complete):
            self.snapshots.keep(self.step, self.epoch + self.batch_in_epoch / self.steps_per_epoch, batch.beta,
                                self.model)
        # windows end on multiples of report_every, so a resumed run reports at the same steps
        if not (self.step % self.config.report_every == 0 or self.batch_in_epoch == self.steps_per_epoch):
            return None
        report = self._close_window(batch.beta)
        if isinstance(report, DivergedReport):
            # pause/stop before the consumer hears of it: it may never ask for another report
            if self.on_divergence == "stop":
                self._stop.set()
            else:
                self.pause()
        return report

    @property
    def epoch_complete(self) -> bool:
        """Every batch of the epoch in progress has been trained: end_epoch() is due."""
        return self.batch_in_epoch >= self.steps_per_epoch

    def end_epoch(self) -> EpochReport | None:
        """Close the epoch: its train metrics, a held-out evaluation, and the next epoch begins. Evaluated beside
        training (epoch_analyses.beside), the report comes later from run(), scored on the weights of this step."""
        acc, self.epoch_sums = self.epoch_sums, ReportWindow.empty(self.model_config.latent_dim, self.device)
        # an epoch whose every window diverged has no train metrics: NaN says so, 0 would be a number
        train_recon, train_kl, train_loss = (acc.sums / acc.n).tolist() if acc.n else (math.nan, math.nan, math.nan)
        self.epoch += 1
        self.batch_in_epoch = 0
        closing = partial(EpochReport, epoch=self.epoch, step=self.step, train_recon=train_recon, train_kl=train_kl,
                          train_elbo=-(train_recon + train_kl), train_loss=train_loss)
        if self.epoch_analyses.beside:
            return self.epoch_analyses.submit(partial(self._epoch_report, weights_copy(self.model), closing))
        report = self._epoch_report(self.model, closing)
        self.model.train()
        self.history.add_epoch(report)
        return report

    def _epoch_report(self, model, closing) -> EpochReport:
        result = self._scored(model, rate_split_points=RATE_SPLIT_POINTS)
        return closing(test_recon=result["recon"], test_kl=result["kl"], test_elbo=result["elbo"],
                       test_elbo_se=math.nan if result.get("elbo_se") is None else result["elbo_se"],
                       test_kl_per_dim=np.asarray(result["kl_per_dim"], dtype=np.float32),
                       active_units=int(result["active_units"]), rate_split=result.get("rate_split"))

    def _evaluated_epochs(self, wait: bool) -> Iterator[EpochReport]:
        """The epochs evaluated beside training that are done (wait: all of them), into the history and out."""
        self._collect_epochs(wait)
        while self._epochs_ready:
            yield self._epochs_ready.pop(0)

    def _collect_epochs(self, wait: bool) -> None:
        for report in self.epoch_analyses.collect(wait):
            self.history.add_epoch(report)
            self._epochs_ready.append(report)

    def _pauses(self) -> Iterator[PauseChanged]:
        """While paused: say so, block (running queued calls, so a save need not wait for Resume), and say when
        it goes on; a stop ends the wait without a resume. Nothing when not paused."""
        while not self._running.is_set() and not self._stop.is_set():
            self._bank_time()
            yield PauseChanged(self.step, paused=True)
            self._t0 = time.perf_counter()  # the consumer's time is not training time, nor pause time
            while not self._running.wait(PAUSED_POLL_S):
                self.run_pending_calls()
            self._t0 = time.perf_counter()
            if not self._stop.is_set():
                yield PauseChanged(self.step, paused=False)

    def _bank_time(self) -> None:
        """Book the training seconds since the clock last started to the open window and to elapsed_s."""
        now = time.perf_counter()
        dt, self._t0 = now - self._t0, now
        self.report_window.busy_s += dt
        self.elapsed_s += dt

    def _close_window(self, beta: float) -> StepReport | DivergedReport:
        self._bank_time()
        win, self.report_window = self.report_window, ReportWindow.empty(self.model_config.latent_dim, self.device)
        if self.group.active:
            win = win.summed_over(self.group)
        recon, kl, loss = (win.sums / win.n).tolist()  # the one device sync per report
        if not all(math.isfinite(v) for v in (recon, kl, loss)):
            return self._recover()  # the window's steps never reach the epoch's train metrics
        self.epoch_sums.add(win)
        if self.good_weights.due(self.step):
            self.good_weights.keep(self.model, self.optimizer, self.step)
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
            kl_per_dim=(win.kl_dims / win.n).cpu().numpy().astype(np.float32),
            samples_per_s=win.n / win.busy_s if win.busy_s > 0 else 0.0,
            elapsed_s=self.elapsed_s,
            warming_up=self.schedule.factor(self.step) < 1.0 or self.layer_weights.warming_up(self.step),
            batch_tc=win.batch_tc,
        )
        self.history.add_report("steps", report)
        if win.tc_n:
            self.history.add("batch_tc", step=self.step, total_correlation=report.batch_tc)
        return report

    def evaluate_test(self, **kwargs) -> dict:
        """Held-out metrics with a fixed noise seed, so evaluations compare across epochs and runs."""
        self.last_eval = self._scored(self.model, **kwargs)
        return self.last_eval

    def closing_evaluation(self) -> dict | None:
        """The held-out evaluation that closed the epoch at the current step (the same weights and noise seed as
        evaluate_test(rate_split_points=RATE_SPLIT_POINTS) would use now), from the history; None if none did."""
        return self.history.evaluation_at(self.step, min(RATE_SPLIT_POINTS, len(self.x_test)))

    def _scored(self, model, **kwargs) -> dict:
        g = torch.Generator().manual_seed(self.config.seed + 12345)
        y = self.dataset.y_test if self.model_config.conditional else None
        return evaluate(model, self.x_test, y, self.device, generator=g, **kwargs)

    # --- divergence recovery ----------------------------------------------------------------
    def _recover(self) -> DivergedReport:
        bad_step = self.step
        restored = self.good_weights.restore(self.model, self.optimizer)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
        action = "stopped" if self.on_divergence == "stop" else "paused"
        msg = (f"loss became NaN/Inf by step {bad_step}: restored the weights of step {restored} and {action}"
               f" training (lr {self.lr:g}, beta {self.beta_target:g}); lower the learning rate before resuming")
        self.history.add("divergences", step=bad_step, restored_step=restored)
        return DivergedReport(step=bad_step, restored_step=restored, message=msg)

    # --- checkpoints ----------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """A copy of everything needed to resume; call it between steps, in the training thread. Epochs still
        being evaluated beside training are waited for, so their rows are in the history it holds."""
        self._collect_epochs(wait=True)
        return capture(self)

    @property
    def fingerprint(self) -> str:
        """data_fingerprint of the dataset, computed once, when a checkpoint first needs it."""
        if self._fingerprint is None:
            self._fingerprint = data_fingerprint(self.dataset)
        return self._fingerprint
