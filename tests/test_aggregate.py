"""The aggregate posterior against the prior: exact plane densities, holes and their prior mass, and samples of a
mixture fitted to the means measured against prior samples. Checked against scipy and brute force, not against
the module itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import chi2, multivariate_normal, norm

from trainer.analysis import aggregate, holes
from trainer.analysis.aggregate import (AggregateStopped, compare_prior_and_aggregate, fit_aggregate, mean_spacing,
                                        nearest_mean_distance, prior_samples)
from trainer.analysis.holes import HoleMap, find_holes, holes_in_plane, marginal_density, prior_density

REPO = Path(__file__).resolve().parents[1]
DISC_MASS = chi2.cdf(9.0, df=2)  # N(0, I) mass inside the 3σ disc in 2-D: 1 - exp(-4.5)


def _mixture_pdf(points, mu, logvar, i, j):
    """q(z_i, z_j) at (M, 2) points as a plain sum of 2-D normals (scipy), one posterior at a time."""
    total = np.zeros(len(points))
    for m, lv in zip(mu, logvar):
        total += multivariate_normal(mean=[m[i], m[j]], cov=np.diag(np.exp([lv[i], lv[j]]))).pdf(points)
    return total / len(mu)


# --- marginal_density and prior_density ---------------------------------------------------------
def test_marginal_density_is_the_mixture_of_the_posteriors_marginals():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(7, 4)).astype(np.float32)
    logvar = rng.uniform(-2, 1, size=(7, 4)).astype(np.float32)
    xs = np.sort(rng.uniform(-3, 3, 9))  # uneven, and a different length from ys: rows and columns cannot swap
    ys = np.linspace(-2.5, 2.0, 6)
    q = marginal_density(mu, logvar, 2, 0, xs, ys)
    assert q.shape == (6, 9) and q.dtype == np.float64
    gx, gy = np.meshgrid(xs, ys)  # row r at z_j = ys[r], column c at z_i = xs[c]
    expected = _mixture_pdf(np.column_stack([gx.ravel(), gy.ravel()]), mu, logvar, 2, 0).reshape(6, 9)
    np.testing.assert_allclose(q, expected, rtol=1e-5)
    # one posterior term by hand with scipy's 1-D normal, point by point
    r, c = 4, 7
    by_hand = np.mean([norm.pdf(ys[r], mu[n, 0], np.exp(0.5 * logvar[n, 0]))
                       * norm.pdf(xs[c], mu[n, 2], np.exp(0.5 * logvar[n, 2])) for n in range(7)])
    assert q[r, c] == pytest.approx(by_hand, rel=1e-5)


def test_marginal_density_adds_its_chunks_up_to_the_same_grid(monkeypatch):
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(500, 3))
    logvar = rng.uniform(-3, 0, size=(500, 3))
    xs = np.linspace(-3, 3, 25)
    whole = marginal_density(mu, logvar, 0, 1, xs, xs)
    monkeypatch.setattr(holes, "CHUNK_BYTES", 8 * 50 * 37)  # 37 points a chunk: 14 chunks, the last short
    np.testing.assert_allclose(marginal_density(mu, logvar, 0, 1, xs, xs), whole, rtol=1e-12)


def test_marginal_density_integrates_to_one_over_a_wide_grid():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(300, 5))
    logvar = rng.uniform(np.log(0.05), np.log(0.5), size=(300, 5))
    grid = np.linspace(-9, 9, 361)
    q = marginal_density(mu, logvar, 4, 1, grid, grid)
    assert np.trapezoid(np.trapezoid(q, grid, axis=1), grid) == pytest.approx(1.0, abs=1e-3)


def test_one_standard_normal_posterior_is_the_prior():
    xs = np.linspace(-4, 4, 33)
    ys = np.linspace(-3, 5, 17)
    q = marginal_density(np.zeros((1, 2)), np.zeros((1, 2)), 0, 1, xs, ys)
    p = prior_density(xs, ys)
    gx, gy = np.meshgrid(xs, ys)
    np.testing.assert_allclose(p, multivariate_normal(mean=[0, 0]).pdf(np.dstack([gx, gy])), rtol=1e-12)
    np.testing.assert_allclose(q, p, rtol=1e-12)


def test_70k_points_on_a_160_grid_is_exact_where_checked():
    # the size the window asks for; spot-check a few cells against the plain sum (the time is in the report)
    rng = np.random.default_rng(3)
    mu = rng.normal(size=(70_000, 2)).astype(np.float32)
    logvar = rng.uniform(-3, 0, size=(70_000, 2)).astype(np.float32)
    grid = np.linspace(-4, 4, 160)
    q = marginal_density(mu, logvar, 1, 0, grid, grid)
    sigma = np.exp(0.5 * logvar.astype(np.float64))
    for r, c in [(80, 80), (20, 130)]:
        plain = np.mean(norm.pdf(grid[r], mu[:, 0], sigma[:, 0]) * norm.pdf(grid[c], mu[:, 1], sigma[:, 1]))
        assert q[r, c] == pytest.approx(plain, rel=1e-6)


# --- holes ---------------------------------------------------------------------------------------
def _corner_encoder(n=400, seed=4):
    """An encoder that sends every input near (+2, +2) with σ = 0.3: the rest of the prior is a hole."""
    rng = np.random.default_rng(seed)
    mu = 2.0 + 0.3 * rng.normal(size=(n, 2))
    return mu, np.full((n, 2), np.log(0.3 ** 2))


def test_means_in_one_corner_leave_most_of_the_prior_in_holes():
    mu, logvar = _corner_encoder()
    holes = holes_in_plane(mu, logvar, 0, 1)
    assert isinstance(holes, HoleMap) and holes.dims == (0, 1)
    assert holes.prior_mass_in_holes > 0.5
    assert holes.prior_mass_checked == pytest.approx(DISC_MASS, abs=2e-3)
    assert 0 <= holes.prior_mass_in_holes <= holes.prior_mass_checked
    centre = np.argmin(np.abs(holes.xs))
    corner = np.argmin(np.abs(holes.xs - 2.0))
    assert holes.holes[centre, centre]  # the prior's peak is never visited
    assert not holes.holes[corner, corner]  # where the encoder sends everything is no hole
    assert holes.log_ratio[centre, centre] < np.log(0.1) and holes.log_ratio[corner, corner] > 0
    assert np.isfinite(holes.log_ratio).all()
    assert not holes.holes[np.hypot(*np.meshgrid(holes.xs, holes.ys)) > 3.0].any()  # only inside the 3σ disc


def test_the_prior_mass_in_holes_matches_a_monte_carlo_estimate():
    # independent of the grid: sample the prior, evaluate q and p exactly at each sample, count the holes
    mu, logvar = _corner_encoder(n=60, seed=5)
    rng = np.random.default_rng(6)
    z = rng.standard_normal((20_000, 2))
    q = _mixture_pdf(z, mu, logvar, 0, 1)
    p = multivariate_normal(mean=[0, 0]).pdf(z)
    in_hole = (q < 0.1 * p) & (np.hypot(z[:, 0], z[:, 1]) <= 3.0)
    holes = holes_in_plane(mu, logvar, 0, 1, half_width=4.0, size=200)
    assert holes.prior_mass_in_holes == pytest.approx(in_hole.mean(), abs=0.015)  # MC standard error ~0.003


def test_an_aggregate_posterior_that_is_the_prior_has_no_holes():
    grid = np.linspace(-4, 4, 121)
    # every posterior is the prior itself
    same = find_holes(marginal_density(np.zeros((10, 3)), np.zeros((10, 3)), 0, 2, grid, grid),
                      prior_density(grid, grid), grid, grid)
    assert same.prior_mass_in_holes == 0.0 and not same.holes.any()
    np.testing.assert_allclose(same.log_ratio, 0.0, atol=1e-9)
    assert same.aggregate_mass_on_grid == pytest.approx(chi2.cdf(16.0, 1) ** 2, abs=1e-3)
    # means from N(0, 1 - s²) with posteriors of variance s²: the mixture is N(0, I) up to sampling noise
    rng = np.random.default_rng(7)
    s2 = 0.5
    mu = np.sqrt(1 - s2) * rng.standard_normal((5000, 3))
    logvar = np.full((5000, 3), np.log(s2))
    mixed = holes_in_plane(mu, logvar, 1, 0)
    assert mixed.prior_mass_in_holes < 0.01
    assert mixed.hole_share < 0.01


def test_find_holes_takes_its_ratio_and_radius():
    grid = np.linspace(-4, 4, 81)
    p = prior_density(grid, grid)
    q = 0.5 * p  # the encoder uses half the prior's density everywhere
    assert find_holes(q, p, grid, grid, ratio=0.1).prior_mass_in_holes == 0.0
    everywhere = find_holes(q, p, grid, grid, ratio=0.6)
    assert everywhere.prior_mass_in_holes == pytest.approx(DISC_MASS, abs=2e-3)
    assert everywhere.hole_share == pytest.approx(1.0)
    within_one = find_holes(q, p, grid, grid, ratio=0.6, radius=1.0)
    assert within_one.prior_mass_in_holes == pytest.approx(chi2.cdf(1.0, 2), abs=0.02)


# --- samples and distances -----------------------------------------------------------------------
def test_nearest_mean_distance_is_the_brute_force_minimum(monkeypatch):
    rng = np.random.default_rng(8)
    z = rng.normal(size=(64, 6))
    mu = rng.normal(size=(3000, 6)).astype(np.float32)
    expected = cdist(z, mu.astype(np.float64)).min(1)
    np.testing.assert_allclose(nearest_mean_distance(z, mu), expected, rtol=1e-9, atol=1e-9)
    monkeypatch.setattr(aggregate, "CHUNK_BYTES", 8 * 64 * 100)  # blocks of 100 means
    np.testing.assert_allclose(nearest_mean_distance(z, mu), expected, rtol=1e-9, atol=1e-9)
    assert nearest_mean_distance(mu[:5], mu) == pytest.approx(np.zeros(5), abs=1e-6)


def test_mean_spacing_skips_each_mean_itself_but_not_its_twin():
    rng = np.random.default_rng(9)
    mu = rng.normal(size=(300, 4))
    d = cdist(mu, mu)
    np.fill_diagonal(d, np.inf)
    assert mean_spacing(mu) == pytest.approx(d.min(1).mean(), rel=1e-9)
    twins = np.vstack([mu, mu[:30]])  # 30 inputs with the same mean as another: their spacing is 0
    d = cdist(twins, twins)
    np.fill_diagonal(d, np.inf)
    assert mean_spacing(twins) == pytest.approx(d.min(1).mean(), rel=1e-9)
    assert mean_spacing(twins) < mean_spacing(mu)


def test_samples_of_the_fit_land_near_means_that_cluster_away_from_the_origin():
    rng = np.random.default_rng(10)
    centres = np.array([[3.0] * 8, [-3.0] * 4 + [3.0] * 4])
    mu = (centres[rng.integers(0, 2, 3000)] + 0.3 * rng.normal(size=(3000, 8))).astype(np.float32)
    cmp = compare_prior_and_aggregate(mu, n=200, seed=0, n_components=4)
    assert cmp.prior_z.shape == cmp.aggregate_z.shape == (200, 8)
    assert cmp.prior_z.dtype == cmp.aggregate_z.dtype == np.float32
    np.testing.assert_allclose(cmp.prior_distance, cdist(cmp.prior_z, mu).min(1), rtol=1e-5)
    np.testing.assert_allclose(cmp.aggregate_distance, cdist(cmp.aggregate_z, mu).min(1), rtol=1e-5)
    assert cmp.prior_mean_distance == pytest.approx(cmp.prior_distance.mean())
    assert cmp.aggregate_mean_distance < 0.3 * cmp.prior_mean_distance
    # a fitted sample is about as far from the data as the data's own points are from each other; a prior one is not
    assert cmp.aggregate_mean_distance < 1.5 * cmp.mean_spacing
    assert cmp.prior_mean_distance > 3 * cmp.mean_spacing
    assert (cmp.n_components, cmp.n_points, cmp.seed) == (4, 3000, 0)


def test_samples_of_the_fit_are_as_close_as_the_prior_s_when_the_means_are_the_prior():
    mu = np.random.default_rng(11).standard_normal((3000, 6))
    cmp = compare_prior_and_aggregate(mu, n=300, seed=1, n_components=5)
    assert 0.85 < cmp.aggregate_mean_distance / cmp.prior_mean_distance < 1.15
    # a fitted mixture keeps the data's mean and covariance (EM does at its fixed point): so must its samples
    z = fit_aggregate(mu, n_components=5, seed=1).sample(20_000, seed=2)
    np.testing.assert_allclose(z.mean(0), mu.mean(0), atol=0.03)  # the draws' standard error is 0.007
    np.testing.assert_allclose(np.cov(z.T), np.cov(mu.T), atol=0.05)


def test_a_seed_reproduces_the_comparison_and_another_changes_it():
    mu = np.random.default_rng(12).normal(size=(500, 5)).astype(np.float32)
    a = compare_prior_and_aggregate(mu, n=16, seed=3, n_components=3)
    b = compare_prior_and_aggregate(mu, n=16, seed=3, n_components=3)
    c = compare_prior_and_aggregate(mu, n=16, seed=4, n_components=3)
    for field in ("prior_z", "aggregate_z", "prior_distance", "aggregate_distance"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert not np.array_equal(getattr(a, field), getattr(c, field))
    assert a.mean_spacing == b.mean_spacing
    # the prior draws are numpy's standard normals for that seed, as the docs say
    np.testing.assert_array_equal(a.prior_z, np.random.default_rng(3).standard_normal((16, 5)).astype(np.float32))
    np.testing.assert_array_equal(prior_samples(16, 5, seed=3), a.prior_z)


def test_the_fit_s_samples_are_not_grouped_by_component():
    rng = np.random.default_rng(13)
    mu = np.vstack([rng.normal(-5, 0.2, size=(200, 2)), rng.normal(5, 0.2, size=(200, 2))])
    z = fit_aggregate(mu, n_components=2, seed=0).sample(40, seed=0)
    side = z[:, 0] > 0
    assert 0 < side[:20].sum() < 20  # sklearn's own sample() would give all of one component first


def test_should_stop_ends_the_comparison_at_each_phase_and_progress_reaches_one():
    mu = np.random.default_rng(14).normal(size=(100, 3))
    fractions = []
    compare_prior_and_aggregate(mu, n=8, n_components=2,
                                progress=lambda message, fraction: fractions.append(fraction))
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    asked = []

    def stop_at(k):
        def should_stop():
            asked.append(k)
            return len([a for a in asked if a == k]) > k
        return should_stop

    phases = len(fractions) - 1  # a check before each reported phase
    for k in range(phases):
        with pytest.raises(AggregateStopped):
            compare_prior_and_aggregate(mu, n=8, n_components=2, should_stop=stop_at(k))
    compare_prior_and_aggregate(mu, n=8, n_components=2, should_stop=lambda: False)


def test_a_mixture_with_more_components_than_points_is_cut_to_the_points():
    mu = np.random.default_rng(15).normal(size=(6, 3))
    cmp = compare_prior_and_aggregate(mu, n=10, n_components=10)
    assert cmp.n_components == 6 and cmp.aggregate_z.shape == (10, 3)


# --- bad inputs ----------------------------------------------------------------------------------
GRID = np.linspace(-3, 3, 5)
MU = np.zeros((4, 3))


@pytest.mark.parametrize("call, message", [
    (lambda: marginal_density(np.zeros(4), np.zeros(4), 0, 1, GRID, GRID), "2-D array"),
    (lambda: marginal_density(MU, np.zeros((4, 2)), 0, 1, GRID, GRID), "same shape"),
    (lambda: marginal_density(MU, MU, 1, 1, GRID, GRID), "different latent dimensions"),
    (lambda: marginal_density(MU, MU, 0, 3, GRID, GRID), "j=3 is out of range"),
    (lambda: marginal_density(MU, MU, -1, 1, GRID, GRID), "i=-1 is out of range"),
    (lambda: marginal_density(MU, MU, 0.0, 1, GRID, GRID), "must be an integer"),
    (lambda: marginal_density(np.zeros((0, 3)), np.zeros((0, 3)), 0, 1, GRID, GRID), "at least 1 point, got 0"),
    (lambda: marginal_density(np.where(np.eye(4, 3), np.nan, 0), MU, 0, 1, GRID, GRID), "mu contains NaN"),
    (lambda: marginal_density(MU, np.full((4, 3), np.inf), 0, 1, GRID, GRID), "logvar contains NaN or infinite"),
    (lambda: marginal_density(MU, MU, 0, 1, np.zeros((2, 2)), GRID), "xs must be a non-empty 1-D"),
    (lambda: marginal_density(MU, MU, 0, 1, GRID, [np.nan]), "ys contains NaN"),
    (lambda: find_holes(np.zeros((5, 4)), prior_density(GRID, GRID), GRID, GRID), "q must have shape"),
    (lambda: find_holes(-prior_density(GRID, GRID), prior_density(GRID, GRID), GRID, GRID), "cannot be negative"),
    (lambda: find_holes(prior_density(GRID, GRID), prior_density(GRID, GRID), GRID[::-1], GRID), "increasing"),
    (lambda: find_holes(prior_density(GRID, GRID), prior_density(GRID, GRID), GRID, GRID, ratio=0), "ratio"),
    (lambda: holes_in_plane(MU, MU, 0, 1, size=1), "size"),
    (lambda: compare_prior_and_aggregate(np.zeros((1, 3))), "at least 2 points"),
    (lambda: compare_prior_and_aggregate(MU, n=0), "at least one sample"),
    (lambda: compare_prior_and_aggregate(MU, n_components=0), "n_components must be at least 1"),
    (lambda: compare_prior_and_aggregate(np.full((4, 3), np.nan)), "mu contains NaN"),
    (lambda: nearest_mean_distance(np.zeros((2, 4)), MU), "same number of latent dimensions"),
    (lambda: mean_spacing(np.zeros((1, 3))), "at least 2 points"),
])
def test_bad_inputs_raise_a_value_error_that_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_module_loads_no_qt_and_no_torch():
    # in a fresh interpreter: pytest-qt has already loaded PySide6 into this one
    code = ("import sys, numpy as np; "
            "from trainer.analysis.aggregate import compare_prior_and_aggregate; "
            "from trainer.analysis.holes import holes_in_plane; "
            "mu = np.random.default_rng(0).normal(size=(50, 3)); holes_in_plane(mu, mu * 0, 0, 1); "
            "compare_prior_and_aggregate(mu, n=4); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'explorer', 'torch')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
