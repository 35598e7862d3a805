"""Evaluation metrics for a trained VAE, all log-densities in nats per example.

    mu, logvar = encode_dataset(model, x, y, device)          # whole array -> numpy, for the scatter
    report = evaluate(model, x, y, device, iwae_samples=100)  # dict of plain numbers, JSON-safe
    n_active, variance = active_units(mu)                     # Burda et al. 2016
    score = mig(mu, factors, factor_sizes)                    # Chen et al. 2018
    report = dataset_mig(model, dataset, device)              # ... on 10,000 points: {"mig", "mig_points", ...}

The functions only use the model's duck-typed interface, `encode(x, y) -> (mu, logvar)`,
`decode(z, y) -> params`, `log_likelihood(x, params) -> (N,)` and `config.latent_dim` /
`config.conditional`, so a hand-built model with a known log p(x) can check them.

Arrays `x` are uint8 in 0..255 (divided by 255 per batch, so a whole dataset is never copied
to float) or floating point already in the model's input range.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, Sequence

import numpy as np
import torch

from trainer.model.vae import eval_mode
from trainer.model.priors import prior_of
from trainer.analysis.variational import importance_bounds
from trainer.pixels import to_float01



# --- helpers ------------------------------------------------------------------------------
def _as_input(xb: np.ndarray, device) -> torch.Tensor:
    """One batch of x as float32 on `device`; uint8 is scaled to [0, 1]."""
    return to_float01(torch.from_numpy(np.ascontiguousarray(xb))).to(device)


def _labels(model, y: np.ndarray | None, sl: slice, device) -> torch.Tensor | None:
    """The label batch, only for a conditional model (an unconditional one must not need y)."""
    if y is None or not getattr(model.config, "conditional", False):
        return None
    return torch.as_tensor(np.asarray(y[sl]), dtype=torch.long, device=device)


def _check_x(x: np.ndarray, y: np.ndarray | None) -> int:
    n = len(x)
    if n == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    if y is not None and len(y) != n:
        raise ValueError(f"x has {n} examples but y has {len(y)}")
    return n


# --- encoding -----------------------------------------------------------------------------
@torch.no_grad()
def encode_dataset(
    model, x: np.ndarray, y: np.ndarray | None, device, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, logvar) of q(z|x) for every example, each float32 numpy (N, latent_dim), on the CPU."""
    n = _check_x(x, y)
    mus, logvars = [], []
    with eval_mode(model):
        for start in range(0, n, batch_size):
            sl = slice(start, start + batch_size)
            mu, logvar = model.encode(_as_input(x[sl], device), _labels(model, y, sl, device))
            mus.append(mu.float().cpu().numpy())
            logvars.append(logvar.float().cpu().numpy())
    return np.concatenate(mus), np.concatenate(logvars)


# --- active units -------------------------------------------------------------------------
def active_units(mu: np.ndarray, threshold: float = 0.01) -> tuple[int, np.ndarray]:
    """Burda et al. 2016: dimension j is active when Cov_x(E_q[z_j | x]) > threshold.

    `mu` is (N, latent_dim). Returns the count and the per-dimension variance of mu over the
    examples (float64, biased estimator), which is what the collapse view plots.
    """
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 2 or len(mu) == 0:
        raise ValueError(f"mu must be (N, latent_dim) with N > 0, got shape {mu.shape}")
    variance = mu.var(axis=0)
    return int((variance > threshold).sum()), variance


def posterior_samples(model, x: torch.Tensor, y: torch.Tensor | None, eps: torch.Tensor):
    """(mu, logvar, z), each (K, N, latent_dim), for noise eps of that shape: the model's own sampler
    (trainer.model.vae / hierarchy), or encode + reparameterize for a duck-typed model that has none."""
    sampler = getattr(model, "posterior_samples", None)
    if sampler is not None:
        return sampler(x, y, eps)
    mu, logvar = model.encode(x, y)
    return mu.expand_as(eps), logvar.expand_as(eps), mu + torch.exp(0.5 * logvar) * eps


# --- IWAE ---------------------------------------------------------------------------------
def iwae_log_px(
    model,
    x: torch.Tensor,
    y: torch.Tensor | None,
    k: int,
    chunk: int = 0,
    generator: torch.Generator | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Importance-weighted estimate of log p(x) (Burda et al. 2016), in nats: shape (N,).

        log p(x) ~= logsumexp_k log w_k - log K,   log w = log p(x|z) + log p(z) - log q(z|x)

    with z_k ~ q(z|x), the encoder's q. It is a lower bound in expectation that tightens as K grows (K=1 is
    the ELBO). trainer.analysis.variational.importance_bounds does the work (chunks of the K samples, a running
    logsumexp, noise drawn on the CPU from `generator`), and takes other proposals than the encoder's.
    progress(done, k) is called after each chunk with the samples drawn so far.
    """
    return importance_bounds(model, x, y, k, chunk=chunk, generator=generator, progress=progress)[1]


# --- MIG ----------------------------------------------------------------------------------
MIG_POINTS = 10_000
"""Examples MIG is estimated on, as in disentanglement_lib (num_train=10000). Fewer inflate it: at 2,000
points a pure-noise latent already shares ~0.16 nats with the 40-valued orientation factor of sprites."""
MIG_BINS = 20
"""Equal-width bins per latent dimension (disentanglement_lib's num_bins for MIG)."""


def _discretize(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width histogram bin index of each value (the disentanglement_lib convention)."""
    edges = np.histogram(values, bins=n_bins)[1]
    return np.digitize(values, edges[:-1])  # 1..n_bins


def _discrete_mi(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information in nats between two integer codes, from their contingency table."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    joint = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.float64)
    np.add.at(joint, (ai, bi), 1.0)
    joint /= joint.sum()
    pa = joint.sum(1, keepdims=True)
    pb = joint.sum(0, keepdims=True)
    nz = joint > 0
    return float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum())


def _entropy(codes: np.ndarray) -> float:
    """Entropy in nats of an integer code's empirical distribution."""
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mig_per_factor(mu: np.ndarray, factors: np.ndarray, factor_sizes: Sequence[int] | None,
                   n_bins: int = MIG_BINS) -> list[float | None]:
    """Each factor's normalised gap (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k); None for a constant factor.

    Arguments and estimator as for `mig`, which is the mean of these.
    """
    mu = np.asarray(mu, dtype=np.float64)
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors[:, None]
    if mu.ndim != 2 or factors.ndim != 2 or len(mu) != len(factors) or len(mu) == 0:
        raise ValueError(f"mig needs mu (N, D) and factors (N, K) with the same N > 0, "
                         f"got {mu.shape} and {factors.shape}")
    if factor_sizes is not None:
        if len(factor_sizes) != factors.shape[1]:
            raise ValueError(f"{factors.shape[1]} factors but {len(factor_sizes)} factor sizes")
        for k, size in enumerate(factor_sizes):
            if factors[:, k].min() < 0 or factors[:, k].max() >= size:
                raise ValueError(f"factor {k} has codes outside 0..{size - 1}")
    codes = [_discretize(mu[:, j], n_bins) for j in range(mu.shape[1])]
    gaps: list[float | None] = []
    for k in range(factors.shape[1]):
        v = factors[:, k]
        h = _entropy(v)
        if h <= 0:
            gaps.append(None)
            continue
        mi = sorted((_discrete_mi(c, v) for c in codes), reverse=True) + [0.0]
        gaps.append((mi[0] - mi[1]) / h)
    return gaps


def mig(mu: np.ndarray, factors: np.ndarray, factor_sizes: Sequence[int] | None, n_bins: int = MIG_BINS) -> float:
    """Mutual Information Gap (Chen et al. 2018), with disentanglement_lib's discretised estimator.

    Each latent dimension of `mu` (N, latent_dim) is binned into `n_bins` equal-width bins spanning
    its range (np.histogram edges, as disentanglement_lib's _histogram_discretize), the mutual
    information I(z_j; v_k) with each ground-truth factor v_k (`factors`, (N, n_factors) integer
    codes in 0..factor_sizes[k]-1) is counted from a contingency table, and

        MIG = mean_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k)

    where z_(1), z_(2) are the two latents most informative about v_k. In [0, 1]: 1 when each
    factor is captured by exactly one latent. Factors that are constant in the data carry no
    information and are skipped; with a single latent dimension the runner-up MI is 0.
    The plug-in MI is biased upwards by about (n_bins - 1)(|v_k| - 1) / 2N nats, so N matters:
    use MIG_POINTS points (`dataset_mig` does) and report N beside the score.
    """
    gaps = [g for g in mig_per_factor(mu, factors, factor_sizes, n_bins) if g is not None]
    if not gaps:
        raise ValueError("mig: every factor is constant in this data, so MIG is undefined")
    return float(np.mean(gaps))


def mig_indices(n_test: int, n_train: int, points: int = MIG_POINTS, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Which examples MIG is estimated on: (held-out indices, training indices), each ascending.

    The held-out split first (a seeded random `points` of it when it is larger), then training
    examples drawn at random (seeded) to make up `points`, or all of them when there are too few.
    """
    rng = np.random.default_rng(seed)
    test = np.arange(n_test) if n_test <= points else np.sort(rng.choice(n_test, points, replace=False))
    need = min(points - len(test), n_train)
    train = np.arange(n_train) if need == n_train else np.sort(rng.choice(n_train, need, replace=False))
    return test, train


@torch.no_grad()
def encode_factor_points(model, dataset, device, points: int, seed: int = 0, batch_size: int = 1024,
                         what: str = "this metric") -> tuple[np.ndarray, np.ndarray]:
    """(encoder means, ground-truth factors) of up to `points` examples, the held-out split first (mig_indices):
    the points every disentanglement metric is computed on."""
    if dataset.factors_test is None or dataset.factors_train is None:
        raise ValueError(f"{what} needs a dataset with ground-truth factors (such as sprites)")
    test, train = mig_indices(len(dataset.x_test), len(dataset.x_train), points, seed)
    mus, factors = [], []
    for x, y, f, idx in ((dataset.x_test, dataset.y_test, dataset.factors_test, test),
                         (dataset.x_train, dataset.y_train, dataset.factors_train, train)):
        if len(idx):
            mus.append(encode_dataset(model, x[idx], None if y is None else y[idx], device, batch_size)[0])
            factors.append(np.asarray(f)[idx])
    return np.concatenate(mus), np.concatenate(factors)


def dataset_mig(model, dataset, device, points: int = MIG_POINTS, seed: int = 0, batch_size: int = 1024) -> dict:
    """MIG by disentanglement_lib's protocol on a dataset with ground-truth factors (trainer.data.dataset.Dataset).

    Encodes up to `points` examples (the held-out split plus training examples as needed, see
    `mig_indices`) and discretises their posterior means. Returns plain numbers, JSON-safe:
      mig             the score, in [0, 1]
      mig_points      the number of examples it was estimated on (10,000 unless the data has fewer)
      mig_per_factor  {factor name: normalised gap, or None for a factor constant in these examples}
    """
    mu, factors = encode_factor_points(model, dataset, device, points, seed, batch_size, "dataset_mig")
    sizes = tuple(dataset.factor_sizes) or None
    gaps = mig_per_factor(mu, factors, sizes)
    names = tuple(dataset.factor_names) or tuple(f"factor {k}" for k in range(len(gaps)))
    scored = [g for g in gaps if g is not None]
    if not scored:
        raise ValueError("mig: every factor is constant in this data, so MIG is undefined")
    return {"mig": float(np.mean(scored)), "mig_points": int(len(mu)),
            "mig_per_factor": {name: (None if g is None else float(g)) for name, g in zip(names, gaps)}}


# --- the full evaluation ------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model,
    x: np.ndarray,
    y: np.ndarray | None,
    device,
    batch_size: int = 1024,
    iwae_samples: int = 0,
    generator: torch.Generator | None = None,
    factors: np.ndarray | None = None,
    factor_sizes: Sequence[int] | None = None,
    progress: Callable[[float, int], None] | None = None,
    rate_split_points: int | None = None,
) -> dict:
    """Evaluate a model on a whole array; every value is a plain Python number or list.

    Keys (log-densities in nats per example, averaged over the N examples):
      recon        -E_q log p(x|z), one reparameterized sample per example
      kl           KL(q(z|x) || p(z)): closed form under N(0, I); a VampPrior's log q(z|x) - log p(z) at the sample
      kl_per_dim   the same per latent dimension (a VampPrior: to its marginals p_j, not adding up to kl)
      elbo         -(recon + kl), a lower bound on log p(x) under a normalized likelihood (trainer/likelihood.py)
      elbo_se, recon_se
                   their standard errors over the examples (the one-sample recon's noise included)
      rate, distortion
                   Alemi et al. 2018 ("Fixing a broken ELBO"): rate R = E_x KL(q(z|x) || p(z)) and
                   distortion D = -E log p(x|z). The marginal used for R is the prior here, so
                   rate == kl and distortion == recon; elbo == -(R + D).
      active_units Burda et al. 2016 count with threshold 0.01 (int)
      iwae_log_px  IWAE estimate of log p(x) with `iwae_samples` samples (only if > 0), with iwae_log_px_se over
                   the examples; a lower bound in expectation, short of log p(x) by E log of its weights' spread
      elbo_gap     iwae_log_px - elbo: estimates E_x KL(q(z|x) || p(z|x)) (only if iwae_samples > 0), elbo_gap_se
      mig          Mutual Information Gap on these examples' posterior means (only if `factors` is
                   given); `dataset_mig` gives the protocol score on 10,000 points
      mig_points   the number of examples MIG was estimated on (= n)
      rate_split   {mutual_information, marginal_kl, total_correlation, dimwise_kl, log_n, n, each part's _se,
                   mutual_information_at_half_n, near_ceiling} (SPLIT_KEYS): the rate split
                   into I_q(X; Z) (a CVAE: I(X; Z | Y)) and KL(q(z) ‖ p(z)) on up to `rate_split_points`
                   examples, evenly spaced (trainer.analysis.rate_split; only if rate_split_points is given);
                   a hierarchy: the joint split over all layers, total_correlation and dimwise_kl None, and
                   layers, each layer's {rate, mutual_information, marginal_kl}, bottom first
      kl_per_layer a hierarchy: KL(q(z_l | ·) ‖ p(z_l | z_{l+1})) of each layer, bottom first, top last
      n            number of examples

    Noise comes from `generator` (a CPU torch.Generator; None means a fresh one seeded 0), so
    the same generator state gives the same numbers. `progress(done, total)` is called after
    each batch with counts of examples, from the calling thread, and while a batch's IWAE samples
    are drawn after each chunk of them, with a fractional `done` (so a large K moves the bar; it
    may raise to stop).
    """
    n = _check_x(x, y)
    if factors is not None and len(factors) != n:
        raise ValueError(f"x has {n} examples but factors has {len(factors)}")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    # IWAE draws from its own stream, seeded from `generator` whether or not it runs, so turning
    # IWAE on does not change the one-sample ELBO of the same seed
    iwae_generator = torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
    prior = _prior_in_eval(model)
    recon_sum, kl_sum, kl_dim_sum, iwae_sum, mu_all, logvar_all, paths, per_example = _summed_terms(
        model, x, y, device, batch_size, iwae_samples, generator, iwae_generator, progress, prior)
    recon = recon_sum / n
    kl_dims = (kl_dim_sum / n).tolist()
    kl = float(sum(kl_dims)) if prior.exact_kl else kl_sum / n
    elbo = -(recon + kl)
    result = {"elbo": elbo, "elbo_se": standard_error(per_example["elbo"]), "recon": recon,
              "recon_se": standard_error(per_example["recon"]), "kl": kl, "kl_per_dim": kl_dims,
              "active_units": active_units(mu_all)[0], "rate": kl, "distortion": recon, "n": n}
    if getattr(model.config, "layers", 1) > 1:  # a hierarchy: each layer's KL to its conditional prior, top last
        result["kl_per_layer"] = [float(sum(kl_dims[s])) for s in model.config.layer_slices()]
    if iwae_samples > 0:
        result.update(_iwae_figures(iwae_sum / n, elbo, per_example))
    if factors is not None:
        result["mig"] = mig(mu_all, factors, factor_sizes)
        result["mig_points"] = n
    if rate_split_points is not None and n >= 2:
        labels = y if model.config.conditional else None
        seed = int(torch.randint(2**31, (1,), generator=generator))
        result["rate_split"] = split_of(mu_all, logvar_all, labels, rate_split_points, seed=seed, paths=paths,
                                        dims=model.config.layer_dims if paths else None,
                                        prior=None if prior.exact_kl else prior)
    return result


SPLIT_KEYS = ("mutual_information", "mutual_information_se", "mutual_information_at_half_n", "marginal_kl",
              "marginal_kl_se", "total_correlation", "total_correlation_se", "dimwise_kl", "dimwise_kl_se", "log_n",
              "n", "near_ceiling")
"""What eval --json's rate_split holds (RateSplit's figures, each Monte Carlo one with its _se), and a hierarchy's
`layers`."""


def _prior_in_eval(model):
    """The model's p(z) at its weights in eval mode (a VampPrior's components, computed once)."""
    with eval_mode(model):
        return prior_of(model)


def _iwae_figures(log_px: float, elbo: float, per_example: dict) -> dict:
    """IWAE's log p(x) and the ELBO gap it gives, each with its standard error over the examples."""
    return {"iwae_log_px": log_px, "iwae_log_px_se": standard_error(per_example["iwae"]),
            "elbo_gap": log_px - elbo, "elbo_gap_se": standard_error(per_example["iwae"] - per_example["elbo"])}


def split_of(mu: np.ndarray, logvar: np.ndarray, labels, points: int, seed: int = 0, paths: dict | None = None,
             dims=None, prior=None) -> dict:
    """The rate split of up to `points` posteriors, evenly spaced through the array, as eval --json reports it.

    paths: a hierarchy's sampled paths (HierarchicalVAE.path, concatenated), split per layer of `dims`; its
    total_correlation and dimwise_kl are None, and `layers` lists each layer's parts, bottom first. prior: a
    learned one (trainer.model.priors.MixturePrior) in place of N(0, I)."""
    from trainer.analysis.rate_split import path_rate_split, rate_split

    n = len(mu)
    keep = np.unique(np.linspace(0, n - 1, min(n, max(2, int(points)))).round().astype(int))
    kept_labels = None if labels is None else np.asarray(labels)[keep]
    if paths is not None:
        split = path_rate_split({k: v[keep] for k, v in paths.items()}, dims, kept_labels)
    else:
        split = rate_split(mu[keep], logvar[keep], kept_labels, seed=seed, prior=prior)
    # a figure too few points cannot give (the N/2 estimate of 3 points, an SE of 1) is None, never NaN
    out = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in split.to_dict().items()
           if k in SPLIT_KEYS}
    if split.layers:
        out["layers"] = [dict(layer) for layer in split.layers]
    return out


def _iwae_progress(progress: Callable[[float, int], None], start: int, rows: int, n: int, done: int, k: int) -> None:
    """A batch's share of the examples, by the IWAE samples drawn: the end of the batch is reported after it."""
    if done < k:
        progress(start + rows * done / k, n)


def _summed_terms(model, x, y, device, batch_size, iwae_samples, generator, iwae_generator, progress, prior):
    """(-Σ log p(x|z), Σ per-dimension KL, Σ IWAE log p(x), every μ, every log σ², a hierarchy's paths, and each
    example's {elbo, recon, iwae} as float64 arrays for the standard errors) over the whole array."""
    n = len(x)
    d = int(model.config.latent_dim)
    # float64 sums: 70k examples of ~1e2-nat terms summed in float32 would drift
    recon_sum = 0.0
    iwae_sum = 0.0
    kl_dim_sum = torch.zeros(d, dtype=torch.float64)
    mus, logvars = [], []
    hierarchy = callable(getattr(model, "path", None))
    kl_sum = 0.0  # the rate: Σ_j KL_j under N(0, I); a learned prior's Monte Carlo KL, which its KL_j do not add up to
    paths: dict[str, list[np.ndarray]] = {}  # a hierarchy's sampled paths, for its rate split
    per_example: dict[str, list[np.ndarray]] = {"elbo": [], "recon": [], "iwae": []}
    with eval_mode(model):
        for start in range(0, n, batch_size):
            sl = slice(start, start + batch_size)
            xb = _as_input(x[sl], device)
            yb = _labels(model, y, sl, device)
            eps = torch.randn((1, len(xb), d), generator=generator).to(device=xb.device, dtype=xb.dtype)
            if hierarchy:  # each layer's KL to p(z_l | z_{l+1}) on the sampled path, its mean path for the scatter
                path = model.path(xb, yb, eps[0])
                mu, logvar, z = path["mu_u"], path["logvar_u"], path["u"]
                mean_path = path.pop("mean_mu"), path.pop("mean_logvar")
                for key, value in path.items():
                    paths.setdefault(key, []).append(value.double().cpu().numpy())
            else:
                mu, logvar, z = (t[0] for t in posterior_samples(model, xb, yb, eps))
            log_lik = model.log_likelihood(xb, model.decode(z, yb)).double()
            kl_total, kl_each = (t.double() for t in prior.kl(mu, logvar, z))
            recon_sum -= log_lik.sum().item()
            kl_sum += kl_total.sum().item()
            kl_dim_sum += kl_each.sum(0).cpu()
            per_example["recon"].append(-log_lik.cpu().numpy())
            per_example["elbo"].append((log_lik - kl_total).cpu().numpy())
            if hierarchy:
                mu, logvar = mean_path
            if iwae_samples > 0:
                within = None if progress is None else partial(_iwae_progress, progress, start, len(xb), n)
                iwae_each = iwae_log_px(model, xb, yb, iwae_samples, generator=iwae_generator,
                                        progress=within).double()
                iwae_sum += iwae_each.sum().item()
                per_example["iwae"].append(iwae_each.cpu().numpy())
            mus.append(mu.float().cpu().numpy())
            logvars.append(logvar.float().cpu().numpy())
            if progress is not None:
                progress(min(start + batch_size, n), n)

    return (recon_sum, kl_sum, kl_dim_sum, iwae_sum, np.concatenate(mus), np.concatenate(logvars),
            {k: np.concatenate(v) for k, v in paths.items()} or None,
            {k: np.concatenate(v) if v else np.zeros(0) for k, v in per_example.items()})


def standard_error(values: np.ndarray) -> float | None:
    """The standard error of the mean of per-example values (their spread / sqrt N); None for fewer than 2."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
