"""The controls: what to train on, the model, the optimiser, and β — the knob on the rate–distortion trade-off.

    panel = ControlsPanel(settings)       # explorer.models.RunSettingsModel: the panel is its view
    settings.set(opened.settings)         # the form shows it; an edit in the form sets settings.value
    panel.set_lock(model=True, epochs=True)                      # while a model exists / while it trains
    panel.sig_beta_changed.connect(session.set_beta)             # β, lr and free bits apply live

Model-defining settings are locked once a model exists; β, learning rate and free bits stay live. The form
shows only some fields; the others (hidden sizes, a dataset file, the split seed) stay as the model holds them.
"""

from __future__ import annotations

from pathlib import Path

import explorer.qt_compat  # noqa: F401  (first: works around a PySide6 6.12 refcount bug)
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.models.run_settings import (ARCHS, BINARIZE, FOLDER_DATASETS, LIKELIHOODS, MAX_LAYERS, RunSettings,
                                         new_run_note, new_run_settings)
from explorer.models.run_settings_model import RunSettingsModel
from explorer.panels.control_tips import TIPS
from explorer.panels.form_parts import (BETA_MAX, BETA_MIN, BETA_TICKS_PER_DECADE, DATASET_LABELS, LIVE_DEBOUNCE_MS,
                                        OBJECTIVE_LABELS, PRIOR_LABELS, SCHEDULE_LABELS, beta_to_tick, combo_box,
                                        form_row, spin_box, tick_to_beta)
from trainer.config import MAX_IWAE_TRAIN_K, MAX_PSEUDO_INPUTS
from trainer.errors import ConfigError

class ControlsPanel(QWidget):
    """A form of run settings in four groups; Start, Pause, Stop and Reset are the window's toolbar actions."""

    sig_beta_changed = Signal(float)
    """The β target the user set (slider settled or spinbox edited); apply it live."""
    sig_beta_previewed = Signal(float)
    """The β the slider shows while it is being dragged, before it settles; for previews, not to apply."""
    sig_lr_changed = Signal(float)
    """A new Adam learning rate; apply it live."""
    sig_free_bits_changed = Signal(float)
    """A new free-bits λ, nats per latent dimension; apply it live."""

    def __init__(self, settings: RunSettingsModel | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings_model = settings if settings is not None else RunSettingsModel(new_run_settings(False))
        """The run settings this form shows and edits (explorer.models.RunSettingsModel)."""
        defaults = RunSettings()
        self._showing = True  # the form is being built or filled from the model: its widgets' signals are not edits
        self._writing = False  # the model is being set from the form: its change needs no showing
        forms = {
            "data": self._build_data_form(defaults),
            "model": self._build_model_form(defaults),
            "optim": self._build_optim_form(defaults),
            "beta": self._build_beta_form(defaults),
        }
        for spin in (self.lr_spin, self.beta_spin, self.free_bits_spin):
            spin.setKeyboardTracking(False)  # typing "0.0005" must not send 0.0, 0.00, ... to the trainer
        self._set_tips()
        self._build_layout(forms)
        self._connect_signals()
        self._model_widgets = [
            self.dataset_combo, self.folder_edit, self.browse_button, self.sprites_n_spin, self.sprites_size_combo,
            self.arch_combo, self.latent_spin, self.layers_spin, self.layer_warmup_edit, self.likelihood_combo,
            self.binarize_combo, self.conditional_check, self.norm_check,
            self.device_combo,
            self.batch_spin, self.seed_spin, self.schedule_combo, self.schedule_steps_spin, self.objective_combo,
            self.iwae_k_spin, self.prior_combo, self.pseudo_spin,
        ]
        self._model_locked = False
        self._layers_before = self.layers_spin.value()
        self._connect_edits()
        self.settings_model.sig_changed.connect(self._on_settings_changed)
        self._show(self.settings_model.value)
        self.show_machine(accelerated=False)

    # --- building the form -------------------------------------------------------------------------
    def _build_data_form(self, defaults: RunSettings) -> QFormLayout:
        """What to train on: a dataset, the MNIST folder, the sprites' count and size."""
        self.dataset_combo = QComboBox()
        for name, label in DATASET_LABELS.items():
            self.dataset_combo.addItem(label, name)
        self.folder_edit = QLineEdit(placeholderText="~/.cache/vae-explorer/…")
        self.browse_button = QToolButton(text="…")
        self.browse_button.setToolTip("Choose the MNIST folder")
        folder_row = form_row(self.folder_edit, self.browse_button)
        self.sprites_n_spin = spin_box(100, 1_000_000, defaults.sprites_n, step=1000)
        self.sprites_size_combo = QComboBox()
        for size in (28, 64):
            self.sprites_size_combo.addItem(f"{size} px", size)
        self.sprites_size_combo.setCurrentIndex(self.sprites_size_combo.findData(defaults.sprites_size))
        sprites_row = form_row(self.sprites_n_spin, self.sprites_size_combo)
        data = QFormLayout()
        data.addRow("Dataset", self.dataset_combo)
        data.addRow("Folder", folder_row)
        data.addRow("Sprites", sprites_row)
        self._folder_row, self._sprites_row = folder_row, sprites_row
        return data

    def _build_model_form(self, defaults: RunSettings) -> QFormLayout:
        """The networks, the latent size, the likelihood and the device."""
        self.arch_combo = combo_box(ARCHS, defaults.arch)
        self.latent_spin = spin_box(1, 512, defaults.latent_dim)
        self.layers_spin = spin_box(1, MAX_LAYERS, defaults.layers)
        self.layer_warmup_edit = QLineEdit(placeholderText="steps per layer, bottom first")
        self.likelihood_combo = combo_box(LIKELIHOODS, defaults.likelihood)
        self.binarize_combo = combo_box(BINARIZE, defaults.binarize)
        self.conditional_check = QCheckBox("condition on the label (CVAE)")
        self.norm_check = QCheckBox("batch-normalise the hidden layers")
        self.prior_combo = QComboBox()
        for name, label in PRIOR_LABELS.items():
            self.prior_combo.addItem(label, name)
        self.pseudo_spin = spin_box(1, MAX_PSEUDO_INPUTS, defaults.pseudo_inputs, step=50, suffix=" pseudo-inputs")
        self.device_combo = QComboBox()
        self.set_devices(["auto", "cpu"])
        model = QFormLayout()
        model.addRow("Architecture", self.arch_combo)
        model.addRow("Latent dim", self.latent_spin)
        model.addRow("Layers", form_row(self.layers_spin, self.layer_warmup_edit, stretch=(1, 3)))
        model.addRow("Prior", form_row(self.prior_combo, self.pseudo_spin, stretch=(1, 1)))
        model.addRow("Likelihood", self.likelihood_combo)
        model.addRow("Binarize", self.binarize_combo)
        model.addRow("", self.conditional_check)
        model.addRow("", self.norm_check)
        model.addRow("Device", self.device_combo)
        return model

    def _build_optim_form(self, defaults: RunSettings) -> QFormLayout:
        """Batch size, learning rate, seed and the epoch budget."""
        self.batch_spin = spin_box(1, 8192, defaults.batch_size, step=32)
        self.lr_spin = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1.0, value=defaults.lr)
        self.lr_spin.setStepType(QAbstractSpinBox.AdaptiveDecimalStepType)
        self.seed_spin = spin_box(0, 2**31 - 1, defaults.seed)
        self.epochs_spin = spin_box(1, 100_000, defaults.epochs)
        optim = QFormLayout()
        optim.addRow("Batch size", self.batch_spin)
        optim.addRow("Learning rate", self.lr_spin)
        optim.addRow("Seed", self.seed_spin)
        optim.addRow("Epochs", self.epochs_spin)
        return optim

    def _build_beta_form(self, defaults: RunSettings) -> QFormLayout:
        """β, the rate–distortion knob: a log slider with its spinbox, the schedule and free bits."""
        self.beta_slider = QSlider(Qt.Horizontal)
        self.beta_slider.setRange(beta_to_tick(BETA_MIN), beta_to_tick(BETA_MAX))
        self.beta_slider.setPageStep(BETA_TICKS_PER_DECADE // 4)
        self.beta_slider.setTickPosition(QSlider.TicksBelow)
        self.beta_slider.setTickInterval(BETA_TICKS_PER_DECADE)
        self.beta_spin = QDoubleSpinBox(decimals=3, minimum=BETA_MIN, maximum=BETA_MAX)
        self.beta_spin.setStepType(QAbstractSpinBox.AdaptiveDecimalStepType)
        self.schedule_combo = QComboBox()
        for name, label in SCHEDULE_LABELS.items():
            self.schedule_combo.addItem(label, name)
        self.schedule_steps_spin = spin_box(1, 10_000_000, defaults.schedule_steps, step=100, suffix=" steps")
        self.free_bits_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=10.0, singleStep=0.1, suffix=" nats")
        self.objective_combo = QComboBox()
        for name, label in OBJECTIVE_LABELS.items():
            self.objective_combo.addItem(label, name)
        self.iwae_k_spin = spin_box(1, MAX_IWAE_TRAIN_K, defaults.iwae_k, suffix=" samples")
        beta = QFormLayout()
        beta.addRow("Objective", self.objective_combo)
        beta.addRow("IWAE K", self.iwae_k_spin)
        self._iwae_row = self.iwae_k_spin
        beta.addRow("β", form_row(self.beta_slider, self.beta_spin, stretch=(3, 2)))
        beta.addRow("Schedule", form_row(self.schedule_combo, self.schedule_steps_spin))
        beta.addRow("Free bits", self.free_bits_spin)
        return beta

    def _build_layout(self, forms: dict[str, QFormLayout]) -> None:
        """The four forms in group boxes, stacked in a scroll area that fills the panel."""
        body = QVBoxLayout()
        body.setContentsMargins(8, 8, 8, 8)
        body.setSpacing(8)
        self._groups = {}
        titles = {"data": "Data", "model": "Model", "optim": "Optimisation", "beta": "β — rate vs distortion"}
        for key, title in titles.items():
            box = QGroupBox(title)
            # a narrow panel puts a field under its label rather than clip either (labels stay whole)
            forms[key].setRowWrapPolicy(QFormLayout.WrapLongRows)
            box.setLayout(forms[key])
            body.addWidget(box)
            self._groups[key] = box
        self.machine_note = QLabel()
        self.machine_note.setWordWrap(True)
        self.machine_note.setStyleSheet("color: #707070")
        body.addWidget(self.machine_note)
        body.addStretch(1)
        inner = QWidget()
        inner.setLayout(body)
        for combo in inner.findChildren(QComboBox):  # a long item ("auto (GPU if present)") may be elided
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def _connect_signals(self) -> None:
        self._beta_timer = QTimer(self, singleShot=True, interval=LIVE_DEBOUNCE_MS)
        self._beta_timer.timeout.connect(self._on_beta_settled)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_changed)
        self.browse_button.clicked.connect(self._on_browse_clicked)
        self.schedule_combo.currentIndexChanged.connect(self._on_schedule_changed)
        self.objective_combo.currentIndexChanged.connect(self._on_schedule_changed)
        self.prior_combo.currentIndexChanged.connect(self._on_schedule_changed)
        self.layers_spin.valueChanged.connect(self._on_schedule_changed)
        self.layers_spin.valueChanged.connect(self._on_layers_changed)
        self.beta_slider.valueChanged.connect(self._on_beta_slider_moved)
        self.beta_spin.valueChanged.connect(self._on_beta_spin_changed)
        self.lr_spin.valueChanged.connect(self._on_lr_changed)
        self.free_bits_spin.valueChanged.connect(self._on_free_bits_changed)

    # --- the model: RunSettings in and out -----------------------------------------------------
    def _connect_edits(self) -> None:
        """Every edit of a shown field sets the model's settings."""
        for combo in (self.dataset_combo, self.sprites_size_combo, self.arch_combo, self.likelihood_combo,
                      self.binarize_combo, self.device_combo, self.schedule_combo, self.objective_combo,
                      self.prior_combo):
            combo.currentIndexChanged.connect(self._on_edited)
        for spin in (self.sprites_n_spin, self.latent_spin, self.layers_spin, self.batch_spin, self.lr_spin,
                     self.seed_spin, self.epochs_spin, self.beta_spin, self.schedule_steps_spin, self.free_bits_spin,
                     self.iwae_k_spin, self.pseudo_spin):
            spin.valueChanged.connect(self._on_edited)
        self.folder_edit.textChanged.connect(self._on_edited)
        self.layer_warmup_edit.textChanged.connect(self._on_edited)
        self.conditional_check.toggled.connect(self._on_edited)
        self.norm_check.toggled.connect(self._on_edited)
        self.norm_check.toggled.connect(self._on_schedule_changed)

    def _on_edited(self, *_args) -> None:
        if not self._showing:
            self._write()

    def _write(self) -> None:
        """The form's fields into the model (the fields it does not show stay as the model has them)."""
        try:
            settings = self._from_widgets()
        except ConfigError as exc:  # e.g. a warm-up of "abc": Start names it (RunSettingsModel.checked)
            self.settings_model.refuse(str(exc))
            return
        self._writing = True
        try:
            self.settings_model.set(settings)
        finally:
            self._writing = False

    def _on_settings_changed(self, settings: RunSettings) -> None:
        if not self._writing:
            self._show(settings)

    def _from_widgets(self) -> RunSettings:
        return self.settings_model.value.replace(
            dataset=self.dataset_combo.currentData(),
            data_dir=self.folder_edit.text().strip(),
            sprites_n=self.sprites_n_spin.value(),
            sprites_size=self.sprites_size_combo.currentData(),
            arch=self.arch_combo.currentText(),
            latent_dim=self.latent_spin.value(),
            layers=self.layers_spin.value(),
            layer_warmup=self._layer_warmup(),
            likelihood=self.likelihood_combo.currentText(),
            binarize=self.binarize_combo.currentText(),
            conditional=self.conditional_check.isChecked(),
            norm="batch" if self.norm_check.isChecked() else "none",
            batch_size=self.batch_spin.value(),
            lr=self.lr_spin.value(),
            seed=self.seed_spin.value(),
            device=self.device_combo.currentData(),
            epochs=self.epochs_spin.value(),
            beta=self.beta_spin.value(),
            schedule=self.schedule_combo.currentData(),
            schedule_steps=self.schedule_steps_spin.value(),
            free_bits=self.free_bits_spin.value(),
            objective=self.objective_combo.currentData(),
            iwae_k=self.iwae_k_spin.value() if self.objective_combo.currentData() == "iwae" else 1,
            prior=self.prior_combo.currentData(),
            pseudo_inputs=self.pseudo_spin.value(),
        )

    def _show(self, s: RunSettings) -> None:
        """Fill the form from `s` without re-sending its live values (the trainer either has them or will at
        Start); what the form's own rules then change (a CVAE on sprites, free bits under β-TCVAE) is written
        back."""
        self.blockSignals(True)  # our own sig_* stay quiet; the widgets still update each other
        self._showing = True
        try:
            if s.dataset == "path":
                name = s.path.rstrip("/").rsplit("/", 1)[-1] + (f" [{s.key}]" if s.key else "")
                label = f"Folder: {name}" if Path(s.path).is_dir() else f"File: {name}"
                if self.dataset_combo.findData("path") < 0:
                    self.dataset_combo.addItem(label, "path")
                else:
                    self.dataset_combo.setItemText(self.dataset_combo.findData("path"), label)
            self.dataset_combo.setCurrentIndex(self.dataset_combo.findData(s.dataset))
            self.folder_edit.setText(s.data_dir)
            self.sprites_n_spin.setValue(s.sprites_n)
            index = self.sprites_size_combo.findData(s.sprites_size)
            if index < 0:
                self.sprites_size_combo.addItem(f"{s.sprites_size} px", s.sprites_size)
                index = self.sprites_size_combo.count() - 1
            self.sprites_size_combo.setCurrentIndex(index)
            self.arch_combo.setCurrentText(s.arch)
            self.latent_spin.setValue(s.latent_dim)
            self.layers_spin.setValue(s.layers)
            self.layer_warmup_edit.setText(", ".join(str(v) for v in s.layer_warmup))
            self.likelihood_combo.setCurrentText(s.likelihood)
            self.binarize_combo.setCurrentText(s.binarize)
            self.conditional_check.setChecked(s.conditional)
            self.norm_check.setChecked(s.norm == "batch")
            if self.device_combo.findData(s.device) < 0:
                self.device_combo.addItem(s.device, s.device)
            self.device_combo.setCurrentIndex(self.device_combo.findData(s.device))
            self.batch_spin.setValue(s.batch_size)
            self.lr_spin.setValue(s.lr)
            self.seed_spin.setValue(s.seed)
            self.epochs_spin.setValue(s.epochs)
            self.beta_spin.setValue(s.beta)
            self._beta_timer.stop()
            self.schedule_combo.setCurrentIndex(self.schedule_combo.findData(s.schedule))
            self.objective_combo.setCurrentIndex(self.objective_combo.findData(s.objective))
            self.iwae_k_spin.setValue(s.iwae_k)
            self.prior_combo.setCurrentIndex(self.prior_combo.findData(s.prior))
            self.pseudo_spin.setValue(s.pseudo_inputs)
            self.schedule_steps_spin.setValue(s.schedule_steps)
            self.free_bits_spin.setValue(s.free_bits)
            self._update_enabled()
        finally:
            self._showing = False
            self.blockSignals(False)
        self._write()

    def _layer_warmup(self) -> tuple[int, ...]:
        """The warm-up field's steps; text that is not whole numbers is kept out (Start then names it)."""
        parts = [p.strip() for p in self.layer_warmup_edit.text().replace(";", ",").split(",") if p.strip()]
        try:
            return tuple(int(p) for p in parts)
        except ValueError:
            return tuple(parts)  # strings: TrainConfig.validate refuses them in one line at Start

    def set_devices(self, devices: list[str]) -> None:
        """The devices torch found; keeps the current choice when it is still there."""
        current = self.device_combo.currentData() or "auto"
        labels = {"auto": "auto (GPU if present)", "cpu": "cpu", "cuda": "cuda (GPU)", "mps": "mps (Apple GPU)"}
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for name in devices:
            self.device_combo.addItem(labels.get(name, name), name)
        index = self.device_combo.findData(current)
        self.device_combo.setCurrentIndex(max(index, 0))
        self.device_combo.blockSignals(False)
        self._on_edited()

    def set_lock(self, model: bool, epochs: bool) -> None:
        """Lock the model-defining settings (a model exists) and the epoch budget (training is running)."""
        self._model_locked = model
        self.epochs_spin.setEnabled(not epochs)
        self._update_enabled()

    def show_machine(self, accelerated: bool) -> None:
        """Say what new runs start from on this machine (new_run_settings)."""
        self.machine_note.setText(new_run_note(accelerated))

    # --- reactions -------------------------------------------------------------------------------
    def _update_enabled(self) -> None:
        for widget in self._model_widgets:
            widget.setEnabled(not self._model_locked)
        name = self.dataset_combo.currentData()
        form = self._groups["data"].layout()
        form.setRowVisible(self._folder_row, name in FOLDER_DATASETS)
        form.setRowVisible(self._sprites_row, name == "sprites")
        labelled = name not in ("sprites", "binarized-mnist")  # sprites have factors; Larochelle's files no labels
        if name == "binarized-mnist":  # its images are a binarization already: drawing again is refused
            self.binarize_combo.setCurrentText("none")
        self.binarize_combo.setEnabled(name != "binarized-mnist" and not self._model_locked)
        self.conditional_check.setEnabled(labelled and not self._model_locked)
        if not labelled:
            self.conditional_check.setChecked(False)
        self.schedule_steps_spin.setEnabled(self.schedule_combo.currentData() != "constant" and not self._model_locked)
        vamp = self.prior_combo.currentData() == "vamp"
        self.pseudo_spin.setEnabled(vamp and not self._model_locked)
        self.norm_check.setEnabled(not vamp and not self._model_locked)
        if vamp:  # its pseudo-inputs go through the encoder, whose batch statistics they would shift
            self.norm_check.setChecked(False)
        if vamp:  # the VampPrior is the posterior of unlabelled pseudo-inputs, for one layer of latents
            self.conditional_check.setChecked(False)
            self.conditional_check.setEnabled(False)
            self.layers_spin.setValue(1)
            self.layers_spin.setEnabled(False)
            if self.objective_combo.currentData() == "tcvae":
                self.objective_combo.setCurrentIndex(self.objective_combo.findData("elbo"))
        objective = self.objective_combo.currentData()
        iwae = objective == "iwae"
        self._groups["beta"].layout().setRowVisible(self._iwae_row, iwae)
        self.layer_warmup_edit.setEnabled(self.layers_spin.value() > 1 and not self._model_locked and not iwae)
        # β-TCVAE weighs the KL term's parts, not a floor under it; IWAE's bound has no KL term and no β
        self.free_bits_spin.setEnabled(objective == "elbo" and not vamp)
        if objective != "elbo" or vamp:  # (and a mixture prior's Monte Carlo rate has no per-dimension floor)
            self.free_bits_spin.setValue(0.0)
        for widget in (self.beta_slider, self.beta_spin):
            widget.setEnabled(not iwae)
        if iwae:
            self.beta_spin.setValue(1.0)
            self.schedule_combo.setCurrentIndex(self.schedule_combo.findData("constant"))
            self.layer_warmup_edit.clear()
            self.schedule_combo.setEnabled(False)
            self.schedule_steps_spin.setEnabled(False)

    def _on_dataset_changed(self, _index: int) -> None:
        self._update_enabled()

    def _on_schedule_changed(self, _index: int) -> None:
        self._update_enabled()

    def _on_layers_changed(self, layers: int) -> None:
        """A hierarchy chosen by hand gets batch norm (it can be unchecked): without it the ladders measured here
        lose to a flat VAE of their size (docs/benchmarks.md)."""
        if layers > 1 and self._layers_before == 1 and not self._showing and self.norm_check.isEnabled():
            self.norm_check.setChecked(True)
        self._layers_before = layers

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with the MNIST IDX files", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _on_beta_slider_moved(self, tick: int) -> None:
        beta = tick_to_beta(tick)
        if beta_to_tick(self.beta_spin.value()) != tick:  # the spinbox may hold a finer value on this tick
            self.beta_spin.blockSignals(True)
            self.beta_spin.setValue(round(beta, 3))
            self.beta_spin.blockSignals(False)
            self._on_edited()
        self.sig_beta_previewed.emit(self.beta_spin.value())  # the spinbox holds the slider's β, unrounded
        self._beta_timer.start()

    def _on_beta_spin_changed(self, beta: float) -> None:
        self.beta_slider.blockSignals(True)
        self.beta_slider.setValue(beta_to_tick(beta))
        self.beta_slider.blockSignals(False)
        self._beta_timer.start()

    def _on_beta_settled(self) -> None:
        self.sig_beta_changed.emit(self.beta_spin.value())

    def _on_lr_changed(self, lr: float) -> None:
        self.sig_lr_changed.emit(lr)

    def _on_free_bits_changed(self, free_bits: float) -> None:
        self.sig_free_bits_changed.emit(free_bits)

    def _set_tips(self) -> None:
        for key, widgets in {
            "dataset": [self.dataset_combo], "folder": [self.folder_edit, self.browse_button],
            "sprites": [self.sprites_n_spin, self.sprites_size_combo], "arch": [self.arch_combo],
            "latent": [self.latent_spin], "layers": [self.layers_spin], "layer_warmup": [self.layer_warmup_edit],
            "likelihood": [self.likelihood_combo],
            "binarize": [self.binarize_combo],
            "conditional": [self.conditional_check], "norm": [self.norm_check], "batch": [self.batch_spin],
            "lr": [self.lr_spin],
            "seed": [self.seed_spin], "device": [self.device_combo], "epochs": [self.epochs_spin],
            "beta": [self.beta_slider, self.beta_spin], "schedule": [self.schedule_combo],
            "schedule_steps": [self.schedule_steps_spin], "free_bits": [self.free_bits_spin],
            "objective": [self.objective_combo], "iwae_k": [self.iwae_k_spin],
            "prior": [self.prior_combo, self.pseudo_spin],
        }.items():
            for widget in widgets:
                widget.setToolTip(TIPS[key])
