"""A bounded history of curve points: rows that grow to a capacity, then average neighbouring rows in pairs.

    buffer = CurveBuffer(ncols=3)              # x first, then any number of y columns
    buffer.append(rows)                        # (n, 3) rows, any number at a time
    x, y1, y2 = buffer.rows().T                # what to draw: at most `capacity` rows plus the newest bin
"""

from __future__ import annotations

import numpy as np

BUFFER_CAPACITY = 2048
"""Points kept per curve before neighbouring points are averaged in pairs: about one per pixel of a plot."""


class CurveBuffer:
    """Rows of floats (x first) that grow to `capacity`, then average neighbouring rows in pairs.

    After k halvings each stored row stands for 2**k appended rows, all rows alike, so memory and drawing
    time stay bounded however long training runs. x keeps the last value of each bin, the rest their mean.
    """

    def __init__(self, ncols: int, capacity: int = BUFFER_CAPACITY):
        if capacity < 2 or capacity % 2:
            raise ValueError("capacity must be an even number >= 2")
        self._rows = np.empty((capacity, ncols))
        self._n = 0
        self.stride = 1
        """Appended rows per stored row."""
        self._pending = np.empty((0, ncols))  # appended rows not yet filling a whole bin

    def __len__(self) -> int:
        return self._n + (1 if len(self._pending) else 0)

    def clear(self) -> None:
        self._n = 0
        self.stride = 1
        self._pending = self._pending[:0]

    def append(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=float).reshape(-1, self._rows.shape[1])
        pending = np.concatenate([self._pending, rows]) if len(self._pending) else rows
        capacity = len(self._rows)
        while True:
            k = min(len(pending) // self.stride, capacity - self._n)
            if k == 0:
                break
            take = k * self.stride
            self._rows[self._n : self._n + k] = _bin(pending[:take], self.stride)
            self._n += k
            pending = pending[take:]
            if self._n == capacity:
                self._rows[: capacity // 2] = _bin(self._rows, 2)
                self._n = capacity // 2
                self.stride *= 2
        self._pending = pending.copy()

    def rows(self) -> np.ndarray:
        """The stored rows plus the partly filled newest bin, so the curve's end is always current."""
        if len(self._pending):
            return np.concatenate([self._rows[: self._n], _bin(self._pending, len(self._pending))])
        return self._rows[: self._n]

    def replace_column(self, col: int, values: np.ndarray) -> None:
        """Overwrite one stored column (used when the smoothing changes); pending rows are left alone."""
        self._rows[: self._n, col] = values[: self._n]


def _bin(rows: np.ndarray, size: int) -> np.ndarray:
    if size == 1:
        return rows
    blocks = rows.reshape(-1, size, rows.shape[1])
    out = blocks.mean(axis=1)
    out[:, 0] = blocks[:, -1, 0]
    return out
