"""HDF5 datasets larger than memory: streamed in chunks, read ahead in a thread, same training as in memory."""

from __future__ import annotations

import multiprocessing
import threading

import h5py
import numpy as np
import pytest

from test_cli import last_json, run_cli
from trainer.checkpoints.hdf5 import load_checkpoint
from trainer.config import DatasetSpec, TrainConfig
from trainer.data import load_dataset
from trainer.data.dataset import Dataset
from trainer.data.streaming import BUFFER_CHUNKS, H5Rows, Prefetcher, chunk_order
from trainer.errors import ConfigError, DataError
from trainer.data.fingerprint import data_fingerprint
from trainer.model.vae import model_config_for
from trainer.training.loop import Trainer
from trainer.training.reports import StepReport

CHUNK = 64


@pytest.fixture(scope="module")
def h5_file(tmp_path_factory):
    """3,000 28x28 sprites with labels, in chunks of 64 rows: 47 chunks."""
    src = load_dataset(DatasetSpec(name="sprites", n=3000, image_size=28, seed=4))
    x = np.concatenate([src.x_train, src.x_test])
    path = tmp_path_factory.mktemp("stream") / "sprites.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(CHUNK, 1, 28, 28))
        f.create_dataset("y", data=np.arange(len(x)) % 7)
    return path, x


def streamed(path, **spec):
    return load_dataset(DatasetSpec(name="path", path=str(path), **spec), memory_budget=100_000)


def test_auto_streams_over_the_budget_and_reads_small_files_into_memory(h5_file):
    path, x = h5_file
    big = streamed(path)
    assert isinstance(big.x_train, H5Rows) and big.spec.in_memory == "never"  # the checkpoint records the choice
    assert "streamed from disk" in big.describe()
    small = load_dataset(DatasetSpec(name="path", path=str(path)), memory_budget=10 * x.nbytes)
    assert isinstance(small.x_train, np.ndarray) and small.spec.in_memory == "always"
    assert len(big.x_train) + len(big.x_test) == len(small.x_train) + len(small.x_test) == 3000
    # the held-out rows are whole chunks (a tenth of them): loading reads a tenth of the file
    held_chunks = np.unique(np.setdiff1d(np.arange(3000), big.x_train.rows) // CHUNK)
    assert len(held_chunks) == 5 and len(big.x_test) == 5 * CHUNK
    np.testing.assert_array_equal(big.x_train[:], x[big.x_train.rows])
    np.testing.assert_array_equal(big.y_train, np.arange(3000)[big.x_train.rows] % 7)
    assert data_fingerprint(big) == data_fingerprint(streamed(path)) != data_fingerprint(small)
    forced = load_dataset(DatasetSpec(name="path", path=str(path), in_memory="never"))
    assert isinstance(forced.x_train, H5Rows)


def test_the_epoch_order_shuffles_chunks_then_within_a_buffer_and_depends_only_on_seed_and_epoch(h5_file):
    path, _ = h5_file
    rows = streamed(path).x_train
    order = chunk_order(rows, seed=3, epoch=1)
    assert sorted(order.tolist()) == list(range(len(rows)))
    np.testing.assert_array_equal(order, chunk_order(rows.with_rows(rows.rows), seed=3, epoch=1))
    assert not np.array_equal(order, chunk_order(rows, seed=3, epoch=2))
    assert not np.array_equal(order, chunk_order(rows, seed=4, epoch=1))
    # each window of BUFFER_CHUNKS chunks' rows touches at most BUFFER_CHUNKS chunks: reads stay local
    chunk_of = rows.rows[order] // CHUNK
    per_window = len(rows) // len(rows.chunks()) * BUFFER_CHUNKS
    assert len(set(chunk_of[:per_window // 2].tolist())) <= BUFFER_CHUNKS
    assert len(set(chunk_of[:per_window // 2].tolist())) > 1  # rows of several chunks mixed


def test_a_streamed_run_matches_the_in_memory_run_on_the_same_order(h5_file):
    path, _ = h5_file
    on_disk = streamed(path)
    # the very same rows and split, held in memory
    in_memory = Dataset(on_disk.spec, on_disk.x_train[:], on_disk.x_test, on_disk.y_train, on_disk.y_test,
                        num_classes=on_disk.num_classes)
    model_cfg = model_config_for(in_memory, hidden=(64,), latent_dim=4)
    cfg = TrainConfig(epochs=2, batch_size=50, report_every=5)
    stream = Trainer(model_cfg, cfg, on_disk)

    class SameOrder(Trainer):
        def epoch_order(self, epoch):
            return stream.epoch_order(epoch).to(self.device)

    memory = SameOrder(model_cfg, cfg, in_memory)
    a = [(r.step, r.loss, r.kl) for r in stream.run() if isinstance(r, StepReport)]
    b = [(r.step, r.loss, r.kl) for r in memory.run() if isinstance(r, StepReport)]
    assert len(a) == 23 and a == b  # 2,680 rows / 50 = 54 steps an epoch: reports at 5, ..., 105, 54 and 108
    assert stream.last_eval == memory.last_eval


def test_the_prefetcher_reads_the_next_batches_chunks_in_another_thread(h5_file):
    path, x = h5_file
    rows = streamed(path).x_train
    readers = {}
    original = rows.chunk

    def recording(c):
        if not rows.cached(c):
            readers[c] = threading.get_ident()
        return original(c)

    rows.chunk = recording
    reader = Prefetcher(rows)
    order = chunk_order(rows, seed=0, epoch=0)
    batches = [order[i:i + 50] for i in range(0, len(order), 50)]
    for i, batch in enumerate(batches):
        got = reader.take(batch, batches[i + 1:])
        np.testing.assert_array_equal(got.numpy(), x[rows.rows[batch]])
    assert len(readers) == len(rows.chunks())  # every chunk read once in the epoch
    first = set(rows.chunk_ids(batches[0]).tolist())
    assert {readers[c] for c in first} == {threading.get_ident()}  # nothing was read ahead of the first batch
    ahead = [c for c in readers if c not in first]
    assert ahead and all(readers[c] != threading.get_ident() for c in ahead)  # the rest came from the thread
    reader.close()


def _read_in_child(rows, queue):
    queue.put(rows[0:5])


def test_the_file_is_opened_again_after_a_fork(h5_file):
    path, x = h5_file
    rows = streamed(path).x_train
    parent = rows[0:5]  # the parent opened the file
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_read_in_child, args=(rows, queue))
    child.start()
    got = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, parent)


def test_static_binarization_needs_the_data_in_memory(h5_file):
    path, _ = h5_file
    data = streamed(path)
    with pytest.raises(ConfigError, match="static binarization needs it in memory"):
        Trainer(model_config_for(data, hidden=(8,), latent_dim=2), TrainConfig(binarize="static"), data)


def test_a_layout_that_cannot_stream_is_refused_in_one_line(tmp_path):
    path = tmp_path / "nhwc.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros((20, 8, 8, 3), np.uint8))
    with pytest.raises(DataError) as info:
        load_dataset(DatasetSpec(name="path", path=str(path), in_memory="never"))
    assert "cannot stream it" in str(info.value) and "(N, C, H, W)" in str(info.value) and "\n" not in str(info.value)


def test_a_corrupt_chunk_mid_epoch_stops_with_one_line_and_keeps_what_was_trained(tmp_path):
    src = load_dataset(DatasetSpec(name="sprites", n=4000, image_size=28, seed=1))
    path = tmp_path / "zipped.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.concatenate([src.x_train, src.x_test]), chunks=(CHUNK, 1, 28, 28),
                         compression="gzip")
    with h5py.File(path, "r") as f:  # spoil one compressed chunk past the first ones read
        info = f["x"].id.get_chunk_info(40)
    data = bytearray(path.read_bytes())
    data[info.byte_offset: info.byte_offset + info.size] = bytes(info.size)
    path.write_bytes(bytes(data))
    out = tmp_path / "run.h5"
    proc = run_cli("train", "--dataset", path, "--in-memory", "never", "--hidden", "32", "--latent-dim", "2",
                   "--epochs", "3", "--batch-size", "50", "--out", out, check_rc=2)
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("error: ") and "zipped.h5[x]: cannot read rows" in error
    assert "corrupt" in error
    ckpt = load_checkpoint(out)  # written on the way out: what was trained is kept
    assert 0 < ckpt.progress["step"] < 3 * 72 and ckpt.dataset.in_memory == "never"


def test_the_cli_streams_and_resumes_from_the_checkpoint_s_choice(h5_file, tmp_path):
    path, _ = h5_file
    out = tmp_path / "s.h5"
    first = last_json(run_cli("train", "--dataset", path, "--memory-budget", "0.1", "--hidden", "32",
                              "--latent-dim", "2", "--epochs", "1", "--out", out, "--json").stdout)
    assert load_checkpoint(out).dataset.in_memory == "never"
    again = last_json(run_cli("train", "--resume", out, "--epochs", "2", "--out", out, "--json").stdout)
    assert again["steps"] == 2 * first["steps"]
