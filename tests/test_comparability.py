"""Whether a figure can stand beside a published one (trainer.comparability): the protocols that reproduce a row,
the verdict's checks in order, and `train --protocol` / `eval` / `protocols` as a user runs them."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest
from inprocess import run_main

from trainer.comparability.protocols import check_protocol_data, protocol, protocol_settings, protocols
from trainer.comparability.published import published_row
from trainer.comparability.verdict import judge
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data.dataset import Dataset
from trainer.errors import ConfigError
from trainer.model.likelihood import Provenance

VAE_ROW = "burda16-vae-1layer-k1"


def cli(*args, rc=0):
    proc = run_main([str(a) for a in args])
    assert proc.returncode == rc, f"rc={proc.returncode}\nstdout={proc.stdout}\nstderr={proc.stderr}"
    return proc


def last_json(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def dataset(train=60_000, test=10_000, identity="mnist", split="standard", heldout="test", prebinarized=False,
            name="mnist"):
    """A Dataset of blank images with the given provenance (what the verdict reads; its pixels it never does)."""
    return Dataset(DatasetSpec(name=name, data_dir="x"), np.zeros((train, 1, 28, 28), np.uint8),
                   np.zeros((test, 1, 28, 28), np.uint8), None, None, identity=identity, split=split, heldout=heldout,
                   prebinarized=prebinarized)


def checkpoint(protocol_name=VAE_ROW, epochs=10, **train):
    p = protocol(protocol_name)
    model = ModelConfig(**{k: v for k, v in p.settings.items() if k in ModelConfig.__dataclass_fields__})
    settings = {k: v for k, v in p.settings.items() if k in TrainConfig.__dataclass_fields__}
    return SimpleNamespace(model_config=model, train_config=TrainConfig(**{**settings, **train}),
                           progress={"epoch": epochs})


def comparability(ckpt, data, res, estimator_k):
    """The verdict on a figure of `ckpt`'s run measured on `data` (what eval and the window judge from)."""
    return judge(Provenance.of(data, ckpt.model_config, ckpt.train_config, ckpt.progress["epoch"]), res, estimator_k)


def result(n=10_000, log_px=-95.0, normalized=True):
    return {"iwae_log_px": log_px, "iwae_log_px_se": 0.2, "n": n, "likelihood_normalized": normalized}


def test_the_available_protocols_set_the_rows_architecture_data_and_evaluation():
    p = protocol(VAE_ROW)
    s = p.settings
    assert (s["hidden"], s["latent_dim"], s["activation"], s["batch_size"], s["epochs"]) == ((200, 200), 50, "tanh",
                                                                                             20, 3280)
    assert (s["objective"], s["binarize"], s["protocol"], p.eval_k) == ("elbo", "dynamic", VAE_ROW, 5000)
    iwae = protocol("burda16-iwae-1layer-k50").settings
    assert (iwae["objective"], iwae["iwae_k"]) == ("iwae", 50)
    assert protocol("burda16-static-iwae-1layer-k5").settings["binarize"] == "none"  # Larochelle's files are 0/1
    unavailable = {p.name: p.unavailable for p in protocols() if p.unavailable}
    assert "bottom-up" in unavailable["burda16-vae-2layer-k1"]
    assert "average of 5" in unavailable["burda16-vae-1layer-k5"]
    assert "no figure" in unavailable["sonderby16-lvae-5layer"]
    with pytest.raises(ConfigError, match="cannot be reproduced here"):
        protocol("burda16-vae-2layer-k1")
    with pytest.raises(ConfigError, match="no protocol 'nope'.*burda16-vae-1layer-k1"):
        protocol("nope")


def test_a_protocol_takes_epochs_and_seed_and_refuses_a_setting_that_would_change_it():
    p = protocol(VAE_ROW)
    settings = protocol_settings(p, {"epochs": 3, "seed": 7, "hidden": (200, 200), "beta": 1})
    assert (settings["epochs"], settings["seed"], settings["hidden"]) == (3, 7, (200, 200))
    with pytest.raises(ConfigError, match="sets hidden to 200,200: drop hidden = 400"):
        protocol_settings(p, {"hidden": (400,)})
    with pytest.raises(ConfigError, match="leaves free_bits at its default"):
        protocol_settings(p, {"free_bits": 0.5})


def test_a_protocol_trains_only_on_the_rows_data_in_its_published_split():
    p = protocol(VAE_ROW)
    check_protocol_data(p, dataset())
    with pytest.raises(ConfigError, match="is not"):
        check_protocol_data(p, dataset(identity=""))
    with pytest.raises(ConfigError, match="9,000 training images"):
        check_protocol_data(p, dataset(train=9000, test=1000, split="a seeded split of t10k"))


def test_a_figure_under_the_rows_protocol_is_comparable_with_it_first_and_says_both_epoch_counts():
    verdict = comparability(checkpoint(), dataset(), result(log_px=-95.0), estimator_k=5000)
    assert verdict["not_comparable"] is None
    first = verdict["comparable_to"][0]
    assert (first["protocol"], first["declared"], first["figure"], first["differs"]) == (VAE_ROW, True, -86.76, [])
    assert first["delta"] == pytest.approx(-95.0 + 86.76)
    assert first["epochs"] == {"ours": 10, "row": 3280}
    assert "Burda" in first["source"] and "Table 1" in first["source"]
    # the other rows on the same data and estimator are comparable too, each saying how its model differs
    others = {c["protocol"]: c for c in verdict["comparable_to"][1:]}
    assert others["burda16-iwae-1layer-k50"]["differs"] == ["objective elbo, the row's iwae K = 50"]
    assert "burda16-vae-2layer-k1" in others
    assert not any(name.startswith("burda16-static") or name.startswith("tomczak") for name in others)


@pytest.mark.parametrize("case, change, reason", [
    ("grey levels", dict(normalized=False), "binarization: grey levels"),
    ("other images", dict(identity=""), "dataset: mnist, told by its files' checksums, is not mnist as published"),
    ("static draw", dict(binarize="static"), "binarization: static (one draw of the training set), the row trains"),
    ("t10k split", dict(train=9000, test=1000, split="a seeded split of t10k"),
     "test split: 1,000 images of a seeded split of t10k, the papers use the 10,000 test images"),
    ("limited", dict(train=1000, split="the first 1,000 of the training split"),
     "test split: 10,000 images of the first 1,000 of the training split"),
    ("fewer scored", dict(n=2000), "test split: 2,000 images of the test split"),
    ("small K", dict(k=100), "estimator: IWAE K = 100, the row uses K = 5,000"),
    ("no IWAE", dict(k=0), "estimator: no IWAE estimate (eval --iwae-samples 5000)"),
])
def test_a_figure_that_differs_in_protocol_names_the_first_reason(case, change, reason):
    data = dataset(**{k: change[k] for k in ("identity", "train", "test", "split") if k in change})
    ckpt = checkpoint(**({"binarize": change["binarize"]} if "binarize" in change else {}))
    res = result(n=change.get("n", len(data.x_test)), normalized=change.get("normalized", True))
    if change.get("k") == 0:
        del res["iwae_log_px"]
    verdict = comparability(ckpt, data, res, estimator_k=change.get("k", 5000))
    assert verdict["comparable_to"] == []
    assert verdict["not_comparable"].startswith(reason), verdict["not_comparable"]


def test_larochelles_files_compare_with_the_static_rows_on_their_test_split_only():
    ckpt = checkpoint("burda16-static-iwae-1layer-k5")
    data = dataset(train=50_000, identity="binarized-mnist", prebinarized=True, name="binarized-mnist")
    verdict = comparability(ckpt, data, result(), estimator_k=5000)
    assert {c["protocol"] for c in verdict["comparable_to"]} >= {"burda16-static-iwae-1layer-k5",
                                                               "burda16-static-vae-1layer-k1"}
    assert all("static" in c["protocol"] for c in verdict["comparable_to"])
    valid = dataset(train=50_000, identity="binarized-mnist", prebinarized=True, name="binarized-mnist",
                    heldout="valid")
    assert comparability(ckpt, valid, result(), 5000)["not_comparable"].startswith("test split: the validation split")


def test_a_protocol_run_on_the_published_mnist_is_comparable_in_all_but_a_short_estimator(shared_mnist_full_dir,
                                                                                          tmp_path):
    out = tmp_path / "vae.h5"
    trained = last_json(cli("train", "--protocol", VAE_ROW, "--data-dir", shared_mnist_full_dir, "--epochs", 0,
                            "--out", out, "--json"))
    assert trained["protocol"] == VAE_ROW and trained["test_binarization"].startswith("one fixed Bernoulli draw")
    info = last_json(cli("info", out, "--json"))
    assert json.dumps(info).count(VAE_ROW) >= 1
    scored = last_json(cli("eval", out, "--iwae-samples", 3, "--rate-split-points", 0, "--json"))
    assert (scored["n"], scored["split"], scored["iwae_samples"], scored["protocol"]) == (10_000, "test", 3, VAE_ROW)
    assert scored["comparable_to"] == []
    assert scored["not_comparable"] == "estimator: IWAE K = 3, the row uses K = 5,000"
    # what would make it another protocol is refused before any training, in one line
    refused = cli("train", "--protocol", VAE_ROW, "--data-dir", shared_mnist_full_dir, "--hidden", "400",
                  "--out", tmp_path / "no.h5", rc=2)
    assert "sets hidden to 200,200" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    limited = cli("train", "--protocol", VAE_ROW, "--data-dir", shared_mnist_full_dir, "--limit", "500",
                  "--out", tmp_path / "no.h5", rc=2)
    assert "500 training images" in limited.stderr
    assert not (tmp_path / "no.h5").exists()


def test_a_model_trained_on_the_t10k_folder_says_why_it_is_not_comparable(shared_mnist_dir, tmp_path):
    out = tmp_path / "t10k.h5"
    cli("train", "--dataset", "mnist", "--data-dir", shared_mnist_dir, "--binarize", "dynamic", "--epochs", 1,
        "--hidden", 32, "--latent-dim", 4, "--out", out)
    scored = last_json(cli("eval", out, "--iwae-samples", 5, "--rate-split-points", 0, "--json"))
    assert scored["comparable_to"] == []
    assert scored["not_comparable"] == ("test split: 1,000 images of a seeded split of t10k, the papers use the "
                                        "10,000 test images")
    grey = tmp_path / "grey.h5"
    cli("train", "--dataset", "mnist", "--data-dir", shared_mnist_dir, "--epochs", 1, "--hidden", 32,
        "--latent-dim", 4, "--out", grey)
    text = cli("eval", grey, "--iwae-samples", 5, "--rate-split-points", 0).stdout
    assert "not comparable with published figures: binarization: grey levels" in text


def test_eval_of_a_protocol_run_uses_the_rows_estimator_unless_told(synthetic_mnist_dir, tmp_path):
    from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint

    out = tmp_path / "tiny.h5"
    cli("train", "--dataset", "mnist", "--data-dir", synthetic_mnist_dir, "--epochs", 0, "--hidden", 8,
        "--latent-dim", 2, "--binarize", "dynamic", "--out", out)
    ckpt = load_checkpoint(out)  # a run that declared the VAE row's protocol (its data is not MNIST: no verdict)
    save_checkpoint(out, dataclasses.replace(ckpt, train_config=dataclasses.replace(ckpt.train_config,
                                                                                    protocol=VAE_ROW)))
    scored = last_json(cli("eval", out, "--rate-split-points", 0, "--json"))
    assert scored["iwae_samples"] == 5000 and "iwae_log_px" in scored
    assert scored["not_comparable"].startswith("dataset:")
    told = last_json(cli("eval", out, "--iwae-samples", 0, "--rate-split-points", 0, "--json"))
    assert told["iwae_samples"] == 0 and "iwae_log_px" not in told


def test_the_protocols_command_lists_every_row_available_or_not():
    rows = last_json(cli("protocols", "--json"))
    by_name = {r["name"]: r for r in rows}
    assert len(rows) == len({r.name for r in protocols()})
    assert by_name[VAE_ROW]["available"] and by_name[VAE_ROW]["settings"]["hidden"] == [200, 200]
    assert not by_name["burda16-iwae-2layer-k50"]["available"]
    text = cli("protocols").stdout
    assert f"{VAE_ROW}: Burda et al. Table 1" in text and "not available" in text
    assert published_row(VAE_ROW).train_examples == 60_000


def test_every_front_door_refuses_a_declared_protocol_the_run_does_not_follow():
    from trainer.training.opening import configs_for

    p = protocol(VAE_ROW)
    settings = protocol_settings(p, {"epochs": 2})
    model, train = configs_for(dataset(), **settings)  # the row's settings on the row's data: accepted
    assert (train.protocol, model.activation, train.epochs) == (VAE_ROW, "tanh", 2)
    with pytest.raises(ConfigError, match="sets hidden to 200,200, but this run has 400"):
        configs_for(dataset(), **{**settings, "hidden": (400,)})
    with pytest.raises(ConfigError, match="9,000 training images"):
        configs_for(dataset(train=9000, test=1000, split="a seeded split of t10k"), **settings)


def test_the_python_api_judges_as_eval_does(synthetic_mnist_dir, tmp_path):
    import trainer

    out = tmp_path / "api.h5"
    cli("train", "--dataset", "mnist", "--data-dir", synthetic_mnist_dir, "--epochs", 1, "--hidden", 8,
        "--latent-dim", 2, "--binarize", "dynamic", "--out", out)
    scored = last_json(cli("eval", out, "--iwae-samples", 4, "--rate-split-points", 0, "--json"))
    for model in (out, trainer.load_model(out)):  # a checkpoint's path, or the module loaded from it
        result = trainer.evaluate(model, iwae_samples=4, rate_split_points=0)
        for key in ("split", "test_binarization", "iwae_samples", "protocol", "comparable_to", "not_comparable"):
            assert result[key] == scored[key], key
    assert scored["not_comparable"].startswith("dataset: mnist, told by its files' checksums, is not mnist")
