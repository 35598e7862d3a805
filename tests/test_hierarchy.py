"""The hierarchical VAE: its KL terms against torch.distributions in the z space, IWAE over the joint path, the
rate split per layer against a brute-force sum, per-layer β / warm-up / free bits, ensembles, checkpoints
(with one written by format version 1) and the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from ensemble_check import alone_and_together
from torch.distributions import Normal, kl_divergence

from trainer.analysis.metrics import evaluate, iwae_log_px
from trainer.analysis.rate_split import path_rate_split
from trainer.checkpoints.hdf5 import FORMAT_VERSION, load_checkpoint, save_checkpoint
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.data import load_dataset
from trainer.errors import ConfigError
from trainer.model.hierarchy import HierarchicalVAE, build_model, merge_gaussians
from trainer.model.objective import gaussian_kl, kl_per_dim, negative_elbo
from trainer.model.vae import VAE, model_config_for
from trainer.training.layer_weights import LayerWeights
from trainer.training.loop import Trainer
from trainer.training.reports import EpochReport

V1_CHECKPOINT = Path(__file__).parent / "data" / "checkpoint_v1.h5"


def small_model(layers=3, latent_dim=6, seed=0, **kwargs) -> HierarchicalVAE:
    torch.manual_seed(seed)
    model = build_model(ModelConfig(input_shape=(1, 8, 8), hidden=(32,), latent_dim=latent_dim, layers=layers,
                                    **kwargs))
    model.eval()
    return model.double()


def binary_x(n=12, seed=0) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).round()


def std(logvar):
    return torch.exp(0.5 * logvar)


def test_gaussian_kl_is_torch_distributions_kl_and_the_seeds_formula_with_a_standard_normal():
    g = torch.Generator().manual_seed(1)
    mu_q, mu_p, lv_q, lv_p = torch.randn(4, 50, 4, generator=g, dtype=torch.float64)
    reference = kl_divergence(Normal(mu_q, std(lv_q)), Normal(mu_p, std(lv_p)))
    torch.testing.assert_close(gaussian_kl(mu_q, lv_q, mu_p, lv_p), reference)
    zeros = torch.zeros_like(mu_q)
    standard = kl_divergence(Normal(mu_q, std(lv_q)), Normal(zeros, torch.ones_like(mu_q)))
    torch.testing.assert_close(gaussian_kl(mu_q, lv_q, zeros, zeros), standard)
    torch.testing.assert_close(kl_per_dim(mu_q, lv_q), standard)  # ½(μ² + σ² − 1 − log σ²)


def z_space_path(model: HierarchicalVAE, x, eps):
    """An independent walk down the hierarchy in z coordinates with torch.distributions: each layer's
    q(z_l | z_{l+1}, x) (the bottom-up Gaussian times the prior, renormalized) and p(z_l | z_{l+1}), their KLs,
    and the sample z (bottom first). Only the networks are the model's."""
    up = model.bottom_up(x)
    kls, zs, priors, posteriors = ([None] * model.layers for _ in range(4))
    parts = list(torch.split(eps, list(model.dims), dim=1))
    z_above = None
    for layer in reversed(range(model.layers)):
        mu_d, lv_d = up[layer]
        if z_above is None:
            prior = Normal(torch.zeros_like(mu_d), torch.ones_like(mu_d))
        else:
            mu_p, lv_p = model.prior_step(layer, z_above)
            prior = Normal(mu_p, std(lv_p))
        precision = 1 / std(lv_d) ** 2 + 1 / prior.scale ** 2
        q_mean = (mu_d / std(lv_d) ** 2 + prior.loc / prior.scale ** 2) / precision
        q = Normal(q_mean, precision.rsqrt())
        z = q.loc + q.scale * parts[layer]
        kls[layer] = kl_divergence(q, prior).sum(1)
        zs[layer], priors[layer], posteriors[layer] = z, prior, q
        z_above = z
    return kls, zs, priors, posteriors


@pytest.mark.parametrize("ladder", ["plain", "residual"])
def test_each_layers_kl_is_the_closed_form_kl_to_its_conditional_prior(ladder):
    model = small_model(ladder=ladder)
    x = binary_x()
    eps = torch.randn(12, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    kls, zs, _, _ = z_space_path(model, x, eps)
    terms = negative_elbo(model, x, eps=eps)
    expected = torch.stack(kls, 1).mean(0)  # (L,) nats per example
    per_layer = torch.stack([terms.kl_per_dim[s].sum() for s in model.config.layer_slices()])
    torch.testing.assert_close(per_layer, expected)
    # the decoder sees the bottom layer's z of that same path, and (the residual ladder's skip) the top-down feature
    # z_2 gave z_1's prior
    _, _, u, params = model(x, None, eps)
    seen = model.generate(u)
    torch.testing.assert_close(seen[:, :model.dims[0]], zs[0])
    if ladder == "residual":
        torch.testing.assert_close(seen[:, model.dims[0]:], model.down[0](zs[1]))
    else:
        assert seen.shape[1] == model.dims[0]
    torch.testing.assert_close(params, model.dec_mlp(seen).view_as(params))
    torch.testing.assert_close(terms.recon, model.recon_nll(x, params))
    assert terms.loss.item() == pytest.approx((terms.recon + expected.sum()).item())


def test_iwae_over_the_joint_path_bounds_log_px_above_the_elbo():
    model = small_model(seed=3)
    x = binary_x(8, seed=1)
    elbos = torch.stack([-negative_elbo(model, x[i:i + 1], eps=torch.randn(1, 6, dtype=torch.float64)).loss
                         for i in range(8) for _ in range(200)]).view(8, 200).mean(1)
    iwae = iwae_log_px(model, x, None, 2000, generator=torch.Generator().manual_seed(0))
    assert (iwae >= elbos - 0.05).all()
    assert (iwae - elbos).mean() > 0.01  # a strictly tighter bound: the hierarchy's q is not its posterior
    # a K = 1 IWAE is the ELBO of one sample: their averages agree
    one = iwae_log_px(model, x.repeat(400, 1, 1, 1), None, 1, generator=torch.Generator().manual_seed(5))
    assert one.view(400, 8).mean(0).mean().item() == pytest.approx(elbos.mean().item(), abs=0.15)


def brute_force_information(model, x, eps):
    """I(X; Z) and each layer's I(X; Z_l | Z_{>l}) by summing log q(z^i | x_m) over every pair, in z space."""
    n = len(x)
    _, zs, _, own = z_space_path(model, x, eps)
    up = model.bottom_up(x)
    layers = model.layers
    log_q = torch.zeros(n, n, layers, dtype=torch.float64)  # [i, m, l]: log q(z_l^i | z_{l+1}^i, x_m)
    for i in range(n):
        for layer in range(layers):
            if layer == layers - 1:
                mu_p, lv_p = torch.zeros(1, model.dims[layer], dtype=torch.float64), torch.zeros(1, model.dims[layer],
                                                                                                  dtype=torch.float64)
            else:
                mu_p, lv_p = model.prior_step(layer, zs[layer + 1][i:i + 1])
            mu_q, lv_q = merge_gaussians(up[layer][0], up[layer][1], mu_p, lv_p)
            log_q[i, :, layer] = Normal(mu_q, std(lv_q)).log_prob(zs[layer][i]).sum(1)
    from_top = log_q.flip(-1).cumsum(-1).flip(-1)  # log q(z_{≥l}^i | x_m)
    aggregate = torch.logsumexp(from_top, dim=1) - math.log(n)  # (n, L): log q(z_{≥l}^i)
    own_l = torch.stack([log_q[i, i] for i in range(n)])
    conditional = aggregate - torch.cat([aggregate[:, 1:], torch.zeros(n, 1, dtype=torch.float64)], 1)
    return (own_l.sum(1) - aggregate[:, 0]).mean().item(), (own_l - conditional).mean(0)


def test_the_rate_split_of_a_hierarchy_is_the_brute_force_sum_in_z_space_and_adds_up():
    model = small_model(seed=4)
    x = binary_x(40, seed=2)
    eps = torch.randn(40, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        path = {k: v.numpy() for k, v in model.path(x, None, eps).items()}
        joint, per_layer = brute_force_information(model, x, eps)
    split = path_rate_split(path, model.dims)
    # information is the same in u and in z coordinates: the Jacobian cancels in log q(u|x) − log q(u)
    assert split.mutual_information == pytest.approx(joint, abs=1e-9)
    np.testing.assert_allclose([layer["mutual_information"] for layer in split.layers], per_layer.numpy(), atol=1e-9)
    assert sum(layer["mutual_information"] for layer in split.layers) == pytest.approx(split.mutual_information)
    assert sum(layer["rate"] for layer in split.layers) == pytest.approx(split.rate)
    assert split.mutual_information + split.marginal_kl == pytest.approx(split.rate_mc)
    assert split.mutual_information <= split.log_n + 1e-9
    assert split.total_correlation is None and split.dimwise_kl is None
    # the closed-form rate of that path is the model's KL of it
    assert split.rate == pytest.approx(negative_elbo(model, x, eps=eps).kl.item())
    with pytest.raises(ConfigError, match="paths"):
        path_rate_split(path, (3, 3, 1))


def test_layer_weights_charge_each_layer_its_beta_warm_up_and_free_bits():
    model_cfg = ModelConfig(input_shape=(1, 8, 8), hidden=(32,), latent_dim=5, layers=2)  # dims (3, 2)
    weights = LayerWeights.of(model_cfg, TrainConfig(layer_beta=(1.0, 3.0), layer_warmup=(0, 100),
                                                     layer_free_bits=(0.0, 0.5)), "cpu")
    assert weights.factors(50) == [1.0, 1.5] and weights.factors(400) == [1.0, 3.0]
    torch.testing.assert_close(weights.beta(2.0, 50), torch.tensor([2.0, 2.0, 2.0, 3.0, 3.0]))
    torch.testing.assert_close(weights.free_bits(0.0), torch.tensor([0.0, 0.0, 0.0, 0.5, 0.5]))
    plain = LayerWeights.of(model_cfg, TrainConfig(), "cpu")
    assert not plain.active and plain.beta(2.0, 50) == 2.0
    model = small_model(layers=2, latent_dim=5).float()
    x = binary_x().float()
    eps = torch.randn(12, 5)
    terms = negative_elbo(model, x, beta=weights.beta(2.0, 50), free_bits=weights.free_bits(0.0), eps=eps)
    kl = terms.kl_per_dim
    expected = terms.recon + 2.0 * kl[:3].sum() + 3.0 * torch.clamp(kl[3:], min=0.5).sum()
    assert terms.loss.item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ConfigError, match="one per layer"):
        LayerWeights.of(model_cfg, TrainConfig(layer_beta=(1.0, 2.0, 3.0)), "cpu")


def test_bad_hierarchy_settings_are_one_clear_line():
    with pytest.raises(ConfigError, match="at least one latent dimension each"):
        ModelConfig(latent_dim=2, layers=3).validate()
    with pytest.raises(ConfigError, match="layers must be"):
        ModelConfig(layers=9).validate()
    with pytest.raises(ConfigError, match="layer_warmup must be 0 to 5 step counts"):
        TrainConfig(layer_warmup=(10.5,)).validate()
    with pytest.raises(ConfigError, match="β-TCVAE"):
        TrainConfig(objective="tcvae", layer_beta=(1.0, 2.0)).validate()
    assert ModelConfig(latent_dim=7, layers=3).layer_dims == (3, 2, 2)
    assert ModelConfig(latent_dim=96, layers=2, layer_sizes=(64, 32)).layer_dims == (64, 32)
    with pytest.raises(ConfigError, match="layer_sizes 64,32 must give one size per layer .3. adding up to latent_dim"):
        ModelConfig(latent_dim=96, layers=3, layer_sizes=(64, 32)).validate()
    with pytest.raises(ConfigError, match="adding up to latent_dim .90."):
        ModelConfig(latent_dim=90, layers=2, layer_sizes=(64, 32)).validate()


@pytest.fixture(scope="module")
def data():
    return load_dataset(DatasetSpec(name="sprites", n=500, image_size=28, seed=4))


def test_a_hierarchy_trains_checkpoints_and_resumes_as_one_run(data, tmp_path):
    cfg = model_config_for(data, hidden=(32,), latent_dim=4, layers=2)
    train = TrainConfig(epochs=2, batch_size=50, layer_warmup=(0, 15), layer_beta=(1.0, 2.0), device="cpu")
    whole = Trainer(cfg, train, data)
    reports = [r for r in whole.run() if isinstance(r, EpochReport)]
    assert len(reports) == 2 and isinstance(whole.model, HierarchicalVAE)
    split = reports[-1].rate_split
    assert len(split["layers"]) == 2 and split["total_correlation"] is None
    history = whole.history.arrays()
    assert np.isnan(history["rate_split/total_correlation"]).all()
    assert list(history["rate_split_layers/layer"]) == [0, 1, 0, 1]
    part = Trainer(cfg, train, data)
    list(part.run(max_steps=part.steps_per_epoch + 3))
    save_checkpoint(tmp_path / "h.h5", part.checkpoint())
    with h5py.File(tmp_path / "h.h5", "r") as f:
        assert int(f.attrs["format_version"]) == FORMAT_VERSION == 4
    ckpt = load_checkpoint(tmp_path / "h.h5")
    assert ckpt.model_config.layers == 2 and ckpt.train_config.layer_warmup == (0, 15)
    resumed = Trainer(ckpt.model_config, ckpt.train_config, data, checkpoint=ckpt)
    list(resumed.run())
    for key in ("epochs/test_elbo", "epochs/test_kl", "rate_split_layers/mutual_information"):
        np.testing.assert_allclose(resumed.history.arrays()[key], history[key], rtol=1e-5)


def test_a_sweep_of_hierarchies_trains_as_an_ensemble_as_each_would_alone(data):
    cfg = model_config_for(data, hidden=(32,), latent_dim=4, layers=2)
    base = TrainConfig(epochs=1, batch_size=50, report_every=4, layer_warmup=(0, 10), device="cpu")
    configs = [dataclasses.replace(base, beta=b) for b in (1.0, 4.0)]
    alone, together = alone_and_together(cfg, configs, data)
    for a, b in zip(alone, together):
        np.testing.assert_allclose(a.history.arrays()["epochs/test_elbo"], b.history.arrays()["epochs/test_elbo"],
                                   rtol=1e-5)
        np.testing.assert_allclose(a.history.arrays()["steps/kl_per_dim"], b.history.arrays()["steps/kl_per_dim"],
                                   rtol=1e-4, atol=1e-6)


def test_a_checkpoint_written_by_format_version_1_still_opens_as_one_layer(tmp_path):
    with h5py.File(V1_CHECKPOINT, "r") as f:
        assert int(f.attrs["format_version"]) == 1 and "layers" not in json.loads(f.attrs["model_config"])
    ckpt = load_checkpoint(V1_CHECKPOINT)
    assert ckpt.model_config.layers == 1
    model = build_model(ckpt.model_config)
    assert type(model) is VAE
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ckpt.model_state.items()})
    images = model.sample(3)
    assert images.shape == (3, 1, 8, 8) and torch.isfinite(images).all()
    save_checkpoint(tmp_path / "again.h5", ckpt)  # written again, as the current version
    with h5py.File(tmp_path / "again.h5", "r") as f:
        assert int(f.attrs["format_version"]) == FORMAT_VERSION
    assert load_checkpoint(tmp_path / "again.h5").model_config.layers == 1


def test_a_hierarchy_written_by_format_version_2_opens_with_its_plain_ladder(data, tmp_path):
    # format 2 knew one ladder, the plain one, and wrote no "ladder": such a file still opens, with its weights
    cfg = model_config_for(data, hidden=(32,), latent_dim=4, layers=2, ladder="plain")
    trainer = Trainer(cfg, TrainConfig(epochs=1, batch_size=50, device="cpu"), data)
    list(trainer.run(max_steps=3))
    path = tmp_path / "v2.h5"
    save_checkpoint(path, trainer.checkpoint())
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = np.int64(2)
        config = json.loads(f.attrs["model_config"])
        del config["ladder"], config["prior"], config["pseudo_inputs"], config["norm"], config["layer_sizes"]
        f.attrs["model_config"] = np.bytes_(json.dumps(config))  # (fixed-length, as the writer stores text)
    ckpt = load_checkpoint(path)
    assert ckpt.model_config.ladder == "plain" and ckpt.model_config.prior == "standard"
    model = build_model(ckpt.model_config)
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ckpt.model_state.items()})  # strict
    assert not model.skip and model.sample(2).shape == (2, 1, 28, 28)
    assert ckpt.model_config.norm == "none" and ckpt.model_config.layer_dims == (2, 2)
    # a new hierarchy is the plain one too; the residual one has more weights per step
    assert model_config_for(data, hidden=(32,), latent_dim=4, layers=2).ladder == "plain"
    residual = build_model(model_config_for(data, hidden=(32,), latent_dim=4, layers=2, ladder="residual"))
    assert residual.skip and sum(p.numel() for p in residual.parameters()) > sum(p.numel() for p in
                                                                                model.parameters())


def test_evaluate_reports_kl_per_layer_and_the_split_per_layer(data):
    cfg = model_config_for(data, hidden=(32,), latent_dim=5, layers=2)
    model = build_model(cfg)
    result = evaluate(model, data.x_test, None, "cpu", rate_split_points=40)
    assert len(result["kl_per_layer"]) == 2
    assert sum(result["kl_per_layer"]) == pytest.approx(result["kl"])
    assert len(result["rate_split"]["layers"]) == 2 and result["rate_split"]["dimwise_kl"] is None
    flat = evaluate(build_model(model_config_for(data, hidden=(32,), latent_dim=5)), data.x_test, None, "cpu",
                      rate_split_points=40)
    assert "kl_per_layer" not in flat and "layers" not in flat["rate_split"]


def test_the_cli_trains_a_hierarchy_and_eval_reports_its_layers(tmp_path):
    from inprocess import run_main

    out = tmp_path / "h.h5"
    proc = run_main(["train", "--dataset", "sprites", "--limit", "300", "--epochs", "1", "--hidden", "32",
                     "--latent-dim", "5", "--layers", "2", "--layer-warmup", "0,20", "--layer-beta", "1,2",
                     "--device", "cpu", "--out", str(out), "--json"])
    assert proc.returncode == 0, proc.stderr
    ckpt = load_checkpoint(out)
    assert ckpt.model_config.layers == 2 and ckpt.train_config.layer_beta == (1.0, 2.0)
    proc = run_main(["eval", str(out), "--json", "--rate-split-points", "60"])
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(result["kl_per_layer"]) == 2 and sum(result["kl_per_layer"]) == pytest.approx(result["kl"], rel=1e-4)
    assert [set(layer) for layer in result["rate_split"]["layers"]] == [{"rate", "mutual_information",
                                                                          "marginal_kl"}] * 2
    # uneven layers, a plain ladder and batch norm from the command line; the sizes set the latent size
    sized = tmp_path / "sized.h5"
    proc = run_main(["train", "--dataset", "sprites", "--limit", "300", "--epochs", "1", "--hidden", "32",
                     "--layers", "2", "--layer-sizes", "4,2", "--ladder", "plain", "--norm", "batch", "--device", "cpu",
                     "--out", str(sized)])
    assert proc.returncode == 0, proc.stderr
    cfg = load_checkpoint(sized).model_config
    assert (cfg.layer_dims, cfg.latent_dim, cfg.ladder, cfg.norm) == ((4, 2), 6, "plain", "batch")
    bad = run_main(["train", "--dataset", "sprites", "--limit", "300", "--epochs", "1", "--latent-dim", "5",
                    "--layers", "2", "--layer-beta", "1,2,3", "--device", "cpu", "--out", str(tmp_path / "bad.h5")])
    assert bad.returncode != 0 and "layer_beta gives 3 values" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad.h5").exists()


@pytest.mark.parametrize("arch,likelihood,classes", [("conv", "bernoulli", 0), ("conv", "gaussian", 0),
                                                      ("mlp", "continuous-bernoulli", 0), ("mlp", "bernoulli", 10)])
def test_every_architecture_likelihood_and_a_cvae_train_as_a_hierarchy(arch, likelihood, classes):
    torch.manual_seed(0)
    model = build_model(ModelConfig(arch=arch, input_shape=(1, 28, 28), hidden=(64,), latent_dim=6, layers=3,
                                    likelihood=likelihood, num_classes=classes))
    x = torch.rand(4, 1, 28, 28)
    y = torch.tensor([1, 2, 3, 4]) if classes else None
    terms = negative_elbo(model, x, y)
    terms.loss.backward()
    assert torch.isfinite(terms.loss) and model.up_mu[-1].weight.grad.abs().sum() > 0  # the top layer learns
    assert model.down_mu[0].weight.grad.abs().sum() > 0  # and the generative step above the bottom layer
    assert torch.isfinite(iwae_log_px(model, x, y, 4)).all()
