"""The field's published test log p(x) figures as data (published.json), each with the protocol it was measured
under: model, objective and K, dataset, binarization, splits, epochs, the estimator and its K.

    rows = published_rows()                      # every row, validated
    row = published_row("burda16-iwae-1layer-k5")
    row.figure, row.checked                      # -85.54 nats, True: read in the paper's own text

A row whose `checked` is false was not read in the paper itself (its `checked_against` says what it came from);
its figure may be None where none could be found. Nothing here judges comparability yet: the rows say what a
comparison has to match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).with_name("published.json")


@dataclass(frozen=True)
class PublishedRow:
    name: str
    source: str
    table: str
    row: str
    family: str
    objective: str
    k_train: int
    stochastic_layers: int
    layer_sizes: tuple[int, ...]
    hidden: tuple[int, ...]
    architecture: str
    activation: str
    prior: str
    dataset: str
    binarization: str
    train_split: str
    test_split: str
    train_examples: int
    """Images trained on: 60,000 (MNIST's training set), 50,000 (binarized-mnist's, its validation set aside)."""
    test_examples: int
    epochs: int
    batch_size: int
    estimator: str
    estimator_k: int
    figure: float | None
    """Test log p(x), nats per image (negative: the papers' NLL with its sign turned)."""
    active_units: str
    checked: bool
    checked_against: str
    notes: str
    pseudo_inputs: int = 0


_REQUIRED = {f.name for f in fields(PublishedRow) if f.name != "pseudo_inputs"}


@lru_cache(maxsize=1)
def published_rows() -> tuple[PublishedRow, ...]:
    """Every row of published.json, checked: all fields present, names unique, figures negative or None."""
    data = json.loads(TABLE.read_text(encoding="utf-8"))
    rows = []
    for raw in data["rows"]:
        missing = _REQUIRED - set(raw)
        if missing:
            raise ValueError(f"{TABLE}: row {raw.get('name', '?')} lacks {', '.join(sorted(missing))}")
        raw = {**raw, "layer_sizes": tuple(raw["layer_sizes"]), "hidden": tuple(raw["hidden"])}
        row = PublishedRow(**raw)
        if row.figure is not None and not row.figure < 0:
            raise ValueError(f"{TABLE}: row {row.name}: figure {row.figure} is not a log-likelihood (negative nats)")
        rows.append(row)
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise ValueError(f"{TABLE}: row names repeat")
    return tuple(rows)


def published_row(name: str) -> PublishedRow:
    for row in published_rows():
        if row.name == name:
            return row
    raise KeyError(f"no published row {name!r}; the rows: {', '.join(r.name for r in published_rows())}")
