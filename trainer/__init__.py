"""vae-explorer's headless engine: model, objective, training loop, metrics, data and checkpoints.

This package never imports Qt, pyqtgraph or `explorer`; the GUI and the CLI both drive it.
"""

from trainer.errors import CheckpointError, DataError, VaeExplorerError

__all__ = ["CheckpointError", "DataError", "VaeExplorerError"]
