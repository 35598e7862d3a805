"""How the program starts: headless commands load no Qt, the window shows fast, screenshots work.

Each check runs `main.py` in a subprocess: pytest-qt has already loaded PySide6 into this one.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_python(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def run_code(code: str) -> tuple[object, str]:
    """Run Python code in a fresh interpreter; (its last stdout line read as JSON, all of stdout)."""
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout


def test_headless_commands_load_no_qt():
    code = (
        "import json, sys\n"
        "from explorer.launch import main\n"
        "for argv in (['info', '--help'], ['train', '--help'], ['--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))))\n"
    )
    qt_modules, stdout = run_code(code)
    assert qt_modules == []
    assert "usage: vae-explorer" in stdout


def test_window_shows_without_loading_torch():
    # how long that takes is benchmarks/gui_responsiveness.py's launch_to_shown_s, not a timed test
    result = run_python("main.py", "--quit-after-shown", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "shown torch_loaded=False" in result.stdout


def test_device_probe_leaves_nothing_for_the_first_optimizer_to_import():
    # torch's first optimizer imports torch._dynamo and sympy (seconds, holding the GIL in long bursts); the
    # launch-time probe pays for that, so pressing Start does not freeze the window
    code = (
        "import json, sys\n"
        "from explorer.runtime.worker import TrainWorker\n"
        "TrainWorker().probe_devices()\n"
        "before = set(sys.modules)\n"
        "import torch\n"
        "torch.optim.Adam(torch.nn.Linear(3, 3).parameters())\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    assert run_code(code)[0] == []


def test_screenshot_trains_then_renders_the_window(tmp_path):
    out = tmp_path / "window.png"
    result = run_python("main.py", "--screenshot", str(out), "--train-steps", "40",
                        "--set", "sprites_n=600", "--set", "sprites_size=28", timeout=240)
    assert result.returncode == 0, result.stderr
    header = out.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert width >= 1280 and height >= 800
