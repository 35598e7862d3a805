"""A published row's protocol as settings: its data, split, binarization, architecture, training and evaluation, so
one command reproduces the row and `eval` scores the result as the paper did.

    vae-explorer protocols                           # every row: what it sets, or why it cannot be reproduced here
    vae-explorer train --protocol burda16-vae-1layer-k1 --data-dir ../shared/datasets/mnist-full --out vae.h5
    vae-explorer eval vae.h5 --json                  # IWAE K = 5,000 on the 10,000 test images, comparable_to

    p = protocol("burda16-iwae-1layer-k5")
    settings = protocol_settings(p, {"epochs": 10})  # the row's settings, --epochs shortening it
    check_protocol_data(p, dataset)                  # the data must be the row's, told by its content

`--epochs` may shorten a protocol (the figure stays comparable in protocol; `comparable_to` shows both epoch
counts); the training seed and where it runs may change too. Any other setting given beside a protocol is refused
in one line: it would make the run another protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainer.comparability.published import PublishedRow, published_rows
from trainer.config import ACTIVATIONS
from trainer.errors import ConfigError

FREE = frozenset({"epochs", "seed", "device", "precision", "compile", "report_every", "snapshots", "snapshot_mb"})
"""What a run may set beside a protocol: how long (a shortened protocol), its seed, and where and how fast it runs."""

TRAINING_NOTE = ("Adam's ε 1e-4 and the learning rate 0.001·10^(−i/7) for 3^i epochs, i = 0..7 (ours: Adam at 1e-3, "
                 "ε 1e-8)")
"""What Burda et al.'s protocol does that a protocol here does not: the optimiser's schedule."""


@dataclass(frozen=True)
class Protocol:
    """One published row as a run's settings, or the reason it cannot be reproduced with this tool."""

    row: PublishedRow
    settings: dict[str, Any]
    """Settings by name (trainer.training.opening.configs_for's), protocol= included; empty when unavailable."""
    unavailable: str
    """Why the row cannot be reproduced here; empty when it can."""
    not_reproduced: tuple[str, ...]
    """What of the paper's training the settings leave out (each a phrase), for the listing and the docs."""

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def eval_k(self) -> int:
        """K of the row's importance-weighted estimate of log p(x), which eval uses unless told otherwise."""
        return int(self.row.estimator_k)

    def describe(self) -> str:
        """One line: what the row sets, or why it is not available."""
        r = self.row
        if self.unavailable:
            return f"{r.name}: not available: {self.unavailable}"
        s = self.settings
        objective = f"IWAE K = {s['iwae_k']}" if s["objective"] == "iwae" else "ELBO"
        data = {"dynamic": "MNIST (train 60,000 dynamically binarized, test t10k one fixed draw)",
                "static": "binarized-mnist (Larochelle's; train 50,000, test 10,000)"}[r.binarization]
        return (f"{r.name}: {r.source.split(',')[0]} et al. {r.table}, {r.row}: {data}; "
                f"{r.architecture} {s['activation']}, {objective}, batch {s['batch_size']}, {s['epochs']:,} epochs; "
                f"eval IWAE K = {self.eval_k:,}; published {r.figure:.2f} nats")


def _unavailable(row: PublishedRow) -> str:
    if row.figure is None:
        return "the row has no figure that could be read in the paper"
    if row.binarization not in ("dynamic", "static"):
        return f"the paper does not say how {row.dataset} was binarized"
    if row.activation not in ACTIVATIONS:
        return f"its {row.activation} units are not built here (the hidden layers are {' or '.join(ACTIVATIONS)})"
    if row.stochastic_layers > 1:
        return ("its stochastic layers are inferred bottom-up, q(z2 | z1) q(z1 | x), with their own deterministic "
                "layers between them; this tool's hierarchies are ladders (top-down inference)")
    if row.objective == "elbo" and row.k_train > 1:
        return (f"it trains the average of {row.k_train} single-sample ELBOs, which is not an objective here "
                "(objective iwae trains the importance-weighted bound)")
    return ""


def protocol_for(row: PublishedRow) -> Protocol:
    """The protocol of one row: the settings that reproduce it, or why none can."""
    why = _unavailable(row)
    if why:
        return Protocol(row, {}, why, ())
    settings = dict(
        arch="mlp", hidden=tuple(row.hidden), latent_dim=int(sum(row.layer_sizes)), layers=1,
        activation=row.activation, likelihood="bernoulli", prior=row.prior, norm="none",
        objective="iwae" if row.objective == "iwae" else "elbo", iwae_k=int(row.k_train) if row.objective == "iwae"
        else 1, beta=1.0, batch_size=int(row.batch_size), epochs=int(row.epochs), lr=1e-3,
        # dynamic: a fresh draw every batch; static: Larochelle's files are a binarization already
        binarize="dynamic" if row.binarization == "dynamic" else "none", protocol=row.name)
    return Protocol(row, settings, "", (TRAINING_NOTE,) if row.source.startswith("Burda") else ())


def protocols() -> tuple[Protocol, ...]:
    """Every published row's protocol, available or not, in the table's order."""
    return tuple(protocol_for(row) for row in published_rows())


def protocol(name: str) -> Protocol:
    """The protocol called `name`; a ConfigError naming the available ones when there is none, or it is not
    available."""
    for p in protocols():
        if p.name == name:
            if p.unavailable:
                raise ConfigError(f"protocol {name} cannot be reproduced here: {p.unavailable}")
            return p
    names = ", ".join(p.name for p in protocols() if not p.unavailable)
    raise ConfigError(f"no protocol {name!r}; the available ones (vae-explorer protocols): {names}")


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)


def _same(a: Any, b: Any) -> bool:
    """Settings equal as values: 1 and 1.0, (200, 200) and [200, 200]."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def protocol_settings(p: Protocol, given: dict[str, Any]) -> dict[str, Any]:
    """The protocol's settings with the ones a run may set beside it (FREE: epochs, seed, device, ...) taken from
    `given`; any other setting given that differs from the protocol's is refused in one line."""
    for name, value in given.items():
        if name in FREE or value is None:
            continue
        wanted = p.settings.get(name)
        if name not in p.settings or not _same(value, wanted):
            what = f"sets {name} to {_shown(wanted)}" if name in p.settings else f"leaves {name} at its default"
            raise ConfigError(f"protocol {p.name} {what}: drop {name} = {_shown(value)}, or train without the protocol "
                              f"(only {', '.join(sorted(FREE))} may be given beside one)")
    return {**p.settings, **{k: v for k, v in given.items() if k in FREE and v is not None}}


def check_follows(model_config, train_config, dataset) -> None:
    """A ConfigError unless a run that declares a protocol (train_config.protocol) has its settings and its data,
    whichever front door built it (train --protocol, trainer.Run(protocol=...), the window): a declared protocol the
    run does not follow would make eval judge its figure by the wrong row."""
    if not train_config.protocol:
        return
    p = protocol(train_config.protocol)
    fields = {**model_config.to_dict(), **train_config.to_dict()}
    for name, wanted in p.settings.items():
        if name in FREE or name not in fields:
            continue
        if not _same(fields[name], wanted):
            raise ConfigError(f"protocol {p.name} sets {name} to {_shown(wanted)}, but this run has "
                              f"{_shown(fields[name])}: train it with --protocol alone (and --epochs, --seed)")
    check_protocol_data(p, dataset)


def check_protocol_data(p: Protocol, dataset, where: str = "") -> None:
    """A ConfigError unless `dataset` is the row's data in its published split, told by content (Dataset.identity)
    and by the split (Dataset.split), so a run that declares a protocol really follows it."""
    row = p.row
    label = where or dataset.describe().split(":")[0]
    if dataset.identity != row.dataset:
        raise ConfigError(f"protocol {p.name} trains on {row.dataset} as published; {label} is not (its files' "
                          f"checksums differ from the published ones, or it is other data)")
    if dataset.split != "standard" or len(dataset.x_train) != row.train_examples:
        raise ConfigError(f"protocol {p.name} trains on {row.train_split}; {label} gives {len(dataset.x_train):,} "
                          f"training images ({dataset.split or 'a split of its own'}): give the folder holding the "
                          "train and test files, without --limit")
