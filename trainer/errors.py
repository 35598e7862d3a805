"""The project's error types: each carries one line that names the file and the problem."""


class VaeExplorerError(Exception):
    """Base of every error the CLI and the window report as one line instead of a traceback."""


class DataError(VaeExplorerError):
    """A dataset could not be read: missing, truncated, wrong magic number, wrong shape, NaN..."""


class CheckpointError(VaeExplorerError):
    """A checkpoint could not be read or written: wrong format, version, shape, dtype, truncation..."""


class ConfigError(VaeExplorerError):
    """A model or training setting is out of range or inconsistent."""
