"""What a valid checkpoint holds: the checks shared by save and load, on numpy arrays and unread h5py datasets alike.

    check_contents(model_config, contents)   # names, dtypes and declared shapes, before any array is read
    check_progress(progress)                 # the progress numbers a resume needs, all finite
    check_finite(model, optimizer, running)  # after reading: no NaN/Inf weights, Adam moments or running sums

A problem raises `Invalid`, phrased without the file name; trainer.checkpoints.hdf5 adds the name and raises
CheckpointError. The limits are checked against *declared* shapes before anything is read, so a tiny file that
declares a huge (chunked, storage-less) dataset is refused instead of allocating gigabytes.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

import h5py
import numpy as np
import torch

from trainer.checkpoints.timeline import check_timeline
from trainer.config import ModelConfig
from trainer.model.hierarchy import build_model

MAX_PARAMS = 200_000_000
MAX_HISTORY_ELEMENTS = 50_000_000
MAX_RNG_BYTES = 1 << 20
MAX_TEXT_BYTES = 1 << 20  # one JSON attribute

SECTIONS = ("model", "optimizer", "rng", "history")
OPTIONAL_SECTIONS = ("running", "timeline")  # absent in files from before they existed (and timeline: when empty)
MAX_RUNNING_ELEMENTS = 1 << 16
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")
ADAM_FLAGS = ("amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused", "decoupled_weight_decay")
PROGRESS_INTS = ("step", "epoch", "batch_in_epoch")
PROGRESS_FLOATS = ("beta", "lr", "free_bits", "elapsed_s")
_NAME = re.compile(r"[a-z0-9_]+")
_HISTORY_KEY = re.compile(r"([a-z0-9_]+)/([a-z0-9_]+)")


class Invalid(Exception):
    """A problem phrased without the file name; the public functions of trainer.checkpoints.hdf5 add it."""


def _expected_shapes(config: ModelConfig) -> tuple[dict[str, tuple[int, ...]], list[tuple[int, ...]]]:
    """state_dict and parameter shapes for `config`, from a model on the meta device: no memory allocated."""
    try:
        with torch.device("meta"):
            model = build_model(config)
    except Exception as exc:  # a config that validates but cannot build (e.g. a float where an int belongs)
        raise Invalid(f"model_config does not build a model: {exc}") from None
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    params = [tuple(p.shape) for p in model.parameters()]  # the order torch's optimizer indexes them
    total = sum(math.prod(s) for s in state.values())
    if total > MAX_PARAMS:
        raise Invalid(f"model_config describes {total:,} parameters, more than the limit of {MAX_PARAMS:,}")
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
        raise Invalid(f"{where} has dtype {arr.dtype}, expected {what}")
    if shape is not None and tuple(arr.shape) != shape:
        raise Invalid(f"{where} has shape {tuple(arr.shape)}, expected {shape}")


def check_contents(config: ModelConfig, c: dict) -> None:
    """Check names, dtypes and declared shapes; reorders c["model"] to the model's state_dict order."""
    state_shapes, param_shapes = _expected_shapes(config)

    model = c["model"]
    missing = sorted(set(state_shapes) - set(model))
    if missing:
        raise Invalid(f"model weight {missing[0]} is missing ({len(missing)} missing in all)")
    extra = sorted(set(model) - set(state_shapes))
    if extra:
        raise Invalid(f"unexpected model weight {extra[0]!r} for this model_config")
    for key, expected in state_shapes.items():
        _check_array(f"model weight {key}", model[key], "f", "a float type", expected)
    c["model"] = {key: model[key] for key in state_shapes}  # h5py lists names alphabetically
    if c.get("timeline"):
        check_timeline(c["timeline"], state_shapes, Invalid)

    amsgrad = _check_param_groups(c["param_groups"], len(param_shapes))
    state_names: dict[str, set[str]] = {}
    for key, arr in c["optimizer"].items():
        index, _, name = key.partition("/")
        where = f"optimizer state {key}"
        if not (index.isdigit() and str(int(index)) == index and int(index) < len(param_shapes)):
            raise Invalid(f"{where}: index {index!r} is not one of the {len(param_shapes)} parameters")
        if not _NAME.fullmatch(name):
            raise Invalid(f"{where}: name must match [a-z0-9_]+")
        if name == "step":  # Adam's step counter: a scalar
            _check_array(where, arr, "fiu", "a number", ())
        else:  # exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer...: one value per parameter entry
            _check_array(where, arr, "f", "a float type", param_shapes[int(index)])
        state_names.setdefault(index, set()).add(name)
    if state_names and not c["param_groups"]:
        raise Invalid("optimizer state is present but param_groups is empty")
    for index, names in state_names.items():
        # Adam's step() indexes these without checking: a parameter's state is all there or absent
        needed = set(ADAM_STATE) | ({"max_exp_avg_sq"} if amsgrad[int(index)] else set())
        if needed - names:
            raise Invalid(f"optimizer state {index} has no {sorted(needed - names)[0]!r}")

    for name, arr in c["rng"].items():
        if not _NAME.fullmatch(name):
            raise Invalid(f"rng state name {name!r} must match [a-z0-9_]+")
        _check_array(f"rng state {name}", arr, "u", "uint8")
        if arr.dtype.itemsize != 1 or len(arr.shape) != 1 or arr.shape[0] > MAX_RNG_BYTES:
            raise Invalid(f"rng state {name} must be a 1-D uint8 array under {MAX_RNG_BYTES} bytes")

    running_total = 0
    for name, arr in c["running"].items():
        if not _NAME.fullmatch(name):
            raise Invalid(f"running sum name {name!r} must match [a-z0-9_]+")
        _check_array(f"running sum {name}", arr, "f", "a float type")
        if len(arr.shape) != 1:
            raise Invalid(f"running sum {name} has shape {tuple(arr.shape)}, expected 1-D")
        running_total += int(arr.shape[0])
        if running_total > MAX_RUNNING_ELEMENTS:
            raise Invalid(f"running sums hold more than {MAX_RUNNING_ELEMENTS:,} values (at {name})")

    total = 0
    rows: dict[str, tuple[str, int]] = {}
    for key, arr in c["history"].items():
        match = _HISTORY_KEY.fullmatch(key)
        if not match:
            raise Invalid(f"history name {key!r} must look like group/name with [a-z0-9_]+ parts")
        _check_array(f"history {key}", arr, "fiu", "numbers (int or float)")
        if len(arr.shape) not in (1, 2):
            raise Invalid(f"history {key} has shape {tuple(arr.shape)}, expected 1-D or 2-D")
        group, n = match.group(1), int(arr.shape[0])
        if group in rows and rows[group][1] != n:
            raise Invalid(f"history {key} has {n} rows but {rows[group][0]} has {rows[group][1]}")
        rows.setdefault(group, (key, n))
        total += math.prod(int(s) for s in arr.shape)  # Python ints: a declared 10**30 cannot overflow
        if total > MAX_HISTORY_ELEMENTS:
            raise Invalid(f"history is larger than {MAX_HISTORY_ELEMENTS:,} values (at {key}, shape {arr.shape})")


def _check_param_groups(groups: Any, n_params: int) -> dict[int, bool]:
    """Check torch Adam's param_groups ([] = no optimizer state); returns amsgrad per parameter index."""
    if not isinstance(groups, list):
        raise Invalid("optimizer param_groups must be a list")
    amsgrad: dict[int, bool] = {}
    for g in groups:
        if not isinstance(g, dict) or not isinstance(g.get("params"), list):
            raise Invalid("each optimizer param group must be a mapping with a 'params' list")
        for i in g["params"]:
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n_params or i in amsgrad:
                raise Invalid(f"optimizer param group index {i!r} is out of range or repeated ({n_params} parameters)")
            amsgrad[i] = bool(g.get("amsgrad"))
    if groups and len(amsgrad) != n_params:  # torch's load_state_dict refuses groups of another size
        raise Invalid(f"optimizer param_groups cover {len(amsgrad)} of the {n_params} parameters")
    for g in groups:  # the checks of torch.optim.Adam's constructor, which load_state_dict skips
        for key in ("lr", "eps", "weight_decay"):
            value = g.get(key)
            # float max, not inf: JSON ints are unbounded and torch turns 10**400 into an OverflowError
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= sys.float_info.max:
                raise Invalid(f"optimizer param group {key} must be a finite number >= 0, got {value!r}")
        betas = g.get("betas")
        if not (isinstance(betas, list) and len(betas) == 2
                and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
            raise Invalid(f"optimizer param group betas must be two numbers in [0, 1), got {betas!r}")
        for key in ADAM_FLAGS:
            if not (g.get(key) is None or isinstance(g[key], bool)):  # 1 == True, but torch tests truthiness
                raise Invalid(f"optimizer param group {key} must be true, false or null, got {g[key]!r}")
        if g.get("fused") and g.get("differentiable"):
            raise Invalid("optimizer param group cannot be both fused and differentiable")
    return amsgrad


def check_progress(progress: Any) -> dict[str, float | int]:
    if not isinstance(progress, dict):
        raise Invalid("progress must be a mapping")
    for key in PROGRESS_INTS + PROGRESS_FLOATS:
        if key not in progress:
            raise Invalid(f"progress has no {key!r}")
    for key, value in progress.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise Invalid(f"progress {key!r} must be a finite number, got {value!r}")
        if key in PROGRESS_INTS and (not isinstance(value, int) or value < 0):
            raise Invalid(f"progress {key!r} must be a non-negative integer, got {value!r}")
    return dict(progress)


def check_finite(model: dict[str, np.ndarray], optimizer: list[np.ndarray], running: dict[str, np.ndarray]) -> None:
    # Weights with NaN/Inf would load "fine" and then poison every reconstruction; say so at the door.
    for key, arr in model.items():
        if not np.all(np.isfinite(arr)):
            raise Invalid(f"weights contain NaN/Inf ({key})")
    for arr in optimizer:
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise Invalid("optimizer state contains NaN/Inf")
    for key, arr in running.items():
        if not np.all(np.isfinite(arr)):
            raise Invalid(f"running sum {key} contains NaN/Inf")
