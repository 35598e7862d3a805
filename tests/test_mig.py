"""MIG by disentanglement_lib's protocol (issue 11): 10,000 points, 20 equal-width bins, points reported.

The plug-in mutual information of a 20-bin latent with a factor of |v| values is biased upwards by about
19 (|v| - 1) / 2N nats, so the number of points decides how much a latent that knows nothing scores.
"""

import json

import numpy as np
import pytest
import torch

from trainer.cli import main
from trainer.config import DatasetSpec
from trainer.data.dataset import Dataset
from trainer.data.sprites import SPRITE_FACTOR_NAMES, SPRITE_FACTOR_SIZES
from trainer.analysis.metrics import MIG_BINS, MIG_POINTS, dataset_mig, evaluate, mig, mig_indices, mig_per_factor

SIZES = SPRITE_FACTOR_SIZES   # shape 3, scale 6, orientation 40, pos_x 32, pos_y 32
ORIENTATION = SPRITE_FACTOR_NAMES.index("orientation")


def _factors(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, s, n) for s in SIZES], axis=1)


def test_protocol_constants():
    assert (MIG_POINTS, MIG_BINS) == (10_000, 20)


def test_a_noisy_copy_of_the_factors_scores_high():
    factors = _factors(MIG_POINTS)
    rng = np.random.default_rng(1)
    # each factor in its own latent (scaled to similar spread), plus three latents of pure noise
    mu = factors / np.asarray(SIZES) + 0.002 * rng.standard_normal(factors.shape)
    mu = np.concatenate([mu, rng.standard_normal((len(mu), 3))], axis=1)
    gaps = mig_per_factor(mu, factors, SIZES)
    # 20 bins cannot hold all 40 orientations or 32 positions: at most log 20 / log |v| of their entropy
    assert gaps[0] > 0.95 and gaps[1] > 0.95
    assert gaps[ORIENTATION] == pytest.approx(np.log(20) / np.log(40), abs=0.03)
    assert mig(mu, factors, SIZES) > 0.85


def test_a_pure_noise_latent_scores_near_zero_at_10000_points_but_not_at_2000():
    rng = np.random.default_rng(2)
    scores, orientation_mi = {}, {}
    for n in (2000, MIG_POINTS):
        factors = _factors(n, seed=n)
        mu = rng.standard_normal((n, 1))   # one latent, so MIG is its (biased) MI over H: the bias shows whole
        scores[n] = mig(mu, factors, SIZES)
        orientation_mi[n] = mig_per_factor(mu, factors, SIZES)[ORIENTATION] * np.log(SIZES[ORIENTATION])
    assert orientation_mi[2000] > 0.12          # issue 11: ~0.16 nats of "information" about orientation
    assert orientation_mi[MIG_POINTS] < 0.05    # ~0.035 nats at 10,000 points
    assert scores[MIG_POINTS] < 0.01
    assert scores[2000] > 3 * scores[MIG_POINTS]


def test_points_are_the_held_out_split_plus_training_examples():
    test, train = mig_indices(2000, 18000)
    assert np.array_equal(test, np.arange(2000))
    assert len(train) == 8000 and len(np.unique(train)) == 8000 and np.all(np.diff(train) > 0)
    assert train.max() > 9000   # drawn from the whole training split, not its first rows
    assert np.array_equal(mig_indices(2000, 18000)[1], train)   # seeded: the same points every time
    test, train = mig_indices(300, 1000)
    assert (len(test), len(train)) == (300, 1000)   # too little data: everything there is
    test, train = mig_indices(25000, 5000)
    assert (len(test), len(train)) == (MIG_POINTS, 0) and len(np.unique(test)) == MIG_POINTS


class _IdModel:
    """A duck-typed model whose images carry their example id; its latent is chosen per id by `latent`.

    It records every id it encodes, so the test sees which examples MIG was estimated on.
    """

    def __init__(self, latent):
        self.latent = latent
        self.seen = []
        self.config = type("Config", (), {"latent_dim": latent.shape[1], "conditional": False})()

    def encode(self, x, y=None):
        pixels = torch.round(x.reshape(len(x), -1) * 255).long()
        ids = pixels[:, 0] + 256 * pixels[:, 1] + 65536 * pixels[:, 2]
        self.seen.extend(ids.tolist())
        mu = torch.from_numpy(self.latent[ids.numpy()]).float()
        return mu, torch.zeros_like(mu)


def _id_dataset(n_train, n_test, seed=3):
    """A Dataset of 1x2x2 uint8 images encoding ids 0..n_train+n_test-1 (test first), with sprite factors."""
    n = n_train + n_test
    ids = np.arange(n)
    x = np.stack([ids % 256, ids // 256 % 256, ids // 65536, np.zeros(n, np.int64)], axis=1)
    x = x.astype(np.uint8).reshape(n, 1, 2, 2)
    factors = _factors(n, seed)
    return Dataset(DatasetSpec(name="sprites"), x[n_test:], x[:n_test], None, None,
                   factors_train=factors[n_test:], factors_test=factors[:n_test],
                   factor_names=SPRITE_FACTOR_NAMES, factor_sizes=SIZES), factors


def test_dataset_mig_encodes_the_held_out_split_plus_training_examples():
    ds, factors = _id_dataset(n_train=18000, n_test=2000)
    noise = _IdModel(np.random.default_rng(4).standard_normal((20000, 1)))
    report = dataset_mig(noise, ds, "cpu")
    assert report["mig_points"] == MIG_POINTS == len(noise.seen) == len(set(noise.seen))
    assert set(range(2000)) <= set(noise.seen)   # every held-out example, then 8,000 training ones
    assert list(report["mig_per_factor"]) == list(SPRITE_FACTOR_NAMES)
    assert report["mig"] == pytest.approx(np.mean(list(report["mig_per_factor"].values())))
    json.dumps(report)   # plain numbers
    # the noise latent knows nothing: near 0 on 10,000 points, several times more on the held-out 2,000 alone
    assert report["mig"] < 0.01
    held_out_only = mig(noise.latent[:2000], ds.factors_test, SIZES)   # what eval reported before
    assert held_out_only > 3 * report["mig"]

    # a latent that copies the factors scores high through the same path
    copy = _IdModel(factors / np.asarray(SIZES) + 0.002 * np.random.default_rng(5).standard_normal(factors.shape))
    assert dataset_mig(copy, ds, "cpu")["mig"] > 0.85


def test_evaluate_reports_how_many_points_its_mig_used():
    ds, factors = _id_dataset(n_train=10, n_test=500)
    copy = _IdModel(factors / np.asarray(SIZES))
    copy.log_likelihood = lambda x, params: torch.zeros(len(x))
    copy.decode = lambda z, y=None: z
    r = evaluate(copy, ds.x_test, None, "cpu", factors=ds.factors_test, factor_sizes=SIZES)
    assert r["mig_points"] == r["n"] == 500 and r["mig"] > 0.5


def test_eval_reports_mig_with_its_points_and_per_factor_scores(tmp_path, capsys):
    out = tmp_path / "sprites.h5"
    assert main(["train", "--dataset", "sprites", "--limit", "300", "--epochs", "1", "--hidden", "32",
                 "--latent-dim", "4", "--device", "cpu", "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--device", "cpu", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # sprites: 20,000 drawn, 2,000 held out; the checkpoint's --limit keeps 300 training examples
    assert result["mig_points"] == 2000 + 300
    assert 0.0 <= result["mig"] <= 1.0
    assert set(result["mig_per_factor"]) == set(SPRITE_FACTOR_NAMES)
    assert main(["eval", str(out), "--device", "cpu"]) == 0
    human = capsys.readouterr().out
    assert "mig_points: 2300" in human and "orientation" in human
