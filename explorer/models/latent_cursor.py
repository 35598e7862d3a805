"""Where the user is in latent space: the cursor z, the interpolation ends A and B, and the box/lasso selection.

    cursor = LatentCursor()
    cursor.fit(latent_dim)                    # a model of another size: z = 0, no ends, no selection
    cursor.move_to(z, origin=panel)           # a click, a slider, the marker, an arithmetic walk
    cursor.sig_moved.connect(on_moved)        # on_moved(z, origin): origin is the object that moved it
    cursor.set_end("a", mu, "#17")            # an interpolation end, with its caption
    cursor.set_selection(positions)           # positions into the held-out encodings the scatter shows

One copy each, for every panel: the Decoder's sliders, the scatter's marker, the traversal's centre and the
Latent arithmetic walk's start all follow `sig_moved`; the interpolation reads A and B from here; the scatter
draws the selection and the Selection and Latent arithmetic panels read it. A panel that moved z passes itself as
`origin`, so it can skip redrawing what it already shows (a slider being dragged is not set back to its own
rounded value), and the arithmetic walk keeps its start while it is the one moving z.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
import numpy as np
from PySide6.QtCore import QObject, Signal

ENDS = ("a", "b")


class LatentCursor(QObject):
    """z, the ends A and B, and the selection of one explored model; GUI thread only."""

    sig_moved = Signal(object, object)
    """(z float32 (D,) copy, origin: the object that moved it, or None)."""
    sig_end_changed = Signal(str)
    """"a" or "b": that interpolation end was set or cleared."""
    sig_selection_changed = Signal(object)
    """int64 positions into the held-out encodings shown (sorted, unique); empty when nothing is selected."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._z = np.zeros(0, np.float32)
        self._ends: dict[str, tuple[np.ndarray, str]] = {}
        self._selection = np.zeros(0, np.int64)

    # --- z ----------------------------------------------------------------------------------------
    @property
    def z(self) -> np.ndarray:
        return self._z.copy()

    @property
    def latent_dim(self) -> int:
        return len(self._z)

    def fit(self, latent_dim: int) -> bool:
        """Make room for a model of `latent_dim` dimensions; True if that changed anything (then z = 0 and the
        ends and selection of the other model are gone)."""
        if latent_dim == len(self._z):
            return False
        self._z = np.zeros(latent_dim, np.float32)
        self._ends.clear()
        for key in ENDS:
            self.sig_end_changed.emit(key)
        self.set_selection([])
        self.sig_moved.emit(self.z, None)
        return True

    def move_to(self, z, origin: object | None = None) -> bool:
        """Move z (a vector of the current model's size; others are ignored: False)."""
        z = np.asarray(z, dtype=np.float32).reshape(-1)
        if len(z) != len(self._z):
            return False
        self._z = z.copy()
        self.sig_moved.emit(self.z, origin)
        return True

    # --- the interpolation's ends -------------------------------------------------------------------
    def end(self, key: str) -> tuple[np.ndarray, str] | None:
        """(z, caption) of end "a" or "b", or None while unset."""
        held = self._ends.get(key)
        return None if held is None else (held[0].copy(), held[1])

    def set_end(self, key: str, z, caption: str = "") -> None:
        if key not in ENDS:
            raise ValueError(f"an interpolation end is 'a' or 'b', not {key!r}")
        z = np.asarray(z, dtype=np.float32).reshape(-1)
        if len(z) != len(self._z):
            return
        self._ends[key] = (z.copy(), caption)
        self.sig_end_changed.emit(key)

    # --- the selection ------------------------------------------------------------------------------
    @property
    def selection(self) -> np.ndarray:
        return self._selection.copy()

    def set_selection(self, positions) -> None:
        picked = np.unique(np.asarray(positions, dtype=np.int64).reshape(-1))
        if np.array_equal(picked, self._selection):
            return
        self._selection = picked
        self.sig_selection_changed.emit(self.selection)

    def clear_selection(self) -> None:
        self.set_selection([])

    # --- a model goes ---------------------------------------------------------------------------------
    def clear(self) -> None:
        """No model: no z, no ends, no selection."""
        self.fit(0)
