"""`python main.py [ARGS]` behaves exactly like the installed `vae-explorer` command."""

import sys

from explorer.launch import main

if __name__ == "__main__":
    sys.exit(main())
