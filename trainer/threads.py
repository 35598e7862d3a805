"""Thread policy for torch work done beside training: small jobs keep to one CPU thread.

    with one_torch_thread():      # a snapshot decode on the GUI thread while another thread trains
        images = model.decode(z)
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch ops in the block use one CPU thread (torch keeps the count per thread; it is restored after).

    Snapshot decodes are small and run beside training, usually on the GUI thread: with the default team of
    one OpenMP thread per core they waited for cores the training thread fills, so a decode that is quick on
    one thread took many times longer and stalled the window (benchmarks/slider_latency.py measures it).
    """
    import torch

    was = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(was)
