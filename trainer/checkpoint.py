"""Checkpoints: one HDF5 file of plain numbers and JSON text, written atomically, validated on load.

    save_checkpoint("run.h5", ckpt)      # temp file + fsync + os.replace: a crash leaves old or new, never half
    ckpt = load_checkpoint("run.h5")     # every shape and dtype checked before any array is read
    info = read_info("run.h5")           # configs, progress, history shapes; reads no weight arrays

No pickle and no torch.load anywhere: a checkpoint from a stranger can at worst be refused, never run code.
The layout is documented in docs/checkpoint-format.md so it can be read with plain h5py.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.errors import CheckpointError, ConfigError
from trainer.model import VAE

FORMAT_NAME = "vae-explorer-checkpoint"
FORMAT_VERSION = 1

# Bounds checked against *declared* shapes before anything is read, so a tiny file that declares a huge
# (chunked, storage-less) dataset is refused instead of allocating gigabytes.
MAX_PARAMS = 200_000_000
MAX_HISTORY_ELEMENTS = 50_000_000
MAX_RNG_BYTES = 1 << 20
MAX_TEXT_BYTES = 1 << 20  # one JSON attribute

SECTIONS = ("model", "optimizer", "rng", "history")
OPTIONAL_SECTIONS = ("running",)  # absent in files from before it existed
MAX_RUNNING_ELEMENTS = 1 << 16
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")
ADAM_FLAGS = ("amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused", "decoupled_weight_decay")
PROGRESS_INTS = ("step", "epoch", "batch_in_epoch")
PROGRESS_FLOATS = ("beta", "lr", "free_bits", "elapsed_s")
_NAME = re.compile(r"[a-z0-9_]+")
_HISTORY_KEY = re.compile(r"([a-z0-9_]+)/([a-z0-9_]+)")

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


class _Invalid(Exception):
    """A problem phrased without the file name; the public functions add it and raise CheckpointError."""


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
        _check_finite(contents["model"], list(contents["optimizer"].values()), contents["running"])  # as load would
    except _Invalid as exc:
        raise _fail(path, "cannot save", exc) from None
    except Exception as exc:  # e.g. a field of the wrong type altogether
        raise _fail(path, "cannot save", f"{type(exc).__name__}: {exc}") from exc
    # Same folder as the target, so os.replace is a rename within one filesystem (atomic on POSIX and Windows).
    # The leading dot hides it; a crash may leave one behind, which load never looks at.
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with h5py.File(tmp, "w") as f:
            _write(f, ckpt, contents)
            f.flush()
        _fsync_path(tmp)  # data on disk before the rename, or a power cut could leave a renamed empty file
        os.replace(tmp, path)
    except BaseException as exc:
        _remove_quietly(tmp)
        if isinstance(exc, Exception):
            raise _fail(path, "cannot save", f"{type(exc).__name__}: {exc}") from exc
        raise  # KeyboardInterrupt and friends keep their meaning
    _fsync_dir(path.parent)  # make the rename itself durable


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint; any problem raises CheckpointError naming the file."""
    path = Path(path)
    with _open(path) as f:
        try:
            header = _read_header(f)
            contents = _contents_from_file(f, header["model_config"])
            arrays = _read_arrays(contents)
            _check_finite(arrays["model"], [a for entry in arrays["optimizer"].values() for a in entry.values()],
                          arrays["running"])
        except _Invalid as exc:
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
        except _Invalid as exc:
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


def _fsync_path(path: Path) -> None:
    # h5py hides its file descriptor, so fsync through a fresh one; O_RDWR because Windows needs write access.
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; NTFS journals the rename itself
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (network, FUSE) refuse fsync on folders; the file is already in place
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


# --- writing --------------------------------------------------------------------------------------


def _text(value: str) -> np.ndarray:
    """A fixed-length UTF-8 string: plain HDF5 text, no variable-length heap objects."""
    raw = value.encode("utf-8")
    return np.array(raw, dtype=h5py.string_dtype("utf-8", max(len(raw), 1)))


def _json(value: Any, what: str) -> str:
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"{what} is not plain JSON data: {exc}") from None
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise _Invalid(f"{what} is larger than {MAX_TEXT_BYTES} bytes")
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
            raise _Invalid(f"{name} must be a {cls.__name__}")
    progress = _check_progress({str(k): _plain(v) for k, v in dict(ckpt.progress).items()})

    opt = ckpt.optimizer_state or {}
    if not isinstance(opt, dict) or set(opt) - {"param_groups", "state"}:
        raise _Invalid("optimizer_state must be a dict with 'param_groups' and 'state'")
    groups = json.loads(_json(opt.get("param_groups", []), "optimizer param_groups"))  # tuples -> lists, as loaded
    optimizer: dict[str, np.ndarray] = {}
    for index, tensors in dict(opt.get("state", {})).items():
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise _Invalid(f"optimizer state key {index!r} is not a parameter index")
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
    _check_contents(ckpt.model_config, contents)
    return contents


# --- reading --------------------------------------------------------------------------------------


def _read_header(f: h5py.File) -> dict[str, Any]:
    """Root attributes, in the order that gives the most useful message first: format, version, configs."""
    if "format" not in f.attrs:
        raise _Invalid(f"not a vae-explorer checkpoint (no 'format' attribute; expected {FORMAT_NAME!r})")
    fmt = _read_text(f, "format")
    if fmt != FORMAT_NAME:
        raise _Invalid(f"not a vae-explorer checkpoint (format is {fmt[:80]!r}, expected {FORMAT_NAME!r})")
    version = _read_int(f, "format_version")
    if version > FORMAT_VERSION:
        raise _Invalid(f"written by a newer vae-explorer (version {version}), this one reads {FORMAT_VERSION}")
    if version < 1:
        raise _Invalid(f"unknown format_version {version}")
    header: dict[str, Any] = {"format_version": version, "created": _read_text(f, "created")}
    for name, cls in (("model_config", ModelConfig), ("train_config", TrainConfig), ("dataset", DatasetSpec)):
        data = _read_json(f, name)
        try:
            header[name] = cls.from_dict(data)
        except (ConfigError, TypeError, ValueError) as exc:
            raise _Invalid(f"bad {name}: {exc}") from None
    header["progress"] = _check_progress(_read_json(f, "progress"))
    return header


def _attr_type(obj: h5py.HLObject, name: str) -> h5py.h5t.TypeID:
    if name not in obj.attrs:
        raise _Invalid(f"{obj.name} has no '{name}' attribute")
    aid = obj.attrs.get_id(name)
    if aid.shape != ():
        raise _Invalid(f"attribute {obj.name}:{name} is not a single value")
    return aid.get_type()


def _read_text(obj: h5py.HLObject, name: str) -> str:
    tid = _attr_type(obj, name)
    # Fixed-length strings only: their size is in the type, so it is checked before anything is read.
    if tid.get_class() != h5py.h5t.STRING or tid.is_variable_str():
        raise _Invalid(f"attribute {obj.name}:{name} is not a fixed-length string")
    if tid.get_size() > MAX_TEXT_BYTES:
        raise _Invalid(f"attribute {obj.name}:{name} is larger than {MAX_TEXT_BYTES} bytes")
    raw = obj.attrs[name]
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _Invalid(f"attribute {obj.name}:{name} is not UTF-8 text") from None


def _read_int(obj: h5py.HLObject, name: str) -> int:
    if _attr_type(obj, name).get_class() != h5py.h5t.INTEGER:
        raise _Invalid(f"attribute {obj.name}:{name} is not an integer")
    return int(obj.attrs[name])


def _read_json(obj: h5py.HLObject, name: str) -> Any:
    try:
        return json.loads(_read_text(obj, name))
    except (ValueError, RecursionError) as exc:
        raise _Invalid(f"attribute {obj.name}:{name} is not valid JSON ({exc})") from None


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
            raise _Invalid(f"{where} is {kind}; only plain members are allowed")
        obj = group[name]
        if not isinstance(obj, want):
            raise _Invalid(f"{where} should be a {want.__name__.lower()}, found a {type(obj).__name__.lower()}")
        if isinstance(obj, h5py.Dataset):
            cls = obj.id.get_type().get_class()
            if cls not in (h5py.h5t.INTEGER, h5py.h5t.FLOAT):
                raise _Invalid(f"{where} holds {_TYPE_CLASS_NAMES.get(cls, 'non-numeric data')}, not numbers")
            if obj.shape is None:
                raise _Invalid(f"{where} has no dataspace")
        out[name] = obj
    return out


def _contents_from_file(f: h5py.File, model_config: ModelConfig) -> dict:
    """Datasets (unread) keyed like _contents_from_checkpoint, after checking the tree has exactly our layout."""
    top = _children(f, h5py.Group)
    missing = [s for s in SECTIONS if s not in top]
    if missing:
        raise _Invalid(f"missing group /{missing[0]}")
    extra = sorted(set(top) - set(SECTIONS) - set(OPTIONAL_SECTIONS))
    if extra:
        raise _Invalid(f"unexpected group /{extra[0]}")

    optimizer = {}
    opt_top = _children(top["optimizer"], h5py.Group)
    if set(opt_top) != {"state"}:
        raise _Invalid("/optimizer must hold exactly one group, 'state'")
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
    _check_contents(model_config, contents)
    for part in ("model", "optimizer", "rng", "history", "running"):
        for dset in contents[part].values():
            _check_stored(dset)
    return contents


def _check_stored(dset: h5py.Dataset) -> None:
    """The dataset's bytes are all in this file: not elsewhere, not missing."""
    # External raw storage and virtual datasets read other files of the writer's choosing (/etc/passwd, a
    # FIFO that blocks forever), the same danger as the external links _children refuses.
    plist = dset.id.get_create_plist()
    if plist.get_layout() not in (h5py.h5d.COMPACT, h5py.h5d.CONTIGUOUS, h5py.h5d.CHUNKED) or plist.get_external_count():
        raise _Invalid(f"{dset.name} keeps its data outside this file (external storage or a virtual dataset)")
    # HDF5 hands back the fill value for storage never written, so a few-KB file could declare a model of
    # MAX_PARAMS with sane shapes and make load allocate gigabytes of zeros. The bytes must be in the file.
    if dset.chunks is None:  # contiguous or compact: one block, allocated when written
        stored = dset.id.get_storage_size() >= dset.size * dset.dtype.itemsize
    else:  # chunked (another tool's rewrite, maybe compressed): every chunk written
        stored = dset.id.get_num_chunks() >= math.prod(-(-int(s) // int(c)) for s, c in zip(dset.shape, dset.chunks))
    if not stored:
        raise _Invalid(f"{dset.name} declares shape {tuple(dset.shape)} but the file does not hold its data")


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


# --- validation shared by save and load (works on numpy arrays and unread h5py datasets alike) ----------


def _expected_shapes(config: ModelConfig) -> tuple[dict[str, tuple[int, ...]], list[tuple[int, ...]]]:
    """state_dict and parameter shapes for `config`, from a model on the meta device: no memory allocated."""
    try:
        with torch.device("meta"):
            model = VAE(config)
    except Exception as exc:  # a config that validates but cannot build (e.g. a float where an int belongs)
        raise _Invalid(f"model_config does not build a model: {exc}") from None
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    params = [tuple(p.shape) for p in model.parameters()]  # the order torch's optimizer indexes them
    total = sum(math.prod(s) for s in state.values())
    if total > MAX_PARAMS:
        raise _Invalid(f"model_config describes {total:,} parameters, more than the limit of {MAX_PARAMS:,}")
    return state, params


def _dtype_ok(dtype: np.dtype, kinds: str) -> bool:
    # kind alone is not enough: h5py marks enums and vlen types through dtype metadata
    return (
        dtype.kind in kinds
        and dtype.itemsize <= 8
        and dtype.fields is None
        and dtype.subdtype is None
        and h5py.check_vlen_dtype(dtype) is None
        and h5py.check_enum_dtype(dtype) is None
    )


def _check_array(where: str, arr, kinds: str, what: str, shape: tuple[int, ...] | None = None) -> None:
    if not _dtype_ok(arr.dtype, kinds):
        raise _Invalid(f"{where} has dtype {arr.dtype}, expected {what}")
    if shape is not None and tuple(arr.shape) != shape:
        raise _Invalid(f"{where} has shape {tuple(arr.shape)}, expected {shape}")


def _check_contents(config: ModelConfig, c: dict) -> None:
    """Check names, dtypes and declared shapes; reorders c["model"] to the model's state_dict order."""
    state_shapes, param_shapes = _expected_shapes(config)

    model = c["model"]
    missing = sorted(set(state_shapes) - set(model))
    if missing:
        raise _Invalid(f"model weight {missing[0]} is missing ({len(missing)} missing in all)")
    extra = sorted(set(model) - set(state_shapes))
    if extra:
        raise _Invalid(f"unexpected model weight {extra[0]!r} for this model_config")
    for key, expected in state_shapes.items():
        _check_array(f"model weight {key}", model[key], "f", "a float type", expected)
    c["model"] = {key: model[key] for key in state_shapes}  # h5py lists names alphabetically

    amsgrad = _check_param_groups(c["param_groups"], len(param_shapes))
    state_names: dict[str, set[str]] = {}
    for key, arr in c["optimizer"].items():
        index, _, name = key.partition("/")
        where = f"optimizer state {key}"
        if not (index.isdigit() and str(int(index)) == index and int(index) < len(param_shapes)):
            raise _Invalid(f"{where}: index {index!r} is not one of the {len(param_shapes)} parameters")
        if not _NAME.fullmatch(name):
            raise _Invalid(f"{where}: name must match [a-z0-9_]+")
        if name == "step":  # Adam's step counter: a scalar
            _check_array(where, arr, "fiu", "a number", ())
        else:  # exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer...: one value per parameter entry
            _check_array(where, arr, "f", "a float type", param_shapes[int(index)])
        state_names.setdefault(index, set()).add(name)
    if state_names and not c["param_groups"]:
        raise _Invalid("optimizer state is present but param_groups is empty")
    for index, names in state_names.items():
        # Adam's step() indexes these without checking: a parameter's state is all there or absent
        needed = set(ADAM_STATE) | ({"max_exp_avg_sq"} if amsgrad[int(index)] else set())
        if needed - names:
            raise _Invalid(f"optimizer state {index} has no {sorted(needed - names)[0]!r}")

    for name, arr in c["rng"].items():
        if not _NAME.fullmatch(name):
            raise _Invalid(f"rng state name {name!r} must match [a-z0-9_]+")
        _check_array(f"rng state {name}", arr, "u", "uint8")
        if arr.dtype.itemsize != 1 or len(arr.shape) != 1 or arr.shape[0] > MAX_RNG_BYTES:
            raise _Invalid(f"rng state {name} must be a 1-D uint8 array under {MAX_RNG_BYTES} bytes")

    running_total = 0
    for name, arr in c["running"].items():
        if not _NAME.fullmatch(name):
            raise _Invalid(f"running sum name {name!r} must match [a-z0-9_]+")
        _check_array(f"running sum {name}", arr, "f", "a float type")
        if len(arr.shape) != 1:
            raise _Invalid(f"running sum {name} has shape {tuple(arr.shape)}, expected 1-D")
        running_total += int(arr.shape[0])
        if running_total > MAX_RUNNING_ELEMENTS:
            raise _Invalid(f"running sums hold more than {MAX_RUNNING_ELEMENTS:,} values (at {name})")

    total = 0
    rows: dict[str, tuple[str, int]] = {}
    for key, arr in c["history"].items():
        match = _HISTORY_KEY.fullmatch(key)
        if not match:
            raise _Invalid(f"history name {key!r} must look like group/name with [a-z0-9_]+ parts")
        _check_array(f"history {key}", arr, "fiu", "numbers (int or float)")
        if len(arr.shape) not in (1, 2):
            raise _Invalid(f"history {key} has shape {tuple(arr.shape)}, expected 1-D or 2-D")
        group, n = match.group(1), int(arr.shape[0])
        if group in rows and rows[group][1] != n:
            raise _Invalid(f"history {key} has {n} rows but {rows[group][0]} has {rows[group][1]}")
        rows.setdefault(group, (key, n))
        total += math.prod(int(s) for s in arr.shape)  # Python ints: a declared 10**30 cannot overflow
        if total > MAX_HISTORY_ELEMENTS:
            raise _Invalid(f"history is larger than {MAX_HISTORY_ELEMENTS:,} values (at {key}, shape {arr.shape})")


def _check_param_groups(groups: Any, n_params: int) -> dict[int, bool]:
    """Check torch Adam's param_groups ([] = no optimizer state); returns amsgrad per parameter index."""
    if not isinstance(groups, list):
        raise _Invalid("optimizer param_groups must be a list")
    amsgrad: dict[int, bool] = {}
    for g in groups:
        if not isinstance(g, dict) or not isinstance(g.get("params"), list):
            raise _Invalid("each optimizer param group must be a mapping with a 'params' list")
        for i in g["params"]:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n_params or i in amsgrad:
                raise _Invalid(f"optimizer param group index {i!r} is out of range or repeated ({n_params} parameters)")
            amsgrad[i] = bool(g.get("amsgrad"))
    if groups and len(amsgrad) != n_params:  # torch's load_state_dict refuses groups of another size
        raise _Invalid(f"optimizer param_groups cover {len(amsgrad)} of the {n_params} parameters")
    for g in groups:  # the checks of torch.optim.Adam's constructor, which load_state_dict skips
        for key in ("lr", "eps", "weight_decay"):
            value = g.get(key)
            # float max, not inf: JSON ints are unbounded and torch turns 10**400 into an OverflowError
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= sys.float_info.max:
                raise _Invalid(f"optimizer param group {key} must be a finite number >= 0, got {value!r}")
        betas = g.get("betas")
        if not (isinstance(betas, list) and len(betas) == 2
                and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
            raise _Invalid(f"optimizer param group betas must be two numbers in [0, 1), got {betas!r}")
        for key in ADAM_FLAGS:
            if not (g.get(key) is None or isinstance(g[key], bool)):  # 1 == True, but torch tests truthiness
                raise _Invalid(f"optimizer param group {key} must be true, false or null, got {g[key]!r}")
        if g.get("fused") and g.get("differentiable"):
            raise _Invalid("optimizer param group cannot be both fused and differentiable")
    return amsgrad


def _check_progress(progress: Any) -> dict[str, float | int]:
    if not isinstance(progress, dict):
        raise _Invalid("progress must be a mapping")
    for key in PROGRESS_INTS + PROGRESS_FLOATS:
        if key not in progress:
            raise _Invalid(f"progress has no {key!r}")
    for key, value in progress.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _Invalid(f"progress {key!r} must be a finite number, got {value!r}")
        if key in PROGRESS_INTS and (not isinstance(value, int) or value < 0):
            raise _Invalid(f"progress {key!r} must be a non-negative integer, got {value!r}")
    return dict(progress)


def _check_finite(model: dict[str, np.ndarray], optimizer: list[np.ndarray], running: dict[str, np.ndarray]) -> None:
    # Weights with NaN/Inf would load "fine" and then poison every reconstruction; say so at the door.
    for key, arr in model.items():
        if not np.all(np.isfinite(arr)):
            raise _Invalid(f"weights contain NaN/Inf ({key})")
    for arr in optimizer:
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise _Invalid("optimizer state contains NaN/Inf")
    for key, arr in running.items():
        if not np.all(np.isfinite(arr)):
            raise _Invalid(f"running sum {key} contains NaN/Inf")
