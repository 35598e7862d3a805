"""GUI responsiveness while the window trains a β-sweep: the 5 ms heartbeat of gui_responsiveness.py, during a sweep.

    python benchmarks/sweep_responsiveness.py [--seconds 20] [--runs 5] [--data-dir ../shared/datasets/mnist] [--json]

The real main window runs Training ▸ β sweep… on the reference MLP (784-400-20, Bernoulli, Adam 1e-3, batch
128) with `--runs` values of β, while a 5 ms QTimer on the GUI thread records when it fires. The runs stream
into the Runs panel, the curves' overlays and the rate–distortion plane as they train. The sweep is stopped
and started again in slices (it resumes from its checkpoints, as a user's would) that alternate with the same
sweep trained headlessly by trainer.training.sweep.run_sweep in this process, into another folder, so load from other
processes hits both alike: gui_vs_headless_throughput is what the window costs the sweep. Goals as for a single
run: max gap <= 50 ms, p99 <= 20 ms, ratio >= 0.85.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the same window set-up, reference config and heartbeat period as the single-run benchmark
from gui_responsiveness import DEFAULT_DATA, HEARTBEAT_MS, reference_settings  # noqa: E402
from report import emit  # noqa: E402

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from explorer.files.settings_store import use_settings_folder  # noqa: E402
from explorer.window.main_window import MainWindow  # noqa: E402
from explorer.runtime.sweep_job import SweepRequest  # noqa: E402


def wait(app: QApplication, seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def wait_until(app: QApplication, done, seconds: float = 600) -> None:
    """Process events until done() holds (a condition, not a clock: a busy machine only makes it later), or a
    generous deadline passes."""
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        app.processEvents(QEventLoop.AllEvents, 50)


def window_slice(app, window: MainWindow, request: SweepRequest, seconds: float, beats: list) -> float:
    """Run the window's sweep for `seconds`, and on until every run has trained a step, with the heartbeat on; its
    training samples per second."""
    finished, trained = [], set()
    worker = window.compare.sweep.worker
    window.compare.sig_sweep_finished.connect(finished.append)

    def progressed(items) -> None:
        trained.update(p.name for p in items if len(p.step))

    worker.sig_progress.connect(progressed)
    heartbeat = QTimer(interval=HEARTBEAT_MS)
    heartbeat.timeout.connect(lambda: beats[-1].append(time.perf_counter()))
    beats.append([time.perf_counter()])
    heartbeat.start()
    assert window.compare.start_sweep(request)
    wait(app, seconds)
    wait_until(app, lambda: len(trained) >= len(request.betas) or bool(finished))
    window.compare.sweep.stop()
    wait_until(app, lambda: bool(finished))
    heartbeat.stop()
    worker.sig_progress.disconnect(progressed)
    window.compare.sig_sweep_finished.disconnect(finished.append)
    if not finished or finished[0].error:
        raise RuntimeError(f"the window's sweep failed: {finished[0].error if finished else 'no answer'}")
    return finished[0].samples_per_s


def headless_slice(request: SweepRequest, folder: Path, seconds: float) -> float:
    """The same sweep headless for `seconds`, and on until every run has trained a step."""
    from trainer.data import load_dataset
    from trainer.model.vae import model_config_for
    from trainer.training.reports import StepReport
    from trainer.training.sweep import Sweep, plan_runs, run_sweep

    s = request.settings
    dataset = load_dataset(s.dataset_spec())
    runs = plan_runs(s.train_config(), betas=list(request.betas), seeds=list(request.seeds))
    folder.mkdir(parents=True, exist_ok=True)
    sweep = Sweep(model_config_for(dataset, **s.model_kwargs()), runs, dataset, folder)
    t_end = time.monotonic() + seconds
    trained: set[str] = set()

    def on_report(name: str, report) -> None:
        if isinstance(report, StepReport):
            trained.add(name)

    return run_sweep(sweep, on_report=on_report,
                     should_stop=lambda: time.monotonic() >= t_end and len(trained) >= len(runs)).samples_per_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds the window's sweep trains, in all")
    parser.add_argument("--slices", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="vae-explorer-sweep-bench-"))
    use_settings_folder(scratch / "settings")
    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1440, 900)
    probed = []
    window.session.worker.sig_devices.connect(probed.append)
    window.show()
    wait_until(app, lambda: bool(probed), 120)  # the launch-time torch probe, as a user would wait for
    wait(app, 0.5)
    settings = reference_settings(args.data_dir)
    betas = tuple(0.1 * 3 ** k for k in range(args.runs))
    request = SweepRequest(settings, betas, (0,), str(scratch / "window"))
    beats: list[list[float]] = []
    gui, headless = [], []
    per_slice = args.seconds / args.slices
    try:
        for _ in range(args.slices):
            gui.append(window_slice(app, window, request, per_slice, beats))
            headless.append(headless_slice(request, scratch / "headless", per_slice))
        # the last slice's runs are read back from their folder in the background: wait for the panel to list them
        wait_until(app, lambda: len(window.compare.catalog.compared()) >= args.runs, 120)
        runs_in_panel = len(window.compare.catalog.compared())
    finally:
        window.close()  # joins the window's threads, the sweep's included
    gaps = np.concatenate([np.diff(b) * 1000 for b in beats if len(b) > 1])
    worst = sorted(((float(g), i, round(1000 * (b[j] - b[0]))) for i, b in enumerate(beats)
                    for j, g in enumerate(np.diff(b) * 1000)), reverse=True)[:5]
    result = {
        "benchmark": "sweep_responsiveness",
        "data": settings.dataset,
        "runs": args.runs,
        "window_seconds": round(args.seconds, 1),
        "heartbeats": int(len(gaps)),
        "heartbeat_max_gap_ms": round(float(gaps.max()), 2),
        "heartbeat_p99_ms": round(float(np.percentile(gaps, 99)), 2),
        "gaps_over_50ms": int((gaps > 50).sum()),
        "gui_sweep_samples_per_s": [round(v, 1) for v in gui],
        "headless_sweep_samples_per_s": [round(v, 1) for v in headless],
        "gui_vs_headless_throughput": round(statistics.median(gui) / statistics.median(headless), 3),
        "runs_in_panel": runs_in_panel,
        "largest_gaps": [{"gap_ms": round(g, 1), "slice": i, "at_ms": at, "slice_ms": round(1000 * per_slice)}
                         for g, i, at in worst],
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
