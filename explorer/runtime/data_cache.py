"""The training worker's data: the dataset it last read, kept so that Reset + Start does not read it again, and the
one File > Open dataset pinned, used whenever a run names its source.

    cache = DataCache()
    cache.pin(dataset)                    # File > Open dataset: read there, used here
    cache.cached(spec) or cache.load(spec, progress)     # progress(message, fraction) may raise to cancel

Lives in the training thread with the worker (explorer.runtime.worker); the GUI thread only asks same_source.
"""

from __future__ import annotations


def same_source(a, b) -> bool:
    """Two DatasetSpecs read the same examples, whatever their sprite fields say (the split seed aside)."""
    if a.name != b.name or int(a.limit) != int(b.limit):
        return False
    if a.name == "path":  # an image folder read at another size or in other channels is other data
        return (str(a.path), a.key, a.folder_size, a.channels) == (str(b.path), b.key, b.folder_size, b.channels)
    if a.name == "sprites":
        return a == b
    return a.data_dir == b.data_dir


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
