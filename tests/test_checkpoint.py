"""Checkpoints: exact round trips, refusal of every kind of bad file with one line naming it, atomic saves."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import random
import signal
import stat
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from trainer.checkpoints import hdf5 as ckpt_mod
from trainer.checkpoints.hdf5 import (FORMAT_NAME, FORMAT_VERSION, Checkpoint, load_checkpoint, read_info,
                                      save_checkpoint)
from trainer.config import DatasetSpec, ModelConfig, TrainConfig
from trainer.errors import CheckpointError
from trainer.model.vae import VAE

TINY = ModelConfig(input_shape=(1, 8, 8), hidden=(16,), latent_dim=3)


# --- helpers: the Trainer has its own versions of these conversions -------------------------------------


def model_to_numpy(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def optimizer_to_numpy(opt: torch.optim.Optimizer) -> dict:
    sd = opt.state_dict()
    groups = [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in sd["param_groups"]]
    state = {i: {k: v.detach().cpu().numpy().copy() for k, v in s.items()} for i, s in sd["state"].items()}
    return {"param_groups": groups, "state": state}


def optimizer_from_numpy(state: dict) -> dict:
    return {
        "param_groups": state["param_groups"],
        "state": {i: {k: torch.from_numpy(v) for k, v in s.items()} for i, s in state["state"].items()},
    }


def train_steps(model: VAE, opt: torch.optim.Optimizer, steps: int, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    cfg = model.config
    for _ in range(steps):
        x = torch.rand(4, *cfg.input_shape, generator=g)
        y = torch.randint(0, max(cfg.num_classes, 1), (4,), generator=g) if cfg.conditional else None
        eps = torch.randn(4, cfg.latent_dim, generator=g)
        mu, logvar, z, params = model(x, y, eps)
        loss = -model.log_likelihood(x.clamp(0, 1), params).mean() + 0.5 * (mu**2 + logvar.exp() - logvar).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def make_checkpoint(cfg: ModelConfig = TINY, steps: int = 2, seed: int = 0):
    torch.manual_seed(seed)
    model = VAE(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_steps(model, opt, steps, seed)
    n = 5
    ckpt = Checkpoint(
        model_config=cfg,
        train_config=TrainConfig(epochs=3, beta_schedule="warmup:100", seed=seed),
        dataset=DatasetSpec(name="path", path="/data/sprités.npz", limit=100),  # non-ASCII survives
        model_state=model_to_numpy(model),
        optimizer_state=optimizer_to_numpy(opt),
        progress={"step": steps, "epoch": 1, "batch_in_epoch": 7, "beta": 0.25, "lr": 1e-3, "free_bits": 0.5,
                  "elapsed_s": 12.5},
        rng_state={"noise": torch.Generator().manual_seed(seed + 1).get_state().numpy(),
                   "torch_cpu": torch.get_rng_state().numpy()},
        history={
            "steps/step": np.arange(n, dtype=np.int64) * 10,
            "steps/recon": np.linspace(500, 100, n),
            "steps/kl_per_dim": np.random.default_rng(seed).random((n, cfg.latent_dim), dtype=np.float32),
            "epochs/test_elbo": np.array([-300.0, -250.0]),
            "beta_changes/step": np.zeros(0, dtype=np.int64),
            "beta_changes/beta": np.zeros(0, dtype=np.float64),
        },
        created="2024-01-02T03:04:05+00:00",
    )
    return ckpt, model, opt


def assert_same(a: Checkpoint, b: Checkpoint) -> None:
    assert a.model_config == b.model_config
    assert a.train_config == b.train_config
    assert a.dataset == b.dataset
    assert a.progress == b.progress
    assert a.created == b.created
    assert a.optimizer_state["param_groups"] == b.optimizer_state["param_groups"]
    for got, want in [(a.model_state, b.model_state), (a.rng_state, b.rng_state), (a.history, b.history)]:
        assert set(got) == set(want)
        for k in want:
            assert got[k].dtype == want[k].dtype, k
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert set(a.optimizer_state["state"]) == set(b.optimizer_state["state"])
    for i, want in b.optimizer_state["state"].items():
        got = a.optimizer_state["state"][i]
        assert set(got) == set(want)
        for k in want:
            assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape
            np.testing.assert_array_equal(got[k], want[k])


@pytest.fixture(scope="module")
def _valid(tmp_path_factory) -> tuple[bytes, Checkpoint]:
    ckpt, _, _ = make_checkpoint()
    path = tmp_path_factory.mktemp("valid") / "run.h5"
    save_checkpoint(path, ckpt)
    return path.read_bytes(), ckpt


@pytest.fixture
def saved(tmp_path, _valid) -> tuple[Path, Checkpoint]:
    """A fresh copy of one valid checkpoint file, free for a test to damage."""
    data, ckpt = _valid
    path = tmp_path / "run.h5"
    path.write_bytes(data)
    return path, ckpt


# --- round trip -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cfg",
    [
        TINY,
        ModelConfig(arch="conv", input_shape=(1, 28, 28), hidden=(32,), latent_dim=2, likelihood="gaussian"),
        ModelConfig(input_shape=(3, 8, 8), hidden=(16, 8), latent_dim=4, num_classes=3, likelihood="gaussian",
                    sigma=0.1),
    ],
    ids=["mlp", "conv-learned-sigma", "cvae-2-layers"],
)
def test_round_trip_is_exact_and_resumes_training(tmp_path, cfg):
    ckpt, model, opt = make_checkpoint(cfg, steps=3)
    assert ckpt.optimizer_state["state"], "Adam state must exist for the test to mean anything"
    path = tmp_path / "a.h5"
    save_checkpoint(path, ckpt)
    loaded = load_checkpoint(path)
    assert_same(loaded, ckpt)
    assert list(loaded.model_state) == list(model.state_dict())  # state_dict order, not HDF5's alphabetical

    # the loaded state must really resume: one more step from it matches one more step of the original
    model2 = VAE(loaded.model_config)
    model2.load_state_dict({k: torch.from_numpy(v) for k, v in loaded.model_state.items()})
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-3)
    opt2.load_state_dict(optimizer_from_numpy(loaded.optimizer_state))
    train_steps(model, opt, 1, seed=9)
    train_steps(model2, opt2, 1, seed=9)
    for (k, a), b in zip(model.state_dict().items(), model2.state_dict().values()):
        assert torch.equal(a, b), k
    g = torch.Generator()
    g.set_state(torch.from_numpy(loaded.rng_state["noise"]))
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=torch.Generator().manual_seed(1)))


def test_empty_optimizer_state_and_created_filled_in(tmp_path):
    ckpt, _, _ = make_checkpoint()
    ckpt.optimizer_state = {}
    ckpt.created = ""
    save_checkpoint(tmp_path / "b.h5", ckpt)
    loaded = load_checkpoint(tmp_path / "b.h5")
    assert loaded.optimizer_state == {"param_groups": [], "state": {}}
    assert loaded.created.startswith("20") and "T" in loaded.created


def test_read_info_reads_no_arrays(saved, monkeypatch):
    path, ckpt = saved

    def no_reading(self, *args, **kwargs):
        raise AssertionError("read_info read an array")

    monkeypatch.setattr(h5py.Dataset, "__getitem__", no_reading)
    info = read_info(path)
    assert info["format"] == FORMAT_NAME and info["format_version"] == FORMAT_VERSION
    assert ModelConfig.from_dict(info["model_config"]) == ckpt.model_config
    assert TrainConfig.from_dict(info["train_config"]) == ckpt.train_config
    assert DatasetSpec.from_dict(info["dataset"]) == ckpt.dataset
    assert info["progress"] == ckpt.progress
    assert info["history"]["steps/kl_per_dim"] == (5, 3)
    assert info["history"]["beta_changes/step"] == (0,)
    assert info["n_params"] == sum(p.numel() for p in VAE(TINY).parameters())
    assert info["file_bytes"] == path.stat().st_size


def test_file_is_plain_hdf5(saved):
    """The layout documented in docs/checkpoint-format.md, read with nothing but h5py and json."""
    path, ckpt = saved
    with h5py.File(path, "r") as f:
        assert f.attrs["format"].decode() == FORMAT_NAME and int(f.attrs["format_version"]) == FORMAT_VERSION
        assert json.loads(f.attrs["model_config"]) == ckpt.model_config.to_dict()
        np.testing.assert_array_equal(f["model/fc_mu.weight"][()], ckpt.model_state["fc_mu.weight"])
        np.testing.assert_array_equal(f["optimizer/state/0/exp_avg"][()], ckpt.optimizer_state["state"][0]["exp_avg"])
        assert json.loads(f["optimizer"].attrs["param_groups"])[0]["betas"] == [0.9, 0.999]
        np.testing.assert_array_equal(f["history/steps/recon"][()], ckpt.history["steps/recon"])
        np.testing.assert_array_equal(f["rng/noise"][()], ckpt.rng_state["noise"])

        def no_blobs(name, obj):  # nothing variable-length, opaque or object-typed anywhere
            if isinstance(obj, h5py.Dataset):
                assert obj.dtype.kind in "fiu", name
            for attr in obj.attrs:
                assert obj.attrs.get_id(attr).get_type().get_class() not in (h5py.h5t.VLEN, h5py.h5t.OPAQUE)
                if obj.attrs.get_id(attr).get_type().get_class() == h5py.h5t.STRING:
                    assert not obj.attrs.get_id(attr).get_type().is_variable_str(), attr

        no_blobs("/", f)
        f.visititems(no_blobs)


# --- refusing bad files -------------------------------------------------------------------------------


def _edit(fn):
    """A mutation that opens the saved file read-write and applies fn(f)."""

    def mutate(path: Path) -> None:
        with h5py.File(path, "r+") as f:
            fn(f)

    return mutate


def _replace(name: str, **dataset_kwargs):
    def fn(f):
        del f[name]
        f.create_dataset(name, **dataset_kwargs)

    return _edit(fn)


def _set_json_attr(name: str, change):
    def fn(f):
        data = json.loads(f.attrs[name])
        change(data)
        f.attrs[name] = ckpt_mod._text(json.dumps(data))

    return _edit(fn)


def _truncate(fraction: float):
    def mutate(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return mutate


def _scribble(start: int, stop: int):
    def mutate(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[start:stop] = random.Random(0).randbytes(stop - start)
        path.write_bytes(bytes(data))

    return mutate


def _nan_at(name: str, value: float):
    def fn(f):
        arr = f[name][()]
        arr.flat[3] = value
        f[name][...] = arr

    return _edit(fn)


W = "model/fc_mu.weight"  # shape (3, 16) in TINY
PICKLE = np.void(pickle.dumps({"__reduce__": "os.system"}))  # stands for any pickled payload

# (id, mutation, fragment expected in the message, also refused by read_info?)
BAD_FILES = [
    ("not-hdf5", lambda p: p.write_bytes(b"PK\x03\x04 a zip file, or anything else" * 50), "not an HDF5 file", True),
    ("empty", lambda p: p.write_bytes(b""), "not an HDF5 file", True),
    *[(f"truncated-{f}", _truncate(f), "truncated or corrupt", True) for f in (0.002, 0.05, 0.3, 0.7, 0.999)],
    ("scribbled-metadata", _scribble(800, 4000), "corrupt", True),
    ("scribbled-superblock", _scribble(0, 64), "not an HDF5 file", True),
    ("newer-version", _edit(lambda f: f.attrs.__setitem__("format_version", np.int64(FORMAT_VERSION + 1))),
     f"written by a newer vae-explorer (version {FORMAT_VERSION + 1}), this one reads {FORMAT_VERSION}", True),
    ("version-zero", _edit(lambda f: f.attrs.__setitem__("format_version", np.int64(0))), "format_version 0", True),
    ("wrong-format-name", _edit(lambda f: f.attrs.__setitem__("format", ckpt_mod._text("other-app"))),
     "not a vae-explorer checkpoint", True),
    ("no-format-attr", _edit(lambda f: f.attrs.__delitem__("format")), "not a vae-explorer checkpoint", True),
    ("vlen-string-attr", _edit(lambda f: f.attrs.__setitem__("format", FORMAT_NAME)), "fixed-length string", True),
    ("pickle-in-config-attr", _edit(lambda f: f.attrs.__setitem__("model_config", PICKLE)), "fixed-length", True),
    ("config-not-json", _edit(lambda f: f.attrs.__setitem__("model_config", ckpt_mod._text("{oops"))), "JSON", True),
    ("unknown-config-key", _set_json_attr("model_config", lambda d: d.update(foo=1)), "unknown field", True),
    ("unknown-train-key", _set_json_attr("train_config", lambda d: d.update(momentum=0.9)), "unknown field", True),
    ("absurd-hidden", _set_json_attr("model_config", lambda d: d.update(hidden=[10**9])), "hidden", True),
    ("too-many-params", _set_json_attr("model_config", lambda d: d.update(hidden=[16384] * 8)), "parameters", True),
    ("bad-progress", _set_json_attr("progress", lambda d: d.pop("step")), "progress", True),
    ("missing-model-group", _edit(lambda f: f.__delitem__("model")), "missing group /model", True),
    ("extra-top-group", _edit(lambda f: f.create_group("scripts")), "unexpected group /scripts", True),
    ("missing-weight", _edit(lambda f: f.__delitem__("model/fc_mu.bias")), "fc_mu.bias is missing", True),
    ("extra-weight", _edit(lambda f: f.create_dataset("model/extra", data=np.zeros(3))), "unexpected", True),
    ("wrong-shape", _replace(W, data=np.zeros((16, 3), np.float32)), "shape (16, 3), expected (3, 16)", True),
    ("int-weight", _replace(W, data=np.zeros((3, 16), np.int32)), "expected a float", True),
    ("fixed-string-weight", _replace(W, data=np.array([b"abc"] * 48).reshape(3, 16)), "holds text", True),
    ("vlen-string-weight", _replace(W, data=["abc"] * 48, dtype=h5py.string_dtype()), "holds text", True),
    ("object-weight", _replace(W, shape=(3,), dtype=h5py.vlen_dtype(np.float32)), "variable-length", True),
    ("compound-weight", _replace(W, data=np.zeros((3, 16), [("a", "f4"), ("b", "f4")])), "compound", True),
    ("bool-weight", _replace(W, data=np.zeros((3, 16), bool)), "enum", True),
    ("pickle-weight", _replace(W, data=PICKLE), "opaque bytes", True),
    ("pickle-in-history", _edit(lambda f: f.create_dataset("history/steps/evil", data=PICKLE)), "opaque bytes", True),
    ("absurd-shape-weight", _replace(W, shape=(10**10,), dtype="f4", chunks=(1024,)), "shape (10000000000,)", True),
    ("absurd-shape-history", _edit(lambda f: f.create_dataset("history/huge/x", shape=(10**10,), dtype="f8",
                                                              chunks=(1024,))), "larger than", True),
    ("absurd-shape-rng", _replace("rng/noise", shape=(10**10,), dtype="u1", chunks=(1024,)), "rng state", True),
    ("rng-not-uint8", _replace("rng/noise", data=np.zeros(10, np.float32)), "uint8", True),
    ("history-3d", _edit(lambda f: f.create_dataset("history/x/y", data=np.zeros((2, 2, 2)))), "1-D or 2-D", True),
    ("history-ragged", _replace("history/steps/recon", data=np.zeros(4)), "rows", True),
    ("history-bad-name", _edit(lambda f: f.create_dataset("history/Steps/x", data=np.zeros(2))), "group/name", True),
    ("optimizer-wrong-shape", _replace("optimizer/state/0/exp_avg", data=np.zeros(5, np.float32)), "shape", True),
    ("optimizer-index-out-of-range", _edit(lambda f: f.move("optimizer/state/0", "optimizer/state/99")),
     "index '99'", True),
    ("optimizer-bad-param-groups", _edit(lambda f: f["optimizer"].attrs.__setitem__(
        "param_groups", ckpt_mod._text('[{"params": [0, 0]}]'))), "repeated", True),
    ("external-link", _edit(lambda f: (f.__delitem__(W), f.__setitem__(W, h5py.ExternalLink("/etc/passwd", "/x")))),
     "external link", True),
    ("soft-link", _edit(lambda f: (f.__delitem__(W), f.__setitem__(W, h5py.SoftLink("/model/fc_logvar.weight")))),
     "soft link", True),
    ("nan-weight", _nan_at(W, np.nan), "weights contain NaN/Inf (fc_mu.weight)", False),
    ("inf-weight", _nan_at("model/dec_mlp.0.bias", np.inf), "weights contain NaN/Inf (dec_mlp.0.bias)", False),
    ("nan-adam-state", _nan_at("optimizer/state/0/exp_avg_sq", np.nan), "optimizer state contains NaN/Inf", False),
]


@pytest.mark.parametrize("mutate, fragment, header_level", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_file_is_refused_with_one_line_naming_it(saved, mutate, fragment, header_level):
    path, _ = saved
    mutate(path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert path.name in message and "\n" not in message
    assert fragment in message
    if header_level:  # read_info validates the same layout, it only skips reading the arrays
        with pytest.raises(CheckpointError, match="run.h5"):
            read_info(path)
    else:
        read_info(path)


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.mkdir()], ids=["missing", "folder"])
def test_missing_path_or_folder(tmp_path, make):
    path = tmp_path / "nothing.h5"
    make(path)
    with pytest.raises(CheckpointError, match="nothing.h5"):
        load_checkpoint(path)


# --- saving: validation and atomicity -----------------------------------------------------------------


def _temp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp-*"))


@pytest.mark.parametrize(
    "spoil, fragment",
    [
        (lambda c: c.model_state.__setitem__("fc_mu.weight", np.zeros((16, 3), np.float32)), "shape"),
        (lambda c: c.model_state.__setitem__("fc_mu.weight", np.full((3, 16), np.nan, np.float32)), "NaN"),
        (lambda c: c.model_state.pop("fc_mu.bias"), "missing"),
        (lambda c: c.history.__setitem__("steps/names", np.array(["a", "b", "c", "d", "e"])), "dtype"),
        (lambda c: c.history.__setitem__("bad name", np.zeros(2)), "group/name"),
        (lambda c: c.progress.__setitem__("lr", float("nan")), "progress"),
        (lambda c: c.optimizer_state["param_groups"][0].__setitem__("lr", torch.tensor(0.1)), "JSON"),
    ],
    ids=["wrong-shape", "nan", "missing-weight", "string-history", "bad-history-name", "nan-progress", "tensor-hparam"],
)
def test_save_refuses_what_load_would_refuse_and_keeps_old_file(saved, spoil, fragment):
    path, old = saved
    bad, _, _ = make_checkpoint(seed=1)
    spoil(bad)
    with pytest.raises(CheckpointError, match=fragment) as info:
        save_checkpoint(path, bad)
    assert path.name in str(info.value)
    assert_same(load_checkpoint(path), old)
    assert _temp_files(path.parent) == []


def _fail_on_third_dataset(monkeypatch):
    real = h5py.Group.create_dataset
    calls = []

    def create_dataset(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", create_dataset)


def _fail_replace(monkeypatch):
    def replace(src, dst):
        raise PermissionError("destination locked (simulated)")

    monkeypatch.setattr(os, "replace", replace)


def _fail_fsync(monkeypatch):
    def fsync(fd):
        raise OSError("I/O error (simulated)")

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("sabotage", [_fail_on_third_dataset, _fail_replace, _fail_fsync],
                         ids=["mid-write", "at-replace", "at-fsync"])
def test_exception_mid_save_keeps_old_file(saved, monkeypatch, sabotage):
    path, old = saved
    new, _, _ = make_checkpoint(steps=4, seed=3)
    sabotage(monkeypatch)
    with pytest.raises(CheckpointError, match="simulated") as info:
        save_checkpoint(path, new)
    assert path.name in str(info.value)
    monkeypatch.undo()
    assert_same(load_checkpoint(path), old)
    assert _temp_files(path.parent) == []  # cleaned up on the way out
    save_checkpoint(path, new)  # and the next save works
    assert_same(load_checkpoint(path), new)


@pytest.mark.skipif(os.name != "posix", reason="folder fsync is POSIX-only")
def test_save_fsyncs_file_before_replace_and_folder_after(saved, monkeypatch):
    path, _ = saved
    new, _, _ = make_checkpoint(seed=2)
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    save_checkpoint(path, new)
    assert events == ["fsync file", "replace", "fsync folder"]


def test_save_into_missing_folder(tmp_path):
    ckpt, _, _ = make_checkpoint()
    with pytest.raises(CheckpointError, match="run.h5"):
        save_checkpoint(tmp_path / "no" / "such" / "run.h5", ckpt)


def _save_forever(path: str, versions: list[Checkpoint]) -> None:
    while True:
        for c in versions:
            save_checkpoint(path, c)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork to restart fast")
def test_sigkill_during_save_leaves_old_or_new(tmp_path):
    """SIGKILL a process that saves over the file in a loop: the file always loads as one of the two versions."""
    cfg = ModelConfig(input_shape=(1, 28, 28), hidden=(256,), latent_dim=16)  # ~400k params, ~5 MB with Adam
    a, _, _ = make_checkpoint(cfg, steps=1, seed=0)
    b, _, _ = make_checkpoint(cfg, steps=2, seed=1)
    path = tmp_path / "live.h5"
    durations = []
    for _ in range(3):  # the first save pays one-off warm-up costs; the fastest is the honest duration
        t0 = time.perf_counter()
        save_checkpoint(path, a)
        durations.append(time.perf_counter() - t0)
    one_save = min(durations)
    # fork: the child starts with torch already imported, so 20 restarts cost milliseconds, not 20 imports
    ctx = multiprocessing.get_context("fork")
    rnd = random.Random(0)
    kills, seen = 20, {1: 0, 2: 0}
    for i in range(kills):
        child = ctx.Process(target=_save_forever, args=(str(path), [b, a]), daemon=True)
        child.start()
        # spread the kill moments over ~4 saves, stratified so early and late moments are both covered
        time.sleep((i + rnd.random()) / kills * 4 * one_save)
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        assert child.exitcode == -signal.SIGKILL, "the child stopped saving on its own (an error?)"
        loaded = load_checkpoint(path)  # never half-written: it loads, and is exactly one of the two
        seen[loaded.progress["step"]] += 1
        assert_same(loaded, a if loaded.progress["step"] == 1 else b)
    assert seen[2] > 0, "no kill came after a completed save: the test did not exercise replacement"
    # leftovers prove kills landed mid-write; load_checkpoint ignored them
    assert len(_temp_files(tmp_path)) > 0
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["live.h5"]
