"""The first minute: how soon a new run's decodings are recognisable after Start, in the window, on this machine.

    python benchmarks/first_minute.py [--seconds 20] [--goal-s 15] [--png out.png] [--demo-settings] [--json]

The real window, offscreen, with the settings a new run starts from here (explorer.models.run_settings.
new_run_settings: on a CPU 28 px sprites and an MLP), or with --demo-settings the demo's (64 px, conv: what
Reset used to leave). Start is pressed; every 250 ms the benchmark reads the decoder and the held-out encodings
the window shows (the same snapshots its panels draw) and scores the reconstructions of 32 held-out sprites as
R² = 1 − Σ(x − x̂)² / Σ(x − x̄)² over their pixels. "Recognisable" is R² ≥ 0.5: half the pixel variance of the
images reproduced, the point where a sprite's shape and place can be told (--png writes the inputs over their
decodings at --goal-s to look at). Prints seconds from Start to the first decoding, to R² ≥ 0.5, the R² at
--goal-s and the steps trained by then. Goal: recognisable within 15 s of Start on a CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import explorer.qt_compat  # noqa: E402,F401
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from benchmarks.report import emit  # noqa: E402

RECOGNISABLE_R2 = 0.5
EXAMPLES = 32
POLL_MS = 250


def r_squared(x: np.ndarray, recon: np.ndarray) -> float:
    x, recon = x.reshape(len(x), -1).astype(np.float64), recon.reshape(len(recon), -1).astype(np.float64)
    total = ((x - x.mean()) ** 2).sum()
    return float(1.0 - ((x - recon) ** 2).sum() / total) if total > 0 else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="how long to watch after Start")
    p.add_argument("--goal-s", type=float, default=15.0)
    p.add_argument("--png", default="")
    p.add_argument("--demo-settings", action="store_true", help="the demo's 64 px conv settings instead")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    import tempfile

    from explorer.files.settings_store import use_settings_folder

    use_settings_folder(tempfile.mkdtemp(prefix="vae-explorer-first-minute-"))  # never the user's settings
    app = QApplication.instance() or QApplication(sys.argv)
    from explorer.models.run_settings import new_run_settings
    from explorer.window.main_window import MainWindow
    from trainer.pixels import to_float01

    win = MainWindow()
    settings = new_run_settings(False)
    if args.demo_settings:
        settings = settings.replace(sprites_size=64, arch="conv")
    win.run_settings.set(settings)
    win.show()
    seen: dict = {"first_decoding_s": None, "recognisable_s": None, "r2_at_goal": None, "steps_at_goal": None,
                  "r2": []}
    t0 = time.perf_counter()

    def score():
        decoder, latents = win.explore.decoder, win.explore.latents
        if decoder is None or latents is None or decoder.latent_dim != latents.latent_dim:
            return None, None, None
        n = min(EXAMPLES, len(latents))
        x = to_float01(np.asarray(latents.x[:n]))
        y = None if latents.labels is None or not getattr(decoder.config, "conditional", False) else latents.labels[:n]
        recon = np.asarray(decoder.decode(latents.mu[:n], y))
        return r_squared(x, recon), x, recon

    def poll():
        elapsed = time.perf_counter() - t0
        r2, x, recon = score()
        if r2 is not None:
            if seen["first_decoding_s"] is None:
                seen["first_decoding_s"] = elapsed
            seen["r2"].append((round(elapsed, 2), round(r2, 3)))
            if r2 >= RECOGNISABLE_R2 and seen["recognisable_s"] is None:
                seen["recognisable_s"] = elapsed
        if elapsed >= args.goal_s and seen["steps_at_goal"] is None:
            report = win.status.step_label.text()
            seen["steps_at_goal"] = report
            seen["r2_at_goal"] = r2
            if args.png and x is not None:
                from explorer.plotting.image_grid import tile, to_qimage

                both = np.concatenate([x[:16], recon[:16]])
                to_qimage(tile(both, ncols=16, pad=1, pad_value=255)).scaled(
                    16 * 4 * (x.shape[-1] + 1), 2 * 4 * (x.shape[-1] + 1)).save(args.png)
        if elapsed >= args.seconds:
            app.quit()
            return
        QTimer.singleShot(POLL_MS, poll)

    win.start_training()
    QTimer.singleShot(POLL_MS, poll)
    app.exec()
    win.close()
    s = win.run_settings.value
    result = {
        "benchmark": "first_minute",
        "settings": f"sprites {s.sprites_n} at {s.sprites_size} px, {s.arch}, latent {s.latent_dim}, "
                    f"batch {s.batch_size}",
        "first_decoding_s": None if seen["first_decoding_s"] is None else round(seen["first_decoding_s"], 2),
        "recognisable_s": None if seen["recognisable_s"] is None else round(seen["recognisable_s"], 2),
        "r2_at_goal": None if seen["r2_at_goal"] is None else round(seen["r2_at_goal"], 3),
        "steps_at_goal": seen["steps_at_goal"],
        "goal_s": args.goal_s,
        "recognisable_r2": RECOGNISABLE_R2,
        "r2_over_time": seen["r2"][:: max(1, len(seen["r2"]) // 12)],
    }
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
