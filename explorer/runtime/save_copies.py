"""Copies of the model for saving and exporting: asked for from any thread, made by the thread that trains it.

    copies = CopyRequests(copy_for, emit)    # copy_for(kind) -> (payload, step); emit(Snapshot) hands it on
    copies.begin_run(); copies.end_run()     # the training worker brackets each run
    copies.add(job, trainer_of)              # any thread: True when the run's trainer will copy between steps
    copies.drain()                           # the training thread (between steps) or the idle worker thread

A save must never copy weights that another thread is stepping: while a run is in progress the copy is made by
the trainer between two steps (Trainer.call_between_steps), otherwise in the worker thread once it is free.
"""

from __future__ import annotations

import threading
import traceback
from typing import Callable


class CopyRequests:
    """The checkpoint_io.IoJobs waiting for a copy of the model or its history, and who makes it."""

    def __init__(self, copy_for: Callable[[str], tuple[object, int]], emit: Callable[[object], None]):
        self._copy_for = copy_for
        self._emit = emit
        self._lock = threading.Lock()
        self._jobs: list = []
        self._in_run = False  # a run is in progress: copies are made between steps, by the trainer's thread

    def begin_run(self) -> None:
        with self._lock:
            self._in_run = True

    def end_run(self) -> None:
        with self._lock:
            self._in_run = False

    def add(self, job, trainer_of: Callable[[], object]) -> bool:
        """Queue `job` (kind "checkpoint": the model; "history": its history). True when a run is in progress:
        its trainer makes the copy between steps (paused or not). False when the worker is idle: the caller
        queues drain() into the worker thread (TrainSession does)."""
        with self._lock:
            self._jobs.append(job)
            if not self._in_run:
                return False
        trainer = trainer_of()
        if trainer is not None:  # else: the run is still loading; the worker drains once the trainer is built
            trainer.call_between_steps(self.drain)
        return True

    def drain(self) -> None:
        """Copy what the queued jobs ask for and hand each copy on. In the training thread between steps, or in
        the idle worker thread; never while another thread trains."""
        from explorer.runtime.checkpoint_io import Snapshot

        with self._lock:
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            try:
                payload, step = self._copy_for(job.kind)
                snapshot = Snapshot(job, payload, step)
            except Exception as exc:  # noqa: BLE001 - reported as a failed save, never a dead thread
                traceback.print_exc()
                snapshot = Snapshot(job, None, 0, f"{type(exc).__name__}: {exc}")
            self._emit(snapshot)
