"""The timeline under the curves: scrub, play and pin the explored run's moments.

    bar = TimelineBar(explored)                # explorer.models.explored_run.ExploredRun: its timeline and moment
    bar.sig_film_requested.connect(...)        # "Film…": export a panel over a range of the timeline

A slider over the run's snapshots (trainer.checkpoints.timeline: log-spaced steps and one per epoch), play/pause
with a speed in moments per second, the step, epoch and β of the moment, marks where β was changed by hand (purple)
or the posterior collapsed (red), "Now" to follow the newest model again, and "Pin A" to hold a moment as A for
comparison. Moving the slider moves the explored run's moment; every view follows it from there. The bar keeps no
moment of its own: it draws ExploredRun's.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QSlider, QStyle, QToolButton, QVBoxLayout,
                               QWidget)

from explorer.models.explored_run import ExploredRun
from explorer.plotting.elided import ElidedLabel

SPEEDS = (1, 2, 4, 8, 16)
"""Moments per second that Play steps through."""
BETA_MARK = "#7b4fa0"
COLLAPSE_MARK = "#d62728"


class _Marks(QWidget):
    """Ticks above the slider at the snapshots nearest the run's β changes and collapses."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFixedHeight(7)
        self.positions: list[tuple[float, str]] = []
        """(fraction of the slider's length, colour)."""

    def set_marks(self, positions: list[tuple[float, str]]) -> None:
        self.positions = positions
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt override)
        if not self.positions:
            return
        painter = QPainter(self)
        margin = 6  # about the slider handle's half width: tick i sits over handle position i
        width = max(1.0, self.width() - 2 * margin)
        for fraction, colour in self.positions:
            painter.setPen(QPen(QColor(colour), 2))
            x = margin + fraction * width
            painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.end()


class TimelineBar(QWidget):
    """A view of the explored run's timeline and moment (GUI thread)."""

    sig_film_requested = Signal()
    """The user asked to export a film of the timeline."""

    def __init__(self, explored: ExploredRun, parent: QWidget | None = None):
        super().__init__(parent)
        self.explored = explored
        self._syncing = False
        self.play = QToolButton(checkable=True)
        self.play.setIcon(self.style().standardIcon(QStyle.SP_MediaPlay))
        self.play.setToolTip("Play the run's moments in order (Space while the slider has focus)")
        self.speed = QComboBox()
        for fps in SPEEDS:
            self.speed.addItem(f"{fps}/s", fps)
        self.speed.setCurrentIndex(2)
        self.speed.setToolTip("Moments per second while playing")
        self.speed.setFocusPolicy(Qt.StrongFocus)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setFocusPolicy(Qt.StrongFocus)
        self.slider.setToolTip("The run's snapshots, dense early (log-spaced steps) and one per epoch: every view "
                               "shows the model of the moment chosen here")
        self.marks = _Marks()
        self.label = ElidedLabel()  # squeezed, it is cut at a word (the step first); a long reason never widens it
        self.now = QToolButton(text="Now")
        self.now.setToolTip("Follow the run's newest model again")
        self.pin = QToolButton(text="Pin A", checkable=True)
        self.pin.setToolTip("Hold this moment as A: the curves and the rate–distortion plane mark it, and the views "
                            "compare it with the moment shown")
        self.film = QToolButton(text="Film…")
        self.film.setToolTip("Export a panel or the whole window over a range of the timeline as GIF or MP4")
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._on_tick)

        # the slider takes the whole width (a run's 64 moments need the room); the controls sit under it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 2)
        layout.setSpacing(0)
        layout.addWidget(self.marks)
        layout.addWidget(self.slider)
        row = QHBoxLayout()
        row.setContentsMargins(0, 2, 0, 0)
        row.addWidget(self.play)
        row.addWidget(self.speed)
        row.addWidget(self.label, 1)
        row.addWidget(self.now)
        row.addWidget(self.pin)
        row.addWidget(self.film)
        layout.addLayout(row)

        self.slider.valueChanged.connect(self._on_slider)
        self.play.toggled.connect(self._on_play)
        self.speed.currentIndexChanged.connect(self._on_speed)
        self.now.clicked.connect(self._on_now)
        self.pin.toggled.connect(self._on_pin)
        self.film.clicked.connect(self.sig_film_requested)
        for signal in (explored.sig_changed, explored.sig_timeline_changed, explored.sig_moment_changed,
                       explored.sig_step_changed):
            signal.connect(self._sync)
        self._sync()

    # --- drawing the model --------------------------------------------------------------------------
    def _sync(self, _value=None) -> None:
        value = self.explored.value
        timeline, steps = value.timeline, value.steps
        self._syncing = True
        try:
            self.slider.setEnabled(len(steps) > 1)
            self.slider.setRange(0, max(0, len(steps) - 1))
            self.slider.setValue(len(steps) - 1 if value.moment is None or not steps
                                 else timeline.nearest(value.moment))
            self.pin.setChecked(value.pinned is not None)
        finally:
            self._syncing = False
        for button in (self.play, self.speed, self.pin, self.film):
            button.setEnabled(bool(steps))
        for widget in (self.now, self.pin, self.film):  # without a timeline they do nothing: room for the reason
            widget.setVisible(bool(steps))
        self.now.setEnabled(value.moment is not None)
        if not steps:
            self.play.setChecked(False)
            why = timeline.off if timeline is not None else "no run yet"
            self.label.set_full_text(f"No timeline: {why}")
            self.setToolTip(f"No timeline: {why}")
            self.marks.set_marks([])
            return
        self.setToolTip("")
        if value.moment is None:
            self.label.set_full_text("now" + (f" · step {value.step:,}" if value.step is not None else ""))
        else:
            i = timeline.nearest(value.moment)
            self.label.set_full_text(f"step {value.moment:,} · epoch {timeline.epochs[i]:.2f} · β "
                                     f"{timeline.betas[i]:.3g}")
        last = max(1, len(steps) - 1)
        self.marks.set_marks([(timeline.nearest(s) / last, BETA_MARK) for s in timeline.beta_changes]
                             + [(timeline.nearest(s) / last, COLLAPSE_MARK) for s in timeline.collapses])

    # --- the user ------------------------------------------------------------------------------------
    def _on_slider(self, index: int) -> None:
        if self._syncing:
            return
        steps = self.explored.value.steps
        if 0 <= index < len(steps):
            self.explored.seek(steps[index])

    def _on_play(self, playing: bool) -> None:
        self.play.setIcon(self.style().standardIcon(QStyle.SP_MediaPause if playing else QStyle.SP_MediaPlay))
        if not playing:
            self._timer.stop()
            return
        steps = self.explored.value.steps
        if self.explored.value.moment is None or self.slider.value() >= len(steps) - 1:
            self.explored.seek(steps[0])  # from the start, as a player does at the end
        self._on_speed()
        self._timer.start()

    def _on_speed(self, _index: int | None = None) -> None:
        self._timer.setInterval(int(1000 / self.speed.currentData()))

    def _on_tick(self) -> None:
        steps = self.explored.value.steps
        index = self.slider.value() + 1
        if index >= len(steps):
            self.play.setChecked(False)
            return
        self.explored.seek(steps[index])

    def _on_now(self) -> None:
        self.play.setChecked(False)
        self.explored.follow()

    def _on_pin(self, on: bool) -> None:
        if self._syncing:
            return
        value = self.explored.value
        if not on:
            self.explored.pin(None)
        elif value.steps:
            self.explored.pin(value.moment if value.moment is not None else value.steps[-1])

    def play_from_start(self) -> None:
        """Play the run's moments from its first snapshot (a guided experiment ends so)."""
        steps = self.explored.value.steps
        if steps:
            self.play.setChecked(False)
            self.explored.seek(steps[0])
            self.play.setChecked(True)

    @property
    def playing(self) -> bool:
        return self.play.isChecked()
