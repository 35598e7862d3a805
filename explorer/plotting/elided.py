"""One line of text that never widens its layout: cut at a word with an ellipsis, the whole text in its tooltip.

    label = ElidedLabel()
    label.set_full_text("No timeline: this checkpoint was written before ...")   # shown whole when it fits
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

ELLIPSIS = "…"


def elide_at_word(text: str, metrics: QFontMetrics, width: int) -> str:
    """`text` if it fits `width` px, else its longest run of whole words that fits with an ellipsis after it
    (cut inside the first word only when not even that fits)."""
    text = " ".join(text.split())  # one line: a status line has no room for a second
    if metrics.horizontalAdvance(text) <= width:
        return text
    cuts = [i for i, ch in enumerate(text) if ch == " "]
    lo, hi, best = 0, len(cuts) - 1, None
    while lo <= hi:  # the widths of the prefixes grow with their length: bisect over the word ends
        mid = (lo + hi) // 2
        candidate = text[:cuts[mid]].rstrip(" ,;:.·—–-") + ELLIPSIS
        if metrics.horizontalAdvance(candidate) <= width:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best if best is not None else metrics.elidedText(text, Qt.ElideRight, max(width, 0))


class ElidedLabel(QLabel):
    """One line of text that never widens its layout: cut at a word boundary with an ellipsis when it does not
    fit, the whole text in its tooltip."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.setMinimumWidth(0)
        self.setTextFormat(Qt.PlainText)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(elide_at_word(self._full, self.fontMetrics(), self.contentsRect().width() - 2 * self.margin()))
