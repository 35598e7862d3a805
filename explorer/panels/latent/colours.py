"""The scatter's colours: colour-by a class label or a ground-truth factor, its legend, and drawing the points.

`ColoursMixin` keeps a category code per point (`_codes`) and a colour table (`_lut`) for the colour-by
choice, and draws the points with them, faded toward white outside a box/lasso selection. It relies on the
panel for `_latents`, `_xy`, `cursor`, `cloud`, `picked_cloud` and `thumbs`.
"""

from __future__ import annotations

import numpy as np
import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel

from explorer.plotting.point_cloud import argb_words, colour_rgb, palette
from trainer.analysis.selection import categories, category_keys

NEUTRAL = "#4a6a8a"
"""All points when colouring is off."""
FADE = 0.78
"""While a selection exists, the other points are blended this far toward white."""


class ColoursMixin:
    """Colour-by combo, per-point codes and colour table, the legend, and the points drawn in those colours."""

    def _build_colour_controls(self) -> None:
        self._codes: np.ndarray | None = None
        self._colour_keys: list[tuple[str, str]] = []
        self._lut = np.zeros(1, np.uint32)
        self.colour_combo = QComboBox()
        self.colour_combo.setToolTip("Colour the points by class label or by a ground-truth generative factor")
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.RichText)
        self.legend.setWordWrap(True)

    def set_colour_by(self, key: str) -> None:
        """"label", a factor name, or "none"."""
        index = self.colour_combo.findData(key)
        if index >= 0:
            self.colour_combo.setCurrentIndex(index)

    def _colour_options(self) -> list[tuple[str, str]]:
        return [(key, key) for key in category_keys(self._latents)] + [("none", "none")]

    def _fill_colour_combo(self, latents) -> None:
        previous = self.colour_combo.currentData()
        options = self._colour_options()
        self._colour_keys = options
        self.colour_combo.blockSignals(True)
        self.colour_combo.clear()
        for text, key in options:
            self.colour_combo.addItem(text, key)
        keys = [k for _, k in options]
        self.colour_combo.setCurrentIndex(keys.index(previous) if previous in keys else 0)
        self.colour_combo.blockSignals(False)

    def _update_codes(self) -> None:
        """Category code per point and a colour table for the current colour-by choice."""
        key = self.colour_combo.currentData()
        grouped = categories(self._latents, key)
        codes, names = grouped if grouped is not None else (np.zeros(len(self._latents), np.int64), [])
        k = max(len(names), 1)
        self._codes = codes
        rgb = palette(k) if names else np.array([colour_rgb(NEUTRAL)], np.uint8)
        self._lut = argb_words(rgb)
        self._legend_html(key, names, rgb)

    def _legend_html(self, key: str, names: list[str], rgb: np.ndarray) -> None:
        if not names:
            self.legend.setText("<span style='color:#707070'>Dashed circles: the prior's 1σ and 2σ contours. "
                                "Click a point to decode it; Shift+click picks a second point.</span>")
            return
        def swatch(i: int) -> str:
            r, g, b = (int(v) for v in rgb[i])
            return f"<span style='color:rgb({r},{g},{b})'>●</span>&nbsp;{names[i]}"
        if len(names) <= 12:
            items = [swatch(i) for i in range(len(names))]
            text = f"<b>{key}</b>&nbsp;&nbsp;" + "&nbsp;&nbsp; ".join(items)
        else:
            picks = np.unique(np.linspace(0, len(names) - 1, 6).round().astype(int))
            text = f"<b>{key}</b> (index 0–{len(names) - 1})&nbsp;&nbsp;" + " … ".join(swatch(int(i)) for i in picks)
        self.legend.setText(text)

    def _on_colour_changed(self, *_args) -> None:
        if self._latents is None:
            return
        self._update_codes()
        self._draw_points()

    def _draw_points(self) -> None:
        colours = self._lut[self._codes]
        if self.thumbs.isVisible():
            self.thumbs.set_points(self._xy, colours)
        picked = self.cursor.selection
        if len(picked):
            # the rest fades toward white and the selection is drawn again on top, so it is never hidden
            rgb = np.stack([(colours >> s) & 0xFF for s in (16, 8, 0)], 1).astype(np.float32)
            faded = argb_words((rgb + FADE * (255.0 - rgb)).astype(np.uint8))
            self.cloud.set_points(self._xy, faded)
            self.picked_cloud.set_points(self._xy[picked], colours[picked])
        else:
            self.cloud.set_points(self._xy, colours)
            self.picked_cloud.set_points(np.zeros((0, 2)), np.zeros(0, np.uint32))
        self._draw_pinned()  # moment A's arrows join the selection's positions
