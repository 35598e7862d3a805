"""`python main.py ARGS` run in this test process: what the CLI tests need of a subprocess, without loading torch
again for every command (2.6 s each on the 2-core machine).

    proc = run_main(["train", "--dataset", "sprites", ...])   # subprocess.CompletedProcess: returncode, stdout, stderr

It calls explorer.launch.main, exactly what main.py runs, from the repository root (relative paths resolve as in
a subprocess there). stderr is caught at file-descriptor level as well as sys.stderr, so C-level output (HDF5's
error stack) counts against the one-line error rule as it would in a real process, and Python warnings are
shown under a fresh interpreter's filters (DeprecationWarning and the like hidden) and added to stderr.
Tests that need a process of their own (signals, a kill, "imports no Qt") still start one.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def _in_repo():
    """contextlib.chdir(REPO), which Python 3.10 lacks."""
    before = os.getcwd()
    os.chdir(REPO)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _fresh_warnings():
    """Record warnings as a new interpreter would show them: each once per place, deprecations hidden."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.filterwarnings("ignore", category=category)
        yield caught


def _exit_code(exc: SystemExit) -> int:
    """What the interpreter exits with for sys.exit(code); a message (printed to stderr by it) is status 1."""
    if exc.code is None or isinstance(exc.code, int):
        return exc.code or 0
    print(exc.code, file=sys.stderr)
    return 1


def run_main(argv: list[str]) -> subprocess.CompletedProcess:
    from explorer.launch import main

    argv = [str(a) for a in argv]
    stdout = io.StringIO()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err, _in_repo():
        sys.stdout.flush()
        sys.stderr.flush()
        saved_fd = os.dup(2)
        os.dup2(err.fileno(), 2)
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err), _fresh_warnings() as caught:
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse's usage errors
                    code = _exit_code(exc)
                for w in caught:
                    err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
        finally:
            err.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        err.seek(0)
        return subprocess.CompletedProcess(["main.py", *argv], code, stdout.getvalue(), err.read())


def run_script(path: Path, *args) -> subprocess.CompletedProcess:
    """`python PATH ARGS` in this process (runpy, as __main__): for a benchmark whose cost is mostly what a fresh
    process pays once (umap-learn's numba kernels compile on first use, ~25 s), already paid here by earlier tests."""
    import runpy

    argv = [str(path), *map(str, args)]
    stdout = io.StringIO()
    saved_argv = sys.argv
    with _in_repo(), contextlib.redirect_stdout(stdout):
        sys.argv = argv
        try:
            runpy.run_path(str(path), run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc)
        finally:
            sys.argv = saved_argv
    return subprocess.CompletedProcess(argv, code, stdout.getvalue(), "")
