"""Several Trainers of one architecture stepped together as one batched model: a sweep's runs side by side.

    ens = Ensemble([Trainer(model_cfg, cfg.replace(beta=b), dataset) for b in (0.1, 1, 10)])
    for i, report in ens.run():            # (index of the trainer, its StepReport / EpochReport / DivergedReport)
        ...
    ens.trainers[i].checkpoint()           # each run is still an ordinary Trainer: its own checkpoint

Small VAEs leave a CPU's (or GPU's) arithmetic units mostly idle: a 784-400-20 MLP at batch 128 is a few small
matrix products per step, and per-operation overhead is a large share of the time. The ensemble stacks the
runs' weights along a new leading dimension and computes every run's negative ELBO in one pass of
`torch.func.vmap(functional_call(...))`, so each layer is one batched matrix product for all runs.

Nothing about a run changes: its own batches, noise and binarization (from its own seed), its own β schedule
and free bits, and its own Adam moments. Adam is elementwise, so one Adam over the stacked weights is exactly
the runs' separate Adams (they share the learning rate). Each Trainer's parameters and Adam state are views
into the stacked tensors, so its history, report windows, evaluation, divergence recovery and checkpoint are
the Trainer's own code, untouched.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import nn
from torch.func import functional_call, vmap

from trainer.errors import ConfigError
from trainer.training.devices import precision_context
from trainer.training.loop import Trainer
from trainer.training.reports import BetaChanged, DivergedReport, EpochReport, StepReport
from trainer.model.hierarchy import build_model
from trainer.model.objective import Terms, objective_terms

Report = StepReport | EpochReport | DivergedReport | BetaChanged


class _Objective(nn.Module):
    """objective_terms as a module, so functional_call can run it on one run's slice of the stacked weights."""

    def __init__(self, model: nn.Module, tc=None):
        super().__init__()
        self.vae = model
        self.tc = tc  # trainer.model.objective.TcWeights of a β-TCVAE ensemble, shared by its runs

    def forward(self, x, y, eps, beta, free_bits):
        t = objective_terms(self.vae, x, y, beta=beta, free_bits=free_bits, eps=eps, tc=self.tc)
        tc = t.total_correlation if t.total_correlation is not None else torch.zeros_like(t.kl)
        return t.loss, t.recon, t.kl, t.kl_per_dim, tc


def _same(trainers: list[Trainer], what: str, value) -> None:
    values = {value(t) for t in trainers}
    if len(values) > 1:
        raise ConfigError(f"runs trained together must share {what}; got {sorted(map(str, values))}")


class Ensemble:
    """Trains `trainers` (same model config, data, batch size, learning rate, device and progress) in lockstep."""

    def __init__(self, trainers: list[Trainer]):
        if not trainers:
            raise ConfigError("an ensemble needs at least one run")
        _same(trainers, "the model configuration", lambda t: t.model_config)
        _same(trainers, "the batch size", lambda t: t.config.batch_size)
        _same(trainers, "the learning rate", lambda t: t.lr)
        _same(trainers, "the device", lambda t: str(t.device))
        _same(trainers, "the precision", lambda t: t.config.precision)
        _same(trainers, "the objective", lambda t: (t.tc, t.samples_per_example))
        _same(trainers, "the training data", lambda t: (id(t.dataset), len(t.x_train)))
        _same(trainers, "their progress (step, epoch, batch)", lambda t: (t.step, t.epoch, t.batch_in_epoch))
        self.trainers: list[Trainer] = []
        template = build_model(trainers[0].model_config, vmapped=True)  # its own weights are never used
        self._objective = _Objective(template, trainers[0].tc)
        # nn.Linear weights are stacked as (runs, in, out): every product, forward and backward, is then one
        # batched matmul on contiguous memory (stacked as (runs, out, in), each weight gradient was a copy)
        self._transposed = {f"{n}.weight" for n, m in template.named_modules() if isinstance(m, nn.Linear)}
        self._stack(trainers)

    # --- the stacked weights -------------------------------------------------------------------------------
    def _stack(self, trainers: list[Trainer]) -> None:
        """Stack these trainers' current weights and Adam state; make theirs views into the stack."""
        self.trainers = list(trainers)
        first = trainers[0]
        self._same_data = len({(t.config.seed, t.config.binarize) for t in trainers}) == 1
        # buffers (batch norm's running statistics), stacked the same way: each run's step updates its own slice
        self.buffers = {n: torch.stack([dict(t.model.named_buffers())[n].detach() for t in trainers]).contiguous()
                        for n, _ in first.model.named_buffers()}
        names = [n for n, _ in first.model.named_parameters()]
        per_run = [dict(t.model.named_parameters()) for t in trainers]
        self.params = {n: torch.stack([self._in_stack(n, p[n].detach()) for p in per_run]).contiguous().requires_grad_()
                       for n in names}
        self.optimizer = torch.optim.Adam(self.params.values(), lr=first.lr,
                                          fused=first.device.type in ("cpu", "cuda"))
        states = [[t.optimizer.state.get(p[n]) for n in names] for t, p in zip(trainers, per_run)]
        started = [all(states[i]) for i in range(len(trainers))]
        if any(started) and not all(started):
            raise ConfigError("runs trained together must all have Adam state, or none")
        if all(started):
            for j, n in enumerate(names):
                self.optimizer.state[self.params[n]] = {
                    "step": states[0][j]["step"].clone(),
                    "exp_avg": torch.stack([self._in_stack(n, s[j]["exp_avg"]) for s in states]).contiguous(),
                    "exp_avg_sq": torch.stack([self._in_stack(n, s[j]["exp_avg_sq"]) for s in states]).contiguous(),
                }
        self._linked = False
        self._link()

    def _link(self) -> None:
        """Each trainer's parameters (and, once Adam has state, its moments) become views into the stack."""
        with torch.no_grad():
            for i, t in enumerate(self.trainers):
                for n, b in t.model.named_buffers():
                    b.data = self.buffers[n][i]
                for n, p in t.model.named_parameters():
                    stacked = self.params[n]
                    p.data = self._in_stack(n, stacked.data[i])
                    state = self.optimizer.state.get(stacked)
                    if state:
                        t.optimizer.state[p] = {"step": state["step"],
                                                "exp_avg": self._in_stack(n, state["exp_avg"][i]),
                                                "exp_avg_sq": self._in_stack(n, state["exp_avg_sq"][i])}
                        self._linked = True

    def _in_stack(self, name: str, t: torch.Tensor) -> torch.Tensor:
        """One run's tensor as the stack holds it, or (the same swap) the stack's slice as the run holds it: a
        view, transposed for a Linear weight."""
        return t.t() if name in self._transposed else t

    @property
    def shares_data(self) -> bool:
        """Whether the runs draw the same batches (one seed, one binarization), so one copy of each serves all."""
        return self._same_data

    def drop(self, index: int) -> Trainer:
        """Take run `index` out (it diverged, or it is done); the others go on. Returns its Trainer."""
        gone = self.trainers[index]
        rest = [t for i, t in enumerate(self.trainers) if i != index]
        # the dropped run keeps copies of its weights and moments, no longer views into a stack that goes away
        with torch.no_grad():
            for p in [*gone.model.parameters(), *gone.model.buffers()]:
                p.data = p.data.clone()
            for p, state in list(gone.optimizer.state.items()):
                gone.optimizer.state[p] = {k: v.clone() for k, v in state.items()}
        if rest:
            self._stack(rest)
        else:
            self.trainers = []
        return gone

    # --- training ------------------------------------------------------------------------------------------
    def _losses(self, batches) -> tuple[torch.Tensor, ...]:
        # runs of one seed draw the same examples (and the same binarization): one unbatched copy of x serves
        # them all, instead of a stack of identical copies
        shared = self._same_data and all(torch.equal(b.idx, batches[0].idx) for b in batches[1:])
        x = batches[0].x if shared else torch.stack([b.x for b in batches])
        eps = torch.stack([b.eps for b in batches])
        y = None
        if batches[0].y is not None:
            y = batches[0].y if shared else torch.stack([b.y for b in batches])
        data_dim = None if shared else 0
        device = x.device
        beta = torch.tensor([b.beta for b in batches], dtype=x.dtype, device=device)
        free = {t.free_bits for t in self.trainers}
        if any(t.layer_weights.active for t in self.trainers):  # a hierarchy's weights: one per dimension and run
            def per_dim(values):
                return torch.stack([torch.as_tensor(v, dtype=x.dtype, device=device).expand(eps.shape[-1])
                                    for v in values])

            beta = per_dim(t.layer_weights.beta(b.beta, t.step) for t, b in zip(self.trainers, batches))
            fb, fb_dim = per_dim(t.layer_weights.free_bits(t.free_bits) for t in self.trainers), 0
        elif len(free) == 1:  # the common case: a plain number, as a single Trainer uses it
            fb, fb_dim = free.pop(), None
        else:
            fb, fb_dim = torch.tensor([t.free_bits for t in self.trainers], dtype=x.dtype, device=device), 0

        def one(params, buffers, x, y, eps, beta, fb):
            return functional_call(self._objective, (params, buffers), (x, y, eps, beta, fb))

        params = {f"vae.{n}": (p.transpose(1, 2) if n in self._transposed else p) for n, p in self.params.items()}
        buffers = {f"vae.{n}": b for n, b in self.buffers.items()}
        with precision_context(device, self.trainers[0].config.precision):
            return vmap(one, in_dims=(0, 0, data_dim, None if y is None else data_dim, 0, 0, fb_dim))(
                params, buffers, x, y, eps, beta, fb)

    def step(self) -> list[Report]:
        """One optimizer step of every run; returns (index, report) for the runs whose report window closed."""
        batches = [t.next_batch() for t in self.trainers]
        loss, recon, kl, kl_dims, tc = self._losses(batches)
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # the runs' weights are disjoint: each gets the gradient of its own loss
        self.optimizer.step()
        if not self._linked:
            self._link()  # Adam made its state in the first step
        out = []
        for i, (t, b) in enumerate(zip(self.trainers, batches)):
            terms = Terms(loss=loss[i].detach(), recon=recon[i].detach(), kl=kl[i].detach(),
                          kl_per_dim=kl_dims[i].detach(), total_correlation=tc[i].detach() if t.tc else None)
            report = t.record_step(terms, b)
            if report is not None:
                out.append((i, report))
        return out

    def run(self, max_steps: int | None = None, should_stop=lambda: False) -> Iterator[tuple[Trainer, Report]]:
        """Train until every run has finished its epochs, or diverged, or `should_stop()` is true between steps,
        or `max_steps` more steps ran. Yields (trainer, report); a diverged run is dropped and the rest go on."""
        end_step = None if max_steps is None or not self.trainers else self.trainers[0].step + max_steps
        for t in self.trainers:
            t.begin_run()
        try:
            while self.trainers and not self.trainers[0].finished and not should_stop():
                if self.trainers[0].epoch_complete:
                    # also where a run resumes from a checkpoint saved after an epoch's last step, before its end
                    for t in list(self.trainers):
                        yield t, t.end_epoch()
                        t.restart_clock()
                    continue
                if end_step is not None and self.trainers[0].step >= end_step:
                    break
                reported = [(self.trainers[i], report) for i, report in self.step()]
                for t, report in reported:
                    yield t, report
                for t, _ in reported:
                    t.restart_clock()  # the consumer's time is not training time
                for i in reversed([i for i, t in enumerate(self.trainers) if t.stop_requested]):
                    self.drop(i)  # diverged: its Trainer restored its last good weights and stopped
        finally:
            for t in self.trainers:
                t.end_run()
