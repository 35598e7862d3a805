"""`python -m trainer.cli ...`: the same CLI as `vae-explorer` and `python -m trainer`."""

import sys

from trainer.cli import main

sys.exit(main())
