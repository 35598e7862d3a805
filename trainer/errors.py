"""The project's error types: each carries one line that names the file and the problem."""

from dataclasses import dataclass


class VaeExplorerError(Exception):
    """Base of every error the CLI and the window report as one line instead of a traceback."""


class DataError(VaeExplorerError):
    """A dataset could not be read: missing, truncated, wrong magic number, wrong shape, NaN..."""


class CheckpointError(VaeExplorerError):
    """A checkpoint could not be read or written: wrong format, version, shape, dtype, truncation..."""


class ConfigError(VaeExplorerError):
    """A model or training setting is out of range or inconsistent."""


@dataclass(frozen=True)
class LoadFailed:
    """A background load (a dataset, a checkpoint) failed: what a loading thread hands back instead of a result."""

    request_id: int
    """Which request failed, so a reply to a superseded request can be ignored."""
    message: str
    """One line naming the file and the problem: the error's text, or the exception's type and text."""
    path: str = ""
    """The file the request named, where there is one."""


class Stopped(Exception):
    """Background work (a map, a density, a sample comparison, an IWAE estimate) was asked to stop and did; not an
    error."""
