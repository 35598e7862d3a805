"""trainer/ is a library and a headless CLI: importing it must never load Qt, pyqtgraph or explorer.

The same rule is checked statically, over every module, by the import-linter contracts (tests/test_architecture.py)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import sys
import trainer, trainer.cli, trainer.training.loop, trainer.data, trainer.analysis.metrics, \
trainer.checkpoints.hdf5, trainer.model.vae
import trainer.analysis.snapshots, trainer.analysis.geometry, trainer.analysis.diagnostics, trainer.training.resume
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'explorer', 'shiboken6'))
print(','.join(bad))
"""


def test_trainer_imports_no_qt_in_a_fresh_process():
    # a subprocess, because pytest-qt has already loaded PySide6 into this one
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"trainer pulled in: {out.stdout.strip()}"


LAUNCH_PROBE = """
import sys
from explorer.launch import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # argparse's --help
    code = exc.code
bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))
print('code', code, 'qt', ','.join(bad))
"""


def test_every_cli_command_runs_headless_through_the_app_entry_point(tmp_path):
    """`vae-explorer COMMAND` for every CLI command reaches the CLI, never the window (sweep once opened it)."""
    from trainer.cli import COMMANDS

    for command in COMMANDS:
        out = subprocess.run([sys.executable, "-c", LAUNCH_PROBE, command, "--help"], cwd=REPO, capture_output=True,
                             text=True)
        assert out.returncode == 0, (command, out.stderr)
        assert "usage: vae-explorer " + command in out.stdout and out.stdout.strip().endswith("code 0 qt"), command
