"""The models of a run's moments, built off the GUI thread and kept in memory: what scrubbing the timeline shows.

    moments = MomentLoader(parent)                   # GUI thread
    moments.sig_ready.connect(panels.on_moment)      # a Moment: (timeline, step, [DecoderSnapshot, PreviewImages,
                                                     #  LatentSnapshot]) in the GUI thread
    moments.request(timeline, step)                  # the snapshot nearest `step` of a RunTimeline; newest wins
    moments.cached(timeline, step)                   # that Moment if it was built already, else None
    moments.shutdown()

A moment is built as an opened checkpoint is (trainer.analysis.moments.RunTimeline.moment): the snapshot's decoder,
previews and held-out encodings, in a background thread (LatestJob: a newer request stops an older one). Built
moments stay in an LRU cache of CACHE_MOMENTS, so scrubbing back and forth over them draws at once, and a film
(explorer.window.film) replays them without encoding again. The data each run's moments need is read once and
kept (one dataset at a time).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QObject, Signal

from explorer.runtime.background import LatestJob

CACHE_MOMENTS = 96
"""Built moments kept in memory (a 10,000-point MNIST moment is ~2 MB of encodings): a default timeline's 64 fit."""


@dataclass(frozen=True, eq=False)
class Moment:
    """What the panels show of one snapshot of a run."""

    timeline: object = field(repr=False)
    """The trainer.analysis.moments.RunTimeline it belongs to."""
    step: int
    items: tuple = field(repr=False)
    """(DecoderSnapshot, PreviewImages, LatentSnapshot), in the order the panels take them."""


class _Data:
    """The dataset the moments of the current run need, read once (any thread; one reader at a time)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._spec = None
        self._dataset = None

    def load(self, spec):
        from trainer.data import load_dataset

        with self._lock:
            if self._spec != spec:
                self._spec, self._dataset = None, None  # the old arrays go before the new arrive
                self._dataset, self._spec = load_dataset(spec), spec
            return self._dataset


class MomentLoader(QObject):
    """Builds and caches the moments of the explored run's timeline (GUI thread object; work in a background one)."""

    sig_ready = Signal(object)
    """A Moment, built or from the cache."""
    sig_progress = Signal(str)
    """One line about a moment being built ("" when done)."""
    sig_failed = Signal(str)
    """One line: why a moment could not be built."""

    def __init__(self, parent: QObject | None = None, max_points: int | None = None, n_preview: int = 16,
                 n_samples: int = 32, seed: int = 0):
        super().__init__(parent)
        self.max_points, self.n_preview, self.n_samples, self.seed = max_points, n_preview, n_samples, seed
        self._cache: OrderedDict[int, Moment] = OrderedDict()
        """Built moments of the explored run by step (forget() when another run is explored, or on Reset)."""
        self._data = _Data()
        self._jobs = LatestJob("vae-explorer moments", self)
        self._jobs.sig_done.connect(self._on_done)
        self._jobs.sig_failed.connect(self._on_failed)
        self._wanted: int | None = None

    @staticmethod
    def _key(timeline, step: int) -> int:
        return int(timeline.steps[timeline.nearest(step)])

    def cached(self, timeline, step: int) -> Moment | None:
        """The built moment of the snapshot nearest `step`, or None."""
        if timeline is None or not len(timeline):
            return None
        moment = self._cache.get(self._key(timeline, step))
        if moment is not None:
            self._cache.move_to_end(self._key(timeline, step))
        return moment

    def request(self, timeline, step: int) -> None:
        """Show the snapshot nearest `step`: at once from the cache, else when built (a newer request wins)."""
        if timeline is None or not len(timeline):
            return
        key = self._key(timeline, step)
        self._wanted = key
        moment = self.cached(timeline, step)
        if moment is not None:
            self._jobs.drop()
            self.sig_ready.emit(moment)
            return
        index = timeline.nearest(step)
        self.sig_progress.emit(f"Encoding the held-out set at step {timeline.steps[index]:,}…")
        self._jobs.submit(key, lambda progress, should_stop: self._build(timeline, index))

    def _build(self, timeline, index: int) -> Moment:
        """In the job's thread: the snapshot's decoder, previews and encodings."""
        items = tuple(timeline.moment(index, self._data.load, self.n_preview, self.n_samples, self.seed,
                                      self.max_points))
        return Moment(timeline, int(timeline.steps[index]), items)

    def _on_done(self, _token: int, moment: Moment) -> None:
        key = self._key(moment.timeline, moment.step)
        self._cache[key] = moment
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_MOMENTS:
            self._cache.popitem(last=False)
        self.sig_progress.emit("")
        if key == self._wanted:
            self.sig_ready.emit(moment)

    def _on_failed(self, _token: int, message: str) -> None:
        self.sig_progress.emit("")
        self.sig_failed.emit(f"No view of this moment: {message}")

    def forget(self) -> None:
        """Drop every built moment (another run's timeline replaces this one's, or Reset)."""
        self._jobs.drop()
        self._cache.clear()
        self._wanted = None

    def shutdown(self) -> None:
        self._jobs.shutdown()
