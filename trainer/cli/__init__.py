"""The headless command line: train, evaluate and inspect VAEs with the same engine and checkpoints as the window.

    vae-explorer train --dataset mnist --data-dir ../shared/datasets/mnist --epochs 5 --out mnist.h5 --json
    vae-explorer sweep --dataset sprites --beta 0.1,1,10 --seed 0,1 --epochs 5 --out runs/ --json
    vae-explorer eval mnist.h5 --iwae-samples 100 --json
    vae-explorer info mnist.h5

Progress bars go to stderr; with --json the last line of stdout is exactly one JSON object.
Any bad argument or file exits with status 2 and one error line on stderr.

The commands live in their own modules (train, sweep, evaluate, files: info and convert), the arguments in
parser.py; none imports torch at module level, so `--help`, `info` and the window's launcher stay quick.
"""

from __future__ import annotations

import sys

from trainer.cli.evaluate import cmd_eval
from trainer.cli.files import cmd_convert, cmd_info, cmd_protocols
from trainer.cli.parser import PROG, build_parser
from trainer.cli.sweep import cmd_sweep
from trainer.cli.train import cmd_train
from trainer.errors import VaeExplorerError

COMMANDS = {"train": cmd_train, "sweep": cmd_sweep, "eval": cmd_eval, "info": cmd_info, "convert": cmd_convert,
            "protocols": cmd_protocols}


def main(argv: list[str] | None = None) -> int:
    """Run one headless command; every project error becomes one line on stderr and exit status 2."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, so that a reader gone away shows up as BrokenPipeError below
        return code
    except BrokenPipeError:
        return _output_closed()
    except VaeExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


SIGPIPE_STATUS = 128 + 13
"""What a shell reports for a Unix tool that SIGPIPE ended, e.g. `yes | head -1`."""


def _output_closed() -> int:
    """The reader of our stdout went away (`vae-explorer info run.h5 | head -1`): stop quietly, as Unix tools do.

    stdout is pointed at /dev/null so that the interpreter's last flush at exit has nowhere to fail."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return SIGPIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
