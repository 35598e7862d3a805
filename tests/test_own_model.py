"""Your own torch model in the explorer: a small VAE written here (none of ours), explored in every latent panel
by explorer.show(model=..., data=..., labels=...), its numbers checked against the module itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from torch import nn

import explorer
from trainer.analysis.inference_gaps import SviSettings, inference_gaps
from trainer.errors import ConfigError, DataError
from trainer.model.foreign import ForeignVAE

WAIT_MS = 60_000


class TinyVAE(nn.Module):
    """A user's VAE: 8x8 images, 3 latent dimensions, Bernoulli logits out of decode."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh())
        self.mu, self.logvar = nn.Linear(32, 3), nn.Linear(32, 3)
        self.dec = nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 64))

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        return self.dec(z).view(-1, 1, 8, 8)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = (rng.random((120, 1, 8, 8)) < 0.4).astype(np.uint8) * 255
    return x, np.arange(120) % 3


def _explored(qtbot, model, x, y, **kw):
    viewer = explorer.show(model=model, data=x, labels=y, block=False, **kw)
    qtbot.addWidget(viewer.window)
    qtbot.waitUntil(lambda: viewer.window.explore.latents is not None and not viewer.window.explore.pending,
                    timeout=WAIT_MS)
    return viewer


def test_your_own_model_is_explored_in_every_latent_panel(qtbot, data):
    x, y = data
    model = TinyVAE()
    viewer = _explored(qtbot, model, x, y, likelihood="bernoulli", class_names=("a", "b", "c"))
    ex = viewer.window.explore
    with torch.no_grad():
        mu, logvar = model.encode(torch.from_numpy(x).float() / 255)
    # the scatter: every example, at the module's own posterior means
    np.testing.assert_allclose(ex.latents.mu, mu.numpy(), atol=1e-5)
    assert len(ex.scatter.coordinates()) == len(x) and ex.latents.class_names == ("a", "b", "c")
    # the KL strip: the closed-form KL of the module's q(z|x), per dimension
    kl = (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).mean(0).double().numpy()
    np.testing.assert_allclose(ex.latents.kl_per_dim, kl, rtol=1e-4)
    assert ex.kl.state.rate == pytest.approx(kl.sum(), rel=1e-4)
    # the sliders decode through the module: sigmoid of its logits
    ex.scatter.select(5)
    with torch.no_grad():
        expected = torch.sigmoid(model.decode(mu[5:6])).numpy()[0]
    np.testing.assert_allclose(ex.sliders.image(), expected[0] if ex.sliders.image().ndim == 2 else expected,
                               atol=1e-5)
    ex.scatter.select(9, second=True)  # an interpolation end B
    ex.traversal.refresh_now()
    assert ex.traversal.traversal_view.images().shape[:2] == (3, 9)
    assert ex.traversal.interp_view.images() is not None
    assert ex.samples.samples_view.images() is not None
    # the aggregate posterior against the prior: prior samples and samples of a fit of q(z), decoded by the module
    ex.aggregate.on_shown()
    qtbot.waitUntil(lambda: ex.aggregate.result() is not None, timeout=WAIT_MS)
    # the ELBO gap's split, classical VI on copies of the module: the engine's numbers
    split = ex.gap.split
    split.n_spin.setValue(6)
    split.steps_spin.setValue(40)
    with qtbot.waitSignal(split.sig_split, timeout=WAIT_MS) as done:
        qtbot.mouseClick(split.button, Qt.LeftButton)
    engine = inference_gaps(ForeignVAE(model, (1, 8, 8), 3, "bernoulli"), x[:6], None,
                            settings=SviSettings(max_steps=40), k=1000, seed=0).summary()
    assert done.args[0]["amortization_gap"] == pytest.approx(engine["amortization_gap"], rel=1e-4, abs=1e-4)
    assert "your own model" in viewer.window.banner.text() and "Training it stays your business" in \
        viewer.window.banner.text()
    # and the module itself is untouched: no gradient, no mode change
    assert model.training and all(p.grad is None for p in model.parameters())
    viewer.close()


def test_a_model_without_a_likelihood_is_explored_and_its_gap_says_why_not(qtbot, data):
    x, y = data

    class MeanDecoder(TinyVAE):
        def decode(self, z):
            return torch.sigmoid(super().decode(z))  # E[x|z] itself

    viewer = _explored(qtbot, MeanDecoder(), x, None)
    ex = viewer.window.explore
    assert len(ex.scatter.coordinates()) == len(x) and ex.sliders.image() is not None
    qtbot.mouseClick(ex.gap.button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not ex.gap.running, timeout=WAIT_MS)
    assert "no likelihood was named" in ex.gap.note.text()
    viewer.close()


def test_bad_models_and_data_are_one_line_errors(qtbot, data):
    x, _ = data
    with pytest.raises(Exception, match="encode"):
        ForeignVAE(nn.Linear(2, 2), (1, 8, 8), 3)
    with pytest.raises(DataError, match="data must be"):
        explorer.show(model=TinyVAE(), data=np.full((4, 1, 8, 8), 3.0), block=False)
    with pytest.raises(ConfigError, match="data"):
        explorer.show(model=TinyVAE(), block=False)


def test_a_model_with_batch_norm_in_train_mode_is_shown_and_left_as_it_was(qtbot, data):
    x, y = data

    class WithNorm(TinyVAE):
        def __init__(self):
            super().__init__()
            self.norm = nn.BatchNorm1d(32)

        def encode(self, x):
            h = self.norm(self.enc(x))
            return self.mu(h), self.logvar(h)

    model = WithNorm()  # in train mode: a one-example batch would fail there, and update its statistics
    before = model.norm.running_mean.clone()
    viewer = _explored(qtbot, model, x, y, likelihood="bernoulli")
    assert len(viewer.window.explore.scatter.coordinates()) == len(x)
    assert model.training and torch.equal(model.norm.running_mean, before)
    viewer.close()
