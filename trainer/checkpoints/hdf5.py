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

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from trainer.atomic import atomic_write
from trainer.checkpoints.schema import (
    MAX_TEXT_BYTES,
    OPTIONAL_SECTIONS,
    SECTIONS,
    Invalid,
    check_contents,
    check_finite,
    check_progress,
)
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.errors import CheckpointError, ConfigError

FORMAT_NAME = "vae-explorer-checkpoint"
FORMAT_VERSION = 3
"""2: ModelConfig.layers (hierarchical VAEs), version 1 files read as one layer; 3: the residual ladder, IWAE and the
VampPrior, version 1 and 2 files read with the plain ladder (ModelConfig.ladder)."""

# HDF5 type classes named for error messages; only INTEGER and FLOAT are ever accepted for data.
_TYPE_CLASS_NAMES = {
    h5py.h5t.STRING: "text",
    h5py.h5t.OPAQUE: "opaque bytes",
    h5py.h5t.VLEN: "variable-length data",
    h5py.h5t.COMPOUND: "compound records",
    h5py.h5t.ENUM: "an enum (or bool)",
    h5py.h5t.REFERENCE: "object references",
    h5py.h5t.ARRAY: "an array type",
    h5py.h5t.BITFIELD: "bitfields",
    h5py.h5t.TIME: "time values",
}


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
            header = _read_header(f)
            contents = _contents_from_file(f, header["model_config"])
            arrays = _read_arrays(contents)
            check_finite(arrays["model"], [a for entry in arrays["optimizer"].values() for a in entry.values()],
                         arrays["running"])
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
    )


def read_info(path: str | Path) -> dict[str, Any]:
    """Configs, progress and shapes, with the whole layout validated but no array read (cheap on big files)."""
    path = Path(path)
    with _open(path) as f:
        try:
            header = _read_header(f)
            contents = _contents_from_file(f, header["model_config"])
            shapes = {part: {k: tuple(d.shape) for k, d in contents[part].items()} for part in ("model", "history")}
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
    }
    check_contents(ckpt.model_config, contents)
    return contents


# --- reading --------------------------------------------------------------------------------------


def _read_header(f: h5py.File) -> dict[str, Any]:
    """Root attributes, in the order that gives the most useful message first: format, version, configs."""
    if "format" not in f.attrs:
        raise Invalid(f"not a vae-explorer checkpoint (no 'format' attribute; expected {FORMAT_NAME!r})")
    fmt = _read_text(f, "format")
    if fmt != FORMAT_NAME:
        raise Invalid(f"not a vae-explorer checkpoint (format is {fmt[:80]!r}, expected {FORMAT_NAME!r})")
    version = _read_int(f, "format_version")
    if version > FORMAT_VERSION:
        raise Invalid(f"written by a newer vae-explorer (version {version}), this one reads {FORMAT_VERSION}")
    if version < 1:
        raise Invalid(f"unknown format_version {version}")
    header: dict[str, Any] = {"format_version": version, "created": _read_text(f, "created")}
    for name, cls in (("model_config", ModelConfig), ("train_config", TrainConfig), ("dataset", DatasetSpec)):
        data = _read_json(f, name)
        if name == "model_config" and version < 3 and isinstance(data, dict):
            data.setdefault("ladder", "plain")  # the only hierarchy those versions had
        try:
            header[name] = cls.from_dict(data)
        except (ConfigError, TypeError, ValueError) as exc:
            raise Invalid(f"bad {name}: {exc}") from None
    header["progress"] = check_progress(_read_json(f, "progress"))
    return header


def _attr_type(obj: h5py.HLObject, name: str) -> h5py.h5t.TypeID:
    if name not in obj.attrs:
        raise Invalid(f"{obj.name} has no '{name}' attribute")
    aid = obj.attrs.get_id(name)
    if aid.shape != ():
        raise Invalid(f"attribute {obj.name}:{name} is not a single value")
    return aid.get_type()


def _read_text(obj: h5py.HLObject, name: str) -> str:
    tid = _attr_type(obj, name)
    # Fixed-length strings only: their size is in the type, so it is checked before anything is read.
    if tid.get_class() != h5py.h5t.STRING or tid.is_variable_str():
        raise Invalid(f"attribute {obj.name}:{name} is not a fixed-length string")
    if tid.get_size() > MAX_TEXT_BYTES:
        raise Invalid(f"attribute {obj.name}:{name} is larger than {MAX_TEXT_BYTES} bytes")
    raw = obj.attrs[name]
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(f"attribute {obj.name}:{name} is not UTF-8 text") from None


def _read_int(obj: h5py.HLObject, name: str) -> int:
    if _attr_type(obj, name).get_class() != h5py.h5t.INTEGER:
        raise Invalid(f"attribute {obj.name}:{name} is not an integer")
    return int(obj.attrs[name])


def _read_json(obj: h5py.HLObject, name: str) -> Any:
    try:
        return json.loads(_read_text(obj, name))
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"attribute {obj.name}:{name} is not valid JSON ({exc})") from None


def _children(group: h5py.Group, want: type) -> dict[str, Any]:
    """Members of a group, each a hard link to a `want` (Group or Dataset).

    Soft and external links are refused: an external link would make h5py open another file of the
    attacker's choosing. Datasets are checked to hold plain numbers before anyone reads them.
    """
    out = {}
    for name in group:
        link = group.get(name, getlink=True)
        where = f"{group.name.rstrip('/')}/{name}"
        if not isinstance(link, h5py.HardLink):
            kind = {h5py.SoftLink: "a soft link", h5py.ExternalLink: "an external link"}.get(type(link), "a link")
            raise Invalid(f"{where} is {kind}; only plain members are allowed")
        obj = group[name]
        if not isinstance(obj, want):
            raise Invalid(f"{where} should be a {want.__name__.lower()}, found a {type(obj).__name__.lower()}")
        if isinstance(obj, h5py.Dataset):
            cls = obj.id.get_type().get_class()
            if cls not in (h5py.h5t.INTEGER, h5py.h5t.FLOAT):
                raise Invalid(f"{where} holds {_TYPE_CLASS_NAMES.get(cls, 'non-numeric data')}, not numbers")
            if obj.shape is None:
                raise Invalid(f"{where} has no dataspace")
        out[name] = obj
    return out


def _contents_from_file(f: h5py.File, model_config: ModelConfig) -> dict:
    """Datasets (unread) keyed like _contents_from_checkpoint, after checking the tree has exactly our layout."""
    top = _children(f, h5py.Group)
    missing = [s for s in SECTIONS if s not in top]
    if missing:
        raise Invalid(f"missing group /{missing[0]}")
    extra = sorted(set(top) - set(SECTIONS) - set(OPTIONAL_SECTIONS))
    if extra:
        raise Invalid(f"unexpected group /{extra[0]}")

    optimizer = {}
    opt_top = _children(top["optimizer"], h5py.Group)
    if set(opt_top) != {"state"}:
        raise Invalid("/optimizer must hold exactly one group, 'state'")
    for index, group in _children(opt_top["state"], h5py.Group).items():
        for name, dset in _children(group, h5py.Dataset).items():
            optimizer[f"{index}/{name}"] = dset
    history = {}
    for group_name, group in _children(top["history"], h5py.Group).items():
        for name, dset in _children(group, h5py.Dataset).items():
            history[f"{group_name}/{name}"] = dset

    contents = {
        "model": _children(top["model"], h5py.Dataset),
        "param_groups": _read_json(top["optimizer"], "param_groups"),
        "optimizer": optimizer,
        "rng": _children(top["rng"], h5py.Dataset),
        "history": history,
        "running": _children(top["running"], h5py.Dataset) if "running" in top else {},
    }
    check_contents(model_config, contents)
    for part in ("model", "optimizer", "rng", "history", "running"):
        for dset in contents[part].values():
            _check_stored(dset)
    return contents


def _check_stored(dset: h5py.Dataset) -> None:
    """The dataset's bytes are all in this file: not elsewhere, not missing."""
    # External raw storage and virtual datasets read other files of the writer's choosing (/etc/passwd, a
    # FIFO that blocks forever), the same danger as the external links _children refuses.
    plist = dset.id.get_create_plist()
    if (plist.get_layout() not in (h5py.h5d.COMPACT, h5py.h5d.CONTIGUOUS, h5py.h5d.CHUNKED)
            or plist.get_external_count()):
        raise Invalid(f"{dset.name} keeps its data outside this file (external storage or a virtual dataset)")
    # HDF5 hands back the fill value for storage never written, so a few-KB file could declare a model of
    # MAX_PARAMS with sane shapes and make load allocate gigabytes of zeros. The bytes must be in the file.
    if dset.chunks is None:  # contiguous or compact: one block, allocated when written
        stored = dset.id.get_storage_size() >= dset.size * dset.dtype.itemsize
    else:  # chunked (another tool's rewrite, maybe compressed): every chunk written
        stored = dset.id.get_num_chunks() >= math.prod(-(-int(s) // int(c)) for s, c in zip(dset.shape, dset.chunks))
    if not stored:
        raise Invalid(f"{dset.name} declares shape {tuple(dset.shape)} but the file does not hold its data")


def _read_arrays(contents: dict) -> dict:
    """Only now, with every shape and dtype known to be sane, read the data."""

    def read(dset: h5py.Dataset) -> np.ndarray:
        arr = dset[()]
        arr = np.asarray(arr)
        # big-endian data from another tool: torch.from_numpy refuses non-native byte order
        return arr.astype(arr.dtype.newbyteorder("="), copy=False)

    optimizer: dict[int, dict[str, np.ndarray]] = {}
    for key, dset in contents["optimizer"].items():
        index, name = key.split("/")
        optimizer.setdefault(int(index), {})[name] = read(dset)
    return {
        "model": {k: read(d) for k, d in contents["model"].items()},
        "param_groups": contents["param_groups"],
        "optimizer": dict(sorted(optimizer.items())),
        "rng": {k: read(d) for k, d in contents["rng"].items()},
        "history": {k: read(d) for k, d in contents["history"].items()},
        "running": {k: read(d) for k, d in contents["running"].items()},
    }
