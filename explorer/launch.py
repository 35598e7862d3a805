"""Entry point of `vae-explorer` and `python main.py`: headless commands go to the CLI, anything else opens the window.

    vae-explorer train|sweep|eval|info|convert ...   # trainer.cli: never imports Qt
    vae-explorer replay run.h5 --out film.mp4        # explorer.app: the window offscreen, filming the timeline
    vae-explorer -h                       # the CLI's help (it lists the commands and says no command opens the window)
    vae-explorer [FILE.h5] [--screenshot OUT.png [--train-steps N]]   # explorer.app: the window

Kept free of Qt imports so the headless commands never pay for loading PySide6.
"""

from __future__ import annotations

import sys



def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from trainer.cli import COMMANDS  # trainer.cli imports no torch and no Qt at module level

    if argv and argv[0] == "replay":  # headless, but it films the window's panels: Qt, offscreen
        from explorer.app import replay_main

        return replay_main(argv[1:])
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from trainer.cli import main as cli_main

        return cli_main(argv)
    from explorer.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
