"""When the training thread publishes what the latent panels show, and what a checkpoint's model shows: the
DecoderSnapshot, PreviewImages and held-out LatentSnapshot of trainer.analysis.snapshots, on a schedule.

    publisher = ExplorePublisher()
    for report in trainer.run():
        for item in publisher.poll(trainer):      # DecoderSnapshot / PreviewImages / LatentSnapshot
            ...
    for item in checkpoint_snapshots(ckpt, step, load_dataset, n_preview, n_samples, seed, max_points): ...

numpy only at import: torch loads inside the snapshot functions.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from trainer.analysis.moments import RunTimeline, model_snapshots
from trainer.analysis.snapshots import DecoderSnapshot, encode_heldout, preview_images, trained_bound_k
from trainer.model.likelihood import LikelihoodMeaning, Provenance


def checkpoint_snapshots(ckpt, step: int, load_dataset, n_preview: int, n_samples: int, seed: int,
                         max_points: int | None):
    """What the latent panels show of a checkpoint's model (model_snapshots of its weights)."""
    return model_snapshots(ckpt.model_config, ckpt.train_config, ckpt.dataset, ckpt.model_state, step,
                           int(ckpt.progress.get("epoch", 0)), load_dataset, n_preview, n_samples, seed, max_points)


# --- what the training thread publishes, and when -------------------------------------------------
def latent_interval(last_step: int, every: int) -> int:
    """Steps until the next held-out encoding after one at `last_step`: every `every` steps, but twice as often
    while the model is young (the next at double the step: 10, 20, 40, 80, ...), since the latent space changes
    fastest at the start and an encoding of a much younger model says little about the current one."""
    return max(1, min(int(every), int(last_step)))


class ExplorePublisher:
    """Decides, in the training thread, when to copy the decoder, render previews and encode the held-out set.

        publisher = ExplorePublisher()
        for report in trainer.run():
            ...
            for item in publisher.poll(trainer):      # DecoderSnapshot / PreviewImages / LatentSnapshot /
                worker.sig_explore.emit(item)         # RunTimeline (when the run kept a snapshot)

    `poll` does the work itself (between steps: the only time the weights hold still). The knobs below are
    safe to call from the GUI thread. Copying the decoder and rendering previews are cheap and their cost
    does not grow with the data, so they follow the clock; encoding the held-out set costs as much as many
    training steps, so it follows the step count and takes the same share of training on any machine.
    """

    def __init__(self, decoder_interval_s: float = 0.25, preview_interval_s: float = 1.0, latent_every: int = 500,
                 max_points: int | None = None, n_preview: int = 16, n_samples: int = 32, seed: int = 0):
        self.decoder_interval_s = decoder_interval_s
        self.preview_interval_s = preview_interval_s
        self.max_points = max_points
        self.n_preview = n_preview
        self.n_samples = n_samples
        self.seed = seed
        self._lock = threading.Lock()
        self._latent_every = int(latent_every)
        self._latents_requested = False
        self._publish_all = False
        self.reset()

    def set_latent_every(self, steps: int) -> None:
        """Encode the held-out set every `steps` optimizer steps (0: only on request). Any thread."""
        with self._lock:
            self._latent_every = max(0, int(steps))

    def request_latents(self) -> None:
        """Encode at the next poll, whatever the interval. Any thread."""
        with self._lock:
            self._latents_requested = True

    def publish_all(self) -> None:
        """Any thread: publish the decoder, previews and encodings again at the next poll (a view that showed
        another model comes back to this one)."""
        with self._lock:
            self._publish_all = True

    def take_publish_all(self) -> bool:
        """Whether publish_all was asked for since the last call (and forget it)."""
        with self._lock:
            wanted, self._publish_all = self._publish_all, False
        return wanted

    def reset(self) -> None:
        """A new model: the next poll publishes everything (poll also notices a new model by itself)."""
        self._model_id: int | None = None
        self._last_decoder = -math.inf
        self._last_preview = -math.inf
        self._last_latent_step: int | None = None
        self._last_decoder_step: int | None = None
        self._meaning: LikelihoodMeaning | None = None
        self._timeline_version: int | None = None

    def poll(self, trainer, force: bool = False) -> list:
        """What is due now, built from trainer.model / .dataset / .device / .step; call between steps only."""
        if id(trainer.model) != self._model_id:
            self.reset()
            self._model_id = id(trainer.model)
        if self.take_publish_all():
            force = True
            self._last_decoder_step = None  # the same step again: a view that showed another model wants it
        now = time.monotonic()
        step = int(trainer.step)
        with self._lock:
            every, requested = self._latent_every, self._latents_requested
            self._latents_requested = False
        out: list[Any] = []
        if force or trainer.snapshots.version != self._timeline_version:  # a snapshot was kept (or dropped)
            out.append(RunTimeline.of_trainer(trainer))
            self._timeline_version = trainer.snapshots.version
        last = self._last_latent_step
        latent_due = requested or force or last is None or (every > 0 and step - last >= latent_interval(last, every))
        decoder_due = force or latent_due or now - self._last_decoder >= self.decoder_interval_s
        if decoder_due and self._last_decoder_step != step:
            out.append(DecoderSnapshot.from_model(trainer.model, step=step, bound_k=trained_bound_k(trainer.config)))
            self._last_decoder, self._last_decoder_step = now, step
        elif decoder_due:
            self._last_decoder = now
        if force or now - self._last_preview >= self.preview_interval_s:
            x = trainer.dataset.x_test[: self.n_preview]
            y = trainer.dataset.y_test[: self.n_preview] if trainer.dataset.y_test is not None else None
            out.append(preview_images(trainer.model, x, y, self.n_samples, self.seed, step))
            self._last_preview = now
        if latent_due:
            if self._meaning is None:  # fixed for a model: its likelihood, binarization and data never change
                self._meaning = LikelihoodMeaning.of(trainer.model_config, trainer.config, trainer.x_test)
            provenance = Provenance.of(trainer.dataset, trainer.model_config, trainer.config, trainer.epoch)
            out.append(encode_heldout(trainer.model, trainer.dataset, trainer.device, self.max_points, step=step,
                                      x_test=trainer.x_test, meaning=self._meaning, provenance=provenance))
            self._last_latent_step = step
        return out
