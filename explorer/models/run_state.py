"""The window's run state: what the user can do next, decided in one place (MainWindow.state)."""

from __future__ import annotations

from enum import Enum


class RunState(Enum):
    IDLE = "idle"
    """No model: every setting can change."""
    LOADING = "loading"
    """Start was pressed; the worker is reading or generating data and building the model."""
    TRAINING = "training"
    PAUSED = "paused"
    STOPPED = "stopped"
    """A model exists (trained or opened) and is idle; Start continues it, Reset discards it."""
