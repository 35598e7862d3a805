"""Which latent dimensions are active: one decision, shared by every view that shows it.

    activity = LatentActivity()
    kl_panel = KlPanel(activity);  sliders = DecoderSlidersPanel(activity=activity)   # both subscribe
    activity.set_kl(report.kl_per_dim, step=report.step)     # live, from the training reports
    activity.set_latents(latents)                            # a held-out encoding: its KL and Var_x(μ)
    activity.setting_changed(step)                           # a live β change took effect at this step
    activity.state                                           # the ActivityState every view draws now
    activity.sig_changed.connect(...)                        # emitted with the new ActivityState

The KL panel's headline and bar colours and the decoder's slider labels all draw the one ActivityState this
object emits, in the same call, so they agree at every moment. Before, each panel decided for itself from
inputs that arrived at different times: after β was raised mid-run the headline counted 8 of 8 active from an
encoding 150 steps old while three dimensions' KL had fallen under 0.1 nats.

One definition of an active unit everywhere, the engine's (trainer.analysis.metrics.active_units): dimension j
is active when Var_x(μ_j) > 0.01 over a held-out encoding (Burda et al. 2016). It is counted only from an encoding
that describes the model whose KL is shown: made when the model was at least half as trained
(trainer.analysis.diagnostics.variance_describes) and after the latest live β change (a changed objective moves
the encoder). Until the next such encoding (the window encodes at steps 20, 40, 80, ... and every N steps) no
unit is counted, "—", and the collapse is judged by the rate alone (diagnostics.uncounted_state). Counting by
the KL meanwhile, as before, made the count jump between two definitions (4/10, 0/10, 10/10 within a minute)
and labelled a dimension with 6.93 nats of KL "inactive".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal

from trainer.analysis.diagnostics import (CollapseState, collapse_state, layer_collapse, uncounted_layers,
                                          uncounted_state, variance_describes)


@dataclass(frozen=True)
class ActivityState:
    """Per-dimension KL and the active/inactive decision made from it, as of one moment."""

    kl: np.ndarray
    """KL(q(z_j|x) ‖ p(z_j)) per dimension, nats per example (read-only)."""
    step: int | None
    """The optimizer step the KL was measured at (None: unknown)."""
    collapse: CollapseState
    """active (bool per dimension), n_active, rate, collapsed, measure ("variance" or "kl")."""
    variance_step: int | None
    """Step of the held-out encoding whose Var_x(μ) decided (measure "variance"), else None."""
    stale_reason: str = ""
    """Why a held-out encoding that exists did not decide ("" when it did, or when there is none)."""
    layers: tuple[CollapseState, ...] = ()
    """A hierarchical VAE: the same decision per layer, bottom first (trainer.analysis.diagnostics.layer_collapse);
    () for one layer."""
    withheld: str = ""
    """Why no collapse is judged now ("" when it is): a fresh run's q(z|x) starts at the prior, and while the KL's
    weight ramps up a rate near 0 is the schedule's doing."""
    prior: str = "standard"
    """The model's p(z) (ModelConfig.prior): under the VampPrior each KL is to the prior's marginal p_j, by Monte
    Carlo, and the bars need not add up to the rate."""

    @property
    def collapsed(self) -> bool:
        """The whole posterior collapsed onto the prior, judged (never while withheld)."""
        return self.collapse.collapsed and not self.withheld

    @property
    def collapsed_layers(self) -> list[int]:
        """Layers (0 = bottom) whose posterior collapsed onto their conditional prior (none while withheld)."""
        return [] if self.withheld else [i for i, state in enumerate(self.layers) if state.collapsed]

    @property
    def active(self) -> np.ndarray:
        return self.collapse.active

    @property
    def n_active(self) -> int:
        return self.collapse.n_active

    @property
    def latent_dim(self) -> int:
        return int(len(self.kl))


class LatentActivity(QObject):
    """The one owner of "which dimensions are active"; GUI thread only."""

    sig_changed = Signal(object)
    """A new ActivityState (or None after clear()): every view of it redraws from this one."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._kl: np.ndarray | None = None
        self._step: int | None = None
        self._variance: np.ndarray | None = None
        self._variance_step: int | None = None
        self._changed_at: int | None = None  # step at which the newest live β change took effect
        self._layer_dims: tuple[int, ...] = ()  # a hierarchy's layer sizes, bottom first
        self._prior = "standard"  # the model's p(z): what each KL is taken against
        self._withheld = ""
        self.state: ActivityState | None = None

    # --- inputs ------------------------------------------------------------------------------------
    def set_kl(self, kl_per_dim, step: int | None = None) -> None:
        """Per-dimension KL in nats per example (a training report's or a held-out evaluation's)."""
        kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
        if self._kl is None or len(kl) != len(self._kl):
            self._variance = None  # another model
            self._variance_step = None
        self._kl = kl
        self._step = None if step is None else int(step)
        self._decide()

    def set_mu_variance(self, variance, step: int | None = None) -> None:
        """Var_x(μ_j) of a held-out encoding made at `step`."""
        self._variance = np.asarray(variance, dtype=np.float64).reshape(-1)
        self._variance_step = None if step is None else int(step)
        if self._kl is not None:
            self._decide()

    def set_held_out(self, kl_per_dim, variance, step: int | None = None) -> None:
        """Per-dimension KL and Var_x(μ_j) measured together (one decision, one signal)."""
        self._kl = np.asarray(kl_per_dim, dtype=np.float64).reshape(-1)
        self._step = None if step is None else int(step)
        self._variance = None if variance is None else np.asarray(variance, dtype=np.float64).reshape(-1)
        self._variance_step = self._step
        self._decide()

    def set_latents(self, latents) -> None:
        """A LatentSnapshot: its Var_x(μ), and its held-out KL unless the live KL shown is newer."""
        self._variance = np.asarray(latents.mu_variance, dtype=np.float64).reshape(-1)
        self._variance_step = int(latents.step)
        newer_live = (self._kl is not None and len(self._kl) == len(self._variance) and self._step is not None
                      and self._step > latents.step)
        if not newer_live:
            self._kl = np.asarray(latents.kl_per_dim, dtype=np.float64).reshape(-1)
            self._step = int(latents.step)
        self._decide()

    def set_layer_dims(self, dims) -> None:
        """The model's stochastic layers (ModelConfig.layer_dims): a hierarchy is also judged layer by layer."""
        dims = tuple(int(d) for d in dims)
        if dims != self._layer_dims:
            self._layer_dims = dims
            if self._kl is not None:
                self._decide()

    def set_prior(self, prior: str) -> None:
        """The model's p(z) (ModelConfig.prior): what its per-dimension KLs are taken against."""
        if prior != self._prior:
            self._prior = prior
            if self._kl is not None:
                self._decide()

    def setting_changed(self, step: int) -> None:
        """A live change of the objective (β) took effect at `step`: encodings made before it stop deciding
        as soon as the KL shown is from that step or later."""
        self._changed_at = int(step) if self._changed_at is None else max(self._changed_at, int(step))
        if self._kl is not None:
            self._decide()

    def withhold(self, reason: str) -> None:
        """Judge no collapse while `reason` holds ("" judges again): the live run's first epoch, its warm-up."""
        if reason != self._withheld:
            self._withheld = reason
            if self._kl is not None:
                self._decide()

    def clear(self) -> None:
        self._withheld = ""
        self._kl = self._variance = None
        self._step = self._variance_step = self._changed_at = None
        if self.state is not None:
            self.state = None
            self.sig_changed.emit(None)

    # --- the decision ------------------------------------------------------------------------------
    def _predates_change(self) -> bool:
        """The encoding was made before a live β change that the KL shown already reflects."""
        if self._changed_at is None or self._variance_step is None:
            return False
        kl_step = self._step if self._step is not None else self._changed_at
        return self._variance_step < self._changed_at <= kl_step

    def _decide(self) -> None:
        kl = self._kl
        variance, why = self._variance, ""
        if variance is not None and len(variance) != len(kl):
            variance = None
        elif variance is not None and not variance_describes(self._variance_step, self._step):
            variance, why = None, f"the encoding at step {self._variance_step:,} describes a younger model"
        elif variance is not None and self._predates_change():
            variance, why = None, (f"the encoding at step {self._variance_step:,} predates the β change"
                                   f" at step {self._changed_at:,}")
        kl = kl.copy()
        kl.setflags(write=False)
        if variance is None:  # no encoding describes this model: counted by no other rule meanwhile
            collapse, layers = uncounted_state(kl), uncounted_layers(kl, self._layer_dims)
        else:
            collapse, layers = collapse_state(kl, variance), layer_collapse(kl, self._layer_dims, variance)
        self.state = ActivityState(kl=kl, step=self._step, collapse=collapse,
                                   variance_step=self._variance_step if variance is not None else None,
                                   stale_reason=why, layers=layers, withheld=self._withheld, prior=self._prior)
        self.sig_changed.emit(self.state)


def collapse_withheld(report) -> str:
    """Why the live run's collapse is not judged at this StepReport, or "": a new run's q(z|x) starts at the prior
    (its rate is near 0 until the encoder learns), and a rate held down by a warm-up is the schedule's."""
    if getattr(report, "warming_up", False):
        if report.beta < report.beta_target:
            return f"β is still warming up ({report.beta:.3g} of {report.beta_target:g})"
        return "a layer's KL weight is still warming up (Layers: warm-up steps)"
    if report.epoch == 0:
        return "a new run's q(z|x) starts at the prior; judged from the end of its first epoch"
    return ""


def moment_withheld(timeline, step: int) -> str:
    """collapse_withheld's rule for a moment of a run's timeline (trainer.analysis.moments.RunTimeline): its first
    epoch, or a β still below the run's target (a warm-up), is not judged."""
    i = timeline.nearest(step)
    target = float(timeline.train_config.beta)
    if timeline.betas[i] < target:
        return f"β was still warming up at this moment ({timeline.betas[i]:.3g} of {target:g})"
    if timeline.epochs[i] < 1:
        return "a new run's q(z|x) starts at the prior; judged from the end of its first epoch"
    return ""
