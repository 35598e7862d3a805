"""Pixel values: the one conversion of uint8 images (0..255) to float32 in [0, 1].

    x = to_float01(dataset.x_test[:16])        # numpy in, numpy out
    xb = to_float01(x_train[idx])              # a torch tensor in, a tensor out, on its own device

Datasets keep images as uint8 (4x less memory than float32, on the host and on the device) and every consumer
converts a batch at a time, as it uses it. Float data is already in [0, 1] and passes through.
"""

from __future__ import annotations

import numpy as np


def to_float01(x):
    """uint8 pixels -> float32 in [0, 1]; float data (already in [0, 1]) -> float32, uncopied where possible.

    A numpy array gives a numpy array (other dtypes are a TypeError: the data loaders never make them); a torch
    tensor gives a tensor on the same device (other dtypes are cast as they are). torch is only touched when
    given a tensor, so the window can call this before torch has loaded.
    """
    if isinstance(x, np.ndarray):
        if x.dtype == np.uint8:
            out = x.astype(np.float32)
            out /= np.float32(255.0)  # in place: one float copy of the data, not two
            return out
        if np.issubdtype(x.dtype, np.floating):
            return x.astype(np.float32, copy=False)
        raise TypeError(f"to_float01 expects uint8 or float data, got {x.dtype}")
    import torch

    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
