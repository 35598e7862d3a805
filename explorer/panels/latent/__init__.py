"""The latent scatter: posterior means μ of the held-out set, coloured by label or ground-truth factor.

    panel = LatentScatterPanel(cursor)   # an explorer.models.LatentCursor: z, the ends A/B, the selection
    panel.set_snapshot(latents)          # trainer.analysis.snapshots.LatentSnapshot, encoded in the worker
    panel.set_decoder(decoder_snapshot)  # for the hover thumbnails' reconstructions
    panel.sig_point_selected.connect(...)    # click: (index, μ); Shift+click: sig_point_b_selected
    panel.sig_refresh_requested.connect(...) # "Refresh now"; sig_refresh_every_changed(steps) for the spin box

Up to 70,000 points are drawn by `PointCloudItem` (explorer.plotting.point_cloud), which rasterises them into
one image per paint with numpy: a pyqtgraph ScatterPlotItem looks up a symbol per point in Python on every
setData, while this item's set_points is a copy and its paint a few vectorised numpy calls. Hover and click find
the nearest point in screen pixels with one vectorised distance, not by asking items. For latent dim > 2 the
view is either two chosen dimensions or a `StablePCA` projection whose axes are aligned with the previous
refresh.

A click moves the cursor's z to the point's μ and makes it end A (Shift+click: end B); dragging the marker moves
the cursor live; a box or lasso sets the cursor's selection. The marker and the selection are drawn from the
cursor, whoever moved it.

UMAP and t-SNE maps (trainer.analysis.projection) are computed off the GUI thread: the panel asks for one with
`sig_projection_requested` (a ProjectionRequest carrying the previous map, so a refresh glides) and draws what
`set_projection` brings back, with its progress in the info line meanwhile. On such a map a click still sends
the point's true μ; the marker sits on the point nearest to the sliders' z in latent space and cannot be dragged,
because a position on a nonlinear map is not a latent vector.

The panel is composed from one mixin per concern, each in its own module: views.py (dims, PCA, UMAP, t-SNE),
overlays.py (prior contours, decoded grid, q(z) vs prior, thumbnails), colours.py (colour-by and legend),
selection_tool.py (box and lasso), markers.py (A/B rings, the z marker) and hover.py; panel.py composes them.
"""

from explorer.panels.latent.overlays import GRID_SIDE
from explorer.panels.latent.panel import LatentScatterPanel

__all__ = ["GRID_SIDE", "LatentScatterPanel"]
