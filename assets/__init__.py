"""Files that ship inside the wheel as the `vae_explorer_assets` package (icon, demo checkpoint).

`asset_path(name)` finds one both in an installed wheel and in a source checkout.
"""

from pathlib import Path


def asset_path(name: str) -> Path:
    return Path(__file__).resolve().parent / name
