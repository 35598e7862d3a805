"""GUI responsiveness while training: a 5 ms heartbeat on the GUI thread, and what the window costs in throughput.

    python benchmarks/gui_responsiveness.py [--seconds 20] [--data-dir ../shared/datasets/mnist] [--json]

The real main window trains the reference MLP VAE (784-400-20, Bernoulli, Adam 1e-3, batch 128) on the CPU at
full speed for about `--seconds`, plotting live, while a 5 ms QTimer on the GUI thread records when it fires:
the largest gap between beats and the 99th percentile of the gaps say how long the GUI was ever unresponsive.
The heartbeat starts when Start is pressed (after the window's launch-time torch probe, as a user would wait
for), so the start-up burst counts.

The same config trains headlessly (a plain Trainer in this process, same data, same torch thread count) in
slices that alternate with the window's (its trainer paused meanwhile), so load from other processes hits
both alike: gui_vs_headless_throughput is the window's cost. Throughput is examples per second of training
time (Trainer.elapsed_s, which excludes held-out evaluation), measured the same way for both. The headless
warm-up runs before the window trains, so it never blocks the GUI thread.

largest_gaps says when the five worst gaps happened (slice, ms into it) and what filled each, from Linux's
accounting: the GUI thread's own CPU time (gui_cpu_ms: our code), its time runnable but without a core
(run_queue_ms), CPU time the hypervisor took from the whole virtual machine (steal_ms, summed over cores:
nothing in this process can run then) and garbage collection in any thread (gc_ms). What is left of a gap
was spent asleep: waiting for the GIL, or for a timer the host delivered late. stolen_cpu_share is the
machine's stolen share over all the window's slices: on a shared host it can reach 0.3-0.5, and then every
timing here is the host's as much as ours. heartbeat_max_gap_unstolen_ms is the largest gap during which the
machine's steal counter did not move (it counts in ticks of 10 ms over all cores, so "none" means less than one
tick): the worst stall the host had no measured part in.

MNIST is read from ../shared/datasets/mnist when present, else sprites are generated (28x28, so the same
784-400-20 model applies); the JSON says which. launch_to_shown_s is the median wall time from starting
`python main.py` to the window's first painted frame.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
if "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, Qt, QTimer, Slot  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from benchmarks.report import emit  # noqa: E402
from explorer.window.main_window import MainWindow  # noqa: E402
from explorer.models.run_settings import RunSettings  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "mnist"
HEARTBEAT_MS = 5


def reference_settings(data_dir: Path) -> RunSettings:
    base = RunSettings(latent_dim=20, hidden=(400,), batch_size=128, lr=1e-3, epochs=100_000, device="cpu")
    if (data_dir / "t10k-images-idx3-ubyte.gz").exists() or (data_dir / "train-images-idx3-ubyte.gz").exists():
        return base.replace(dataset="mnist", data_dir=str(data_dir))
    return base.replace(dataset="sprites", sprites_n=10_000, sprites_size=28)


class HeadlessRun:
    """The same config trained by a plain Trainer on this thread, in slices between the window's slices."""

    def __init__(self, dataset, settings: RunSettings, threads: int):
        from trainer.model.vae import model_config_for
        from trainer.training.loop import Trainer

        self.threads = threads  # torch keeps its thread count per thread: match the window's worker
        self.trainer = Trainer(model_config_for(dataset, **settings.model_kwargs()), settings.train_config(), dataset)
        self.batch_size = settings.batch_size
        self.steps = 0
        self.seconds = 0.0

    def run_for(self, seconds: float) -> None:
        import torch

        from trainer.training.reports import StepReport

        own_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        first = last = None
        deadline = time.perf_counter() + seconds
        for report in self.trainer.run():
            if isinstance(report, StepReport):
                first = first or report
                last = report
                if time.perf_counter() > deadline:
                    self.trainer.stop()
        torch.set_num_threads(own_threads)
        if first is not None and last is not first:
            self.steps += last.step - first.step
            self.seconds += last.elapsed_s - first.elapsed_s

    @property
    def samples_per_s(self) -> float:
        return self.steps * self.batch_size / max(self.seconds, 1e-9)


class GuiRun(QObject):
    """Trains in the window while a 5 ms heartbeat runs; pauses it for the headless slices in between."""

    def __init__(self, window: MainWindow):
        super().__init__()
        self.window = window
        self.segments: list[list[float]] = []  # heartbeat times (ms) per slice; gaps never span a pause
        self.first = self.last = None
        self.batches = 0
        self.loop = QEventLoop()
        self._clock = QElapsedTimer()
        self._clock.start()
        # beat ms -> (GUI thread's on-CPU ms, its run-queue ms, steal ms)
        self.sched: dict[float, tuple[float, float, float]] = {}
        self.collections: list[tuple[float, float]] = []  # (start ms, end ms) of every garbage collection
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)
        self._heartbeat = QTimer(self, interval=HEARTBEAT_MS)
        self._heartbeat.setTimerType(Qt.PreciseTimer)
        self._heartbeat.timeout.connect(self._on_beat)
        self._slice_end = QTimer(self, singleShot=True)
        self._slice_end.timeout.connect(self._on_slice_end)
        self.threads = 0
        window.session.worker.sig_started.connect(self._on_started)
        window.session.worker.sig_progress.connect(self._on_progress)
        window.session.worker.sig_failed.connect(self._on_failed)

    def settle(self, timeout_s: float = 60) -> None:
        """Wait, as a user looks at the new window, until its background probe has loaded torch."""
        self.window.session.worker.sig_devices.connect(self.loop.quit)
        self._slice_end.start(int(timeout_s * 1000))
        self.loop.exec()
        self._slice_end.stop()

    def start(self, timeout_s: float = 120) -> bool:
        """Press Start with the heartbeat running; return once the first report arrived (data loaded, model
        built). The heartbeat goes on into the first slice, so the start-up is measured as a user meets it."""
        self.segments.append([])
        self._heartbeat.start()
        self.window.start_training()
        self._slice_end.start(int(timeout_s * 1000))
        self.loop.exec()
        return self.first is not None

    def run_slice(self, seconds: float) -> None:
        if self.window.session.worker.trainer.paused:
            self.window.session.resume()
        if not self._heartbeat.isActive():
            self.segments.append([])
            self._heartbeat.start()
        self._slice_end.start(int(seconds * 1000))
        self.loop.exec()
        self._heartbeat.stop()

    def pause(self) -> None:
        self.window.session.pause()
        end = time.perf_counter() + 0.3  # let the step in flight and its signals land
        while time.perf_counter() < end:
            QApplication.processEvents()
            time.sleep(0.01)

    @Slot(object)
    def _on_started(self, info) -> None:
        self.threads = info.threads

    @Slot(object)
    def _on_progress(self, batch) -> None:
        if self.first is None:
            self.first = batch.latest
            self._slice_end.stop()
            self.loop.quit()
        self.last = batch.latest
        self.batches += 1

    def _on_gc(self, phase: str, _info: dict) -> None:
        now = self._clock.nsecsElapsed() / 1e6
        if phase == "start":
            self._gc_started = now
        else:
            self.collections.append((self._gc_started, now))

    def sched_within(self, start: float, end: float) -> tuple[float, float, float]:
        """Between the beats at start and end: the GUI thread's on-CPU ms and run-queue ms, and the machine's
        stolen ms."""
        return tuple(float(x) for x in np.subtract(self.sched[end], self.sched[start]))

    def stolen_share(self, cores: int) -> float:
        """The share of the machine's CPU time the hypervisor took while the window trained."""
        stolen = elapsed = 0.0
        for seg in self.segments:
            if len(seg) > 1:
                stolen += self.sched_within(seg[0], seg[-1])[2]
                elapsed += seg[-1] - seg[0]
        return stolen / max(cores * elapsed, 1e-9)

    def unstolen_gaps(self) -> np.ndarray:
        """Gaps (ms) between beats during which the machine's steal counter did not move: stalls that are this
        process's own (or the guest kernel's), whatever the host did elsewhere in the run."""
        return np.array([b - a for seg in self.segments for a, b in zip(seg, seg[1:])
                         if self.sched[b][2] == self.sched[a][2]])

    def gc_ms_within(self, start: float, end: float) -> float:
        """Milliseconds of garbage collection (in any thread: it holds the GIL) overlapping [start, end]."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.collections)

    def _on_beat(self) -> None:
        now = self._clock.nsecsElapsed() / 1e6
        self.segments[-1].append(now)
        self.sched[now] = (*gui_thread_sched(), machine_steal_ms())  # the hot path: a plain tuple

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        print(f"gui_responsiveness: worker failed: {message}", file=sys.stderr)
        self.loop.quit()

    def _on_slice_end(self) -> None:
        self.loop.quit()


class _ProcFile:
    """A /proc file kept open and re-read in place: 5 us a beat instead of 28 us to open and read it anew,
    GUI-thread time the heartbeat would otherwise add to what it measures."""

    def __init__(self, path: str):
        try:
            self._fd = os.open(path, os.O_RDONLY) if hasattr(os, "pread") else None
        except OSError:
            self._fd = None

    def first_line(self) -> list[bytes]:
        """The first line's fields; none where the file is missing."""
        return os.pread(self._fd, 512, 0).split(b"\n", 1)[0].split() if self._fd is not None else []


_SCHEDSTAT = _ProcFile(f"/proc/self/task/{threading.get_native_id()}/schedstat")
_PROC_STAT = _ProcFile("/proc/stat")


def gui_thread_sched() -> tuple[float, float]:
    """(ms on a CPU, ms runnable but waiting for one) of this thread so far; zeros where Linux's schedstat is
    missing. What a gap holds besides these two is time the thread slept: waiting for the GIL or a lock."""
    try:
        on_cpu, waiting, _ = _SCHEDSTAT.first_line()
    except ValueError:
        return 0.0, 0.0
    return int(on_cpu) / 1e6, int(waiting) / 1e6


_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 10.0


def machine_steal_ms() -> float:
    """CPU milliseconds (summed over cores) the hypervisor has taken from this virtual machine so far: time its
    processes could not run at all. Zero where /proc/stat is missing."""
    try:
        return int(_PROC_STAT.first_line()[8]) * _TICK_MS
    except (ValueError, IndexError):
        return 0.0


def launch_to_shown(runs: int = 3) -> float:
    """Median wall seconds from `python main.py` to the window's first painted frame."""
    times = []
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "main.py", "--quit-after-shown"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=60)
        if "shown" not in out.stdout:
            raise RuntimeError(f"main.py --quit-after-shown failed: {out.stderr}")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gap_report(gui: GuiRun, slice_index: int, start: float, end: float) -> dict:
    """One stall and what filled it: the GUI thread's own work (gui_cpu_ms), its wait for a free core
    (run_queue_ms), the rest asleep (the GIL, a lock, a late timer); steal_ms is CPU time the hypervisor took
    from the whole machine meanwhile, gc_ms garbage collection in any thread."""
    cpu, run_queue, steal = gui.sched_within(start, end)
    return {"slice": slice_index, "at_ms": round(start - gui.segments[slice_index][0]),
            "gap_ms": round(end - start, 1), "gui_cpu_ms": round(cpu, 1), "run_queue_ms": round(run_queue, 1),
            "steal_ms": round(steal), "gc_ms": round(gui.gc_ms_within(start, end), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds the window trains while measured")
    parser.add_argument("--slices", type=int, default=4, help="window and headless runs alternate this many times")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    launch_s = launch_to_shown()
    settings = reference_settings(args.data_dir)
    from trainer.data import load_dataset

    import torch

    # The headless warm-up (first-step allocations) comes before the window trains: done later, it would
    # block the GUI thread for seconds while the worker's reports queue up behind it.
    dataset = load_dataset(settings.dataset_spec())
    headless = HeadlessRun(dataset, settings, torch.get_num_threads())  # a new thread's default, as the worker's
    headless.run_for(2.0)
    headless.steps, headless.seconds = 0, 0.0
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = MainWindow()
    window.run_settings.set(settings)
    window.resize(1280, 800)
    window.show()
    gui = GuiRun(window)
    gui.settle()
    if not gui.start():
        print("gui_responsiveness: the window never started training", file=sys.stderr)
        return 1
    if gui.threads != headless.threads:
        print(f"gui_responsiveness: the worker trains with {gui.threads} threads, headless with "
              f"{headless.threads}", file=sys.stderr)
        return 1
    # slices alternate, so drift in machine load (other processes) hits both sides alike
    slice_s = args.seconds / args.slices
    for _ in range(args.slices):
        gui.run_slice(slice_s)
        gui.pause()
        headless.run_for(slice_s)
    window.close()
    app.processEvents()

    gaps = np.concatenate([np.diff(np.asarray(seg)) for seg in gui.segments if len(seg) > 1])
    unstolen = gui.unstolen_gaps()
    # where the worst stalls happened: (slice, ms into the window's training time, gap ms)
    worst = sorted(((i, seg[k], seg[k + 1]) for i, seg in enumerate(gui.segments) for k in range(len(seg) - 1)),
                   key=lambda g: g[1] - g[2])[:5]  # (slice, beat before, beat after), largest gap first
    gui_rate = ((gui.last.step - gui.first.step) * settings.batch_size
                / max(gui.last.elapsed_s - gui.first.elapsed_s, 1e-9))
    beat_s = sum(seg[-1] - seg[0] for seg in gui.segments if seg) / 1000
    result = {
        "dataset": dataset.describe(),
        "device": "cpu",
        "torch_threads": gui.threads,
        "window_seconds": round(beat_s, 2),
        "heartbeat_interval_ms": HEARTBEAT_MS,
        "heartbeats": int(len(gaps) + len(gui.segments)),
        "heartbeat_max_gap_ms": round(float(gaps.max()), 2),
        "heartbeat_p99_ms": round(float(np.percentile(gaps, 99)), 2),
        "heartbeat_p50_ms": round(float(np.percentile(gaps, 50)), 2),
        "largest_gaps": [gap_report(gui, i, a, b) for i, a, b in worst],
        "gaps_over_50ms": int((gaps > 50).sum()),
        "stolen_cpu_share": round(gui.stolen_share(os.cpu_count() or 1), 3),
        "heartbeat_max_gap_unstolen_ms": round(float(unstolen.max()), 2) if len(unstolen) else None,
        "gaps_over_50ms_unstolen": int((unstolen > 50).sum()),
        "gui_samples_per_s": round(gui_rate, 1),
        "headless_samples_per_s": round(headless.samples_per_s, 1),
        "gui_vs_headless_throughput": round(gui_rate / headless.samples_per_s, 3),
        "progress_signals_per_s": round(gui.batches / max(beat_s, 1e-9), 1),
        "curve_points": int(len(window.curves.curve("distortion")[0])),
        "launch_to_shown_s": round(launch_s, 2),
        # other processes' load makes every number above noisier: 1-minute load average, before and after
        "load_average_1min": [round(load_before, 2) if load_before is not None else None,
                              round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None],
        "cpu_cores": os.cpu_count(),
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
