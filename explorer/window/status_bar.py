"""The window's status line and its message banner.

    bar = TrainingStatusBar();  bar.show_report(step_report);  bar.show_started(run_started)
    bar.showMessage("…");  bar.message_label.text() / .toolTip()   # shown cut at a word, whole in the tooltip
    bar.add_badge(widget)                                           # a permanent label right of the message
    banner = MessageBanner();   banner.show_message("…", "error");  banner.text()

The banner is how worker errors (a bad dataset folder, a diverged loss) reach the user: visible in the window,
non-modal, never a crash, dismissed with its close button or by the next successful Start.
"""

from __future__ import annotations

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QStatusBar,
    QStyle,
    QStyleOption,
    QToolButton,
    QWidget,
)

from explorer.plotting.elided import ElidedLabel


STATUS_INTERVAL_MS = 200


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class ExploredBadge(ElidedLabel):
    """The status bar's name of the run the latent panels show (explorer.models.ExploredRun), with its step: whole
    when there is room, cut at a word when the window is narrow (a long run name never widens the window)."""

    MIN_WIDTH = 80

    def __init__(self, explored, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)
        self.setMinimumWidth(self.MIN_WIDTH)
        self._explored = explored
        explored.sig_changed.connect(self._on_explored)
        explored.sig_step_changed.connect(self._on_explored)
        self._on_explored(explored.value)

    def _on_explored(self, explored) -> None:
        shown = explored.step is not None or not explored.live
        text = f"Showing {explored.label()}" if shown else ""
        if text == self.full_text() and shown != self.isHidden():
            return
        self.set_full_text(text)
        self.setToolTip(f"{self.full_text()}: the run the latent panels, the Decoder, Traversals and Information "
                        "show; pick another in the Runs panel" if shown else "")
        self.setVisible(shown)
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override): the whole text, as room allows
        hint = super().sizeHint()
        padding = hint.width() - self.fontMetrics().horizontalAdvance(self.text())
        return QSize(self.fontMetrics().horizontalAdvance(self.full_text()) + padding, hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(self.MIN_WIDTH, super().minimumSizeHint().height())


class TrainingStatusBar(QStatusBar):
    """Epoch progress, step, epoch, samples/s, device and training time, updated from the worker's reports.

    Passing messages (showMessage, and the status tips of menus and buttons) show in `message_label`, on the
    left, cut at a word boundary with an ellipsis when they do not fit, whole in its tooltip: QStatusBar's own
    drawing clipped them mid-word ("Start continues trainin").
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # permanent (never hidden by a message) and stretching: it takes the room left of the labels
        self.message_label = ElidedLabel()
        self.message_label.setObjectName("StatusMessage")
        self.addPermanentWidget(self.message_label, 1)
        self.messageChanged.connect(self._on_message_changed)
        self.progress = QProgressBar(maximumWidth=160, textVisible=True)
        self.progress.setFormat("epoch %p%")
        self.progress.setToolTip("Progress through the current epoch")
        self.step_label = QLabel()
        self.epoch_label = QLabel()
        self.speed_label = QLabel()
        self.speed_label.setToolTip("Training throughput, examples per second (excludes held-out evaluation)")
        self.device_label = QLabel()
        self.device_label.setToolTip("Where training runs (and, on a CPU, with how many threads)")
        self.elapsed_label = QLabel()
        self.elapsed_label.setToolTip("Training time, excluding evaluation and pauses")
        for widget in (self.progress, self.step_label, self.epoch_label, self.speed_label,
                       self.device_label, self.elapsed_label):
            self.addPermanentWidget(widget)
        self.setStyleSheet("QStatusBar::item { border: none; }"
                           "QStatusBar QLabel { padding: 0 8px; border-left: 1px solid #d4d4d4; }"
                           "QStatusBar QLabel#StatusMessage { padding: 0 4px; border: none; }")
        self._epochs = 0
        self._pending = None  # newest report not shown yet: text and bar repaints are cheaper batched
        self._timer = QTimer(self, singleShot=True, interval=STATUS_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer)
        self.reset()

    def add_badge(self, widget: QWidget) -> None:
        """A permanent widget right of the message, left of the progress and the numbers."""
        self.insertPermanentWidget(1, widget)

    def _on_message_changed(self, text: str) -> None:
        self.message_label.set_full_text(text)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        # the panel only: the message is message_label's to draw (QStatusBar would clip it mid-word under it)
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        self.style().drawPrimitive(QStyle.PE_PanelStatusBar, option, painter, self)
        painter.end()

    def reset(self) -> None:
        """No run: the counters at rest and no message left from the run before (Reset)."""
        self._pending = None
        self.clearMessage()
        self.progress.setValue(0)
        self.step_label.setText("step —")
        self.epoch_label.setText("epoch —")
        self.speed_label.setText("— samples/s")
        self.elapsed_label.setText("0:00:00")

    def show_device(self, device: str) -> None:
        self.device_label.setText(f"device {device}")

    def show_started(self, info) -> None:
        """info: runtime.messages.RunStarted."""
        self._epochs = info.epochs
        self.show_device(f"{info.device}, {info.threads} threads" if info.device == "cpu" else info.device)
        self._show_position(info.step, info.epoch)

    def show_position(self, step: int, epoch: int, epochs: int | None = None, epoch_progress: float = 0.0) -> None:
        self._pending = None  # a position reported after the last report wins
        if epochs is not None:
            self._epochs = epochs
        self._show_position(step, epoch)
        self.progress.setValue(round(100 * epoch_progress))

    def _show_position(self, step: int, epoch: int) -> None:
        self.step_label.setText(f"step {step:,}")
        shown = min(epoch + 1, self._epochs) if self._epochs else epoch + 1
        self.epoch_label.setText(f"epoch {shown} / {self._epochs}" if self._epochs else f"epoch {shown}")

    def show_report(self, report) -> None:
        """report: trainer.training.loop.StepReport (duck-typed: numbers only); shown at most 5 times a second."""
        self._pending = report
        if not self._timer.isActive():
            self._timer.start()

    def _on_timer(self) -> None:
        report, self._pending = self._pending, None
        if report is not None:
            self._show_now(report)

    def _show_now(self, report) -> None:
        self._show_position(report.step, report.epoch)
        self.progress.setValue(round(100 * report.epoch_progress))
        self.speed_label.setText(f"{report.samples_per_s:,.0f} samples/s")
        self.elapsed_label.setText(format_duration(report.elapsed_s))


LEVEL_STYLES = {
    "error": ("#fdecea", "#b3261e", "#e6a5a1"),
    "warning": ("#fff4e0", "#8a5300", "#e8c48a"),
    "info": ("#e8f1fb", "#1f4e79", "#a9c6e6"),
}


class MessageBanner(QFrame):
    """A coloured strip above the curves with one message and a close button; hidden when empty."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("MessageBanner")
        self._label = QLabel(wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        close = QToolButton(text="✕", autoRaise=True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self._on_close_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self._label, 1)
        layout.addWidget(close, 0, Qt.AlignTop)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        background, foreground, border = LEVEL_STYLES[level]
        self.setStyleSheet(
            f"#MessageBanner {{ background: {background}; border: 1px solid {border}; border-radius: 4px; }}"
            f"#MessageBanner QLabel {{ color: {foreground}; }}"
        )
        self.level = level
        self._label.setText(text)
        self.show()

    def text(self) -> str:
        return "" if self.isHidden() else self._label.text()

    def clear(self) -> None:
        self.level = ""
        self._label.clear()
        self.hide()

    def _on_close_clicked(self) -> None:
        self.clear()
