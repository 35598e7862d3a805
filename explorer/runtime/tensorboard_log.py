"""The window's runs as TensorBoard event files, when File ▸ Preferences names a folder for them.

    with run_log(folder, "run-20261204-031500", trainer) as log:   # in the training thread
        for report in trainer.run():
            log.add(report)

One TensorBoard run per window run, named for its checkpoint file when one was opened, else for when it first
started; Continue writes into the same one. The events are trainer.training.tensorboard's, the same as
`train --tensorboard` writes. With no folder, or without the tensorboard package, nothing is written (the
Preferences dialog says why the option is off).
"""

from __future__ import annotations

from contextlib import contextmanager

from trainer.errors import VaeExplorerError


class _NoLog:
    """What the run writes to when nothing is asked for."""

    def add(self, report) -> None:
        pass


@contextmanager
def run_log(folder: str, name: str, trainer):
    """A log whose add(report) writes the run's events into folder/name; closed (its HParams session ended as
    finished or not) when the block ends. A folder that cannot be written is a VaeExplorerError in one line."""
    from trainer.errors import ConfigError
    from trainer.training.tensorboard import TensorBoardLog, require_tensorboard

    try:
        if folder:
            require_tensorboard()
    except ConfigError:  # a folder kept from an install that had the package: Preferences shows it greyed out
        folder = ""
    if not folder:
        yield _NoLog()
        return

    try:
        log = TensorBoardLog(folder, name, trainer)
    except OSError as exc:
        raise VaeExplorerError(f"{folder}: cannot write TensorBoard events there: {exc.strerror or exc}") from None
    try:
        yield log
    finally:
        log.close(finished=trainer.finished)
