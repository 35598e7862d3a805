"""The code's layout holds: import-linter's contracts (trainer headless; explorer's layers), and every package ships."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    # statically, over every module (lazy imports included): trainer imports no Qt, explorer's layers
    # (app > main_window > files | exploration > runtime > panels > models > plotting) and trainer's rooms
    # (cli > training > analysis | checkpoints > model > data) import only downwards
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe) if exe.exists() else "lint-imports", "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 3 kept, 0 broken." in out.stdout
    assert "explorer's layers" in out.stdout and "trainer's rooms" in out.stdout


def test_every_package_is_listed_for_the_wheel():
    # [tool.setuptools] packages is explicit: a subpackage missing there is missing from a non-editable install
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for top in ("trainer", "explorer")
               for p in (REPO / top).rglob("__init__.py")}
    assert on_disk <= listed, f"not in pyproject's packages: {sorted(on_disk - listed)}"


def test_ruff_finds_nothing():
    # the rules are pyproject's [tool.ruff.lint]: pyflakes, syntax errors and bugbear's likely bugs
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
