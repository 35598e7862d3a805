"""The code's layout holds: import-linter's contracts (trainer headless; explorer's layers), module sizes, and every
package ships."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    # statically, over every module (lazy imports included): trainer imports no Qt, explorer's layers
    # (app > window > files > runtime > panels > models > plotting), the window's rooms (its drivers over
    # main_window over the controllers) and trainer's rooms (cli > training > analysis | checkpoints > model >
    # data) import only downwards
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe) if exe.exists() else "lint-imports", "--no-cache"], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 4 kept, 0 broken." in out.stdout
    assert "explorer's layers" in out.stdout and "trainer's rooms" in out.stdout and "window's rooms" in out.stdout


def test_no_module_is_a_catch_all():
    # a module over 500 lines or a function over 80 holds more than one concern: split it by concern
    too_big = []
    for path in sorted(p for top in ("trainer", "explorer") for p in (REPO / top).rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(REPO).as_posix()
        if source.count("\n") > 500:
            too_big.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                too_big.append(f"{name}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not too_big, "\n".join(too_big)


def test_only_the_window_package_holds_the_window():
    # controllers get what they use in their constructors; only explorer/window/ composes the whole window
    holders = [f"{p.relative_to(REPO).as_posix()}:{i}" for p in sorted((REPO / "explorer").rglob("*.py"))
               if "window" not in p.relative_to(REPO / "explorer").parts[:1]
               for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
               if re.search(r"self\._?window\b", line)]
    assert not holders, holders


def test_every_package_is_listed_for_the_wheel():
    # [tool.setuptools] packages is explicit: a subpackage missing there is missing from a non-editable install
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for top in ("trainer", "explorer")
               for p in (REPO / top).rglob("__init__.py")}
    assert on_disk <= listed, f"not in pyproject's packages: {sorted(on_disk - listed)}"


def test_ruff_finds_nothing():
    # the rules are pyproject's [tool.ruff.lint]: pyflakes, syntax errors, bugbear's likely bugs and lines over 120
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
