"""The training worker's data: the dataset it last read, kept so that Reset + Start does not read it again, and the
one File > Open dataset pinned, used whenever a run names its source.

    cache = DataCache()
    cache.pin(dataset)                    # File > Open dataset: read there, used here
    cache.cached(spec) or cache.load(spec, progress)     # progress(message, fraction) may raise to cancel

Lives in the training thread with the worker (explorer.runtime.worker). Which specs read the same data is the
engine's rule (trainer.data.same_source).
"""

from __future__ import annotations


class DataCache:
    """The last dataset read and the pinned one (trainer.data.dataset.Dataset), each or both None."""

    def __init__(self):
        self.last = None
        self.pinned = None

    def pin(self, dataset) -> None:
        """A dataset from File > Open dataset: used whenever a spec names its source, and the last one read."""
        self.pinned = self.last = dataset

    def cached(self, spec):
        """The pinned dataset when `spec` names its source, the last one when `spec` is its spec, else None."""
        from trainer.data.dataset import same_source  # here: the trainer.data package loads torch

        if self.pinned is not None and same_source(self.pinned.spec, spec):
            return self.pinned
        if self.last is not None and self.last.spec == spec:
            return self.last
        return None

    def load(self, spec, progress):
        """Read `spec` (trainer.data.load_dataset), freeing the last dataset's arrays before the new ones arrive."""
        from trainer.data import load_dataset

        self.last = None
        self.last = load_dataset(spec, progress)
        return self.last
