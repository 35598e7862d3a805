"""A bounded history of curve points: rows that grow to a capacity, then merge neighbouring rows in pairs.

    buffer = CurveBuffer(ncols=3)              # x first, then any number of y columns
    buffer.append(rows)                        # (n, 3) rows, any number at a time
    x, y1, y2 = buffer.rows().T                # bin means: at most `capacity` rows plus the newest bin
    x, y1 = buffer.peaks(1)                    # what to draw of a raw column: each bin's min and max
"""

from __future__ import annotations

import numpy as np

BUFFER_CAPACITY = 2048
"""Bins kept per curve before neighbouring bins merge in pairs: about one per pixel of a plot."""


class CurveBuffer:
    """Rows of floats (x first) that grow to `capacity`, then merge neighbouring rows in pairs.

    After k halvings each stored row stands for 2**k appended rows, all rows alike, so memory and drawing
    time stay bounded however long training runs. Each bin keeps the mean of its rows (`rows`, for readouts
    and smoothing) and their min and max (`peaks`, for drawing): a mean alone would flatten the lone loss spike
    that comes before a divergence, the very thing a long run's curve must still show. x is the last value
    of each bin.
    """

    def __init__(self, ncols: int, capacity: int = BUFFER_CAPACITY):
        if capacity < 2 or capacity % 2:
            raise ValueError("capacity must be an even number >= 2")
        self._rows = np.empty((capacity, ncols))
        self._lo = np.empty((capacity, ncols))
        self._hi = np.empty((capacity, ncols))
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
            stored = slice(self._n, self._n + k)
            self._rows[stored], self._lo[stored], self._hi[stored] = _bin(pending[:take], self.stride)
            self._n += k
            pending = pending[take:]
            if self._n == capacity:
                half = slice(0, capacity // 2)
                self._rows[half] = _bin(self._rows, 2)[0]
                self._lo[half] = _bin(self._lo, 2)[1]  # min of mins, max of maxes
                self._hi[half] = _bin(self._hi, 2)[2]
                self._n = capacity // 2
                self.stride *= 2
        self._pending = pending.copy()

    def rows(self) -> np.ndarray:
        """Bin means: the stored rows plus the partly filled newest bin, so the curve's end is always current."""
        if len(self._pending):
            return np.concatenate([self._rows[: self._n], _bin(self._pending, len(self._pending))[0]])
        return self._rows[: self._n]

    def peaks(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of one column with every bin's min and max, as pyqtgraph's "peak" downsampling draws it.

        Two points per bin at the bin's x (at most 2 * capacity + 2), or the rows themselves while no bin holds
        more than one row, so a spike keeps its height however many rows were merged around it.
        """
        lo, hi = self._lo[: self._n], self._hi[: self._n]
        x = self._rows[: self._n, 0]
        if len(self._pending):
            _, p_lo, p_hi = _bin(self._pending, len(self._pending))
            lo, hi = np.concatenate([lo, p_lo]), np.concatenate([hi, p_hi])
            x = np.concatenate([x, p_lo[:, 0]])
        if self.stride == 1:  # every bin one row (nothing is pending then)
            return x.copy(), lo[:, col].copy()
        return np.repeat(x, 2), np.column_stack([lo[:, col], hi[:, col]]).ravel()

    def replace_column(self, col: int, values: np.ndarray) -> None:
        """Overwrite one stored column (used when the smoothing changes); pending rows are left alone."""
        self._rows[: self._n, col] = values[: self._n]
        self._lo[: self._n, col] = values[: self._n]
        self._hi[: self._n, col] = values[: self._n]


def _bin(rows: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, min, max) of each run of `size` rows; x (column 0) is the run's last value in all three."""
    if size == 1:
        return rows, rows, rows
    blocks = rows.reshape(-1, size, rows.shape[1])
    out = blocks.mean(axis=1), blocks.min(axis=1), blocks.max(axis=1)
    for part in out:
        part[:, 0] = blocks[:, -1, 0]
    return out
