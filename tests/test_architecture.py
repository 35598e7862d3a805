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


READS = {"text", "value", "isChecked", "currentText", "currentData", "currentIndex", "currentMessage", "toPlainText",
         "checkedButton"}
"""Qt calls that read a widget's state back."""


def _chain(node) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if isinstance(node, ast.Name) else "?")
    return parts[::-1]


def test_no_state_is_read_back_from_another_objects_widget():
    # one owner per piece of state (issue 35): a view reads its model, never another panel's widget or the status
    # bar's text ("stopping" was once the status bar's "Stopping…"). Statically: a read of a widget's state
    # reached through another object (self.controls.epochs_spin.value(), row.kl.text()) or of a status message
    found = []
    for path in sorted((REPO / "explorer").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in READS
                    and not node.args):
                continue
            chain = _chain(node.func.value)
            # self.spin.value(), item.text(), table.item(r, 1).text(): the object's own widgets and items
            through_another = len(chain) >= (3 if chain[0] == "self" else 2) and chain[0] != "?"
            if node.func.attr == "currentMessage" or through_another:
                found.append(f"{path.relative_to(REPO).as_posix()}:{node.lineno} {'.'.join(chain)}.{node.func.attr}()")
    assert not found, "\n".join(found)


def test_no_module_outside_the_window_package_is_handed_the_window():
    # the panels, files, runtime and models get what they use, never the window to duck-type (export_targets once
    # took it and probed its attributes); app.py and launch.py, above the window, build it
    handed = []
    for path in sorted((REPO / "explorer").rglob("*.py")):
        rel = path.relative_to(REPO / "explorer")
        if rel.parts[0] == "window" or rel.name in ("app.py", "launch.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)]
                handed += [f"{rel.as_posix()}:{node.lineno} {node.name}({n})" for n in names
                           if n in ("window", "win", "main_window")]
    assert not handed, handed


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
