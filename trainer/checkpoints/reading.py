"""Reading a checkpoint file: its header and its tree checked to be exactly our layout before any array is read.

    header = read_header(f)                               # format, version, configs, progress
    contents = contents_from_file(f, header["model_config"])   # unread h5py datasets, every shape and dtype checked
    arrays = read_arrays(contents)                        # only now the data
    timeline = timeline_of(arrays["timeline"], header)    # the snapshots, or a Timeline saying why there are none

Problems raise trainer.checkpoints.schema.Invalid (phrased without the file name); trainer.checkpoints.hdf5 adds
the name. No pickle, no links to other files, no storage outside the file.
"""

from __future__ import annotations

import json
import math
from typing import Any

import h5py
import numpy as np

from trainer.checkpoints.schema import (MAX_TEXT_BYTES, OPTIONAL_SECTIONS, SECTIONS, Invalid, check_contents,
                                        check_progress)
from trainer.checkpoints.timeline import COLUMNS, OLD_FORMAT, Timeline, check_timeline_values, turned_off
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.errors import ConfigError

FORMAT_NAME = "vae-explorer-checkpoint"
FORMAT_VERSION = 4
"""2: ModelConfig.layers (hierarchical VAEs), version 1 files read as one layer; 3: the residual ladder, IWAE and the
VampPrior, version 1 and 2 files read with the plain ladder (ModelConfig.ladder); 4: the timeline of snapshots,
older files read with none (and say so)."""
TIMELINE_SINCE = 4

# HDF5 type classes named for error messages; only INTEGER and FLOAT are ever accepted for data.
TYPE_CLASS_NAMES = {
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


def timeline_of(parts: dict, header: dict) -> Timeline:
    """The file's snapshots, checked; when it has none, a Timeline that says why."""
    if parts:
        timeline = Timeline(**{name: parts[name] for name in COLUMNS}, weights=parts["weights"])
        check_timeline_values(timeline, int(header["progress"]["step"]), Invalid)
        return timeline
    if header["format_version"] < TIMELINE_SINCE:
        return Timeline.none(OLD_FORMAT.format(version=header["format_version"]))
    return Timeline.none(turned_off(header["train_config"]) or Timeline().off)


def read_header(f: h5py.File) -> dict[str, Any]:
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
    """Members of a group, each a hard link to a `want` (Group or Dataset): see _member."""
    return {name: _member(group, name, want) for name in group}


def _member(group: h5py.Group, name: str, want: type) -> Any:
    """Member `name` of a group, a hard link to a `want` (Group or Dataset).

    Soft and external links are refused: an external link would make h5py open another file of the
    attacker's choosing. Datasets are checked to hold plain numbers before anyone reads them.
    """
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
            raise Invalid(f"{where} holds {TYPE_CLASS_NAMES.get(cls, 'non-numeric data')}, not numbers")
        if obj.shape is None:
            raise Invalid(f"{where} has no dataspace")
    return obj


def contents_from_file(f: h5py.File, model_config: ModelConfig) -> dict:
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
        "timeline": _timeline_datasets(top["timeline"]) if "timeline" in top else {},
    }
    check_contents(model_config, contents)
    timeline = contents["timeline"]
    for dset in [*(d for part in ("model", "optimizer", "rng", "history", "running") for d in contents[part].values()),
                 *(timeline[c] for c in COLUMNS if timeline), *timeline.get("weights", {}).values()]:
        _check_stored(dset)
    return contents


def _timeline_datasets(group: h5py.Group) -> dict:
    """/timeline's columns and weights, unread: exactly COLUMNS and a group of weights."""
    members = set(group)
    if members != {*COLUMNS, "weights"}:
        odd = sorted(members ^ {*COLUMNS, "weights"})[0]
        raise Invalid(f"/timeline {'has an unexpected' if odd in members else 'has no'} member {odd!r}")
    return {**{name: _member(group, name, h5py.Dataset) for name in COLUMNS},
            "weights": _children(_member(group, "weights", h5py.Group), h5py.Dataset)}


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


def read_arrays(contents: dict) -> dict:
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
        "timeline": ({**{c: read(contents["timeline"][c]) for c in COLUMNS},
                      "weights": {k: read(d) for k, d in contents["timeline"]["weights"].items()}}
                     if contents["timeline"] else {}),
    }
