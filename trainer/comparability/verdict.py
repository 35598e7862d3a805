"""Whether a checkpoint's test log p(x) can stand beside a published figure, and if not, the first reason why.

    verdict = judge(Provenance.of(dataset, model_config, train_config, epochs), result, estimator_k=5000)
    verdict = judge(latents.provenance, result, estimator_k=100)   # the window's, from its held-out encodings
    verdict["comparable_to"]   # [{source, row, figure, ours, ours_se, delta, protocol, epochs, differs, ...}]
    verdict["not_comparable"]  # None, or the first reason: "test split: 1,000 images of a seeded split of t10k, ..."

A figure is comparable with a row only when the data (told by its content: Dataset.identity), its binarization,
the train and test splits, the estimator and its K, and the number of test images all match. The model, its
training and the epochs may differ (that is what a comparison compares): each entry lists how (`differs`) and
both epoch counts. Rows are checked in the order a reader would ask, and when no row matches, `not_comparable`
holds the first failing check of the run's declared protocol, or with none declared, of the row that got furthest.
"""

from __future__ import annotations

from typing import Any

from trainer.comparability.published import PublishedRow, published_rows
from trainer.model.likelihood import Provenance


def _facts(prov: Provenance, result: dict, estimator_k: int) -> dict[str, Any]:
    """What the figure was measured on, in the terms of a published row."""
    return {
        "normalized": bool(result.get("likelihood_normalized", False)),
        "likelihood": prov.model_config.likelihood,
        "conditional": bool(prov.model_config.conditional),
        "identity": prov.identity,
        "label": prov.label,
        "binarize": prov.train_config.binarize,
        "prebinarized": prov.prebinarized,
        "split": prov.split,
        "heldout": prov.heldout,
        "train": prov.train_examples,
        "test": int(result.get("n", prov.test_examples)),
        "k": int(estimator_k) if "iwae_log_px" in result else 0,
    }


def _binarization(facts: dict) -> str:
    if facts["prebinarized"]:
        return "static (the source's own 0/1 images)"
    return {"dynamic": "dynamic", "static": "static (one draw of the training set)", "none": "none"}[facts["binarize"]]


def first_reason(row: PublishedRow, facts: dict) -> str:
    """The first check a figure fails against `row` ("" when it passes them all)."""
    if not facts["normalized"]:
        return ("binarization: grey levels under a Bernoulli decoder, whose figures are no log-likelihoods; the row's "
                f"data is {row.binarization}ally binarized")
    if facts["likelihood"] != "bernoulli":
        return f"likelihood: {facts['likelihood']}, the row's is Bernoulli (a probability of binary pixels)"
    if facts["conditional"]:
        return "model: a conditional VAE scores log p(x|y), the row log p(x)"
    if facts["identity"] != row.dataset:
        what = facts["identity"] or (f"{facts['label']}, told by its files' checksums," if facts["label"] in
                                     ("mnist", "binarized-mnist") else facts["label"])
        return f"dataset: {what} is not {row.dataset} as published"
    ours = _binarization(facts)
    if row.binarization not in ("dynamic", "static"):
        return f"binarization: {ours}, and the row does not say how its {row.dataset} was binarized"
    if row.binarization == "dynamic" and facts["binarize"] != "dynamic":
        return f"binarization: {ours}, the row trains on a fresh draw of every image each epoch (dynamic)"
    if row.binarization == "static" and not (facts["prebinarized"] and facts["binarize"] == "none"):
        return f"binarization: {ours}, the row uses {row.dataset}'s fixed 0/1 images (static)"
    if facts["heldout"] != "test":
        return f"test split: the validation split, the row uses the {row.test_examples:,} test images"
    if facts["split"] != "standard" or facts["test"] != row.test_examples:
        where = facts["split"] if facts["split"] != "standard" else "the test split"
        return f"test split: {facts['test']:,} images of {where}, the papers use the {row.test_examples:,} test images"
    if facts["train"] != row.train_examples:
        return f"train split: {facts['train']:,} training images, the row trains on {row.train_examples:,}"
    if not facts["k"]:
        return (f"estimator: no IWAE estimate (eval --iwae-samples {row.estimator_k}), the row uses "
                f"K = {row.estimator_k:,}")
    if facts["k"] != row.estimator_k:
        return f"estimator: IWAE K = {facts['k']:,}, the row uses K = {row.estimator_k:,}"
    return ""


_CHECKS = ("binarization: grey", "likelihood", "model", "dataset", "binarization", "test split", "train split",
           "estimator")


def _progress(reason: str) -> int:
    """How far along the checks a reason lies (more: the row got further)."""
    for i, prefix in enumerate(_CHECKS):
        if reason.startswith(prefix):
            return i
    return len(_CHECKS)


def model_differences(row: PublishedRow, model_config, train_config) -> list[str]:
    """How the run's model and objective differ from the row's, one phrase each (empty: the row's own)."""
    m, t = model_config, train_config
    out = []
    ours_hidden, rows_hidden = tuple(int(h) for h in m.encoder_widths), tuple(row.hidden)
    if ours_hidden != rows_hidden or m.arch != "mlp":
        out.append(f"hidden {m.arch} {','.join(map(str, ours_hidden))}, the row's {','.join(map(str, rows_hidden))}")
    if tuple(m.layer_dims) != tuple(row.layer_sizes):
        out.append(f"latent {'+'.join(map(str, m.layer_dims))}, the row's {'+'.join(map(str, row.layer_sizes))}")
    if m.activation != row.activation:
        out.append(f"activation {m.activation}, the row's {row.activation}")
    if m.prior != row.prior:
        out.append(f"prior {m.prior}, the row's {row.prior}")
    if m.norm != "none":
        out.append(f"{m.norm} norm, the row has none")
    ours = f"iwae K = {t.iwae_k}" if t.objective == "iwae" else t.objective
    theirs = f"iwae K = {row.k_train}" if row.objective == "iwae" else (
        row.objective if row.k_train == 1 else f"{row.k_train}-sample elbo")
    if ours != theirs and not (row.k_train == 1 and {t.objective, row.objective} <= {"elbo", "iwae"}
                               and t.iwae_k == 1 and t.beta == 1):
        out.append(f"objective {ours}, the row's {theirs}")
    elif t.objective == "elbo" and (t.beta != 1 or t.beta_schedule != "constant" or t.free_bits):
        out.append("β, its schedule or free bits differ from the plain ELBO")
    if t.batch_size != row.batch_size:
        out.append(f"batch {t.batch_size}, the row's {row.batch_size}")
    return out


def judge(prov: Provenance, result: dict, estimator_k: int, rows=None) -> dict[str, Any]:
    """comparable_to and not_comparable of a figure measured on `prov`'s data and run (result: iwae_log_px and its
    _se, n, likelihood_normalized) with IWAE of `estimator_k` samples."""
    rows = [r for r in (rows if rows is not None else published_rows()) if r.figure is not None]
    facts = _facts(prov, result, estimator_k)
    declared = prov.train_config.protocol
    pinned = any(r.name == declared for r in rows)  # a declared row in the table: its reason is the one given
    comparable, closest = [], (-1, "")
    for row in sorted(rows, key=lambda r: r.name != declared):  # the declared row first, then the table's order
        reason = first_reason(row, facts)
        if reason:
            # the reason given is the declared row's, else that of the row that got furthest along the checks
            if _progress(reason) > closest[0] and not (pinned and closest[1]):
                closest = (_progress(reason), reason)
            continue
        ours = float(result["iwae_log_px"])
        differs = model_differences(row, prov.model_config, prov.train_config)
        comparable.append({
            "source": f"{row.source}, {row.table}", "row": row.row, "figure": row.figure, "ours": ours,
            "ours_se": float(result.get("iwae_log_px_se", 0.0)), "delta": ours - row.figure, "protocol": row.name,
            "declared": row.name == declared, "epochs": {"ours": prov.epochs, "row": row.epochs}, "differs": differs,
            "checked": row.checked})
    comparable.sort(key=lambda c: (not c["declared"], len(c["differs"])))
    return {"comparable_to": comparable, "not_comparable": None if comparable else closest[1] or "no published rows"}
