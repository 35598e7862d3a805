"""Bad input, third round (issue 32): the Python API, the CLI, the checkpoint's config fields and the four front
doors that build or resume a run check every setting by one set of rules (trainer.rules, hung on the config
dataclasses), and a resume follows one rule (trainer.training.opening.RESUMABLE).

Each case was a silently wrong result, a traceback or unbounded work before; each is now one line: exit status 2
from the CLI, a VaeExplorerError from the API."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import trainer
from inprocess import run_main
from trainer.checkpoints.hdf5 import load_checkpoint, read_info
from trainer.config import ModelConfig, TrainConfig

SMALL = dict(latent_dim=3, hidden=(16,), epochs=1, batch_size=64)


def error_line(proc) -> str:
    """The one `error:` line of a CLI run that exited 2, with no traceback."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    """A small labelled dataset of 8x8 images, as a file the CLI and the API can both name."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("round3") / "small.npz"
    np.savez(path, x=(rng.random((160, 1, 8, 8)) < 0.3).astype(np.uint8) * 255, y=rng.integers(0, 3, 160))
    return path


@pytest.fixture(scope="module")
def flat(data_file):
    out = data_file.parent / "flat.h5"
    trainer.Run(str(data_file), out=out, **SMALL).train()
    return out


@pytest.fixture(scope="module")
def hier(data_file):
    out = data_file.parent / "hier.h5"
    trainer.Run(str(data_file), out=out, layers=2, layer_beta=[1.0, 2.0], **{**SMALL, "latent_dim": 4}).train()
    return out


# --- silent wrong results ------------------------------------------------------------------------------------
def test_hidden_as_text_is_refused_and_a_single_width_or_a_list_is_taken(data_file, tmp_path):
    with pytest.raises(trainer.ConfigError, match=r"^hidden must be 1 to 8 sizes .* got '16'$"):
        trainer.Run(str(data_file), hidden="16")
    run = trainer.Run(str(data_file), out=tmp_path / "r.h5", hidden=16, latent_dim=3, epochs=0)
    assert run.trainer.model_config.hidden == (16,)
    assert trainer.Run(str(data_file), hidden=[16, 8], epochs=0).trainer.model_config.hidden == (16, 8)


def test_a_fraction_of_an_epoch_is_refused_not_rounded(data_file):
    with pytest.raises(trainer.ConfigError, match=r"^epochs must be a whole number in 0\.\.1000000, got 1\.5$"):
        trainer.Run(str(data_file), epochs=1.5)
    assert trainer.Run(str(data_file), epochs=2.0, **{k: v for k, v in SMALL.items() if k != "epochs"}) \
        .trainer.config.epochs == 2


def test_evaluate_refuses_a_negative_count_of_gap_examples(flat):
    with pytest.raises(trainer.ConfigError, match="^gap_examples must be a whole number in 1"):
        trainer.evaluate(flat, gaps=True, gap_examples=-50)


# --- the command line: overflow and unbounded values ---------------------------------------------------------
def test_a_400_digit_warm_up_is_one_line(data_file, tmp_path):
    line = error_line(run_main(["train", "--dataset", str(data_file), "--layers", "2", "--latent-dim", "4",
                                "--layer-warmup", "0," + "1" + "0" * 400, "--out", str(tmp_path / "r.h5")]))
    assert "--layer-warmup: must be 0 to 5 step counts in 0..1000000000000" in line


@pytest.mark.parametrize("flags", [["--layers", "2", "--latent-dim", "4", "--layer-beta", "1e308,1e308"],
                                   ["--layers", "2", "--latent-dim", "4", "--layer-free-bits", "1e300,1e300"],
                                   ["--objective", "tcvae", "--tc-alpha", "1e308"],
                                   ["--beta", "1e39"], ["--lr", "inf"], ["--beta", "nan"]])
def test_values_that_overflow_float32_are_refused_when_parsed(data_file, tmp_path, flags):
    line = error_line(run_main(["train", "--dataset", str(data_file), *flags, "--out", str(tmp_path / "r.h5")]))
    assert f"argument {next(f for f in flags[::-1] if f.startswith('--'))}: must be" in line
    assert not (tmp_path / "r.h5").exists()


def test_the_api_refuses_the_same_overflow_in_the_same_words(data_file):
    with pytest.raises(trainer.ConfigError, match="float32's largest number"):
        trainer.Run(str(data_file), layers=2, latent_dim=4, layer_beta=[1e308, 1e308])
    with pytest.raises(trainer.ConfigError, match="^tc_alpha must be a number >= 0, got 1e"):
        trainer.Run(str(data_file), objective="tcvae", tc_alpha=1e308)


def test_iwae_samples_are_bounded_when_parsed(flat):
    for extra in ([], ["--gaps"]):
        line = error_line(run_main(["eval", str(flat), "--iwae-samples", "1000000000", *extra]))
        assert "--iwae-samples: must be a whole number in 0..100000" in line
    with pytest.raises(trainer.ConfigError, match="iwae_samples must be a whole number in 0..100000"):
        trainer.evaluate(flat, iwae_samples=10**9)


# --- one rule for a resume -----------------------------------------------------------------------------------
def test_a_resume_that_changes_a_setting_is_refused_by_every_front_door(hier, tmp_path, data_file):
    out = tmp_path / "more.h5"
    line = error_line(run_main(["train", "--resume", str(hier), "--layer-beta", "1,2,3", "--out", str(out)]))
    assert str(hier) in line and "a resumed run keeps the settings it was trained with" in line
    assert "layer_beta (1.0, 2.0, 3.0) (trained with (1.0, 2.0))" in line and not out.exists()
    with pytest.raises(trainer.ConfigError, match="a resumed run keeps the settings.*not layers 3 "
                                                  r"\(trained with 2\)"):
        trainer.Run(resume=hier, layers=3)
    with pytest.raises(trainer.ConfigError, match="not beta 4.0"):
        trainer.Run(resume=hier, beta=4.0)
    with pytest.raises(trainer.ConfigError, match=r"lr 0\.5 \(trained with 0\.001\)"):
        trainer.Run(resume=hier, train=TrainConfig(lr=0.5))


def test_a_resume_may_name_the_settings_it_has_and_change_epochs(hier, tmp_path):
    out = tmp_path / "more.h5"
    proc = run_main(["train", "--resume", str(hier), "--layer-beta", "1,2", "--layers", "2", "--epochs", "2",
                     "--out", str(out), "--json"])
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["epochs"] == 2
    run = trainer.Run(resume=out, epochs=3, layer_beta=(1, 2), latent_dim=4.0)  # the same values, other types
    assert run.trainer.config.epochs == 3 and run.trainer.config.layer_beta == (1.0, 2.0)


# --- checkpoint fields are type-checked ----------------------------------------------------------------------
def _rewrite(src, dst, section: str, **changes):
    import shutil

    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        data = json.loads(f.attrs[section].decode() if isinstance(f.attrs[section], bytes) else f.attrs[section])
        data.update(changes)
        raw = json.dumps(data).encode()
        f.attrs[section] = np.array(raw, dtype=h5py.string_dtype("utf-8", len(raw)))
    return dst


@pytest.mark.parametrize("section, field, value", [("train_config", "batch_size", "64"),
                                                    ("model_config", "latent_dim", 5.5),
                                                    ("model_config", "hidden", "16"),
                                                    ("train_config", "layer_beta", [1e308]),
                                                    ("train_config", "compile", 1),
                                                    ("dataset", "seed", -1)])
def test_a_config_field_of_the_wrong_type_is_refused_naming_the_file_and_the_field(flat, tmp_path, section,
                                                                                     field, value):
    bad = _rewrite(flat, tmp_path / "bad.h5", section, **{field: value})
    for read in (load_checkpoint, read_info, trainer.load_model):
        with pytest.raises(trainer.CheckpointError) as err:
            read(bad)
        text = str(err.value)
        assert text.startswith(str(bad)) and f"bad {section}: {field} must be" in text and "\n" not in text
    for command in (["info", str(bad)], ["train", "--resume", str(bad), "--out", str(tmp_path / "r.h5")]):
        assert f"{field} must be" in error_line(run_main(command))


# --- the API's arguments -------------------------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    (dict(latent_dim="abc"), "^latent_dim must be a whole number in 1..512, got 'abc'$"),
    (dict(latent_dim=2.5), "^latent_dim must be a whole number in 1..512, got 2.5$"),
    (dict(batch_size=None), "^batch_size must be a whole number in 1..1048576, got None$"),
    (dict(lr="0.01"), "^lr must be a number > 0, got '0.01'$"),
    (dict(save_every_minutes="5"), "^save_every_minutes must be a number > 0, got '5'$"),
    (dict(conditional="yes"), "^conditional must be true or false, got 'yes'$"),
    (dict(out=5), "^out must be a path"),
    (dict(tensorboard=3.5), "^tensorboard must be a path"),
    (dict(model={"latent_dim": 3}), "^model must be a trainer.ModelConfig, got dict$"),
    (dict(device="tpu"), "^device must be one of auto, cpu, cuda, mps, got 'tpu'$"),
])
def test_run_refuses_bad_keyword_arguments_in_one_line(data_file, options, message):
    with pytest.raises(trainer.ConfigError, match=message):
        trainer.Run(str(data_file), **options)


def test_run_takes_sequences_where_the_cli_takes_comma_lists(data_file):
    run = trainer.Run(str(data_file), layers=2, latent_dim=4, layer_beta=[1.0, 2.0], layer_warmup=np.array([0, 5]),
                      epochs=0)
    assert run.trainer.config.layer_beta == (1.0, 2.0) and run.trainer.config.layer_warmup == (0, 5)
    assert isinstance(run.trainer.config.layer_warmup[1], int)


def test_run_refuses_an_array_as_data_with_what_to_do_instead(data_file):
    with pytest.raises(trainer.ConfigError, match=r"^data must be a Dataset .* got ndarray; .*np\.savez"):
        trainer.Run(np.zeros((10, 1, 8, 8), np.uint8))
    with pytest.raises(trainer.ConfigError, match="^source must be a path"):
        trainer.load_dataset(12345)
    with pytest.raises(trainer.ConfigError, match="^load_dataset takes no option 'size'"):
        trainer.load_dataset("sprites", size=3)


@pytest.mark.parametrize("options, message", [
    (dict(gaps=True, gap_examples=0), "^gap_examples must be a whole number in 1"),
    (dict(gaps=True, svi_steps=-1), "^svi_steps must be a whole number in 0..1000000, got -1$"),
    (dict(iwae_samples=-3), "^iwae_samples must be a whole number in 0..100000, got -3$"),
    (dict(rate_split_points=1), "^rate_split_points must be 0 .skip. or at least 2"),
    (dict(device="tpu"), "^device must be one of auto, cpu, cuda, mps, got 'tpu'$"),
    (dict(gaps="yes"), "^gaps must be true or false, got 'yes'$"),
])
def test_evaluate_refuses_what_eval_refuses(flat, options, message):
    with pytest.raises(trainer.ConfigError, match=message):
        trainer.evaluate(flat, **options)


def test_evaluate_and_load_model_refuse_a_number_for_a_path():
    with pytest.raises(trainer.ConfigError, match="^evaluate: the checkpoint must be a path .* got int 12345$"):
        trainer.evaluate(12345)


def test_the_cli_refuses_a_rate_split_of_one_point(flat):
    assert "--rate-split-points must be 0 (skip) or >= 2" in error_line(
        run_main(["eval", str(flat), "--rate-split-points", "1"]))


def test_sweep_refuses_text_where_it_takes_a_list(data_file, tmp_path):
    with pytest.raises(trainer.ConfigError, match="^sweep: beta takes a list of values, got str"):
        trainer.sweep(str(data_file), tmp_path / "runs", betas="0.5")
    with pytest.raises(trainer.ConfigError, match="^beta must be a number >= 0, got -1"):
        trainer.sweep(str(data_file), tmp_path / "runs", betas=[-1, 2])
    line = error_line(run_main(["sweep", "--dataset", str(data_file), "--beta=-1,0.5", "--out",
                                str(tmp_path / "runs")]))
    assert "--beta: must be a number >= 0, got '-1'" in line


def test_every_config_coerces_and_checks_through_its_fields_rules():
    assert ModelConfig(hidden=np.array([8, 4]), latent_dim=np.int64(3)).hidden == (8, 4)
    for bad in (dict(input_shape="1,28,28"), dict(num_classes=True), dict(sigma="1")):
        with pytest.raises(trainer.ConfigError):
            ModelConfig(**bad)
    for bad in (dict(beta_schedule="warmup:" + "9" * 20), dict(report_every=0), dict(compile="no")):
        with pytest.raises(trainer.ConfigError):
            TrainConfig(**bad).validate()


# --- the window checks by the same rules ---------------------------------------------------------------------
def test_the_windows_set_and_stored_settings_go_through_the_same_rules(qapp):
    from explorer.app import _overrides
    from explorer.files.settings_store import SettingsStore
    from explorer.models.run_settings import RunSettings

    base = RunSettings()
    assert _overrides(["hidden=48,24", "layer_beta=1,2", "conditional=yes"], base).hidden == (48, 24)
    for pair, message in (("latent_dim=abc", "latent_dim must be a whole number in 1..512, got 'abc'"),
                          ("beta=1e39", "float32's largest"), ("conditional=maybe", "true or false"),
                          ("epochs=1.5", "epochs must be a whole number")):
        with pytest.raises(ValueError, match=message):
            _overrides([pair], base)
    store = SettingsStore()
    store.save_run_settings(base.replace(batch_size=32))
    assert store.run_settings().batch_size == 32
    store.qsettings.setValue("run/settings", json.dumps({**base.to_flat(), "batch_size": "64"}))
    assert store.run_settings() is None  # text where a number belongs: no saved settings, not "64" read as 64
    with pytest.raises(trainer.ConfigError, match="^batch_size must be a whole number"):
        base.replace(batch_size="64")
