"""Bad input, third round (issue 32, item 14): explorer.show(model=...) refuses bad models, data, labels and
settings in one line before a window opens, and a model that fails while its data encodes says so in the banner
(never a traceback from a Qt slot); a plain object with encode/decode is explored like a module."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QApplication
from torch import nn

import explorer
from trainer.errors import CheckpointError, ConfigError, DataError, VaeExplorerError

REPO = Path(__file__).resolve().parents[1]
WAIT_MS = 60_000
PEAK_MB = 1024


class TinyVAE(nn.Module):
    """A user's VAE: 8x8 images, 3 latent dimensions, decode gives E[x|z]."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh())
        self.mu, self.logvar = nn.Linear(16, 3), nn.Linear(16, 3)
        self.dec = nn.Sequential(nn.Linear(3, 64), nn.Sigmoid())

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.dec(z).view(-1, 1, 8, 8)


def _data(n: int = 120) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((n, 1, 8, 8)) < 0.4).astype(np.uint8) * 255


def _windows() -> list:
    from explorer.window.main_window import MainWindow

    app = QApplication.instance()
    return [w for w in (app.topLevelWidgets() if app else []) if isinstance(w, MainWindow) and w.isVisible()]


def _refused(error, match: str, **kw) -> str:
    """show(...) raises `error` of one line matching `match`, and no window has opened."""
    before = len(_windows())
    with pytest.raises(error, match=match) as caught:
        explorer.show(block=False, **kw)
    assert len(_windows()) == before
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# --- the model's output ------------------------------------------------------------------------------------
class NanEverywhere(TinyVAE):
    def encode(self, x):
        mu, logvar = super().encode(x)
        return mu * float("nan"), logvar


class NanSometimes(TinyVAE):
    """NaN for the examples whose first pixel is lit: #17, #40 and #90 of the data below."""

    def encode(self, x):
        mu, logvar = super().encode(x)
        return torch.where(x[:, :, 0, 0] > 0.5, torch.full_like(mu, float("nan")), mu), logvar


def test_encode_giving_nan_is_refused_before_the_window_opens():
    _refused(ConfigError, r"^NanEverywhere\.encode gave NaN/Inf for 2 of 2 examples tried \(the first is #0\)$",
             model=NanEverywhere(), data=_data())


def test_nan_on_some_examples_fails_the_background_encoding_with_a_banner_line(qtbot):
    x = _data()
    x[:, :, 0, 0] = 0
    x[[17, 40, 90], :, 0, 0] = 255
    viewer = explorer.show(model=NanSometimes(), data=x, block=False)  # the first two examples are fine
    qtbot.addWidget(viewer.window)
    banner = viewer.window.banner
    qtbot.waitUntil(lambda: banner.level == "error", timeout=WAIT_MS)
    assert banner.text() == ("Could not explore NanSometimes: NanSometimes.encode gave NaN/Inf for 3 of 120 examples "
                             "(the first is #17)")
    assert viewer.window.explore.latents is None  # nothing drawn, so no PCA of a NaN
    viewer.close()


class OneTensor(TinyVAE):
    def encode(self, x):
        return torch.cat(super().encode(x), dim=1)


class NoBatchAxis(TinyVAE):
    def encode(self, x):
        mu, logvar = super().encode(x)
        return mu[0], logvar[0]


class Mismatched(TinyVAE):
    def encode(self, x):
        mu, logvar = super().encode(x)
        return mu, logvar[:, :2]


class EncodeRaises(TinyVAE):
    def encode(self, x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x64 and 784x400)\nmore detail")


class DecodeRaises(TinyVAE):
    def decode(self, z):
        raise RuntimeError("CUDA out of memory")


class DecodeWrongSize(TinyVAE):
    def decode(self, z):
        return super().decode(z)[:, :, :4]


class DecodeNan(TinyVAE):
    def decode(self, z):
        return super().decode(z) * float("nan")


@pytest.mark.parametrize("model, match", [
    (OneTensor(), r"OneTensor\.encode gave a Tensor: expected a pair \(mu, logvar\) of tensors \(2, latent_dim\)"),
    (NoBatchAxis(), r"NoBatchAxis\.encode gave mu \(3,\) and logvar \(3,\) for 2 examples"),
    (Mismatched(), r"Mismatched\.encode gave mu \(2, 3\) and logvar \(2, 2\)"),
    (EncodeRaises(), r"^EncodeRaises\.encode raised RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
    (DecodeRaises(), r"^DecodeRaises\.decode raised RuntimeError: CUDA out of memory$"),
    (DecodeWrongSize(), r"DecodeWrongSize\.decode gave \(2, 1, 4, 8\) for 2 latent vectors: expected a tensor "
                        r"\(2, 1, 8, 8\)"),
    (DecodeNan(), r"DecodeNan\.decode gave NaN/Inf for 2 of 2 examples tried"),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else None)
def test_a_model_that_breaks_the_protocol_is_one_line_naming_it(model, match):
    _refused(ConfigError, match, model=model, data=_data())


# --- labels ---------------------------------------------------------------------------------------------------
def test_labels_of_a_billion_are_refused_before_anything_is_sized_by_them():
    # in a process of its own, its address space capped: what this once allocated (6.9 GB) would fail there
    code = textwrap.dedent("""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
        import numpy as np, torch
        import explorer
        from trainer.errors import DataError

        class Model(torch.nn.Module):
            def encode(self, x):
                return x.flatten(1)[:, :2], x.flatten(1)[:, :2]
            def decode(self, z):
                return z.repeat(1, 32).view(-1, 1, 8, 8)

        y = np.arange(120) % 3
        y[5] = 10**9
        try:
            explorer.show(model=Model(), data=np.zeros((120, 1, 8, 8), np.uint8), labels=y, block=False)
            print("opened")
        except DataError as exc:
            print("refused:", exc)
        # VmHWM, not ru_maxrss: that one keeps the peak of the test process this one was forked from
        print("peak_kb", open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and lines[0] == ("refused: labels: label 1e+09 is out of range: a dataset may have at "
                                                 "most 1000 classes, labelled 0..999"), proc.stdout + proc.stderr
    assert int(lines[-1].split()[1]) / 1024 < PEAK_MB


def _endless_names():
    """Class names without end, which must never be read far: a tuple of them once took all the memory there was."""
    for i in itertools.count():
        if i > 2000:
            raise AssertionError("class_names were read far past the limit of 1000 classes")
        yield str(i)


@pytest.mark.parametrize("labels, class_names, match", [
    (np.arange(120) % 3 - 1, (), r"^labels: negative label -1$"),
    (np.full(120, -5), (), r"^labels: negative label -5$"),
    (np.arange(119) % 3, (), r"^labels: expected 120 labels \(one per image\), got shape \(119,\)$"),
    (np.zeros((120, 2), int), (), r"labels: expected 120 labels"),
    (np.full(120, 0.5), (), r"labels: labels must be whole numbers"),
    (np.array(["cat"] * 120), (), r"labels: labels must be integers, got dtype <U3"),
    (np.arange(120) % 3, ("a", "b"), r"^class_names: 2 names, but the labels go up to 2 \(3 classes\)$"),
    (np.arange(120) % 3, "abc", r"class_names must be a sequence of names"),
    (np.arange(120) % 3, "endless", r"class_names: more than 1000 names"),
], ids=["negative", "all-negative", "too-few", "2-d", "fractions", "strings", "names-short", "names-string",
        "names-endless"])
def test_bad_labels_are_one_line(labels, class_names, match):
    if class_names == "endless":
        class_names = _endless_names()
    _refused(DataError, match, model=TinyVAE(), data=_data(), labels=labels, class_names=class_names)


# --- settings and arguments ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [-1, 0, float("nan"), float("inf"), "1", None, True])
def test_a_gaussian_sigma_that_is_no_positive_number_is_refused(sigma):
    _refused(ConfigError, r"^sigma \(the Gaussian likelihood's fixed standard deviation\) must be a number > 0",
             model=TinyVAE(), data=_data(), likelihood="gaussian", sigma=sigma)


def test_bad_arguments_are_the_documented_errors(tmp_path):
    model, x = TinyVAE(), _data()
    missing = tmp_path / "missing.h5"
    _refused(CheckpointError, rf"^{re.escape(str(missing))}: no such file or folder$", source=missing)
    _refused(ConfigError, r"explores your model on its `data`", model=model)
    _refused(ConfigError, r"explores your model on its `data`", source=tmp_path, model=model, data=x)
    _refused(ConfigError, r"pass model= too", data=x)
    _refused(ConfigError, r"^likelihood \(None: decode gives E\[x\|z\]\) must be one of bernoulli", model=model,
             data=x, likelihood="poisson")
    _refused(ConfigError, r"^Linear: a model needs encode", model=nn.Linear(2, 2), data=x)


@pytest.mark.parametrize("data, match", [
    (np.full((4, 1, 8, 8), 3.0), r"got values in 3\.\.3$"),
    (np.where(np.arange(4)[:, None, None, None] == 2, np.nan, np.zeros((4, 1, 8, 8))),
     r"1 of 4 images hold NaN or Inf \(the first is #2\)"),
    (np.zeros((4, 8, 8, 1), np.uint8), r"with 1 to 4 channels, got shape \(4, 8, 8, 1\) \(channels last\?"),
    (np.zeros((0, 1, 8, 8), np.uint8), r"got shape \(0, 1, 8, 8\)"),
    (np.zeros((2, 1, 1, 8, 8)), r"got shape \(2, 1, 1, 8, 8\)"),
    (np.zeros((4, 1, 8, 8), np.complex64), r"got dtype complex64"),
    (np.array(["a"] * 4), r"got shape \(4,\)"),
    (torch.zeros(4, 1, 8, 8, dtype=torch.bfloat16), None),  # read as float: fine
], ids=["range", "nan", "channels-last", "empty", "5-d", "complex", "strings", "bfloat16"])
def test_bad_data_is_one_line(qtbot, data, match):
    if match is None:
        viewer = explorer.show(model=TinyVAE(), data=data, block=False)
        qtbot.addWidget(viewer.window)
        qtbot.waitUntil(lambda: viewer.window.explore.latents is not None, timeout=WAIT_MS)
        viewer.close()
        return
    assert issubclass(DataError, VaeExplorerError)
    _refused(DataError, rf"^data must be .*{match}", model=TinyVAE(), data=data)


# --- a plain object ---------------------------------------------------------------------------------------------
class Plain:
    """No nn.Module: a user's object with encode and decode, holding its network as an attribute."""

    def __init__(self):
        self.net = TinyVAE()
        self.calls = 0

    def encode(self, x):
        self.calls += 1
        return self.net.encode(x)

    def decode(self, z):
        return self.net.decode(z)


def test_a_plain_object_with_encode_and_decode_is_explored_in_the_window(qtbot):
    x, y = _data(), np.arange(120) % 4
    plain = Plain()
    viewer = explorer.show(model=plain, data=x, labels=y, likelihood="gaussian", sigma=0.5, block=False)
    qtbot.addWidget(viewer.window)
    ex = viewer.window.explore
    qtbot.waitUntil(lambda: ex.latents is not None and not ex.pending, timeout=WAIT_MS)
    with torch.no_grad():
        mu, _ = plain.net.encode(torch.from_numpy(x).float() / 255)
    np.testing.assert_allclose(ex.latents.mu, mu.numpy(), atol=1e-5)
    assert len(ex.scatter.coordinates()) == len(x) and ex.latents.class_names == ("0", "1", "2", "3")
    ex.scatter.select(7)  # the sliders decode through a copy of the object
    with torch.no_grad():
        expected = plain.net.decode(mu[7:7 + 1]).clamp(0, 1).numpy()[0, 0]
    np.testing.assert_allclose(np.squeeze(ex.sliders.image()), expected, atol=1e-5)
    assert "Plain (your own model" in viewer.window.banner.text()
    assert plain.calls == 0  # copies were asked, never the caller's object
    viewer.close()
