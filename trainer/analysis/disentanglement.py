"""Disentanglement beside MIG: DCI, SAP and the FactorVAE score, on codes of data with ground-truth factors.

    dci(codes, factors)              # {"disentanglement", "completeness", "informativeness" (+ _se)} in [0, 1]
    sap(codes, factors)              # Separated Attribute Predictability in [0, 1], with its protocol and SE
    factorvae_score(codes, factors)  # majority-vote accuracy in [0, 1], with its SE and the active dimensions
    dataset_disentanglement(model, dataset, device)   # all three on a Dataset's encoder means, with the counts

By default each follows disentanglement_lib's protocol (Locatello et al. 2019, the study's gin configs), points and
learners included; a variant is a named option:
- DCI (Eastwood & Williams 2018): one gradient-boosted classifier per factor predicts it from the codes; the
  importance matrix R (codes x factors) is their feature importances. Disentanglement is 1 − the entropy (base
  K) of each code's importance over the factors, weighted by the code's share of all importance; completeness
  is 1 − the entropy (base D) of each factor's importance over the codes, averaged; informativeness is the
  classifiers' mean test accuracy. 10,000 training and 5,000 test points.
- SAP (Kumar et al. 2018): a score for every code and factor, how well that one code predicts the factor; SAP is
  the mean over factors of the gap between the best and second-best code's score. `protocol` names the score:
    "discrete" (the default; disentanglement_lib's study, sap_score.continuous_factors = False): every factor,
      whatever its number of values, is a class label; the score is the test accuracy of a linear SVM (C = 0.01,
      balanced classes) fitted on that one code. 10,000 training and 5,000 test points. A one-code linear
      classifier cannot tell apart the middle values of an ordered factor, so even a code that copies the
      factors scores far below 1 (0.25 for unit-variance copies of dSprites' factors; with C fixed, the score
      depends on the codes' scale): that is the published number.
    "continuous" (disentanglement_lib's continuous_factors = True): the squared correlation cov² / (var_code ·
      var_factor) of the code with the factor's value index, on the 10,000 training points (the R² of a
      least-squares line); a code that varies by less than 1e-12 scores 0.
    "mixed" (this tool's variant, not in a paper): "continuous" for factors with at least CONTINUOUS_VALUES values
      (the sprites' scale, orientation and position), "discrete" for the others (their shape).
  Every result names its protocol ("sap_protocol"), so a number is never put beside a paper's by mistake.
- FactorVAE score (Kim & Mnih 2018): each dimension's variance over 10,000 points (ddof 1); dimensions whose
  standard deviation is below 0.05 (in the code's own units, prune_dims.threshold) are dropped as collapsed.
  Each vote fixes one factor, takes a batch of 64 codes whose examples share that factor's value, and names the
  active dimension of least variance (ddof 1) relative to its variance over the data; a majority-vote classifier
  from dimension to factor is fitted on 10,000 votes and scored on 5,000 others (a dimension never voted for
  names the first factor, as disentanglement_lib's argmax over a column of zeros does). disentanglement_lib
  renders the batch from the factors; here it is drawn from the encoded examples that share the value (sprites
  are sampled uniformly over their factors, so each value has hundreds of examples). `active_dims` counts the
  dimensions kept (disentanglement_lib's num_active_dims reports the number of all dimensions instead).
Fewer points than these are used when the data has fewer; every result says how many it used.

Standard errors cover the sampling of the points a score is measured on, with the fitted learners held fixed;
none covers the variation over training seeds (a sweep's spread over seeds does):
- factorvae_score_se: binomial, sqrt(p (1 − p) / n_eval), over the evaluation votes;
- sap_se: a bootstrap (SAP_BOOTSTRAP replicates) over the test points (discrete factors) and the training points
  (continuous ones), the best and second-best codes chosen again in each replicate;
- informativeness_se (DCI): the standard error of the mean over test points of each point's share of factors
  predicted correctly.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

DCI_TRAIN, DCI_TEST = 10_000, 5_000
SAP_TRAIN, SAP_TEST = 10_000, 5_000
PROTOCOL_POINTS = DCI_TRAIN + DCI_TEST  # trainer.config.DISENTANGLEMENT_POINTS, the options' default
"""Examples the metrics are computed on by disentanglement_lib's protocol."""
CONTINUOUS_VALUES = 5
"""SAP's "mixed" protocol: a factor with at least this many values is scored as continuous."""
SAP_PROTOCOLS = {
    "discrete": "discrete (disentanglement_lib)",
    "continuous": "continuous (disentanglement_lib)",
    "mixed": f"mixed (this tool's: continuous for factors of >= {CONTINUOUS_VALUES} values, else discrete)",
}
"""SAP's protocols by name (see the module docstring), and how a result names the one that produced it."""
SAP_PROTOCOL = "discrete"
"""The published protocol: disentanglement_lib's study scores every factor with its discrete classifier."""
SAP_BOOTSTRAP = 200
"""Bootstrap replicates behind sap_se."""
FACTORVAE_BATCH = 64
FACTORVAE_TRAIN, FACTORVAE_EVAL, FACTORVAE_VARIANCE = 10_000, 5_000, 10_000
FACTORVAE_PRUNE = 0.05
"""A dimension whose standard deviation over the data (in the code's own units) is below this is collapsed."""


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
    """DCI disentanglement, completeness and informativeness, with informativeness_se (see the module docstring)."""
    from sklearn.ensemble import GradientBoostingClassifier

    codes, factors = _check(codes, factors)
    train, test = _split(len(codes), n_train, n_test, seed)
    d, k = codes.shape[1], factors.shape[1]
    importance = np.zeros((d, k))
    correct = []  # per scored factor, which test points its classifier got right
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
        correct.append(model.predict(codes[test]) == y_test)
    # the informativeness is a mean over test points of each point's share of factors right: its SE is theirs
    share = np.mean(correct, axis=0) if correct else np.zeros(0)
    return {**dci_from_importance(importance), "informativeness": float(share.mean()) if correct else math.nan,
            "informativeness_se": _standard_error(share), "points": int(len(train) + len(test))}


def _standard_error(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


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
        protocol: str = SAP_PROTOCOL, bootstrap: int = SAP_BOOTSTRAP) -> dict:
    """SAP: the mean gap between the two single codes that predict each factor best (see the module docstring).

    protocol: "discrete" (disentanglement_lib's study, the default), "continuous" (its other mode) or "mixed".
    Returns sap, sap_se (bootstrap, `bootstrap` replicates), sap_protocol (SAP_PROTOCOLS' name) and points."""
    if protocol not in SAP_PROTOCOLS:
        raise ValueError(f"sap: protocol must be one of {', '.join(SAP_PROTOCOLS)}, got {protocol!r}")
    codes, factors = _check(codes, factors)
    train, test = _split(len(codes), n_train, n_test, seed)
    k = factors.shape[1]
    scored = [j for j in range(k) if len(np.unique(factors[train, j])) > 1]  # a constant factor: nothing to predict
    continuous = {j: protocol == "continuous"
                  or (protocol == "mixed" and len(np.unique(factors[:, j])) >= CONTINUOUS_VALUES) for j in scored}
    # discrete factors: which test points each one-code classifier gets right, (codes, test points) per factor
    correct = {j: np.stack([_svm_correct(codes[train, i], factors[train, j], codes[test, i], factors[test, j])
                            for i in range(codes.shape[1])]) for j in scored if not continuous[j]}

    def score(w_train: np.ndarray, w_test: np.ndarray) -> np.ndarray:
        """SAP under rows of weights on the training and test points (ones: the estimate; counts: a replicate)."""
        columns = [_squared_correlation(codes[train], factors[train, j], w_train) if continuous[j]
                   else (w_test @ correct[j].T) / w_test.sum(1, keepdims=True) for j in scored]
        ranked = -np.sort(-np.stack(columns, axis=2), axis=1)  # (replicates, codes best first, factors)
        gaps = ranked[:, 0] - (ranked[:, 1] if ranked.shape[1] > 1 else 0.0)
        return gaps.mean(1)

    out = {"sap": math.nan, "sap_se": math.nan, "sap_protocol": SAP_PROTOCOLS[protocol],
           "points": int(len(train) + len(test))}
    if scored:
        rng = np.random.default_rng(seed)
        resample = [rng.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=bootstrap).astype(np.float64)
                    for idx in (train, test)]
        out["sap"] = float(score(np.ones((1, len(train))), np.ones((1, len(test))))[0])
        out["sap_se"] = float(np.std(score(*resample), ddof=1)) if bootstrap > 1 else math.nan
    return out


def _svm_correct(x_train, y_train, x_test, y_test) -> np.ndarray:
    """Which test points a linear SVM on one code (C = 0.01, balanced classes) classifies right."""
    from sklearn.svm import LinearSVC

    svm = LinearSVC(C=0.01, class_weight="balanced")
    svm.fit(x_train[:, None], y_train)
    return svm.predict(x_test[:, None]) == y_test


def _squared_correlation(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(rows of weights, codes): cov(x_i, y)² / (var x_i · var y) with the points weighted by each row; 0 for a
    code (or a factor) that does not vary."""
    x, y = x - x.mean(0), (y - y.mean()).astype(np.float64)
    total = weights.sum(1, keepdims=True)
    mean_x, mean_y = weights @ x / total, weights @ y[:, None] / total
    var_x = weights @ x**2 / total - mean_x**2
    var_y = weights @ y[:, None] ** 2 / total - mean_y**2
    cov = weights @ (x * y[:, None]) / total - mean_x * mean_y
    ok = (var_x > 1e-12) & (var_y > 0)
    return np.where(ok, cov**2 / np.where(ok, var_x * var_y, 1.0), 0.0)


def factorvae_score(codes, factors, batch_size: int = FACTORVAE_BATCH, n_train: int = FACTORVAE_TRAIN,
                    n_eval: int = FACTORVAE_EVAL, n_variance: int = FACTORVAE_VARIANCE, seed: int = 0,
                    prune: float = FACTORVAE_PRUNE) -> dict:
    """The FactorVAE majority-vote accuracy and its binomial SE over the n_eval votes (see the module docstring);
    `active_dims` counts the dimensions whose standard deviation is at least `prune`, `votes` the votes cast."""
    if batch_size < 2 or n_train < 1 or n_eval < 1:
        raise ValueError(f"factorvae_score: needs batch_size >= 2 and a vote or more, got {batch_size}, "
                         f"{n_train}, {n_eval}")
    codes, factors = _check(codes, factors)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(codes), size=min(len(codes), n_variance), replace=False)
    global_var = codes[sample].var(0, ddof=1)
    active = (global_var > 0) & (np.sqrt(global_var) >= prune)  # raw scale: a collapsed dimension is dropped
    if not active.any():
        return {"factorvae_score": 0.0, "factorvae_score_se": 0.0, "active_dims": 0, "votes": 0}
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
            pool = pools[j][factors[rng.integers(len(factors)), j]]
            batch = rng.choice(pool, size=batch_size, replace=len(pool) < batch_size)
            local_var = codes[batch][:, dims].var(0, ddof=1)
            out[t] = (dims[np.argmin(local_var / global_var[dims])], j)
        return out

    train, test = votes(n_train), votes(n_eval)
    counts = np.zeros((codes.shape[1], factors.shape[1]), dtype=np.int64)
    np.add.at(counts, (train[:, 0], train[:, 1]), 1)
    predicted = counts.argmax(1)  # each dimension's majority factor; the first factor for one never voted for
    accuracy = float(np.mean(predicted[test[:, 0]] == test[:, 1]))
    return {"factorvae_score": accuracy, "factorvae_score_se": math.sqrt(accuracy * (1 - accuracy) / n_eval),
            "active_dims": int(active.sum()), "votes": int(n_train + n_eval)}


def dataset_disentanglement(model, dataset, device, points: int = PROTOCOL_POINTS, seed: int = 0,
                            batch_size: int = 1024, sap_protocol: str = SAP_PROTOCOL) -> dict:
    """DCI, SAP and the FactorVAE score of a model's encoder means on a dataset with ground-truth factors.

    Encodes up to `points` examples, held-out first (as MIG does, trainer.analysis.metrics.mig_indices), and
    returns plain numbers: dci_disentanglement, dci_completeness, dci_informativeness (+ _se), sap (+ _se),
    sap_protocol (its name in SAP_PROTOCOLS), factorvae_score (+ _se), factorvae_active_dims,
    disentanglement_points (the examples encoded). Each _se covers the sampling of the points or votes a score
    is measured on, not the variation over training seeds (see the module docstring)."""
    from trainer.analysis.metrics import encode_factor_points

    if sap_protocol not in SAP_PROTOCOLS:
        raise ValueError(f"sap: protocol must be one of {', '.join(SAP_PROTOCOLS)}, got {sap_protocol!r}")
    codes, factors = encode_factor_points(model, dataset, device, points, seed, batch_size,
                                          "disentanglement metrics")
    scores = dci(codes, factors, seed=seed)
    separated = sap(codes, factors, seed=seed, protocol=sap_protocol)
    votes = factorvae_score(codes, factors, seed=seed)
    return {"dci_disentanglement": scores["disentanglement"], "dci_completeness": scores["completeness"],
            "dci_informativeness": scores["informativeness"],
            "dci_informativeness_se": scores["informativeness_se"],
            "sap": separated["sap"], "sap_se": separated["sap_se"], "sap_protocol": separated["sap_protocol"],
            "factorvae_score": votes["factorvae_score"], "factorvae_score_se": votes["factorvae_score_se"],
            "factorvae_active_dims": votes["active_dims"], "disentanglement_points": int(len(codes))}
