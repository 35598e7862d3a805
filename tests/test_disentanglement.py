"""DCI, SAP and the FactorVAE score on synthetic codes whose answer is known: factors copied into the codes
(near 1), codes of pure noise (near 0, or chance for FactorVAE's classifier), and a rotation mixing two factors
(in between)."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.analysis.disentanglement import dci, dci_from_importance, factorvae_score, sap

N, VALUES, FACTORS = 1800, 6, 3
SMALL = dict(n_train=1200, n_test=600)


@pytest.fixture(scope="module")
def cases():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, VALUES, size=(N, FACTORS))
    centred = (factors - (VALUES - 1) / 2) / VALUES
    copied = centred + rng.normal(scale=0.02, size=centred.shape)
    noise = rng.normal(size=(N, FACTORS))
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    rotation = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])  # factors 0 and 1 mixed half and half
    rotated = copied @ rotation.T
    return factors, {"copied": copied, "noise": noise, "rotated": rotated}


@pytest.fixture(scope="module")
def scores(cases):
    factors, codes = cases
    # SAP's "continuous" protocol here: these codes know their six-valued factors perfectly, which the published
    # (discrete) protocol's one-code classifier cannot show (tests/test_disentanglement_protocol.py checks that)
    return {name: {**dci(c, factors, **SMALL), **sap(c, factors, **SMALL, protocol="continuous"),
                   **factorvae_score(c, factors, n_train=1500, n_eval=800, n_variance=N)}
            for name, c in codes.items()}


def test_dci_is_near_one_for_copied_factors_near_zero_for_noise_and_between_for_a_rotation(scores):
    copied, noise, rotated = scores["copied"], scores["noise"], scores["rotated"]
    assert copied["disentanglement"] > 0.9 and copied["completeness"] > 0.9 and copied["informativeness"] > 0.95
    assert noise["disentanglement"] < 0.1 and noise["completeness"] < 0.1
    assert noise["informativeness"] < 0.35  # chance is 1/6
    assert 0.2 < rotated["disentanglement"] < copied["disentanglement"] - 0.2
    assert 0.2 < rotated["completeness"] < copied["completeness"] - 0.2
    assert copied["points"] == 1800


def test_sap_is_near_one_for_copied_factors_near_zero_for_noise_and_between_for_a_rotation(scores):
    # six ordered values, scored as continuous: each code's squared correlation with the factor
    assert scores["copied"]["sap"] > 0.95  # one code predicts each factor; any other explains nothing
    assert scores["noise"]["sap"] < 0.05
    assert 0.2 < scores["rotated"]["sap"] < 0.45  # factors 0 and 1 shared by two codes (gap 0), factor 2 not: ~1/3


def test_sap_on_categorical_factors_uses_a_classifier_and_its_gap_over_chance():
    rng = np.random.default_rng(1)
    factors = rng.integers(0, 2, size=(1200, 2))
    copied = factors + rng.normal(scale=0.05, size=factors.shape)
    score = sap(copied, factors, n_train=800, n_test=400)["sap"]
    assert score == pytest.approx(0.5, abs=0.05)  # best code: accuracy 1; the other: chance, 1/2
    assert sap(rng.normal(size=(1200, 2)), factors, n_train=800, n_test=400)["sap"] < 0.05


def test_the_factorvae_score_is_near_one_for_copied_factors_and_chance_for_noise(scores):
    assert scores["copied"]["factorvae_score"] > 0.95
    # a majority-vote classifier is never worse than always naming the most frequent factor: with noise codes
    # the votes carry nothing, so it sits at chance, 1/3 for three factors
    assert scores["noise"]["factorvae_score"] < 0.5
    assert 0.5 < scores["rotated"]["factorvae_score"] < scores["copied"]["factorvae_score"] - 0.1
    assert scores["copied"]["active_dims"] == 3 and scores["copied"]["votes"] == 2300


def test_dci_from_a_known_importance_matrix():
    assert dci_from_importance(np.eye(3)) == {"disentanglement": 1.0, "completeness": 1.0}
    spread = dci_from_importance(np.ones((3, 3)))
    assert spread["disentanglement"] == pytest.approx(0.0) and spread["completeness"] == pytest.approx(0.0)
    # one code knows two factors equally: that code is half-disentangled (entropy log 2 / log 3)
    half = dci_from_importance(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]))
    assert half["disentanglement"] == pytest.approx((2 / 3) * (1 - np.log(2) / np.log(3)) + 1 / 3)


def test_bad_codes_are_refused():
    with pytest.raises(ValueError, match="codes"):
        dci(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="finite"):
        sap(np.full((10, 2), np.nan), np.zeros((10, 1)))
