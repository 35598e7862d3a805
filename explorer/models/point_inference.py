"""One held-out example's classical VI: where its q went from the encoder's guess to q*, and its ELBO on the way.

    point = PointInference()
    point.set_trace(position, "#17", trace, mu)  # a trainer.analysis.inference_gaps.PointTrace, the μ it began at
    point.sig_changed.connect(on_changed)       # a trace arrived or was dropped
    point.encoder_z, point.optimized_z          # the two points the Decoder panel can show (None without a trace)
    point.clear()                               # new encodings or a new model: the trace described the old ones

The ELBO gap panel computes the trace; the latent scatter draws its path and the Decoder panel switches between
its two ends. One copy, owned here, for all three.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import numpy as np
from PySide6.QtCore import QObject, Signal


class PointInference(QObject):
    """The classical-VI trace of one held-out example of the explored model, or none; GUI thread only."""

    sig_changed = Signal()
    """A trace arrived, or the one held was dropped."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._trace = None
        self._position: int | None = None
        self._caption = ""
        self._start: np.ndarray | None = None

    @property
    def trace(self):
        """The trainer.analysis.inference_gaps.PointTrace held, or None."""
        return self._trace

    @property
    def position(self) -> int | None:
        """The example's position in the held-out encodings the scatter shows."""
        return self._position

    @property
    def caption(self) -> str:
        """How the example is named ("#17", its index in the held-out split)."""
        return self._caption

    @property
    def encoder_z(self) -> np.ndarray | None:
        """The encoder's guess: the mean of q_φ(z|x) (a hierarchy: its mean path), exactly as the scatter has it."""
        return None if self._start is None else self._start.copy()

    @property
    def optimized_z(self) -> np.ndarray | None:
        """The mean of q*, the q classical VI found for this x alone."""
        return None if self._trace is None else self._trace.means[-1].copy()

    def set_trace(self, position: int, caption: str, trace, start) -> None:
        """`start`: the example's μ in the held-out encodings shown (the trace's first mean, recomputed in another
        batch, can differ from it in the last float bits)."""
        self._position, self._caption, self._trace = int(position), caption, trace
        self._start = np.asarray(start, dtype=np.float32).copy()
        self.sig_changed.emit()

    def clear(self) -> None:
        if self._trace is None:
            return
        self._position, self._caption, self._trace, self._start = None, "", None, None
        self.sig_changed.emit()
