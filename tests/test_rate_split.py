"""The rate split I(X; Z) + KL(q(z) ‖ p(z)) against closed forms: linear-Gaussian posteriors, where the aggregate
posterior is Gaussian and every part has a formula, and the extreme cases (no information, all information)."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.analysis.rate_split import rate_split
from trainer.errors import ConfigError, Stopped


def linear_gaussian(n: int, seed: int = 0):
    """x ~ N(0, C) in 2-D, q(z|x) = N(W x + b, S) with diagonal S: z's aggregate is N(b, W C Wᵀ + S)."""
    rng = np.random.default_rng(seed)
    c = np.array([[1.0, 0.3], [0.3, 0.8]])
    w = np.array([[1.2, 0.5], [-0.4, 0.9]])
    b = np.array([0.3, -0.2])
    s = np.array([0.5, 0.3])
    x = rng.multivariate_normal(np.zeros(2), c, size=n)
    mu = x @ w.T + b
    logvar = np.tile(np.log(s), (n, 1))
    cov = w @ c @ w.T + np.diag(s)
    return mu, logvar, cov, b, s


def closed_forms(cov, b, s) -> dict:
    _, logdet = np.linalg.slogdet(cov)
    info = 0.5 * logdet - 0.5 * np.log(s).sum()
    d = len(b)
    marginal_kl = 0.5 * (np.trace(cov) + b @ b - d - logdet)
    tc = 0.5 * (np.log(np.diag(cov)).sum() - logdet)
    return {"mutual_information": info, "marginal_kl": marginal_kl, "total_correlation": tc,
            "dimwise_kl": marginal_kl - tc}


def test_linear_gaussian_information_matches_its_closed_form_within_five_hundredths_of_a_nat():
    mu, logvar, cov, b, s = linear_gaussian(12_000)
    split = rate_split(mu, logvar, draws=2, seed=1)
    exact = closed_forms(cov, b, s)
    assert split.mutual_information == pytest.approx(exact["mutual_information"], abs=0.05)
    assert split.total_correlation == pytest.approx(exact["total_correlation"], abs=0.05)
    assert split.marginal_kl == pytest.approx(exact["marginal_kl"], abs=0.05)
    assert split.dimwise_kl == pytest.approx(exact["dimwise_kl"], abs=0.05)
    assert split.n == 12_000 and split.log_n == pytest.approx(np.log(12_000))


def test_the_parts_add_up_to_the_rate():
    mu, logvar, *_ = linear_gaussian(3000, seed=2)
    split = rate_split(mu, logvar, seed=3)
    # per draw the parts telescope to log q(z|x) - log p(z): their sum is the Monte Carlo rate, to rounding
    assert split.mutual_information + split.total_correlation + split.dimwise_kl == pytest.approx(split.rate_mc,
                                                                                                 abs=1e-9)
    assert split.mutual_information + split.marginal_kl == pytest.approx(split.rate_mc, abs=1e-9)
    # and the Monte Carlo rate estimates the closed-form one: a few standard errors of one draw per example
    kl = 0.5 * (mu**2 + np.exp(logvar) - 1 - logvar).sum(1)
    assert split.rate == pytest.approx(kl.mean())
    assert abs(split.rate_mc - split.rate) < 4 * 1.5 / np.sqrt(len(mu))


def test_posteriors_equal_to_the_prior_carry_no_information():
    n = 2000
    split = rate_split(np.zeros((n, 3)), np.zeros((n, 3)), seed=0)
    assert split.rate == 0.0
    for part in (split.mutual_information, split.marginal_kl, split.total_correlation, split.dimwise_kl):
        assert abs(part) < 1e-9


def test_the_information_never_exceeds_log_n_and_reaches_it_for_sharp_separate_codes():
    rng = np.random.default_rng(0)
    n = 500
    mu = rng.normal(scale=3.0, size=(n, 4))
    sharp = rate_split(mu, np.full((n, 4), np.log(1e-6)), seed=0)
    assert sharp.mutual_information <= sharp.log_n + 1e-9
    assert sharp.mutual_information == pytest.approx(np.log(n), abs=0.01)  # each code names its example
    assert sharp.marginal_kl == pytest.approx(sharp.rate - np.log(n), abs=0.1)  # the rest of the rate: q(z) vs p(z)
    blurry = rate_split(mu, np.full((n, 4), np.log(4.0)), seed=0)
    assert 0 < blurry.mutual_information < sharp.mutual_information


def test_a_cvae_counts_only_the_information_beyond_the_label():
    rng = np.random.default_rng(4)
    n = 3000
    y = rng.integers(0, 3, size=n)
    centres = np.array([[-3.0, 0.0], [0.0, 3.0], [3.0, 0.0]])
    mu = centres[y]  # z says which class, and nothing else about x
    logvar = np.full((n, 2), np.log(0.2))
    unconditional = rate_split(mu, logvar, seed=0)
    given_y = rate_split(mu, logvar, labels=y, seed=0)
    assert unconditional.mutual_information == pytest.approx(np.log(3), abs=0.05)  # the label's entropy
    assert abs(given_y.mutual_information) < 1e-9
    assert given_y.log_n == pytest.approx(np.mean(np.log(np.bincount(y)[y])))


def test_small_chunks_give_the_same_numbers(monkeypatch):
    import trainer.analysis.rate_split as module

    mu, logvar, *_ = linear_gaussian(700, seed=5)
    whole = rate_split(mu, logvar, draws=2, seed=9)
    monkeypatch.setattr(module, "CHUNK_ELEMENTS", 64)
    chunked = rate_split(mu, logvar, draws=2, seed=9)
    # a block's shape may change the order of its sums: each log-sum adds N = 700 terms of magnitude below 50
    # (log densities, nats), so the orders differ by at most 700 x 50 x 2.2e-16 ~ 1e-11 per example, and so do means
    chunked_parts, whole_parts = chunked.to_dict(), whole.to_dict()
    assert chunked_parts.pop("layers") == whole_parts.pop("layers") == ()  # one layer: no per-layer parts
    assert chunked_parts == pytest.approx(whole_parts, rel=0, abs=1e-10)


def _reference_parts(mu, logvar, eps, labels=None):
    """The rate split's per-example terms by brute force: every (draw, posterior) pair in one (N, N, D) array,
    summed with numpy's logaddexp, each z against the posteriors of its own class."""
    n, d = mu.shape
    group = np.zeros(n, dtype=int) if labels is None else np.asarray(labels)
    terms = {"I": [], "TC": [], "dimwise": [], "I_half": []}
    for e in eps:
        z = mu + np.exp(0.5 * logvar) * e
        pair = -0.5 * (np.log(2 * np.pi) + logvar[None] + (z[:, None] - mu[None]) ** 2 / np.exp(logvar)[None])
        same = group[:, None] == group[None, :]
        pair = np.where(same[:, :, None], pair, -np.inf)  # (i, m, j): log q(z_ij | x_m), own class only
        n_y = same.sum(1)
        log_qzx = np.diagonal(pair.sum(2))
        log_qz = np.logaddexp.reduce(pair.sum(2), axis=1) - np.log(n_y)
        log_qz_dims = np.logaddexp.reduce(pair, axis=1) - np.log(n_y)[:, None]
        log_pz = -0.5 * (np.log(2 * np.pi) + z**2)
        terms["I"].append(log_qzx - log_qz)
        terms["TC"].append(log_qz - log_qz_dims.sum(1))
        terms["dimwise"].append((log_qz_dims - log_pz).sum(1))
        even = np.arange(0, n, 2)
        joint_even = np.logaddexp.reduce(pair[even][:, even].sum(2), axis=1) - np.log(same[even][:, even].sum(1))
        terms["I_half"].append(log_qzx[even] - joint_even)
    return {k: np.mean(v, axis=0) for k, v in terms.items()}


@pytest.mark.parametrize("labels", [None, "classes"])
def test_the_split_equals_a_brute_force_pairwise_sum(labels):
    import torch

    rng = np.random.default_rng(11)
    n, d = 61, 4
    mu = rng.normal(scale=1.5, size=(n, d))
    logvar = rng.normal(scale=1.5, size=(n, d)) - 2
    y = rng.integers(0, 3, size=n) if labels else None
    split = rate_split(mu, logvar, labels=y, draws=2, seed=5)
    eps = torch.randn(2, n, d, generator=torch.Generator().manual_seed(5), dtype=torch.float64).numpy()
    ref = _reference_parts(mu, logvar, eps, y)
    # float64 sums of at most 61 terms below 100 nats: agreement far inside 1e-9
    assert split.mutual_information == pytest.approx(ref["I"].mean(), rel=0, abs=1e-9)
    assert split.total_correlation == pytest.approx(ref["TC"].mean(), rel=0, abs=1e-9)
    assert split.dimwise_kl == pytest.approx(ref["dimwise"].mean(), rel=0, abs=1e-9)
    assert split.mutual_information_at_half_n == pytest.approx(ref["I_half"].mean(), rel=0, abs=1e-9)
    assert split.mutual_information_se == pytest.approx(ref["I"].std(ddof=1) / np.sqrt(n), rel=1e-9)


@pytest.mark.parametrize("labels", [None, "classes"])
def test_a_hierarchy_split_equals_a_brute_force_pairwise_sum(labels):
    import torch

    from trainer.analysis.rate_split import path_rate_split
    from trainer.config import ModelConfig
    from trainer.model.hierarchy import build_model, merge_gaussians, to_prior_coordinates

    torch.manual_seed(0)
    model = build_model(ModelConfig(input_shape=(1, 6, 6), hidden=(16,), latent_dim=3, layers=2)).eval()
    n = 41
    x = (torch.rand(n, 1, 6, 6) < 0.3).float()
    with torch.no_grad():
        path = {k: v.double() for k, v in model.path(x, None, torch.randn(n, sum(model.dims))).items()}
    y = np.random.default_rng(2).integers(0, 3, size=n) if labels else None
    split = path_rate_split({k: v.numpy() for k, v in path.items()}, model.dims, labels=y)
    # every (path i, example m) pair: q(u | path i, x_m) merges x_m's bottom-up Gaussian with path i's priors
    mu_q, logvar_q = to_prior_coordinates(*merge_gaussians(path["mu_d"][None], path["logvar_d"][None],
                                                          path["mu_p"][:, None], path["logvar_p"][:, None]),
                                          path["mu_p"][:, None], path["logvar_p"][:, None])
    u = path["u"].numpy()
    pair = (-0.5 * (np.log(2 * np.pi) + logvar_q.numpy() + (u[:, None] - mu_q.numpy()) ** 2
                    / np.exp(logvar_q.numpy())))  # (i, m, D)
    group = np.zeros(n, dtype=int) if y is None else y
    same = group[:, None] == group[None, :]
    own = -0.5 * (np.log(2 * np.pi) + path["logvar_u"].numpy()
                  + (u - path["mu_u"].numpy()) ** 2 / np.exp(path["logvar_u"].numpy()))
    bottom = model.dims[0]
    joint = np.logaddexp.reduce(np.where(same, pair.sum(2), -np.inf), axis=1) - np.log(same.sum(1))
    top = np.logaddexp.reduce(np.where(same, pair[:, :, bottom:].sum(2), -np.inf), axis=1) - np.log(same.sum(1))
    info_bottom = own[:, :bottom].sum(1) - (joint - top)  # I(X; U_1 | U_2)
    info_top = own[:, bottom:].sum(1) - top  # I(X; U_2)
    assert split.mutual_information == pytest.approx((own.sum(1) - joint).mean(), rel=0, abs=1e-9)
    assert split.layers[0]["mutual_information"] == pytest.approx(info_bottom.mean(), rel=0, abs=1e-9)
    assert split.layers[1]["mutual_information"] == pytest.approx(info_top.mean(), rel=0, abs=1e-9)


def test_bad_input_and_a_stop_are_clear():
    with pytest.raises(ConfigError, match="N >= 2"):
        rate_split(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ConfigError, match="finite"):
        rate_split(np.array([[0.0], [np.nan]]), np.zeros((2, 1)))
    with pytest.raises(ConfigError, match="labels"):
        rate_split(np.zeros((3, 1)), np.zeros((3, 1)), labels=[0, 1])
    with pytest.raises(Stopped):
        rate_split(np.zeros((10, 2)), np.zeros((10, 2)), should_stop=lambda: True)


def test_every_epoch_splits_the_held_out_rate_and_the_checkpoint_keeps_it(tmp_path):
    from trainer.checkpoints.hdf5 import load_checkpoint, save_checkpoint
    from trainer.config import DatasetSpec, TrainConfig
    from trainer.data import load_dataset
    from trainer.model.vae import model_config_for
    from trainer.training.loop import Trainer
    from trainer.training.reports import EpochReport

    data = load_dataset(DatasetSpec(name="sprites", n=400, image_size=28, seed=1))
    trainer = Trainer(model_config_for(data, hidden=(32,), latent_dim=3), TrainConfig(epochs=2, batch_size=64), data)
    epochs = [r for r in trainer.run() if isinstance(r, EpochReport)]
    assert len(epochs) == 2
    for report in epochs:
        split = report.rate_split
        assert split["n"] == len(data.x_test) and 0 <= split["mutual_information"] <= split["log_n"] + 1e-9
        assert split["mutual_information"] + split["marginal_kl"] == pytest.approx(report.test_kl, abs=1.0)
    save_checkpoint(tmp_path / "run.h5", trainer.checkpoint())
    history = load_checkpoint(tmp_path / "run.h5").history
    assert list(history["rate_split/epoch"]) == [1, 2]
    assert list(history["rate_split/mutual_information"]) == [r.rate_split["mutual_information"] for r in epochs]
    assert len(history["epochs/epoch"]) == 2  # the epochs group itself is as it was
