"""Bad input, round 3 (issue 32), items 4 and 8: a figure that is not finite is an error naming the file or the
module and the figure, never a number (nor invalid JSON); a large IWAE K reports progress as its samples are
drawn, not only per example, and stops there when asked to."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from inprocess import run_main

import trainer
from trainer.analysis.inference_gaps import GapsCancelled, SviSettings, inference_gaps
from trainer.analysis.metrics import evaluate
from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
from trainer.cli.parser import print_json
from trainer.errors import VaeExplorerError

TINY = dict(epochs=1, hidden=(16,), batch_size=64)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A VAE, a two-layer ladder and a CVAE, each trained one epoch, and a copy of each with every weight times
    1e30: finite, so it loads, but the network overflows to NaN."""
    folder = tmp_path_factory.mktemp("numbers")
    sprites = trainer.load_dataset("sprites", n=300, image_size=28)
    rng = np.random.default_rng(0)
    np.savez(folder / "two.npz", x=(rng.random((200, 1, 8, 8)) < 0.3).astype(np.uint8) * 255,
             y=np.arange(200) % 2)
    made = {}
    two = trainer.load_dataset(folder / "two.npz")
    for name, data, options in (("flat", sprites, dict(latent_dim=3)),
                                ("ladder", sprites, dict(latent_dim=4, layers=2)),
                                ("cvae", two, dict(latent_dim=2, conditional=True))):
        good = folder / f"{name}.h5"
        trainer.Run(data, out=good, **TINY, **options).train()
        ckpt = load_checkpoint(good)
        huge = {key: value * np.float32(1e30) for key, value in ckpt.model_state.items()}
        assert all(np.isfinite(v).all() for v in huge.values())
        save_checkpoint(folder / f"{name}-huge.h5", dataclasses.replace(ckpt, model_state=huge))
        made[name] = good
        made[f"{name}-huge"] = folder / f"{name}-huge.h5"
    made["sprites"] = sprites
    return made


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


@pytest.mark.parametrize("kind", ["flat", "ladder", "cvae"])
def test_load_model_refuses_finite_weights_whose_outputs_are_not(runs, kind):
    huge = runs[f"{kind}-huge"]
    with pytest.raises(trainer.CheckpointError) as err:
        trainer.load_model(huge)
    text = _one_line(err.value)
    assert text.startswith(f"{huge}: the weights are finite but the network's outputs are not (")
    assert "has NaN" in text or "has infinite values" in text
    # the same family with its own weights loads: the check does not refuse a healthy ladder or CVAE
    model = trainer.load_model(runs[kind])
    y = 0 if kind == "cvae" else None
    shape = model.model_config.input_shape
    with torch.no_grad():
        assert torch.isfinite(model.decode(model.encode(np.zeros((2, *shape), np.uint8), y)[0], y)).all()


@pytest.mark.parametrize("options", [["--json"], ["--gaps", "--json", "--svi-steps", "5", "--iwae-samples", "5"],
                                     ["--iwae-samples", "5"]])
def test_eval_of_such_a_file_exits_2_with_one_line_and_prints_no_figures(runs, options):
    huge = runs["flat-huge"]
    proc = run_main(["eval", huge, *options])
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(huge) in lines[0] and "the weights are finite but" in lines[0]


def test_evaluate_refuses_such_a_file(runs):
    for gaps in (False, True):
        with pytest.raises(trainer.CheckpointError, match="the weights are finite but the network's outputs"):
            trainer.evaluate(runs["ladder-huge"], gaps=gaps, gap_examples=2, svi_steps=5, iwae_samples=5)


def test_evaluate_of_a_module_whose_decoder_gives_nan_names_the_first_figure(runs):
    model = trainer.load_model(runs["flat"])
    with torch.no_grad():
        next(p for name, p in model.net.named_parameters() if name.startswith("dec_")).fill_(math.nan)
    with pytest.raises(trainer.ConfigError) as err:
        trainer.evaluate(model, runs["sprites"], iwae_samples=4)
    assert ": elbo is nan, not a finite number" in _one_line(err.value)
    with pytest.raises(trainer.ConfigError) as err:
        trainer.evaluate(model, runs["sprites"], gaps=True, gap_examples=2, svi_steps=5, iwae_samples=5)
    assert ": elbo_encoder is nan, not a finite number" in _one_line(err.value)


def test_print_json_never_prints_invalid_json(capsys):
    for obj, key in (({"n": 3, "test": {"elbo": math.nan}}, "test.elbo is nan"),
                     ({"kl_per_dim": [0.5, math.inf]}, "kl_per_dim[1] is inf"),
                     ({"rate_split": {"layers": [{"rate": 1.0}, {"rate": -math.inf}]}},
                      "rate_split.layers[1].rate is -inf")):
        with pytest.raises(VaeExplorerError) as err:
            print_json(obj)
        assert key in _one_line(err.value)
        assert capsys.readouterr().out == ""
    print_json({"elbo": -1.5, "mig": None})
    assert json.loads(capsys.readouterr().out) == {"elbo": -1.5, "mig": None}


# --- item 8: progress within a large K ----------------------------------------------------------------------
K = 60_000  # one 28x28 example: about 21,000 samples per decoder pass, so three chunks


@pytest.fixture(scope="module")
def net_and_x(runs):
    model = trainer.load_model(runs["flat"])
    return model.net, runs["sprites"].x_test[:1]


def test_iwae_of_one_example_reports_progress_as_its_samples_are_drawn(net_and_x):
    net, x = net_and_x
    calls = []
    result = evaluate(net, x, None, "cpu", iwae_samples=K, progress=lambda done, total: calls.append((done, total)))
    assert math.isfinite(result["iwae_log_px"])
    within = [done for done, total in calls if 0 < done < 1]
    assert len(within) >= 2 and within == sorted(within)
    assert calls[-1] == (1, 1) and all(total == 1 for _, total in calls)


def test_gaps_report_progress_within_iwae_and_stop_between_chunks(net_and_x):
    net, x = net_and_x
    settings = SviSettings(max_steps=10, window=5)
    calls = []
    inference_gaps(net, x, None, settings=settings, k=K, progress=lambda message, f: calls.append((message, f)))
    scoring = [(m, f) for m, f in calls if m.startswith("IWAE of the encoder q (")]
    assert len(scoring) >= 3 and "/ 60,000 samples)" in scoring[0][0]
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and 0 < scoring[0][1] < 0.5 and fractions[-1] == 1.0
    heard = []

    def stop() -> bool:
        return any(m.startswith("IWAE") for m in heard)

    with pytest.raises(GapsCancelled):
        inference_gaps(net, x, None, settings=settings, k=K, progress=lambda m, f: heard.append(m), should_stop=stop)
    assert sum(m.startswith("IWAE") for m in heard) == 1  # stopped at the next chunk, not at the end of K


def test_a_resume_of_such_a_file_is_refused_before_a_step(runs, tmp_path):
    huge = runs["flat-huge"]
    with pytest.raises(trainer.CheckpointError, match=f"^{huge}: the weights are finite but the network's outputs"):
        trainer.Run(resume=huge, epochs=3)
    proc = run_main(["train", "--resume", huge, "--epochs", "3", "--out", tmp_path / "more.h5"])
    assert proc.returncode == 2 and "the weights are finite but" in proc.stderr
    assert not (tmp_path / "more.h5").exists()


def test_the_window_refuses_such_a_file_in_one_line(runs, qtbot, small_window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append(text))
    window = small_window()
    window.open_checkpoint(str(runs["flat-huge"]))
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    assert shown[0].startswith(f"{runs['flat-huge']}: the weights are finite but") and "\n" not in shown[0]
    assert window.session.worker.opened_checkpoint is None
