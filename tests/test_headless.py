"""trainer/ is a library and a headless CLI: importing it must never load Qt, pyqtgraph or explorer."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import sys
import trainer, trainer.cli, trainer.loop, trainer.data, trainer.metrics, trainer.checkpoint, trainer.model
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'explorer', 'shiboken6'))
print(','.join(bad))
"""


def test_trainer_imports_no_qt_in_a_fresh_process():
    # a subprocess, because pytest-qt has already loaded PySide6 into this one
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"trainer pulled in: {out.stdout.strip()}"


def test_import_linter_contract_holds():
    # the same rule, checked statically over every module (lazy imports included)
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe) if exe.exists() else "lint-imports", "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout
