"""The latent-space panels, wired to each other, with one entry point per kind of worker message.

    explore = LatentPanels(window)
    for title, panel, area in explore.docks():
        window.add_panel(title, panel, area)
    explore.on_explore(item)      # DecoderSnapshot | LatentSnapshot | PreviewImages of the explored run (the run
                                  # comparison passes on the live run's or a checkpoint's, whichever is explored)
    # in _on_progress:        explore.on_progress(batch)      (a runtime.messages.CurveBatch)
    # on a live β change:     explore.beta.request(beta)   (LiveBeta: the β line previews it until a batch shows
    #                          it applied)
    # on an opened checkpoint: explore.set_history(opened.history)
    # on Reset:               explore.clear()
    # in closeEvent:          explore.shutdown()
    explore.scatter.sig_refresh_requested / sig_refresh_every_changed -> the worker's ExplorePublisher

One panel per event-loop turn: a snapshot's panel updates are queued and run one per turn, so what each one
dirties is painted before the next runs. Qt paints every dirty widget of a window in one go, and a new model's
first snapshot touches every latent panel: painted in one turn, they froze the window noticeably while training
took the CPU; spread out, each turn paints one panel (benchmarks/gui_responsiveness.py measures the stalls).
`decoder` and `latents` are set by the last step, once every panel shows the snapshot; `flush()` applies the
queue at once.
A larger model's slider rows get turns of their own before the decoder's (DecoderSlidersPanel.prepare_rows).

Which dimensions are active is decided once, by `activity` (explorer.models.latent_activity.LatentActivity),
from the live KL, the held-out encodings and the live β changes; the KL strip and the sliders both draw its
decision, in the same turn, so they never disagree.

Between panels: one explorer.models.LatentCursor holds z, the interpolation ends A and B and the box/lasso
selection, and every panel that shows or moves them is given it. A click in the scatter moves z and sets A
(Shift+click: B); a slider, the marker or the arithmetic walk moves z; a box or lasso sets the selection; each
panel draws what changed from the cursor's signals, and the one that moved it (its `origin`) skips what it shows.

Background work, each a newest-wins LatestJob: UMAP/t-SNE maps, the aggregate posterior's density in a plane (the
scatter's q(z) vs prior view), prior vs q(z)-fit samples, selection exports, and the ELBO gap's IWAE estimates
(one at a time: its button cancels a running one), its split into approximation and amortization gaps, and
the classical VI of one point, whose trace `point` (explorer.models.PointInference) holds for the scatter to
draw and the Decoder to show.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from functools import partial

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from explorer.models.latent_activity import LatentActivity, collapse_withheld, moment_withheld
from explorer.models.latent_cursor import LatentCursor
from explorer.models.explored_run import ExploredRun
from explorer.models.latent_layers import LatentLayers
from explorer.models.live_beta import LiveBeta
from explorer.models.point_inference import PointInference
from explorer.panels.decoder import ROWS_PER_TURN, DecoderSlidersPanel
from explorer.panels.elbo_gap import ElboGapPanel
from explorer.panels.information import InformationPanel
from explorer.panels.kl import KlPanel
from explorer.panels.latent import LatentScatterPanel
from explorer.panels.rd import RateDistortionPanel
from explorer.panels.samples import SamplesPanel
from explorer.panels.aggregate import AggregatePanel
from explorer.panels.attribute import AttributePanel
from explorer.panels.selection import SelectionPanel
from explorer.panels.traversal import TraversalPanel
from explorer.runtime.background import LatestJob
from explorer.runtime.latent_jobs import compare_samples, export_selection
from explorer.runtime.moments import Moment, MomentLoader
from explorer.runtime.projection_job import LatentProjection
from trainer.analysis.moments import RunTimeline
from trainer.analysis.publishing import ExplorePublisher
from trainer.analysis.snapshots import DecoderSnapshot, LatentSnapshot, PreviewImages

TURN_MS = 2
"""Pause before each queued panel update: long enough for the paint of the previous one and for the timers
and input that fell due meanwhile (a 0 ms timer ran several updates back to back)."""
KL_REFRESH_MS = 500
"""Per-dimension KL from the live reports reaches the bars and sliders at most twice a second."""



class LatentPanels(QObject):
    """Owns the latent-space panels, the links between them and their background jobs; GUI thread only."""

    sig_shown = Signal(int)
    """Every latent panel shows the model of this step (its held-out encodings were the last to be drawn)."""

    def __init__(self, parent: QObject | None = None, explored: ExploredRun | None = None):
        super().__init__(parent)
        # the one owner of "which dimensions are active": the KL strip (headline, bar colours) and the
        # sliders' labels draw what it decides, in the same call
        self.activity = LatentActivity(self)
        self.cursor = LatentCursor(self)
        """z, the ends A and B and the selection: one copy, for every latent panel."""
        self.layers = LatentLayers(self)
        """A hierarchy's layers and the one the traversal shows; the sliders name their rows by it."""
        self.point = PointInference(self)
        """One example's classical VI: computed by the ELBO gap panel, drawn by the scatter, shown by the Decoder."""
        self.explored = explored if explored is not None else ExploredRun(self)
        """Which run the panels show (its name, dataset, step and moment): the run comparison selects it, the
        timeline moves its moment, the panels name it. Live KL reports are not theirs while another run is explored,
        or while the views are held at a moment."""
        self.scatter = LatentScatterPanel(self.cursor, layers=self.layers, point=self.point, explored=self.explored)
        self.sliders = DecoderSlidersPanel(activity=self.activity, cursor=self.cursor, layers=self.layers,
                                           point=self.point)
        self.traversal = TraversalPanel(self.cursor, layers=self.layers, explored=self.explored)
        self.samples = SamplesPanel()
        self.kl = KlPanel(self.activity)
        self.rd = RateDistortionPanel(self.explored)
        self.beta = LiveBeta(self)  # the window's β: requested and applied (explorer.models.live_beta)
        self.beta.sig_changed.connect(self.rd.show_beta)
        self.information = InformationPanel(self.explored)
        self.gap = ElboGapPanel(LatestJob("vae-explorer IWAE", self), cursor=self.cursor, point=self.point,
                                split_jobs=LatestJob("vae-explorer gap split", self),
                                point_jobs=LatestJob("vae-explorer point VI", self), explored=self.explored)
        self.selection = SelectionPanel(self.cursor)
        self.attribute = AttributePanel(self.cursor)
        self.exports = LatestJob("vae-explorer selection export", self)
        self.holes = LatestJob("vae-explorer q(z) density", self)
        self.aggregate = AggregatePanel()
        self.samples_job = LatestJob("vae-explorer prior vs q(z)", self)
        self._compare_token = 0
        self._export_ids = 0
        self.decoder: DecoderSnapshot | None = None
        self.latents: LatentSnapshot | None = None
        self._pending_kl: tuple[np.ndarray, int] | None = None
        self._kl_timer = QTimer(self, singleShot=True, interval=KL_REFRESH_MS)
        self._kl_timer.timeout.connect(self._on_kl_due)
        self._steps: deque[Callable[[], None]] = deque()  # panel updates waiting for their turn
        self.turn_timer = QTimer(self, singleShot=True, interval=TURN_MS)
        """Runs the next queued panel update, one per event-loop turn (its timeout: one update was applied)."""
        self.turn_timer.timeout.connect(self._run_next_step)

        # UMAP and t-SNE maps: asked for by the scatter, computed in a background thread, drawn by the scatter
        self.projection = LatentProjection(self)
        self.scatter.sig_projection_requested.connect(self.projection.request)
        self.projection.sig_progress.connect(self.scatter.set_projection_progress)
        self.projection.sig_done.connect(self._on_map_done)
        self.projection.sig_failed.connect(self.scatter.set_projection_failed)
        # the aggregate posterior's density in a plane, likewise
        self.scatter.sig_density_requested.connect(self._on_density_requested)
        self.holes.sig_done.connect(self.scatter.set_density)
        self.holes.sig_failed.connect(self.scatter.set_density_failed)
        # prior samples against samples of the aggregate posterior
        self.aggregate.sig_compare_requested.connect(self._on_compare_requested)
        self.samples_job.sig_progress.connect(self._on_compare_progress)
        self.samples_job.sig_done.connect(self._on_compare_done)
        self.samples_job.sig_failed.connect(self._on_compare_failed)
        self.selection.sig_export_requested.connect(self._on_export_requested)
        self.exports.sig_done.connect(self._on_export_done)
        self.exports.sig_failed.connect(self._on_export_done)
        self.sliders.label_combo.currentIndexChanged.connect(self._on_label_changed)
        # the timeline: the explored run's moments, built in the background and cached, shown like any model
        pub = ExplorePublisher()  # the knobs the live run's encodings use, so a moment compares with them
        self.moments = MomentLoader(self, pub.max_points, pub.n_preview, pub.n_samples, pub.seed)
        self.moments.sig_ready.connect(self._on_moment)
        self.pinned_moments = MomentLoader(self, pub.max_points, pub.n_preview, pub.n_samples, pub.seed)
        """Moment A's model, built as the moment's is (a loader of its own: A and the moment shown may both be
        waited for)."""
        self.pinned_moments.sig_ready.connect(self._on_pinned_moment)
        self._pinned_step: int | None = None
        self.explored.sig_moment_changed.connect(self._on_moment_changed)
        self._newest: dict[type, object] = {}
        """The explored run's newest model, by kind: kept while the views are held at a moment, shown on follow()."""
        self._shown_moment: int | None = None

    def docks(self) -> list[tuple[str, object, Qt.DockWidgetArea]]:
        """(title, panel, suggested dock area) for MainWindow.add_panel."""
        return [
            ("Latent space", self.scatter, Qt.RightDockWidgetArea),
            ("Decoder", self.sliders, Qt.RightDockWidgetArea),
            ("Traversals", self.traversal, Qt.BottomDockWidgetArea),
            ("Samples", self.samples, Qt.BottomDockWidgetArea),
            ("KL per dimension", self.kl, Qt.BottomDockWidgetArea),
            ("Rate–distortion", self.rd, Qt.LeftDockWidgetArea),
            ("ELBO gap", self.gap, Qt.LeftDockWidgetArea),
            ("Selection", self.selection, Qt.RightDockWidgetArea),
            ("Latent arithmetic", self.attribute, Qt.BottomDockWidgetArea),
            ("Prior vs q(z)", self.aggregate, Qt.LeftDockWidgetArea),
            ("Information", self.information, Qt.RightDockWidgetArea),
        ]

    # --- from the worker (queued, GUI thread) -------------------------------------------------------
    # a declared slot: PySide6 reliably queues a cross-thread call into the receiver's thread only for those
    @Slot(object)
    def on_explore(self, item) -> None:
        """Whatever the worker's ExplorePublisher sent about the explored run: shown, unless the views are held at a
        moment of its timeline (then kept, and shown when they follow the newest model again)."""
        if isinstance(item, RunTimeline):
            self.explored.set_timeline(item)
            return
        self._newest[type(item)] = item
        if self.explored.value.moment is None:
            self._show(item)

    def _show(self, item) -> None:
        if isinstance(item, DecoderSnapshot):
            self.on_decoder(item)
        elif isinstance(item, LatentSnapshot):
            self.on_latents(item)
        elif isinstance(item, PreviewImages):
            self._queue(partial(self.samples.set_preview, item))

    def on_decoder(self, snapshot: DecoderSnapshot) -> None:
        # a hierarchy's layers: the KL strip and its collapse warning judge each one
        self.activity.set_layer_dims(snapshot.config.layer_dims)
        self.activity.set_prior(snapshot.config.prior)  # under the VampPrior, KLs to its marginals
        self.layers.set_dims(snapshot.config.layer_dims)

        def sliders() -> None:
            self.sliders.set_decoder(snapshot)
            self.scatter.set_decoder(snapshot)

        def done() -> None:
            self.gap.set_model(snapshot)
            first = self.decoder is None
            self.decoder = snapshot
            self.explored.at_step(snapshot.step)
            if first:  # the encodings may have come first: the comparison waited for a decoder
                self.aggregate.mark_stale()

        # a larger model's slider rows are made a few per turn first
        rows = [partial(self.sliders.prepare_rows, snapshot.latent_dim)] * math.ceil(
            self.sliders.rows_to_prepare(snapshot.latent_dim) / ROWS_PER_TURN)
        self._queue(*rows, sliders, partial(self.traversal.set_decoder, snapshot),
                    partial(self.attribute.set_decoder, snapshot), done)

    def on_latents(self, latents: LatentSnapshot) -> None:
        def scatter() -> None:
            self.scatter.set_snapshot(latents)

        def activity() -> None:
            # one turn for the KL strip and the sliders' labels: they must never show two decisions
            if self.explored.value.moment is None:
                self.activity.set_latents(latents)  # the live KL may be newer than these encodings
            else:  # a moment's encodings are the whole story of that model: no newer live KL applies
                self.activity.set_held_out(latents.kl_per_dim, latents.mu_variance, latents.step)
            if latents.class_names:
                self.sliders.set_class_names(latents.class_names)

        def done() -> None:
            first = self.latents is None or self.latents.latent_dim != latents.latent_dim
            self.gap.set_latents(latents)
            self.point.clear()  # its path started from the old encodings
            self.latents = latents
            self.aggregate.mark_stale()
            if first and len(latents) >= 2:
                self.cursor.fit(latents.latent_dim)  # the encodings may come before the decoder
                self._show_first_examples(latents)
            self.sig_shown.emit(int(latents.step))

        def selection() -> None:
            self.selection.set_latents(latents)
            self.attribute.set_latents(latents)

        # the scatter's turn re-sends its selection, so the Selection panel's turn comes after it
        self._queue(scatter, selection, activity, partial(self.traversal.set_kl, latents.kl_per_dim), done)

    def _show_first_examples(self, latents: LatentSnapshot) -> None:
        """Something to look at before the first click: the first two held-out examples."""
        self.cursor.set_end("b", latents.mu[1], f"#{int(latents.indices[1])}")
        if self.cursor.z.any():  # the user has moved the sliders already: leave them
            self.cursor.set_end("a", latents.mu[0], f"#{int(latents.indices[0])}")
        else:
            # the first example, as if clicked: the origin often decodes to a faint blur (the held-out
            # μ of a small-object dataset like sprites lie on a shell around it), a real example never does
            self.scatter.select(0)

    # --- one panel per turn -----------------------------------------------------------------------
    def _queue(self, *steps: Callable[[], None]) -> None:
        self._steps.extend(steps)
        if not self.turn_timer.isActive():
            self.turn_timer.start()

    def _run_next_step(self) -> None:
        if self._steps:
            self._steps.popleft()()
        if self._steps:
            self.turn_timer.start()

    @property
    def pending(self) -> bool:
        """Panel updates are still queued (a snapshot is being shown)."""
        return bool(self._steps)

    def flush(self) -> None:
        """Apply every queued panel update now (tests; a caller that needs the panels current)."""
        self.turn_timer.stop()
        while self._steps:
            self._steps.popleft()()

    def on_progress(self, batch) -> None:
        """A runtime.messages.CurveBatch: trajectory, β, and (throttled) the live per-dimension KL."""
        self.rd.add_steps(batch.step, batch.kl, batch.recon)
        self.information.add_batch_tc(batch.step, batch.batch_tc)
        if len(batch.beta):
            self.beta.on_report(float(batch.beta[-1]), float(batch.latest.beta_target))
        if not self.explored.live or self.explored.value.moment is not None:
            return  # another run or moment is shown: the live KL would mix with its encodings
        for step, _beta in batch.beta_changes:  # the objective changed: older encodings stop deciding
            self.activity.setting_changed(step)
        latest = batch.latest
        self.activity.withhold(collapse_withheld(latest))
        self._pending_kl = (np.asarray(latest.kl_per_dim), int(latest.step))
        if not self._kl_timer.isActive():
            self._kl_timer.start()

    def set_history(self, arrays: dict) -> None:
        self.rd.set_history(arrays)
        betas = arrays.get("steps/beta")
        self.beta.reset(float(np.asarray(betas)[-1]) if betas is not None and len(betas) else None)
        self.information.set_history(arrays)

    def on_epoch(self, report) -> None:
        """A held-out evaluation of the live run (trainer.training.reports.EpochReport)."""
        self.information.add_epoch(report)
        split = report.rate_split
        if split is not None:
            self.rd.set_information(float(split["mutual_information"]))

    def clear(self, trajectory: bool = True) -> None:
        """Forget the model the panels show; trajectory=False keeps the rate–distortion plane's live trajectory
        (another run becomes the explored one, the live run goes on)."""
        self.turn_timer.stop()
        self._steps.clear()  # what was queued belongs to the model being cleared
        self.decoder = None
        self.latents = None
        self._pending_kl = None
        self.moments.forget()
        self.pinned_moments.forget()
        self._newest.clear()
        self.explored.follow()  # a new model (or run) starts at its newest, with no moment A
        self.explored.pin(None)
        self._shown_moment = self._pinned_step = None
        self._show_pinned(None)
        self.explored.forget_model()
        self.cursor.clear()
        for panel in (self.scatter, self.sliders, self.traversal, self.samples, self.kl, self.gap, self.selection,
                      self.attribute, self.aggregate):
            panel.clear()
        if trajectory:
            self.beta.reset()
            self.rd.clear()
            self.information.clear()

    # --- the timeline ----------------------------------------------------------------------------
    def _on_moment_changed(self, value) -> None:
        """The views are held at another moment (build or fetch it), or follow the newest model again; or moment A
        was pinned (or unpinned), which the scatter, the traversal and the KL strip draw beside it."""
        if value.pinned != self._pinned_step:
            self._pinned_step = value.pinned
            if value.pinned is None:
                self._show_pinned(None)
            else:
                self.pinned_moments.request(value.timeline, value.pinned)
        if value.moment == self._shown_moment:
            return  # only moment A changed
        self._shown_moment = value.moment
        if value.moment is not None:  # the live KL waiting for its turn is the newest model's, not the moment's
            self._pending_kl = None
            self._kl_timer.stop()
        # the moment's own rule for judging a collapse (the live reports set the newest model's again)
        self.activity.withhold("" if value.moment is None else moment_withheld(value.timeline, value.moment))
        if value.moment is None:
            for kind in (DecoderSnapshot, PreviewImages, LatentSnapshot):
                if kind in self._newest:
                    self._show(self._newest[kind])
        else:
            self.moments.request(value.timeline, value.moment)

    def _on_pinned_moment(self, moment: Moment) -> None:
        if moment.step == self.explored.value.pinned:
            self._show_pinned(moment)

    def _show_pinned(self, moment: Moment | None) -> None:
        decoder = latents = None
        if moment is not None:
            decoder = next(i for i in moment.items if isinstance(i, DecoderSnapshot))
            latents = next(i for i in moment.items if isinstance(i, LatentSnapshot))
        self.scatter.set_pinned(latents)
        self.traversal.set_pinned(decoder)
        self.kl.set_pinned(None if latents is None else latents.kl_per_dim, None if latents is None else latents.step)

    def _on_moment(self, moment: Moment) -> None:
        if moment.step != self.explored.value.moment:
            return  # the slider has moved on
        for item in moment.items:
            self._show(item)

    def shutdown(self) -> None:
        """Join the background estimate's thread (from the window's closeEvent)."""
        self._kl_timer.stop()
        self.moments.shutdown()
        self.pinned_moments.shutdown()
        self.turn_timer.stop()
        self._steps.clear()
        self.gap.shutdown()
        self.projection.shutdown()
        self.exports.shutdown()
        self.holes.shutdown()
        self.samples_job.shutdown()

    # --- between panels ---------------------------------------------------------------------------
    def _on_kl_due(self) -> None:
        if self._pending_kl is None or self.explored.value.moment is not None:
            return  # (a moment is shown: the live KL that arrived before it is not that model's)
        kl, step = self._pending_kl
        self.activity.set_kl(kl, step)  # the KL strip and the sliders redraw from its one decision

    def _on_density_requested(self, req) -> None:
        self.holes.submit(req.token, req.run)

    def _on_compare_requested(self, seed: int, components: int) -> None:
        if self.decoder is None or self.latents is None or self.decoder.latent_dim != self.latents.latent_dim:
            self.aggregate.mark_stale(now=False)  # the decoder's or the encodings' arrival asks again
            self.aggregate.status.clear()
            return
        self._compare_token += 1
        self.samples_job.submit(self._compare_token, partial(compare_samples, self.decoder, self.latents.mu, seed,
                                                             components))

    def _on_compare_progress(self, _token: int, message: str, fraction: float) -> None:
        self.aggregate.set_progress(message, fraction)

    def _on_compare_done(self, _token: int, result) -> None:
        self.aggregate.set_result(*result)

    def _on_compare_failed(self, _token: int, message: str) -> None:
        self.aggregate.set_failed(message)

    def _on_map_done(self, token: int, result) -> None:
        xy, kept = result
        self.scatter.set_projection(token, xy, kept)

    # --- selections -------------------------------------------------------------------------------
    def _on_export_requested(self, kind: str, path: str) -> None:
        """Write the selection off the GUI thread (an NPZ of 70k images takes seconds)."""
        latents, picked = self.scatter.latents, self.cursor.selection
        if latents is None or not len(picked):
            return
        self._export_ids += 1
        self.exports.submit(self._export_ids, partial(export_selection, kind, path, latents, picked))

    def _on_export_done(self, _token: int, message: str) -> None:
        self.selection.show_export_result(message)

    def _on_label_changed(self, _index: int) -> None:
        self.traversal.set_label(self.sliders.label())
        self.attribute.set_label(self.sliders.label())
