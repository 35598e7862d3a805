"""The controls another thread may use on a running Trainer: live settings, calls between steps, pause and stop.

Each is thread-safe and takes effect in the training thread, before its next step (trainer.training.loop).
"""

from __future__ import annotations

import math
import threading

from trainer.errors import ConfigError


class LiveControls:
    """Trainer's thread-safe side: what a GUI thread or a signal handler may call while run() trains."""

    def _init_controls(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._calls: list = []  # callables another thread asked to run here between steps

    # --- live settings: any thread; applied before the next step
    def set_beta(self, beta: float) -> None:
        self._set_pending("beta", beta, beta >= 0, ">= 0")

    def set_lr(self, lr: float) -> None:
        self._set_pending("lr", lr, lr > 0, "positive")

    def set_free_bits(self, free_bits: float) -> None:
        self._set_pending("free_bits", free_bits, free_bits >= 0, ">= 0")

    def _set_pending(self, name: str, value: float, valid: bool, rule: str) -> None:
        if not (math.isfinite(value) and valid):
            raise ConfigError(f"{name} must be {rule}, got {value}")
        with self._lock:
            self._pending[name] = float(value)

    def call_between_steps(self, fn) -> None:
        """Run `fn()` in the training thread before the next step, or soon while paused; any thread.

        For work that must see the model hold still, e.g. `checkpoint()` for a save from a GUI: the training
        thread is inside `run()`, so a call queued to it otherwise waits for the whole run. Calls not yet run
        when `run()` returns wait for the next `run()` or `run_pending_calls()`.
        """
        with self._lock:
            self._calls.append(fn)

    def run_pending_calls(self) -> None:
        """Run the queued calls now; only from the thread that trains (or while no thread trains)."""
        with self._lock:
            calls, self._calls = self._calls, []
        for fn in calls:
            fn()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so it can see the stop

    @property
    def stop_requested(self) -> bool:
        """stop() was called, or a divergence stopped training: run() returns before the next step."""
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()
