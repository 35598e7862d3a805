"""Guided experiments: the catalogue (catalogue.EXPERIMENTS) and what their runs measured (conclusions)."""

from trainer.experiments.catalogue import EXPERIMENTS, Experiment

__all__ = ["EXPERIMENTS", "Experiment"]
