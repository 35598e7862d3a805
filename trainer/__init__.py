"""vae-explorer's headless engine: model, objective, training loop, metrics, data and checkpoints.

This package never imports Qt, pyqtgraph or `explorer`; the GUI and the CLI both drive it. Its Python API
(trainer.api, documented in docs/python-api.md) is reachable from here, loaded on first use so that
`import trainer` stays light:

    import trainer
    model = trainer.load_model("run.h5")
"""

from trainer.errors import CheckpointError, ConfigError, DataError, VaeExplorerError

_API = ("load_dataset", "load_model", "Run", "VAEModel", "evaluate", "sweep", "configs_for", "StepReport",
        "EpochReport", "ModelConfig", "TrainConfig", "DatasetSpec")
"""What trainer.api offers at the package's top level."""

__all__ = ["CheckpointError", "ConfigError", "DataError", "VaeExplorerError", *_API]


def __getattr__(name: str):
    if name in _API:
        from trainer import api

        return getattr(api, name)
    raise AttributeError(f"module 'trainer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
