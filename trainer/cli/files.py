"""`vae-explorer info` (a checkpoint's header, read without torch) and `convert` (an image folder to HDF5); what
every command that reads a dataset says about it (`print_notes`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from trainer.cli.parser import BAR_INTERVAL, UsageError, print_json


def print_notes(dataset) -> None:
    """One line on stderr for each thing the loader left out (trainer.data.Dataset.notes: an image folder's
    decompression bombs), as `convert` says it: train, sweep and eval call it once the data is read."""
    for note in dataset.notes:
        print(f"warning: {note}", file=sys.stderr)


def cmd_protocols(args) -> int:
    """`vae-explorer protocols`: every published row, what its protocol sets, or why it cannot be reproduced here."""
    from trainer.comparability.protocols import protocols

    listed = protocols()
    if args.json:
        print_json([{"name": p.name, "available": not p.unavailable, "unavailable": p.unavailable,
                     "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in p.settings.items()},
                     "eval_k": p.eval_k, "figure": p.row.figure, "checked": p.row.checked,
                     "not_reproduced": list(p.not_reproduced)} for p in listed])
        return 0
    for p in listed:
        print(p.describe())
    notes = sorted({note for p in listed for note in p.not_reproduced})
    for note in notes:
        print(f"note: not reproduced: {note}")
    return 0


def cmd_info(args) -> int:
    from trainer.checkpoints.hdf5 import read_info

    info = read_info(args.checkpoint)
    if args.json:
        print_json(info)
    else:
        for key, value in info.items():
            print(f"{key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return 0


def cmd_convert(args) -> int:
    from tqdm import tqdm

    from trainer.data.image_folder import convert_image_folder

    out = Path(args.out)
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise UsageError(f"{out}: the output must be an HDF5 file (.h5 or .hdf5)")
    with tqdm(total=1.0, unit="", bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}", file=sys.stderr,
              mininterval=BAR_INTERVAL) as bar:
        def progress(message: str, fraction: float) -> None:
            bar.n = round(fraction, 4)
            bar.set_description_str("decoding" if message.startswith("decoding") else "reading sizes", refresh=False)
            bar.set_postfix_str(message.removeprefix("decoding "), refresh=False)
            bar.refresh()

        summary = convert_image_folder(args.folder, out, size=args.image_size or None, mode=args.channels,
                                       strict=args.strict, progress=progress)
    print(f"{out}: {summary}", file=sys.stderr)
    if args.json:
        print_json({"out": str(out), "summary": summary})
    return 0

