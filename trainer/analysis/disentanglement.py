"""Disentanglement beside MIG: DCI, SAP and the FactorVAE score, on codes of data with ground-truth factors.

    dci(codes, factors)              # {"disentanglement", "completeness", "informativeness"} in [0, 1]
    sap(codes, factors)              # Separated Attribute Predictability in [0, 1]
    factorvae_score(codes, factors)  # majority-vote accuracy in [0, 1]
    dataset_disentanglement(model, dataset, device)   # all three on a Dataset's encoder means, with the counts

Each follows disentanglement_lib's protocol (Locatello et al. 2019), points and learners included:
- DCI (Eastwood & Williams 2018): one gradient-boosted classifier per factor predicts it from the codes; the
  importance matrix R (codes x factors) is their feature importances. Disentanglement is 1 − the entropy (base
  K) of each code's importance over the factors, weighted by the code's share of all importance; completeness
  is 1 − the entropy (base D) of each factor's importance over the codes, averaged; informativeness is the
  classifiers' mean test accuracy. 10,000 training and 5,000 test points.
- SAP (Kumar et al. 2018): for every code and factor, how well that one code predicts the factor: for a
  continuous factor the R² of a linear regression, for a categorical one the test accuracy of a linear SVM
  (C = 0.01, balanced classes; disentanglement_lib's discrete mode). SAP is the mean over factors of the gap
  between the best and second-best code's score. 10,000 training and 5,000 test points. A factor with at least
  CONTINUOUS_VALUES values counts as continuous (the sprites' scale, orientation and position; their shape is
  categorical): a one-code linear classifier cannot tell apart the middle values of an ordered factor, which
  held SAP near 0.15 even for codes that copy the factors.
- FactorVAE score (Kim & Mnih 2018): codes are divided by their standard deviation over 10,000 points and
  dimensions with variance below 0.05 are dropped; each vote fixes one factor, takes a batch of 64 codes whose
  examples share that factor's value, and names the dimension of least variance; a majority-vote classifier
  from dimension to factor is fitted on 10,000 votes and scored on 5,000 others. disentanglement_lib renders the
  batch from the factors; here it is drawn from the encoded examples that share the value (sprites are
  sampled uniformly over their factors, so each value has hundreds of examples).
Fewer points than these are used when the data has fewer; every result says how many it used.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

DCI_TRAIN, DCI_TEST = 10_000, 5_000
SAP_TRAIN, SAP_TEST = 10_000, 5_000
PROTOCOL_POINTS = DCI_TRAIN + DCI_TEST
"""Examples the metrics are computed on by disentanglement_lib's protocol."""
CONTINUOUS_VALUES = 5
"""A factor with at least this many values is continuous for SAP (R² of a regression, not a classifier)."""
FACTORVAE_BATCH = 64
FACTORVAE_TRAIN, FACTORVAE_EVAL, FACTORVAE_VARIANCE = 10_000, 5_000, 10_000
FACTORVAE_PRUNE = 0.05
"""Dimensions whose variance (in units of their own std over the data) is below this are inactive."""


def _check(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors) or len(codes) < 4:
        raise ValueError(f"need (N, D) codes and (N, K) factors with N >= 4, got {codes.shape} and {factors.shape}")
    if not np.isfinite(codes).all():
        raise ValueError("codes must be finite")
    return codes, factors.astype(np.int64)


def _split(n: int, n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random train and test indices, at most n_train + n_test in all, in the same 2:1 ratio if short."""
    order = np.random.default_rng(seed).permutation(n)
    if n < n_train + n_test:
        n_train = int(round(n * n_train / (n_train + n_test)))
        n_test = n - n_train
    return order[:n_train], order[n_train:n_train + n_test]


def _entropy_normalised(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy of each distribution along `axis`, in units of log(its length): 0 = one-hot, 1 = uniform."""
    k = p.shape[axis]
    if k < 2:
        return np.zeros(p.shape[1 - axis])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    return -terms.sum(axis) / math.log(k)


def dci(codes, factors, n_train: int = DCI_TRAIN, n_test: int = DCI_TEST, seed: int = 0,
        should_stop: Callable[[], bool] | None = None) -> dict:
    """DCI disentanglement, completeness and informativeness (see the module docstring)."""
    from sklearn.ensemble import GradientBoostingClassifier

    codes, factors = _check(codes, factors)
    train, test = _split(len(codes), n_train, n_test, seed)
    d, k = codes.shape[1], factors.shape[1]
    importance = np.zeros((d, k))
    accuracy = []
    for j in range(k):
        if should_stop is not None and should_stop():
            from trainer.errors import Stopped

            raise Stopped("DCI stopped")
        y_train, y_test = factors[train, j], factors[test, j]
        if len(np.unique(y_train)) < 2:
            continue  # a factor constant in these points: nothing to predict, no importance
        model = GradientBoostingClassifier(random_state=seed)
        model.fit(codes[train], y_train)
        importance[:, j] = np.abs(model.feature_importances_)
        accuracy.append(float(np.mean(model.predict(codes[test]) == y_test)))
    return {**dci_from_importance(importance), "informativeness": float(np.mean(accuracy)) if accuracy else math.nan,
            "points": int(len(train) + len(test))}


def dci_from_importance(importance: np.ndarray) -> dict:
    """Disentanglement and completeness of an importance matrix R (codes x factors, non-negative)."""
    r = np.asarray(importance, dtype=np.float64)
    total = r.sum()
    if total <= 0:
        return {"disentanglement": 0.0, "completeness": 0.0}
    per_code = r.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_codes = np.where(per_code[:, None] > 0, r / per_code[:, None], 0.0)  # each code over the factors
        per_factor = r.sum(0)
        p_factors = np.where(per_factor[None, :] > 0, r / per_factor[None, :], 0.0)  # each factor over codes
    disentanglement = float(np.sum((1 - _entropy_normalised(p_codes, axis=1)) * per_code / total))
    scored = per_factor > 0
    completeness = float(np.mean((1 - _entropy_normalised(p_factors, axis=0))[scored])) if scored.any() else 0.0
    return {"disentanglement": disentanglement, "completeness": completeness}


def sap(codes, factors, n_train: int = SAP_TRAIN, n_test: int = SAP_TEST, seed: int = 0,
        continuous=None) -> dict:
    """SAP: the mean gap between the two single codes that predict each factor best (see the module docstring).

    continuous: a bool per factor (or one for all); None decides by the number of values (CONTINUOUS_VALUES)."""
    codes, factors = _check(codes, factors)
    train, test = _split(len(codes), n_train, n_test, seed)
    d, k = codes.shape[1], factors.shape[1]
    if continuous is None:
        continuous = [len(np.unique(factors[:, j])) >= CONTINUOUS_VALUES for j in range(k)]
    elif isinstance(continuous, bool):
        continuous = [continuous] * k
    scores = np.full((d, k), math.nan)
    for j in range(k):
        if len(np.unique(factors[train, j])) < 2:
            continue  # constant in these points: nothing to predict
        for i in range(d):
            scores[i, j] = _one_code_score(codes[train, i], factors[train, j], codes[test, i], factors[test, j],
                                           bool(continuous[j]))
    gaps = []
    for j in range(k):
        column = np.sort(scores[:, j])[::-1]
        if np.isfinite(column).all():
            gaps.append(column[0] - (column[1] if d > 1 else 0.0))
    return {"sap": float(np.mean(gaps)) if gaps else math.nan, "points": int(len(train) + len(test))}


def _one_code_score(x_train, y_train, x_test, y_test, continuous: bool) -> float:
    """How well one code predicts a factor: R² of a least-squares line (continuous), or a linear SVM's test
    accuracy (categorical)."""
    if continuous:
        a = np.stack([x_train, np.ones_like(x_train)], 1)
        coef, *_ = np.linalg.lstsq(a, y_train.astype(np.float64), rcond=None)
        residual = y_test - (coef[0] * x_test + coef[1])
        spread = np.var(y_test)
        return float(max(0.0, 1 - np.mean(residual**2) / spread)) if spread > 0 else 0.0
    from sklearn.svm import LinearSVC

    svm = LinearSVC(C=0.01, class_weight="balanced")
    svm.fit(x_train[:, None], y_train)
    return float(np.mean(svm.predict(x_test[:, None]) == y_test))


def factorvae_score(codes, factors, batch_size: int = FACTORVAE_BATCH, n_train: int = FACTORVAE_TRAIN,
                    n_eval: int = FACTORVAE_EVAL, n_variance: int = FACTORVAE_VARIANCE, seed: int = 0) -> dict:
    """The FactorVAE majority-vote accuracy (see the module docstring); `votes` says how many it used."""
    codes, factors = _check(codes, factors)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(codes), size=min(len(codes), n_variance), replace=False)
    scale = codes[sample].std(0)
    active = scale > 0
    scale = np.where(active, scale, 1.0)
    normalised = codes / scale
    active &= normalised[sample].var(0) >= FACTORVAE_PRUNE
    if not active.any():
        return {"factorvae_score": 0.0, "active_dims": 0, "votes": 0}
    # examples by (factor, value): a vote draws its batch from those sharing the fixed factor's value
    pools = [{v: np.flatnonzero(factors[:, j] == v) for v in np.unique(factors[:, j])} for j in range(factors.shape[1])]
    varying = [j for j, pool in enumerate(pools) if len(pool) > 1]
    if not varying:
        raise ValueError("factorvae_score: every factor is constant in this data")
    dims = np.flatnonzero(active)

    def votes(n: int) -> np.ndarray:
        out = np.empty((n, 2), dtype=np.int64)
        for t in range(n):
            j = varying[rng.integers(len(varying))]
            anchor = factors[rng.integers(len(factors)), j]
            pool = pools[j][anchor]
            batch = rng.choice(pool, size=batch_size, replace=len(pool) < batch_size)
            var = normalised[batch][:, dims].var(0)
            out[t] = (dims[np.argmin(var)], j)
        return out

    train, test = votes(n_train), votes(n_eval)
    counts = np.zeros((codes.shape[1], factors.shape[1]), dtype=np.int64)
    np.add.at(counts, (train[:, 0], train[:, 1]), 1)
    predicted = counts.argmax(1)  # each dimension's majority factor
    accuracy = float(np.mean(predicted[test[:, 0]] == test[:, 1]))
    return {"factorvae_score": accuracy, "active_dims": int(active.sum()), "votes": int(n_train + n_eval)}


def dataset_disentanglement(model, dataset, device, points: int = PROTOCOL_POINTS, seed: int = 0,
                            batch_size: int = 1024) -> dict:
    """DCI, SAP and the FactorVAE score of a model's encoder means on a dataset with ground-truth factors.

    Encodes up to `points` examples, held-out first (as MIG does, trainer.analysis.metrics.mig_indices), and
    returns plain numbers: dci_disentanglement, dci_completeness, dci_informativeness, sap, factorvae_score,
    disentanglement_points (the examples encoded)."""
    from trainer.analysis.metrics import encode_factor_points

    codes, factors = encode_factor_points(model, dataset, device, points, seed, batch_size,
                                          "disentanglement metrics")
    scores = dci(codes, factors, seed=seed)
    return {"dci_disentanglement": scores["disentanglement"], "dci_completeness": scores["completeness"],
            "dci_informativeness": scores["informativeness"], "sap": sap(codes, factors, seed=seed)["sap"],
            "factorvae_score": factorvae_score(codes, factors, seed=seed)["factorvae_score"],
            "disentanglement_points": int(len(codes))}
