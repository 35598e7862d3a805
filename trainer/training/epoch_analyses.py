"""The held-out analyses that close each epoch, in the training thread or beside it.

    analyses = EpochAnalyses(beside=True)       # the window: training goes on while the epoch is evaluated
    analyses.submit(job)                         # job() -> EpochReport, on a copy of the weights
    for report in analyses.collect(wait=False):  # the finished ones, in epoch order, in the training thread
        ...

In the training thread (beside=False, the CLI's and the sweeps' default) an epoch's evaluation pauses training
for its duration; beside it, the job runs in a thread of its own on a copy of the weights taken at the epoch's
last step, so it gives the same numbers as it would have in line, and its report arrives a few steps later
(its `step` says which weights it scored). torch releases the GIL in its kernels, so the two threads overlap.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from typing import Callable

import torch


def weights_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A private copy of the model in eval mode, on its device: what an epoch's analyses score while the
    original trains on."""
    with torch.no_grad():
        twin = copy.deepcopy(model)
    return twin.eval()


class _Job:
    def __init__(self, job: Callable[[], object]):
        self.result = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(job,), name="epoch-analyses", daemon=True)
        self.thread.start()

    def _run(self, job) -> None:
        try:
            self.result = job()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the training thread by collect()
            self.error = exc

    def done(self) -> bool:
        return not self.thread.is_alive()


class EpochAnalyses:
    """Runs each epoch's evaluation job in line (beside=False) or in a thread of its own, one at a time in order;
    collect() hands the finished reports back in epoch order and re-raises a job's error where it is called."""

    def __init__(self, beside: bool = False):
        self.beside = beside
        self._jobs: deque[_Job] = deque()

    @property
    def pending(self) -> int:
        """Jobs submitted and not yet collected."""
        return len(self._jobs)

    def submit(self, job: Callable[[], object]):
        """In line: job's result now. Beside: None now, the result from a later collect()."""
        if not self.beside:
            return job()
        previous = self._jobs[-1] if self._jobs else None

        def after_previous():  # one job at a time: two epochs' analyses would only share the same cores
            if previous is not None:
                previous.thread.join()
            return job()

        self._jobs.append(_Job(after_previous))
        return None

    def collect(self, wait: bool = False) -> list:
        """The results of the finished jobs, oldest first, stopping at the first unfinished one (wait: all)."""
        out = []
        while self._jobs and (wait or self._jobs[0].done()):
            job = self._jobs.popleft()
            job.thread.join()
            if job.error is not None:
                self._jobs.clear()
                raise job.error
            out.append(job.result)
        return out
