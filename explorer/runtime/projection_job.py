"""UMAP and t-SNE maps of the latent space off the GUI thread: the latest request runs, older ones are stopped.

    projection = LatentProjection(parent)                      # GUI thread
    projection.sig_done.connect(on_map)                        # (token, (xy, faithfulness)), in the GUI thread
    projection.request(ProjectionRequest(token, mu, params, previous))   # returns at once
    projection.shutdown()                                      # window close: stop and join

A LatestJob (explorer.runtime.background) running trainer.analysis.projection.project and faithfulness: t-SNE
stops within 10 iterations of a newer request, UMAP after its current phase.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Slot

from explorer.runtime.background import LatestJob


def make_map(req, progress, should_stop) -> tuple:
    """(xy (N, 2) float32, share of 10 latent neighbours kept on the map) for a ProjectionRequest."""
    from trainer.analysis.projection import faithfulness, project

    xy = project(req.mu, req.params, previous=req.previous, progress=progress, should_stop=should_stop)
    return xy, faithfulness(req.mu, xy)


class LatentProjection(LatestJob):
    """Maps of the scatter's points, newest request first."""

    def __init__(self, parent=None):
        super().__init__("vae-explorer projection", parent)

    @Slot(object)
    def request(self, req) -> None:
        """Compute this map next: at once, or once the running job (asked to stop) has ended."""
        self.submit(req.token, partial(make_map, req))
