"""`python -m trainer`: the headless command line (train, eval, info), as `vae-explorer` without a window."""

import sys

from trainer.cli import main

sys.exit(main())
