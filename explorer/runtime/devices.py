"""torch, loaded in the training thread: which devices it sees, and the warm-up that keeps the window smooth.

    devices = probe_devices()       # ["auto", "cpu", "cuda"?, "mps"?], after importing torch (seconds)
    freeze_long_lived_objects()     # after building a model: full garbage collections skip what lives long

Never called on the GUI thread: importing torch holds the GIL in long stretches.
"""

from __future__ import annotations

import gc


def probe_devices() -> list[str]:
    """Import torch, warm its optimizer imports and list the devices this machine can train on."""
    import torch

    warm_optimizer()
    freeze_long_lived_objects()
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def warm_optimizer() -> None:
    """Build a throwaway Adam, so the first Start does not pay for what that imports.

    torch's first optimizer imports torch._dynamo (and sympy with it), a long import that holds the GIL in
    long stretches, so done at Start it froze the window in bursts and delayed the first report. Done here,
    in the launch-time probe, it overlaps the user's first look at the window instead: the probe ends later,
    but its stalls are no longer than those importing torch itself already causes there.
    """
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def freeze_long_lived_objects() -> None:
    """Exempt everything alive now (torch, Qt wrappers, the model) from future garbage collections.

    A full collection walks every tracked object, and with torch and Qt loaded there are very many, all
    while holding the GIL, so the window froze whenever training garbage triggered one. Frozen objects are
    skipped (gc.freeze, CPython >= 3.7); what is created afterwards is still collected as usual.
    """
    gc.freeze()
