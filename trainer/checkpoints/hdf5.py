"""Checkpoints: one HDF5 file of plain numbers and JSON text, written atomically, validated on load.

    save_checkpoint("run.h5", ckpt)      # trainer.atomic: a crash leaves the old file or the new, never half
    ckpt = load_checkpoint("run.h5")     # every shape and dtype checked before any array is read
    info = read_info("run.h5")           # configs, progress, history shapes; reads no weight arrays

No pickle and no torch.load anywhere: a checkpoint from a stranger can at worst be refused, never run code.
The layout is documented in docs/checkpoint-format.md so it can be read with plain h5py.

What a valid checkpoint holds is checked in trainer.checkpoints.schema; capturing a Trainer's state into a
Checkpoint and restoring it is trainer.training.resume.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from trainer.atomic import atomic_write
from trainer.checkpoints.reading import (FORMAT_NAME, FORMAT_VERSION, contents_from_file, read_arrays, read_header,
                                         timeline_of)
from trainer.checkpoints.schema import MAX_TEXT_BYTES, Invalid, check_contents, check_finite, check_progress
from trainer.checkpoints.timeline import COLUMNS, Timeline, check_timeline_values, write_timeline
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.errors import CheckpointError, ConfigError


@dataclass(eq=False)  # eq=False: comparing dicts of numpy arrays with == is ambiguous, so don't pretend
class Checkpoint:
    model_config: ModelConfig
    train_config: TrainConfig
    dataset: DatasetSpec
    model_state: dict[str, np.ndarray]
    """model.state_dict() as CPU float numpy arrays, keyed by the torch names ("enc_mlp.0.0.weight")."""
    optimizer_state: dict
    """{"param_groups": [JSON-safe dicts with "params": [int]], "state": {int: {name: np.ndarray}}}."""
    progress: dict[str, float | int]
    """step, epoch, batch_in_epoch (ints); beta, lr, free_bits, elapsed_s (floats); extra numbers allowed."""
    rng_state: dict[str, np.ndarray]
    """Generator name -> uint8 1-D state (torch.Generator.get_state().numpy())."""
    history: dict[str, np.ndarray]
    """"group/name" -> numeric 1-D or 2-D array; arrays of one group share their first dimension."""
    running: dict[str, np.ndarray] = field(default_factory=dict)
    """name -> float 1-D: what the trainer has summed since its last report and its last epoch end, so a run
    stopped mid-window resumes into the same report rows as an uninterrupted one."""
    created: str = ""
    """ISO time; save_checkpoint fills in the current time when empty."""
    timeline: Timeline = field(default_factory=Timeline)
    """Snapshots of the weights while it trained (trainer.checkpoints.timeline); empty, saying why, when none."""

    def at(self, step: int) -> "Checkpoint":
        """The run as it was at the snapshot nearest `step`: that snapshot's weights (float32), step, epoch and β,
        and the whole history. It has no optimizer state: it can be looked at and evaluated, not resumed. A
        ConfigError, saying why, when the run kept no snapshots."""
        tl = self.timeline
        if not len(tl):
            raise ConfigError(f"no snapshot to go back to: {tl.off}")
        i = tl.nearest(step)
        progress = {**self.progress, "step": int(tl.steps[i]), "epoch": int(tl.epochs[i]), "batch_in_epoch": 0,
                    "beta": float(tl.betas[i])}
        return dataclasses.replace(self, model_state=tl.state(i), optimizer_state={"param_groups": [], "state": {}},
                                   progress=progress, running={})


def _fail(path: Path, action: str, problem: object) -> CheckpointError:
    # One line always: h5py and OS messages sometimes carry newlines, and the CLI prints this verbatim.
    text = " ".join(str(problem).split())
    return CheckpointError(f"{path}: {action}: {text}" if action else f"{path}: {text}")


# --- public API -----------------------------------------------------------------------------------


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """Validate `ckpt` as load_checkpoint would, then write it atomically to `path`."""
    path = Path(path)
    try:
        contents = _contents_from_checkpoint(ckpt)
        check_finite(contents["model"], list(contents["optimizer"].values()), contents["running"])  # as load would
    except Invalid as exc:
        raise _fail(path, "cannot save", exc) from None
    except Exception as exc:  # e.g. a field of the wrong type altogether
        raise _fail(path, "cannot save", f"{type(exc).__name__}: {exc}") from exc
    try:
        with atomic_write(path) as tmp, h5py.File(tmp, "w") as f:
            _write(f, ckpt, contents)
            f.flush()
    except Exception as exc:
        raise _fail(path, "cannot save", f"{type(exc).__name__}: {exc}") from exc


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint; any problem raises CheckpointError naming the file."""
    path = Path(path)
    with _open(path) as f:
        try:
            header = read_header(f)
            contents = contents_from_file(f, header["model_config"])
            arrays = read_arrays(contents)
            check_finite(arrays["model"], [a for entry in arrays["optimizer"].values() for a in entry.values()],
                         arrays["running"])
            timeline = timeline_of(arrays["timeline"], header)
        except Invalid as exc:
            raise _fail(path, "", exc) from None
        except Exception as exc:  # a read error deep in HDF5 (corrupt chunk, missing filter): still one line
            raise _fail(path, "cannot read", f"{type(exc).__name__}: {exc}") from exc
    return Checkpoint(
        model_config=header["model_config"],
        train_config=header["train_config"],
        dataset=header["dataset"],
        model_state=arrays["model"],
        optimizer_state={"param_groups": arrays["param_groups"], "state": arrays["optimizer"]},
        progress=header["progress"],
        rng_state=arrays["rng"],
        history=arrays["history"],
        running=arrays["running"],
        created=header["created"],
        timeline=timeline,
    )


def read_info(path: str | Path) -> dict[str, Any]:
    """Configs, progress and shapes, with the whole layout validated but no array read (cheap on big files)."""
    path = Path(path)
    with _open(path) as f:
        try:
            header = read_header(f)
            contents = contents_from_file(f, header["model_config"])
            shapes = {part: {k: tuple(d.shape) for k, d in contents[part].items()} for part in ("model", "history")}
            timeline = contents["timeline"]
            snapshots = timeline_of({**{c: timeline[c][()] for c in COLUMNS}, "weights": {}}, header) if timeline \
                else timeline_of({}, header)
            snapshot_bytes = sum(d.size * d.dtype.itemsize for d in timeline["weights"].values()) if timeline else 0
        except Invalid as exc:
            raise _fail(path, "", exc) from None
        except Exception as exc:
            raise _fail(path, "cannot read", f"{type(exc).__name__}: {exc}") from exc
    return {
        "path": str(path),
        "file_bytes": path.stat().st_size,
        "format": FORMAT_NAME,
        "format_version": header["format_version"],
        "created": header["created"],
        "model_config": header["model_config"].to_dict(),
        "train_config": header["train_config"].to_dict(),
        "dataset": header["dataset"].to_dict(),
        "progress": header["progress"],
        "n_params": sum(math.prod(s) for s in shapes["model"].values()),
        "n_tensors": len(shapes["model"]),
        "optimizer_state": len(contents["optimizer"]) > 0,
        "rng": sorted(contents["rng"]),
        "history": dict(sorted(shapes["history"].items())),
        "timeline": {**snapshots.summary(), **({"bytes": int(snapshot_bytes)} if timeline else {})},
    }


# --- file handling ----------------------------------------------------------------------------------


def _open(path: Path) -> h5py.File:
    if not path.exists():
        raise _fail(path, "", "no such file")
    if not path.is_file():
        raise _fail(path, "", "not a file")
    try:
        if not h5py.is_hdf5(path):
            raise _fail(path, "", "not an HDF5 file")
        return h5py.File(path, "r")
    except CheckpointError:
        raise  # "not an HDF5 file" as it is, not wrapped in the message below
    except Exception as exc:  # the signature is there but the file is cut short or its superblock damaged
        raise _fail(path, "", f"cannot open as HDF5, the file may be truncated or corrupt ({exc})") from None



# --- writing --------------------------------------------------------------------------------------


def _text(value: str) -> np.ndarray:
    """A fixed-length UTF-8 string: plain HDF5 text, no variable-length heap objects."""
    raw = value.encode("utf-8")
    return np.array(raw, dtype=h5py.string_dtype("utf-8", max(len(raw), 1)))


def _json(value: Any, what: str) -> str:
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{what} is not plain JSON data: {exc}") from None
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise Invalid(f"{what} is larger than {MAX_TEXT_BYTES} bytes")
    return text


def _write(f: h5py.File, ckpt: Checkpoint, contents: dict) -> None:
    f.attrs["format"] = _text(FORMAT_NAME)
    f.attrs["format_version"] = np.int64(FORMAT_VERSION)
    f.attrs["created"] = _text(ckpt.created or datetime.now(timezone.utc).isoformat(timespec="seconds"))
    f.attrs["model_config"] = _text(_json(ckpt.model_config.to_dict(), "model_config"))
    f.attrs["train_config"] = _text(_json(ckpt.train_config.to_dict(), "train_config"))
    f.attrs["dataset"] = _text(_json(ckpt.dataset.to_dict(), "dataset"))
    f.attrs["progress"] = _text(_json(contents["progress"], "progress"))

    model = f.create_group("model")
    for key, arr in contents["model"].items():
        model.create_dataset(key, data=arr)
    optimizer = f.create_group("optimizer")
    optimizer.attrs["param_groups"] = _text(_json(contents["param_groups"], "optimizer param_groups"))
    state = optimizer.create_group("state")
    for key, arr in contents["optimizer"].items():  # key: "<index>/<name>"
        state.create_dataset(key, data=arr)  # h5py creates the <index> group on the way
    rng = f.create_group("rng")
    for key, arr in contents["rng"].items():
        rng.create_dataset(key, data=arr)
    history = f.create_group("history")
    for key, arr in contents["history"].items():  # key: "<group>/<name>"
        history.create_dataset(key, data=arr)
    if contents["running"]:
        running = f.create_group("running")
        for key, arr in contents["running"].items():
            running.create_dataset(key, data=arr)
    write_timeline(f, ckpt.timeline)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers so json.dumps takes them (the Trainer may hand us np.float32)."""
    return value.item() if isinstance(value, np.generic) else value


def _contents_from_checkpoint(ckpt: Checkpoint) -> dict:
    """The in-memory checkpoint in the shape _check_contents expects, validated the same way as a file."""
    for name, cls in (("model_config", ModelConfig), ("train_config", TrainConfig), ("dataset", DatasetSpec)):
        if not isinstance(getattr(ckpt, name), cls):
            raise Invalid(f"{name} must be a {cls.__name__}")
    progress = check_progress({str(k): _plain(v) for k, v in dict(ckpt.progress).items()})

    opt = ckpt.optimizer_state or {}
    if not isinstance(opt, dict) or set(opt) - {"param_groups", "state"}:
        raise Invalid("optimizer_state must be a dict with 'param_groups' and 'state'")
    groups = json.loads(_json(opt.get("param_groups", []), "optimizer param_groups"))  # tuples -> lists, as loaded
    optimizer: dict[str, np.ndarray] = {}
    for index, tensors in dict(opt.get("state", {})).items():
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise Invalid(f"optimizer state key {index!r} is not a parameter index")
        for name, arr in dict(tensors).items():
            optimizer[f"{int(index)}/{name}"] = np.asarray(arr)

    contents = {
        "model": {str(k): np.asarray(v) for k, v in ckpt.model_state.items()},
        "param_groups": groups,
        "optimizer": optimizer,
        "rng": {str(k): np.asarray(v) for k, v in ckpt.rng_state.items()},
        "history": {str(k): np.asarray(v) for k, v in ckpt.history.items()},
        "running": {str(k): np.asarray(v) for k, v in (ckpt.running or {}).items()},
        "progress": progress,
        "timeline": _timeline_parts(ckpt.timeline),
    }
    check_contents(ckpt.model_config, contents)
    if len(ckpt.timeline):
        check_timeline_values(ckpt.timeline, int(progress["step"]), Invalid)
    return contents


def _timeline_parts(timeline: Timeline) -> dict:
    if not isinstance(timeline, Timeline):
        raise Invalid("timeline must be a trainer.checkpoints.timeline.Timeline")
    if not len(timeline):
        return {}
    return {**{name: np.asarray(getattr(timeline, name)) for name in COLUMNS},
            "weights": {str(k): np.asarray(v) for k, v in timeline.weights.items()}}
