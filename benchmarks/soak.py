"""Soak test: train with the whole window open for a long time; memory must stay flat and the plots bounded.

    python benchmarks/soak.py --json                     # 10 minutes
    python benchmarks/soak.py --minutes 0.5 --json       # a CI-sized run

--minutes is the least it runs: at its end the soak also waits until the warm-up has passed since the first
progress report (growth is measured from there: a busy machine that starts training late does not count its
start-up as growth) and, when saving, for a finished save with none in flight, so a busy machine gives a longer
run, not an empty one.

The real main window (curves, latent panels, status bar: everything refreshing live) trains on sprites at full
speed on the CPU. Every few seconds the resident memory (RSS) is sampled; every `--save-every` seconds the run
is saved through File > Save's code path (copy between steps, write in the I/O thread), so the save path soaks
too. After a warm-up (allocator pools, torch and Qt caches, the first latent encodings filling up) memory must
stop growing: the report gives the growth from the end of the warm-up to the end, against a goal of 50 MB.

It also reports how many points each plot holds at the end. The engine keeps every report in its history (that
is what a checkpoint saves), but the widgets must not: the curves live in a decimating buffer, so a run of any
length draws at most a few thousand points per curve.

Settings and autosaves go to a temporary folder: a soak never touches the user's own settings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
if "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
SCRATCH = tempfile.mkdtemp(prefix="vae-explorer-soak-")
os.environ["XDG_DATA_HOME"] = os.path.join(SCRATCH, "data")  # autosaves

import explorer.qt_compat  # noqa: E402,F401
from PySide6.QtCore import QObject, QTimer, Slot  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from explorer.files.settings_store import use_settings_folder  # noqa: E402

GOAL_MB = 50.0
SAMPLE_S = 5.0


def rss_mb() -> float:
    """Resident memory now (not the peak), from /proc; the peak where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plot_points(window) -> dict[str, int]:
    """The most points any one data item of each plot holds now (curves: the stored, decimated rows)."""
    import pyqtgraph as pg

    counts: dict[str, int] = {}
    for key in ("distortion", "rate", "nelbo", "beta"):
        counts[f"Curves: {key}"] = len(window.curves.curve(key)[0])
    counts["Curves: held-out dots"] = len(window.curves.heldout("nelbo")[0])
    explore = getattr(window, "explore", None)
    panels = [(title, panel) for title, panel, _ in explore.docks()] if explore is not None else []
    for title, panel in panels:
        widgets = ([panel] if isinstance(panel, pg.PlotWidget) else []) + panel.findChildren(pg.PlotWidget)
        for widget in widgets:
            most = 0
            for item in widget.getPlotItem().items:
                if isinstance(item, pg.PlotDataItem):
                    most = max(most, 0 if item.xData is None else len(item.xData))
                elif isinstance(item, pg.ScatterPlotItem):
                    most = max(most, len(item.data))
            counts[title] = max(counts.get(title, 0), most)
    return counts


class Soak(QObject):
    def __init__(self, window, seconds: float, warmup_s: float, save_every_s: float, out_dir: str):
        super().__init__(window)
        self.window = window
        self.seconds, self.warmup_s, self.save_every_s = seconds, warmup_s, save_every_s
        self.out_dir = out_dir
        self.samples: list[tuple[float, float, int]] = []  # (seconds since start, RSS MB, step)
        self.saves = 0
        self.saved_ok = 0
        self.step = 0  # the newest report's, as the window's signal gave it
        self.saves_done = 0  # finished saves, ok or not
        self.due = False  # the run's time is up: it ends once it has something to report (_finish_when_ready)
        self.first_report_s: float | None = None  # when training first reported, seconds since begin()
        window.session.worker.sig_progress.connect(self._on_progress)
        window.files.sig_io_done.connect(self._on_io_done)
        self.t0 = 0.0
        self._sample_timer = QTimer(self, interval=int(SAMPLE_S * 1000))
        self._sample_timer.timeout.connect(self._on_sample)
        self._save_timer = QTimer(self, interval=max(int(save_every_s * 1000), 1000))
        self._save_timer.timeout.connect(self._on_save)
        self._end_timer = QTimer(self, singleShot=True, interval=int(seconds * 1000))
        self._end_timer.timeout.connect(self._on_due)

    def begin(self) -> None:
        self.t0 = time.perf_counter()
        self.window.start_training()
        self._on_sample()
        self._sample_timer.start()
        if self.save_every_s > 0:
            # the first save half a period in: saves fall between the RSS samples the result is read from
            # (one in flight at the end holds a copy of the model, which is not growth)
            QTimer.singleShot(self._save_timer.interval() // 2, self._save_timer.start)
        self._end_timer.start()

    @Slot(object)
    def _on_progress(self, batch) -> None:
        self.step = int(batch.latest.step)
        if self.first_report_s is None:
            self.first_report_s = time.perf_counter() - self.t0
        self._finish_when_ready()

    def _on_sample(self) -> None:
        self.samples.append((time.perf_counter() - self.t0, rss_mb(), self.step))

    def _on_save(self) -> None:
        if self.due and self.saves_done >= 1:
            return  # past the end, no new save: the soak waits only for the one in flight
        if self.window.files.save(str(Path(self.out_dir) / "soak.h5")) is not None:
            self.saves += 1

    def _on_due(self) -> None:
        self.due = True
        self._finish_when_ready()

    def _finish_when_ready(self) -> None:
        """End once the time is up, a sampling period has passed since the warm-up's end (counted from the first
        report), and (when saving) a save has finished and none is in flight: a busy machine makes a short soak
        longer, never empty."""
        saves_settled = self.save_every_s <= 0 or (self.saves_done >= 1 and self.saves_done == self.saves)
        warm = self.first_report_s is not None and (
            time.perf_counter() - self.t0 >= self.first_report_s + self.warmup_s + SAMPLE_S)
        if self.due and warm and saves_settled and self._sample_timer.isActive():
            self._end()

    def _end(self) -> None:
        self._sample_timer.stop()
        self._save_timer.stop()
        self._on_sample()
        self.points = plot_points(self.window)
        trainer = self.window.session.worker.trainer
        self.history_rows = len(trainer.history.column("steps", "step")) if trainer is not None else 0
        self.epochs = trainer.epoch if trainer is not None else 0
        self.window.close()
        QApplication.instance().quit()

    @Slot(object)
    def _on_io_done(self, result) -> None:
        if result.job.reason == "save":
            self.saved_ok += result.ok
            self.saves_done += 1
            self._finish_when_ready()

    def result(self) -> dict:
        def around(t: float) -> float:  # median of the samples within three sampling periods of t: no single spike
            near = [mb for s, mb, _ in self.samples if abs(s - t) <= SAMPLE_S * 3.01]
            return statistics.median(near) if near else float("nan")

        end_t = self.samples[-1][0]
        warm = around(self.first_report_s + self.warmup_s)
        final = around(end_t)
        saves_ok = self.saved_ok
        curve_max = max(v for k, v in self.points.items() if k.startswith("Curves: ") and "held-out" not in k)
        return {
            "minutes": round(end_t / 60, 2),
            "steps": self.samples[-1][2],
            "epochs": self.epochs,
            "rss_start_mb": round(self.samples[0][1], 1),
            "rss_after_warmup_mb": round(warm, 1),
            "rss_end_mb": round(final, 1),
            "rss_max_mb": round(max(mb for _, mb, _ in self.samples), 1),
            "warmup_s": self.warmup_s,
            "first_report_s": round(self.first_report_s, 1),
            "rss_growth_after_warmup_mb": round(final - warm, 1),
            "goal_growth_mb": GOAL_MB,
            "growth_ok": bool(final - warm <= GOAL_MB),
            "saves": f"{saves_ok}/{self.saves}",
            "engine_history_rows": self.history_rows,
            "max_points_per_curve": curve_max,
            "curve_stride": self.window.curves._buffer.stride,
            "plot_points": self.points,
            "rss_samples": [[round(s, 1), round(mb, 1), step] for s, mb, step in self.samples],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to train (default 10)")
    parser.add_argument("--warmup-minutes", type=float, default=None,
                        help="growth is measured from here (default: 20%% of the run, 30 s to 2 min)")
    parser.add_argument("--save-every", type=float, default=60.0, metavar="S",
                        help="save the run every S seconds (0: never)")
    parser.add_argument("--sprites-n", type=int, default=5000, help="training data: sprites of 28x28 (default 5000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    seconds = args.minutes * 60
    warmup = args.warmup_minutes * 60 if args.warmup_minutes is not None else min(max(0.2 * seconds, 30.0), 120.0)
    warmup = min(warmup, 0.5 * seconds)

    use_settings_folder(os.path.join(SCRATCH, "config"))
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from explorer.window.main_window import MainWindow

    window = MainWindow()
    window.run_settings.set(window.run_settings.value.replace(
        dataset="sprites", sprites_n=args.sprites_n, sprites_size=28, batch_size=64, latent_dim=8, epochs=1_000_000,
        device="cpu"))
    window.resize(1440, 900)
    window.show()
    soak = Soak(window, seconds, warmup, args.save_every, SCRATCH)
    QTimer.singleShot(500, soak.begin)
    app.exec()
    result = soak.result()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key not in ("rss_samples", "plot_points"):
                print(f"{key:>28}: {value}")
        print(f"{'plot_points':>28}: {result['plot_points']}")
    return 0 if result["growth_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
